package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// Inquiries are sent in batches: a reader takes the inquiries waiting at
// once (at most maxReadBatch) and sends them on one connection in one
// write, as a pipeline (pgx.Batch: every Bind and Execute, one Sync), and
// reads the answers in order. A batch of n costs one round trip and two
// system calls on each side instead of n of each: what loopback TCP costs
// per inquiry is most of what an inquiry costs the gateway and a good part
// of what it costs the database. Nothing waits to fill a batch: an
// inquiry that finds a reader idle is sent at once, alone; batches form
// while the readers are busy, so they grow with the load.
const (
	// maxReadBatch is the most inquiries one batch takes.
	maxReadBatch = 32
	// maxReadWait bounds a batch whose inquiries have no deadline (the
	// gateway's always have one: the breaker's).
	maxReadWait = 30 * time.Second
)

// readReq is one inquiry for the readers.
type readReq struct {
	ctx  context.Context
	sql  string
	q    ledger.Query
	done chan readResult // buffered: a reader never waits for a caller gone
}

type readResult struct {
	ans ledger.Answer
	err error
}

// readers is the batching front of a Store's pool.
type readers struct {
	pool *Pool
	reqs chan *readReq
	quit chan struct{}
	wg   sync.WaitGroup
	free sync.Pool // *readReq, done channel included

	batches, sent atomic.Uint64 // batches and the inquiries in them (tests)
}

// defaultReaders is how many readers a store has when Options.Readers is
// 0: enough for both cores of a small server to be busy, few enough that
// batches form.
func defaultReaders(maxConns int32) int { return int(min(max(maxConns/2, 1), 4)) }

func startReaders(pool *Pool, n int) *readers {
	r := &readers{pool: pool, reqs: make(chan *readReq), quit: make(chan struct{})}
	r.free.New = func() any { return &readReq{done: make(chan readResult, 1)} }
	r.wg.Add(n)
	for range n {
		go r.loop()
	}
	return r
}

// stop makes the readers leave once their batch is done, and waits.
func (r *readers) stop() {
	close(r.quit)
	r.wg.Wait()
}

// inquire sends one inquiry through the readers and waits for its answer
// or for ctx.
func (r *readers) inquire(ctx context.Context, sql string, q ledger.Query) (ledger.Answer, error) {
	req := r.free.Get().(*readReq)
	req.ctx, req.sql, req.q = ctx, sql, q
	select {
	case r.reqs <- req:
	case <-ctx.Done():
		r.release(req)
		return ledger.Answer{}, ctx.Err()
	case <-r.quit:
		r.release(req)
		return ledger.Answer{}, ErrPoolClosed
	}
	select {
	case res := <-req.done:
		r.release(req)
		return res.ans, res.err
	case <-ctx.Done():
		// The reader answers into done later; the request is not reused.
		return ledger.Answer{}, ctx.Err()
	}
}

func (r *readers) release(req *readReq) {
	req.ctx, req.q = nil, ledger.Query{}
	r.free.Put(req)
}

func (r *readers) loop() {
	defer r.wg.Done()
	batch := make([]*readReq, 0, maxReadBatch)
	for {
		select {
		case req := <-r.reqs:
			batch = append(batch[:0], req)
		case <-r.quit:
			return
		}
	fill:
		for len(batch) < maxReadBatch {
			select {
			case req := <-r.reqs:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		r.runSafe(batch)
		clear(batch)
	}
}

// runSafe runs a batch; a panic fails the inquiries not yet answered (the
// reader goes on with the next batch).
func (r *readers) runSafe(batch []*readReq) {
	defer func() {
		if v := recover(); v != nil {
			err := fmt.Errorf("ledger: panic reading a batch of inquiries: %s", card.Scrub(fmt.Sprint(v)))
			for _, req := range batch {
				select {
				case req.done <- readResult{err: err}:
				default: // answered already
				}
			}
		}
	}()
	r.run(batch)
}

// run sends a batch and hands out its answers. The batch has the latest
// deadline of its inquiries: one that gives up earlier has stopped
// waiting, and its answer is dropped.
func (r *readers) run(batch []*readReq) {
	deadline := time.Now().Add(maxReadWait)
	var latest time.Time
	for _, req := range batch {
		if d, ok := req.ctx.Deadline(); ok && d.After(latest) {
			latest = d
		}
	}
	if !latest.IsZero() && latest.Before(deadline) {
		deadline = latest
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	r.batches.Add(1)
	r.sent.Add(uint64(len(batch)))
	if len(batch) == 1 {
		req := batch[0]
		ans, err := inquire(ctx, r.pool, req.sql, req.q)
		req.done <- readResult{ans, err}
		return
	}
	c, err := r.pool.Acquire(ctx)
	if err != nil {
		for _, req := range batch {
			req.done <- readResult{err: err}
		}
		return
	}
	defer c.Release()
	var b pgx.Batch
	for _, req := range batch {
		b.Queue(req.sql, req.q.Institution, req.q.PANHash)
	}
	br := c.SendBatch(ctx, &b)
	for _, req := range batch {
		ans, err := scanAnswer(br.QueryRow(), req.q)
		req.done <- readResult{ans, err}
	}
	if err := br.Close(); err != nil {
		c.Conn().PgConn().Close(ctx) // a broken pipeline: the pool makes a new connection
	}
}
