package ledger_test

import (
	"testing"
	"time"

	"github.com/bli/atmgw/ledger"
)

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func ev(id int64, date string, k ledger.InsuranceKind, unit string) ledger.InsuranceRow {
	return ledger.InsuranceRow{EntryID: id, Date: day(date), Kind: k, Unit: unit}
}

func TestCoverage(t *testing.T) {
	E, W, S := ledger.KindEnroll, ledger.KindWithdraw, ledger.KindSalaryChange
	asOf := day("2026-10-31")
	cases := []struct {
		name   string
		events []ledger.InsuranceRow
		closed int
		open   string // OpenSince, "" when none
		days   int
	}{
		{"none", nil, 0, "", 0},
		{"one day closed", []ledger.InsuranceRow{ev(1, "2026-01-01", E, "a"), ev(2, "2026-01-02", W, "a")}, 1, "", 1},
		{"open to the as-of date inclusive", []ledger.InsuranceRow{ev(1, "2026-10-01", E, "a")}, 0, "2026-10-01", 31},
		{"enrolled on the as-of date", []ledger.InsuranceRow{ev(1, "2026-10-31", E, "a")}, 0, "2026-10-31", 1},
		{"withdrawn on the as-of date", []ledger.InsuranceRow{ev(1, "2026-10-01", E, "a"), ev(2, "2026-10-31", W, "a")}, 30, "", 30},
		{"withdraw and enrol the same day", []ledger.InsuranceRow{ev(1, "2026-10-01", E, "a"), ev(2, "2026-10-11", W, "a"), ev(3, "2026-10-11", E, "a")}, 10, "2026-10-11", 31},
		{"enrol and withdraw the same day", []ledger.InsuranceRow{ev(2, "2026-10-11", W, "a"), ev(1, "2026-10-11", E, "a")}, 0, "", 0},
		{"order is (date, entry id), not the slice's", []ledger.InsuranceRow{ev(3, "2026-10-21", W, "a"), ev(1, "2026-10-01", E, "a")}, 20, "", 20},
		{"withdrawal without enrolment ignored", []ledger.InsuranceRow{ev(1, "2026-01-01", W, "a"), ev(2, "2026-01-05", E, "a"), ev(3, "2026-01-10", W, "a")}, 5, "", 5},
		{"second enrolment ignored", []ledger.InsuranceRow{ev(1, "2026-01-01", E, "a"), ev(2, "2026-01-05", E, "a"), ev(3, "2026-01-10", W, "a")}, 9, "", 9},
		{"salary change is no coverage", []ledger.InsuranceRow{ev(1, "2026-01-01", S, "a")}, 0, "", 0},
		{"units apart", []ledger.InsuranceRow{ev(1, "2026-01-01", E, "a"), ev(2, "2026-01-05", W, "b"), ev(3, "2026-01-10", W, "a")}, 9, "", 9},
		{"overlap counted once", []ledger.InsuranceRow{ev(1, "2026-01-01", E, "a"), ev(2, "2026-01-05", E, "b"), ev(3, "2026-01-10", W, "a"), ev(4, "2026-01-20", W, "b")}, 19, "", 19},
		{"closed inside an open interval", []ledger.InsuranceRow{ev(1, "2026-01-01", E, "a"), ev(2, "2026-01-05", E, "b"), ev(3, "2026-01-10", W, "b")}, 0, "2026-01-01", 304},
		{"closed across the open start", []ledger.InsuranceRow{ev(1, "2026-01-01", E, "a"), ev(2, "2026-01-05", E, "b"), ev(3, "2026-01-10", W, "a")}, 4, "2026-01-05", 304},
		{"before 1970", []ledger.InsuranceRow{ev(1, "1912-01-01", E, "a"), ev(2, "1913-01-01", W, "a")}, 366, "", 366},
	}
	for _, c := range cases {
		cv := ledger.Coverage(c.events)
		open := ""
		if cv.Open {
			open = cv.OpenSince.Format(time.DateOnly)
		}
		if cv.ClosedDays != c.closed || open != c.open || cv.Days(asOf) != c.days {
			t.Errorf("%s: %+v (%d days), want closed %d open %q, %d days", c.name, cv, cv.Days(asOf), c.closed, c.open, c.days)
		}
	}
	// An as-of date before the open interval adds nothing.
	cv := ledger.Coverage([]ledger.InsuranceRow{ev(1, "2026-10-01", E, "a")})
	if d := cv.Days(day("2026-09-30")); d != 0 {
		t.Errorf("days before the start: %d", d)
	}
}

func TestPensionTotalsAndLatest(t *testing.T) {
	rows := []ledger.PensionRow{
		{EntryID: 5, Kind: ledger.KindEmployer, Amount: 100},
		{EntryID: 1, Kind: ledger.KindVoluntary, Amount: 10},
		{EntryID: 9, Kind: ledger.KindEarnings, Amount: 7},
		{EntryID: 3, Kind: ledger.KindSettlement, Amount: 1000},
		{EntryID: 7, Kind: ledger.KindAdjustment, Amount: -50},
		{EntryID: 2, Kind: ledger.KindEarnings, Amount: -3},
		{EntryID: 8, Kind: ledger.KindEmployer, Amount: 1},
	}
	c, e := ledger.PensionTotals(rows)
	if c != 1061 || e != 4 {
		t.Errorf("totals %d %d, want 1061 4", c, e)
	}
	latest := ledger.LatestPension(rows, 6)
	var ids []int64
	for _, r := range latest {
		ids = append(ids, r.EntryID)
	}
	if len(ids) != 6 || ids[0] != 9 || ids[5] != 2 || rows[0].EntryID != 5 {
		t.Errorf("latest %v (and the input must stay as it was)", ids)
	}
	ins := []ledger.InsuranceRow{ev(9, "2020-01-01", ledger.KindEnroll, "a"), ev(1, "2021-01-01", ledger.KindWithdraw, "a"), ev(2, "2021-01-01", ledger.KindEnroll, "b")}
	li := ledger.LatestInsurance(ins, 2)
	if len(li) != 2 || li[0].EntryID != 2 || li[1].EntryID != 1 {
		t.Errorf("latest insurance %+v", li)
	}
}
