// Package app wires a validated configuration into a running gateway: the
// PAN hasher, the ledger (PostgreSQL or the embedded demo) behind its guard,
// the profile book and the partners. cmd/atmgw and the tests that start a
// whole gateway share it, so they run exactly what production runs.
package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/limits"
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

// Hasher builds the PAN hasher of a configuration (the demo key when none is set).
func Hasher(cfg *config.Config) (*card.PANHasher, error) {
	key := cfg.PANKeyBytes
	if len(key) == 0 {
		key = mustHex(config.DemoPANKey)
	}
	return card.NewPANHasher(key)
}

// Profiles builds the profile book of the configured partners; a profile too
// small for six rows and the totals is refused here.
func Profiles(cfg *config.Config) (*limits.Book, error) {
	b := limits.NewBook()
	for _, p := range cfg.Partners {
		pair := limits.Pair{
			Screen:  limits.Profile{Columns: p.Screen.Columns, Lines: p.Screen.Lines},
			Receipt: limits.Profile{Columns: p.Receipt.Columns, Lines: p.Receipt.Lines},
		}
		if err := b.Add(p.Institution, "", pair); err != nil {
			return nil, oneLine(err)
		}
		for _, t := range p.Terminals {
			tp := limits.Pair{
				Screen:  limits.Profile{Columns: t.Screen.Columns, Lines: t.Screen.Lines},
				Receipt: limits.Profile{Columns: t.Receipt.Columns, Lines: t.Receipt.Lines},
			}
			if err := b.Add(p.Institution, t.Prefix, tp); err != nil {
				return nil, oneLine(err)
			}
		}
	}
	return b, nil
}

// Partners turns the configured partners into the gateway's.
func Partners(cfg *config.Config) []gateway.Partner {
	ps := make([]gateway.Partner, 0, len(cfg.Partners))
	for _, p := range cfg.Partners {
		ps = append(ps, gateway.Partner{Institution: p.Institution, Name: p.Name, Allow: p.Networks, MACKey: p.Key, CertNames: p.CertNames})
	}
	return ps
}

// Build wires a gateway from a validated configuration. It opens the
// ledger: PostgreSQL when database_url is set (and fails with a clear error
// when it is unreachable), the embedded demo ledger otherwise.
func Build(ctx context.Context, cfg *config.Config, log *zap.Logger) (*Gateway, error) {
	h, book, err := check(cfg)
	if err != nil {
		return nil, err
	}
	g := &Gateway{Registry: prometheus.NewRegistry()}
	g.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store, closeLedger, demo, err := openLedger(ctx, cfg, h, log, g.Registry)
	if err != nil {
		return nil, err
	}
	g.Store, g.Demo = store, demo
	auditor, closeAudit, err := openAudit(ctx, cfg, log, g.Registry)
	if err != nil {
		closeLedger()
		return nil, err
	}
	cs, err := openCardState(ctx, cfg, log, g.Registry)
	if err != nil {
		closeAudit()
		closeLedger()
		return nil, err
	}
	g.CardState = cs
	g.closer = func() {
		closeAudit()
		cs.Close()
		closeLedger()
	}
	unbound := cfg.MaxUnboundPerAddress
	srv, err := gateway.NewServer(gateway.Options{
		Partners:             Partners(cfg),
		Profiles:             book,
		Store:                store,
		Hasher:               h,
		CardState:            cs,
		Logger:               log,
		IdleTimeout:          time.Duration(cfg.IdleTimeout),
		MaxInFlight:          cfg.MaxInFlight,
		FrameTimeout:         time.Duration(cfg.FrameTimeout),
		MaxConns:             cfg.MaxConns,
		MaxConnsPerPartner:   cfg.MaxConnsPartner,
		SignOnDeadline:       time.Duration(cfg.SignOnDeadline),
		AdmitStrangers:       !*cfg.RejectStrangers,
		MaxUnboundPerAddress: unbound,
		Metrics:              gateway.NewMetrics(g.Registry),
		Auditor:              auditor,
	})
	if err != nil {
		g.Close()
		return nil, err
	}
	g.Server = srv
	return g, nil
}

// oneLine joins the lines of a multi-line error (errors.Join) with "; ", so
// that the command prints one line.
func oneLine(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// check is what a configuration (validated by config) must hold for a
// gateway to start on it, beyond the database: partners, a PAN key, the
// profiles, the TLS listener's files. A start (Build) and a reload
// (SIGHUP) both apply it, so that a reload refuses whatever a start
// refuses; it returns the PAN hasher and the profile book it built.
func check(cfg *config.Config) (*card.PANHasher, *limits.Book, error) {
	if len(cfg.Partners) == 0 {
		return nil, nil, errors.New("no partners configured: nobody could sign on")
	}
	h, err := Hasher(cfg)
	if err != nil {
		return nil, nil, err
	}
	book, err := Profiles(cfg)
	if err != nil {
		return nil, nil, err
	}
	if cfg.TLS.Listen != "" {
		if _, err := TLSConfig(&cfg.TLS); err != nil {
			return nil, nil, err
		}
	}
	return h, book, nil
}

// Reload applies the partners and profiles of a new, validated
// configuration to the running gateway, after check (a file that could
// not start the gateway changes nothing). Connections that the new
// partners would not have admitted are closed (gateway.Server.Reload);
// it returns how many.
func (g *Gateway) Reload(cfg *config.Config) (int, error) {
	_, book, err := check(cfg)
	if err != nil {
		return 0, err
	}
	return g.Server.Reload(Partners(cfg), book)
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
