// Package exchange is the exchange between offices: Pack writes the
// bundles for peers (what each may receive under the records' handling
// and does not hold yet), Import verifies, decrypts and merges a bundle
// into the store, Verify checks a bundle for an auditor with public cards
// only, and Status reports each channel (sequence numbers sent,
// acknowledged and received, gaps, what waits to be sent).
//
// Import refuses a bundle whole, leaving the store unchanged, when any
// check fails: addressing, sender, signature, replay and ordering,
// authorship (proof that each change of a relayed record is its author's,
// see package proof), handling (a record the sender may not give this
// office) and content. Every refusal is written to the ledger and the
// audit log.
package exchange
