package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/sim"
)

// openAll opens and signs on every connection (closing those opened when
// one fails).
func (r *run) openAll(ctx context.Context) ([]*worker, error) {
	conns := make([]*worker, r.cfg.Connections)
	closeAll := func() {
		for _, w := range conns {
			if w != nil {
				w.nc.Close()
			}
		}
	}
	for i := range conns {
		inst := r.cfg.Institutions[i%len(r.cfg.Institutions)]
		w, err := r.open(ctx, i, inst)
		if err != nil {
			closeAll()
			return nil, err
		}
		conns[i] = w
	}

	return conns, nil
}

// pending is a request in flight.
type pending struct {
	stan     string
	from     time.Time // latency is measured from here
	deadline time.Time
	cs       *cardState
	service  string
}

// worker is one connection.
type worker struct {
	r    *run
	id   int
	inst string
	term string
	key  []byte
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	buf  []byte

	slots chan struct{} // window: a slot per request outstanding

	mu      sync.Mutex
	stan    int
	pending map[string]*pending
	expired map[string]time.Time // STANs given up on, until then a late answer is recognised
	dead    chan struct{}
	sent    int64
	closing atomic.Bool // the run closes the connection: not a loss
	gone    bool        // the reader has stopped (under mu): nothing may be sent
}

func (r *run) open(ctx context.Context, i int, inst string) (*worker, error) {
	cfg := r.cfg
	nc, err := cfg.Dial(ctx, cfg.Gateway)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err // the address is in the message already
		}
		return nil, fmt.Errorf("%w: connection %d: cannot reach the gateway at %s: %v", ErrUnreachable, i+1, cfg.Gateway, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	w := &worker{
		r: r, id: i, inst: inst, key: cfg.MACKeys[inst], nc: nc,
		term:    fmt.Sprintf("%s%0*d", cfg.Terminal, 8-len(cfg.Terminal), i+1),
		br:      bufio.NewReaderSize(nc, 16<<10),
		bw:      bufio.NewWriterSize(nc, 16<<10),
		slots:   make(chan struct{}, cfg.Window),
		pending: map[string]*pending{},
		expired: map[string]time.Time{},
		dead:    make(chan struct{}),
	}
	// Sign on, synchronously, before the reader starts.
	m := sim.NetworkRequest(sim.SignOnCode, time.Now())
	m.STAN, m.Institution = w.nextSTAN(), inst
	b, err := iso.Encode(m)
	if err == nil {
		nc.SetDeadline(time.Now().Add(cfg.Timeout))
		err = iso.WriteFrame(w.bw, b)
		if err == nil {
			err = w.bw.Flush()
		}
	}
	var resp *iso.Message
	if err == nil {
		var f []byte
		if f, err = iso.ReadFrame(w.br, nil); err == nil {
			resp, err = iso.Decode(f)
		}
	}
	nc.SetDeadline(time.Time{})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: connection %d: sign-on as %s: %v", ErrUnreachable, i+1, inst, err)
	}
	if resp.ResponseCode != iso.RCApproved {
		nc.Close()
		return nil, fmt.Errorf("%w: connection %d: sign-on as institution %s: %s %s", ErrSignOn, i+1, inst, resp.ResponseCode, iso.Describe(resp.ResponseCode))
	}
	return w, nil
}

// nextSTAN returns the next DE11, 000001 to 999999 and round again,
// skipping STANs in flight or recently given up on. Called with mu held
// (or before the reader starts).
func (w *worker) nextSTAN() string {
	for {
		w.stan = w.stan%999999 + 1
		s := fmt.Sprintf("%06d", w.stan)
		if _, busy := w.pending[s]; busy {
			continue
		}
		delete(w.expired, s)
		return s
	}
}

func (w *worker) run(ctx context.Context) {
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		w.readLoop()
	}()
	go func() {
		defer readers.Done()
		w.sweepLoop()
	}()
	w.sendLoop(ctx)
	// Sending is over: wait for the answers in flight (each has its
	// deadline), then say goodbye.
	w.drain()
	w.closing.Store(true)
	w.nc.Close()
	readers.Wait()
}

func (w *worker) sendLoop(ctx context.Context) {
	r := w.r
	pool := r.pools[w.inst]
	// Requests are written into the buffer and flushed when the loop would
	// wait: several requests ready at once leave in one write.
	defer w.flush()
	for {
		select {
		case <-w.dead:
			return
		default:
		}
		var due time.Time
		if r.tokens != nil {
			var t time.Time
			var ok, got bool
			select {
			case t, ok = <-r.tokens:
				got = true
			default:
			}
			if !got {
				w.flush()
				select {
				case t, ok = <-r.tokens:
				case <-r.stop:
					return
				case <-w.dead:
					return
				}
			}
			if !ok {
				return
			}
			due = t
		}
		select {
		case w.slots <- struct{}{}:
		default:
			w.flush()
			select {
			case w.slots <- struct{}{}:
			case <-r.stop:
				return
			case <-w.dead:
				return
			}
		}
		var cs *cardState
		select {
		case cs = <-pool:
		default:
			w.flush()
			select {
			case cs = <-pool:
			case <-r.stop:
				<-w.slots
				return
			case <-w.dead:
				<-w.slots
				return
			}
		}
		select {
		case <-r.stop:
			pool <- cs
			<-w.slots
			return
		default:
		}
		if !r.take() {
			pool <- cs
			<-w.slots
			return
		}
		if !w.send(cs, due) {
			<-w.slots
			r.budget.Add(1)
		}
		select {
		case <-ctx.Done():
			return
		default:
		}
	}
}

