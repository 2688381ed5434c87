package limits

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// shown is what s looks like on a terminal: control characters as spaces,
// characters outside CP950 as ？.
func shown(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F {
			return ' '
		}
		return r
	}, s)
	return DecodeBig5(EncodeBig5(s))
}

// commas formats v with thousands separators, independently of appendAmount.
func commas(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func clamp12(v int64) int64 { return max(min(v, 999999999999), -999999999999) }

// endsWithAmount reports whether line ends with v, with or without
// separators, preceded by a space or a full-width colon.
func endsWithAmount(line string, v int64) bool {
	for _, s := range []string{commas(v), strconv.FormatInt(v, 10)} {
		if strings.HasSuffix(line, " "+s) || strings.HasSuffix(line, "："+s) {
			return true
		}
	}
	return false
}

func rocMonth(y, m int) string { return fmt.Sprintf("%03d/%02d", y-1911, m) }

func rocDate(t time.Time) string {
	return fmt.Sprintf("%03d/%02d/%02d", t.Year()-1911, int(t.Month()), t.Day())
}

// assertContent checks that an approved screen or receipt shows what the
// contract asks for (contentErrors) and fails t otherwise.
func assertContent(t *testing.T, what string, text []byte, in Inquiry, receipt, units bool) {
	t.Helper()
	if errs := contentErrors(text, in, receipt, units); len(errs) > 0 {
		t.Errorf("%s: %s\n%s", what, strings.Join(errs, "; "), DecodeBig5(text))
	}
}

// contentErrors lists how an approved screen or receipt fails to show
// what the contract asks for: the masked name (as much as fits), the
// as-of date, every row (period or date, kind and amount, and a prefix of
// its unit name), the totals or the seniority; a receipt also the
// institution, terminal, date and time, DE37 and the PAN's last four
// digits. It reads every form of docs/layout.md independently of the
// layout's code: a label in its full or compact form with its value
// beside it or on the next line, the time on the line after the date, and
// rows on one line, on two (the amount beside the kind or beside the unit
// name) or on three. The lag notice, when shown, ends the text and comes
// with the title. With units set, a row's unit name must show at least in
// part.
func contentErrors(text []byte, in Inquiry, receipt, units bool) []string {
	lines := strings.Split(DecodeBig5(text), "\n")
	var errs []string
	failf := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	// field finds a labelled line and returns the index of the line
	// holding the value and the value (trimmed), or -1.
	field := func(l label) (int, string) {
		for i, line := range lines {
			for _, lab := range []string{l.full, l.short} {
				if !strings.HasPrefix(line, lab) {
					continue
				}
				v := strings.TrimPrefix(line, lab)
				if v == "" && i+1 < len(lines) {
					return i + 1, strings.TrimSpace(lines[i+1])
				}
				return i, strings.TrimSpace(v)
			}
		}
		return -1, ""
	}
	amountIs := func(s string, v int64) bool { return s == commas(v) || s == strconv.FormatInt(v, 10) }

	if i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, labelName) }); i < 0 {
		failf("no name line")
	} else {
		got := strings.TrimPrefix(lines[i], labelName)
		if want := shown(MaskName(in.Name)); !strings.HasPrefix(want, got) || (want != "" && got == "") {
			failf("name %q, want (a prefix of) %q", got, want)
		}
	}
	pension := in.Service != card.ServiceInsurance
	var asOf time.Time
	type rowWant struct {
		start, unit string
		amount      int64
	}
	var rows []rowWant
	if pension && in.Pension != nil {
		asOf = in.Pension.AsOf
		for i, r := range in.Pension.Rows {
			if i == maxRows {
				break
			}
			rows = append(rows, rowWant{rocMonth(r.Year, r.Month) + " " + pensionKind(r.Kind), shown(trimUnit(r.Unit)), clamp12(r.Amount)})
		}
	} else if !pension && in.Insurance != nil {
		asOf = in.Insurance.AsOf
		for i, r := range in.Insurance.Rows {
			if i == maxRows {
				break
			}
			rows = append(rows, rowWant{rocDate(r.Date) + " " + insuranceKind(r.Kind), shown(trimUnit(r.Unit)), min(max(r.Salary, 0), 9999999)})
		}
	} else {
		asOf = in.Time
	}
	if _, v := field(lAsOf); v != rocDate(asOf) {
		failf("as-of %q, want %s", v, rocDate(asOf))
	}
	used := make([]bool, len(lines))
	for _, r := range rows {
		found := false
		for i, l := range lines {
			if used[i] || !strings.HasPrefix(l, r.start) {
				continue
			}
			var unit string
			switch rest := strings.TrimPrefix(l, r.start); {
			case endsWithAmount(l, r.amount): // one line, or two with the unit name under
				unit = strings.TrimSpace(rest)
				unit = strings.TrimSpace(unit[:strings.LastIndexByte(unit, ' ')+1])
				used[i] = true
				if unit == "" && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "  ") && !used[i+1] {
					unit = strings.TrimSpace(lines[i+1])
					used[i+1] = true
				}
			case strings.TrimSpace(rest) != "" || i+1 == len(lines) || !strings.HasPrefix(lines[i+1], "  "):
				continue
			case endsWithAmount(lines[i+1], r.amount): // split: the unit name and the amount
				unit = strings.TrimSpace(lines[i+1])
				unit = strings.TrimSpace(unit[:strings.LastIndexByte(unit, ' ')+1])
				used[i], used[i+1] = true, true
			case i+2 < len(lines) && amountIs(strings.TrimSpace(lines[i+2]), r.amount): // three lines
				unit = strings.TrimSpace(lines[i+1])
				used[i], used[i+1], used[i+2] = true, true, true
			default:
				continue
			}
			found = true
			if !strings.HasPrefix(r.unit, unit) {
				failf("row %q shows unit %q, not a prefix of %q", r.start, unit, r.unit)
			}
			if units && r.unit != "" && unit == "" {
				failf("row %q shows no unit name", r.start)
			}
			break
		}
		if !found {
			failf("no line for row %q ... %d", r.start, r.amount)
		}
	}
	if len(rows) == 0 {
		no := noInsurance
		if pension {
			no = noPension
		}
		if i, _ := field(mkLabel(no, no)); i < 0 {
			failf("no %q line", no)
		}
	}
	if pension {
		var c, e int64
		if in.Pension != nil {
			c, e = clamp12(in.Pension.Contributions), clamp12(in.Pension.Earnings)
		}
		if _, v := field(lContributions); !amountIs(v, c) {
			failf("contributions %q, want %d", v, c)
		}
		if _, v := field(lEarnings); !amountIs(v, e) {
			failf("earnings %q, want %d", v, e)
		}
	} else {
		var y, d int
		if in.Insurance != nil && in.Insurance.SeniorityDays > 0 {
			y, d = in.Insurance.Seniority()
			y = min(y, 999)
		}
		if _, v := field(lSeniority); v != fmt.Sprintf("%d年%d日", y, d) {
			failf("seniority %q, want %d年%d日", v, y, d)
		}
	}
	if receipt {
		if _, v := field(lInstitution); !strings.HasPrefix(v, shown(in.Institution)) {
			failf("institution %q, want %s first", v, in.Institution)
		}
		for _, f := range []struct {
			l     label
			value string
		}{{lTerminal, in.Terminal}, {lRRN, in.RRN}, {lPAN, in.PANLast4}} {
			if want := strings.TrimSpace(shown(f.value)); want == "" {
				if i, _ := field(f.l); i < 0 {
					failf("no %s line", f.l.full)
				}
			} else if _, v := field(f.l); v != want {
				failf("%s%q, want %q", f.l.full, v, want)
			}
		}
		date, clock := rocDate(in.Time), in.Time.Format("15:04:05")
		if i, v := field(lTime); v != date+" "+clock && (v != date || i+1 == len(lines) || strings.TrimSpace(lines[i+1]) != clock) {
			failf("date and time %q, want %s %s", v, date, clock)
		}
	}
	last := len(lines) - 1
	for i, l := range lines {
		if l != lagNotice && l != lagNotice1 && l != lagNotice2 {
			continue
		}
		if !(l == lagNotice && i == last || l == lagNotice1 && i == last-1 && lines[last] == lagNotice2 || l == lagNotice2 && i == last && lines[last-1] == lagNotice1) {
			failf("lag notice on line %d of %d", i+1, len(lines))
		}
		title, short := titleInsurance, titleInsuranceShort
		if pension {
			title, short = titlePension, titlePensionShort
		}
		if !strings.Contains(lines[0], title) && !strings.Contains(lines[0], short) {
			failf("lag notice shown but the title is not")
		}
	}
	return errs
}

