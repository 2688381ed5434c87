package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	neturl "net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/ledger/loadfile"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
	"github.com/bli/atmgw/ledger/storetest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// migrated opens a fresh database with the schema.
func migrated(t testing.TB) *postgres.Store {
	t.Helper()
	ctx := ctxT(t)
	st, err := postgres.Open(ctx, pgtest.NewDatabase(t), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := postgres.Migrate(ctx, st.Pool()); err != nil {
		t.Fatal(err)
	}
	return st
}

func load(t testing.TB, st *postgres.Store, files fs.FS, h *card.PANHasher) loadfile.Report {
	t.Helper()
	rep, err := postgres.LoadFS(ctxT(t), st.Pool(), files, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, files fs.FS, h *card.PANHasher) ledger.Store {
		st := migrated(t)
		if rep := load(t, st, files, h); len(rep.Errors) > 0 {
			t.Fatalf("refused rows: %v", rep.Errors)
		}
		return st
	})
}

func TestMigrate(t *testing.T) {
	ctx := ctxT(t)
	st, err := postgres.Open(ctx, pgtest.NewDatabase(t), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(ctx); err == nil || !strings.Contains(err.Error(), "atmgw migrate") {
		t.Errorf("check of an empty database: %v", err)
	}
	// Two migrators at once: one applies, the other finds nothing to do.
	var wg sync.WaitGroup
	applied := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = postgres.Migrate(ctx, st.Pool())
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || applied[0]+applied[1] != postgres.SchemaVersion() {
		t.Fatalf("concurrent migrations: %v %v, applied %v", errs[0], errs[1], applied)
	}
	if n, err := postgres.Migrate(ctx, st.Pool()); n != 0 || err != nil {
		t.Errorf("second migration: %d %v", n, err)
	}
	if err := st.Check(ctx); err == nil || !strings.Contains(err.Error(), "atmgw load") {
		t.Errorf("check of an empty ledger: %v", err)
	}
	load(t, st, storetest.Hand().Files(), storetest.Hasher())
	if err := st.Check(ctx); err != nil {
		t.Errorf("check of a loaded ledger: %v", err)
	}
	// A schema newer than the binary is refused.
	if _, err := st.Pool().Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, st.Pool()); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("newer schema: %v", err)
	}
}

// snapshot is every row of every ledger table, in a fixed order.
func snapshot(t *testing.T, st *postgres.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for table, key := range map[string]string{
		"persons": "national_id", "pension_ledger": "entry_id", "insurance_events": "entry_id",
		"consents": "institution, pan_hash", "ledger_meta": "as_of",
	} {
		var s *string
		err := st.Pool().QueryRow(ctxT(t), "SELECT string_agg(t::text, E'\\n' ORDER BY "+key+") FROM "+table+" t").Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			out[table] = *s
		}
	}
	return out
}

func TestLoadBadRows(t *testing.T) {
	b := storetest.Bad()
	h := storetest.Hasher()
	st := migrated(t)
	rep := load(t, st, b.Files, h)
	b.Check(t, rep)

	// The same report as the in-memory reader's, refusal for refusal.
	_, mrep, err := loadfile.ReadFS(ctxT(t), b.Files, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) == len(mrep.Errors) {
		for i := range rep.Errors {
			if rep.Errors[i] != mrep.Errors[i] {
				t.Errorf("PostgreSQL %v, memory %v", rep.Errors[i], mrep.Errors[i])
			}
		}
	}
	for _, f := range rep.Files {
		if f.Changed != f.Accepted {
			t.Errorf("%s: first load changed %d of %d", f.File, f.Changed, f.Accepted)
		}
	}

	// The good rows are there.
	a, err := st.Inquire(ctxT(t), ledger.Query{Institution: "700", PANHash: h.Hash("4711000000000001"), Service: card.ServicePension})
	if err != nil || a.Pension == nil || len(a.Pension.Rows) != 3 || a.Pension.Contributions != 3200 || a.Pension.Earnings != -50 {
		t.Fatalf("good rows: %+v %v", a.Pension, err)
	}

	// Loading again changes nothing.
	before := snapshot(t, st)
	rep2 := load(t, st, b.Files, h)
	if rep2.Summary() != rep.Summary() || len(rep2.Errors) != len(rep.Errors) {
		t.Errorf("second report differs:\n%s\n%s", rep2.Summary(), rep.Summary())
	}
	for _, f := range rep2.Files {
		if f.Changed != 0 {
			t.Errorf("%s: second load changed %d rows", f.File, f.Changed)
		}
	}
	after := snapshot(t, st)
	if len(after) != 5 {
		t.Errorf("tables with rows: %d", len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed on reload:\n%s\n%s", k, v, after[k])
		}
	}

	// No PAN in clear anywhere in the database.
	for table, rows := range after {
		for _, s := range b.Secrets {
			if strings.Count(s, "-") == 0 && len(s) >= 12 && strings.Contains(rows, s) {
				t.Errorf("%s holds %s in clear", table, card.MaskPAN(s))
			}
		}
	}
	var hashes []string
	r, err := st.Pool().Query(ctxT(t), "SELECT pan_hash FROM consents")
	if err == nil {
		hashes, err = pgx.CollectRows(r, pgx.RowTo[string])
	}
	if err != nil || len(hashes) != 2 {
		t.Fatalf("consents: %v %v", hashes, err)
	}
	for _, hh := range hashes {
		if hh != h.Hash("4711000000000001") && hh != h.Hash("4711000000000004") {
			t.Errorf("pan_hash %q is not the keyed hash of a good row's PAN", hh)
		}
	}
}

