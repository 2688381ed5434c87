package loadfile

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// The header rows the load files must start with (names compare without
// case and surrounding spaces; a UTF-8 byte order mark is skipped).
const (
	HeaderPersons   = "national_id,name,birth_date"
	HeaderPension   = "entry_id,national_id,period,kind,unit_name,amount"
	HeaderInsurance = "entry_id,national_id,event_date,kind,unit_name,insured_salary"
	HeaderConsents  = "institution,pan,national_id,name,birth_date,services,signed_date,status"
)

// Limits of the row checks.
const (
	MaxAmount = 999_999_999_999 // |amount| of a pension row: the 12 digits of DE62
	MaxSalary = 9_999_999       // insured salary: the 7 digits of DE62
	MaxName   = 50              // characters of a person's name
	MaxUnit   = 200             // characters of a unit name
)

// PensionRecord is a pension_ledger.csv row.
type PensionRecord struct {
	NationalID string
	ledger.PensionRow
}

// InsuranceRecord is an insurance_events.csv row.
type InsuranceRecord struct {
	NationalID string
	ledger.InsuranceRow
}

// ConsentRecord is a consents.csv row: the consent and the keyed hash of its
// PAN (the PAN itself is dropped as soon as it is hashed).
type ConsentRecord struct {
	PANHash string
	card.Consent
}

// Reader reads the data rows of one load file as a stream: Next skips the
// rows it refuses (telling reject about each one) and stops at the end of
// the file or at an error that makes the rest unreadable (see Err). It
// holds one row at a time.
type Reader[T any] struct {
	file   string
	cols   int
	cr     *csv.Reader
	parse  func([]string) (T, string)
	reject func(RowError)
	row    T
	line   int
	rows   int64
	err    error
	done   bool
}

func newReader[T any](r io.Reader, file, headerRow string, reject func(RowError), parse func([]string) (T, string)) (*Reader[T], error) {
	header := strings.Split(headerRow, ",")
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	got, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file (want the header %s)", file, strings.Join(header, ","))
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:1: header: %v", file, pe.Err)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := checkHeader(got, header); err != nil {
		return nil, fmt.Errorf("%s:1: header must be %s: %s", file, strings.Join(header, ","), err)
	}
	if reject == nil {
		reject = func(RowError) {}
	}
	return &Reader[T]{file: file, cols: len(header), cr: cr, parse: parse, reject: reject}, nil
}

func checkHeader(got, want []string) error {
	for i, w := range want {
		if i >= len(got) {
			return fmt.Errorf("column %d (%s) is missing", i+1, w)
		}
		if !strings.EqualFold(strings.TrimSpace(got[i]), w) {
			// The text is not echoed: a file without its header row would
			// show a data row here.
			return fmt.Errorf("column %d is not %s (is the header row missing?)", i+1, w)
		}
	}
	if len(got) > len(want) {
		return fmt.Errorf("%d columns, want %d", len(got), len(want))
	}
	return nil
}

// Next advances to the next good row; it reports false at the end of the
// file or on an error that stops the reading (Err tells which).
func (r *Reader[T]) Next() bool {
	for !r.done {
		rec, err := r.cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.done = true
				return false
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				// A CSV syntax error (a stray quote): the record is
				// refused; the reader goes on after it.
				r.rows++
				line := pe.StartLine
				if line == 0 {
					line = pe.Line
				}
				r.reject(RowError{File: r.file, Line: line, Reason: "CSV syntax: " + pe.Err.Error()})
				continue
			}
			r.err = fmt.Errorf("%s: %w", r.file, err)
			r.done = true
			return false
		}
		r.rows++
		line, _ := r.cr.FieldPos(0)
		if len(rec) != r.cols {
			r.reject(RowError{File: r.file, Line: line, Reason: fmt.Sprintf("%d fields, want %d", len(rec), r.cols)})
			continue
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
			if !utf8.ValidString(rec[i]) {
				r.reject(RowError{File: r.file, Line: line, Reason: fmt.Sprintf("field %d is not UTF-8", i+1)})
				rec = nil
				break
			}
		}
		if rec == nil {
			continue
		}
		row, reason := r.parse(rec)
		if reason != "" {
			r.reject(RowError{File: r.file, Line: line, Reason: reason})
			continue
		}
		r.row, r.line = row, line
		return true
	}
	return false
}

