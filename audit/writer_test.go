package audit

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
)

// auditDB is a fresh migrated database of the test server.
func auditDB(t *testing.T) string {
	t.Helper()
	u := pgtest.NewDatabase(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, u, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := postgres.Migrate(ctx, st.Pool()); err != nil {
		t.Fatal(err)
	}
	return u
}

// stored is the audit_log table: id → response code.
func stored(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT id, response_code FROM audit_log")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var id, rc string
		if err := rows.Scan(&id, &rc); err != nil {
			t.Fatal(err)
		}
		out[id] = rc
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func dbExec(t *testing.T, dbURL, sql string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

// proxy stands between the writer and PostgreSQL so that a test can cut
// the database off (down: connections reset, new ones refused) and bring
// it back (up), on the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	l     net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up() {
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.l, p.addr = l, l.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[s] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
			go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// via is dbURL with its host and port replaced by the proxy's.
func (p *proxy) via(t *testing.T, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.addr
	return u.String()
}

// The database goes away under a running writer and comes back: records
// written before, during and after all end up in the table exactly once,
// those of the outage through the spool, which is emptied afterwards.
func TestDatabaseDownAndBack(t *testing.T) {
	dbURL := auditDB(t)
	pu, _ := url.Parse(dbURL)
	px := newProxy(t, pu.Host)
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	w, err := Open(context.Background(), Options{DatabaseURL: px.via(t, dbURL), SpoolDir: dir, BatchSize: 4,
		FlushInterval: 10 * time.Millisecond, ProbeInterval: 50 * time.Millisecond, Timeout: 5 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	add := func(n int, rc string) {
		for i := 0; i < n; i++ {
			r := rec("", rc)
			r.STAN = fmt.Sprintf("%06d", len(want))
			w.Add(r)
			want[w.prefix+"-"+fmt.Sprint(w.seq.Load())] = rc
		}
	}
	add(10, "00")
	waitFor(t, "10 records written", func() bool { return w.Stats().Written == 10 })

	px.down()
	add(10, "91")
	waitFor(t, "the outage's records spooled", func() bool { return w.Stats().SpoolPending == 10 })
	st := w.Stats()
	if st.DatabaseUp || st.FailedBatches == 0 || st.Written != 10 {
		t.Fatalf("database down: %+v", st)
	}
	if v := metrictest.Sum(t, reg, "atmgw_audit_spool_records"); v != 10 {
		t.Errorf("atmgw_audit_spool_records %v, want 10", v)
	}

	px.up()
	add(10, "00")
	waitFor(t, "the spool replayed", func() bool { s := w.Stats(); return s.SpoolPending == 0 && s.Written == 30 })
	if got := stored(t, dbURL); len(got) != 30 {
		t.Errorf("table holds %d records, want 30", len(got))
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := stored(t, dbURL)
	if len(got) != len(want) {
		t.Errorf("table holds %d records, want %d", len(got), len(want))
	}
	for id, rc := range want {
		if got[id] != rc {
			t.Errorf("record %s: code %q, want %q", id, got[id], rc)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("spool directory not empty after a clean close: %v", files)
	}
	for name, v := range map[string]float64{"atmgw_audit_spool_records": 0, "atmgw_audit_records_written_total": 30,
		"atmgw_audit_database_up": 1} {
		if g := metrictest.Sum(t, reg, name); g != v {
			t.Errorf("%s %v, want %v", name, g, v)
		}
	}
	// The outage's records, and those added before a probe found the database back.
	if v := metrictest.Sum(t, reg, "atmgw_audit_records_spooled_total"); v < 10 || v > 20 {
		t.Errorf("atmgw_audit_records_spooled_total %v, want 10 to 20", v)
	}
	if v := metrictest.Sum(t, reg, "atmgw_audit_batches_failed_total"); v < 1 {
		t.Errorf("atmgw_audit_batches_failed_total %v, want at least 1", v)
	}
}

// Replaying a spool twice (a crash after the rows were written but before
// the file was truncated) stores every record once.
func TestReplayIsIdempotent(t *testing.T) {
	dbURL := auditDB(t)
	dir := t.TempDir()
	var b []byte
	for i := 1; i <= 5; i++ {
		b = appendLine(b, rec(fmt.Sprintf("run1-%d", i), "00"))
	}
	writeOrphan(t, dir, "audit-aaaaaaaaaaaaaaaa.spool", b)
	open := func() Stats {
		w, err := Open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: dir, FlushInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the adopted spool replayed", func() bool { return w.Stats().SpoolPending == 0 })
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return w.Stats()
	}
	if st := open(); st.Written != 5 {
		t.Errorf("first replay wrote %d, want 5", st.Written)
	}
	// The same five again, and one more.
	b = appendLine(b, rec("run1-6", "14"))
	writeOrphan(t, dir, "audit-bbbbbbbbbbbbbbbb.spool", b)
	if st := open(); st.Written != 1 {
		t.Errorf("second replay wrote %d, want 1 (the five others are there already)", st.Written)
	}
	got := stored(t, dbURL)
	if len(got) != 6 || got["run1-6"] != "14" {
		t.Errorf("table: %v", got)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, spoolGlob)); len(files) != 0 {
		t.Errorf("spool files left: %v", files)
	}
}

// Close with the database up writes the buffer (and what the buffer-full
// path spooled) to the database: nothing waits for a flush interval.
func TestCloseFlushesToTheDatabase(t *testing.T) {
	dbURL := auditDB(t)
	dir := t.TempDir()
	w, err := open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: dir, Buffer: 5, BatchSize: 100, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		w.Add(rec("", "00"))
	}
	go w.run()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, dbURL); len(got) != 8 {
		t.Errorf("table holds %d records after Close, want 8", len(got))
	}
	if st := w.Stats(); st.SpoolPending != 0 || st.BufferFull != 3 {
		t.Errorf("%+v", st)
	}
	if _, err := os.Stat(w.SpoolFile()); !os.IsNotExist(err) {
		t.Errorf("empty spool file kept: %v", err)
	}
}

// Close with the database gone spools the buffer; the next Open replays it.
func TestCloseWithTheDatabaseDownSpools(t *testing.T) {
	dbURL := auditDB(t)
	pu, _ := url.Parse(dbURL)
	px := newProxy(t, pu.Host)
	dir := t.TempDir()
	opts := Options{DatabaseURL: px.via(t, dbURL), SpoolDir: dir, FlushInterval: time.Hour, ProbeInterval: 20 * time.Millisecond}
	w, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		w.Add(rec("", "91"))
	}
	px.down()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(spoolLines(t, dir)); n != 7 {
		t.Fatalf("spool holds %d records after Close with the database down, want 7", n)
	}
	px.up()
	w2, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay at start", func() bool { return w2.Stats().SpoolPending == 0 })
	w2.Close(context.Background())
	if got := stored(t, dbURL); len(got) != 7 {
		t.Errorf("table holds %d, want 7", len(got))
	}
}

// A row the database refuses as invalid does not hold the others back
// nor block the replay: it goes to the rejected file.
func TestRefusedRowIsSetAside(t *testing.T) {
	dbURL := auditDB(t)
	dbExec(t, dbURL, "ALTER TABLE audit_log ADD CONSTRAINT no_bad CHECK (terminal <> 'BAD')")
	dir := t.TempDir()
	w, err := Open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: dir, BatchSize: 10, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		r := rec(fmt.Sprintf("r-%d", i), "00")
		if i == 2 {
			r.Terminal = "BAD"
		}
		w.Add(r)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Written != 4 || st.Rejected != 1 || st.SpoolPending != 0 {
		t.Errorf("%+v", st)
	}
	if got := stored(t, dbURL); len(got) != 4 || got["r-2"] != "" {
		t.Errorf("table: %v", got)
	}
	b, err := os.ReadFile(filepath.Join(dir, rejectedName))
	if err != nil || !strings.Contains(string(b), `"id":"r-2"`) || strings.Count(string(b), "\n") != 1 {
		t.Errorf("rejected file: %v %q", err, b)
	}
}

// Fields come out of the table as they went in; a PAN never gets there.
func TestStoredFields(t *testing.T) {
	dbURL := auditDB(t)
	w, err := Open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := rec("f-1", "00")
	w.Add(r)
	leak := rec("f-2", "14")
	leak.PANHash = "4711000000000001"
	leak.Terminal = "ATM\xff0001"
	w.Add(leak)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var got Record
	var lat int64
	if err := c.QueryRow(ctx, `SELECT id, at, institution, terminal, stan, rrn, service, pan_hash, response_code, latency_us
		FROM audit_log WHERE id = 'f-1'`).Scan(&got.ID, &got.Time, &got.Institution, &got.Terminal, &got.STAN, &got.RRN,
		&got.Service, &got.PANHash, &got.ResponseCode, &lat); err != nil {
		t.Fatal(err)
	}
	got.Latency = time.Duration(lat) * time.Microsecond
	got.Time = got.Time.UTC()
	if got != r {
		t.Errorf("stored\n%+v\nwant\n%+v", got, r)
	}
	var pan, term string
	if err := c.QueryRow(ctx, "SELECT pan_hash, terminal FROM audit_log WHERE id = 'f-2'").Scan(&pan, &term); err != nil {
		t.Fatal(err)
	}
	if pan != "" || term != "ATM\uFFFD0001" {
		t.Errorf("pan_hash %q, terminal %q", pan, term)
	}
}