// flush writes out the buffered requests; a failure closes the connection
// (the reader then times out what is in flight as lost).
func (w *worker) flush() {
	if w.bw.Buffered() == 0 {
		return
	}
	if err := w.bw.Flush(); err != nil {
		w.nc.Close()
	}
}

// send builds and writes one inquiry with a card. It returns false when
// nothing was sent (the card is unusable, or the connection failed).
func (w *worker) send(cs *cardState, due time.Time) bool {
	r := w.r
	if cs.chip == nil {
		chip, err := sim.VirtualChip(&cs.card)
		if err != nil {
			w.retire(cs, err)
			return false
		}
		cs.chip = chip
	}
	use, err := cs.chip.Generate()
	if err != nil {
		// An exhausted ATC (65535) or a broken card.
		w.retire(cs, err)
		return false
	}
	svc := sim.Pension
	switch r.cfg.Service {
	case "insurance":
		svc = sim.Insurance
	case "mix":
		if w.sent%2 == 1 {
			svc = sim.Insurance
		}
	}
	w.mu.Lock()
	if w.gone {
		// The connection was lost and what was in flight is settled: a
		// request now would be counted by nobody.
		w.mu.Unlock()
		w.r.pools[w.inst] <- cs
		return false
	}
	stan := w.nextSTAN()
	now := time.Now()
	from := now
	if !due.IsZero() {
		from = due
	}
	p := &pending{stan: stan, from: from, deadline: now.Add(r.cfg.Timeout), cs: cs, service: string(svc)}
	w.pending[stan] = p
	w.sent++
	w.mu.Unlock()

	m := sim.Inquiry(sim.Terminal{Institution: w.inst, ID: w.term, Acceptor: sim.DefaultAcceptor}, svc, use, stan, now)
	var b []byte
	if w.key != nil {
		b, err = iso.EncodeMAC(m, w.key)
	} else {
		w.buf, err = iso.AppendEncode(w.buf[:0], m)
		b = w.buf
	}
	if err == nil {
		// Counted before the write, so that an answer (or the loss of the
		// connection) can never be counted before its request.
		r.col.Sent()
		// Only this goroutine writes; the lock is not held, so that the
		// reader never waits behind a write blocked by a full socket. The
		// send loop flushes before it waits.
		err = iso.WriteFrame(w.bw, b)
		if err != nil {
			// The request may or may not have left: the reader will find the
			// connection dead and time it out as lost.
			w.nc.Close()
		}
		return true
	}
	r.errorf("encoding an inquiry: %v", err)
	w.mu.Lock()
	w.sent--
	w.mu.Unlock()
	w.mu.Lock()
	delete(w.pending, stan)
	w.mu.Unlock()
	r.pools[w.inst] <- cs
	return false
}

func (w *worker) readLoop() {
	r := w.r
	defer func() {
		// The connection is gone: everything in flight is lost.
		w.mu.Lock()
		w.gone = true
		lost := make([]*pending, 0, len(w.pending))
		for s, p := range w.pending {
			lost = append(lost, p)
			delete(w.pending, s)
		}
		w.mu.Unlock()
		for _, p := range lost {
			r.col.TimedOut(true)
			w.release(p)
		}
		close(w.dead)
	}()
	for {
		f, err := iso.ReadFrame(w.br, nil)
		if err != nil {
			if !w.closing.Load() {
				r.lost.Add(1)
				r.errorf("connection %d (%s): lost: %v", w.id+1, w.inst, err)
			}
			return
		}
		now := time.Now()
		m, derr := iso.Decode(f)
		if m == nil || m.STAN == "" {
			r.col.Unknown()
			continue
		}
		w.mu.Lock()
		p, ok := w.pending[m.STAN]
		if ok && m.TerminalID != "" && m.TerminalID != w.term {
			ok = false // same STAN, another terminal: not ours
		}
		if ok {
			delete(w.pending, m.STAN)
		}
		_, late := w.expired[m.STAN]
		if late {
			delete(w.expired, m.STAN)
		}
		w.mu.Unlock()
		switch {
		case ok:
			rc := m.ResponseCode
			if derr != nil && rc == "" {
				rc = "??"
			}
			if w.key != nil && m.MTI == iso.MTIFinancialResponse && iso.VerifyMAC(f, w.key) != nil {
				rc = "MAC?" // an answer whose MAC fails is not trusted
			}
			want := p.cs.card.Expected(p.service)
			r.col.Answered(now.Sub(p.from), rc, want != "" && want != rc)
			w.release(p)
		case late:
			r.col.Late()
		default:
			r.col.Unknown()
		}
	}
}

// release frees the request's window slot and gives its card back.
func (w *worker) release(p *pending) {
	if !p.cs.dead {
		w.r.pools[w.inst] <- p.cs
	}
	<-w.slots
}

// sweepLoop times out the requests whose deadline passed.
func (w *worker) sweepLoop() {
	every := min(max(w.r.cfg.Timeout/10, 5*time.Millisecond), 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.dead:
			return
		case now := <-t.C:
			w.expire(now)
		}
	}
}

func (w *worker) expire(now time.Time) {
	var gone []*pending
	w.mu.Lock()
	for s, p := range w.pending {
		if !now.Before(p.deadline) {
			gone = append(gone, p)
			delete(w.pending, s)
			w.expired[s] = now.Add(10 * w.r.cfg.Timeout)
		}
	}
	for s, until := range w.expired {
		if now.After(until) {
			delete(w.expired, s)
		}
	}
	w.mu.Unlock()
	for _, p := range gone {
		w.r.col.TimedOut(false)
		w.release(p)
	}
}

// drain waits until nothing is in flight (answers, timeouts or the loss of
// the connection settle every request).
func (w *worker) drain() {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		w.mu.Lock()
		n := len(w.pending)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-w.dead:
			return
		case <-t.C:
		}
	}
}
