package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/bli/atmgw/internal/app"
)

// serveFlags are the command line of `atmgw serve`.
type serveFlags struct {
	common
	logFormat string
	pprof     bool
	grace     time.Duration
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(&f.common)
	if err != nil {
		return err
	}
	if f.pprof && cfg.AdminListen == "" {
		return usageError{"-pprof needs admin_listen in the configuration"}
	}
	log, err := newLogger(cfg.LogLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()

	svc, err := app.Listen(ctx, cfg, log, app.ServiceOptions{Pprof: f.pprof})
	if err != nil {
		return err
	}
	svc.Start()
	logServing(svc, log)
	err = waitForStop(ctx, &f.common, svc, log)
	stop(svc, f.grace, err == nil, log)
	return err
}

// parseServeFlags reads and checks the flags of serve.
func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := newFlags("serve", &f.common, stderr)
	fs.StringVar(&f.listen, "listen", "", "TCP `address` to listen on (overrides the file; default 127.0.0.1:8583)")
	fs.StringVar(&f.logFormat, "log-format", "console", "log `format`: console or json")
	fs.StringVar(&f.logLevel, "log-level", "", "log `level`: debug, info, warn or error (overrides the file)")
	fs.StringVar(&f.adminListen, "admin-listen", "", "`address` of /metrics, /healthz, /readyz (overrides admin_listen of the file)")
	fs.BoolVar(&f.pprof, "pprof", false, "also serve /debug/pprof/ on admin_listen (profiling; keep admin_listen private)")
	fs.DurationVar(&f.grace, "shutdown-grace", 30*time.Second, "on SIGTERM, how long in-flight requests may take before connections are cut")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if f.logFormat != "console" && f.logFormat != "json" {
		return nil, usageError{fmt.Sprintf("-log-format: %q is not console or json", f.logFormat)}
	}
	switch f.logLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return nil, usageError{fmt.Sprintf("-log-level: %q is not debug, info, warn or error", f.logLevel)}
	}
	return f, nil
}

// logServing says where the gateway serves.
func logServing(svc *app.Service, log *zap.Logger) {
	ledgerName := "PostgreSQL"
	if svc.Demo {
		ledgerName = "embedded demo ledger"
	}
	for _, l := range svc.Listeners() {
		log.Info("atmgw serving", zap.String("listen", l.Addr().String()), zap.Bool("tls", app.IsTLS(l)),
			zap.String("ledger", ledgerName), zap.Int("partners", svc.Server.Handler().Partners()), zap.String("version", version))
	}
	if a := svc.AdminAddr(); a != "" {
		log.Info("admin endpoints", zap.String("listen", a), zap.Strings("paths", []string{"/metrics", "/healthz", "/readyz"}))
	}
}

// waitForStop serves until ctx ends (SIGTERM, SIGINT: nil) or a partner
// listener fails (its error), reloading the configuration on each SIGHUP.
func waitForStop(ctx context.Context, c *common, svc *app.Service, log *zap.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case err := <-svc.Err():
			return err
		case <-hup:
			reload(c, svc.Gateway, log)
		case <-ctx.Done():
			return nil
		}
	}
}

// stop ends the service: with grace, the requests in flight are answered
// for up to that long; without (a listener failed), connections are cut
// at once.
func stop(svc *app.Service, grace time.Duration, graceful bool, log *zap.Logger) {
	if !graceful {
		grace = 0
	} else {
		log.Info("shutting down: answering requests in flight", zap.Duration("grace", grace))
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := svc.Stop(ctx); err != nil && graceful {
		log.Warn("shutdown grace over: connections cut", zap.Error(err))
	}
	log.Info("stopped")
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
	log.Info("SIGHUP: partners and profiles reloaded", zap.Int("partners", len(cfg.Gateway.Partners)),
		zap.Int("connections_closed", closed))
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
