package limits

import (
	"strings"
	"sync"
	"testing"

	"github.com/bli/atmgw/card"
)

func TestValidatePartners(t *testing.T) {
	for _, pp := range append(partnerProfiles(), narrowProfiles()...) {
		if err := Validate(pp.pair); err != nil {
			t.Errorf("%s: %v", pp.file, err)
		}
	}
}

// TestMinimumPair: the floor Lookup answers for unknown terminals is the
// fewest columns and the fewest lines any accepted profile has, as the
// layout computes them.
func TestMinimumPair(t *testing.T) {
	want := Pair{Profile{16, 10}, Profile{16, 15}}
	if got := MinimumPair(); got != want {
		t.Errorf("MinimumPair() = %v, want %v", got, want)
	}
	for _, c := range []struct {
		cols        int
		screen, rec int
	}{
		{15, 0, 0}, {16, 18, 26}, {20, 18, 24}, {23, 16, 22}, {24, 16, 21}, {29, 16, 21}, {30, 10, 15}, {32, 10, 15}, {80, 10, 15}, {81, 0, 0},
	} {
		if s, r := MinLines(c.cols, false), MinLines(c.cols, true); s != c.screen || r != c.rec {
			t.Errorf("MinLines(%d) = screen %d receipt %d, want %d %d", c.cols, s, r, c.screen, c.rec)
		}
	}
	// The table of docs/layout.md section 2: the fewest lines of each
	// service, screen and receipt, by columns.
	fewest := func(cols int, receipt bool, svc card.Service) int {
		for l := 1; l <= maxSearchLines; l++ {
			if Holds(Profile{cols, l}, receipt, svc) {
				return l
			}
		}
		return 0
	}
	type row struct{ ps, pr, is, ir int }
	table := map[int]row{15: {}, 16: {18, 26, 16, 24}, 17: {18, 25, 16, 23}}
	for c := 18; c <= 80; c++ {
		switch {
		case c <= 19:
			table[c] = row{18, 25, 15, 22}
		case c <= 22:
			table[c] = row{18, 24, 15, 21}
		case c == 23:
			table[c] = row{16, 22, 9, 15}
		case c <= 29:
			table[c] = row{16, 21, 9, 14}
		default:
			table[c] = row{10, 15, 9, 14}
		}
	}
	for c, want := range table {
		got := row{fewest(c, false, card.ServicePension), fewest(c, true, card.ServicePension),
			fewest(c, false, card.ServiceInsurance), fewest(c, true, card.ServiceInsurance)}
		if got != want {
			t.Errorf("%d columns: pension screen, receipt, insurance screen, receipt take %v lines, want %v", c, got, want)
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	ok := Pair{Profile{40, 16}, Profile{40, 24}}
	for _, c := range []struct {
		name  string
		pair  Pair
		wants []string
	}{
		{"narrow screen", Pair{Profile{15, 40}, ok.Receipt}, []string{"screen profile 15x40", "at least 16 columns", "and then 18 lines"}},
		{"narrow, short screen", Pair{Profile{20, 17}, ok.Receipt}, []string{"screen profile 20x17", "at least 18 lines at 20 columns", "six rows"}},
		{"short screen", Pair{Profile{40, 9}, ok.Receipt}, []string{"screen profile 40x9", "at least 10 lines at 40 columns", "six rows"}},
		{"short receipt", Pair{ok.Screen, Profile{40, 14}}, []string{"receipt profile 40x14", "at least 15 lines at 40 columns", "DE37"}},
		{"narrow, short receipt", Pair{ok.Screen, Profile{24, 20}}, []string{"receipt profile 24x20", "at least 21 lines at 24 columns"}},
		{"wide receipt", Pair{ok.Screen, Profile{81, 30}}, []string{"receipt profile 81x30", "at most 80 columns", "999 bytes"}},
		{"zero", Pair{}, []string{"screen profile 0x0", "receipt profile 0x0"}},
	} {
		err := Validate(c.pair)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
	}
}

func TestBook(t *testing.T) {
	b := NewBook()
	post := Pair{Profile{40, 16}, Profile{40, 24}}
	kiosk := Pair{Profile{32, 20}, Profile{32, 30}}
	kiosk9 := Pair{Profile{36, 20}, Profile{36, 30}}
	land := Pair{Profile{40, 16}, Profile{40, 24}}
	for _, a := range []struct {
		inst, prefix string
		p            Pair
	}{{"700", "", post}, {"700", "KSK", kiosk}, {"700", "KSK9", kiosk9}, {"005", "", land}} {
		if err := b.Add(a.inst, a.prefix, a.p); err != nil {
			t.Fatal(err)
		}
	}
	check := func(inst, term string, want Pair, wantOK bool) {
		t.Helper()
		got, ok := b.Lookup(inst, term)
		if got != want || ok != wantOK {
			t.Errorf("Lookup(%q, %q) = %v %v, want %v %v", inst, term, got, ok, want, wantOK)
		}
	}
	check("700", "ATM70001", post, true)
	check("700", "KSK00001", kiosk, true)
	check("700", "KSK90001", kiosk9, true) // longest prefix wins
	check("700", "KS", post, true)
	check("005", "KSK00001", land, true) // prefixes belong to their institution
	check("999", "ATM", MinimumPair(), false)

	if err := b.Add("700", "KSK", kiosk); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second 700 KSK: %v", err)
	}
	if err := b.Add("700", "", post); err == nil {
		t.Error("second 700 accepted")
	}
	if err := b.Add("808", "", Pair{Profile{20, 16}, Profile{40, 24}}); err == nil || !strings.Contains(err.Error(), "institution 808") {
		t.Errorf("too small: %v", err)
	}
	if _, ok := b.Lookup("808", ""); ok {
		t.Error("a refused pair was added")
	}
	if err := b.Add("", "", post); err == nil {
		t.Error("empty institution accepted")
	}
	if err := b.SetDefault(Pair{}); err == nil {
		t.Error("invalid default accepted")
	}
	if err := b.SetDefault(kiosk); err != nil {
		t.Fatal(err)
	}
	check("999", "ATM", kiosk, true)

	var nilBook *Book
	if p, ok := nilBook.Lookup("700", ""); ok || p != MinimumPair() {
		t.Errorf("nil book: %v %v", p, ok)
	}
	var zero Book
	if err := zero.Add("700", "", post); err != nil {
		t.Errorf("zero book: %v", err)
	}
}

// TestBookConcurrent runs lookups while profiles are added (for -race).
func TestBookConcurrent(t *testing.T) {
	b := NewBook()
	post := Pair{Profile{40, 16}, Profile{40, 24}}
	if err := b.Add("700", "", post); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, ok := b.Lookup("700", "KSK1"); !ok {
					t.Errorf("goroutine %d: 700 not found", g)
					return
				}
			}
		}()
	}
	for _, prefix := range []string{"A", "B", "KSK", "KSK1"} {
		if err := b.Add("700", prefix, post); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
