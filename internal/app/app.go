// Package app wires a validated configuration into a running gateway: the
// PAN hasher, the ledger (PostgreSQL or the embedded demo) behind its guard,
// the profile book and the partners. cmd/atmgw and the tests that start a
// whole gateway share it, so they run exactly what production runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/postgres"
	"github.com/bli/atmgw/limits"
)

// Gateway is a wired, not yet serving, gateway.
type Gateway struct {
	Server *gateway.Server
	Store  ledger.Store // the guarded store the server uses
	Demo   bool         // running on the embedded demo ledger
	closer func()
}

// Close releases the ledger (after the server has stopped).
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
		ps = append(ps, gateway.Partner{Institution: p.Institution, Name: p.Name, Allow: p.Networks, MACKey: p.Key})
	}
	return ps
}

// Build wires a gateway from a validated configuration. It opens the
// ledger: PostgreSQL when database_url is set (and fails with a clear error
// when it is unreachable), the embedded demo ledger otherwise.
func Build(ctx context.Context, cfg *config.Config, log *zap.Logger) (*Gateway, error) {
	if len(cfg.Partners) == 0 {
		return nil, errors.New("no partners configured: nobody could sign on")
	}
	h, err := Hasher(cfg)
	if err != nil {
		return nil, err
	}
	book, err := Profiles(cfg)
	if err != nil {
		return nil, err
	}
	g := &Gateway{}
	var raw ledger.Store
	if cfg.DatabaseURL == "" {
		demo, err := ledger.Demo(h)
		if err != nil {
			return nil, fmt.Errorf("demo ledger: %w", err)
		}
		raw, g.Demo = demo, true
	} else {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		pg, err := postgres.Open(octx, cfg.DatabaseURL, postgres.Options{MaxConns: int32(cfg.Ledger.MaxConns)})
		if err != nil {
			return nil, err
		}
		raw = pg
	}
	guarded := ledger.Guard(raw, ledger.GuardOptions{
		Timeout:     time.Duration(cfg.Ledger.Timeout),
		Failures:    uint32(cfg.Ledger.Breaker.Failures),
		OpenFor:     time.Duration(cfg.Ledger.Breaker.OpenFor),
		HalfOpenMax: uint32(cfg.Ledger.Breaker.HalfOpenMax),
	}, log)
	g.Store = guarded
	g.closer = guarded.Close
	rate := *cfg.CardRate.Inquiries
	if rate == 0 {
		rate = -1 // off
	}
	srv, err := gateway.NewServer(gateway.Options{
		Partners:        Partners(cfg),
		Profiles:        book,
		Store:           guarded,
		Hasher:          h,
		Logger:          log,
		RateLimit:       rate,
		RateWindow:      time.Duration(cfg.CardRate.Window),
		IdleTimeout:     time.Duration(cfg.IdleTimeout),
		DuplicateWindow: time.Duration(cfg.DuplicateWindow),
		MaxInFlight:     cfg.MaxInFlight,
	})
	if err != nil {
		guarded.Close()
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
