package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/ledger"
)

// Defaults of CardStateOptions.
const (
	DefaultCardStateTimeout       = time.Second
	DefaultCardStateMaxBatch      = 256
	DefaultCardStateWorkers       = 2
	DefaultCardStateProbeInterval = time.Second
	DefaultCardStatePruneInterval = time.Minute
)

// pruneSlack is how much longer than the duplicate window a key is kept
// before Prune deletes it: room for the gateways' clocks to disagree.
const pruneSlack = time.Minute

// pruneChunk is the number of keys one DELETE of Prune removes at most.
const pruneChunk = 5000

// maxAttempts bounds the tries of one batch (a deadlock, a serialization
// failure, or a connection that failed before the statement was sent),
// all within the batch's deadline.
const maxAttempts = 3

// CardStateOptions tune OpenCardState. Zero values take the defaults.
type CardStateOptions struct {
	// The rules (duplicate window, rate), as for every ledger.CardState.
	// Every gateway on one database should apply the same.
	ledger.CardStateOptions
	// Timeout is the deadline of one batch on the primary, connecting
	// included (default 1s); past it the batch's checks fail.
	Timeout time.Duration
	// MaxBatch is the most checks sent in one statement (default 256).
	MaxBatch int
	// Workers is the number of batches in flight at once, each on a
	// connection of its own (default 2).
	Workers int
	// ProbeInterval is how often the primary is probed while it is marked
	// down (default 1s).
	ProbeInterval time.Duration
	// PruneInterval is how often the expired duplicate keys are deleted
	// (default a minute; below 0 never: call Prune).
	PruneInterval time.Duration
	// Logger (nil: none) logs the primary going down and coming back.
	Logger *zap.Logger
	// Registerer (nil: none) gets the metrics atmgw_card_state_*.
	Registerer prometheus.Registerer
	// Journal (nil: none) is the audit trail whose records CheckJournaled
	// commits in the transaction of their checks, in audit_log of this
	// same database (see ledger.Journaling). Without it CheckJournaled is
	// Check, never journaled.
	Journal *audit.Writer
}

