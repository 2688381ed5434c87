package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/bli/atmgw/card"
)

// key keys the PAN hash of the suite's stores.
const key = "storetest-pan-key-0123456789abcdef"

// Hasher is the PAN hasher the suite passes to newStore (and the loader
// tests use).
func Hasher() *card.PANHasher {
	h, err := card.NewPANHasher([]byte(key))
	if err != nil {
		panic(err)
	}
	return h
}

// Ledger is a set of load files as plain values: the suite writes it as
// CSV (Files) and computes what a store must answer from it on its own,
// without the ledger package (the expected* functions).
type Ledger struct {
	AsOf      string // YYYY-MM-DD
	Persons   []Person
	Pension   []PensionRow
	Insurance []InsuranceRow
	Consents  []Consent
}

// Person is a persons.csv row.
type Person struct{ ID, Name, Birth string }

// PensionRow is a pension_ledger.csv row.
type PensionRow struct {
	EntryID    int64
	ID, Period string
	Kind, Unit string
	Amount     int64
}

// InsuranceRow is an insurance_events.csv row.
type InsuranceRow struct {
	EntryID    int64
	ID, Date   string
	Kind, Unit string
	Salary     int64
}

// Consent is a consents.csv row.
type Consent struct {
	Inst, PAN, ID, Name, Birth, Services, Signed, Status string
}

// Files renders the ledger as the five load files, rows in the order given.
func (l *Ledger) Files() fstest.MapFS {
	var p, pe, in, co strings.Builder
	p.WriteString("national_id,name,birth_date\n")
	for _, r := range l.Persons {
		fmt.Fprintf(&p, "%s,%s,%s\n", r.ID, csvQuote(r.Name), r.Birth)
	}
	pe.WriteString("entry_id,national_id,period,kind,unit_name,amount\n")
	for _, r := range l.Pension {
		fmt.Fprintf(&pe, "%d,%s,%s,%s,%s,%d\n", r.EntryID, r.ID, r.Period, r.Kind, csvQuote(r.Unit), r.Amount)
	}
	in.WriteString("entry_id,national_id,event_date,kind,unit_name,insured_salary\n")
	for _, r := range l.Insurance {
		fmt.Fprintf(&in, "%d,%s,%s,%s,%s,%d\n", r.EntryID, r.ID, r.Date, r.Kind, csvQuote(r.Unit), r.Salary)
	}
	co.WriteString("institution,pan,national_id,name,birth_date,services,signed_date,status\n")
	for _, r := range l.Consents {
		fmt.Fprintf(&co, "%s,%s,%s,%s,%s,%s,%s,%s\n", r.Inst, r.PAN, r.ID, csvQuote(r.Name), r.Birth, r.Services, r.Signed, r.Status)
	}
	return fstest.MapFS{
		"as_of.txt":            {Data: []byte(l.AsOf + "\n")},
		"persons.csv":          {Data: []byte(p.String())},
		"pension_ledger.csv":   {Data: []byte(pe.String())},
		"insurance_events.csv": {Data: []byte(in.String())},
		"consents.csv":         {Data: []byte(co.String())},
	}
}

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// Hand is the hand-written ledger of the suite; see the comments for what
// each person and consent shows. As of 2026-10-31.
func Hand() *Ledger {
	return &Ledger{
		AsOf: "2026-10-31",
		Persons: []Person{
			{"A100000001", "王小明", "1985-06-15"},
			{"B200000002", "陳美玲", "1990-02-28"}, // no rows at all
			{"C100000003", "林志豪", "1978-11-02"}, // pension rows only, fewer than six
			{"D100000004", "張家豪", "1960-01-01"}, // closed insurance intervals only
			{"E100000005", "李淑芬", "2008-02-29"}, // enrolled on the as-of date
		},
		Pension: []PensionRow{
			// Posted out of period order: "latest" is by entry id.
			{16, "A100000001", "2020-05", "employer", "丙商行", 1000},
			{10, "A100000001", "2024-01", "employer", "甲公司", 3000},
			{11, "A100000001", "2024-01", "voluntary", "甲公司", 1500},
			{12, "A100000001", "2023-12", "earnings", "", 700},
			{13, "A100000001", "2024-02", "employer", "甲公司", 3000},
			{14, "A100000001", "2024-03", "settlement", "乙公司", 50000},
			{15, "A100000001", "2024-04", "adjustment", "乙公司", -250},
			{17, "A100000001", "2024-05", "earnings", "", -120},
			{18, "A100000001", "2024-06", "employer", "財團法人中華民國台灣省私立某某社會福利慈善事業基金會附設托兒所", 3200},
			{30, "C100000003", "1912-01", "employer", "民國元年商號", 12},
			{31, "C100000003", "2910-12", "voluntary", "遠未來公司", 34},
			{32, "C100000003", "2000-02", "earnings", "", 56},
		},
		Insurance: []InsuranceRow{
			{101, "A100000001", "1965-03-01", "enroll", "甲", 1000},        // before 1970
			{102, "A100000001", "1968-02-29", "withdraw", "甲", 1000},      // leap day; [1965-03-01, 1968-02-29)
			{103, "A100000001", "1967-01-01", "enroll", "乙", 1100},        // overlaps 甲
			{104, "A100000001", "1970-01-01", "withdraw", "乙", 1100},      // union so far [1965-03-01, 1970-01-01)
			{105, "A100000001", "1975-05-05", "withdraw", "丙", 0},         // nothing open at 丙: ignored
			{106, "A100000001", "1980-01-01", "enroll", "丙", 2000},        //
			{107, "A100000001", "1981-01-01", "enroll", "丙", 2100},        // already open: ignored
			{108, "A100000001", "1982-01-01", "salary_change", "丙", 2200}, //
			{109, "A100000001", "1983-01-01", "withdraw", "丙", 2200},      // [1980-01-01, 1983-01-01)
			{110, "A100000001", "1983-01-01", "enroll", "丙", 2300},        // same day, posted after: re-enrolment
			{111, "A100000001", "2000-02-29", "withdraw", "丙", 2300},      // [1983-01-01, 2000-02-29)
			{501, "A100000001", "2010-06-01", "withdraw", "丁", 2400},      // same day as 500, posted after it:
			{500, "A100000001", "2010-06-01", "enroll", "丁", 2400},        // an empty interval
			{112, "A100000001", "2015-01-01", "enroll", "戊", 30000},       //
			{113, "A100000001", "2020-01-01", "enroll", "己", 40000},       // open, overlaps 戊
			{114, "A100000001", "2020-06-30", "salary_change", "己", 45800},
			{115, "A100000001", "2026-10-31", "withdraw", "戊", 30000}, // on the as-of date; 己 still open
			{120, "D100000004", "1999-12-31", "enroll", "庚", 100},
			{121, "D100000004", "2000-01-01", "withdraw", "庚", 100}, // 1 day
			{122, "D100000004", "2004-02-28", "enroll", "庚", 100},
			{123, "D100000004", "2004-03-01", "withdraw", "庚", 100}, // 2 days (29 Feb)
			{124, "D100000004", "2004-02-01", "salary_change", "辛", 200},
			{130, "E100000005", "2026-10-31", "enroll", "壬", 27470}, // 1 day, as-of inclusive
		},
		Consents: []Consent{
			{"700", "4000000000000001", "A100000001", "王小明", "1985-06-15", "both", "2026-01-05", "active"},
			{"812", "4000000000000001", "C100000003", "林志豪", "1978-11-02", "pension", "2026-01-05", "active"}, // same PAN, another institution
			{"005", "4000000000000002", "B200000002", "陳美玲", "1990-02-28", "both", "2026-02-01", "active"},
			{"007", "4000000000000003", "D100000004", "張家豪", "1960-01-01", "insurance", "2025-12-31", "active"},
			{"012", "4000000000000004", "A100000001", "王小明", "1985-06-15", "both", "2022-01-10", "revoked"},
			{"700", "4000000000000005", "Z999999999", "無此人", "1980-01-01", "both", "2026-01-05", "active"},
			{"700", "4000000000000006", "A100000001", "王大明", "1985-06-15", "both", "2026-01-05", "active"},
			{"808", "4000 0000 0000 0007", "E100000005", "李淑芬", "2008-02-29", "both", "2026-10-31", "active"},
			{"700", "4000000000000008", "e100000005", "李淑芬", "2008-02-29", "BOTH", "2026-10-31", "Active"},
		},
	}
}

