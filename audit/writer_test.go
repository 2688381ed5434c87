package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/ledger/pgtest"
)

// stored is the audit_log table: id → response code.
func stored(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := pgtest.Connect(t, dbURL)
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

// proxy stands between the writer and PostgreSQL so that a test can cut
// the database off (down: connections reset, new ones refused) and bring
// it back (up), on the same address, or mute it (the server's replies are
// dropped: a statement is executed and committed, its client never hears).
type proxy struct {
	t      *testing.T
	target string
	addr   string
	muted  atomic.Bool

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
			go func() { defer p.wg.Done(); p.replies(c, s); c.Close() }()
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

// replies copies the server's bytes to the client, dropping them while muted.
func (p *proxy) replies(c, s net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && !p.muted.Load() {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
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

// write writes r and fails the test unless it is durable.
func write(t testing.TB, w *Writer, r Record) {
	t.Helper()
	if err := w.Write(context.Background(), r); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// The database goes away under a running writer and comes back: records
// written before, during and after all end up in the table exactly once,
// those of the outage through the spool, which is emptied afterwards.
func TestDatabaseDownAndBack(t *testing.T) {
	dbURL := database(t)
	pu, _ := url.Parse(dbURL)
	px := newProxy(t, pu.Host)
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	w, err := Open(context.Background(), Options{DatabaseURL: px.via(t, dbURL), SpoolDir: dir, BatchSize: 4,
		ProbeInterval: 50 * time.Millisecond, Timeout: 5 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	add := func(n int, rc string) {
		for i := 0; i < n; i++ {
			r := rec(fmt.Sprintf("dab-%d", len(want)), rc)
			r.STAN = fmt.Sprintf("%06d", len(want))
			write(t, w, r)
			want[r.ID] = rc
		}
	}
	add(10, "00")
	if st := w.Stats(); st.Written != 10 || st.Spooled != 0 {
		t.Fatalf("database up: %+v", st)
	}

	px.down()
	add(10, "91")
	st := w.Stats()
	if st.DatabaseUp || st.FailedBatches == 0 || st.Written != 10 || st.SpoolPending != 10 {
		t.Fatalf("database down: %+v", st)
	}
	if v := metrictest.Sum(t, reg, "atmgw_audit_spool_records"); v != 10 {
		t.Errorf("atmgw_audit_spool_records %v, want 10", v)
	}

	px.up()
	add(10, "00")
	testsync.WaitFor(t, "the spool replayed", func() bool { s := w.Stats(); return s.SpoolPending == 0 && s.Written == 30 })
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
		"atmgw_audit_database_up": 1, "atmgw_audit_write_errors_total": 0} {
		if g := metrictest.Sum(t, reg, name); g != v {
			t.Errorf("%s %v, want %v", name, g, v)
		}
	}
	// The outage's records, and those written before a probe found the database back.
	if v := metrictest.Sum(t, reg, "atmgw_audit_records_spooled_total"); v < 10 || v > 20 {
		t.Errorf("atmgw_audit_records_spooled_total %v, want 10 to 20", v)
	}
	if v := metrictest.Sum(t, reg, "atmgw_audit_batches_failed_total"); v < 1 {
		t.Errorf("atmgw_audit_batches_failed_total %v, want at least 1", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_audit_write_seconds"); v != 30 {
		t.Errorf("atmgw_audit_write_seconds counts %v writes, want 30", v)
	}
}

// Replaying a spool twice (a crash after the rows were written but before
// the file was truncated) stores every record once.
func TestReplayIsIdempotent(t *testing.T) {
	dbURL := database(t)
	dir := t.TempDir()
	var b []byte
	for i := 1; i <= 5; i++ {
		b = appendLine(b, rec(fmt.Sprintf("run1-%d", i), "00"))
	}
	writeOrphan(t, dir, "audit-aaaaaaaaaaaaaaaa.spool", b)
	open := func() Stats {
		w, err := Open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		testsync.WaitFor(t, "the adopted spool replayed", func() bool { return w.Stats().SpoolPending == 0 })
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

// writeAsync starts a Write; its outcome comes on the channel.
func writeAsync(ctx context.Context, w *Writer, r Record) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- w.Write(ctx, r) }()
	return ch
}

// Close writes what is queued to the database before it returns, and
// every queued Write then returns nil; a Write after Close fails.
func TestCloseWritesTheQueue(t *testing.T) {
	dbURL := database(t)
	dir := t.TempDir()
	// One batch in flight, so that the batches are 3, 3, 2: two writers
	// could each take the last records one by one.
	w, err := open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: dir, BatchSize: 3, writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	var outs []<-chan error
	for i := 0; i < 8; i++ {
		outs = append(outs, writeAsync(context.Background(), w, rec(fmt.Sprintf("q-%d", i), "00")))
	}
	// Nothing takes the queue yet.
	testsync.WaitFor(t, "8 records queued", func() bool { return w.Stats().Queued == 8 })
	closed := make(chan error, 1)
	go func() { closed <- w.Close(context.Background()) }()
	testsync.WaitFor(t, "Close begun", func() bool { w.mu.RLock(); defer w.mu.RUnlock(); return w.closed })
	w.start()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for i, ch := range outs {
		if err := <-ch; err != nil {
			t.Errorf("Write %d: %v", i, err)
		}
	}
	if got := stored(t, dbURL); len(got) != 8 {
		t.Errorf("table holds %d records after Close, want 8", len(got))
	}
	if st := w.Stats(); st.SpoolPending != 0 || st.Spooled != 0 || st.Batches != 3 {
		t.Errorf("%+v (want 3 batches: 3, 3, 2)", st)
	}
	if _, err := os.Stat(w.SpoolFile()); !os.IsNotExist(err) {
		t.Errorf("empty spool file kept: %v", err)
	}
	if err := w.Write(context.Background(), rec("late", "00")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if st := w.Stats(); st.WriteErrors != 1 {
		t.Errorf("a Write after Close not counted: %+v", st)
	}
}

// With the database down, Write returns once the record is in the spool
// file (read right after), Close keeps the file, and the next Open
// replays it.
func TestWriteWithTheDatabaseDownIsInTheSpool(t *testing.T) {
	dbURL := database(t)
	pu, _ := url.Parse(dbURL)
	px := newProxy(t, pu.Host)
	dir := t.TempDir()
	opts := Options{DatabaseURL: px.via(t, dbURL), SpoolDir: dir, ProbeInterval: time.Hour}
	w, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	px.down()
	for i := 0; i < 7; i++ {
		r := rec(fmt.Sprintf("down-%d", i), "91")
		write(t, w, r)
		b, err := os.ReadFile(w.SpoolFile())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, appendLine(nil, r)) {
			t.Fatalf("Write of %s returned; the spool file does not hold it:\n%s", r.ID, b)
		}
	}
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
	testsync.WaitFor(t, "the replay at start", func() bool { return w2.Stats().SpoolPending == 0 })
	w2.Close(context.Background())
	if got := stored(t, dbURL); len(got) != 7 {
		t.Errorf("table holds %d, want 7", len(got))
	}
}

// A database down at Open does not stop Open: records are spooled, and a
// probe finds the database once it is there.
func TestOpenWithTheDatabaseDown(t *testing.T) {
	dbURL := database(t)
	pu, _ := url.Parse(dbURL)
	px := newProxy(t, pu.Host)
	px.down()
	dir := t.TempDir()
	w, err := Open(context.Background(), Options{DatabaseURL: px.via(t, dbURL), SpoolDir: dir, ProbeInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if st := w.Stats(); st.DatabaseUp {
		t.Fatalf("database up with nothing there: %+v", st)
	}
	write(t, w, rec("early", "00"))
	if st := w.Stats(); st.SpoolPending != 1 || st.Spooled != 1 {
		t.Fatalf("%+v", st)
	}
	px.up()
	testsync.WaitFor(t, "the spool replayed", func() bool { return w.Stats().SpoolPending == 0 })
	write(t, w, rec("late", "00"))
	if got := stored(t, dbURL); len(got) != 2 {
		t.Errorf("table: %v", got)
	}
}

// Write returns only once the row is committed: another connection sees
// it right after, for sequential and concurrent writers alike. The
// connections are opened at Open (warm).
func TestWriteIsCommittedOnReturn(t *testing.T) {
	dbURL := database(t)
	w, err := Open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if st := w.Stats(); !st.DatabaseUp || len(w.conns) != w.opts.writers {
		t.Fatalf("Open left %d connections (want %d, warm): %+v", len(w.conns), w.opts.writers, st)
	}
	ctx := context.Background()
	c := pgtest.Connect(t, dbURL)
	var mu sync.Mutex
	there := func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE id = $1", id).Scan(&n); err != nil {
			t.Error(err)
		}
		return n == 1
	}
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("seq-%d", i)
		write(t, w, rec(id, "00"))
		if !there(id) {
			t.Fatalf("Write of %s returned before its row was committed", id)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("par-%d-%d", g, i)
				if err := w.Write(ctx, rec(id, "00")); err != nil {
					t.Error(err)
					return
				}
				if !there(id) {
					t.Errorf("Write of %s returned before its row was committed", id)
				}
			}
		}()
	}
	wg.Wait()
	if st := w.Stats(); st.Written != 180 || st.Spooled != 0 {
		t.Errorf("%+v", st)
	}
}

// Group commit: 64 concurrent writers share batches, in the database and
// in the spool: far fewer INSERTs (fsyncs) than records.
func TestGroupCommit(t *testing.T) {
	const writers, each = 64, 20
	run := func(t *testing.T, opts Options) (Stats, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		opts.Registerer = reg
		w, err := Open(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := 0; g < writers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if err := w.Write(context.Background(), rec("", "00")); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		st := w.Stats()
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if v := metrictest.Value(t, reg, "atmgw_audit_write_seconds"); v != writers*each {
			t.Errorf("atmgw_audit_write_seconds counts %v writes, want %d", v, writers*each)
		}
		return st, reg
	}
	t.Run("database", func(t *testing.T) {
		dbURL := database(t)
		st, reg := run(t, Options{DatabaseURL: dbURL, SpoolDir: t.TempDir()})
		t.Logf("%d records in %d INSERTs", st.Written, st.Batches)
		if st.Written != writers*each || st.Spooled != 0 {
			t.Fatalf("%+v", st)
		}
		if st.Batches*4 > st.Written {
			t.Errorf("%d INSERTs for %d records: not grouped", st.Batches, st.Written)
		}
		if v := metrictest.Value(t, reg, "atmgw_audit_batch_records", "to", "database"); v != float64(st.Batches) {
			t.Errorf("atmgw_audit_batch_records{to=database} counts %v batches, want %d", v, st.Batches)
		}
		if v := metrictest.Value(t, reg, "atmgw_audit_batches_total", "to", "database"); v != float64(st.Batches) {
			t.Errorf("atmgw_audit_batches_total{to=database} %v, want %d", v, st.Batches)
		}
		if got := stored(t, dbURL); len(got) != writers*each {
			t.Errorf("table holds %d", len(got))
		}
	})
	t.Run("spool", func(t *testing.T) {
		dir := t.TempDir()
		st, _ := run(t, Options{SpoolDir: dir})
		t.Logf("%d records in %d spool appends", st.Spooled, st.SpoolBatches)
		if st.Spooled != writers*each || st.SpoolBatches*4 > st.Spooled {
			t.Errorf("%d spool appends for %d records: not grouped", st.SpoolBatches, st.Spooled)
		}
		if n := len(spoolLines(t, dir)); n != writers*each {
			t.Errorf("spool holds %d", n)
		}
	})
}

// A batch the database committed but whose answer never came (the reply
// lost, the timeout passed) is spooled as well and replayed under the same
// ids: the table holds each record once.
func TestCommittedButTimedOut(t *testing.T) {
	dbURL := database(t)
	pu, _ := url.Parse(dbURL)
	px := newProxy(t, pu.Host)
	w, err := Open(context.Background(), Options{DatabaseURL: px.via(t, dbURL), SpoolDir: t.TempDir(),
		Timeout: 300 * time.Millisecond, ProbeInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	// Every connection has prepared the INSERT: the muted one executes it
	// (a first Parse would wait for its answer).
	for i := 0; i < 2*w.opts.writers; i++ {
		write(t, w, rec(fmt.Sprintf("before-%d", i), "00"))
	}
	px.muted.Store(true)
	write(t, w, rec("lost-reply", "00"))
	if st := w.Stats(); st.Spooled != 1 || st.FailedBatches != 1 || st.Written != uint64(2*w.opts.writers) {
		t.Fatalf("%+v", st)
	}
	testsync.WaitFor(t, "the statement committed without an answer", func() bool { return stored(t, dbURL)["lost-reply"] == "00" })
	px.muted.Store(false)
	testsync.WaitFor(t, "the spool replayed", func() bool { return w.Stats().SpoolPending == 0 })
	var n int
	ctx := context.Background()
	c := pgtest.Connect(t, dbURL)
	if err := c.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE id = 'lost-reply'").Scan(&n); err != nil || n != 1 {
		t.Errorf("lost-reply stored %d times (%v), want once", n, err)
	}
	if st := w.Stats(); st.Written != uint64(2*w.opts.writers) { // the replay stored nothing new; the lost reply's row is not counted
		t.Errorf("%+v", st)
	}
}

// A row the database refuses as invalid does not hold the others of its
// batch back nor block the replay: it goes to the rejected file, and its
// Write returns nil (the record is durable there).
func TestRefusedRowIsSetAside(t *testing.T) {
	dbURL := database(t)
	pgtest.Exec(t, dbURL, "ALTER TABLE audit_log ADD CONSTRAINT no_bad CHECK (terminal <> 'BAD')")
	dir := t.TempDir()
	// One batch in flight: with two, the second writer may take part of
	// the queue, and the five would not be one batch.
	w, err := open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: dir, BatchSize: 10, writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	var outs []<-chan error
	for i := 0; i < 5; i++ {
		r := rec(fmt.Sprintf("r-%d", i), "00")
		if i == 2 {
			r.Terminal = "BAD"
		}
		outs = append(outs, writeAsync(context.Background(), w, r))
	}
	testsync.WaitFor(t, "5 records queued", func() bool { return w.Stats().Queued == 5 })
	w.start() // one batch of five
	for _, ch := range outs {
		if err := <-ch; err != nil {
			t.Error(err)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Written != 4 || st.Rejected != 1 || st.SpoolPending != 0 || st.Batches != 1 {
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
	dbURL := database(t)
	w, err := Open(context.Background(), Options{DatabaseURL: dbURL, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := rec("f-1", "00")
	write(t, w, r)
	leak := rec("f-2", "14")
	leak.PANHash = "4711000000000001"
	leak.Terminal = "ATM\xff0001"
	write(t, w, leak)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := pgtest.Connect(t, dbURL)
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

// A connection that died while idle in the pool (the database restarted
// between two batches) costs a reconnect, not a spooled batch.
func TestDeadIdleConnectionIsReplaced(t *testing.T) {
	dbURL := database(t)
	pu, _ := url.Parse(dbURL)
	px := newProxy(t, pu.Host)
	w, err := Open(context.Background(), Options{DatabaseURL: px.via(t, dbURL), SpoolDir: t.TempDir(), ProbeInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	write(t, w, rec("before", "00"))
	px.down() // every connection reset
	px.up()
	write(t, w, rec("after", "00"))
	if st := w.Stats(); st.Spooled != 0 || st.FailedBatches != 0 || st.Written != 2 || !st.DatabaseUp {
		t.Errorf("%+v", st)
	}
}
