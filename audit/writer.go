package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Defaults of Options.
const (
	DefaultBatchSize     = 500
	DefaultBuffer        = 10000
	DefaultProbeInterval = 5 * time.Second
	DefaultTimeout       = 5 * time.Second
)

// defaultWriters is the number of batches in flight: while one batch
// commits (or fsyncs), the records that arrive meanwhile go in a second
// one rather than waiting for the first (BenchmarkWrite measures it).
const defaultWriters = 2

// Options configure a Writer. Zero values take the defaults.
type Options struct {
	// DatabaseURL is the PostgreSQL database holding the audit_log table
	// (the ledger's). Empty: the spool is the trail (nothing is replayed).
	// Only a writable host is used (target_session_attrs=read-write).
	DatabaseURL string
	// SpoolDir holds the spool files (created if missing). Required.
	SpoolDir string
	// BatchSize is the most records one batch takes: one INSERT (one
	// commit) or one spool append (one fsync). A batch never waits to
	// fill: it takes what is queued, up to BatchSize, and goes.
	BatchSize int
	// Buffer is the most records queued for a batch. When the queue is
	// full, Write waits for room (until its ctx ends).
	Buffer int
	// ProbeInterval is how often a database found down is tried again.
	ProbeInterval time.Duration
	// Timeout bounds one database call (connect, a batch); a batch that
	// takes longer goes to the spool.
	Timeout time.Duration
	// Logger gets the writer's warnings (database down and back, spool
	// problems). Nil: none.
	Logger *zap.Logger
	// Registerer gets the atmgw_audit_* metrics. Nil: none.
	Registerer prometheus.Registerer

	writers int // batches in flight; 0: defaultWriters (tests and benchmarks set it)
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("audit: the audit trail is closed")

// Writer is the audit trail: Write from any goroutine, Close once at the end.
//
// The trail is write-ahead: Write returns only once its record is durable
// — committed in PostgreSQL, or appended to the spool and fsync'd — and the
// gateway sends the answer only then, so a crash (kill -9, power loss)
// loses no record of an answer that left. Write puts the record in a
// bounded queue (Options.Buffer) and waits for its batch. Two batch
// writers (two batches in flight, each on a connection of its own, opened
// at Open and kept warm) take what is queued, up to BatchSize, without
// waiting for more (group commit): one multi-row INSERT ... ON CONFLICT
// (id) DO NOTHING, one commit, for all the records that arrived while the
// previous batch was committing. An answer waits about one commit longer;
// throughput is that of batches (BenchmarkWrite). A connection that died
// idle (a database restart) is replaced once before the database counts as
// down. Every record carries a unique id (a random per-process prefix and
// a sequence), so writing a record twice stores it once: replays are
// idempotent.
//
// When the database is down, fails a batch or takes longer than Timeout,
// or there is none, the batch goes to the spool instead (see spool). A
// batch that failed or timed out may have been committed all the same
// (the answer lost on the way): it is spooled anyway and replayed under
// the same ids, and ON CONFLICT keeps one row. When neither the database
// nor the spool takes a record, Write returns an error (counted in
// atmgw_audit_write_errors_total) and the caller must not disclose the
// answer. The writer probes a database found down every ProbeInterval;
// once it answers, the spool is replayed oldest first, in batches, while
// new records keep going to the database, and the file is truncated when
// the replay has caught up.
//
// Without a database URL the spool is the trail itself (nothing is
// replayed); a later start with a database replays it. Rows the database
// refuses as invalid (never expected: fields are cleaned to valid UTF-8)
// go to audit-rejected.log in the spool directory rather than blocking the
// replay forever.
type Writer struct {
	opts    Options
	log     *zap.Logger
	prefix  string // of every id of this process, and of its spool file
	seq     atomic.Uint64
	in      chan *request // the queue of records waiting for a batch
	spool   *spool
	c       counters
	h       histograms
	connCfg *pgx.ConnConfig // nil: spool only
	dbUp    atomic.Bool

	mu     sync.RWMutex // Write holds it shared to enqueue; Close exclusively
	closed bool
	enq    sync.WaitGroup // Writes past the closed check, not yet enqueued

	conns chan *dbConn  // idle connections, warm
	epoch atomic.Uint64 // of the connections; moves on each time the database is marked down

	stop    chan struct{}
	writing sync.WaitGroup // the batch writers
	done    chan struct{}  // the maintainer (probe, replay) is over
	base    context.Context
	cancel  context.CancelFunc // of base, the context of every database call; Close's deadline cancels it

	replayPause time.Time // no replay before this (after a spool read error); the maintainer's
}

type counters struct {
	written, journaled, spooled, batches, spoolBatches, failed, rejected, lost, unfinished atomic.Uint64
	unavailable, closed, canceled                                                          atomic.Uint64 // Write errors
}

// request is one Write waiting for its batch.
type request struct {
	rec   Record
	state atomic.Int32 // queued, then taken by a batch or withdrawn by its Write
	done  chan error   // the outcome of its batch; buffered
}

const (
	queued int32 = iota
	taken
	withdrawn
)

// dbConn is a connection of the writer and the epoch it was opened in:
// a connection older than the last failure is closed rather than used.
type dbConn struct {
	c     *pgx.Conn
	epoch uint64
}

func (c *dbConn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.c.Close(ctx)
}

// Open opens the spool (adopting the spool files that processes now gone
// left in the directory), connects to the database when there is one (a
// database down does not fail Open: records are spooled until a probe
// finds it back) and starts the writer. The adopted records are replayed
// as soon as the database answers.
func Open(ctx context.Context, opts Options) (*Writer, error) {
	w, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	w.start()
	return w, nil
}

// open is Open without starting the goroutines (tests start them late).
func open(ctx context.Context, opts Options) (*Writer, error) {
	if opts.SpoolDir == "" {
		return nil, errors.New("audit: no spool directory")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.writers <= 0 {
		opts.writers = defaultWriters
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var cc *pgx.ConnConfig
	if opts.DatabaseURL != "" {
		var err error
		if cc, err = pgx.ParseConfig(opts.DatabaseURL); err != nil {
			return nil, errors.New("audit: the database URL is not valid") // pgx's message may quote the password
		}
		cc.ValidateConnect = pgconn.ValidateConnectTargetSessionAttrsReadWrite
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	prefix := hex.EncodeToString(rnd[:])
	sp, ad, err := openSpool(ctx, opts.SpoolDir, prefix)
	if err != nil {
		return nil, fmt.Errorf("spool directory %s: %w", opts.SpoolDir, err)
	}
	w := &Writer{
		opts: opts, log: log, prefix: prefix, spool: sp, connCfg: cc, h: newHistograms(),
		in: make(chan *request, opts.Buffer), conns: make(chan *dbConn, opts.writers+1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	w.base, w.cancel = context.WithCancel(context.Background())
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(collector{w}); err != nil {
			sp.close()
			w.cancel()
			return nil, fmt.Errorf("audit metrics: %w", err)
		}
	}
	if ad.Files > 0 {
		log.Info("audit: adopted the spool of a previous run", zap.Int("files", ad.Files), zap.Int("records", ad.Lines))
	}
	if ad.Bad > 0 {
		w.c.lost.Add(uint64(ad.Bad))
		log.Warn("audit: corrupt spool lines dropped", zap.Int("lines", ad.Bad))
	}
	if ad.Unfinished > 0 {
		w.c.unfinished.Add(uint64(ad.Unfinished))
		log.Info("audit: the torn last line of a crashed process's spool dropped (its append never finished: not acknowledged, no answer left)",
			zap.Int("lines", ad.Unfinished))
	}
	if cc != nil {
		// Warm: the first records must not wait for a connection.
		cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		err := w.connect(cctx, opts.writers)
		cancel()
		if err != nil {
			w.c.failed.Add(1)
			log.Warn("audit: database unavailable at start: records go to the spool until it is back", zap.Error(err))
		}
	}
	return w, nil
}

func (w *Writer) start() {
	w.writing.Add(w.opts.writers)
	for range w.opts.writers {
		go w.writer()
	}
	go w.maintain()
}

// Write records one answered request and returns once the record is
// durable: committed in the database, or, when the database is down,
// fails, times out or there is none, appended to the spool and fsync'd.
// Concurrent Writes share one batch (one INSERT, or one append and
// fsync). An empty ID is filled with a unique one.
//
// An error means the record may not be durable: neither the database nor
// the spool took it, the writer is closed (ErrClosed), or ctx ended first
// (while the record waited for room in the queue or for its batch: a
// record no batch has taken yet is withdrawn; one already taken may still
// be stored). The caller must then not disclose the answer.
func (w *Writer) Write(ctx context.Context, r Record) error {
	start := time.Now()
	err := w.write(ctx, r)
	w.h.write.Observe(time.Since(start).Seconds())
	return err
}

func (w *Writer) write(ctx context.Context, r Record) error {
	r = w.Prepare(r)
	if err := ctx.Err(); err != nil {
		w.c.canceled.Add(1)
		return fmt.Errorf("audit: record %s not written: %w", r.ID, err)
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.c.closed.Add(1)
		return fmt.Errorf("record %s: %w", r.ID, ErrClosed)
	}
	w.enq.Add(1)
	w.mu.RUnlock()
	q := &request{rec: r, done: make(chan error, 1)}
	select {
	case w.in <- q:
		w.enq.Done()
	case <-ctx.Done():
		w.enq.Done()
		w.c.canceled.Add(1)
		return fmt.Errorf("audit: record %s not written (the queue is full): %w", r.ID, ctx.Err())
	}
	select {
	case err := <-q.done:
		return err // a failure is counted by its batch
	case <-ctx.Done():
		w.c.canceled.Add(1)
		if q.state.CompareAndSwap(queued, withdrawn) {
			return fmt.Errorf("audit: record %s withdrawn before its batch: %w", r.ID, ctx.Err())
		}
		return fmt.Errorf("audit: record %s not known durable (its batch is under way and may still store it): %w", r.ID, ctx.Err())
	}
}

// Close stops the writer: what is queued is written to the database (to
// the spool when the database is down, or once ctx is done; a database
// found down earlier is tried once more first), the spool is replayed as
// far as ctx allows, and the spool file is kept only when records remain
// in it (the next Open adopts it). Write after Close returns ErrClosed.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	stop := context.AfterFunc(ctx, w.cancel)
	w.enq.Wait() // the last Writes reach the queue (or their ctx ends)
	close(w.stop)
	<-w.done
	stop()
	w.cancel()
	w.dropIdle()
	left, err := w.spool.close()
	switch {
	case left > 0 && w.connCfg != nil:
		w.log.Warn("audit: records left in the spool: the next start replays them", zap.Int("records", left), zap.String("file", w.spool.path))
	case left > 0:
		w.log.Info("audit: trail kept in the spool", zap.Int("records", left), zap.String("file", w.spool.path))
	}
	if err != nil {
		return fmt.Errorf("audit: closing the spool: %w", err)
	}
	return nil
}

// Stats is a snapshot of the writer's counters.
type Stats struct {
	Written       uint64 // records the database stored (a replayed duplicate is not counted), Journaled included
	Journaled     uint64 // records committed in the card state's transaction (Journaled), not by a batch of the Writer
	Spooled       uint64 // records appended to the spool (database down, failing, or none)
	Batches       uint64 // batches committed to the database, one INSERT each (replays not counted)
	SpoolBatches  uint64 // batches appended to the spool, one append and fsync each (concurrent ones share an fsync)
	FailedBatches uint64 // batches or connections the database failed
	Rejected      uint64 // records the database refused as invalid (in audit-rejected.log)
	Lost          uint64 // corrupt spool lines; replayed records refused whose rejected file failed
	Unfinished    uint64 // torn last lines of a crashed process's spool: appends never finished, never acknowledged
	WriteErrors   uint64 // Write calls that returned an error: not durable, closed, or ctx ended
	SpoolPending  int    // records waiting in the spool
	Queued        int    // records queued for a batch
	DatabaseUp    bool
}

// Stats returns the counters now.
func (w *Writer) Stats() Stats {
	return Stats{
		Written:       w.c.written.Load(),
		Journaled:     w.c.journaled.Load(),
		Spooled:       w.c.spooled.Load(),
		Batches:       w.c.batches.Load(),
		SpoolBatches:  w.c.spoolBatches.Load(),
		FailedBatches: w.c.failed.Load(),
		Rejected:      w.c.rejected.Load(),
		Lost:          w.c.lost.Load(),
		Unfinished:    w.c.unfinished.Load(),
		WriteErrors:   w.c.unavailable.Load() + w.c.closed.Load() + w.c.canceled.Load(),
		SpoolPending:  w.spool.pending(),
		Queued:        len(w.in),
		DatabaseUp:    w.dbUp.Load(),
	}
}

// nextID is a new id: this process's prefix and the next sequence number.
func (w *Writer) nextID() string {
	return w.prefix + "-" + strconv.FormatUint(w.seq.Add(1), 10)
}

// SpoolFile is the path of this process's spool file.
func (w *Writer) SpoolFile() string { return w.spool.path }

// writer is one batch writer: it takes what is queued (up to BatchSize)
// and writes it as one batch, then the next.
func (w *Writer) writer() {
	defer w.writing.Done()
	batch := make([]*request, 0, w.opts.BatchSize)
	recs := make([]Record, 0, w.opts.BatchSize)
	for {
		select {
		case q := <-w.in:
			batch = w.take(batch[:0], q)
			w.deliver(batch, recs)
		case <-w.stop:
			// Close: nothing is enqueued any more; write what is queued.
			for {
				select {
				case q := <-w.in:
					batch = w.take(batch[:0], q)
					w.deliver(batch, recs)
				default:
					return
				}
			}
		}
	}
}

// take makes a batch of first and what is queued behind it, up to
// BatchSize, without waiting; withdrawn records are left out.
func (w *Writer) take(batch []*request, first *request) []*request {
	if first.state.CompareAndSwap(queued, taken) {
		batch = append(batch, first)
	}
	for len(batch) < w.opts.BatchSize {
		select {
		case q := <-w.in:
			if q.state.CompareAndSwap(queued, taken) {
				batch = append(batch, q)
			}
		default:
			return batch
		}
	}
	return batch
}

// deliver writes a batch to the database, or to the spool when the
// database is down, fails or times out, or there is none, and tells each
// Write the outcome. A batch that failed in the database may have been
// committed anyway: spooled, it is replayed under the same ids, and ON
// CONFLICT keeps one row.
func (w *Writer) deliver(batch []*request, recs []Record) {
	if len(batch) == 0 {
		return
	}
	recs = recs[:0]
	for _, q := range batch {
		recs = append(recs, q.rec)
	}
	if w.connCfg != nil && w.dbUp.Load() && w.base.Err() == nil {
		errs, err := w.insert(recs)
		if err == nil {
			w.c.batches.Add(1)
			w.h.batch.WithLabelValues("database").Observe(float64(len(recs)))
			for i, q := range batch {
				var e error
				if errs != nil && errs[i] != nil {
					w.c.unavailable.Add(1)
					e = errs[i]
				}
				q.done <- e
			}
			return
		}
	}
	if err := w.spool.append(recs); err != nil {
		w.c.unavailable.Add(uint64(len(recs)))
		w.log.Error("audit: neither the database nor the spool takes records: their answers are withheld",
			zap.Int("records", len(recs)), zap.Error(err))
		err = fmt.Errorf("audit: record not durable: database unavailable and spool failed: %w", err)
		for _, q := range batch {
			q.done <- err
		}
		return
	}
	w.c.spooled.Add(uint64(len(recs)))
	w.c.spoolBatches.Add(1)
	w.h.batch.WithLabelValues("spool").Observe(float64(len(recs)))
	for _, q := range batch {
		q.done <- nil
	}
}

// maintain probes a database found down and replays the spool while it is
// up; at Close it finishes the replay.
func (w *Writer) maintain() {
	defer close(w.done)
	probe := time.NewTicker(w.opts.ProbeInterval)
	defer probe.Stop()
	ready := make(chan struct{})
	close(ready)
	for {
		var replay <-chan struct{}
		if w.replayDue() {
			replay = ready
		}
		select {
		case <-probe.C:
			w.probe()
		case <-replay:
			w.replay()
		case <-w.stop:
			w.finish()
			return
		}
	}
}

// finish runs at Close: the database found down is tried once more, the
// writers write what is queued, and the spool is replayed as far as the
// database and Close's deadline allow.
func (w *Writer) finish() {
	w.probe()
	w.writing.Wait()
	for w.replayDue() && w.base.Err() == nil {
		before := w.spool.pending()
		w.replay()
		if w.spool.pending() >= before {
			return
		}
	}
}

func (w *Writer) replayDue() bool {
	return w.connCfg != nil && w.dbUp.Load() && w.spool.pending() > 0 && !time.Now().Before(w.replayPause)
}

// replay writes the oldest batch of the spool to the database and moves
// past it; the file is truncated once all of it is written.
func (w *Writer) replay() {
	recs, next, lines, bad, err := w.spool.read(w.opts.BatchSize)
	if err == nil && lines == 0 {
		err = errors.New("records pending but none read")
	}
	if err != nil {
		w.log.Error("audit: cannot read the spool", zap.String("file", w.spool.path), zap.Error(err))
		w.replayPause = time.Now().Add(w.opts.ProbeInterval)
		return
	}
	if bad > 0 {
		w.c.lost.Add(uint64(bad))
		w.log.Warn("audit: corrupt spool lines skipped", zap.Int("lines", bad))
	}
	if len(recs) > 0 {
		errs, err := w.insert(recs)
		if err != nil {
			return // stays in the spool; the database is marked down
		}
		w.h.batch.WithLabelValues("replay").Observe(float64(len(recs)))
		for _, e := range errs {
			if e != nil {
				w.c.lost.Add(1)
			}
		}
	}
	if err := w.spool.consumed(next, lines); err != nil {
		w.log.Error("audit: cannot truncate the replayed spool (it is replayed again: no duplicate is stored)", zap.Error(err))
		w.replayPause = time.Now().Add(w.opts.ProbeInterval)
		return
	}
	if w.spool.pending() == 0 {
		w.log.Info("audit: spool replayed")
	}
}

// probe tries a database found down again.
func (w *Writer) probe() {
	if w.connCfg == nil || w.dbUp.Load() || w.base.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(w.base, w.opts.Timeout)
	defer cancel()
	if err := w.connect(ctx, w.opts.writers); err != nil {
		w.log.Debug("audit: database still unavailable", zap.Error(err))
		return
	}
	w.log.Info("audit: database back: replaying the spool", zap.Int("records", w.spool.pending()))
}

// connect opens n connections for the pool (the first must succeed, the
// others may fail: they are opened on demand then) and marks the database
// up.
func (w *Writer) connect(ctx context.Context, n int) error {
	epoch := w.epoch.Load()
	for i := range n {
		c, err := pgx.ConnectConfig(ctx, w.connCfg)
		if err != nil {
			if i == 0 {
				return err
			}
			break
		}
		w.putConn(&dbConn{c, epoch})
	}
	w.dbUp.Store(true)
	return nil
}

// getConn takes an idle connection of the current epoch (reused), or
// opens one.
func (w *Writer) getConn(ctx context.Context) (c *dbConn, reused bool, err error) {
	for {
		select {
		case c := <-w.conns:
			if c.epoch == w.epoch.Load() && !c.c.IsClosed() {
				return c, true, nil
			}
			c.close()
		default:
			epoch := w.epoch.Load()
			c, err := pgx.ConnectConfig(ctx, w.connCfg)
			if err != nil {
				return nil, false, err
			}
			return &dbConn{c, epoch}, false, nil
		}
	}
}

// dropIdle closes the idle connections.
func (w *Writer) dropIdle() {
	for {
		select {
		case c := <-w.conns:
			c.close()
		default:
			return
		}
	}
}

// putConn keeps a connection for the next batch, unless the database
// failed since it was opened.
func (w *Writer) putConn(c *dbConn) {
	if c.epoch != w.epoch.Load() || c.c.IsClosed() {
		c.close()
		return
	}
	select {
	case w.conns <- c:
	default:
		c.close()
	}
}

// insertSQL writes a batch in one statement (one commit); a record already
// stored (a replay) is skipped.
const insertSQL = `INSERT INTO audit_log (id, at, institution, terminal, stan, rrn, service, pan_hash, response_code, latency_us)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])
ON CONFLICT (id) DO NOTHING`

// insert writes recs to the database within the timeout. An error means
// the database is unavailable (it is then marked down, and the caller
// keeps the records). A batch the database refuses as invalid is written
// row by row, and the rows it refuses go to the rejected file; errs (nil
// when all went well) holds, by index, the refused records that file
// could not take.
func (w *Writer) insert(recs []Record) (errs []error, err error) {
	ctx, cancel := context.WithTimeout(w.base, w.opts.Timeout)
	defer cancel()
	c, reused, err := w.getConn(ctx)
	if err != nil {
		w.down(err)
		return nil, err
	}
	n, err := execBatch(ctx, c.c, recs)
	if err != nil && reused && !refused(err) && ctx.Err() == nil {
		// A connection idle in the pool may have died meanwhile (a database
		// restart, an idle timeout on the way): once more on a new one before
		// the database counts as down. The batch may have been stored by the
		// first try: ON CONFLICT keeps one row.
		w.log.Debug("audit: a pooled connection failed: trying a new one", zap.Error(err))
		c.close()
		w.dropIdle()
		if c, _, err = w.getConn(ctx); err != nil {
			w.down(err)
			return nil, err
		}
		n, err = execBatch(ctx, c.c, recs)
	}
	if err == nil {
		w.c.written.Add(uint64(n))
		w.putConn(c)
		return nil, nil
	}
	if !refused(err) {
		c.close()
		w.down(err)
		return nil, err
	}
	for i := range recs {
		n, err := execBatch(ctx, c.c, recs[i:i+1])
		switch {
		case err == nil:
			w.c.written.Add(uint64(n))
		case refused(err):
			if rerr := w.reject(recs[i], err); rerr != nil {
				if errs == nil {
					errs = make([]error, len(recs))
				}
				errs[i] = rerr
			}
		default:
			c.close()
			w.down(err)
			return nil, err // all are kept again; the ones written meanwhile are not stored twice
		}
	}
	w.putConn(c)
	return errs, nil
}

func execBatch(ctx context.Context, c *pgx.Conn, recs []Record) (int64, error) {
	n := len(recs)
	ids, inst, term, stan, rrn, svc, pan, rc := make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at, lat := make([]time.Time, n), make([]int64, n)
	for i, r := range recs {
		ids[i], at[i], inst[i], term[i], stan[i], rrn[i] = r.ID, r.Time, r.Institution, r.Terminal, r.STAN, r.RRN
		svc[i], pan[i], rc[i], lat[i] = r.Service, r.PANHash, r.ResponseCode, r.Latency.Microseconds()
	}
	tag, err := c.Exec(ctx, insertSQL, ids, at, inst, term, stan, rrn, svc, pan, rc, lat)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// refused reports an error of the data itself (SQLSTATE classes 22, data
// exception, and 23, integrity constraint violation): sending the same rows
// again would fail again. Anything else is the database being unavailable.
func refused(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	return pe.Code[:2] == "22" || pe.Code[:2] == "23"
}

// reject keeps a record the database refused in the rejected file; an
// error means the file could not take it.
func (w *Writer) reject(r Record, err error) error {
	var pe *pgconn.PgError
	errors.As(err, &pe)
	if ferr := appendRejected(w.opts.SpoolDir, []Record{r}); ferr != nil {
		w.log.Error("audit: the database refused a record and the rejected file cannot be written",
			zap.String("id", r.ID), zap.String("sqlstate", pe.Code), zap.Error(ferr))
		return fmt.Errorf("audit: record %s refused by the database (SQLSTATE %s) and not kept: %w", r.ID, pe.Code, ferr)
	}
	w.c.rejected.Add(1)
	w.log.Error("audit: the database refused a record: kept in "+rejectedName,
		zap.String("id", r.ID), zap.String("sqlstate", pe.Code), zap.String("error", pe.Message))
	return nil
}

// down marks the database unavailable after a failure: the connections
// opened before are closed, and records go to the spool until a probe
// connects again.
func (w *Writer) down(err error) {
	w.c.failed.Add(1)
	w.epoch.Add(1)
	w.dropIdle()
	if w.dbUp.Swap(false) && w.base.Err() == nil {
		w.log.Warn("audit: database unavailable: records go to the spool until it is back", zap.Error(err))
	}
}
