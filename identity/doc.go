// Package identity manages who an office trusts and how its own keys
// change: AddPeer and ConfirmPeer (by fingerprint compared out of band),
// RevokePeer, RotateKey (a planned change or a revocation of this
// office's key), and ApplyStatements, which applies the key statements a
// peer's bundle carries. docs/KEYS.md describes the rules: one trusted
// card per agency, a rotation only by the trusted key, and a revocation
// that revokes every card its key introduced.
package identity