// randText returns up to n characters drawn from ASCII, CP950 hanzi,
// characters CP950 lacks, control characters and invalid UTF-8.
func randText(r *rand.Rand, n int) string {
	pool := []string{"A", "z", "7", " ", "-", ".", "台", "灣", "積", "體", "電", "路", "股", "份", "有", "限", "公", "司",
		"婷", "包", "港", "碁", "○", "，", "€", "𠀋", "😀", "堃", "犇", "①", "ア", "é", "\n", "\t", "\x00", "\x7f", "\xff", "\xe5\x8f"}
	var b strings.Builder
	for range r.IntN(n + 1) {
		b.WriteString(pool[r.IntN(len(pool))])
	}
	return b.String()
}

func randAmount(r *rand.Rand) int64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return -r.Int64N(100000)
	case 2:
		return r.Int64N(2_000_000_000_000) - 1_000_000_000_000
	case 3:
		return []int64{math.MaxInt64, math.MinInt64, 999999999999, -999999999999, 1e13}[r.IntN(5)]
	}
	return r.Int64N(100000)
}

func randInquiry(r *rand.Rand) Inquiry {
	in := Inquiry{
		Service:         card.Service(1 + r.IntN(2)),
		Name:            randText(r, 8),
		Institution:     []string{"005", "700", "99999999999"}[r.IntN(3)],
		InstitutionName: randText(r, 30),
		Terminal:        []string{"ATM70001", "KSK00001", "", "終端"}[r.IntN(4)],
		RRN:             strconv.FormatInt(r.Int64N(1e12), 10),
		PANLast4:        strconv.Itoa(1000 + r.IntN(9000)),
		Time:            time.Date(1950+r.IntN(150), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), 0, time.UTC),
	}
	asOf := time.Date(1950+r.IntN(150), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	n := r.IntN(8) // sometimes more than six: only six show
	if in.Service == card.ServicePension {
		st := &ledger.PensionStatement{AsOf: asOf, Contributions: randAmount(r), Earnings: randAmount(r)}
		for range n {
			st.Rows = append(st.Rows, ledger.PensionRow{Year: 1950 + r.IntN(150), Month: 1 + r.IntN(12),
				Kind: ledger.PensionKind(1 + r.IntN(5)), Unit: randText(r, 45), Amount: randAmount(r)})
		}
		if r.IntN(20) > 0 {
			in.Pension = st
		}
	} else {
		st := &ledger.InsuranceStatement{AsOf: asOf, SeniorityDays: r.IntN(500 * 365)}
		for range n {
			st.Rows = append(st.Rows, ledger.InsuranceRow{Date: time.Date(1950+r.IntN(150), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC),
				Kind: ledger.InsuranceKind(11 + r.IntN(3)), Unit: randText(r, 45), Salary: r.Int64N(20_000_000) - 1000})
		}
		if r.IntN(20) > 0 {
			in.Insurance = st
		}
	}
	return in
}

