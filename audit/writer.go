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
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultBuffer        = 10000
	DefaultProbeInterval = 5 * time.Second
	DefaultTimeout       = 5 * time.Second
)

// Options configure a Writer. Zero values take the defaults.
type Options struct {
	// DatabaseURL is the PostgreSQL database holding the audit_log table
	// (the ledger's). Empty: the spool is the trail (nothing is replayed).
	// Only a writable host is used (target_session_attrs=read-write).
	DatabaseURL string
	// SpoolDir holds the spool files (created if missing). Required.
	SpoolDir string
	// BatchSize is the most records one INSERT writes; a full batch is
	// written at once.
	BatchSize int
	// FlushInterval is how long a record may wait for its batch to fill.
	FlushInterval time.Duration
	// Buffer is the number of records the memory buffer holds; beyond it
	// Add appends to the spool itself.
	Buffer int
	// ProbeInterval is how often a database found down is tried again.
	ProbeInterval time.Duration
	// Timeout bounds one database call (connect, a batch).
	Timeout time.Duration
	// Logger gets the writer's warnings (database down and back, spool
	// problems). Nil: none.
	Logger *zap.Logger
	// Registerer gets the atmgw_audit_* metrics. Nil: none.
	Registerer prometheus.Registerer
}

// Writer is the audit trail: Add from any goroutine, Close once at the end.
type Writer struct {
	opts   Options
	log    *zap.Logger
	prefix string // of every id of this process, and of its spool file
	seq    atomic.Uint64
	in     chan Record
	spool  *spool
	c      counters
	dbUp   atomic.Bool

	mu     sync.RWMutex // Add holds it shared; Close exclusively
	closed bool

	stop   chan struct{}
	done   chan struct{}
	base   context.Context // of every database call; cancelled when Close's deadline passes
	cancel context.CancelFunc

	// Owned by the run goroutine.
	connCfg     *pgx.ConnConfig // nil: spool only
	conn        *pgx.Conn
	replayPause time.Time // no replay before this (after a spool read error)
}

type counters struct {
	written, spooledDB, spooledFull, failed, rejected, lost atomic.Uint64
}

// Open opens the spool (adopting the spool files that processes now gone
// left in the directory) and starts the writer. The adopted records are
// replayed as soon as the database answers. Nothing is connected yet: the
// first batch connects.
func Open(ctx context.Context, opts Options) (*Writer, error) {
	w, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

// open is Open without starting the writer goroutine (tests start it late).
func open(ctx context.Context, opts Options) (*Writer, error) {
	if opts.SpoolDir == "" {
		return nil, errors.New("audit: no spool directory")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
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
		opts: opts, log: log, prefix: prefix, spool: sp, connCfg: cc,
		in: make(chan Record, opts.Buffer), stop: make(chan struct{}), done: make(chan struct{}),
	}
	w.base, w.cancel = context.WithCancel(context.Background())
	w.dbUp.Store(cc != nil)
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
		log.Warn("audit: torn or corrupt spool lines dropped", zap.Int("lines", ad.Bad))
	}
	return w, nil
}

// Add takes the record of one answered request. It never waits on the
// database: the record goes into the buffer, or, when the buffer is full,
// to the spool (an append and an fsync shared with concurrent callers).
// An empty ID is filled with a unique one. Add after Close loses the
// record (counted, logged).
func (w *Writer) Add(r Record) {
	if r.ID == "" {
		r.ID = w.prefix + "-" + strconv.FormatUint(w.seq.Add(1), 10)
	}
	r = clean(r)
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.c.lost.Add(1)
		w.log.Error("audit: record added after close: lost", zap.String("id", r.ID))
		return
	}
	select {
	case w.in <- r:
	default:
		w.toSpool([]Record{r}, &w.c.spooledFull)
	}
}

// Close stops the writer: the buffer is written to the database (to the
// spool when the database is down, or once ctx is done; a database found
// down earlier is tried once more first), the spool is
// replayed as far as ctx allows, and the spool file is kept only when
// records remain in it (the next Open adopts it). Nothing buffered is lost.
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
	close(w.stop)
	<-w.done
	stop()
	w.cancel()
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
	Written       uint64 // records the database stored (a replayed duplicate is not counted)
	Spooled       uint64 // records appended to the spool, for any reason
	BufferFull    uint64 // of which because the buffer was full
	FailedBatches uint64 // batches or connections the database failed
	Rejected      uint64 // records the database refused as invalid (in audit-rejected.log)
	Lost          uint64 // records not kept: spool write failed, corrupt spool lines, added after Close
	SpoolPending  int    // records waiting in the spool
	Buffered      int    // records in the memory buffer
	DatabaseUp    bool
}

// Stats returns the counters now.
func (w *Writer) Stats() Stats {
	full := w.c.spooledFull.Load()
	return Stats{
		Written:       w.c.written.Load(),
		Spooled:       w.c.spooledDB.Load() + full,
		BufferFull:    full,
		FailedBatches: w.c.failed.Load(),
		Rejected:      w.c.rejected.Load(),
		Lost:          w.c.lost.Load(),
		SpoolPending:  w.spool.pending(),
		Buffered:      len(w.in),
		DatabaseUp:    w.dbUp.Load(),
	}
}

// SpoolFile is the path of this process's spool file.
func (w *Writer) SpoolFile() string { return w.spool.path }

