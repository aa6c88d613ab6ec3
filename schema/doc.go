// Package schema is valise's record model: the FollowTheMoney-compatible
// entity and link types of SPEC §5, their property types and validation,
// the valise envelope (origin, handling, evaluation, version, deleted), and
// the one canonical byte encoding of a record.
//
// # Model
//
// The model is FollowTheMoney's (FtM), generated, not hand-picked:
// internal/ftmgen reads FtM's schema definition (schema/*.yaml of the
// release named by [FtMVersion], and its countries.txt and topics.txt)
// and writes ftm_gen.go, which is committed; `go generate ./schema` runs
// it, and its test fails when the committed file and the definition
// disagree. Every schema is there, abstract and concrete, with what it
// extends (Company is an Organization and an Asset), its properties with
// their types, ranges and reverse properties, its required properties and
// its edge. A property with a reverse gives its range a stub property
// (Sanction.entity gives every Thing "sanctions"): FtM refuses values in a
// stub, and so does [Record.Validate].
//
// Validate applies FtM's own rules: a known, concrete schema; properties
// of that schema; values of the property's type (dates as ISO 8601
// prefixes, countries among FtM's territory codes, topics among FtM's
// topics, genders, IBANs, IP addresses, record ids for entities); the
// required properties. Types FtM does not check (string, name, text,
// identifier, number, url, phone, address …) take any text. valise adds
// only bounds every value keeps: valid UTF-8, no control or bidirectional
// override characters, lengths (see [MaxValueLen]).
//
// Required properties are each schema's own list, as in FtM: Thing
// requires a name, Address (a Thing) does not. FtM enforces them only on
// the entities users create, not on the data it loads, and published data
// has a Passport with a holder and no number: so a link, or a record about
// another record (Sanction, Identification, Passport: see [Schema].Link),
// must have its ends, and any other record all its required properties.
//
// valise's own additions (the envelope) stay outside FtM's properties. A
// change of the definition is a new generated file and bumps [Minor].
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