// TestPropertyValidProfiles: for random inquiries on random valid profiles
// (16 to 80 columns, at least the lines MinLines gives),
// the Big5 bytes keep the hard rules (Check decodes, measures every line,
// counts the lines, and finds no cut or non-CP950 character) and show all
// the mandatory content.
func TestPropertyValidProfiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 600 {
		in := randInquiry(r)
		sc, rcols := 16+r.IntN(MaxColumns-16+1), 16+r.IntN(MaxColumns-16+1)
		screen := Profile{sc, MinLines(sc, false) + r.IntN(30)}
		receipt := Profile{rcols, MinLines(rcols, true) + r.IntN(30)}
		if err := Validate(Pair{screen, receipt}); err != nil {
			t.Fatal(err)
		}
		s, rc, st := Screen(screen, in), Receipt(receipt, in), Statement(in)
		what := fmt.Sprintf("case %d %v", i, in.Service)
		if err := Check(screen, s); err != nil {
			t.Fatalf("%s screen %v: %v\n%s", what, screen, err, DecodeBig5(s))
		}
		if err := Check(receipt, rc); err != nil {
			t.Fatalf("%s receipt %v: %v\n%s", what, receipt, err, DecodeBig5(rc))
		}
		assertContent(t, fmt.Sprintf("%s screen %v", what, screen), s, in, false, false)
		assertContent(t, fmt.Sprintf("%s receipt %v", what, receipt), rc, in, true, false)
		if _, err := ParseStatement(st); err != nil {
			t.Fatalf("%s: statement does not parse: %v\n%q", what, err, st)
		}
		if t.Failed() {
			return
		}
	}
}

// TestPropertyAnyProfile: on any profile, however small or odd, the hard
// rules hold and nothing panics.
func TestPropertyAnyProfile(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 600 {
		in := randInquiry(r)
		p := Profile{r.IntN(100) - 2, r.IntN(40) - 2}
		for _, out := range [][]byte{Screen(p, in), Receipt(p, in), Message(p, randText(r, 80))} {
			if p.Columns <= 0 || p.Lines <= 0 {
				if len(out) != 0 {
					t.Fatalf("case %d: profile %v gave %q", i, p, out)
				}
				continue
			}
			if err := Check(p, out); err != nil {
				t.Fatalf("case %d profile %v: %v\n%s", i, p, err, DecodeBig5(out))
			}
		}
	}
}

