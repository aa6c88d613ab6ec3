// Package formats reads and writes files of records: valise's own JSON
// lines, FollowTheMoney (FtM) entity and delta files, CSV spreadsheets, and
// two published sanctions lists, the UN Security Council consolidated list
// (XML) and the US Treasury OFAC SDN list (CSV). [Stream] turns one file
// into records of package schema; [NewWriter] writes records for export.
//
// # Reading
//
// [Stream] hands out every valid record of a file in file order, the ids
// to tombstone, and a [Problem] for every invalid item: its file, line,
// record id, property and the rule it breaks, in the words of
// [schema.Record.Validate] where the problem is one of content. An invalid
// item is left out and reading goes on; Stream fails as a whole only for
// I/O errors, files that cannot be read at all (format not recognised, CSV
// without an id column, broken XML: errors that wrap [ErrFormat]) and
// unusable [Options] (errors that wrap [ErrOptions]).
//
// Every record handed out passes Validate. Its Version is empty: a file
// gives content, and the store keeps versions. A record whose input has no
// origin gets [Options].Origin; one without any handling gets
// [Options].Handling, one with handling but no TLP gets its TLP. FtM files
// and the published lists never carry either, so Stream refuses them
// without both options.
//
// Stream keeps no ids: [Options].Unique, when set, is asked about each one
// and files a duplicate as a problem ("duplicate id: also on line 3"). A
// file of a published list is a complete edition ([Edition]).
//
// Nothing is unbounded: a line (or CSV record) longer than
// [schema.MaxRecordBytes] is a problem and is skipped without being held in
// memory; a record longer than schema.MaxRecordBytes in
// canonical form is a problem; XML tokens, nesting and entries are bounded
// (see the constants in unsc.go); the OFAC list, whose entries name each
// other, is held whole up to 256 MiB.
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
// ...]}}: any schema and property of FtM's model (see package schema),
// country codes lowercase as FtM writes them. Every other top-level key
// ("caption", "datasets", "referents", "first_seen", "target" …) is kept in
// [schema.Record.Extra] and written back by the ftm writer. A property the
// model's FtM release does not define (data of a newer release) is set
// aside under the extra key [UnknownProperties], not refused: FtM's own
// reader drops it, valise keeps it and the ftm writer puts it back.
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
// is lowercased. A cell that starts with ' followed by = + - @, a tab, a
// carriage return or ' is read without its first ': that is how the csv
// writer keeps a spreadsheet from taking a cell for a formula. Nothing
// else is changed: values are not trimmed.
//
// # Published lists as FollowTheMoney
//
// The two sanctions lists are mapped the way OpenSanctions maps them, so
// that an analyst finds what FtM tools show. Each list entry gives the
// sanctioned party, with the list's id ("un-sc-<DATAID>", "ofac-<ent_num>"),
// and the records FtM models beside it, each with an id made from the
// party's id ([EntryOf] gives it back): its Sanction ("…-sanction"), its
// Passports and Identifications ("…-passport-<hash>", "…-id-<hash>"), its
// Addresses ("…-address-<hash>"), its crypto wallets ("…-wallet-<hash>"),
// its links to other entries ("…-link-<hash>") and a vessel's owner
// ("…-owner-<hash>", "…-ownership-<hash>"); the hash is of what the record
// says, so the same entry gives the same ids in every edition. The party
// gets topics "sanction" and, where the programme says so, "crime.terror",
// "crime.traffick.drug" or "crime". What FtM has no place for is kept in
// the party's notes as a labelled line, so that any change between two
// editions changes the entry's records. [Edition] of "un-sc" and
// "ofac-sdn" is the list's name: the file is a complete edition.
//
// # UN Security Council consolidated list
//
// The XML of sc-sanctions.xsd. Each INDIVIDUAL is a Person, each ENTITY a
// LegalEntity. Values are trimmed, and a run of white space holding a line
// break is one space (the list wraps long values); COMMENTS1 keeps its
// line breaks.
//
//	FIRST_NAME … FOURTH_NAME     name (the parts joined by spaces); for a
//	                             Person of two parts or more firstName (the
//	                             first), lastName (the last), secondName
//	                             (the second of three or four), middleName
//	                             (the third of four)
//	NAME_ORIGINAL_SCRIPT         alias
//	UN_LIST_TYPE                 program (party and Sanction); topics
//	REFERENCE_NUMBER             Sanction unscId
//	LISTED_ON                    createdAt; Sanction listingDate
//	DELISTED_ON                  Sanction endDate
//	LAST_DAY_UPDATED/VALUE       modifiedAt
//	COMMENTS1                    notes (first value)
//	GENDER                       gender (Male, Female in any case)
//	TITLE/VALUE                  title
//	DESIGNATION/VALUE            position
//	NATIONALITY/VALUE, NATIONALITY2  nationality (country code)
//	*_ALIAS ALIAS_NAME           alias (QUALITY Good, a.k.a. or none),
//	                             weakAlias (Low), previousName (f.k.a.);
//	                             "; "-separated names are several aliases
//	*_ADDRESS                    an Address (full, street, city, region,
//	                             postalCode, country, summary: NOTE) linked
//	                             by addressEntity; the party gets address
//	                             (full) and country; an address that is
//	                             only a country gives only country
//	INDIVIDUAL_DATE_OF_BIRTH     birthDate: an EXACT DATE or YEAR; an
//	                             APPROXIMATELY YEAR (year precision is how
//	                             FtM says "about"); every year of a
//	                             BETWEEN range of at most 20 years
//	INDIVIDUAL_PLACE_OF_BIRTH    birthPlace: CITY, STATE_PROVINCE, COUNTRY,
//	                             NOTE joined by ", "; birthCountry: the code
//	                             of COUNTRY
//	INDIVIDUAL_DOCUMENT          with a NUMBER: a Passport (TYPE_OF_DOCUMENT
//	                             names a passport: passport, passeport,
//	                             pasaporte) or an Identification with
//	                             number, type, country (ISSUING_COUNTRY or
//	                             COUNTRY_OF_ISSUE), startDate
//	                             (DATE_OF_ISSUE), summary (city of issue,
//	                             NOTE); the party gets passportNumber or
//	                             idNumber
//
// What stays in notes, after COMMENTS1, as a labelled line: "UN version:
// 1" (VERSIONNUM), "List type: UN List" (LIST_TYPE), "Submitted by: …",
// "Submitted on: …", "Sort key: …", "Sort key last modified: …",
// "Document: …" for a document without a number, "Date of birth: …" for
// what a birth date cannot say ("approximately 1975", "between 1980 and
// 1985", a note, a date with a time zone), "Alias <name>: …" for the
// details of an alias, "Nationality: <name>" for a nationality with no
// known country code, "Listed on: 2001-01-25-05:00" for a date that also
// carries a time zone, and "PATH: text" for any element or attribute the
// mapping does not know (a future field of the list). What does not count
// as a change: white space around a value or holding a line break, and an
// alias quality Good, a.k.a. or none (all three give alias).
//
// # OFAC SDN list
//
// sdn.csv as the US Treasury publishes it: no header, twelve columns, CRLF,
// "-0-" (with or without a trailing space) for an empty cell, and one 0x1A
// byte (DOS end of file) as the last line. SDN_Type individual gives a
// Person, vessel a Vessel, aircraft an Airplane, an empty type an
// Organization. The reader holds the list (at most 256 MiB; the real one
// is about 4 MB) before it hands out its first record: remarks and owners
// name other entries, forwards as well as backwards.
//
//	SDN_Name      name
//	Program       program (party and Sanction), one value per programme
//	              ("SDGT] [IRGC" is two); topics
//	ent_num       Sanction authorityId (authority "Office of Foreign
//	              Assets Control", country us)
//	Title         title
//	Call_Sign     callSign
//	Vess_type     type
//	Tonnage       tonnage (thousands separators dropped: "318,000" is 318000)
//	GRT           grossRegisteredTonnage (likewise)
//	Vess_flag     flag (country code)
//	Vess_owner    an Ownership of the vessel by the entry of that name, or
//	              by a LegalEntity of that name
//	Remarks       see below
//
// A column whose property the record type lacks, or whose value does not
// fit it (an unknown flag country), is kept in notes as "Title: …",
// "Vessel flag: …" and so on.
//
// The remarks are "; "-separated segments (with or without "alt. "), each
// mapped when it has a place: "DOB 12 Jan 1962", "DOB Jan 1962", "DOB
// 1962", "DOB circa 1962" (the year), "DOB 1962 to 1965" (each year) to
// birthDate; "POB …" to birthPlace; "nationality X", "citizen X" (a known
// country); "Gender Male|Female"; "a.k.a. 'NAME'" and "n.k.a. 'NAME'" to
// alias, "f.k.a. 'NAME'" to previousName (a name may hold apostrophes);
// "Linked To: NAME" to an UnknownLink (role "Linked To") to the entry of
// that name; "Digital Currency Address - XBT ADDRESS" to a CryptoWallet
// (publicKey, currencySymbol, holder); "Website", "Email Address", "Phone
// Number", "Telephone", "SWIFT/BIC", "Legal Entity Number", "D-U-N-S
// Number", "Organization Established Date" (incorporationDate),
// "Organization Type:" (sector), "Target Type" (classification); vessel
// and aircraft facts (IMO number, MMSI, year of build, former flag, other
// call sign, serial number, model, tail number, manufacture date, operator
// when it is an entry of the list); offices of a person ("Member of the
// …", "Head of the …" …) to position; the sanction's terms ("Secondary
// sanctions risk:", "Additional Sanctions Information -", "Executive Order
// …", "Effective Date (…", "Listing Date (…" …) to the Sanction's
// provisions; and a number of a kind in ofacIDTypes ("Passport N
// (Country) issued D expires D", "National ID No.", "Cedula No.", "Tax ID
// No.", "Registration Number", "R.F.C.", "NIT #" … some 60 kinds) to a
// Passport or Identification with number, type, country and dates, and
// the number to the party's passportNumber, idNumber, taxNumber,
// registrationNumber, vatCode, licenseNumber or socialSecurityNumber.
// What has no place ("DOB circa 1962" and ranges beside the years they
// give, aircraft construction numbers, "all offices worldwide", ranks,
// links to a name no entry has) stays in notes, the segments joined by
// "; " as in the list. OFAC cuts remarks at 1000 characters, so a last
// segment without its final full stop stays in notes too.
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
// tombstones and extras left out; cells a spreadsheet would take for
// formulas neutralised with a ' in front unless [WithUnsafeRawCSV]; a byte
// order mark first with [WithBOM]). Reading a written file gives back the
// same records (for csv: without extras).
package formats
