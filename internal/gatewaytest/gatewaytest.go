// Package gatewaytest runs a whole gateway in-process on a loopback port for
// tests, wired and served exactly as `atmgw serve` does it (internal/app's
// Listen, Start and Stop), with the built-in example configuration: the six
// partners, allowed from loopback.
package gatewaytest

import (
	"context"
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
	Addr     string           // host:port to dial
	TLSAddr  string           // the TLS listener's host:port, when the config has tls.listen
	Settings *config.Settings // the configuration in force
	App      *app.Gateway
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
	settings, err := cfg.Resolve()
	if err != nil {
		t.Fatalf("gatewaytest: config: %v", err)
	}
	var log *zap.Logger
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = zaptest.NewLogger(tt, zaptest.Level(zap.InfoLevel))
	} else {
		log = zap.NewNop()
	}
	svc, err := app.Listen(context.Background(), settings, log, app.ServiceOptions{})
	if err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
	svc.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		svc.Stop(ctx)
	})
	g := &Gateway{Settings: settings, App: svc.Gateway}
	for _, l := range svc.Listeners() { // the plain listener, then the TLS one if any
		if app.IsTLS(l) {
			g.TLSAddr = l.Addr().String()
		} else {
			g.Addr = l.Addr().String()
		}
	}
	return g
}