// extremeInquiry is an inquiry at the limits of what the fields carry: six
// rows (sometimes more) with long unit names, amounts at or beyond 12
// digits, the largest salaries and seniority, an 11-digit institution, an
// 8-character terminal id, a 12-character DE37 and long names.
func extremeInquiry(r *rand.Rand) Inquiry {
	amounts := []int64{-999_999_999_999, 999_999_999_999, math.MinInt64, math.MaxInt64, -100_000_000_000, -1_234_567}
	amount := func() int64 { return amounts[r.IntN(len(amounts))] }
	unit := func() string { return strings.Repeat([]string{"長", "W", "堃"}[r.IntN(3)], 30+r.IntN(20)) }
	in := Inquiry{
		Service:         card.Service(1 + r.IntN(2)),
		Name:            strings.Repeat("名", 2+r.IntN(40)),
		Institution:     "99999999999",
		InstitutionName: strings.Repeat("機", r.IntN(40)),
		Terminal:        "ATM99999",
		RRN:             "999999999999",
		PANLast4:        "9999",
		Time:            time.Date(2111, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	asOf := time.Date(2000+r.IntN(111), 12, 31, 0, 0, 0, 0, time.UTC)
	n := 6 + r.IntN(3)
	if r.IntN(8) == 0 {
		n = 0
	}
	if in.Service == card.ServicePension {
		st := &ledger.PensionStatement{AsOf: asOf, Contributions: amount(), Earnings: amount()}
		for range n {
			st.Rows = append(st.Rows, ledger.PensionRow{Year: 2111, Month: 1 + r.IntN(12),
				Kind: ledger.PensionKind(1 + r.IntN(5)), Unit: unit(), Amount: amount()})
		}
		in.Pension = st
	} else {
		st := &ledger.InsuranceStatement{AsOf: asOf, SeniorityDays: 999*365 + r.IntN(365)}
		for range n {
			st.Rows = append(st.Rows, ledger.InsuranceRow{Date: asOf, Kind: ledger.InsuranceKind(11 + r.IntN(3)),
				Unit: unit(), Salary: []int64{9_999_999, 99_999_999, 1_000_000}[r.IntN(3)]})
		}
		in.Insurance = st
	}
	return in
}

// TestPropertyRandomProfiles lays out screens and receipts on random
// profiles from 16 to 60 columns and 6 to 40 lines. Every profile Validate
// accepts renders within its limits and shows all the content (as
// contentErrors reads it, independently of the layout's code) for the
// worst cases, for extreme inquiries (the longest unit names, the largest
// amounts) and for random ones; and is no smaller than MinimumPair. Every
// profile it refuses truly cannot hold the content: the layout's own best
// attempt at some worst case misses something.
func TestPropertyRandomProfiles(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	good := Pair{Profile{40, 16}, Profile{40, 24}}
	var accepted, refused [2]int
	for i := range 1500 {
		p := Profile{16 + r.IntN(45), 6 + r.IntN(35)}
		for k, receipt := range []bool{false, true} {
			pair, floor, what := Pair{p, good.Receipt}, MinimumPair().Screen, fmt.Sprintf("case %d screen %v", i, p)
			if receipt {
				pair, floor, what = Pair{good.Screen, p}, MinimumPair().Receipt, fmt.Sprintf("case %d receipt %v", i, p)
			}
			render := func(in Inquiry) []byte {
				if receipt {
					return Receipt(p, in)
				}
				return Screen(p, in)
			}
			if err := Validate(pair); err != nil {
				refused[k]++
				missing := false
				for _, in := range worstCases() {
					out := render(in)
					if Check(p, out) != nil || len(contentErrors(out, in, receipt, false)) > 0 {
						missing = true
					}
				}
				if !missing {
					t.Fatalf("%s: refused (%v), but every worst case shows in full", what, err)
				}
				continue
			}
			accepted[k]++
			if p.Columns < floor.Columns || p.Lines < floor.Lines {
				t.Fatalf("%s: accepted, smaller than MinimumPair %v", what, floor)
			}
			ins := append([]Inquiry{}, worstCases()...)
			for range 4 {
				ins = append(ins, extremeInquiry(r), randInquiry(r))
			}
			for j, in := range ins {
				out := render(in)
				if err := Check(p, out); err != nil {
					t.Fatalf("%s inquiry %d %v: %v\n%s", what, j, in.Service, err, DecodeBig5(out))
				}
				assertContent(t, fmt.Sprintf("%s inquiry %d %v", what, j, in.Service), out, in, receipt, false)
			}
			if t.Failed() {
				return
			}
		}
	}
	t.Logf("screens: %d accepted, %d refused; receipts: %d accepted, %d refused", accepted[0], refused[0], accepted[1], refused[1])
	for k := range 2 {
		if accepted[k] < 100 || refused[k] < 100 {
			t.Errorf("too few of a kind: accepted %v, refused %v", accepted, refused)
		}
	}
}
