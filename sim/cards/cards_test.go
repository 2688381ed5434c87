package cards

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	f := Demo()
	want := map[string]string{
		"4700123456789014": "700",
		"6005000000000011": "005",
		"6007000000000012": "007",
		"6012000000000013": "012",
		"6808000000000014": "808",
		"4700999999999999": "700",
		"4700888888888888": "700",
	}
	for pan, inst := range want {
		c := f.Find(pan)
		if c == nil {
			t.Fatalf("demo card %s missing", pan)
		}
		if !c.For(inst) {
			t.Errorf("demo card %s not for %s", pan, inst)
		}
	}
	if c := f.Find("4700123456789014"); !c.For("812") || c.For("005") {
		t.Errorf("post card institutions = %v, want 700 and 812 only", c.Institutions)
	}
	if f.Find("6005000000000011").Expected(Insurance) != "57" {
		t.Error("the Land Bank card should expect 57 for insurance (pension only)")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cards.json")
	f := Demo()
	f.Cards[0].ATC = 42
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Cards) != len(f.Cards) {
		t.Fatalf("loaded %d cards, saved %d", len(g.Cards), len(f.Cards))
	}
	if g.Cards[0].ATC != 42 || g.Cards[0].Note != f.Cards[0].Note {
		t.Errorf("card 0 = %+v", g.Cards[0])
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Save, want 1 (no temporary left)", len(entries))
	}
}

func TestUpdateATCs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cards.json")
	f := Demo()
	f.Cards[1].ATC = 100
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	n, err := UpdateATCs(path, map[string]uint16{
		f.Cards[0].PAN: 7,
		f.Cards[1].PAN: 50, // lower than the file's: kept at 100
		"9999999999":   3,  // not in the file: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("changed %d cards, want 1", n)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.Cards[0].ATC != 7 || g.Cards[1].ATC != 100 || g.Cards[2].ATC != 0 {
		t.Errorf("ATCs = %d %d %d, want 7 100 0", g.Cards[0].ATC, g.Cards[1].ATC, g.Cards[2].ATC)
	}
}

func TestWriterEmpty(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("empty card file does not parse: %v (%q)", err, b.String())
	}
	if len(f.Cards) != 0 {
		t.Errorf("%d cards", len(f.Cards))
	}
}

func TestParseErrors(t *testing.T) {
	const good = `"pan":"4700123456789014","expiry":"3012","sequence":1,"key":"00112233445566778899AABBCCDDEEFF","atc":0`
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `hello`, "invalid character"},
		{"no cards", `{}`, `no "cards"`},
		{"unknown top", `{"card": []}`, "unknown key"},
		{"unknown field", `{"cards":[{` + good + `,"colour":"red"}]}`, "unknown field"},
		{"bad key", `{"cards":[{"pan":"4700123456789014","expiry":"3012","sequence":1,"key":"0011"}]}`, "32 hex digits"},
		{"bad expiry", `{"cards":[{"pan":"4700123456789014","expiry":"3013","sequence":1,"key":"00112233445566778899AABBCCDDEEFF"}]}`, "YYMM"},
		{"bad pan", `{"cards":[{"pan":"47001234x","expiry":"3012","key":"00112233445566778899AABBCCDDEEFF"}]}`, "8 to 19 digits"},
		{"twice", `{"cards":[{` + good + `},{` + good + `}]}`, "listed twice"},
		{"bad expect", `{"cards":[{` + good + `,"expect":{"loan":"00"}}]}`, "unknown field"},
		{"bad code", `{"cards":[{` + good + `,"expect":{"pension":"000"}}]}`, "two-character"},
		{"truncated", `{"cards":[{` + good + `}`, "end of file"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "4700123456789014") {
			t.Errorf("%s: error shows the PAN in clear: %v", tc.name, err)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.json"))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("err = %v", err)
	}
}
