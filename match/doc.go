// Package match finds likely duplicates among records: pairs of persons,
// organisations, vehicles or accounts that seem to be one, each with a
// score from 0 to 1 and the evidence for and against it. It reads records
// only (package schema) and knows nothing of the store: the caller adds
// every record to an Index and asks for the pairs.
//
//	ix, _ := match.NewIndex()
//	for _, r := range records {
//		ix.Add(r)
//	}
//	ix.Pairs(match.PairOptions{MinScore: 0.7}, func(p *match.Pair) error { … })
//
// # What a record gives
//
// Names: name, alias, weakAlias, previousName, abbreviation, and a
// person's name parts joined. A value that holds several names ("A; B")
// gives each; a name with a bracketed remark ("… (TTP)") also gives the
// name without it, unless the remark is a country. Names are folded to
// lowercase ASCII words: accents go, Cyrillic, Greek and Arabic script are
// transliterated (the Arabic article written into a word becomes a word,
// ain a vowel), apostrophes join. Particles (al, el, bin, de, van …) are
// dropped from persons' names; titles (Dr., Haji, Mullah …) and kunya
// words (Abu, Umm, Abd) weigh half; an organisation keeps every word but
// legal forms and connectives weigh 0.1 and common descriptive words
// (group, trading …) half. Theophoric names are split (Abdulrahman is abd
// rahman). Each word also has a skeleton, a consonant key that most
// transliterations share: Ahmed and Ahmad, Qadhafi and Gaddafi, Sayed and
// Sayyid are one skeleton.
//
// Dates of birth (persons): birthDate at the precision given (1975,
// 1975-03, 1975-03-02), and the dates the UN and OFAC lists write in notes
// that a reader may have left out: "DOB circa 1962", "DOB 1962 to 1965",
// "DOB 01 Jan 1973 to 31 Dec 1973" (which is 1973), "Date of birth: type
// APPROXIMATELY; year 1967", "type BETWEEN; from year 1960; to year 1965".
// Each is an interval of days; circa widens it by a year on each side.
//
// Identifiers, with a kind (passport, national id, tax, registration,
// IMO, MMSI, SWIFT, IBAN, wallet, aircraft) and the issuing country when
// the source gives it: the identifier properties of the model; OFAC remark
// segments ("Passport W342058 (Tunisia)", "NIT # 800018928-0 (Colombia)",
// "Vessel Registration Identification IMO 7406784"); the UN list's
// documents as the reader keeps them in notes; numbers written after a
// document word in free text; and the number of every Passport or
// Identification record whose holder is the entity. A value that is a
// sentence ("Pakistani passport number AA3829182") gives its number. A
// number without its issuing country never takes the person's nationality
// as one: people travel on other countries' passports.
//
// Countries (nationality, citizenship, country, jurisdiction, flag …, and
// for organisations the countries of their registration numbers), gender,
// and FollowTheMoney referents (kept by the readers in Record.Extra).
//
// # Scoring
//
// Two records are compared only when they are of one class: persons,
// organisations (a LegalEntity among them: the lists make it of what they
// call an entity), vehicles, accounts. Referents that name
// the other record, or a source record both name, make a pair definite:
// score 1. So does a judgement "same" (below). Otherwise the score is the
// sum of these weights, clipped to 0–1:
//
//   - Names: the best similarity of a name of one and a name of the other
//     (0–1), times 0.65 for persons (a second fact is needed to reach the
//     default threshold of 0.7), 0.85 for organisations, 0.55 for
//     vehicles. Words are paired in any order with their most similar
//     word: 1 when equal, 0.9 for the same skeleton (0.85 for a short
//     skeleton when the words are close), the edit-distance ratio from
//     0.75, 0.5 for an initial; another first consonant (Kamal, Jamal)
//     costs 30%. For persons the matched weight is averaged over the
//     lighter and the heavier name (an extra middle name costs little); if
//     both names keep words of their own (Yasir and Bashar, brothers) it is
//     taken over the heavier and cut by 30%; names that share only one
//     full word score at most 0.7 (0.85 when it is one side's main name and
//     the same words), less when the other has more. For organisations
//     near misses count squared, the sum over the heavier name is squared,
//     cut by 10% for words only one side has and by 20% when both have, and
//     halved by an unmatched numeral or single letter (INVESTMENTS I and
//     II); an acronym name counts 40% less unless it is a main name;
//     organisations that meet only by aliases on both sides, when no other
//     pair of names comes close, 20% less. Names run together (Abubakr)
//     are compared without spaces. Weak aliases count 10% less.
//   - Birth dates, compared at the precision both have: the same day
//     +0.30, month +0.20, year +0.17, compatible circa or range +0.12
//     (+0.08 when wide). When none overlap, the closest two decide: the
//     same month +0.05, the same year where one is 1 January (often an
//     unknown date) +0.12, another month of the same year, a one-digit
//     difference or a swap of day and month −0.05, other full dates
//     −0.40; a year apart −0.10, further −0.30.
//   - Identifiers: the same number of comparable kinds +0.45 (IBAN and
//     wallets +0.95), 0.15 only when the issuing countries are known and
//     differ, 0.05 less for numbers shorter than 7. Different numbers of a
//     kind an entity has one of, issued by the same country, count against:
//     IMO −0.50, national id, tax and registration numbers −0.25, passports
//     −0.05 (people hold several).
//   - Countries: one in common +0.05; none in common −0.05 for persons,
//     −0.20 for organisations (a branch abroad is another legal entity).
//   - Gender: different −0.30.
//
// Two people who share two passport numbers but no name (the UN lists
// AZIM AGHAJANI and ALI AKBAR TABATABAEI with the same two passports)
// score 0.45: names 0 plus the passport. With the default threshold the
// pair is not reported; with --min-score 0.4 it is, and says why.
//
// # Blocking
//
// Pairs are scored only when the records share a blocking key: every pair
// of words of a name by skeleton (a one-word name: the word), each also
// with every birth year the record allows (ranges up to seven years);
// every identifier number; the record's id and its referents. A key held
// by more than MaxBlock records (default 40) tells nothing apart and is
// skipped; the keys with a birth year still pair people whose names are
// common. Every record is thus compared with at most a bounded number of
// others: the work grows linearly with the records. The index keeps each
// record's features encoded in one byte arena (words as numbers into an
// interned table) and the keys as one sorted array of 64-bit postings (a
// 40-bit key hash and a 24-bit record number), about 150 bytes a record
// all told; Pairs scores on every core and keeps only the pairs at or
// above the minimum score, and renders the evidence of each only when it
// hands it out.
//
// # Judgements
//
// An analyst's verdict on a pair is a record, so that it is kept, merged
// and carried to peers like any other: an UnknownLink whose subject and
// object are the two records (sorted) and whose role is "same" or "not
// same", with an id derived from the pair (JudgementID) so that every
// office's judgement of a pair is one record: changing one's mind is a new
// version; two offices judging a pair differently at once is an ordinary
// conflict on role, shown as disputed until resolved. A pair judged "not
// same" is no longer reported (PairOptions.WithRejected shows it); a pair
// judged "same" is reported with score 1 even if blocking would not find
// it. FollowTheMoney has no judgement entity (OpenSanctions keeps them
// outside the data, in nomenklatura's resolver); an UnknownLink exports
// to FtM and back unchanged.
package match