func TestLoadUpdatesAndRecomputes(t *testing.T) {
	h := storetest.Hasher()
	st := migrated(t)
	l := storetest.Hand()
	load(t, st, l.Files(), h)

	// The next export: an amount corrected, a row moved to another person,
	// A's open unit withdrawn, a new person, a consent revoked, a later
	// as-of date.
	l.AsOf = "2026-11-30"
	l.Pension[1].Amount = 3100     // entry 10 of A
	l.Pension[9].ID = "B200000002" // entry 30 moves from C to B
	l.Insurance = append(l.Insurance, storetest.InsuranceRow{EntryID: 900, ID: "A100000001", Date: "2026-11-15", Kind: "withdraw", Unit: "己", Salary: 45800})
	l.Persons = append(l.Persons, storetest.Person{ID: "F100000006", Name: "新人", Birth: "2000-01-01"})
	l.Consents = append(l.Consents, storetest.Consent{Inst: "700", PAN: "4000000000000010", ID: "F100000006", Name: "新人", Birth: "2000-01-01", Services: "both", Signed: "2026-11-01", Status: "active"})
	l.Consents[0].Status = "revoked"
	rep := load(t, st, l.Files(), h)
	if len(rep.Errors) > 0 {
		t.Fatal(rep.Errors)
	}
	changed := map[string]int64{}
	for _, f := range rep.Files {
		changed[f.File] = f.Changed
	}
	if changed[loadfile.FilePersons] != 1 || changed[loadfile.FilePension] != 2 || changed[loadfile.FileInsurance] != 1 || changed[loadfile.FileConsents] != 2 {
		t.Errorf("changed %v", changed)
	}
	// Every answer is what the new files alone give.
	storetest.Check(t, st, l, h)

	// An older export is refused, and changes nothing.
	before := snapshot(t, st)
	l.AsOf = "2026-10-31"
	if _, err := postgres.LoadFS(ctxT(t), st.Pool(), l.Files(), h, nil); err == nil || !strings.Contains(err.Error(), "before the as-of date already loaded") {
		t.Errorf("older as-of: %v", err)
	}
	// So is a file with a wrong header, even after good rows of other files.
	l.AsOf = "2026-12-31"
	files := l.Files()
	files["consents.csv"] = &fstest.MapFile{Data: []byte("institution,pan,national_id\n")}
	files["persons.csv"] = &fstest.MapFile{Data: []byte("national_id,name,birth_date\nG100000007,另一人,1999-09-09\n")}
	if _, err := postgres.LoadFS(ctxT(t), st.Pool(), files, h, nil); err == nil || !strings.Contains(err.Error(), "consents.csv:1: header") {
		t.Errorf("bad header: %v", err)
	}
	delete(files, "consents.csv")
	if _, err := postgres.LoadFS(ctxT(t), st.Pool(), files, h, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	after := snapshot(t, st)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed by a refused load", k)
		}
	}
}

