package postgres_test

import (
	"strings"
	"testing"

	"github.com/bli/atmgw/ledger/postgres"
	"github.com/bli/atmgw/ledger/storetest"
)

// A delta load (files holding only new rows of persons already loaded)
// restates those persons from all their rows: the answers are those of the
// whole ledger.
func TestDeltaLoadRestates(t *testing.T) {
	h := storetest.Hasher()
	st := migrated(t)
	l := storetest.Random(7, 40)
	load(t, st, l.Files(), h)

	delta := &storetest.Ledger{AsOf: "2026-11-30"}
	for i, p := range l.Persons[:10] {
		delta.Pension = append(delta.Pension,
			storetest.PensionRow{EntryID: int64(9_000_000 + 2*i), ID: p.ID, Period: "2026-11", Kind: "employer", Unit: "新公司", Amount: 2742},
			storetest.PensionRow{EntryID: int64(9_000_001 + 2*i), ID: p.ID, Period: "2026-11", Kind: "earnings", Amount: -17})
		delta.Insurance = append(delta.Insurance,
			storetest.InsuranceRow{EntryID: int64(9_000_000 + i), ID: p.ID, Date: "2026-11-02", Kind: "enroll", Unit: "新公司", Salary: 45800})
	}
	if rep := load(t, st, delta.Files(), h); len(rep.Errors) > 0 {
		t.Fatal(rep.Errors)
	}
	l.AsOf = delta.AsOf
	l.Pension = append(l.Pension, delta.Pension...)
	l.Insurance = append(l.Insurance, delta.Insurance...)
	storetest.Check(t, st, l, h)
}

// A database migrated from before the ready-made statements (schema 3, the
// ledger loaded) gets them computed by atmgw migrate; a person whose
// statement is missing makes Check refuse to serve until a load computes it.
func TestMigrateComputesStatements(t *testing.T) {
	h := storetest.Hasher()
	st := migrated(t)
	l := storetest.Hand()
	load(t, st, l.Files(), h)
	ctx := ctxT(t)

	// Back to schema 3 (what 0004 changed), the ledger rows kept.
	if _, err := st.Pool().Exec(ctx, `ALTER TABLE persons DROP COLUMN pension, DROP COLUMN insurance;
		CREATE TABLE person_totals (national_id text PRIMARY KEY);
		DELETE FROM schema_migrations WHERE version >= 4`); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(ctx); err == nil || !strings.Contains(err.Error(), "run atmgw migrate") {
		t.Fatalf("Check at schema 3: %v", err)
	}
	n, err := postgres.Migrate(ctx, st.Pool())
	if err != nil || n != postgres.SchemaVersion()-3 {
		t.Fatalf("migrate: %d, %v", n, err)
	}
	if err := st.Check(ctx); err != nil {
		t.Fatalf("Check after migrate: %v", err)
	}
	storetest.Check(t, st, l, h)

	// A statement gone: Check refuses, a load (the same files) computes it.
	if _, err := st.Pool().Exec(ctx, `UPDATE persons SET insurance = NULL WHERE national_id = 'A100000001'`); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(ctx); err == nil || !strings.Contains(err.Error(), "run atmgw load") {
		t.Fatalf("Check with a statement missing: %v", err)
	}
	load(t, st, l.Files(), h)
	if err := st.Check(ctx); err != nil {
		t.Fatalf("Check after load: %v", err)
	}
	storetest.Check(t, st, l, h)
}
