package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/config"
)

// Service is a gateway with its listeners: the partners' (plain TCP, and
// TLS when tls.listen is set) and the admin endpoints' (admin_listen).
// `atmgw serve` and the tests that start a whole gateway run it the same
// way: Listen, Start, then Stop.
type Service struct {
	*Gateway
	cfg       *config.Settings
	log       *zap.Logger
	listeners []net.Listener // the partners'
	adminL    net.Listener   // nil: no admin endpoints
	admin     *http.Server
	ready     atomic.Bool
	errc      chan error     // the first failure of a partner listener
	wg        sync.WaitGroup // the serve goroutines
	stopOnce  sync.Once
}

// ServiceOptions are what the command line adds to a configuration.
type ServiceOptions struct {
	Pprof bool // also serve /debug/pprof/ on admin_listen (none without it)
}

// Listen builds the gateway of a configuration (Build) and opens every
// listener, so that a bad address fails before any partner could connect;
// nothing is served until Start. The error names the key of the address
// at fault. Addresses with port 0 take a free port (see Listeners and
// AdminAddr).
func Listen(ctx context.Context, cfg *config.Settings, log *zap.Logger, o ServiceOptions) (*Service, error) {
	g, err := Build(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s := &Service{Gateway: g, cfg: cfg, log: log, errc: make(chan error, 3)}
	if err := s.listen(o); err != nil {
		for _, l := range s.listeners {
			l.Close()
		}
		g.Close()
		return nil, err
	}
	return s, nil
}

func (s *Service) listen(o ServiceOptions) error {
	l, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, unwrapOp(err))
	}
	s.listeners = append(s.listeners, l)
	if t := &s.cfg.TLS; t.Listen != "" {
		tc, err := TLSConfig(t)
		if err != nil {
			return err
		}
		tl, err := net.Listen("tcp", t.Listen)
		if err != nil {
			return fmt.Errorf("tls.listen on %s: %w", t.Listen, unwrapOp(err))
		}
		s.listeners = append(s.listeners, tls.NewListener(tl, tc))
	}
	if s.cfg.AdminListen != "" {
		al, err := net.Listen("tcp", s.cfg.AdminListen)
		if err != nil {
			return fmt.Errorf("admin_listen on %s: %w", s.cfg.AdminListen, unwrapOp(err))
		}
		s.adminL = al
		s.admin = &http.Server{Handler: s.adminMux(o.Pprof), ReadHeaderTimeout: 5 * time.Second,
			ErrorLog: zap.NewStdLog(s.log.Named("admin"))}
	}
	return nil
}

// AdminAddr is the address of the admin endpoints ("": none).
func (s *Service) AdminAddr() string {
	if s.adminL == nil {
		return ""
	}
	return s.adminL.Addr().String()
}

// Start serves every listener, each in a goroutine that Stop waits for,
// and then says ready on /readyz. A partner listener that fails is
// reported on Err; the admin server failing is logged (the partners go on
// being served).
func (s *Service) Start() {
	for _, l := range s.listeners {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.Server.Serve(l); !errors.Is(err, gateway.ErrServerClosed) {
				s.errc <- fmt.Errorf("serving %s: %w", l.Addr(), err)
			}
		}()
	}
	if s.admin != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.admin.Serve(s.adminL); !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("admin endpoints stopped: /metrics, /healthz and /readyz no longer answer",
					zap.String("listen", s.AdminAddr()), zap.Error(err))
			}
		}()
	}
	s.ready.Store(true)
}

// Err reports a partner listener that failed (the service should then be
// stopped).
func (s *Service) Err() <-chan error { return s.errc }

// Listeners are the partners' listeners (for logs).
func (s *Service) Listeners() []net.Listener { return s.listeners }

// Stop stops saying ready, lets the requests in flight be answered until
// ctx ends (then cuts the connections), stops the admin endpoints, waits
// for every serve goroutine, and closes the gateway (flushing the audit
// trail). It returns the Shutdown error (the grace was over).
func (s *Service) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.ready.Store(false)
		err = s.Server.Shutdown(ctx)
		for _, l := range s.listeners {
			l.Close() // a listener Start never served
		}
		if s.admin != nil {
			s.admin.Close()
			s.adminL.Close()
		}
		s.wg.Wait()
		s.Gateway.Close()
	})
	return err
}

// IsTLS reports whether a listener is the TLS one.
func IsTLS(l net.Listener) bool {
	_, plain := l.(*net.TCPListener)
	return !plain
}

// adminMux serves /metrics, /healthz (the process is up: liveness) and
// /readyz (it serves partners: some are configured, the ledger and the
// card state answer), and /debug/pprof/ when asked.
func (s *Service) adminMux(withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// unwrapOp drops the "listen tcp" prefix of a net.OpError for a shorter line.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}
