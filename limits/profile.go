package limits

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// Profile is the size of a screen or a receipt: columns (an ASCII character
// takes one, a Big5 double-byte character two) and lines.
type Profile struct {
	Columns int
	Lines   int
}

func (p Profile) String() string { return fmt.Sprintf("%dx%d", p.Columns, p.Lines) }

// Pair is the screen profile (DE61) and receipt profile (DE63) of a
// terminal.
type Pair struct {
	Screen  Profile
	Receipt Profile
}

// Limits on profiles that are not a matter of layout.
const (
	// MaxColumns: DE61 and DE63 hold at most 999 bytes. Up to 80 columns
	// the mandatory lines always fit in that, whatever the names.
	MaxColumns = 80
	// MaxText is the most bytes DE61, DE62 and DE63 can carry (LLLVAR).
	MaxText = 999
)

// maxSearchLines bounds the search for the lines a width needs: the
// tallest layout (three-line rows, every label over its value, on a
// receipt) takes far fewer.
const maxSearchLines = 100

// worstCases are the inquiries a profile must hold to be accepted: for
// each service, six rows with the longest unit names, the longest kinds
// and the largest amounts (12 digits, negative: the widest), the largest
// totals or seniority, the longest identifiers (an 11-digit institution,
// an 8-character terminal id, DE37's 12 characters) and long names; and
// the same with no rows, whose one line says there is no data yet.
var worstCases = sync.OnceValue(func() []Inquiry {
	long := strings.Repeat("長", 45)
	asOf := time.Date(2111, 12, 31, 0, 0, 0, 0, time.UTC)
	base := Inquiry{
		Name:            "歐陽" + strings.Repeat("名", 43),
		Institution:     "99999999999",
		InstitutionName: "Institution " + strings.Repeat("機", 40),
		Terminal:        "ATM99999",
		RRN:             "999999999999",
		PANLast4:        "9999",
		Time:            time.Date(2111, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	pen := &ledger.PensionStatement{AsOf: asOf, Contributions: -maxAmount, Earnings: -maxAmount}
	ins := &ledger.InsuranceStatement{AsOf: asOf, SeniorityDays: 999*365 + 364}
	for i := range maxRows {
		pen.Rows = append(pen.Rows, ledger.PensionRow{Year: 2111, Month: 12 - i,
			Kind: ledger.KindEmployer, Unit: long, Amount: -maxAmount})
		ins.Rows = append(ins.Rows, ledger.InsuranceRow{Date: asOf,
			Kind: ledger.KindSalaryChange, Unit: long, Salary: 9_999_999})
	}
	var out []Inquiry
	for _, full := range []bool{true, false} {
		p, i := base, base
		p.Service, i.Service = card.ServicePension, card.ServiceInsurance
		if full {
			p.Pension, i.Insurance = pen, ins
		} else {
			p.Pension = &ledger.PensionStatement{AsOf: asOf, Contributions: -maxAmount, Earnings: -maxAmount}
			i.Insurance = &ledger.InsuranceStatement{AsOf: asOf, SeniorityDays: 999*365 + 364}
		}
		out = append(out, p, i)
	}
	return out
})

// Holds reports whether the layout holds an approved answer of service svc
// on profile p (a receipt when receipt is set): whether its own best
// attempt at the worst case shows every line that must show, whole,
// within p's columns and lines and the MaxText bytes. Validate accepts a
// profile when it holds both services.
func Holds(p Profile, receipt bool, svc card.Service) bool {
	if p.Columns <= 0 || p.Lines <= 0 {
		return false
	}
	for _, in := range worstCases() {
		if in.Service != svc {
			continue
		}
		if _, ok := layout(p, &in, receipt); !ok {
			return false
		}
	}
	return true
}

func holdsBoth(p Profile, receipt bool) bool {
	return Holds(p, receipt, card.ServicePension) && Holds(p, receipt, card.ServiceInsurance)
}

// MinLines is the fewest lines with which a profile of the given columns
// holds an approved answer of both services, or 0 when no number of lines
// does (the columns are too few).
func MinLines(columns int, receipt bool) int {
	if columns <= 0 || columns > MaxColumns {
		return 0
	}
	if !holdsBoth(Profile{columns, maxSearchLines}, receipt) {
		return 0
	}
	lo, hi := 1, maxSearchLines // hi holds
	for lo < hi {
		mid := (lo + hi) / 2
		if holdsBoth(Profile{columns, mid}, receipt) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

type floor struct{ cols, lines int }

// floors are, for the screen and the receipt, the fewest columns and the
// fewest lines any accepted profile has.
var floors = sync.OnceValue(func() [2]floor {
	var f [2]floor
	for i, receipt := range []bool{false, true} {
		for c := 1; c <= MaxColumns; c++ {
			if MinLines(c, receipt) > 0 {
				f[i].cols = c
				break
			}
		}
		f[i].lines = MinLines(MaxColumns, receipt)
	}
	return f
})

// MinimumPair is, for the screen and the receipt, the fewest columns and
// the fewest lines of any profile Validate accepts (computed from the
// layout; the pair itself is not accepted, as the narrowest profiles need
// more lines). Book.Lookup answers it when nothing matches, so that a
// decline to an unknown terminal still fits any terminal that could be
// configured.
func MinimumPair() Pair {
	f := floors()
	return Pair{
		Screen:  Profile{Columns: f[0].cols, Lines: f[0].lines},
		Receipt: Profile{Columns: f[1].cols, Lines: f[1].lines},
	}
}

// Validate refuses a pair whose screen or receipt cannot hold an approved
// answer: six rows, the totals (or seniority), the as-of date and the
// masked name, and on the receipt also the institution, terminal, date and
// time, DE37 and the last four digits of the PAN. The refusal comes from
// the layout itself (Holds): the profile is refused when the layout's best
// attempt at the worst case of either service does not hold it. A profile
// wider than MaxColumns is refused as well. The error names the profile
// and what it would need.
func Validate(p Pair) error {
	return errors.Join(
		validate("screen", p.Screen, false,
			"the masked name, the as-of date, six rows and the totals"),
		validate("receipt", p.Receipt, true,
			"the institution, terminal, date and time, DE37 reference, last four digits of the card number, "+
				"masked name, as-of date, six rows and the totals"),
	)
}

func validate(what string, p Profile, receipt bool, content string) error {
	if p.Columns > MaxColumns {
		return fmt.Errorf("%s profile %v: at most %d columns: "+
			"wider lines could not be kept within the %d bytes of the field", what, p, MaxColumns, MaxText)
	}
	if p.Lines > 0 && holdsBoth(p, receipt) {
		return nil
	}
	if n := MinLines(p.Columns, receipt); n > 0 {
		return fmt.Errorf("%s profile %v: needs at least %d lines at %d columns to hold %s "+
			"(with the largest amounts and the longest names)", what, p, n, p.Columns, content)
	}
	f := floors()[b2i(receipt)]
	return fmt.Errorf("%s profile %v: needs at least %d columns (and then %d lines) to hold %s "+
		"(with the largest amounts and the longest names)", what, p, f.cols, MinLines(f.cols, receipt), content)
}

// Book holds the profiles of the partners: per institution (DE32), per
// terminal-id (DE41) prefix within an institution, and an optional default.
// Build it with Add and SetDefault when the configuration loads; Lookup is
// safe for concurrent use, also while the book is being changed.
type Book struct {
	mu    sync.RWMutex
	inst  map[string]*bookEntry
	def   Pair
	hasDf bool
}

type bookEntry struct {
	pair     Pair
	hasPair  bool
	prefixes []prefixPair // longest first
}

type prefixPair struct {
	prefix string
	pair   Pair
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{inst: make(map[string]*bookEntry)}
}

// Add sets the profiles of an institution (terminalPrefix "") or of its
// terminals whose id starts with terminalPrefix. The pair must pass
// Validate; the same institution and prefix cannot be added twice.
func (b *Book) Add(institution, terminalPrefix string, p Pair) error {
	where := "institution " + institution
	if terminalPrefix != "" {
		where += " terminals " + terminalPrefix
	}
	if institution == "" {
		return errors.New("profiles: empty institution code")
	}
	if err := Validate(p); err != nil {
		return fmt.Errorf("profiles of %s: %w", where, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inst == nil {
		b.inst = make(map[string]*bookEntry)
	}
	e := b.inst[institution]
	if e == nil {
		e = &bookEntry{}
		b.inst[institution] = e
	}
	if terminalPrefix == "" {
		if e.hasPair {
			return fmt.Errorf("profiles of %s: given twice", where)
		}
		e.pair, e.hasPair = p, true
		return nil
	}
	for _, pp := range e.prefixes {
		if pp.prefix == terminalPrefix {
			return fmt.Errorf("profiles of %s: given twice", where)
		}
	}
	e.prefixes = append(e.prefixes, prefixPair{prefix: terminalPrefix, pair: p})
	sort.SliceStable(e.prefixes, func(i, j int) bool { return len(e.prefixes[i].prefix) > len(e.prefixes[j].prefix) })
	return nil
}

// SetDefault sets the profiles used for an institution the book does not
// know. The pair must pass Validate.
func (b *Book) SetDefault(p Pair) error {
	if err := Validate(p); err != nil {
		return fmt.Errorf("default profiles: %w", err)
	}
	b.mu.Lock()
	b.def, b.hasDf = p, true
	b.mu.Unlock()
	return nil
}

// Lookup finds the profiles of a terminal: the longest terminal-id prefix
// of the institution that matches, then the institution's own, then the
// default. When none applies (or b is nil) it returns MinimumPair() and
// false.
func (b *Book) Lookup(institution, terminal string) (Pair, bool) {
	if b == nil {
		return MinimumPair(), false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if e := b.inst[institution]; e != nil {
		for _, pp := range e.prefixes {
			if strings.HasPrefix(terminal, pp.prefix) {
				return pp.pair, true
			}
		}
		if e.hasPair {
			return e.pair, true
		}
	}
	if b.hasDf {
		return b.def, true
	}
	return MinimumPair(), false
}
