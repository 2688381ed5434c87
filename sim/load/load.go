package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/sim"
	"github.com/bli/atmgw/sim/cards"
)

// Config says how to load a gateway.
type Config struct {
	Gateway      string
	Connections  int               // default 1
	Institutions []string          // connections sign on round-robin as these (default 700)
	MACKeys      map[string][]byte // MAC key per institution (sign 0200, check 0210)
	Cards        []cards.Card      // each connection uses the cards meant for its institution
	Service      string            // "pension" (default), "insurance" or "mix" (alternating)
	Rate         float64           // requests per second in all; 0: closed loop
	Window       int               // outstanding requests per connection at most (default 8)
	Duration     time.Duration     // stop sending after this long (0: Count decides)
	Count        int64             // stop after sending this many (0: Duration decides)
	Timeout      time.Duration     // a request unanswered this long is timed out (default 5 s)
	Interval     time.Duration     // resolution of the series (default 1 s)
	Terminal     string            // terminal id prefix; connection i is PREFIX + i, 8 characters (default "LD")
	// OnStart, when set, is called with the collector once every connection
	// has signed on and the run starts (for a progress display).
	OnStart func(*Collector)
	// TLS, when set, makes the default Dial connect with TLS.
	TLS *tls.Config
	// Dial opens a connection (default: TCP with a 5 s timeout, TLS when set).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// Errors Run returns (wrapped) when a run cannot start.
var (
	ErrConfig      = errors.New("bad load configuration")
	ErrUnreachable = errors.New("gateway unreachable")
	ErrSignOn      = errors.New("sign-on refused")
)

// Result is a run's report and the cards' counters after it.
type Result struct {
	Report *Report
	// ATCs maps the PAN of every card used to its ATC after the run, to be
	// saved back into the card file.
	ATCs map[string]uint16
}

func (c *Config) defaults() error {
	if c.Connections == 0 {
		c.Connections = 1
	}
	if c.Connections < 1 || c.Connections > 99999 {
		return errors.New("connections must be 1 to 99999")
	}
	if len(c.Institutions) == 0 {
		c.Institutions = []string{"700"}
	}
	switch c.Service {
	case "":
		c.Service = "pension"
	case "pension", "insurance", "mix":
	default:
		return fmt.Errorf("service %q: want pension, insurance or mix", c.Service)
	}
	if c.Window == 0 {
		c.Window = 8
	}
	if c.Window < 1 {
		return errors.New("window must be at least 1")
	}
	if c.Rate < 0 {
		return errors.New("rate must not be negative")
	}
	if c.Duration <= 0 && c.Count <= 0 {
		return errors.New("give a duration or a count")
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Terminal == "" {
		c.Terminal = "LD"
	}
	if len(c.Terminal) > 7 {
		return errors.New("terminal prefix must be at most 7 characters")
	}
	if c.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		c.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
		if c.TLS != nil {
			td := &tls.Dialer{NetDialer: d, Config: c.TLS}
			c.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return td.DialContext(ctx, "tcp", addr) }
		}
	}
	return nil
}

// cardState is a card of the pool: in one request at a time.
type cardState struct {
	card cards.Card
	chip *sim.Chip
	dead bool
}

// retire takes a card out of the run for good; when an institution has no
// card left, sending stops.
func (w *worker) retire(cs *cardState, err error) {
	r := w.r
	r.errorf("card %s taken out of the run: %v", card.MaskPAN(cs.card.PAN), err)
	cs.dead = true
	if r.alive[w.inst].Add(-1) == 0 {
		r.errorf("institution %s has no usable card left: sending stopped", w.inst)
		r.stopSending()
	}
}

// run is the state shared by the connections of one run.
type run struct {
	cfg    *Config
	col    *Collector
	pools  map[string]chan *cardState
	alive  map[string]*atomic.Int64 // usable cards per pool
	tokens chan time.Time           // open loop: due times
	budget atomic.Int64             // requests left to send (Count), when Count > 0
	stop   chan struct{}            // closed when sending must stop
	once   sync.Once
	errMu  sync.Mutex
	errs   []string
	lost   atomic.Int32
}

func (r *run) stopSending() { r.once.Do(func() { close(r.stop) }) }

func (r *run) errorf(format string, args ...any) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errs) < 20 {
		r.errs = append(r.errs, fmt.Sprintf(format, args...))
	}
}

