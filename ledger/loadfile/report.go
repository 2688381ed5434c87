package loadfile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bli/atmgw/card"
)

// The five load files, as exported by the core ledger. Every one of them
// must be present in a load.
const (
	FilePersons   = "persons.csv"
	FilePension   = "pension_ledger.csv"
	FileInsurance = "insurance_events.csv"
	FileConsents  = "consents.csv"
	FileAsOf      = "as_of.txt"
)

// CSVFiles are the four CSV files in the order they are loaded and reported.
func CSVFiles() [4]string { return [4]string{FilePersons, FilePension, FileInsurance, FileConsents} }

// RowError is a refused row of a load file: the file, the line (1 is the
// header; a quoted field may span lines, then it is the record's first) and
// why. A reason never holds a PAN or a national ID in clear.
type RowError struct {
	File   string
	Line   int
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// Progress is told, from time to time while a load runs, the file being
// read and how many of its data rows have been read so far (for a progress
// bar), and once more at the end of each file with its total. It may be
// called from a goroutine of the loader (never from two at once); it must
// not block.
type Progress func(file string, rows int64)

// FileStats counts the rows of one CSV file in a load.
type FileStats struct {
	File     string
	Rows     int64 // data rows read (the header is not counted)
	Accepted int64 // rows that passed every check
	Refused  int64 // rows refused (each one has a RowError)
	Changed  int64 // accepted rows that were new or different from what the store held
}

// Report is the outcome of a load. Rows, Accepted, Refused and Errors
// depend only on the files; Changed depends on what the store held before
// (loading the same files twice gives Changed 0 the second time).
type Report struct {
	AsOf   time.Time
	Files  []FileStats // one per CSV file, in the order of CSVFiles
	Errors []RowError  // sorted by file (in the order of CSVFiles), then line
}

// NewReport returns a report with zero counts for every CSV file.
func NewReport(asOf time.Time) Report {
	r := Report{AsOf: asOf, Files: make([]FileStats, len(CSVFiles()))}
	for i, f := range CSVFiles() {
		r.Files[i].File = f
	}
	return r
}

// File returns the counts of one CSV file (nil for an unknown name).
func (r *Report) File(name string) *FileStats {
	for i := range r.Files {
		if r.Files[i].File == name {
			return &r.Files[i]
		}
	}
	return nil
}

// Refuse records a refused row.
func (r *Report) Refuse(e RowError) {
	r.Errors = append(r.Errors, e)
	if f := r.File(e.File); f != nil {
		f.Refused++
	}
}

// SortErrors puts Errors in their documented order.
func (r *Report) SortErrors() { SortRowErrors(r.Errors) }

// SortRowErrors sorts by file (in the order of CSVFiles, unknown names
// last), line, then reason.
func SortRowErrors(es []RowError) {
	slices.SortStableFunc(es, func(a, b RowError) int {
		return cmp.Or(cmp.Compare(fileRank(a.File), fileRank(b.File)), cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line), cmp.Compare(a.Reason, b.Reason))
	})
}

func fileRank(f string) int {
	for i, n := range CSVFiles() {
		if n == f {
			return i
		}
	}
	if f == FileAsOf {
		return -1
	}
	return len(CSVFiles())
}

// Summary is a few lines for an operator: the as-of date and, per file, the
// rows read, accepted and refused. It depends only on the files, so loading
// the same files twice prints the same summary.
func (r Report) Summary() string {
	var b strings.Builder
	if !r.AsOf.IsZero() {
		fmt.Fprintf(&b, "as of %s\n", r.AsOf.Format(time.DateOnly))
	}
	var refused int64
	for _, f := range r.Files {
		fmt.Fprintf(&b, "%-22s %10d rows %10d accepted %8d refused\n", f.File, f.Rows, f.Accepted, f.Refused)
		refused += f.Refused
	}
	if refused > 0 {
		fmt.Fprintf(&b, "%d row(s) refused\n", refused)
	}
	return b.String()
}

// The reasons of the checks that span rows. Both stores use them, so that
// the same files give the same report whatever the store.

// ReasonDuplicatePerson is the reason of a second persons.csv row of a national ID.
func ReasonDuplicatePerson(nationalID string, firstLine int) string {
	return fmt.Sprintf("duplicate national_id %s (first at line %d)", card.MaskID(nationalID), firstLine)
}

// ReasonDuplicateEntry is the reason of a second row with the same entry_id
// in pension_ledger.csv or insurance_events.csv.
func ReasonDuplicateEntry(entryID int64, firstLine int) string {
	return fmt.Sprintf("duplicate entry_id %d (first at line %d)", entryID, firstLine)
}

// ReasonDuplicateConsent is the reason of a second consents.csv row for the
// same institution and PAN.
func ReasonDuplicateConsent(institution string, firstLine int) string {
	return fmt.Sprintf("duplicate consent for institution %s and the same PAN (first at line %d)", institution, firstLine)
}

// ReasonUnknownPerson is the reason of a ledger row whose national ID is no
// insured person (neither in persons.csv nor, for PostgreSQL, already loaded).
func ReasonUnknownPerson(nationalID string) string {
	return fmt.Sprintf("unknown insured person %s", card.MaskID(nationalID))
}
