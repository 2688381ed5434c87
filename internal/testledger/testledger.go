// Package testledger gives tests a ledger database: the schema (Migrate,
// Database) and a small set of load files in which every decision of the
// partner interface has a card (Write, Load), for the tests that run a
// whole gateway on PostgreSQL.
package testledger

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
)

// The cards: every row of the decision table has one.
const (
	PanOK        = "4711000000000001" // 700, both services, 8 pension rows, 7 insurance events
	PanMAC       = "4711000000000002" // 812 (keyed), both
	PanPensOnly  = "4711000000000003" // 005, pension only
	PanRevoked   = "4711000000000004" // 012, revoked
	PanMismatch  = "4711000000000005" // 700, name differs
	PanNoPerson  = "4711000000000006" // 700, national id not in persons
	PanEmpty     = "4711000000000007" // 808, person without rows
	PanOtherInst = "4711000000000008" // consent at 007 only
	PanRate      = "4711000000000009" // 700, for the rate limit
)

// Write writes the five load files into dir.
func Write(t testing.TB, dir string) {
	t.Helper()
	files := map[string]string{
		"as_of.txt": "2026-10-31\n",
		"persons.csv": "national_id,name,birth_date\n" +
			"A100000001,王小明,1985-06-15\n" +
			"B200000002,陳美玲,1990-02-28\n" +
			"C100000003,林志豪,1978-11-02\n",
		"pension_ledger.csv": "entry_id,national_id,period,kind,unit_name,amount\n" +
			"1,A100000001,2025-01,employer,甲公司,3000\n" +
			"2,A100000001,2025-02,employer,甲公司,3000\n" +
			"3,A100000001,2025-03,voluntary,甲公司,1500\n" +
			"4,A100000001,2025-12,earnings,,812\n" +
			"5,A100000001,2026-01,settlement,乙公司,100000\n" +
			"6,A100000001,2026-02,adjustment,乙公司,-200\n" +
			"7,A100000001,2026-03,employer,乙公司,3600\n" +
			"8,A100000001,2026-04,employer,乙公司,3600\n" +
			"9,B200000002,2026-04,employer,丙商行,1200\n",
		"insurance_events.csv": "entry_id,national_id,event_date,kind,unit_name,insured_salary\n" +
			"1,A100000001,2010-07-01,enroll,甲公司,26400\n" +
			"2,A100000001,2012-01-01,salary_change,甲公司,30300\n" +
			"3,A100000001,2015-06-30,withdraw,甲公司,30300\n" +
			"4,A100000001,2015-03-01,enroll,乙公司,36300\n" +
			"5,A100000001,2018-12-31,withdraw,乙公司,36300\n" +
			"6,A100000001,2019-03-01,enroll,丙商行,40100\n" +
			"7,A100000001,2024-01-01,salary_change,丙商行,45800\n" +
			"8,B200000002,2020-01-01,enroll,丙商行,27470\n",
		"consents.csv": "institution,pan,national_id,name,birth_date,services,signed_date,status\n" +
			"700," + PanOK + ",A100000001,王小明,1985-06-15,both,2026-01-05,active\n" +
			"812," + PanMAC + ",A100000001,王小明,1985-06-15,both,2026-01-05,active\n" +
			"005," + PanPensOnly + ",B200000002,陳美玲,1990-02-28,pension,2026-02-01,active\n" +
			"012," + PanRevoked + ",A100000001,王小明,1985-06-15,both,2025-02-01,revoked\n" +
			"700," + PanMismatch + ",A100000001,王大明,1985-06-15,both,2026-01-05,active\n" +
			"700," + PanNoPerson + ",Z999999999,無此人,1980-01-01,both,2026-01-05,active\n" +
			"808," + PanEmpty + ",C100000003,林志豪,1978-11-02,both,2026-03-01,active\n" +
			"007," + PanOtherInst + ",C100000003,林志豪,1978-11-02,both,2026-03-01,active\n" +
			"700," + PanRate + ",B200000002,陳美玲,1990-02-28,both,2026-02-01,active\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// DemoKey is the PAN hash key of the built-in configuration (config.DemoPANKey).
func DemoKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// Database is a fresh database on the test server (pgtest.NewDatabase)
// with the schema.
func Database(t testing.TB) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	Migrate(t, url)
	return url
}

// Migrate creates the schema (as atmgw migrate does) in the database at
// url, failing the test on an error.
func Migrate(t testing.TB, url string) {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := postgres.Migrate(ctx, st.Pool()); err != nil {
		t.Fatal(err)
	}
}

// Load migrates the database at url and loads these files into it under
// the demo PAN key, failing the test on any error or refused row.
func Load(t testing.TB, url string) {
	t.Helper()
	Migrate(t, url)
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	Write(t, dir)
	h, err := card.NewPANHasher(DemoKey())
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := postgres.Load(ctx, st.Pool(), dir, h, nil); err != nil || len(rep.Errors) > 0 {
		t.Fatalf("load: %v %v", err, rep.Errors)
	}
}
