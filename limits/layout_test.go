package limits

import (
	"strings"
	"testing"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

func lines(b []byte) []string { return strings.Split(DecodeBig5(b), "\n") }

func has(ls []string, prefix string) bool {
	for _, l := range ls {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// TestDropOrder shortens a 40-column screen and receipt line by line: rows
// take two lines while everything else still fits; then one line each,
// and the lag notice goes first, then the receipt's separators, the
// column header and the title. The mandatory content always stays.
func TestDropOrder(t *testing.T) {
	in := inquiryFor(partnerProfiles()[0], card.ServicePension, false)
	type shows struct{ two, title, header, seps, lag bool }
	for _, c := range []struct {
		receipt bool
		lines   int
		want    shows
	}{
		{false, 18, shows{two: true, title: true, lag: true}},
		{false, 17, shows{title: true, header: true, lag: true}},
		{false, 13, shows{title: true, header: true, lag: true}},
		{false, 12, shows{title: true, header: true}},
		{false, 11, shows{title: true}},
		{false, 10, shows{}},
		{true, 25, shows{two: true, title: true, seps: true, lag: true}},
		{true, 24, shows{title: true, header: true, seps: true, lag: true}},
		{true, 20, shows{title: true, header: true, seps: true, lag: true}},
		{true, 19, shows{title: true, header: true, seps: true}},
		{true, 18, shows{title: true, header: true}}, // one line left: the lag notice does not take it
		{true, 17, shows{title: true, header: true}},
		{true, 16, shows{title: true}},
		{true, 15, shows{}},
	} {
		p := Profile{Columns: 40, Lines: c.lines}
		var out []byte
		if c.receipt {
			out = Receipt(p, in)
		} else {
			out = Screen(p, in)
		}
		if err := Check(p, out); err != nil {
			t.Fatalf("%v receipt %v: %v", p, c.receipt, err)
		}
		assertContent(t, p.String(), out, in, c.receipt, true)
		ls := lines(out)
		got := shows{
			two:    has(ls, "  台灣積體電路製造股份有限公司"),
			title:  strings.Contains(ls[0], titlePension),
			header: has(ls, headPeriod),
			seps:   has(ls, "-----"),
			lag:    has(ls, lagNotice),
		}
		if got != c.want {
			t.Errorf("%v receipt %v: shows %+v, want %+v\n%s", p, c.receipt, got, c.want, strings.Join(ls, "\n"))
		}
	}
}

// TestByteBudget: a tall, wide receipt full of long names would take more
// than the 999 bytes of DE63; unit names are shortened, nothing mandatory
// goes.
func TestByteBudget(t *testing.T) {
	long := strings.Repeat("長", 45)
	st := &ledger.PensionStatement{AsOf: date(2024, 10, 31), Contributions: -999999999999, Earnings: 999999999999}
	for i := range 6 {
		st.Rows = append(st.Rows, ledger.PensionRow{Year: 2024, Month: 6 - i, Kind: ledger.KindSettlement, Unit: long, Amount: -999999999999})
	}
	in := Inquiry{Service: card.ServicePension, Name: strings.Repeat("名", 45), Institution: "700",
		InstitutionName: strings.Repeat("機", 45), Terminal: "ATM70001", RRN: "261124000003", PANLast4: "9014",
		Time: inquiryTime(), Pension: st}
	for _, p := range []Profile{{80, 60}, {80, 15}, {64, 40}, {31, 15}} {
		out := Receipt(p, in)
		if err := Check(p, out); err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		// On the smallest profile 13-character amounts leave no room for
		// unit names.
		assertContent(t, p.String(), out, in, true, p.Columns > 31)
		if p.Columns == 80 && len(out) < MaxText-200 {
			t.Errorf("%v: %d bytes: shortened more than needed", p, len(out))
		}
	}
}

func TestMessage(t *testing.T) {
	for _, c := range []struct {
		p    Profile
		text string
		want []string
	}{
		{Profile{40, 16}, "未申請勞保局資料查詢服務，請洽發卡單位", []string{"未申請勞保局資料查詢服務，請洽發卡單位"}},
		{Profile{32, 16}, "未申請勞保局資料查詢服務，請洽發卡單位", []string{"未申請勞保局資料查詢服務，", "請洽發卡單位"}},
		{Profile{10, 16}, "一二三四五，六七", []string{"一二三四", "五，六七"}}, // no line starts with ，
		{Profile{10, 16}, "一二三四五六七", []string{"一二三四五", "六七"}},
		{Profile{12, 2}, "一二三四五六七八九十一二三四五六七八九十", []string{"一二三四五六", "七八九十一二"}},
		{Profile{31, 16}, "系統忙碌中\n請稍後再試\n", []string{"系統忙碌中", "請稍後再試"}},
		{Profile{31, 16}, "Please try again later, thank you", []string{"Please try again later, thank", "you"}},
		{Profile{31, 3}, "a\n\nb\nc", []string{"a", "", "b"}},
		{Profile{31, 16}, "堃\x07😀", []string{"？ ？"}},
		{Profile{1, 3}, "王a", []string{"a"}},
	} {
		out := Message(c.p, c.text)
		if err := Check(c.p, out); err != nil {
			t.Errorf("%q on %v: %v", c.text, c.p, err)
		}
		if got := lines(out); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q on %v:\n got %q\nwant %q", c.text, c.p, got, c.want)
		}
	}
	if out := Message(Profile{}, "x"); len(out) != 0 {
		t.Errorf("zero profile: %q", out)
	}
}

// TestLookupFallbackMessage: what Lookup answers for an unknown
// institution fits a decline.
func TestLookupFallbackMessage(t *testing.T) {
	p, ok := NewBook().Lookup("999", "X")
	if ok {
		t.Fatal("empty book found a profile")
	}
	out := Message(p.Screen, "交易機構代號不符，請洽發卡單位")
	if err := Check(p.Screen, out); err != nil || !strings.Contains(DecodeBig5(out), "請洽發卡單位") {
		t.Errorf("%v %q", err, DecodeBig5(out))
	}
}

// TestUnknownService: anything but insurance shows the pension layout.
func TestUnknownService(t *testing.T) {
	in := inquiryFor(partnerProfiles()[0], card.ServicePension, false)
	in.Service = 0
	if got, want := Screen(Profile{40, 16}, in), Screen(Profile{40, 16}, inquiryFor(partnerProfiles()[0], card.ServicePension, false)); string(got) != string(want) {
		t.Errorf("service 0:\n%s", DecodeBig5(got))
	}
}
