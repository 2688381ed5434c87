// Package loadfile reads the five load files of the core ledger's export
// and reports on a load: the rows it refused and the counts per file.
//
// The readers (NewPersonsReader, NewPensionReader, NewInsuranceReader,
// NewConsentsReader, ReadAsOf) stream one file each, one row in memory at a
// time, and check each row; a bad row is reported as a RowError (file, line,
// reason) and skipped, the good rows go on. A reason never holds a PAN or a
// national ID in clear. The checks that span rows (a repeated key, a ledger
// row of an unknown person) are the stores' (ReadFS for the in-memory store
// of ledger/demo, SQL for ledger/postgres), with the same reasons (Reason*)
// so both report alike.
//
// Choices where the contract is silent:
//   - whole-file errors stop the load, nothing is loaded: a missing file, an
//     empty one, a header other than the contract's (names compared without
//     case; a UTF-8 byte order mark is skipped; the bad header is not echoed,
//     it could be a data row), an as_of.txt that is not one date;
//   - fields are trimmed; kinds, services and status compare without case;
//     a national ID is a letter, a letter or digit, and eight digits
//     (national ID or resident certificate; no checksum), made upper-case;
//     a PAN is 12 to 19 digits, spaces and hyphens dropped, and only its
//     keyed hash (card.PANHasher) is kept; an institution 1 to 11 digits;
//   - dates are YYYY-MM-DD, periods YYYY-MM; the dates a statement shows
//     (events, periods, as-of) must have a three-digit ROC year (1912 to
//     2910); birth and signing dates from 1900;
//   - an insurance event after the as-of date is refused (the export cannot
//     know it, and seniority counts to the as-of date);
//   - amounts are whole TWD within the 12 digits of DE62, insured salaries
//     0 to 9,999,999 (7 digits); entry ids positive;
//   - names 1 to 50 characters, unit names up to 200 (empty allowed for
//     pension rows, such as earnings; required for insurance events, since
//     coverage is per unit); no control characters;
//   - a repeated key within a file (national ID, entry id, institution and
//     PAN) is refused, the first good row wins; a ledger row whose person is
//     neither in persons.csv nor already loaded is refused; a consent may
//     name an unknown person (the gateway answers 25).
package loadfile