func (o CardStateOptions) defaults() CardStateOptions {
	o.CardStateOptions = o.CardStateOptions.Defaults()
	if o.Timeout <= 0 {
		o.Timeout = DefaultCardStateTimeout
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultCardStateMaxBatch
	}
	if o.Workers <= 0 {
		o.Workers = DefaultCardStateWorkers
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultCardStateProbeInterval
	}
	if o.PruneInterval == 0 {
		o.PruneInterval = DefaultCardStatePruneInterval
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// The statement of a batch, prepared on every connection of the pool.
const (
	checkStmt = "atmgw_card_state_check"
	checkSQL  = "SELECT card_state_check($1::bytea[], $2::boolean[], $3::bytea[], $4::integer[], $5::bigint[], $6::bigint, $7::integer, $8::bigint)"
	// A batch with the audit records of its answers (CheckJournaled): the
	// check, then the records of the checks that carry one ($9 not empty),
	// each with the response code of its verdict ($18: four per check, by
	// verdict), in the same statement, transaction and commit. The CTE c
	// runs once (a volatile function, used twice).
	journalStmt = "atmgw_card_state_check_journaled"
	journalSQL  = `WITH c AS (
	SELECT card_state_check($1::bytea[], $2::boolean[], $3::bytea[], $4::integer[], $5::bigint[], $6::bigint, $7::integer, $8::bigint) AS v
), a AS (
	INSERT INTO audit_log (id, at, institution, terminal, stan, rrn, service, pan_hash, response_code, latency_us)
	SELECT r.id, r.at, r.institution, r.terminal, r.stan, r.rrn, r.service, r.pan_hash, ($18::text[])[(r.o - 1) * 4 + c.v[r.o] + 1], r.latency_us
	FROM c, unnest($9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::bigint[])
		WITH ORDINALITY AS r(id, at, institution, terminal, stan, rrn, service, pan_hash, latency_us, o)
	WHERE r.id <> ''
	ON CONFLICT (id) DO NOTHING
)
SELECT v FROM c`
	pruneSQL = `DELETE FROM card_duplicate_keys WHERE key IN (
	SELECT key FROM card_duplicate_keys WHERE seen_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

// CardState is the ledger.CardState on the primary: decisions 7, 14 and
// 15 shared by every gateway on the database and kept across restarts and
// crashes (tables card_duplicate_keys and card_counters, function
// card_state_check: migration 0003).
//
// Group commit: Check queues its check; each of Workers goroutines takes
// whatever is queued (up to MaxBatch, without waiting for more) and sends
// it as one call of card_state_check: one statement, one transaction, one
// commit, one round trip, whatever the batch size. The function applies
// the checks in their order in the batch, locking the rows in one global
// order (keys, then cards), so that batches of several gateways never
// deadlock; a batch that meets a deadlock or a serialization failure all
// the same, or whose connection failed before the statement was sent, is
// tried again within its deadline (Timeout).
//
// Clock: every time is the caller's CardCheck.Now (a zero Now is taken as
// time.Now()), never the database's, so that gateways and tests agree
// with MemoryCardState.
//
// Failure: a batch that fails (no connection, deadline, the primary
// read-only or down) fails its checks with an error wrapping
// ledger.ErrUnavailable, and marks the primary down: from then on Check
// fails at once, without queueing, and a probe (a fresh connection,
// validated read-write, and a ping) runs at once and then every
// ProbeInterval until it succeeds; then checks go to the primary again.
// So while the primary is down no caller waits for a deadline, and a
// gateway notices it is back within about ProbeInterval. A caller whose
// context ends stops waiting and gets ctx.Err(); its check may still be
// committed (a check not yet sent when its context ended is dropped).
//
// Pruning: each CardState deletes, every PruneInterval, the duplicate keys
// older than the duplicate window (plus a minute, for the gateways'
// clocks) by the latest Now it was given; rate times are trimmed by every
// update of a card. Cards (their highest ATC) are never deleted.
//
// Connections: a pool of Workers+2 (the workers, the pruner and the
// probe) that accepts only a read-write server (as
// target_session_attrs=read-write), with statement_timeout set to Timeout.
type CardState struct {
	opts CardStateOptions
	pool *pgxpool.Pool
	log  *zap.Logger
	m    *cardMetrics
	desc string // user@host:port/db, for logs

	queue    chan *cardItem
	stop     chan struct{} // closed by Close
	finished chan struct{} // closed when the workers are gone
	wg       sync.WaitGroup
	base     context.Context // cancelled by Close
	halt     context.CancelFunc

	closeOnce sync.Once
	closed    atomic.Bool
	down      atomic.Pointer[unavailableError] // non-nil while marked down
	probing   atomic.Bool
	latest    atomic.Int64 // the latest Now checked, unix ns (for Prune)

	items sync.Pool
}

var _ ledger.Journaling = (*CardState)(nil)

// cardItem is one queued check and where its answer goes.
type cardItem struct {
	ctx context.Context
	c   ledger.CardCheck
	j   *ledger.Journal // nil: no record with this check
	rec audit.Record    // j's record, Prepare'd
	now int64
	// queued is when the check was queued: its wait for a worker is
	// measured from it.
	queued time.Time
	done   chan cardResult // buffered: the worker never blocks on it
}

type cardResult struct {
	v         ledger.CardVerdict
	journaled bool
	err       error
}

// unavailableError is the error of a check the primary could not answer.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }
func (e *unavailableError) Unwrap() error { return ledger.ErrUnavailable }

func unavailable(format string, a ...any) *unavailableError {
	return &unavailableError{msg: "card state: " + fmt.Sprintf(format, a...)}
}

// OpenCardState connects to the primary at url (a postgres:// URL or
// key=value DSN), opens Workers connections and prepares the batch
// statement on each (the gateway does not start cold), and starts the
// workers and the pruner. A bad URL, an unreachable or read-only server,
// or a database without migration 0003 give a one-line error without the
// password (and without a "card state" prefix: the caller says what it
// opened); an unreachable server's wraps ErrUnreachable.
func OpenCardState(ctx context.Context, url string, opts CardStateOptions) (*CardState, error) {
	o := opts.defaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("database URL is not valid: " + scrub(cause(err), url, urlPassword(url)))
	}
	password := cfg.ConnConfig.Password
	cfg.MaxConns = int32(o.Workers + 2)
	cfg.MinConns, cfg.MinIdleConns = 0, 0
	cfg.MaxConnIdleTime = maxConnIdleTime
	cfg.HealthCheckPeriod = healthCheckPeriod
	cfg.MaxConnLifetime = maxConnLifetime
	cfg.MaxConnLifetimeJitter = maxConnLifetimeJitter
	if cfg.ConnConfig.ConnectTimeout <= 0 || cfg.ConnConfig.ConnectTimeout > o.Timeout {
		cfg.ConnConfig.ConnectTimeout = o.Timeout
	}
	cfg.ConnConfig.ValidateConnect = pgconn.ValidateConnectTargetSessionAttrsReadWrite
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(o.Timeout.Milliseconds(), 1), 10)
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Prepare(ctx, checkStmt, checkSQL); err != nil {
			return err
		}
		if o.Journal == nil {
			return nil
		}
		_, err := c.Prepare(ctx, journalStmt, journalSQL)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errors.New("database URL is not valid: " + scrub(cause(err), url, password))
	}
	desc := describe(cfg.ConnConfig)
	if err := warm(ctx, pool, o.Workers); err != nil {
		pool.Close()
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42883" || pe.Code == "42P01") { // undefined_function, undefined_table
			return nil, fmt.Errorf("database %s has no card state or audit tables (migrations 0002, 0003): run atmgw migrate", desc)
		}
		return nil, &connError{msg: "database " + desc + " unreachable (or not a read-write primary): " + scrub(cause(err), url, password), err: err}
	}
	m, err := newCardMetrics(o.Registerer)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &CardState{
		opts:     o,
		pool:     pool,
		log:      o.Logger,
		m:        m,
		desc:     desc,
		queue:    make(chan *cardItem, o.MaxBatch*o.Workers),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	s.items.New = func() any { return &cardItem{done: make(chan cardResult, 1)} }
	s.base, s.halt = context.WithCancel(context.Background())
	m.up.Set(1)
	for range o.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	if o.PruneInterval > 0 {
		s.wg.Add(1)
		go s.pruner()
	}
	return s, nil
}

// warm opens n connections at once (each prepares the batch statement).
func warm(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

// Check implements ledger.CardState.
func (s *CardState) Check(ctx context.Context, c ledger.CardCheck) (ledger.CardVerdict, error) {
	r := s.check(ctx, c, nil)
	return r.v, r.err
}

// CheckJournaled implements ledger.Journaling: the check and j's record
// (given its id by the Journal writer) go in the same batch, and the
// record is inserted into audit_log, with the response code of the
// check's verdict, in the batch's statement: one commit for both. When
// the database refuses the batch's statement for what its records may
// cause (refusesRecords), the batch is sent again without them, and its
// checks are answered not journaled. Without CardStateOptions.Journal, or
// a nil j, it is Check.
func (s *CardState) CheckJournaled(ctx context.Context, c ledger.CardCheck, j *ledger.Journal) (ledger.CardVerdict, bool, error) {
	if s.opts.Journal == nil {
		j = nil
	}
	r := s.check(ctx, c, j)
	return r.v, r.journaled, r.err
}

func (s *CardState) check(ctx context.Context, c ledger.CardCheck, j *ledger.Journal) cardResult {
	if err := ctx.Err(); err != nil {
		return cardResult{err: err}
	}
	if s.closed.Load() {
		return cardResult{err: unavailable("closed")}
	}
	if d := s.down.Load(); d != nil {
		s.m.checks[verdictUnavailable].Inc()
		s.m.fastFailed.Inc()
		return cardResult{err: d}
	}
	it := s.items.Get().(*cardItem)
	it.ctx, it.c, it.j = ctx, c, j
	if j != nil {
		it.rec = s.opts.Journal.Prepare(j.Record)
	}
	if c.Now.IsZero() {
		it.now = time.Now().UnixNano()
	} else {
		it.now = c.Now.UnixNano()
	}
	it.queued = time.Now()
	select {
	case s.queue <- it:
	case <-ctx.Done():
		return cardResult{err: ctx.Err()}
	case <-s.stop:
		return cardResult{err: unavailable("closed")}
	}
	select {
	case r := <-it.done:
		it.ctx, it.c, it.j, it.rec = nil, ledger.CardCheck{}, nil, audit.Record{}
		s.items.Put(it)
		return r
	case <-ctx.Done():
		return cardResult{err: ctx.Err()} // the item is left to the worker and the GC
	case <-s.finished:
		select {
		case r := <-it.done:
			return r
		default:
			return cardResult{err: unavailable("closed")} // queued after the workers left
		}
	}
}

// Close implements ledger.CardState: the checks queued fail, the batches
// in flight end (within Timeout), the connections are closed. Check fails
// with ErrUnavailable from then on.
func (s *CardState) Close() {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		s.wg.Wait()
		close(s.finished)
		s.halt()
		s.pool.Close()
	})
}

// batch is a worker's reusable arrays of one batch.
type batch struct {
	items  []*cardItem
	keys   [][]byte
	cards  []bool
	hashes [][]byte
	atcs   []int32
	nows   []int64
	out    []int16

	journaled int        // items with a record
	rec       recColumns // their records, "" ids for the others
}

// recColumns are the audit_log columns of a batch's records.
type recColumns struct {
	ids, institutions, terminals, stans, rrns, services, panHashes, codes []string
	ats                                                                   []time.Time
	latencies                                                             []int64
}

func (r *recColumns) reset() {
	r.ids, r.institutions, r.terminals, r.stans = r.ids[:0], r.institutions[:0], r.terminals[:0], r.stans[:0]
	r.rrns, r.services, r.panHashes, r.codes = r.rrns[:0], r.services[:0], r.panHashes[:0], r.codes[:0]
	r.ats, r.latencies = r.ats[:0], r.latencies[:0]
}

// add appends the record of it (an empty one when it has none).
func (r *recColumns) add(it *cardItem) {
	rec := it.rec
	r.ids = append(r.ids, rec.ID)
	r.ats = append(r.ats, rec.Time)
	r.institutions = append(r.institutions, rec.Institution)
	r.terminals = append(r.terminals, rec.Terminal)
	r.stans = append(r.stans, rec.STAN)
	r.rrns = append(r.rrns, rec.RRN)
	r.services = append(r.services, rec.Service)
	r.panHashes = append(r.panHashes, rec.PANHash)
	r.latencies = append(r.latencies, rec.Latency.Microseconds())
	if it.j == nil {
		r.codes = append(r.codes, "", "", "", "")
	} else {
		r.codes = append(r.codes, it.j.Codes[:]...)
	}
}

func (s *CardState) worker() {
	defer s.wg.Done()
	b := &batch{}
	for {
		var first *cardItem
		select {
		case first = <-s.queue:
		case <-s.stop:
			s.failQueued()
			return
		}
		b.items = append(b.items[:0], first)
	fill:
		for len(b.items) < s.opts.MaxBatch {
			select {
			case it := <-s.queue:
				b.items = append(b.items, it)
			default:
				break fill
			}
		}
		s.run(b)
	}
}

// failQueued answers what is left in the queue at Close.
func (s *CardState) failQueued() {
	for {
		select {
		case it := <-s.queue:
			it.done <- cardResult{err: unavailable("closed")}
		default:
			return
		}
	}
}

// run sends one batch and answers its checks.
func (s *CardState) run(b *batch) {
	// Drop the checks whose callers stopped waiting before they were sent.
	live := b.items[:0]
	for _, it := range b.items {
		if it.ctx.Err() == nil {
			live = append(live, it)
		}
	}
	clear(b.items[len(live):])
	b.items = live
	if len(b.items) == 0 {
		return
	}
	if d := s.down.Load(); d != nil {
		s.m.fastFailed.Add(float64(len(b.items)))
		s.answerErr(b, d)
		return
	}
	b.keys, b.cards, b.hashes = b.keys[:0], b.cards[:0], b.hashes[:0]
	b.atcs, b.nows = b.atcs[:0], b.nows[:0]
	b.journaled = 0
	b.rec.reset()
	for _, it := range b.items {
		if it.j != nil {
			b.journaled++
		}
	}
	var latest int64
	for _, it := range b.items {
		if b.journaled > 0 {
			b.rec.add(it)
		}
		b.keys = append(b.keys, bytesOf(it.c.Key))
		b.cards = append(b.cards, it.c.Card)
		if it.c.Card {
			b.hashes = append(b.hashes, bytesOf(it.c.PANHash))
		} else {
			b.hashes = append(b.hashes, nil)
		}
		b.atcs = append(b.atcs, int32(it.c.ATC))
		b.nows = append(b.nows, it.now)
		latest = max(latest, it.now)
	}
	for {
		old := s.latest.Load()
		if latest <= old || s.latest.CompareAndSwap(old, latest) {
			break
		}
	}
	start := time.Now()
	for _, it := range b.items {
		s.m.queueSeconds.Observe(start.Sub(it.queued).Seconds())
	}
	err := s.send(b)
	s.m.batchSeconds.Observe(time.Since(start).Seconds())
	s.m.batches.Inc()
	s.m.batchSize.Observe(float64(len(b.items)))
	if err == nil && len(b.out) != len(b.items) {
		err = fmt.Errorf("%d verdicts for %d checks", len(b.out), len(b.items))
	}
	if err != nil {
		s.m.batchErrors.Inc()
		u := s.markDown(err)
		s.answerErr(b, u)
		return
	}
	if b.journaled > 0 {
		s.opts.Journal.Journaled(b.journaled)
	}
	for i, it := range b.items {
		v := ledger.CardVerdict(b.out[i])
		if v > ledger.CardOverRate {
			s.m.checks[verdictUnavailable].Inc()
			it.done <- cardResult{err: unavailable("unknown verdict %d from the database", b.out[i])}
			continue
		}
		s.m.checks[v].Inc()
		it.done <- cardResult{v: v, journaled: it.j != nil && b.journaled > 0}
	}
	clear(b.items)
}

// bytesOf is s as bytes, never nil (nil would be NULL, and a NULL key
// would fail the whole batch).
func bytesOf(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

func (s *CardState) answerErr(b *batch, err error) {
	for _, it := range b.items {
		s.m.checks[verdictUnavailable].Inc()
		it.done <- cardResult{err: err}
	}
	clear(b.items)
}

// send runs the batch's statement, retrying what is safe to retry within
// the deadline.
func (s *CardState) send(b *batch) error {
	// The server gives up first (statement_timeout is Timeout, set on the
	// connection): a batch the gateway reports failed has then been rolled
	// back. Were the client to give up first, the server could still
	// commit it once a lock it waited for is released, and a request
	// answered 91 would have taken effect (its retransmission then a 94).
	ctx, cancel := context.WithTimeout(s.base, s.opts.Timeout+s.opts.Timeout/2)
	defer cancel()
	o := s.opts.CardStateOptions
	var err error
	for attempt := 1; ; attempt++ {
		if b.journaled > 0 {
			r := &b.rec
			err = s.pool.QueryRow(ctx, journalStmt, b.keys, b.cards, b.hashes, b.atcs, b.nows,
				int64(o.DuplicateWindow), int32(o.RateLimit), int64(o.RateWindow),
				r.ids, r.ats, r.institutions, r.terminals, r.stans, r.rrns, r.services, r.panHashes, r.latencies, r.codes).Scan(&b.out)
			var pe *pgconn.PgError
			if err != nil && errors.As(err, &pe) && refusesRecords(pe) && ctx.Err() == nil {
				// The server refused the statement (the batch rolled back): the
				// records may be what it refuses. The checks alone again; their
				// records go to the audit trail's own batches.
				s.m.unjournaled.Inc()
				s.log.Warn("card state: the primary refused the audit records of a batch: sent again without them", zap.Int("records", b.journaled),
					zap.String("sqlstate", pe.Code), zap.String("cause", pe.Message))
				b.journaled = 0
				attempt--
				continue
			}
		} else {
			err = s.pool.QueryRow(ctx, checkStmt, b.keys, b.cards, b.hashes, b.atcs, b.nows,
				int64(o.DuplicateWindow), int32(o.RateLimit), int64(o.RateWindow)).Scan(&b.out)
		}
		if err == nil || attempt == maxAttempts || ctx.Err() != nil || !retryable(err) {
			return err
		}
		s.m.retries.Inc()
	}
}

// refusesRecords: an error of the data (SQLSTATE class 22), of a
// constraint (23), or of the statement against the schema or its rights
// (42: audit_log missing or altered, no INSERT privilege): what the records
// of a journaled batch may cause, and sending the checks alone avoids. A
// timeout, a read-only server or a broken connection are the primary's
// state, not the records': those fail the batch as any other.
func refusesRecords(pe *pgconn.PgError) bool {
	c := pe.Code
	return strings.HasPrefix(c, "22") || strings.HasPrefix(c, "23") || strings.HasPrefix(c, "42")
}

// retryable: a deadlock or serialization failure (the transaction was
// rolled back), or a failure before the statement reached the server.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001"
	}
	return pgconn.SafeToRetry(err)
}

// markDown records a failure of the primary: the first marks it down
// (logged once), drops the pool's connections and starts the probe.
func (s *CardState) markDown(err error) *unavailableError {
	msg := "no answer in time"
	if !errors.Is(err, context.DeadlineExceeded) {
		msg = scrub(cause(err), "", s.pool.Config().ConnConfig.Password)
	}
	u := unavailable("primary %s unavailable: %s", s.desc, msg)
	if s.closed.Load() {
		return u
	}
	if s.down.CompareAndSwap(nil, u) {
		s.m.up.Set(0)
		s.m.downs.Inc()
		s.log.Error("card state: primary unavailable: decisions 7, 14, 15 fail (91) until it answers again",
			zap.String("database", s.desc), zap.String("cause", msg))
		s.pool.Reset()
		if s.probing.CompareAndSwap(false, true) {
			s.wg.Add(1)
			go s.probe()
		}
	}
	return u
}

// probe tries the primary at once, then every ProbeInterval, until it
// answers (then it is marked up) or Close.
func (s *CardState) probe() {
	defer s.wg.Done()
	defer s.probing.Store(false)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(s.base, s.opts.Timeout)
		err := s.pool.Ping(ctx)
		cancel()
		if err == nil {
			d := s.down.Swap(nil)
			s.m.up.Set(1)
			if d != nil {
				s.log.Warn("card state: primary back: decisions 7, 14, 15 answered by it again", zap.String("database", s.desc))
			}
			return
		}
		t.Reset(max(s.opts.ProbeInterval-time.Since(start), 0))
	}
}

// Prune deletes the duplicate keys that left the window: those seen before
// the latest Now this CardState checked, less the duplicate window and a
// minute. It returns how many it deleted. Keys locked by a batch in
// progress are left for the next time (it never waits for a batch, so it
// cannot deadlock with one). The pruner calls it every PruneInterval.
func (s *CardState) Prune(ctx context.Context) (int64, error) {
	latest := s.latest.Load()
	if latest == 0 {
		return 0, nil
	}
	cutoff := latest - int64(s.opts.DuplicateWindow) - int64(pruneSlack)
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, pruneSQL, cutoff, pruneChunk)
		if err != nil {
			return total, unavailable("prune: %s", scrub(cause(err), "", s.pool.Config().ConnConfig.Password))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneChunk {
			s.m.pruned.Add(float64(total))
			return total, nil
		}
	}
}

func (s *CardState) pruner() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.down.Load() != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(s.base, max(s.opts.Timeout, 10*time.Second))
		n, err := s.Prune(ctx)
		cancel()
		if err != nil {
			s.log.Warn("card state: pruning the duplicate keys failed", zap.Error(err))
		} else if n > 0 {
			s.log.Debug("card state: duplicate keys pruned", zap.Int64("keys", n))
		}
	}
}

// verdictUnavailable is the checks_total label of a check that failed.
const verdictUnavailable = ledger.CardOverRate + 1

// cardMetrics are the metrics of a CardState; with no Registerer they are
// kept but not registered.
type cardMetrics struct {
	checks       [verdictUnavailable + 1]prometheus.Counter
	batches      prometheus.Counter
	batchErrors  prometheus.Counter
	retries      prometheus.Counter
	fastFailed   prometheus.Counter
	downs        prometheus.Counter
	pruned       prometheus.Counter
	unjournaled  prometheus.Counter
	up           prometheus.Gauge
	batchSize    prometheus.Histogram
	batchSeconds prometheus.Histogram
	queueSeconds prometheus.Histogram
}

func newCardMetrics(reg prometheus.Registerer) (*cardMetrics, error) {
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "atmgw_card_state_checks_total",
		Help: "Card state checks (decisions 7, 14, 15) on the primary by verdict: accepted, duplicate, replayed, over_rate, unavailable (answered 91).",
	}, []string{"verdict"})
	m := &cardMetrics{
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_card_state_batches_total",
			Help: "Batches (group commits) sent to the primary.",
		}),
		batchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_card_state_errors_total",
			Help: "Batches that failed (their checks answered 91).",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_card_state_retries_total",
			Help: "Batches tried again after a deadlock, a serialization failure or a connection that failed before sending.",
		}),
		fastFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_card_state_fast_failed_total",
			Help: "Checks failed at once (91) because the primary was marked down.",
		}),
		downs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_card_state_down_total",
			Help: "Times the primary was marked down.",
		}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_card_state_pruned_keys_total",
			Help: "Expired duplicate keys deleted by this gateway.",
		}),
		unjournaled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_card_state_unjournaled_batches_total",
			Help: "Batches whose audit records the primary refused: sent again without them (the records then went to the audit trail's own batches).",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "atmgw_card_state_up",
			Help: "1 while the primary answers card state checks, 0 while it is marked down.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "atmgw_card_state_batch_size",
			Help:    "Checks per batch.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "atmgw_card_state_batch_duration_seconds",
			Help:    "Time of a batch on the primary (the statement and its commit, retries included).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2},
		}),
		queueSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "atmgw_card_state_queue_wait_seconds",
			Help:    "Time a check waits for a worker (the batches in flight) before its batch is sent.",
			Buckets: []float64{.0001, .0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1},
		}),
	}
	for v := ledger.CardAccepted; v <= verdictUnavailable; v++ {
		label := "unavailable"
		switch v {
		case ledger.CardAccepted:
			label = "accepted"
		case ledger.CardDuplicate:
			label = "duplicate"
		case ledger.CardReplayed:
			label = "replayed"
		case ledger.CardOverRate:
			label = "over_rate"
		}
		m.checks[v] = checks.WithLabelValues(label)
	}
	if reg != nil {
		cs := []prometheus.Collector{checks, m.batches, m.batchErrors, m.retries, m.fastFailed,
			m.downs, m.pruned, m.unjournaled, m.up, m.batchSize, m.batchSeconds, m.queueSeconds}
		for i, c := range cs {
			if err := reg.Register(c); err != nil {
				for _, r := range cs[:i] {
					reg.Unregister(r)
				}
				return nil, fmt.Errorf("card state metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Ping is nil when the primary answers (for /readyz): not marked down, and
// a connection of the pool answers a ping before ctx is done.
func (s *CardState) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrPoolClosed
	}
	if d := s.down.Load(); d != nil {
		return d
	}
	if err := s.pool.Ping(ctx); err != nil {
		return unavailable("the primary does not answer: %s", cause(err))
	}
	return nil
}
