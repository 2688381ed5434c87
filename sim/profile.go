package sim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Profile is the size of an ATM screen or receipt: columns (an ASCII
// character takes one, a Big5 double-byte character two) and lines.
type Profile struct {
	Columns int
	Lines   int
}

func (p Profile) String() string { return fmt.Sprintf("%dx%d", p.Columns, p.Lines) }

// Pair is the screen and receipt profiles of a terminal.
type Pair struct {
	Screen  Profile
	Receipt Profile
}

// DefaultProfiles are the profiles of the example configuration
// (configs/atmgw.example.yaml), in the syntax of ParseProfiles.
const DefaultProfiles = "005=40x16/40x24,007=48x16/36x30,012=40x18/42x28,808=44x16/40x26," +
	"812=40x16/32x32,700=40x16/40x24,700:KSK=32x20/32x30"

// Profiles maps institutions, and terminal-id prefixes within them, to
// profile pairs, as the gateway's configuration does.
type Profiles struct {
	inst  map[string]Pair
	terms map[string][]termPair // by institution, longest prefix first
}

type termPair struct {
	prefix string
	pair   Pair
}

// ParseProfiles reads a comma-separated list of INST=SCREEN/RECEIPT or
// INST:PREFIX=SCREEN/RECEIPT entries, each profile COLUMNSxLINES, like
// "700=40x16/40x24,700:KSK=32x20/32x30".
func ParseProfiles(s string) (*Profiles, error) {
	ps := &Profiles{inst: map[string]Pair{}, terms: map[string][]termPair{}}
	for _, ent := range strings.Split(s, ",") {
		ent = strings.TrimSpace(ent)
		if ent == "" {
			continue
		}
		key, val, ok := strings.Cut(ent, "=")
		if !ok {
			return nil, fmt.Errorf("profile %q: want INST=COLSxLINES/COLSxLINES", ent)
		}
		inst, prefix, hasPrefix := strings.Cut(key, ":")
		if inst == "" || !isDigits(inst) || len(inst) > 11 {
			return nil, fmt.Errorf("profile %q: institution %q is not 1 to 11 digits", ent, inst)
		}
		if hasPrefix && prefix == "" {
			return nil, fmt.Errorf("profile %q: empty terminal prefix", ent)
		}
		scr, rec, ok := strings.Cut(val, "/")
		if !ok {
			return nil, fmt.Errorf("profile %q: want screen/receipt, like 40x16/40x24", ent)
		}
		var pair Pair
		var err error
		if pair.Screen, err = parseSize(scr); err != nil {
			return nil, fmt.Errorf("profile %q: screen: %w", ent, err)
		}
		if pair.Receipt, err = parseSize(rec); err != nil {
			return nil, fmt.Errorf("profile %q: receipt: %w", ent, err)
		}
		if hasPrefix {
			ps.terms[inst] = append(ps.terms[inst], termPair{prefix, pair})
		} else {
			ps.inst[inst] = pair
		}
	}
	for inst, ts := range ps.terms {
		if _, ok := ps.inst[inst]; !ok {
			return nil, fmt.Errorf("profile: institution %s has terminal profiles but no default (add %s=COLSxLINES/COLSxLINES)", inst, inst)
		}
		sort.SliceStable(ts, func(i, j int) bool { return len(ts[i].prefix) > len(ts[j].prefix) })
	}
	return ps, nil
}

func parseSize(s string) (Profile, error) {
	c, l, ok := strings.Cut(strings.TrimSpace(s), "x")
	cols, err1 := strconv.Atoi(c)
	lines, err2 := strconv.Atoi(l)
	if !ok || err1 != nil || err2 != nil || cols < 1 || lines < 1 || cols > 999 || lines > 999 {
		return Profile{}, fmt.Errorf("%q is not COLUMNSxLINES", s)
	}
	return Profile{Columns: cols, Lines: lines}, nil
}

// Lookup returns the profiles of a terminal of an institution: those of the
// longest matching terminal prefix, else the institution's.
func (ps *Profiles) Lookup(institution, terminal string) (Pair, bool) {
	for _, t := range ps.terms[institution] {
		if strings.HasPrefix(terminal, t.prefix) {
			return t.pair, true
		}
	}
	p, ok := ps.inst[institution]
	return p, ok
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
