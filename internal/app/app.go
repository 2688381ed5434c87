// Package app wires a resolved configuration (config.Settings) into a
// running gateway: the PAN hasher, the ledger (PostgreSQL or the embedded
// demo) behind its cluster, the card state, the audit trail, the metrics
// (Build); and runs it: the partners' listeners (plain and TLS) and the
// admin endpoints (/metrics, /healthz, /readyz, pprof), each served in a
// goroutine the Service owns (Listen, Start, Stop). cmd/atmgw and the
// tests that start a whole gateway (internal/gatewaytest) share it, so
// they run exactly what production runs. It sits below cmd/atmgw and
// above gateway: nothing under gateway/ imports it.
package app

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
)

// Gateway is a wired, not yet serving, gateway.
type Gateway struct {
	Server    *gateway.Server
	Store     ledger.Store         // the guarded store the server uses
	CardState ledger.CardState     // decisions 7, 14, 15
	Demo      bool                 // running on the embedded demo ledger
	Registry  *prometheus.Registry // the metrics of this gateway
	closer    func()
}

// Close flushes the audit trail and releases the ledger (after the server
// has stopped).
func (g *Gateway) Close() {
	if g.closer != nil {
		g.closer()
	}
}

// Hasher builds the PAN hasher of a configuration.
func Hasher(s *config.Settings) (*card.PANHasher, error) { return card.NewPANHasher(s.PANKey) }

// Build wires a gateway from a validated configuration. It opens the
// ledger: PostgreSQL when database_url is set (and fails with a clear error
// when it is unreachable), the embedded demo ledger otherwise.
func Build(ctx context.Context, cfg *config.Settings, log *zap.Logger) (*Gateway, error) {
	h, err := check(cfg)
	if err != nil {
		return nil, err
	}
	g := &Gateway{Registry: prometheus.NewRegistry()}
	g.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store, consents, closeLedger, demo, err := openLedger(ctx, cfg, h, log, g.Registry)
	if err != nil {
		return nil, err
	}
	g.Store, g.Demo = store, demo
	auditor, journal, closeAudit, err := openAudit(ctx, cfg, log, g.Registry)
	if err != nil {
		closeLedger()
		return nil, err
	}
	cs, err := openCardState(ctx, cfg, journal, log, g.Registry)
	if err != nil {
		closeAudit()
		closeLedger()
		return nil, err
	}
	g.CardState = cs
	g.closer = func() {
		cs.Close()
		closeAudit()
		closeLedger()
	}
	opts := cfg.Gateway
	opts.Store, opts.Consents, opts.Hasher, opts.CardState, opts.Logger = store, consents, h, cs, log
	opts.Metrics, opts.Auditor = gateway.NewMetrics(g.Registry), auditor
	srv, err := gateway.NewServer(opts)
	if err != nil {
		g.Close()
		return nil, err
	}
	g.Server = srv
	return g, nil
}

// check is what a configuration must hold for a gateway to start on it,
// beyond what config.Resolve checks and the database: partners, a PAN
// key, the TLS listener's files. A start (Build) and a reload (SIGHUP)
// both apply it, so that a reload refuses whatever a start refuses; it
// returns the PAN hasher.
func check(cfg *config.Settings) (*card.PANHasher, error) {
	if len(cfg.Gateway.Partners) == 0 {
		return nil, errors.New("no partners configured: nobody could sign on")
	}
	h, err := Hasher(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.TLS.Listen != "" {
		if _, err := TLSConfig(&cfg.TLS); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Reload applies the partners and profiles of a new configuration to the
// running gateway, after check (a file that could not start the gateway
// changes nothing). Connections that the new partners would not have
// admitted are closed (gateway.Server.Reload); it returns how many.
func (g *Gateway) Reload(cfg *config.Settings) (int, error) {
	if _, err := check(cfg); err != nil {
		return 0, err
	}
	return g.Server.Reload(cfg.Gateway.Partners, cfg.Gateway.Profiles)
}

// Ready is nil when the gateway can answer inquiries: partners are
// configured, the ledger answers a ping, and the card state (on the
// primary) answers too. /readyz reports it.
func (g *Gateway) Ready(ctx context.Context) error {
	if g.Server.Handler().Partners() == 0 {
		return errors.New("no partner configured")
	}
	if err := g.Store.Ping(ctx); err != nil {
		return errors.New("ledger unavailable")
	}
	if p, ok := g.CardState.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return errors.New("card state unavailable")
		}
	}
	return nil
}
