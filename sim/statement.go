package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The simulator reads DE54 and DE62 with its own parsers, written from the
// contract (docs/interface.md, section 6), so that it checks the gateway rather than sharing
// its mistakes.

// Statement is DE62 decoded.
type Statement struct {
	Service byte   // 'P' pension, 'I' insurance
	AsOf    string // ROC YYYMMDD as sent
	Rows    []StatementRow
	// Pension trailer.
	Contributions, Earnings int64
	// Insurance trailer.
	SeniorityYears, SeniorityDays int
}

// StatementRow is one row of DE62.
type StatementRow struct {
	When   string // ROC YYYMM (pension period) or YYYMMDD (insurance event date), as sent
	Kind   string // two-digit code
	Unit   string // unit name, decoded and without the padding
	Amount int64  // pension amount (signed) or insured salary
}

// Row sizes and trailers of DE62.
const (
	de62Head         = 9
	pensionRowLen    = 60
	insuranceRowLen  = 56
	pensionTrailer   = 26
	insuranceTrailer = 6
	unitLen          = 40
)

// KindName names a DE62 row kind in Chinese, as a receipt would.
func KindName(code string) string {
	switch code {
	case "01":
		return "雇主提繳"
	case "02":
		return "個人自提"
	case "03":
		return "收益分配"
	case "04":
		return "結清移入"
	case "05":
		return "調整"
	case "11":
		return "加保"
	case "12":
		return "退保"
	case "13":
		return "調薪"
	}
	return "?" + code
}

// ParseStatement decodes DE62 and checks its fixed layout.
func ParseStatement(b []byte) (*Statement, error) {
	if len(b) < de62Head {
		return nil, fmt.Errorf("DE62: %d bytes, shorter than its 9-byte head", len(b))
	}
	s := &Statement{Service: b[0], AsOf: string(b[2:9])}
	if b[1] < '0' || b[1] > '6' {
		return nil, fmt.Errorf("DE62: row count %q is not 0 to 6", b[1])
	}
	n := int(b[1] - '0')
	if _, err := rocDate(s.AsOf); err != nil {
		return nil, fmt.Errorf("DE62: as-of date: %w", err)
	}
	var rowLen, trailer int
	switch s.Service {
	case 'P':
		rowLen, trailer = pensionRowLen, pensionTrailer
	case 'I':
		rowLen, trailer = insuranceRowLen, insuranceTrailer
	default:
		return nil, fmt.Errorf("DE62: service %q is not P or I", s.Service)
	}
	if want := de62Head + n*rowLen + trailer; len(b) != want {
		return nil, fmt.Errorf("DE62: %d bytes, want %d for %d rows", len(b), want, n)
	}
	off := de62Head
	for i := range n {
		row := b[off : off+rowLen]
		off += rowLen
		var r StatementRow
		var unit, amount []byte
		if s.Service == 'P' {
			r.When, r.Kind, unit, amount = string(row[:5]), string(row[5:7]), row[7:47], row[47:60]
			if _, err := rocMonth(r.When); err != nil {
				return nil, fmt.Errorf("DE62 row %d: period: %w", i+1, err)
			}
			if r.Kind < "01" || r.Kind > "05" {
				return nil, fmt.Errorf("DE62 row %d: pension kind %q", i+1, r.Kind)
			}
			v, err := signed(amount)
			if err != nil {
				return nil, fmt.Errorf("DE62 row %d: amount: %w", i+1, err)
			}
			r.Amount = v
		} else {
			r.When, r.Kind, unit, amount = string(row[:7]), string(row[7:9]), row[9:49], row[49:56]
			if _, err := rocDate(r.When); err != nil {
				return nil, fmt.Errorf("DE62 row %d: date: %w", i+1, err)
			}
			if r.Kind < "11" || r.Kind > "13" {
				return nil, fmt.Errorf("DE62 row %d: insurance kind %q", i+1, r.Kind)
			}
			v, err := unsigned(amount)
			if err != nil {
				return nil, fmt.Errorf("DE62 row %d: insured salary: %w", i+1, err)
			}
			r.Amount = v
		}
		if _, cut, _ := big5Width(unit); cut {
			return nil, fmt.Errorf("DE62 row %d: unit name cuts a double-byte character", i+1)
		}
		r.Unit = strings.TrimRight(DecodeBig5(unit), " ")
		s.Rows = append(s.Rows, r)
	}
	t := b[off:]
	var err error
	if s.Service == 'P' {
		if s.Contributions, err = signed(t[:13]); err != nil {
			return nil, fmt.Errorf("DE62 trailer: contributions: %w", err)
		}
		if s.Earnings, err = signed(t[13:26]); err != nil {
			return nil, fmt.Errorf("DE62 trailer: earnings: %w", err)
		}
	} else {
		y, err1 := unsigned(t[:3])
		d, err2 := unsigned(t[3:6])
		if err1 != nil || err2 != nil || d > 364 {
			return nil, fmt.Errorf("DE62 trailer: seniority %q is not years (3) and days 0-364 (3)", t)
		}
		s.SeniorityYears, s.SeniorityDays = int(y), int(d)
	}
	return s, nil
}

func signed(b []byte) (int64, error) {
	if len(b) < 2 || (b[0] != '+' && b[0] != '-') {
		return 0, fmt.Errorf("%q has no sign", b)
	}
	v, err := unsigned(b[1:])
	if err != nil {
		return 0, err
	}
	if b[0] == '-' {
		v = -v
	}
	return v, nil
}

func unsigned(b []byte) (int64, error) {
	if !isDigits(string(b)) {
		return 0, fmt.Errorf("%q is not digits", b)
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// rocDate reads ROC YYYMMDD.
func rocDate(s string) (time.Time, error) {
	if len(s) != 7 || !isDigits(s) {
		return time.Time{}, fmt.Errorf("%q is not ROC YYYMMDD", s)
	}
	y, _ := strconv.Atoi(s[:3])
	t, err := time.Parse("20060102", fmt.Sprintf("%04d%s", y+1911, s[3:]))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date", s)
	}
	return t, nil
}

// rocMonth reads ROC YYYMM.
func rocMonth(s string) (time.Time, error) {
	if len(s) != 5 {
		return time.Time{}, fmt.Errorf("%q is not ROC YYYMM", s)
	}
	return rocDate(s + "01")
}

// Amount is one DE54 amount.
type Amount struct {
	AccountType string // "00"
	Type        string // "90" cumulative contributions, "91" cumulative earnings
	Currency    string // "901"
	Value       int64  // signed whole TWD
}

// ParseAmounts decodes DE54: amounts of 20 characters each.
func ParseAmounts(s string) ([]Amount, error) {
	if len(s) == 0 || len(s)%20 != 0 {
		return nil, fmt.Errorf("DE54: %d characters, not a multiple of 20", len(s))
	}
	var out []Amount
	for i := 0; i < len(s); i += 20 {
		a := s[i : i+20]
		if !isDigits(a[:7]) || (a[7] != 'C' && a[7] != 'D') || !isDigits(a[8:]) {
			return nil, fmt.Errorf("DE54: amount %d %q is not nn nn nnn C|D nnnnnnnnnnnn", i/20+1, a)
		}
		v, _ := strconv.ParseInt(a[8:], 10, 64)
		if a[7] == 'D' {
			v = -v
		}
		out = append(out, Amount{AccountType: a[:2], Type: a[2:4], Currency: a[4:7], Value: v})
	}
	return out, nil
}

// FormatTWD writes whole dollars with thousands separators (-1,234,567).
func FormatTWD(v int64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