// Run loads the gateway as configured and reports. It returns an error
// when the run cannot start (bad configuration, a connection that cannot
// be opened or signed on); what happens during the run is in the report.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	r := &run{cfg: &cfg, pools: map[string]chan *cardState{}, alive: map[string]*atomic.Int64{}, stop: make(chan struct{})}
	// Each card goes to one pool (a card is in one request at a time): a
	// card meant for several institutions of the run goes to the one with
	// the fewest cards so far.
	all := map[string]*cardState{}
	lists := map[string][]*cardState{}
	for pass := 1; pass <= 2; pass++ { // cards of one institution first, then shared ones
		for i := range cfg.Cards {
			c := &cfg.Cards[i]
			var eligible []string
			for _, inst := range cfg.Institutions {
				if len(c.Institutions) > 0 && c.For(inst) && !contains(eligible, inst) {
					eligible = append(eligible, inst)
				}
			}
			if len(eligible) == 0 || (pass == 1) != (len(eligible) == 1) {
				continue
			}
			best := eligible[0]
			for _, inst := range eligible[1:] {
				if len(lists[inst]) < len(lists[best]) {
					best = inst
				}
			}
			cs := &cardState{card: *c}
			all[c.PAN] = cs
			lists[best] = append(lists[best], cs)
		}
	}
	for _, inst := range cfg.Institutions {
		if _, done := r.pools[inst]; done {
			continue
		}
		list := lists[inst]
		if len(list) == 0 {
			return nil, fmt.Errorf("%w: no card of institution %s in the card file", ErrConfig, inst)
		}
		pool := make(chan *cardState, len(list))
		for _, cs := range list {
			pool <- cs
		}
		r.pools[inst] = pool
		r.alive[inst] = &atomic.Int64{}
		r.alive[inst].Store(int64(len(pool)))
	}
	if cfg.Count > 0 {
		r.budget.Store(cfg.Count)
	}

	// Open and sign on every connection before the clock starts.
	conns := make([]*worker, cfg.Connections)
	closeAll := func() {
		for _, w := range conns {
			if w != nil {
				w.nc.Close()
			}
		}
	}
	for i := range conns {
		inst := cfg.Institutions[i%len(cfg.Institutions)]
		w, err := r.open(ctx, i, inst)
		if err != nil {
			closeAll()
			return nil, err
		}
		conns[i] = w
	}

	start := time.Now()
	r.col = NewCollector(start, cfg.Interval)
	if cfg.OnStart != nil {
		cfg.OnStart(r.col)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	// The clock: intervals, the duration, and the pacer of an open loop.
	bg.Add(1)
	go func() {
		defer bg.Done()
		t := time.NewTicker(min(cfg.Interval, 100*time.Millisecond))
		defer t.Stop()
		var deadline <-chan time.Time
		if cfg.Duration > 0 {
			dt := time.NewTimer(cfg.Duration)
			defer dt.Stop()
			deadline = dt.C
		}
		for {
			select {
			case now := <-t.C:
				r.col.Tick(now)
			case <-deadline:
				r.stopSending()
				deadline = nil
			case <-ctx.Done():
				r.stopSending()
				return
			case <-runCtx.Done():
				return
			}
		}
	}()
	if cfg.Rate > 0 {
		r.tokens = make(chan time.Time, 4096)
		bg.Add(1)
		go func() {
			defer bg.Done()
			r.pace(runCtx, start)
		}()
	}
	var wg sync.WaitGroup
	for _, w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(runCtx)
		}()
	}
	wg.Wait()
	end := time.Now()
	cancel()
	bg.Wait()

	rep := r.col.Finish(end)
	rep.Gateway = cfg.Gateway
	rep.Connections = cfg.Connections
	rep.Institutions = cfg.Institutions
	rep.Service = cfg.Service
	rep.Window = cfg.Window
	rep.TimeoutMS = float64(cfg.Timeout) / float64(time.Millisecond)
	rep.Cards = len(all)
	rep.Mode = "closed loop"
	if cfg.Rate > 0 {
		rep.Mode = "open loop"
		rep.TargetRate = cfg.Rate
	}
	for i := range rep.Codes {
		rep.Codes[i].Description = iso.Describe(rep.Codes[i].Code)
	}
	rep.ConnectionsLost = int(r.lost.Load())
	rep.Errors = r.errs
	res := &Result{Report: rep, ATCs: map[string]uint16{}}
	for pan, cs := range all {
		if cs.chip != nil && cs.chip.ATC() > cs.card.ATC {
			res.ATCs[pan] = cs.chip.ATC()
		}
	}
	return res, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// pace issues the due times of an open loop at the configured rate.
func (r *run) pace(ctx context.Context, start time.Time) {
	defer close(r.tokens)
	every := time.Duration(float64(time.Second) / r.cfg.Rate)
	due := start
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-r.stop:
				return
			case <-ctx.Done():
				return
			}
		}
		select {
		case r.tokens <- due:
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		}
		due = due.Add(every)
	}
}

// take reserves one request of the Count budget.
func (r *run) take() bool {
	if r.cfg.Count <= 0 {
		return true
	}
	if r.budget.Add(-1) < 0 {
		r.stopSending()
		return false
	}
	return true
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
