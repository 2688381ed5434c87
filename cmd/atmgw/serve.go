package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/app"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	var c common
	fs := newFlags("serve", &c, stderr)
	fs.StringVar(&c.listen, "listen", "", "TCP `address` to listen on (overrides the file; default 127.0.0.1:8583)")
	logFormat := fs.String("log-format", "console", "log `format`: console or json")
	logLevel := fs.String("log-level", "", "log `level`: debug, info, warn or error (overrides the file)")
	adminListen := fs.String("admin-listen", "", "`address` of /metrics, /healthz, /readyz (overrides admin_listen of the file)")
	pprofOn := fs.Bool("pprof", false, "also serve /debug/pprof/ on admin_listen (profiling; keep admin_listen private)")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "on SIGTERM, how long in-flight requests may take before connections are cut")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *logFormat != "console" && *logFormat != "json" {
		return usageError{fmt.Sprintf("-log-format: %q is not console or json", *logFormat)}
	}
	if *logLevel != "" {
		switch *logLevel {
		case "debug", "info", "warn", "error":
		default:
			return usageError{fmt.Sprintf("-log-level: %q is not debug, info, warn or error", *logLevel)}
		}
	}
	cfg, err := loadConfig(&c)
	if err != nil {
		return err
	}
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	if *adminListen != "" {
		cfg.AdminListen = *adminListen
	}
	log, err := newLogger(cfg.LogLevel, *logFormat, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()

	g, err := app.Build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer g.Close()

	// Listen on everything first, so that a bad address fails before any
	// partner could connect.
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, unwrapOp(err))
	}
	listeners = append(listeners, l)
	if cfg.TLS.Listen != "" {
		tc, err := app.TLSConfig(&cfg.TLS)
		if err != nil {
			closeAll()
			return err
		}
		tl, err := net.Listen("tcp", cfg.TLS.Listen)
		if err != nil {
			closeAll()
			return fmt.Errorf("tls.listen on %s: %w", cfg.TLS.Listen, unwrapOp(err))
		}
		listeners = append(listeners, tls.NewListener(tl, tc))
	}
	var ready atomic.Bool
	var admin *http.Server
	if *pprofOn && cfg.AdminListen == "" {
		closeAll()
		return usageError{"-pprof needs admin_listen in the configuration"}
	}
	if cfg.AdminListen != "" {
		al, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			closeAll()
			return fmt.Errorf("admin_listen on %s: %w", cfg.AdminListen, unwrapOp(err))
		}
		mux := adminMux(g, &ready)
		if *pprofOn {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go admin.Serve(al)
		defer admin.Close()
	}

	ledgerName := "PostgreSQL"
	if g.Demo {
		ledgerName = "embedded demo ledger"
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func(l net.Listener) { errc <- g.Server.Serve(l) }(l)
		log.Info("atmgw serving", zap.String("listen", l.Addr().String()), zap.Bool("tls", isTLS(l)),
			zap.String("ledger", ledgerName), zap.Int("partners", len(cfg.Partners)), zap.String("version", version))
	}
	if admin != nil {
		log.Info("admin endpoints", zap.String("listen", cfg.AdminListen), zap.Strings("paths", []string{"/metrics", "/healthz", "/readyz"}))
	}
	ready.Store(true)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case err := <-errc:
			if errors.Is(err, gateway.ErrServerClosed) {
				return nil
			}
			g.Server.Close()
			return err
		case <-hup:
			reload(&c, g, log)
			continue
		case <-ctx.Done():
		}
		break
	}
	ready.Store(false)
	log.Info("shutting down: answering requests in flight", zap.Duration("grace", *grace))
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := g.Server.Shutdown(sctx); err != nil {
		log.Warn("shutdown grace over: connections cut", zap.Error(err))
	}
	for range listeners {
		<-errc
	}
	log.Info("stopped")
	return nil
}

// reload re-reads the configuration file on SIGHUP and applies its
// partners and profiles: connections the new partners would not admit are
// closed, the others stay. A file that could not start the gateway changes
// nothing. The other keys (listen addresses, database, keys of the PAN
// hash) need a restart.
func reload(c *common, g *app.Gateway, log *zap.Logger) {
	if c.configPath == "" {
		log.Warn("SIGHUP: no --config file to reload: nothing changed")
		return
	}
	cfg, err := loadConfig(c)
	closed := 0
	if err == nil {
		closed, err = g.Reload(cfg)
	}
	if err != nil {
		log.Error("SIGHUP: configuration not reloaded; the old one stays", zap.Error(err))
		return
	}
	log.Info("SIGHUP: partners and profiles reloaded", zap.Int("partners", len(cfg.Partners)),
		zap.Int("connections_closed", closed))
}

func isTLS(l net.Listener) bool {
	_, plain := l.(*net.TCPListener)
	return !plain
}

// adminMux serves /metrics, /healthz (the process is up: liveness) and
// /readyz (it serves partners: some are configured, the ledger and the
// card state answer).
func adminMux(g *app.Gateway, ready *atomic.Bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := g.Ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

func newLogger(level, format string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if format == "json" {
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core), nil
}

// unwrapOp drops the "listen tcp" prefix of a net.OpError for a shorter line.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}
