// Package formats reads and writes files of records: valise's own JSON
// lines, FollowTheMoney (FtM) entity and delta files, CSV spreadsheets, and
// two published sanctions lists, the UN Security Council consolidated list
// (XML) and the US Treasury OFAC SDN list (CSV). [Read] turns one file into
// records of package schema; [NewWriter] writes records for export.
//
// # Reading
//
// [Read] returns every valid record of a file in file order, the ids to
// tombstone, and a [Problem] for every invalid item: its file, line, record
// id, property and the rule it breaks, in the words of [schema.Record.Validate]
// where the problem is one of content. An invalid item is left out and
// reading goes on; Read fails as a whole only for I/O errors, files that
// cannot be read at all (format not recognised, CSV without an id column,
// broken XML: errors that wrap [ErrFormat]) and unusable [Options] (errors
// that wrap [ErrOptions]).
//
// Every returned record passes Validate. Its Version is empty: a file gives
// content, and the store keeps versions. A record whose input has no origin
// gets [Options].Origin; one without any handling gets [Options].Handling,
// one with handling but no TLP gets its TLP. FtM files and the published
// lists never carry either, so Read refuses them without both options.
//
// An id seen a second time in one file is a problem on the later line
// ("duplicate id: also on line 3"); the first occurrence is kept.
//
// Nothing is unbounded: a line (or CSV record) longer than
// [schema.MaxRecordBytes] is a problem and is skipped without being held in
// memory; a record longer than schema.MaxRecordBytes in
// canonical form is a problem; XML tokens, nesting and entries are bounded
// (see the constants in unsc.go).
//
// [Detect] names a file's format from its name and first bytes when
// [Options].Format is empty: .xml with a CONSOLIDATED_LIST root is un-sc; a
// JSON object per line is jsonl if its first line has a valise envelope key
// (origin, handling, version, deleted, evaluation) and ftm otherwise; a
// headerless 12-column line starting "<number>,"..."" with "-0-" cells is
// ofac-sdn; .csv is csv.
//
// # JSONL
//
// valise's own format: one record per line in any JSON spelling that
// [schema.Decode] accepts (the canonical one is what the jsonl writer
// writes). A record with "deleted": true is a tombstone: its id goes to
// Deletes. Blank lines are skipped. A line that is not UTF-8 is one problem
// naming the byte, and the record and property when they can be told.
//
// # FollowTheMoney
//
// One entity per line, {"id", "schema", "properties": {"prop": ["value",
// ...]}}: property names and types are FtM's (see schema/model.go), country
// codes lowercase as FtM writes them. Every other top-level key ("caption",
// "datasets", "referents", "first_seen", "target" …) is kept in
// [schema.Record.Extra] and written back by the ftm writer.
//
// A line of exactly the keys "op" and "entity" is an FtM delta (the
// OpenSanctions delta files): ADD and MOD give the entity as a record, DEL
// gives its id to Deletes. Entity and delta lines may be mixed in a file.
//
// # CSV
//
// RFC 4180: comma-separated, fields in double quotes when they hold a comma,
// quote or line break, "" for a quote; CRLF or LF; a UTF-8 byte order mark
// is ignored. The first row names the columns:
//
//   - id (required): the record id.
//   - schema (optional): the record type of the row; when empty or absent,
//     [Options].Type (the --type flag) gives it.
//   - origin, tlp, handling_code, releasable_to, not_releasable_to,
//     retain_until, reliability, credibility (optional): the envelope. tlp
//     is lowercased and handling_code uppercased; the agency lists are
//     ';'-separated.
//   - any other column is the property of that name.
//
// An empty cell is no value. A cell holds several values separated by ';';
// "\;" is a ';' inside a value and "\\" a backslash (any other backslash is
// itself). A value of a country property given as an uppercase code ("KZ")
// is lowercased. Nothing else is changed: values are not trimmed.
//
// # UN Security Council consolidated list
//
// The XML of sc-sanctions.xsd. Each INDIVIDUAL is a Person, each ENTITY an
// Organization, one record per entry, with id "un-sc-<DATAID>". Values are
// trimmed, and a run of white space holding a line break is one space (the
// list wraps long values); COMMENTS1 keeps its line breaks. Result.Source is
// "un-sc": the file is a complete edition.
//
//	FIRST_NAME … FOURTH_NAME     name (the parts joined by spaces); for a
//	                             Person also firstName, secondName,
//	                             middleName (THIRD_NAME), lastName
//	                             (FOURTH_NAME), by position
//	NAME_ORIGINAL_SCRIPT         name (second value)
//	REFERENCE_NUMBER             unscId
//	UN_LIST_TYPE                 program
//	LISTED_ON                    createdAt
//	LAST_DAY_UPDATED/VALUE       modifiedAt
//	COMMENTS1                    notes (first value)
//	GENDER                       gender (Male, Female in any case)
//	TITLE/VALUE                  title
//	DESIGNATION/VALUE            position
//	NATIONALITY/VALUE, NATIONALITY2  nationality (country code)
//	*_ALIAS ALIAS_NAME           alias (QUALITY Good, a.k.a. or none),
//	                             weakAlias (Low), previousName (f.k.a.)
//	*_ADDRESS                    address: STREET, CITY, STATE_PROVINCE,
//	                             ZIP_CODE, COUNTRY, NOTE joined by ", ";
//	                             country: the code of COUNTRY
//	INDIVIDUAL_DATE_OF_BIRTH     birthDate: each DATE, YEAR, FROM_YEAR and
//	                             TO_YEAR that is a date
//	INDIVIDUAL_PLACE_OF_BIRTH    birthPlace: CITY, STATE_PROVINCE, COUNTRY,
//	                             NOTE joined by ", "; birthCountry: the code
//	                             of COUNTRY
//	INDIVIDUAL_DOCUMENT NUMBER   passportNumber when a TYPE_OF_DOCUMENT names a
//	                             passport (passport, passeport, pasaporte),
//	                             else idNumber
//
// What has no property of its own is kept in notes, after COMMENTS1, as a
// labelled line: "UN version: 1" (VERSIONNUM), "List type: UN List"
// (LIST_TYPE), "Submitted by: …", "Submitted on: …", "Sort key: …", "Sort
// key last modified: …", "Delisted on: …", "Document: type Passport; number
// …; date of issue …; city of issue …" for every document, "Date of birth:
// type APPROXIMATELY; year 1975; note …" for every date of birth that is not
// one exact date, "Alias <name>: date of birth …; city of birth …" for the
// details of an alias, "Nationality: <name>" for a nationality with no known
// country code, "Listed on: 2001-01-25-05:00" for a date that also carries a
// time zone, and "PATH: text" for any element or attribute the mapping does
// not know (a future field of the list). So every element's text is in the
// record, and any change between two editions changes the record's content
// hash. What does not count as a change: white space around a value or
// holding a line break, and an alias quality Good, a.k.a. or none (all
// three give alias).
//
// # OFAC SDN list
//
// sdn.csv as the US Treasury publishes it: no header, twelve columns, CRLF,
// "-0-" (with or without a trailing space) for an empty cell, and one 0x1A
// byte (DOS end of file) as the last line. The id is "ofac-<ent_num>";
// SDN_Type individual gives a Person, vessel and aircraft a Vehicle, an
// empty type an Organization. Result.Source is "ofac-sdn".
//
//	SDN_Name      name
//	SDN_Type      type (Vehicle: vessel or aircraft)
//	Program       program, one value per programme ("SDGT] [IRGC" is two)
//	Title         title
//	Call_Sign     callSign
//	Vess_type     vesselType
//	Tonnage       tonnage (thousands separators dropped: "318,000" is 318000)
//	GRT           grossRegisteredTonnage (likewise)
//	Vess_flag     flag (country code)
//	Vess_owner    ownerName
//	Remarks       notes (first value, whole)
//
// A column whose property the record type lacks, or whose value does not
// fit it (an unknown flag country), is kept in notes as "Title: …",
// "Vessel flag: …" and so on. Some facts are also copied out of the remarks
// when a "; "-separated segment is exactly of a clean form: "DOB 12 Jan
// 1962", "DOB Jan 1962" or "DOB 1962" (with or without "alt. ") to
// birthDate — not "circa", not ranges; "POB …" to birthPlace; "nationality
// X" and "citizen X" to nationality and citizenship when X is a known
// country; "Gender Male|Female" to gender; "Passport NUMBER (Country)
// [issued …] [expires …]" to passportNumber; "a.k.a. 'NAME'" to alias and
// "f.k.a. 'NAME'" to previousName; "Vessel Registration Identification IMO
// 1234567" to imoNumber; "MMSI 123456789" to mmsi. OFAC cuts remarks at
// 1000 characters, so a last segment without its final full stop is not
// used. The remarks themselves stay whole in notes.
//
// # Country names
//
// The lists name countries; the model wants ISO 3166-1 codes. countries.go
// maps the names and nationality adjectives that occur in the lists
// ("Democratic People's Republic of Korea", "Korea, North", "RPDC",
// "Russian Federation", "Viet Nam", "Afghan" …), compared without regard
// to case or line breaks. A qualified or unknown name ("Iran / unknown",
// "USSR (until 1991)") gets no code and is kept as text.
//
// # Writing
//
// [NewWriter] writes jsonl (each record's canonical encoding, envelope and
// version included, one per line; tombstones too), ftm (id, schema,
// properties and kept extra keys, no envelope; tombstones left out) or csv
// (one record type per file; the header is id, schema, every property of
// the type sorted by name, then the envelope columns origin, tlp,
// handling_code, releasable_to, not_releasable_to, retain_until,
// reliability, credibility; values joined by ';' with the escapes above;
// tombstones and extras left out). Reading a written file gives back the
// same records (for csv: without extras).
package formats
