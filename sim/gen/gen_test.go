package gen

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/sim/cards"
)

func generate(t *testing.T, o Options) (string, Summary) {
	t.Helper()
	o.Dir = t.TempDir()
	s, err := Generate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return o.Dir, s
}

func digest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	for _, name := range []string{PersonsFile, PensionFile, InsuranceFile, ConsentsFile, AsOfFile, CardsFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = sha256.Sum256(b)
	}
	return out
}

func readCSV(t *testing.T, path string, header string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if got := strings.Join(rows[0], ","); got != header {
		t.Fatalf("%s: header %q, want %q", path, got, header)
	}
	return rows[1:]
}

func TestDeterministic(t *testing.T) {
	a, sa := generate(t, Options{Persons: 300, Seed: 7, Workers: 1})
	b, sb := generate(t, Options{Persons: 300, Seed: 7, Workers: 3})
	c, _ := generate(t, Options{Persons: 300, Seed: 8, Workers: 2})
	da, db, dc := digest(t, a), digest(t, b), digest(t, c)
	for name := range da {
		if da[name] != db[name] {
			t.Errorf("%s differs between runs with the same seed", name)
		}
		if name != AsOfFile && da[name] == dc[name] {
			t.Errorf("%s is the same for seeds 7 and 8", name)
		}
	}
	if sa != sb {
		t.Errorf("summaries differ: %+v %+v", sa, sb)
	}
	// Leftover temporaries would show a non-atomic write.
	entries, _ := os.ReadDir(a)
	if len(entries) != 6 {
		t.Errorf("output directory holds %d entries, want the 6 files", len(entries))
	}
}

