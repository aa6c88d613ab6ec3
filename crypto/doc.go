// Package crypto holds an office's keys and the public cards that
// introduce offices to each other.
//
// # Keys
//
// An office has one Ed25519 signing key and age encryption identities: a
// post-quantum hybrid identity (ML-KEM-768 + X25519, age ≥ 1.3) and a
// classic X25519 identity. Both age identities live in one age identity
// file, so `age -d -i identity.txt` opens what valise encrypts; the signing
// key lives in its own file. With a passphrase, each file is encrypted the
// way `age -p` does it (scrypt recipient), and `age -d -i` still reads the
// identity file after asking for the passphrase.
//
// # Cards
//
// A card is the public half of an office, in a strict line format:
//
//	valise-card/v1
//	agency: KZ-NCB
//	name: Kazakhstan National Central Bureau
//	created: 2026-11-28T09:23:01Z
//	signing-key: <base64 of the 32-byte Ed25519 public key>
//	recipient: age1pq1…
//	recipient: age1…
//	signature: <base64 of the 64-byte Ed25519 signature>
//
// The signature is by the card's own signing key over the bytes
// "valise-card-signature/v1\x00" followed by every line before the
// signature line. Fields appear once each, in this order (recipient lines
// 1 to 4 times); no other spelling is accepted, so parsing then marshalling
// a card gives back the same bytes.
//
// # Fingerprints
//
// A card's fingerprint is the first 16 bytes of SHA-256 over
// "valise-fingerprint/v1\x00", the agency id, a NUL, the signing key and,
// for each recipient in card order, a NUL and the recipient string. It is
// written as eight groups of four uppercase hex digits separated by "-"
// (3F2A-9C1B-…), short enough to read out over the phone. Because it covers
// every key, any change of key gives a different fingerprint.
//
// # Weak keys
//
// Signing keys that are not the canonical encoding of a point, or whose
// point has small order (the all-zero key, 01 00…00 and the others), are
// refused: Go's ed25519.Verify accepts forged signatures under some of
// them.
package crypto
