package limits

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// The tests' readers and helpers: they read back what the layout writes
// (Check, ParseStatement; DecodeBig5 is the gateway's too, in big5.go) or
// state its rules another way (Fit, EncodeBig5). Nothing but the tests uses them: the simulator reads the
// gateway's texts with its own readers (package sim), written from the
// contract.

// Fit returns the longest prefix of s that takes at most columns columns.
// It cuts only between characters, so a double-byte character is never
// split; a character of two columns that would straddle the limit is left
// out whole.
func Fit(s string, columns int) string {
	n, _ := fitLen(s, columns)
	return s[:n]
}

// EncodeBig5 encodes a UTF-8 string as Big5 (CP950). Every character with
// no CP950 form, and every invalid UTF-8 byte, becomes ？ (A148, two
// columns like the character it stands for), so it never fails and
// len(EncodeBig5(s)) == Width(s). ASCII bytes, control characters
// included, are copied as they are.
func EncodeBig5(s string) []byte {
	t := cp950()
	b := make([]byte, 0, Width(s))
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = t.appendRune(b, r)
		i += size
	}
	return b
}

// Check reports the first way a DE61 or DE63 text breaks the contract's
// rules for profile p: more than MaxText bytes, more lines than p.Lines, a
// line wider than p.Columns, a double-byte character cut (a lead byte at
// the end of a line or before a byte that cannot follow it), a byte pair
// outside CP950, or a control byte other than the LF between lines. The
// simulator and the tests use it on what the gateway sends.
func Check(p Profile, text []byte) error {
	if len(text) > MaxText {
		return fmt.Errorf("%d bytes, more than %d", len(text), MaxText)
	}
	if len(text) == 0 {
		return nil
	}
	line, width := 1, 0
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			width = 0
			i++
			continue
		case c < 0x20 || c == 0x7F:
			return fmt.Errorf("line %d: control byte %#02x at offset %d", line, c, i)
		case c < 0x80:
			width++
			i++
		case i+1 == len(text) || text[i+1] == '\n':
			return fmt.Errorf("line %d: double-byte character cut at offset %d", line, i)
		case !inCP950(c, text[i+1]):
			return fmt.Errorf("line %d: bytes % X at offset %d are not CP950", line, text[i:i+2], i)
		default:
			width += 2
			i += 2
		}
		if line > p.Lines {
			return fmt.Errorf("%d lines or more, profile %v allows %d", line, p, p.Lines)
		}
		if width > p.Columns {
			return fmt.Errorf("line %d: wider than the %d columns of profile %v", line, p.Columns, p)
		}
	}
	if line > p.Lines {
		return fmt.Errorf("%d lines, profile %v allows %d", line, p, p.Lines)
	}
	return nil
}

// ErrStatement is wrapped by every error of ParseStatement.
var ErrStatement = errors.New("malformed DE62 statement")

// StatementData is a DE62 decoded: Pension is set for P, Insurance for I.
// Rows carry no entry id; unit names are decoded from Big5 with the
// padding removed (a name the gateway shortened stays shortened).
type StatementData struct {
	Service   card.Service
	Pension   *ledger.PensionStatement
	Insurance *ledger.InsuranceStatement
}

func statementErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrStatement}, args...)...)
}