func TestContent(t *testing.T) {
	asOf := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	dir, sum := generate(t, Options{Persons: 1500, Seed: 1, AsOf: asOf, Years: 25})
	if sum.Persons != 1500 {
		t.Fatalf("summary %+v", sum)
	}

	persons := readCSV(t, filepath.Join(dir, PersonsFile), "national_id,name,birth_date")
	if len(persons) != 1500 {
		t.Fatalf("%d persons", len(persons))
	}
	known := map[string]bool{}
	for _, p := range persons {
		if !ValidNationalID(p[0]) {
			t.Fatalf("invalid national ID %q", p[0])
		}
		if known[p[0]] {
			t.Fatalf("national ID %s twice", p[0])
		}
		known[p[0]] = true
		if _, err := time.Parse(time.DateOnly, p[2]); err != nil {
			t.Fatalf("birth date %q", p[2])
		}
	}

	lagEnd := "2025-03"
	ids := map[string]bool{}
	kinds := map[string]int{}
	negative := 0
	withRows := map[string]bool{}
	pension := readCSV(t, filepath.Join(dir, PensionFile), "entry_id,national_id,period,kind,unit_name,amount")
	for _, r := range pension {
		if ids[r[0]] {
			t.Fatalf("pension entry_id %s twice", r[0])
		}
		ids[r[0]] = true
		if !known[r[1]] {
			t.Fatalf("pension row of unknown person")
		}
		if r[2] < "2005-07" || r[2] > lagEnd {
			t.Fatalf("pension period %s outside 2005-07..%s", r[2], lagEnd)
		}
		kinds[r[3]]++
		amt, err := strconv.ParseInt(r[5], 10, 64)
		if err != nil {
			t.Fatalf("amount %q", r[5])
		}
		if amt < 0 {
			negative++
		}
		if r[4] == "" {
			t.Fatal("empty unit name")
		}
		withRows[r[1]] = true
	}
	for _, k := range []string{"employer", "voluntary", "earnings", "settlement", "adjustment"} {
		if kinds[k] == 0 {
			t.Errorf("no pension rows of kind %s", k)
		}
	}
	if negative == 0 {
		t.Error("no negative pension amounts (bad years, adjustments)")
	}
	if len(withRows) == len(persons) {
		t.Error("every person has pension rows; want some with none")
	}

	ins := readCSV(t, filepath.Join(dir, InsuranceFile), "entry_id,national_id,event_date,kind,unit_name,insured_salary")
	ids = map[string]bool{}
	kinds = map[string]int{}
	type key struct{ id, unit string }
	open := map[key]int{}
	overlap := 0
	for _, r := range ins {
		if ids[r[0]] {
			t.Fatalf("insurance entry_id %s twice", r[0])
		}
		ids[r[0]] = true
		if r[2] > "2025-06-30" || r[2] < "2000-06-30" {
			t.Fatalf("event date %s outside the window", r[2])
		}
		kinds[r[3]]++
		sal, _ := strconv.Atoi(r[5])
		if sal <= 0 || sal > insuranceCap {
			t.Fatalf("insured salary %d", sal)
		}
		k := key{r[1], r[4]}
		switch r[3] {
		case "enroll":
			open[k]++
			n := 0
			for kk, v := range open {
				if kk.id == r[1] && v > 0 {
					n++
				}
			}
			if n > 1 {
				overlap++
			}
		case "withdraw":
			open[k]--
		}
	}
	for _, k := range []string{"enroll", "withdraw", "salary_change"} {
		if kinds[k] == 0 {
			t.Errorf("no insurance events of kind %s", k)
		}
	}
	if overlap == 0 {
		t.Error("no overlapping coverage at two units")
	}

	cf, err := cards.Load(filepath.Join(dir, CardsFile))
	if err != nil {
		t.Fatal(err)
	}
	consents := readCSV(t, filepath.Join(dir, ConsentsFile), "institution,pan,national_id,name,birth_date,services,signed_date,status")
	states := map[string]map[string]bool{}
	for _, c := range consents {
		cd := cf.Find(c[1])
		if cd == nil {
			t.Fatalf("consent card %s not in the card file", c[1])
		}
		if !cd.For(c[0]) {
			t.Fatalf("card institution %v, consent %s", cd.Institutions, c[0])
		}
		if states[c[0]] == nil {
			states[c[0]] = map[string]bool{}
		}
		states[c[0]][c[5]+"/"+c[7]] = true
	}
	for _, in := range []string{"005", "007", "012", "808", "812", "700"} {
		for _, st := range []string{"both/active", "pension/active", "insurance/active", "both/revoked"} {
			if !states[in][st] {
				t.Errorf("institution %s has no consent %s", in, st)
			}
		}
	}
	expects := map[string]int{}
	for _, c := range cf.Cards {
		if !LuhnValid(c.PAN) || len(c.PAN) != 16 {
			t.Fatalf("PAN %s fails the Luhn check", c.PAN)
		}
		expects[c.Expected(cards.Pension)+"/"+c.Expected(cards.Insurance)]++
		if c.Note == "expired" && c.Expiry >= "2506" {
			t.Errorf("expired card with expiry %s", c.Expiry)
		}
	}
	for _, e := range []string{"00/00", "00/57", "57/00", "57/57", "25/25", "14/14", "54/54"} {
		if expects[e] == 0 {
			t.Errorf("no card expecting %s", e)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, AsOfFile)); string(b) != "2025-06-30\n" {
		t.Errorf("as_of.txt = %q", b)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	_, err := Generate(ctx, Options{Dir: dir, Persons: 100000, Seed: 1})
	if err == nil {
		t.Fatal("a cancelled run reported success")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("cancelled run left %d files", len(entries))
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{Persons: 0}, {Persons: 1, Years: 99}, {Persons: 1, AsOf: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		o.Dir = t.TempDir()
		if _, err := Generate(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestNationalID(t *testing.T) {
	// A well-known valid example and its neighbours.
	if !ValidNationalID("A123456789") {
		t.Error("A123456789 should be valid")
	}
	if ValidNationalID("A123456788") || ValidNationalID("A323456789") || ValidNationalID("a123456789") {
		t.Error("invalid IDs accepted")
	}
	if !LuhnValid("79927398713") || LuhnValid("79927398710") {
		t.Error("Luhn check wrong")
	}
}

func TestCivil(t *testing.T) {
	for _, d := range []int{-25567, -1, 0, 1, 11016, 20000, 47000} {
		y, m, dd := civilFromDays(d)
		if got := daysFromCivil(y, m, dd); got != d {
			t.Errorf("round trip of day %d: %d-%d-%d → %d", d, y, m, dd, got)
		}
		want := time.Unix(int64(d)*86400, 0).UTC()
		if want.Year() != y || int(want.Month()) != m || want.Day() != dd {
			t.Errorf("day %d = %d-%d-%d, want %s", d, y, m, dd, want.Format(time.DateOnly))
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if _, err := Generate(context.Background(), Options{Dir: dir, Persons: 2000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "persons/s")
}
