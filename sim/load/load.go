package load

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bli/atmgw/iso"
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
	all, err := r.dealCards()
	if err != nil {
		return nil, err
	}
	if cfg.Count > 0 {
		r.budget.Store(cfg.Count)
	}
	// Every connection is open and signed on before the clock starts.
	conns, err := r.openAll(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r.col = NewCollector(start, cfg.Interval)
	if cfg.OnStart != nil {
		cfg.OnStart(r.col)
	}
	end := r.drive(ctx, start, conns)
	return r.result(end, all), nil
}

// drive runs the clock (intervals, the duration, the pacer of an open
// loop) and every connection until sending has stopped and every request
// is answered or timed out, and returns when that was.
func (r *run) drive(ctx context.Context, start time.Time, conns []*worker) time.Time {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	// The clock: intervals, the duration, and the pacer of an open loop.
	bg.Add(1)
	go func() {
		defer bg.Done()
		r.clock(ctx, runCtx)
	}()
	if r.cfg.Rate > 0 {
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
	return end
}

// result is the report of a run that ended at end, and the ATCs of the
// cards it used.
func (r *run) result(end time.Time, all map[string]*cardState) *Result {
	rep := r.col.Finish(end)
	rep.Gateway = r.cfg.Gateway
	rep.Connections = r.cfg.Connections
	rep.Institutions = r.cfg.Institutions
	rep.Service = r.cfg.Service
	rep.Window = r.cfg.Window
	rep.TimeoutMS = float64(r.cfg.Timeout) / float64(time.Millisecond)
	rep.Cards = len(all)
	rep.Mode = "closed loop"
	if r.cfg.Rate > 0 {
		rep.Mode = "open loop"
		rep.TargetRate = r.cfg.Rate
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
	return res
}
