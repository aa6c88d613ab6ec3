// Package schema is valise's record model: the FollowTheMoney-compatible
// entity and link types of SPEC §5, their property types and validation,
// the valise envelope (origin, handling, evaluation, version, deleted), and
// the one canonical byte encoding of a record.
//
// # Model
//
// Every type is declared once, in model.go, with its parent, its own
// properties and the properties it requires. Person is a LegalEntity is a
// Thing; a type inherits every property of its ancestors. Adding a type or a
// property is a one-line change there, which bumps [Minor]'s minor number.
// A bundle whose major schema version differs from [Major] is refused.
//
// # Records
//
// A record is {"id", "schema", "properties": {"prop": ["value", ...]}} as in
// FollowTheMoney, plus the envelope keys "origin", "handling", "evaluation",
// "version" and "deleted". Any other top-level key of imported data (FtM's
// "datasets", "referents", "first_seen" …) is kept verbatim in
// [Record.Extra].
//
// # Canonical encoding
//
// [Record.AppendCanonical] writes the only accepted byte form of a record:
// JSON with object keys sorted by their UTF-16 code units at every level
// (RFC 8785's order, [CompareKeys]), no
// insignificant whitespace, strings escaped only where JSON requires it
// (`"`, `\` and control characters, the latter as \b \t \n \f \r or \u00XX
// with lowercase hex), empty optional fields omitted, property values in the
// order given. Extra values are re-encoded the same way; numbers in them keep
// the shortest form that round-trips a float64 (RFC 8785 style). [Decode]
// refuses duplicate keys, malformed UTF-8, trailing data and values of the
// wrong JSON kind, so that parse then encode is the identity on canonical
// input. [Record.ContentHash] is the SHA-256 of the canonical encoding with
// the version information left out: it is the same on every machine that
// holds the same content.
package schema
