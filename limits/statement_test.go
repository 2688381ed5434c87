package limits

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// unitField is a 40-byte DE62 unit name field.
func unitField(s string) string {
	b := EncodeBig5(s)
	return string(b) + strings.Repeat(" ", UnitLen-len(b))
}

func TestStatementPension(t *testing.T) {
	in := Inquiry{Service: card.ServicePension, Pension: pensionFull()}
	want := "P6" + "1131031" +
		"11308" + "01" + unitField(unitTSMC) + "+000000006000" +
		"11308" + "02" + unitField(unitTSMC) + "+000000003000" +
		"11307" + "05" + unitField("財團法人中華民國台灣省私立高雄縣某某某某") + "-000000001200" +
		"11306" + "03" + unitField(unitEarnings) + "+000000000812" +
		"11305" + "04" + unitField("？記？小吃店") + "+000001234567" +
		"11304" + "01" + unitField("？？企業社 ACME Ltd.") + "+000000005826" +
		"+000001345678" + "+000000045678"
	got := Statement(in)
	if string(got) != want {
		t.Fatalf("Statement:\n got %q\nwant %q", got, want)
	}
	if len(got) != 9+6*60+26 || len(got) != StatementLen(card.ServicePension, 6) {
		t.Errorf("length %d, want %d", len(got), 9+6*60+26)
	}
	for i := range 6 {
		off := 9 + 60*i
		if c := got[off+47]; c != '+' && c != '-' {
			t.Errorf("row %d: sign %q at offset %d", i+1, c, off+47)
		}
		if k := string(got[off+5 : off+7]); k != "0"+string(rune('0'+int(in.Pension.Rows[i].Kind))) {
			t.Errorf("row %d: kind %q", i+1, k)
		}
	}
}

func TestStatementInsurance(t *testing.T) {
	in := Inquiry{Service: card.ServiceInsurance, Insurance: insuranceFull()}
	want := "I6" + "1131031" +
		"1130902" + "13" + unitField(unitTSMC) + "0045800" +
		"1130307" + "11" + unitField(unitTSMC) + "0042000" +
		"1130306" + "12" + unitField("財團法人中華民國台灣省私立高雄縣某某某某") + "0027470" +
		"1090115" + "11" + unitField("財團法人中華民國台灣省私立高雄縣某某某某") + "0026400" +
		"1081231" + "12" + unitField("？記？小吃店") + "0025200" +
		"1040701" + "11" + unitField("？？企業社 ACME Ltd.") + "0020008" +
		"012" + "187"
	got := Statement(in)
	if string(got) != want {
		t.Fatalf("Statement:\n got %q\nwant %q", got, want)
	}
	if len(got) != 9+6*56+6 {
		t.Errorf("length %d, want %d", len(got), 9+6*56+6)
	}
}