func TestLoadProgress(t *testing.T) {
	st := migrated(t)
	l := storetest.Random(3, 1500)
	var mu sync.Mutex
	seen := map[string]int64{}
	rep, err := postgres.LoadFS(ctxT(t), st.Pool(), l.Files(), storetest.Hasher(), func(file string, rows int64) {
		mu.Lock()
		seen[file] = max(seen[file], rows)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Files {
		if seen[f.File] != f.Rows || f.Rows == 0 {
			t.Errorf("%s: progress saw %d rows of %d", f.File, seen[f.File], f.Rows)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := ctxT(t)
	_, err := postgres.Open(ctx, "postgres://nobody:secretpw@127.0.0.1:1/bli?connect_timeout=5", postgres.Options{})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1:1") || !strings.Contains(msg, "bli") || strings.Contains(msg, "secretpw") || strings.Contains(msg, "\n") {
		t.Errorf("unreachable: %q", msg)
	}
	if !errors.Is(err, postgres.ErrUnreachable) {
		t.Errorf("unreachable: %v does not wrap ErrUnreachable", err)
	}
	// Lazy: opened without a connection; the first call fails.
	lazy, err := postgres.Open(ctx, "postgres://nobody:secretpw@127.0.0.1:1/bli?connect_timeout=5", postgres.Options{Lazy: true})
	if err != nil {
		t.Fatalf("lazy open: %v", err)
	}
	if _, err := lazy.Inquire(ctx, ledger.Query{Institution: "700", PANHash: "x", Service: card.ServicePension}); err == nil {
		t.Errorf("inquiry on an unreachable database succeeded")
	}
	lazy.Close()
	for _, bad := range []string{"postgres://nobody:secretpw@127.0.0.1:notaport/bli", "host=127.0.0.1 port=abc password=secretpw"} {
		_, err = postgres.Open(ctx, bad, postgres.Options{})
		if err == nil || strings.Contains(err.Error(), "secretpw") || !strings.Contains(err.Error(), "not valid") || errors.Is(err, postgres.ErrUnreachable) {
			t.Errorf("bad URL: %v", err)
		}
	}
}

func TestPoolUnderConcurrency(t *testing.T) {
	h := storetest.Hasher()
	ctx := ctxT(t)
	url := pgtest.NewDatabase(t)
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, st.Pool()); err != nil {
		t.Fatal(err)
	}
	load(t, st, storetest.Hand().Files(), h)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				a, err := st.Inquire(ctx, ledger.Query{Institution: "700", PANHash: h.Hash("4000000000000001"), Service: card.ServiceInsurance})
				if err == nil && (a.Insurance == nil || a.Insurance.SeniorityDays != storetest.HandSeniorityA) {
					err = errors.New("wrong answer")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A cancelled inquiry leaves the pool usable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.Inquire(cctx, ledger.Query{Institution: "700", PANHash: "x", Service: card.ServicePension}); err == nil {
		t.Errorf("cancelled inquiry succeeded")
	}
	if err := st.Ping(ctx); err != nil {
		t.Errorf("ping after a cancelled inquiry: %v", err)
	}
	st.Close()
	if _, err := st.Inquire(ctx, ledger.Query{Institution: "700", PANHash: "x", Service: card.ServicePension}); !errors.Is(err, postgres.ErrPoolClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// The demo ledger loaded into PostgreSQL answers exactly as the embedded one.
func TestDemoSameAsMemory(t *testing.T) {
	h := storetest.Hasher()
	mem, err := demo.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	st := migrated(t)
	if rep := load(t, st, demo.Files(), h); len(rep.Errors) > 0 {
		t.Fatal(rep.Errors)
	}
	cards := []struct{ inst, pan string }{
		{"700", "4700123456789014"}, {"812", "4700123456789014"}, {"005", "6005000000000011"},
		{"007", "6007000000000012"}, {"012", "6012000000000013"}, {"808", "6808000000000014"},
		{"700", "4700999999999999"}, {"700", "4700888888888888"}, {"700", "4700000000000000"},
	}
	for _, c := range cards {
		for _, svc := range []card.Service{card.ServicePension, card.ServiceInsurance} {
			q := ledger.Query{Institution: c.inst, PANHash: h.Hash(c.pan), Service: svc}
			want, err1 := mem.Inquire(ctxT(t), q)
			got, err2 := st.Inquire(ctxT(t), q)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s %v:\nPostgreSQL %s %v\nmemory     %s %v", c.inst, card.MaskPAN(c.pan), svc, dump(got), err2, dump(want), err1)
			}
		}
	}
}

func dump(a ledger.Answer) string {
	return fmt.Sprintf("%+v %+v %+v %+v", a.Consent, a.Person, a.Pension, a.Insurance)
}

// preparedOnEach holds every connection of the pool at once and counts, on
// each, the inquiry statements prepared in its session.
func preparedOnEach(t *testing.T, st *postgres.Store) []int {
	t.Helper()
	ctx := ctxT(t)
	var out []int
	var conns []interface{ Release() }
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range st.Conns() {
		c, err := st.Pool().Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT c.national_id%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// Open with Warm opens every connection of the pool with the inquiry
// statements prepared on each before it returns, and every connection the
// pool makes later is prepared too; it refuses a database that cannot
// serve (as Check).
func TestWarm(t *testing.T) {
	ctx := ctxT(t)
	url := pgtest.NewDatabase(t)
	// No schema, then no ledger: refused as Check refuses.
	if _, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2, Warm: true}); err == nil || !strings.Contains(err.Error(), "atmgw migrate") {
		t.Errorf("warm without a schema: %v", err)
	}
	plain, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, plain.Pool()); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2, Warm: true}); err == nil || !strings.Contains(err.Error(), "atmgw load") {
		t.Errorf("warm without a ledger: %v", err)
	}
	h := storetest.Hasher()
	load(t, plain, storetest.Hand().Files(), h)
	plain.Close()

	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 5, Warm: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Conns() != 5 {
		t.Errorf("Conns %d", st.Conns())
	}
	if s := st.Pool().Stat(); s.TotalConns() != 5 || s.IdleConns() != 5 {
		t.Errorf("after a warm Open: %d connections, %d idle, want 5", s.TotalConns(), s.IdleConns())
	}
	for i, n := range preparedOnEach(t, st) {
		if n != 2 {
			t.Errorf("connection %d: %d inquiry statements prepared, want 2", i, n)
		}
	}
	if st.Pool().Stat().NewConnsCount() != 5 {
		t.Errorf("%d connections made, want the 5 of the warm-up", st.Pool().Stat().NewConnsCount())
	}
	// A connection that breaks is replaced by itself (the pool is kept
	// full), prepared.
	c, err := st.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Conn().Close(ctx)
	c.Release()
	deadline := time.Now().Add(20 * time.Second)
	for s := st.Pool().Stat(); s.NewConnsCount() < 6 || s.IdleConns() < 5; s = st.Pool().Stat() {
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not fill up again: %d connections, %d idle, %d made", s.TotalConns(), s.IdleConns(), s.NewConnsCount())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Connections made by an inquiry (every one dropped here) are
	// prepared as they are made.
	st.Pool().Reset()
	q := ledger.Query{Institution: "700", PANHash: h.Hash("4000000000000001"), Service: card.ServiceInsurance}
	if a, err := st.Inquire(ctx, q); err != nil || a.Insurance == nil || a.Insurance.SeniorityDays != storetest.HandSeniorityA {
		t.Fatalf("inquiry after a reset: %+v %v", a.Insurance, err)
	}
	for i, n := range preparedOnEach(t, st) {
		if n != 2 {
			t.Errorf("new connection %d: %d inquiry statements prepared, want 2", i, n)
		}
	}
	// Warming a warm store is harmless.
	if err := st.Warm(ctx); err != nil {
		t.Errorf("second warm-up: %v", err)
	}
}

// A database that answers but lets in fewer connections than the pool
// wants: Warm says how many opened, naming the key, and it is not
// ErrUnreachable (the gateway must not start and hide it).
func TestWarmTooFewConnections(t *testing.T) {
	ctx := ctxT(t)
	url := pgtest.NewDatabase(t)
	plain, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close) // after the role is dropped
	if _, err := postgres.Migrate(ctx, plain.Pool()); err != nil {
		t.Fatal(err)
	}
	load(t, plain, storetest.Hand().Files(), storetest.Hasher())
	role := "atmgw_warm_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))[len("testwarm"):] + fmt.Sprint(time.Now().UnixNano()%1_000_000)
	if _, err := plain.Pool().Exec(ctx, "CREATE ROLE "+role+" LOGIN CONNECTION LIMIT 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Pool().Exec(ctx, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		plain.Pool().Exec(context.Background(), "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "+role)
		plain.Pool().Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
	})
	u, err := neturl.Parse(url)
	if err != nil {
		t.Skipf("not a URL: %v", err)
	}
	u.User = neturl.User(role)
	_, err = postgres.Open(ctx, u.String(), postgres.Options{MaxConns: 4, Warm: true})
	// The pool tops itself up in the background from the start, so the
	// limit may already bite at Open's ping: then the database's own
	// refusal is the message.
	switch {
	case err == nil:
		t.Error("warm past the role's connection limit: no error")
	case strings.Contains(err.Error(), "of 4 connections (ledger.max_conns)"):
		if errors.Is(err, postgres.ErrUnreachable) {
			t.Errorf("warm past the role's connection limit: %v is ErrUnreachable", err)
		}
	case !strings.Contains(err.Error(), "too many connections"):
		t.Errorf("warm past the role's connection limit: %v", err)
	}
}