// ParseStatement decodes DE62 (for the simulator and for tests). It checks
// the length against the row count, every digit, date and sign, the kind
// codes, and that every unit name is well-formed CP950 without control
// characters; the first problem is returned, wrapping ErrStatement, with
// the row and byte offset.
func ParseStatement(b []byte) (StatementData, error) {
	var d StatementData
	if len(b) < StatementHeadLen {
		return d, statementErr("%d bytes, shorter than the %d-byte head", len(b), StatementHeadLen)
	}
	switch b[0] {
	case 'P':
		d.Service = card.ServicePension
	case 'I':
		d.Service = card.ServiceInsurance
	default:
		return d, statementErr("service %q at offset 0, want P or I", b[0])
	}
	if b[1] < '0' || b[1] > '0'+maxRows {
		return d, statementErr("row count %q at offset 1, want 0-6", b[1])
	}
	n := int(b[1] - '0')
	if want := StatementLen(d.Service, n); len(b) != want {
		return d, statementErr("%d bytes, want %d for %d rows", len(b), want, n)
	}
	asOf, err := parseROCDate(b, 2)
	if err != nil {
		return d, statementErr("as-of date: %v", err)
	}
	off := StatementHeadLen
	if d.Service == card.ServicePension {
		st := &ledger.PensionStatement{AsOf: asOf, Rows: make([]ledger.PensionRow, n)}
		for i := range n {
			r := &st.Rows[i]
			if r.Year, r.Month, err = parseROCMonth(b, off); err != nil {
				return d, statementErr("row %d period: %v", i+1, err)
			}
			k, err := parseDigits(b, off+5, 2)
			if err != nil || k < int64(ledger.KindEmployer) || k > int64(ledger.KindAdjustment) {
				return d, statementErr("row %d kind %q at offset %d, want 01-05", i+1, b[off+5:off+7], off+5)
			}
			r.Kind = ledger.PensionKind(k)
			if r.Unit, err = parseUnit(b, off+7); err != nil {
				return d, statementErr("row %d unit name: %v", i+1, err)
			}
			if r.Amount, err = parseSigned(b, off+7+UnitLen); err != nil {
				return d, statementErr("row %d amount: %v", i+1, err)
			}
			off += PensionRowLen
		}
		if st.Contributions, err = parseSigned(b, off); err != nil {
			return d, statementErr("cumulative contributions: %v", err)
		}
		if st.Earnings, err = parseSigned(b, off+13); err != nil {
			return d, statementErr("cumulative earnings: %v", err)
		}
		d.Pension = st
		return d, nil
	}
	st := &ledger.InsuranceStatement{AsOf: asOf, Rows: make([]ledger.InsuranceRow, n)}
	for i := range n {
		r := &st.Rows[i]
		if r.Date, err = parseROCDate(b, off); err != nil {
			return d, statementErr("row %d date: %v", i+1, err)
		}
		k, err := parseDigits(b, off+7, 2)
		if err != nil || k < int64(ledger.KindEnroll) || k > int64(ledger.KindSalaryChange) {
			return d, statementErr("row %d kind %q at offset %d, want 11-13", i+1, b[off+7:off+9], off+7)
		}
		r.Kind = ledger.InsuranceKind(k)
		if r.Unit, err = parseUnit(b, off+9); err != nil {
			return d, statementErr("row %d unit name: %v", i+1, err)
		}
		if r.Salary, err = parseDigits(b, off+9+UnitLen, 7); err != nil {
			return d, statementErr("row %d insured salary: %v", i+1, err)
		}
		off += InsuranceRowLen
	}
	years, err := parseDigits(b, off, 3)
	if err != nil {
		return d, statementErr("seniority years: %v", err)
	}
	days, err := parseDigits(b, off+3, 3)
	if err != nil {
		return d, statementErr("seniority days: %v", err)
	}
	if days >= 365 {
		return d, statementErr("seniority days %d at offset %d, want 0-364", days, off+3)
	}
	st.SeniorityDays = int(years*365 + days)
	d.Insurance = st
	return d, nil
}

func parseDigits(b []byte, off, n int) (int64, error) {
	var v int64
	for i := off; i < off+n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q at offset %d is not %d digits", b[off:off+n], off, n)
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

func parseROCMonth(b []byte, off int) (year, month int, err error) {
	y, err := parseDigits(b, off, 3)
	if err != nil {
		return 0, 0, err
	}
	m, err := parseDigits(b, off+3, 2)
	if err != nil {
		return 0, 0, err
	}
	if m < 1 || m > 12 {
		return 0, 0, fmt.Errorf("month %q at offset %d", b[off+3:off+5], off+3)
	}
	return int(y) + 1911, int(m), nil
}

func parseROCDate(b []byte, off int) (time.Time, error) {
	y, m, err := parseROCMonth(b, off)
	if err != nil {
		return time.Time{}, err
	}
	dd, err := parseDigits(b, off+5, 2)
	if err != nil {
		return time.Time{}, err
	}
	t := time.Date(y, time.Month(m), int(dd), 0, 0, 0, 0, time.UTC)
	if dd < 1 || t.Day() != int(dd) {
		return time.Time{}, fmt.Errorf("no day %q in %d-%02d at offset %d", b[off+5:off+7], y, m, off+5)
	}
	return t, nil
}

func parseSigned(b []byte, off int) (int64, error) {
	var neg bool
	switch b[off] {
	case '+':
	case '-':
		neg = true
	default:
		return 0, fmt.Errorf("sign %q at offset %d, want + or -", b[off], off)
	}
	v, err := parseDigits(b, off+1, 12)
	if neg {
		v = -v
	}
	return v, err
}

// parseUnit decodes a 40-byte unit name field.
func parseUnit(b []byte, off int) (string, error) {
	f := b[off : off+UnitLen]
	t := cp950()
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c < 0x20 || c == 0x7F:
			return "", fmt.Errorf("control byte %#02x at offset %d", c, off+i)
		case c < 0x80:
			i++
		case i+1 == len(f):
			return "", fmt.Errorf("double-byte character cut at offset %d", off+i)
		default:
			if _, ok := t.runeOf(c, f[i+1]); !ok {
				return "", fmt.Errorf("bytes % X at offset %d are not CP950", f[i:i+2], off+i)
			}
			i += 2
		}
	}
	return DecodeBig5(bytes.TrimRight(f, " ")), nil
}
