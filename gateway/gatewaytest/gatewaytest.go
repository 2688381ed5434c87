// Package gatewaytest runs a whole gateway in-process on a loopback port for
// tests, wired exactly as `atmgw serve` wires it (internal/app), with the
// built-in example configuration: the six partners, allowed from loopback.
package gatewaytest

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/internal/app"
	"github.com/bli/atmgw/internal/config"
)

// Gateway is a running test gateway.
type Gateway struct {
	Addr    string // host:port to dial
	TLSAddr string // the TLS listener's host:port, when the config has tls.listen
	Config  *config.Config
	App     *app.Gateway
}

// Option changes the configuration before the gateway starts.
type Option func(*config.Config)

// WithDatabase runs on PostgreSQL at url instead of the embedded demo ledger.
func WithDatabase(url string) Option { return func(c *config.Config) { c.DatabaseURL = url } }

// WithoutRateLimit turns decision 15 off (load tests).
func WithoutRateLimit() Option {
	return func(c *config.Config) { n := 0; c.CardRate.Inquiries = &n }
}

// WithConfig lets a test change anything.
func WithConfig(f func(*config.Config)) Option { return Option(f) }

// StartDemo starts a gateway on the embedded demo ledger (unless an option
// says otherwise) on 127.0.0.1:0 and stops it when the test ends. It
// returns the address to dial.
func StartDemo(t testing.TB, opts ...Option) string {
	return Start(t, opts...).Addr
}

// Start is StartDemo returning the whole Gateway.
func Start(t testing.TB, opts ...Option) *Gateway {
	t.Helper()
	cfg := &config.Config{}
	if err := config.Parse(configs.Example, cfg); err != nil {
		t.Fatalf("gatewaytest: example config: %v", err)
	}
	cfg.Listen = "127.0.0.1:0"
	// Test machines are shared and noisy: a roomier ledger deadline than
	// production's 300ms, and the audit spool in the test's own directory.
	cfg.Ledger.Timeout = config.Duration(2 * time.Second)
	cfg.Audit.SpoolDir = t.TempDir()
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("gatewaytest: config: %v", err)
	}
	var log *zap.Logger
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = zaptest.NewLogger(tt, zaptest.Level(zap.InfoLevel))
	} else {
		log = zap.NewNop()
	}
	g, err := app.Build(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		g.Close()
		t.Fatalf("gatewaytest: listen: %v", err)
	}
	listeners := []net.Listener{l}
	gw := &Gateway{Addr: l.Addr().String(), Config: cfg, App: g}
	if cfg.TLS.Listen != "" {
		tc, err := app.TLSConfig(&cfg.TLS)
		if err != nil {
			l.Close()
			g.Close()
			t.Fatalf("gatewaytest: %v", err)
		}
		tl, err := net.Listen("tcp", cfg.TLS.Listen)
		if err != nil {
			l.Close()
			g.Close()
			t.Fatalf("gatewaytest: tls listen: %v", err)
		}
		gw.TLSAddr = tl.Addr().String()
		listeners = append(listeners, tls.NewListener(tl, tc))
	}
	done := make(chan struct{}, len(listeners))
	for _, l := range listeners {
		go func(l net.Listener) {
			g.Server.Serve(l)
			done <- struct{}{}
		}(l)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Server.Shutdown(ctx)
		for range listeners {
			<-done
		}
		g.Close()
	})
	return gw
}