// Row is the current good row.
func (r *Reader[T]) Row() T { return r.row }

// Line is the current row's line in the file.
func (r *Reader[T]) Line() int { return r.line }

// Rows counts the data rows read so far, good and bad.
func (r *Reader[T]) Rows() int64 { return r.rows }

// File is the name of the file read.
func (r *Reader[T]) File() string { return r.file }

// Err is the error that stopped the reading early, nil at the end of the file.
func (r *Reader[T]) Err() error { return r.err }

// NewPersonsReader reads persons.csv.
func NewPersonsReader(r io.Reader, reject func(RowError)) (*Reader[card.Person], error) {
	return newReader(r, FilePersons, HeaderPersons, reject, parsePerson)
}

// NewPensionReader reads pension_ledger.csv.
func NewPensionReader(r io.Reader, reject func(RowError)) (*Reader[PensionRecord], error) {
	return newReader(r, FilePension, HeaderPension, reject, parsePension)
}

// NewInsuranceReader reads insurance_events.csv. An event after asOf is
// refused: the export cannot know it, and seniority counts up to asOf.
func NewInsuranceReader(r io.Reader, asOf time.Time, reject func(RowError)) (*Reader[InsuranceRecord], error) {
	return newReader(r, FileInsurance, HeaderInsurance, reject, func(f []string) (InsuranceRecord, string) {
		return parseInsurance(f, asOf)
	})
}

// NewConsentsReader reads consents.csv, keeping only the keyed hash of each PAN.
func NewConsentsReader(r io.Reader, h *card.PANHasher, reject func(RowError)) (*Reader[ConsentRecord], error) {
	if h == nil {
		return nil, errors.New("ledger: consents need a PAN hasher")
	}
	return newReader(r, FileConsents, HeaderConsents, reject, func(f []string) (ConsentRecord, string) {
		return parseConsent(f, h)
	})
}

// ReadAsOf reads as_of.txt: one line, YYYY-MM-DD.
func ReadAsOf(r io.Reader) (time.Time, error) {
	b, err := io.ReadAll(io.LimitReader(r, 256))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", FileAsOf, err)
	}
	s := strings.TrimSpace(strings.TrimPrefix(string(b), "\xef\xbb\xbf"))
	if s == "" {
		return time.Time{}, fmt.Errorf("%s:1: empty (want the as-of date, YYYY-MM-DD)", FileAsOf)
	}
	if strings.ContainsAny(s, "\r\n") {
		return time.Time{}, fmt.Errorf("%s:2: want one line, the as-of date", FileAsOf)
	}
	d, reason := parseDate("as-of date", s, rocFirst, rocLast)
	if reason != "" {
		return time.Time{}, fmt.Errorf("%s:1: %s", FileAsOf, reason)
	}
	return d, nil
}

// Date ranges: dates shown on a statement must have a three-digit ROC year
// (民國 1 to 999); birth and signing dates only need to be plausible.
var (
	rocFirst   = time.Date(1912, 1, 1, 0, 0, 0, 0, time.UTC)
	rocLast    = time.Date(2910, 12, 31, 0, 0, 0, 0, time.UTC)
	birthFirst = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
)

func parsePerson(f []string) (card.Person, string) {
	id, reason := parseID(f[0])
	if reason != "" {
		return card.Person{}, reason
	}
	name, reason := parseText("name", f[1], MaxName, true)
	if reason != "" {
		return card.Person{}, reason
	}
	birth, reason := parseDate("birth_date", f[2], birthFirst, rocLast)
	if reason != "" {
		return card.Person{}, reason
	}
	return card.Person{NationalID: id, Name: name, BirthDate: birth}, ""
}

