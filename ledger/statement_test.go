package ledger

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func samplePension() []PensionRow {
	return []PensionRow{
		{EntryID: 1 << 40, Year: 2026, Month: 10, Kind: KindEmployer, Unit: "臺灣積體電路製造股份有限公司", Amount: 9_999_999_999},
		{EntryID: 7, Year: 1912, Month: 1, Kind: KindEarnings, Unit: "", Amount: -123},
		{EntryID: 6, Year: 2910, Month: 12, Kind: KindAdjustment, Unit: "x", Amount: -999_999_999_999},
	}
}

func TestStatementRoundTrip(t *testing.T) {
	asOf := day("2026-11-30")
	rows := samplePension()
	b := AppendPension(nil, rows, math.MaxInt64/3, -5)
	st, err := DecodePension(b, asOf)
	if err != nil {
		t.Fatal(err)
	}
	want := &PensionStatement{AsOf: asOf, Rows: rows, Contributions: math.MaxInt64 / 3, Earnings: -5}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("pension:\n got %+v\nwant %+v", st, want)
	}

	ins := []InsuranceRow{
		{EntryID: 99, Date: day("2026-11-30"), Kind: KindSalaryChange, Unit: "郵局", Salary: 45_800},
		{EntryID: 3, Date: day("1912-01-01"), Kind: KindEnroll, Unit: "甲", Salary: 0},
	}
	for _, c := range []Cover{{ClosedDays: 400}, {ClosedDays: 10, Open: true, OpenSince: day("2020-02-29")}} {
		b := AppendInsurance(nil, ins, c)
		got, err := DecodeInsurance(b, asOf)
		if err != nil {
			t.Fatal(err)
		}
		want := &InsuranceStatement{AsOf: asOf, Rows: ins, SeniorityDays: c.Days(asOf)}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("insurance %+v:\n got %+v\nwant %+v", c, got, want)
		}
	}

	// No rows: nil, as the memory store answers.
	st, err = DecodePension(AppendPension(nil, nil, 0, 0), asOf)
	if err != nil || st.Rows != nil {
		t.Fatalf("empty pension: %+v, %v", st, err)
	}
	// More than six: the first six are kept.
	many := make([]PensionRow, 9)
	for i := range many {
		many[i] = PensionRow{EntryID: int64(9 - i), Year: 2000, Month: 1, Kind: KindVoluntary}
	}
	st, err = DecodePension(AppendPension(nil, many, 0, 0), asOf)
	if err != nil || len(st.Rows) != 6 || st.Rows[5].EntryID != 4 {
		t.Fatalf("nine rows: %+v, %v", st, err)
	}
}

func TestStatementRefusesDamage(t *testing.T) {
	b := AppendPension(nil, samplePension(), 1, 2)
	for i := range len(b) {
		if _, err := DecodePension(b[:i], time.Time{}); !errors.Is(err, ErrBadStatement) {
			t.Fatalf("truncated at %d of %d: %v", i, len(b), err)
		}
	}
	if _, err := DecodePension(append(b, 'x'), time.Time{}); !errors.Is(err, ErrBadStatement) {
		t.Fatalf("trailing byte: %v", err)
	}
	bad := append([]byte{2}, b[1:]...)
	if _, err := DecodePension(bad, time.Time{}); !errors.Is(err, ErrBadStatement) {
		t.Fatalf("version 2: %v", err)
	}
	ib := AppendInsurance(nil, []InsuranceRow{{EntryID: 1, Date: day("2000-01-01"), Kind: KindEnroll, Unit: "u"}}, Cover{})
	for i := range len(ib) {
		if _, err := DecodeInsurance(ib[:i], time.Time{}); !errors.Is(err, ErrBadStatement) {
			t.Fatalf("insurance truncated at %d: %v", i, err)
		}
	}
}

func FuzzDecodeStatement(f *testing.F) {
	f.Add(AppendPension(nil, samplePension(), 1, 2))
	f.Add(AppendInsurance(nil, []InsuranceRow{{EntryID: 1, Date: day("2000-01-01"), Kind: KindEnroll, Unit: "u"}}, Cover{Open: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, err := DecodePension(b, time.Time{}); err == nil {
			again := AppendPension(nil, st.Rows, st.Contributions, st.Earnings)
			if st2, err := DecodePension(again, time.Time{}); err != nil || !reflect.DeepEqual(st, st2) {
				t.Fatalf("pension re-encoding differs: %v", err)
			}
		}
		_, _ = DecodeInsurance(b, time.Time{})
	})
}

func TestStatementRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	asOf := day("2026-11-30")
	for range 2000 {
		n := r.IntN(8)
		rows := make([]PensionRow, n)
		for i := range rows {
			rows[i] = PensionRow{EntryID: r.Int64N(1 << 50), Year: 1912 + r.IntN(999), Month: 1 + r.IntN(12),
				Kind: PensionKind(1 + r.IntN(5)), Unit: string(rune('甲' + r.IntN(50))), Amount: r.Int64N(2e12) - 1e12}
		}
		st, err := DecodePension(AppendPension(nil, rows, r.Int64(), -r.Int64()), asOf)
		if err != nil {
			t.Fatal(err)
		}
		if want := rows[:min(n, 6)]; len(st.Rows) != len(want) || (n > 0 && !reflect.DeepEqual(st.Rows, want)) {
			t.Fatalf("rows differ:\n got %+v\nwant %+v", st.Rows, want)
		}
	}
}

func BenchmarkDecodePension(b *testing.B) {
	rows := make([]PensionRow, 6)
	for i := range rows {
		rows[i] = PensionRow{EntryID: int64(1_000_000 + i), Year: 2026, Month: 1 + i, Kind: KindEmployer, Unit: "中華郵政股份有限公司臺北郵局", Amount: 2_742}
	}
	blob := AppendPension(nil, rows, 1_234_567, 89_012)
	asOf := day("2026-11-30")
	b.ReportAllocs()
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		if _, err := DecodePension(blob, asOf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeInsurance(b *testing.B) {
	rows := make([]InsuranceRow, 6)
	for i := range rows {
		rows[i] = InsuranceRow{EntryID: int64(1_000 + i), Date: day("2020-01-01").AddDate(0, i, 0), Kind: KindSalaryChange, Unit: "中華郵政股份有限公司臺北郵局", Salary: 45_800}
	}
	blob := AppendInsurance(nil, rows, Cover{ClosedDays: 3000, Open: true, OpenSince: day("2015-03-01")})
	asOf := day("2026-11-30")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInsurance(blob, asOf); err != nil {
			b.Fatal(err)
		}
	}
}
