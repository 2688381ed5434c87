package gateway

import (
	"context"
	"errors"
	"net"
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

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	nextID    uint64
	bound     map[string]int // connections signed on, per institution
	wg        sync.WaitGroup // accept loops and sessions
	shutting  atomic.Bool
}

// NewServer checks the options and builds a Server; nothing runs until Serve.
func NewServer(opts Options) (*Server, error) {
	h, err := NewHandler(&opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		opts:      opts,
		handler:   h,
		log:       opts.Logger,
		ctx:       ctx,
		cancel:    cancel,
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
		bound:     make(map[string]int),
	}, nil
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

func (s *Server) startSession(c net.Conn) {
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
	s.nextID++
	ss := newSession(s, c, s.nextID)
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
		ss.drain()
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
		ss.abort(reasonClosed, nil)
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

// bind counts a connection signing on as institution; false when the
// partner is at its cap.
func (s *Server) bind(institution string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.MaxConnsPerPartner > 0 && s.bound[institution] >= s.opts.MaxConnsPerPartner {
		return false
	}
	s.bound[institution]++
	return true
}

func (s *Server) unbind(institution string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound[institution]--; s.bound[institution] <= 0 {
		delete(s.bound, institution)
	}
}

// Reload replaces the partners and profiles without dropping connections
// (see Handler.Reload).
func (s *Server) Reload(partners []Partner, profiles *limits.Book) error {
	return s.handler.Reload(partners, profiles)
}

// Sessions returns the number of open connections.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
