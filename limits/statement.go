package limits

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// DE62 sizes (docs/interface.md, section 6): a pension DE62 is 9 + 60·n + 26 bytes,
// an insurance DE62 9 + 56·n + 6.
const (
	StatementHeadLen    = 9  // service, row count, as-of date
	PensionRowLen       = 60 // period 5, kind 2, unit 40, amount 13
	InsuranceRowLen     = 56 // date 7, kind 2, unit 40, salary 7
	PensionTrailerLen   = 26 // contributions 13, earnings 13
	InsuranceTrailerLen = 6  // seniority years 3, remaining days 3
	UnitLen             = 40 // unit name, Big5, space-padded
)

// StatementLen is the length of a DE62 with n rows.
func StatementLen(s card.Service, n int) int {
	if s == card.ServiceInsurance {
		return StatementHeadLen + n*InsuranceRowLen + InsuranceTrailerLen
	}
	return StatementHeadLen + n*PensionRowLen + PensionTrailerLen
}

// Statement renders DE62, the statement data of an approved answer, fixed
// width as in docs/interface.md, section 6: service P or I, the row count 0-6,
// the as-of date (ROC YYYMMDD), the rows newest first (at most the first
// six of the statement), then the totals or the seniority. Unit names are
// cut to 40 bytes between characters and space-padded; amounts beyond 12
// digits are clamped to ±999999999999, salaries to 0-9999999, years to 999;
// kind codes are written as given.
func Statement(in Inquiry) []byte {
	v := newView(&in, false)
	t := cp950()
	svc := card.ServicePension
	if !v.pension {
		svc = card.ServiceInsurance
	}
	b := make([]byte, 0, StatementLen(svc, v.n))
	if v.pension {
		b = append(b, 'P')
	} else {
		b = append(b, 'I')
	}
	b = append(b, byte('0'+v.n))
	b = appendROCDate(b, v.asOf, false)
	for i := range v.n {
		r := &v.rows[i]
		if v.pension {
			b = appendROCMonth(b, r.year, r.month, false)
		} else {
			b = appendROCDate(b, r.date, false)
		}
		b = appendUnsigned(b, int64(r.code), 2)
		var used int
		b, used = t.appendText(b, r.unit, UnitLen)
		for ; used < UnitLen; used++ {
			b = append(b, ' ')
		}
		if v.pension {
			b = appendSigned(b, r.amount)
		} else {
			b = appendUnsigned(b, r.amount, 7)
		}
	}
	if v.pension {
		b = appendSigned(b, v.tot1)
		b = appendSigned(b, v.tot2)
	} else {
		b = appendUnsigned(b, int64(v.years), 3)
		b = appendUnsigned(b, int64(v.days), 3)
	}
	return b
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