func parsePension(f []string) (PensionRecord, string) {
	var r PensionRecord
	var reason string
	if r.EntryID, reason = parseEntryID(f[0]); reason != "" {
		return r, reason
	}
	if r.NationalID, reason = parseID(f[1]); reason != "" {
		return r, reason
	}
	if r.Year, r.Month, reason = parsePeriod(f[2]); reason != "" {
		return r, reason
	}
	if r.Kind, reason = parsePensionKind(f[3]); reason != "" {
		return r, reason
	}
	if r.Unit, reason = parseText("unit_name", f[4], MaxUnit, false); reason != "" {
		return r, reason
	}
	if r.Amount, reason = parseInt("amount", f[5], -MaxAmount, MaxAmount); reason != "" {
		return r, reason
	}
	return r, ""
}

func parseInsurance(f []string, asOf time.Time) (InsuranceRecord, string) {
	var r InsuranceRecord
	var reason string
	if r.EntryID, reason = parseEntryID(f[0]); reason != "" {
		return r, reason
	}
	if r.NationalID, reason = parseID(f[1]); reason != "" {
		return r, reason
	}
	if r.Date, reason = parseDate("event_date", f[2], rocFirst, rocLast); reason != "" {
		return r, reason
	}
	if !asOf.IsZero() && r.Date.After(asOf) {
		return r, fmt.Sprintf("event_date %s is after the as-of date %s", f[2], asOf.Format(time.DateOnly))
	}
	if r.Kind, reason = parseInsuranceKind(f[3]); reason != "" {
		return r, reason
	}
	if r.Unit, reason = parseText("unit_name", f[4], MaxUnit, true); reason != "" {
		return r, reason
	}
	if r.Salary, reason = parseInt("insured_salary", f[5], 0, MaxSalary); reason != "" {
		return r, reason
	}
	return r, ""
}

func parseConsent(f []string, h *card.PANHasher) (ConsentRecord, string) {
	var r ConsentRecord
	var reason string
	if r.Institution, reason = parseInstitution(f[0]); reason != "" {
		return r, reason
	}
	pan, reason := parsePAN(f[1])
	if reason != "" {
		return r, reason
	}
	if r.NationalID, reason = parseID(f[2]); reason != "" {
		return r, reason
	}
	if r.Name, reason = parseText("name", f[3], MaxName, true); reason != "" {
		return r, reason
	}
	if r.BirthDate, reason = parseDate("birth_date", f[4], birthFirst, rocLast); reason != "" {
		return r, reason
	}
	switch strings.ToLower(f[5]) {
	case "pension":
		r.Pension = true
	case "insurance":
		r.Insurance = true
	case "both":
		r.Pension, r.Insurance = true, true
	default:
		return r, "services " + show(f[5]) + " is not pension, insurance or both"
	}
	if r.SignedDate, reason = parseDate("signed_date", f[6], birthFirst, rocLast); reason != "" {
		return r, reason
	}
	switch strings.ToLower(f[7]) {
	case "active":
	case "revoked":
		r.Revoked = true
	default:
		return r, "status " + show(f[7]) + " is not active or revoked"
	}
	r.PANHash = h.Hash(pan)
	return r, ""
}

// parsePensionKind reads a pension kind as the load file writes it.
func parsePensionKind(s string) (ledger.PensionKind, string) {
	switch strings.ToLower(s) {
	case "employer":
		return ledger.KindEmployer, ""
	case "voluntary":
		return ledger.KindVoluntary, ""
	case "earnings":
		return ledger.KindEarnings, ""
	case "settlement":
		return ledger.KindSettlement, ""
	case "adjustment":
		return ledger.KindAdjustment, ""
	}
	return 0, "kind " + show(s) + " is not employer, voluntary, earnings, settlement or adjustment"
}

