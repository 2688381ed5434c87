package sim

import (
	"strings"
	"testing"
)

func TestCheckLayout(t *testing.T) {
	p := Profile{Columns: 10, Lines: 2}
	ok := CheckLayout(EncodeBig5("勞退查詢AB\n第二行"), p)
	if len(ok.Problems) != 0 {
		t.Errorf("problems %v", ok.Problems)
	}
	if ok.Lines[0] != "勞退查詢AB" || ok.Widths[0] != 10 || ok.Widths[1] != 6 {
		t.Errorf("lines %q widths %v", ok.Lines, ok.Widths)
	}
	wide := CheckLayout(EncodeBig5("勞退個人專X"), p)
	if len(wide.Problems) != 1 || !strings.Contains(wide.Problems[0], "11 columns") {
		t.Errorf("problems %v", wide.Problems)
	}
	tall := CheckLayout([]byte("a\nb\nc"), p)
	if len(tall.Problems) != 1 || !strings.Contains(tall.Problems[0], "3 lines") {
		t.Errorf("problems %v", tall.Problems)
	}
	cut := EncodeBig5("勞退")
	c := CheckLayout(cut[:3], p)
	if len(c.Problems) != 1 || !strings.Contains(c.Problems[0], "half a double-byte") {
		t.Errorf("problems %v", c.Problems)
	}
	ctrl := CheckLayout([]byte("a\tb"), p)
	if len(ctrl.Problems) != 1 {
		t.Errorf("problems %v", ctrl.Problems)
	}
}

func TestEncodeBig5Unknown(t *testing.T) {
	if got := DecodeBig5(EncodeBig5("王赟")); got != "王？" {
		t.Errorf("got %q, want 王？", got)
	}
}

func TestFrame(t *testing.T) {
	got := Frame("screen", EncodeBig5("勞退\nOK"), Profile{Columns: 12, Lines: 3})
	want := "" +
		"┌─ screen 12x3 ┐\n" +
		"│勞退        │\n" +
		"│OK          │\n" +
		"│            │\n" +
		"└────────────┘\n"
	if got != want {
		t.Errorf("frame:\n%s\nwant:\n%s", got, want)
	}
	over := Frame("s", EncodeBig5("一二三\nb\nc"), Profile{Columns: 4, Lines: 2})
	if !strings.Contains(over, "<- 6 columns") || !strings.Contains(over, "more lines than the profile") {
		t.Errorf("overflow not shown:\n%s", over)
	}
}

func TestProfiles(t *testing.T) {
	ps, err := ParseProfiles(DefaultProfiles)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		inst, term string
		want       Pair
	}{
		{"700", "ATM70001", Pair{Profile{40, 16}, Profile{40, 24}}},
		{"700", "KSK00001", Pair{Profile{32, 20}, Profile{32, 30}}},
		{"007", "KSK00001", Pair{Profile{48, 16}, Profile{36, 30}}},
		{"812", "", Pair{Profile{40, 16}, Profile{32, 32}}},
	} {
		got, ok := ps.Lookup(tc.inst, tc.term)
		if !ok || got != tc.want {
			t.Errorf("Lookup(%s, %s) = %v %v, want %v", tc.inst, tc.term, got, ok, tc.want)
		}
	}
	if _, ok := ps.Lookup("999", "x"); ok {
		t.Error("unknown institution found")
	}
	for _, bad := range []string{"700", "700=40x16", "700=40/40x24", "x=40x16/40x24", "700:KSK=1x1/1x1", "700=0x16/40x24"} {
		if _, err := ParseProfiles(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