// HandSeniorityA is the seniority of A100000001 in Hand, worked out by
// hand: [1965-03-01, 1970-01-01) 1767 days + [1980-01-01, 2000-02-29) 7364
// days + [2015-01-01, 2026-10-31] 4322 days.
const HandSeniorityA = 13453

// Random makes a random ledger of n persons from seed: units overlapping,
// re-enrolments, stray withdrawals, same-day events, events on the as-of
// date, negative amounts, persons without rows or without consent, rows
// in shuffled order.
func Random(seed uint64, n int) *Ledger {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	asOf := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	l := &Ledger{AsOf: asOf.Format(time.DateOnly)}
	units := []string{"甲公司", "乙商行", "丙工廠", "丁基金會", "Acme, Inc."}
	pensionKinds := []string{"employer", "employer", "employer", "voluntary", "earnings", "settlement", "adjustment"}
	insts := []string{"005", "007", "012", "700", "808", "812"}
	entry := int64(1)
	nextEntry := func() int64 { entry += 1 + rng.Int64N(3); return entry }
	day := func(from time.Time) time.Time {
		span := int(asOf.Sub(from).Hours() / 24)
		return from.AddDate(0, 0, rng.IntN(span+1))
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%c%09d", 'A'+rune(i%26), 100000000+i)
		birth := time.Date(1940+rng.IntN(70), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		p := Person{ID: id, Name: fmt.Sprintf("人%d", i), Birth: birth.Format(time.DateOnly)}
		l.Persons = append(l.Persons, p)
		for k := rng.IntN(16); k > 0; k-- {
			amount := rng.Int64N(100000) - 5000
			l.Pension = append(l.Pension, PensionRow{
				EntryID: nextEntry(), ID: id, Period: day(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)).Format("2006-01"),
				Kind: pensionKinds[rng.IntN(len(pensionKinds))], Unit: units[rng.IntN(len(units))], Amount: amount,
			})
		}
		var last time.Time
		for k := rng.IntN(12); k > 0; k-- {
			var d time.Time
			switch r := rng.IntN(10); {
			case r == 0 && !last.IsZero():
				d = last // same day as the previous event
			case r == 1:
				d = asOf
			default:
				d = day(time.Date(1955, 1, 1, 0, 0, 0, 0, time.UTC))
			}
			last = d
			kind := []string{"enroll", "enroll", "withdraw", "withdraw", "salary_change"}[rng.IntN(5)]
			l.Insurance = append(l.Insurance, InsuranceRow{
				EntryID: nextEntry(), ID: id, Date: d.Format(time.DateOnly), Kind: kind,
				Unit: units[rng.IntN(3)], Salary: rng.Int64N(50000),
			})
		}
		if rng.IntN(8) != 0 {
			status := "active"
			if rng.IntN(6) == 0 {
				status = "revoked"
			}
			l.Consents = append(l.Consents, Consent{
				Inst: insts[rng.IntN(len(insts))], PAN: fmt.Sprintf("47%014d", i), ID: id, Name: p.Name, Birth: p.Birth,
				Services: []string{"both", "pension", "insurance"}[rng.IntN(3)], Signed: "2025-01-01", Status: status,
			})
		}
	}
	l.Consents = append(l.Consents, Consent{Inst: "700", PAN: "4799999999999999", ID: "Z900000000", Name: "無此人",
		Birth: "1970-01-01", Services: "both", Signed: "2025-01-01", Status: "active"})
	rng.Shuffle(len(l.Persons), func(i, j int) { l.Persons[i], l.Persons[j] = l.Persons[j], l.Persons[i] })
	rng.Shuffle(len(l.Pension), func(i, j int) { l.Pension[i], l.Pension[j] = l.Pension[j], l.Pension[i] })
	rng.Shuffle(len(l.Insurance), func(i, j int) { l.Insurance[i], l.Insurance[j] = l.Insurance[j], l.Insurance[i] })
	rng.Shuffle(len(l.Consents), func(i, j int) { l.Consents[i], l.Consents[j] = l.Consents[j], l.Consents[i] })
	return l
}