// parseInsuranceKind reads an insurance event kind as the load file writes it.
func parseInsuranceKind(s string) (ledger.InsuranceKind, string) {
	switch strings.ToLower(s) {
	case "enroll":
		return ledger.KindEnroll, ""
	case "withdraw":
		return ledger.KindWithdraw, ""
	case "salary_change":
		return ledger.KindSalaryChange, ""
	}
	return 0, "kind " + show(s) + " is not enroll, withdraw or salary_change"
}

// parseID checks a national ID (or resident certificate number): a letter,
// then a letter or digit, then eight digits. Lower-case letters are made
// upper-case. A bad value is never echoed.
func parseID(s string) (string, string) {
	if len(s) != 10 {
		return "", "national_id is not 10 characters"
	}
	id := strings.ToUpper(s)
	if !card.ValidNationalID(id) {
		return "", "national_id is not a letter, a letter or digit and eight digits"
	}
	return id, ""
}

// parsePAN checks a card number: 12 to 19 digits once spaces and hyphens
// are dropped. The value is never echoed, not even masked.
func parsePAN(s string) (string, string) {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	if len(s) < 12 || len(s) > 19 {
		return "", "pan is not 12 to 19 digits"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", "pan is not 12 to 19 digits"
		}
	}
	return s, ""
}

func parseInstitution(s string) (string, string) {
	if len(s) == 0 || len(s) > 11 {
		return "", "institution " + show(s) + " is not 1 to 11 digits"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", "institution " + show(s) + " is not 1 to 11 digits"
		}
	}
	return s, ""
}

func parseEntryID(s string) (int64, string) {
	n, reason := parseInt("entry_id", s, 0, 1<<63-1)
	if reason == "" && n == 0 || strings.HasPrefix(reason, "entry_id -") {
		return 0, "entry_id " + s + " is not positive"
	}
	return n, reason
}

func parseInt(field, s string, lo, hi int64) (int64, string) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if s == "" {
			return 0, field + " is empty"
		}
		return 0, field + " " + show(s) + " is not an integer"
	}
	if n < lo || n > hi {
		return 0, fmt.Sprintf("%s %d is out of range [%d, %d]", field, n, lo, hi)
	}
	return n, ""
}

func parseDate(field, s string, lo, hi time.Time) (time.Time, string) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != 10 {
		if s == "" {
			return time.Time{}, field + " is empty"
		}
		return time.Time{}, field + " " + show(s) + " is not a date YYYY-MM-DD"
	}
	if d.Before(lo) || d.After(hi) {
		return time.Time{}, fmt.Sprintf("%s %s is outside %s to %s", field, s, lo.Format(time.DateOnly), hi.Format(time.DateOnly))
	}
	return d, ""
}

func parsePeriod(s string) (year, month int, reason string) {
	d, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 {
		if s == "" {
			return 0, 0, "period is empty"
		}
		return 0, 0, "period " + show(s) + " is not a month YYYY-MM"
	}
	if d.Before(rocFirst) || d.After(rocLast) {
		return 0, 0, fmt.Sprintf("period %s is outside 1912-01 to 2910-12", s)
	}
	return d.Year(), int(d.Month()), ""
}

func parseText(field, s string, max int, required bool) (string, string) {
	if s == "" {
		if required {
			return "", field + " is empty"
		}
		return "", ""
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", fmt.Sprintf("%s is %d characters, at most %d", field, n, max)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return "", field + " holds a control character"
		}
	}
	return s, ""
}

// show quotes a bad value for a reason unless it could be a card number or a
// national ID (long, or with a run of 8 digits): then it is not shown.
func show(s string) string {
	if len(s) > 20 {
		return "(not shown)"
	}
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			if run >= 8 {
				return "(not shown)"
			}
		} else {
			run = 0
		}
	}
	return strconv.Quote(s)
}
