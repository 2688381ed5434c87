package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

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
	grace := fs.Duration("shutdown-grace", 30*time.Second, "on SIGTERM, how long in-flight requests may take before connections are cut")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *logFormat != "console" && *logFormat != "json" {
		return usageError{fmt.Sprintf("-log-format: %q is not console or json", *logFormat)}
	}
	cfg, err := loadConfig(&c)
	if err != nil {
		return err
	}
	if *logLevel != "" {
		switch *logLevel {
		case "debug", "info", "warn", "error":
			cfg.LogLevel = *logLevel
		default:
			return usageError{fmt.Sprintf("-log-level: %q is not debug, info, warn or error", *logLevel)}
		}
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

	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, unwrapOp(err))
	}
	ledgerName := "PostgreSQL"
	if g.Demo {
		ledgerName = "embedded demo ledger"
	}
	log.Info("atmgw serving", zap.String("listen", l.Addr().String()), zap.String("ledger", ledgerName),
		zap.Int("partners", len(cfg.Partners)), zap.String("version", version))

	errc := make(chan error, 1)
	go func() { errc <- g.Server.Serve(l) }()
	select {
	case err := <-errc:
		if errors.Is(err, gateway.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: answering requests in flight", zap.Duration("grace", *grace))
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := g.Server.Shutdown(sctx); err != nil {
		log.Warn("shutdown grace over: connections cut", zap.Error(err))
	}
	<-errc
	log.Info("stopped")
	return nil
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
