package gateway

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/bli/atmgw/limits"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("gateway: server closed")

// Server accepts partner connections and serves each in its own session.
type Server struct {
	opts    Options
	handler *Handler
	log     *zap.Logger

	ctx    context.Context // cancelled by Close: in-flight ledger calls stop
	cancel context.CancelFunc

	env    *sessionEnv // what sessions may use of the server
	counts *connCounts

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	nextID    uint64
	wg        sync.WaitGroup // accept loops and sessions
	shutting  atomic.Bool
}

// NewServer checks the options and builds a Server; nothing runs until Serve.
// The server keeps one copy of the options, which its handler and sessions
// share; the partners and profiles in it are the first ones only: the
// handler's routing holds the current ones (Reload replaces them).
func NewServer(opts Options) (*Server, error) {
	s := &Server{
		opts:      opts,
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
	}
	h, err := NewHandler(&s.opts)
	if err != nil {
		return nil, err
	}
	s.opts.Partners, s.opts.Profiles = nil, nil // Handler's routing has them
	s.handler, s.log = h, s.opts.Logger
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.counts = newConnCounts(s.opts.MaxConnsPerPartner, s.opts.MaxUnboundPerAddress, s.opts.Metrics)
	s.env = &sessionEnv{h: h, opts: &s.opts, metrics: s.opts.Metrics, base: s.ctx, counts: s.counts}
	return s, nil
}

// Handler returns the server's handler (tests drive decisions through it).
func (s *Server) Handler() *Handler { return s.handler }

// Serve accepts connections on l until Shutdown or Close, and then returns
// ErrServerClosed. Serve closes l. Any other error from Accept that is not
// temporary is returned.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", zap.Error(err), zap.Duration("backoff", backoff))
				select {
				case <-time.After(backoff):
					continue
				case <-s.ctx.Done():
					return ErrServerClosed
				}
			}
			return err
		}
		backoff = 0
		s.startSession(c)
	}
}

// startSession admits a connection or closes it at once: a stranger (an
// address outside every partner's allowed networks, unless AdmitStrangers),
// one over the total cap, or one over the unbound connections of its
// source address. A partner can thus always connect while strangers hold
// connections: strangers hold none, and connections that do not sign on
// are capped per address and closed at the sign-on deadline.
func (s *Server) startSession(c net.Conn) {
	addr := remoteAddr(c)
	if !s.opts.AdmitStrangers && !s.handler.Welcome(addr) {
		s.opts.Metrics.refused("stranger")
		s.log.Debug("connection refused: source outside every partner's allowed networks", zap.String("remote", c.RemoteAddr().String()))
		c.Close()
		return
	}
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		c.Close()
		return
	}
	if s.opts.MaxConns > 0 && len(s.sessions) >= s.opts.MaxConns {
		s.mu.Unlock()
		s.opts.Metrics.refused("total")
		s.log.Warn("connection refused: at the total cap", zap.String("remote", c.RemoteAddr().String()), zap.Int("max_conns", s.opts.MaxConns))
		c.Close()
		return
	}
	if !s.counts.open(addr) {
		s.mu.Unlock()
		s.opts.Metrics.refused("unbound")
		s.log.Warn("connection refused: too many connections not signed on from this address",
			zap.String("remote", c.RemoteAddr().String()), zap.Int("max_unbound_per_address", s.opts.MaxUnboundPerAddress))
		c.Close()
		return
	}
	s.nextID++
	ss := newSession(s.env, s.log, c, addr, s.nextID)
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		ss.run()
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
	}()
}

// Shutdown stops the server gracefully: it closes the listeners, stops
// reading new requests on every connection, answers the requests already in
// flight, then closes the connections. If ctx ends first, the remaining
// connections are closed at once (as Close does) and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	s.mu.Lock()
	for ss := range s.sessions {
		ss.drain(closedShutdown)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once; in-flight ledger
// calls are cancelled. It waits for every goroutine of the server to end.
func (s *Server) Close() error {
	s.beginShutdown()
	s.cancel()
	s.mu.Lock()
	for ss := range s.sessions {
		ss.abort(closedServer, nil)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) beginShutdown() {
	s.mu.Lock()
	s.shutting.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
}

// Reload replaces the partners and profiles and applies them to the
// connections already open: a connection that the new configuration would
// not have admitted is closed once what it has in flight is answered (a
// bound one whose partner was removed, whose source address left the
// partner's networks, or whose client certificate no longer binds it; an
// unbound one from an address outside every partner's networks, unless
// AdmitStrangers). The others keep their binding and get the new
// settings (MAC key, profiles) from their next request on. It returns the
// number of connections closed.
func (s *Server) Reload(partners []Partner, profiles *limits.Book) (int, error) {
	if err := s.handler.Reload(partners, profiles); err != nil {
		return 0, err
	}
	closed := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for ss := range s.sessions {
		why := closedUnknown
		if inst := ss.bound.Load(); inst != nil {
			why = s.handler.refusal(s.handler.Partner(*inst), ss.peer).reloadReason()
		} else if !s.opts.AdmitStrangers && !s.handler.Welcome(ss.peer.Addr) {
			why = closedReloadStranger
		}
		if why != closedUnknown {
			closed++
			ss.log.Info("reload: closing the connection", zap.Stringer("why", why))
			ss.drain(why)
		}
	}
	return closed, nil
}

// connCounts counts the open connections per source address while they are
// unbound and per institution once signed on, for the caps
// MaxUnboundPerAddress and MaxConnsPerPartner (0 or less: no cap).
type connCounts struct {
	mu         sync.Mutex
	maxPartner int
	maxUnbound int
	metrics    *Metrics // atmgw_connections_signed_on
	bound      map[string]int
	unbound    map[netip.Addr]int
}

func newConnCounts(maxPartner, maxUnbound int, m *Metrics) *connCounts {
	return &connCounts{maxPartner: maxPartner, maxUnbound: maxUnbound, metrics: m,
		bound: make(map[string]int), unbound: make(map[netip.Addr]int)}
}

// open counts a new, unbound connection; false when its address is at the cap.
func (c *connCounts) open(a netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxUnbound > 0 && c.unbound[a] >= c.maxUnbound {
		return false
	}
	c.unbound[a]++
	return true
}

// bind moves a connection from unbound (old nil) or from institution *old
// to institution; false when that partner is at its cap.
func (c *connCounts) bind(a netip.Addr, old *string, institution string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxPartner > 0 && c.bound[institution] >= c.maxPartner {
		return false
	}
	if old != nil {
		c.dec(*old)
	} else {
		c.decAddr(a)
	}
	c.bound[institution]++
	c.metrics.boundNow(institution, c.bound[institution])
	return true
}

// unbind moves a connection signed off from institution back to unbound.
func (c *connCounts) unbind(a netip.Addr, institution string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dec(institution)
	c.unbound[a]++
}

// release forgets a closed connection: bound to *institution, or unbound (nil).
func (c *connCounts) release(a netip.Addr, institution *string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if institution != nil {
		c.dec(*institution)
	} else {
		c.decAddr(a)
	}
}

func (c *connCounts) dec(institution string) {
	c.bound[institution]--
	c.metrics.boundNow(institution, max(c.bound[institution], 0))
	if c.bound[institution] <= 0 {
		delete(c.bound, institution)
	}
}

func (c *connCounts) decAddr(a netip.Addr) {
	if c.unbound[a]--; c.unbound[a] <= 0 {
		delete(c.unbound, a)
	}
}
