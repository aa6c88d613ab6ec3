// Package bundle reads and writes valise bundle files: the container an
// office hands to a courier.
//
// A bundle is a text header (format version, sender and its key, each
// recipient with its key fingerprint and sequence number), then the
// payload — the canonical records, zstd-compressed and age-encrypted to
// the recipients — and a trailer that signs, with the sender's Ed25519
// key, the header, the manifest and the chunked hash of the payload as it
// lies in the file. The full format, with its vectors, is docs/FORMAT.md.
//
// The API follows archive/tar: NewWriter takes the header, WriteCanonical
// each record, Close writes the trailer; Open parses the header, Verify
// checks the signature and payload hash without decrypting (what an
// auditor does), and Decrypt returns a RecordReader whose Next yields the
// records; the bundle as a whole is proven only when Next returns io.EOF,
// so that a caller commits nothing before. Every size read from a file is
// bounded (see the Max constants), and every failure is an *Error naming
// the check that failed (header, trailer, signature, payload hash,
// manifest, decryption, …) and its kind: ErrMalformed, ErrAuth,
// ErrNotAddressed.
//
// bundle imports nothing of valise but schema; it knows no store.
package bundle
