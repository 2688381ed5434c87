package limits

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
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

// Minimum and maximum profile sizes, from the layout (docs/layout.md).
const (
	// MinColumns: the widest line that is never shortened is the pension
	// total 「累計運用收益金額：」 (18 columns) followed by an amount of up to
	// 13 characters ("-999999999999", thousands separators left out when
	// they do not fit): 31 columns.
	MinColumns = 31
	// MaxColumns: DE61 and DE63 hold at most 999 bytes. Up to 80 columns
	// the mandatory lines always fit in that, whatever the names.
	MaxColumns = 80
	// MinScreenLines: masked name, as-of date, six rows and the two pension
	// totals (insurance needs one line less: one seniority line).
	MinScreenLines = 10
	// MinReceiptLines: the screen's ten plus institution, terminal, date
	// and time, DE37 and the last four digits of the PAN.
	MinReceiptLines = 15
	// MaxText is the most bytes DE61, DE62 and DE63 can carry (LLLVAR).
	MaxText = 999
)

// MinimumPair is the smallest pair Validate accepts. Book.Lookup answers it
// when nothing matches, so that a decline to an unknown terminal still
// fits any terminal that could be configured.
func MinimumPair() Pair {
	return Pair{
		Screen:  Profile{Columns: MinColumns, Lines: MinScreenLines},
		Receipt: Profile{Columns: MinColumns, Lines: MinReceiptLines},
	}
}

// Validate refuses a pair whose screen or receipt cannot hold an approved
// answer: six rows, the totals (or seniority), the as-of date and the
// masked name, and on the receipt also the institution, terminal, date and
// time, DE37 and the last four digits of the PAN. The error names the
// profile, the minimum and the reason.
func Validate(p Pair) error {
	return errors.Join(
		validate("screen", p.Screen, MinScreenLines,
			"the masked name, the as-of date, six rows and the two pension totals take one line each"),
		validate("receipt", p.Receipt, MinReceiptLines,
			"the institution, terminal, date and time, DE37 reference, last four digits of the card number, "+
				"masked name, as-of date, six rows and the two pension totals take one line each"),
	)
}

func validate(what string, p Profile, minLines int, why string) error {
	var errs []error
	if p.Columns < MinColumns {
		errs = append(errs, fmt.Errorf("%s profile %v: needs at least %d columns: "+
			"「累計運用收益金額：」 and a 13-character amount (which is never shortened) take %d",
			what, p, MinColumns, MinColumns))
	}
	if p.Columns > MaxColumns {
		errs = append(errs, fmt.Errorf("%s profile %v: at most %d columns: "+
			"wider lines could not be kept within the %d bytes of the field", what, p, MaxColumns, MaxText))
	}
	if p.Lines < minLines {
		errs = append(errs, fmt.Errorf("%s profile %v: needs at least %d lines: %s", what, p, minLines, why))
	}
	return errors.Join(errs...)
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