func (w *Writer) run() {
	defer close(w.done)
	defer w.closeConn()
	flush := time.NewTicker(w.opts.FlushInterval)
	defer flush.Stop()
	probe := time.NewTicker(w.opts.ProbeInterval)
	defer probe.Stop()
	ready := make(chan struct{})
	close(ready)
	batch := make([]Record, 0, w.opts.BatchSize)
	for {
		var replay <-chan struct{}
		if w.replayDue() {
			replay = ready // interleaved with new records by select's random choice
		}
		select {
		case r := <-w.in:
			batch = append(batch, r)
			if len(batch) >= w.opts.BatchSize {
				w.deliver(batch)
				batch = batch[:0]
			}
		case <-flush.C:
			if len(batch) > 0 {
				w.deliver(batch)
				batch = batch[:0]
			}
		case <-probe.C:
			w.probe()
		case <-replay:
			w.replay()
		case <-w.stop:
			w.finish(batch)
			return
		}
	}
}

// finish writes what is left after Close: Add is over, so the buffer holds
// the last records.
func (w *Writer) finish(batch []Record) {
	// A database found down is tried once more: if it is back, the buffer
	// and the spool go to it now rather than at the next start.
	w.probe()
	for more := true; more; {
		select {
		case r := <-w.in:
			batch = append(batch, r)
			if len(batch) >= w.opts.BatchSize {
				w.deliver(batch)
				batch = batch[:0]
			}
		default:
			more = false
		}
	}
	if len(batch) > 0 {
		w.deliver(batch)
	}
	for w.replayDue() && w.base.Err() == nil {
		before := w.spool.pending()
		w.replay()
		if w.spool.pending() >= before {
			return
		}
	}
}

// deliver writes a batch to the database, or to the spool when the
// database is down, fails it, or there is none.
func (w *Writer) deliver(recs []Record) {
	if w.connCfg != nil && w.dbUp.Load() && w.base.Err() == nil {
		ctx, cancel := context.WithTimeout(w.base, w.opts.Timeout)
		err := w.insert(ctx, recs)
		cancel()
		if err == nil {
			return
		}
	}
	w.toSpool(recs, &w.c.spooledDB)
}

func (w *Writer) toSpool(recs []Record, counter *atomic.Uint64) {
	if err := w.spool.append(recs); err != nil {
		w.c.lost.Add(uint64(len(recs)))
		w.log.Error("audit: cannot write the spool: records lost", zap.Int("records", len(recs)), zap.Error(err))
		return
	}
	counter.Add(uint64(len(recs)))
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
		ctx, cancel := context.WithTimeout(w.base, w.opts.Timeout)
		err := w.insert(ctx, recs)
		cancel()
		if err != nil {
			return // stays in the spool; the database is marked down
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
	c, err := pgx.ConnectConfig(ctx, w.connCfg)
	if err != nil {
		w.log.Debug("audit: database still unavailable", zap.Error(err))
		return
	}
	w.conn = c
	w.dbUp.Store(true)
	w.log.Info("audit: database back: replaying the spool", zap.Int("records", w.spool.pending()))
}

// insertSQL writes a batch in one statement; a record already stored
// (a replay) is skipped.
const insertSQL = `INSERT INTO audit_log (id, at, institution, terminal, stan, rrn, service, pan_hash, response_code, latency_us)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])
ON CONFLICT (id) DO NOTHING`

// insert writes recs to the database. An error means the database is
// unavailable (it is then marked down, and the caller keeps the records).
// A batch the database refuses as invalid is written row by row, and the
// rows it refuses go to the rejected file.
func (w *Writer) insert(ctx context.Context, recs []Record) error {
	n, err := w.exec(ctx, recs)
	if err == nil {
		w.c.written.Add(uint64(n))
		return nil
	}
	if !refused(err) {
		w.down(err)
		return err
	}
	for i := range recs {
		n, err := w.exec(ctx, recs[i:i+1])
		switch {
		case err == nil:
			w.c.written.Add(uint64(n))
		case refused(err):
			w.reject(recs[i], err)
		default:
			w.down(err)
			return err // all are kept again; the ones written meanwhile are not stored twice
		}
	}
	return nil
}

func (w *Writer) exec(ctx context.Context, recs []Record) (int64, error) {
	if w.conn == nil || w.conn.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, w.connCfg)
		if err != nil {
			return 0, err
		}
		w.conn = c
	}
	n := len(recs)
	ids, inst, term, stan, rrn, svc, pan, rc := make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at, lat := make([]time.Time, n), make([]int64, n)
	for i, r := range recs {
		ids[i], at[i], inst[i], term[i], stan[i], rrn[i] = r.ID, r.Time, r.Institution, r.Terminal, r.STAN, r.RRN
		svc[i], pan[i], rc[i], lat[i] = r.Service, r.PANHash, r.ResponseCode, r.Latency.Microseconds()
	}
	tag, err := w.conn.Exec(ctx, insertSQL, ids, at, inst, term, stan, rrn, svc, pan, rc, lat)
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

func (w *Writer) reject(r Record, err error) {
	var pe *pgconn.PgError
	errors.As(err, &pe)
	if ferr := appendRejected(w.opts.SpoolDir, []Record{r}); ferr != nil {
		w.c.lost.Add(1)
		w.log.Error("audit: the database refused a record and the rejected file cannot be written: lost",
			zap.String("id", r.ID), zap.String("sqlstate", pe.Code), zap.Error(ferr))
		return
	}
	w.c.rejected.Add(1)
	w.log.Error("audit: the database refused a record: kept in "+rejectedName,
		zap.String("id", r.ID), zap.String("sqlstate", pe.Code), zap.String("error", pe.Message))
}

// down marks the database unavailable after a failure: records go to the
// spool until a probe connects again.
func (w *Writer) down(err error) {
	w.c.failed.Add(1)
	w.closeConn()
	if w.dbUp.Swap(false) && w.base.Err() == nil {
		w.log.Warn("audit: database unavailable: records go to the spool until it is back", zap.Error(err))
	}
}

func (w *Writer) closeConn() {
	if w.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	w.conn.Close(ctx)
	w.conn = nil
}
