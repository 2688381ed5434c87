package loadfile_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/ledger/loadfile"
	"github.com/bli/atmgw/ledger/storetest"
)

func TestReadFSRefusesBadRowsKeepsGoodOnes(t *testing.T) {
	b := storetest.Bad()
	h := storetest.Hasher()
	ds, rep, err := loadfile.ReadFS(context.Background(), b.Files, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Check(t, rep)
	if len(ds.Persons) != 2 || len(ds.Pension) != 3 || len(ds.Insurance) != 2 || len(ds.Consents) != 2 {
		t.Fatalf("good rows: %d %d %d %d", len(ds.Persons), len(ds.Pension), len(ds.Insurance), len(ds.Consents))
	}
	if p := ds.Persons[1]; p.NationalID != "F100000006" || p.Name != `吳"小"美` {
		t.Errorf("quoted name: %+v", p)
	}
	if r := ds.Pension[2]; r.EntryID != 10 || r.NationalID != "A100000001" {
		t.Errorf("lower-case national ID not made upper-case: %+v", r)
	}
	for _, c := range ds.Consents {
		if c.PANHash == "4711000000000001" || len(c.PANHash) != 64 {
			t.Errorf("consent keeps %q, want the hash", c.PANHash)
		}
	}
	if ds.Consents[0].PANHash != h.Hash("4711000000000001") {
		t.Errorf("PAN hash differs from card.PANHasher's")
	}
	m := demo.NewMemory(ds)
	a, err := m.Inquire(context.Background(), ledger.Query{Institution: "700", PANHash: h.Hash("4711000000000001"), Service: card.ServicePension})
	if err != nil || a.Pension == nil || len(a.Pension.Rows) != 3 || a.Pension.Contributions != 3200 || a.Pension.Earnings != -50 {
		t.Fatalf("the good rows are not what the store answers: %+v %v", a.Pension, err)
	}
}

func TestReadFSStopsOnWholeFileErrors(t *testing.T) {
	good := storetest.Hand().Files()
	cases := []struct {
		name, file, body, want string
	}{
		{"missing file", "consents.csv", "", "consents.csv"},
		{"empty file", "persons.csv", "", "persons.csv: empty file"},
		{"wrong header", "pension_ledger.csv", "entry_id,national_id,kind,period,unit_name,amount\n", "pension_ledger.csv:1: header must be entry_id,national_id,period,kind,unit_name,amount: column 3 is not period"},
		{"no header row", "persons.csv", "A100000001,王小明,1985-06-15\n", "column 1 is not national_id (is the header row missing?)"},
		{"extra column", "persons.csv", "national_id,name,birth_date,extra\n", "4 columns, want 3"},
		{"as-of not a date", "as_of.txt", "31/10/2026\n", "as_of.txt:1: as-of date \"31/10/2026\" is not a date"},
		{"as-of two lines", "as_of.txt", "2026-10-31\n2026-11-01\n", "as_of.txt:2"},
		{"as-of empty", "as_of.txt", "\n", "as_of.txt:1: empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := fstest.MapFS{}
			for k, v := range good {
				files[k] = v
			}
			if c.name == "missing file" {
				delete(files, c.file)
			} else {
				files[c.file] = &fstest.MapFile{Data: []byte(c.body)}
			}
			ds, _, err := loadfile.ReadFS(context.Background(), files, storetest.Hasher(), nil)
			if err == nil || ds != nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want %q", err, c.want)
			}
			if c.name == "missing file" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v is not fs.ErrNotExist", err)
			}
			if strings.Contains(err.Error(), "A100000001") {
				t.Errorf("a national ID in clear: %v", err)
			}
		})
	}
}

func TestReadFSProgressAndCancel(t *testing.T) {
	l := storetest.Random(7, 2000)
	var calls []string
	var last int64
	_, rep, err := loadfile.ReadFS(context.Background(), l.Files(), storetest.Hasher(), func(file string, rows int64) {
		calls = append(calls, file)
		if file == loadfile.FilePension {
			last = rows
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 5 || last != rep.File(loadfile.FilePension).Rows {
		t.Errorf("progress calls %d, last pension count %d of %d", len(calls), last, rep.File(loadfile.FilePension).Rows)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := loadfile.ReadFS(ctx, l.Files(), storetest.Hasher(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestReportSummary(t *testing.T) {
	b := storetest.Bad()
	_, rep, err := loadfile.ReadFS(context.Background(), b.Files, storetest.Hasher(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary()
	for _, want := range []string{"as of 2026-10-31", "persons.csv", "9 rows", "2 accepted", "7 refused", "31 row(s) refused"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	e := loadfile.RowError{File: "persons.csv", Line: 3, Reason: "x"}
	if e.Error() != "persons.csv:3: x" {
		t.Errorf("RowError %q", e.Error())
	}
}

func TestSortRowErrors(t *testing.T) {
	e := func(f string, l int, r string) loadfile.RowError {
		return loadfile.RowError{File: f, Line: l, Reason: r}
	}
	es := []loadfile.RowError{e(loadfile.FileConsents, 2, "a"), e(loadfile.FilePersons, 10, "b"), e(loadfile.FilePension, 3, "c"), e(loadfile.FilePersons, 9, "d")}
	loadfile.SortRowErrors(es)
	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}
	want := "persons.csv:9: d persons.csv:10: b pension_ledger.csv:3: c consents.csv:2: a"
	if strings.Join(got, " ") != want {
		t.Errorf("%v", got)
	}
}

func TestEventOnAsOfAccepted(t *testing.T) {
	r, err := loadfile.NewInsuranceReader(strings.NewReader("entry_id,national_id,event_date,kind,unit_name,insured_salary\n1,A100000001,2026-10-31,enroll,甲,1\n"),
		time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), func(e loadfile.RowError) { t.Errorf("refused: %v", e) })
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() || r.Row().Kind != ledger.KindEnroll || r.Line() != 2 || r.Next() || r.Err() != nil {
		t.Errorf("row %+v err %v", r.Row(), r.Err())
	}
}