func TestStatementEdges(t *testing.T) {
	asOf := date(2024, 3, 7)
	for _, c := range []struct {
		name string
		in   Inquiry
		want string
	}{
		{"pension, no rows", Inquiry{Service: card.ServicePension, Pension: &ledger.PensionStatement{AsOf: asOf}},
			"P01130307+000000000000+000000000000"},
		{"insurance, no rows", Inquiry{Service: card.ServiceInsurance, Insurance: &ledger.InsuranceStatement{AsOf: asOf}},
			"I01130307000000"},
		{"nil statement: as of the inquiry's date", Inquiry{Service: card.ServiceInsurance, Time: time.Date(2024, 11, 24, 23, 30, 0, 0, time.UTC)},
			"I01131124000000"},
		{"cut between characters, clamped amounts", Inquiry{Service: card.ServicePension, Pension: &ledger.PensionStatement{
			AsOf: asOf,
			Rows: []ledger.PensionRow{
				{Year: 2024, Month: 2, Kind: ledger.KindAdjustment, Unit: "A財團法人中華民國台灣省私立高雄縣某某某某", Amount: math.MinInt64},
				{Year: 2024, Month: 1, Kind: ledger.KindEmployer, Unit: " \t", Amount: 1e13},
			},
			Contributions: math.MaxInt64, Earnings: -5}},
			"P21130307" +
				"11302" + "05" + "A" + string(EncodeBig5("財團法人中華民國台灣省私立高雄縣某某某")) + " " + "-999999999999" +
				"11301" + "01" + strings.Repeat(" ", 40) + "+999999999999" +
				"+999999999999" + "-000000000005"},
		{"seven rows: the first six", Inquiry{Service: card.ServiceInsurance, Insurance: &ledger.InsuranceStatement{
			AsOf:          asOf,
			Rows:          make([]ledger.InsuranceRow, 7),
			SeniorityDays: 1000 * 365,
		}}, ""},
		{"salary clamped", Inquiry{Service: card.ServiceInsurance, Insurance: &ledger.InsuranceStatement{
			AsOf: asOf,
			Rows: []ledger.InsuranceRow{{Date: asOf, Kind: ledger.KindEnroll, Unit: "x\ny", Salary: -1},
				{Date: asOf, Kind: ledger.KindSalaryChange, Salary: 12_345_678}},
			SeniorityDays: 364,
		}}, "I21130307" + "1130307" + "11" + "x y" + strings.Repeat(" ", 37) + "0000000" +
			"1130307" + "13" + strings.Repeat(" ", 40) + "9999999" + "000364"},
	} {
		got := string(Statement(c.in))
		if c.want == "" {
			if got[1] != '6' || len(got) != StatementLen(card.ServiceInsurance, 6) || !strings.HasSuffix(got, "999000") {
				t.Errorf("%s: %q", c.name, got)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestParseStatementRoundTrip(t *testing.T) {
	pin := Inquiry{Service: card.ServicePension, Pension: pensionFull()}
	d, err := ParseStatement(Statement(pin))
	if err != nil {
		t.Fatal(err)
	}
	want := pensionFull()
	for i := range want.Rows {
		want.Rows[i].EntryID = 0
		want.Rows[i].Unit = DecodeBig5(TruncateBig5(EncodeBig5(want.Rows[i].Unit), UnitLen))
	}
	if d.Service != card.ServicePension || d.Insurance != nil || !reflect.DeepEqual(d.Pension, want) {
		t.Errorf("pension round trip:\n got %+v\nwant %+v", d.Pension, want)
	}

	iin := Inquiry{Service: card.ServiceInsurance, Insurance: insuranceFull()}
	d, err = ParseStatement(Statement(iin))
	if err != nil {
		t.Fatal(err)
	}
	wantI := insuranceFull()
	for i := range wantI.Rows {
		wantI.Rows[i].EntryID = 0
		wantI.Rows[i].Unit = DecodeBig5(TruncateBig5(EncodeBig5(wantI.Rows[i].Unit), UnitLen))
	}
	if d.Service != card.ServiceInsurance || d.Pension != nil || !reflect.DeepEqual(d.Insurance, wantI) {
		t.Errorf("insurance round trip:\n got %+v\nwant %+v", d.Insurance, wantI)
	}
	if y, dd := d.Insurance.Seniority(); y != 12 || dd != 187 {
		t.Errorf("seniority %d %d", y, dd)
	}

	d, err = ParseStatement([]byte("P01130307+000000000000-000000000005"))
	if err != nil || d.Pension == nil || len(d.Pension.Rows) != 0 || d.Pension.Earnings != -5 || !d.Pension.AsOf.Equal(date(2024, 3, 7)) {
		t.Errorf("empty pension: %+v %v", d.Pension, err)
	}
}

func TestParseStatementErrors(t *testing.T) {
	good := string(Statement(Inquiry{Service: card.ServicePension, Pension: pensionFull()}))
	goodI := string(Statement(Inquiry{Service: card.ServiceInsurance, Insurance: insuranceFull()}))
	set := func(s string, off int, v string) string { return s[:off] + v + s[off+len(v):] }
	for _, c := range []struct{ name, in, says string }{
		{"empty", "", "shorter"},
		{"service", set(good, 0, "X"), "service"},
		{"row count", set(good, 1, "7"), "row count"},
		{"too long", good + " ", "want 395"},
		{"too short", good[:len(good)-1], "want 395"},
		{"as-of month", set(good, 2, "1131331"), "as-of date"},
		{"as-of day", set(good, 2, "1130230"), "as-of date"},
		{"as-of digits", set(good, 2, "11310 1"), "as-of date"},
		{"period", set(good, 9, "11300"), "row 1 period"},
		{"pension kind", set(good, 9+60+5, "06"), "row 2 kind"},
		{"sign", set(good, 9+47, " "), "row 1 amount"},
		{"amount digit", set(good, 9+60*2+50, "x"), "row 3 amount"},
		{"cut character", set(good, 9+7, strings.Repeat(" ", 39)+"\xA4"), "row 1 unit name: double-byte character cut"},
		{"not CP950", set(good, 9+7, "\xFB\x69"), "not CP950"},
		{"control", set(good, 9+7, "\x00"), "control"},
		{"total sign", set(good, len(good)-26, "*"), "cumulative contributions"},
		{"earnings digits", set(good, len(good)-1, "a"), "cumulative earnings"},
		{"insurance kind", set(goodI, 9+7, "14"), "row 1 kind"},
		{"insurance date", set(goodI, 9+56, "1130229"), ""}, // 2024-02-29 exists
		{"insurance date 2", set(goodI, 9+56, "1120229"), "row 2 date"},
		{"salary", set(goodI, 9+49, "00458x0"), "row 1 insured salary"},
		{"days", set(goodI, len(goodI)-3, "365"), "seniority days"},
		{"years", set(goodI, len(goodI)-6, "0 2"), "seniority years"},
	} {
		_, err := ParseStatement([]byte(c.in))
		if c.says == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrStatement) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.says)
		}
	}
}

func FuzzParseStatement(f *testing.F) {
	f.Add(Statement(Inquiry{Service: card.ServicePension, Pension: pensionFull()}))
	f.Add(Statement(Inquiry{Service: card.ServiceInsurance, Insurance: insuranceFull()}))
	f.Add([]byte("P01130307+000000000000+000000000000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseStatement(b)
		if err != nil {
			return
		}
		n := 0
		if d.Pension != nil {
			n = len(d.Pension.Rows)
		} else {
			n = len(d.Insurance.Rows)
		}
		if len(b) != StatementLen(d.Service, n) {
			t.Errorf("parsed %d rows from %d bytes", n, len(b))
		}
	})
}