// The expected answers, computed from the plain rows without the ledger
// package: sorting by hand, summing in a loop, and seniority as a set of
// covered days.

func (l *Ledger) person(id string) *Person {
	for i := range l.Persons {
		if l.Persons[i].ID == id {
			return &l.Persons[i]
		}
	}
	return nil
}

func expectedPension(l *Ledger, id string) (latest []PensionRow, contributions, earnings int64) {
	var rows []PensionRow
	for _, r := range l.Pension {
		if r.ID != id {
			continue
		}
		rows = append(rows, r)
		if r.Kind == "earnings" {
			earnings += r.Amount
		} else {
			contributions += r.Amount
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].EntryID > rows[j].EntryID })
	if len(rows) > 6 {
		rows = rows[:6]
	}
	return rows, contributions, earnings
}

func expectedInsurance(l *Ledger, id string) (latest []InsuranceRow, seniority int) {
	var rows []InsuranceRow
	for _, r := range l.Insurance {
		if r.ID == id {
			rows = append(rows, r)
		}
	}
	// Ascending (date, entry id): YYYY-MM-DD strings sort as dates.
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Date != rows[j].Date {
			return rows[i].Date < rows[j].Date
		}
		return rows[i].EntryID < rows[j].EntryID
	})
	asOf := mustDate(l.AsOf)
	base := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	index := func(d time.Time) int { return int(d.Sub(base) / (24 * time.Hour)) }
	covered := make([]bool, index(asOf)+1) // one flag per day since 1900
	cover := func(from, to time.Time) {    // [from, to)
		for i := index(from); i < index(to); i++ {
			covered[i] = true
		}
	}
	open := map[string]time.Time{}
	for _, r := range rows {
		d := mustDate(r.Date)
		switch r.Kind {
		case "enroll":
			if _, ok := open[r.Unit]; !ok {
				open[r.Unit] = d
			}
		case "withdraw":
			if from, ok := open[r.Unit]; ok {
				cover(from, d)
				delete(open, r.Unit)
			}
		}
	}
	for _, from := range open {
		cover(from, asOf.AddDate(0, 0, 1))
	}
	for _, c := range covered {
		if c {
			seniority++
		}
	}
	slices.Reverse(rows)
	if len(rows) > 6 {
		rows = rows[:6]
	}
	return rows, seniority
}

func mustDate(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}
