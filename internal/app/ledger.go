package app

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/postgres"
)

// openLedger opens the ledger of a configuration behind its guard:
// PostgreSQL when database_url is set (a clear error when unreachable), the
// embedded demo ledger otherwise. close releases it.
func openLedger(ctx context.Context, cfg *config.Config, h *card.PANHasher, log *zap.Logger, reg prometheus.Registerer) (store ledger.Store, close func(), demo bool, err error) {
	var raw ledger.Store
	if cfg.DatabaseURL == "" {
		d, err := ledger.Demo(h)
		if err != nil {
			return nil, nil, false, fmt.Errorf("demo ledger: %w", err)
		}
		raw, demo = d, true
	} else {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		pg, err := postgres.Open(octx, cfg.DatabaseURL, postgres.Options{MaxConns: int32(cfg.Ledger.MaxConns)})
		if err != nil {
			return nil, nil, false, err
		}
		if err := pg.Check(octx); err != nil {
			pg.Close()
			return nil, nil, false, err
		}
		raw = pg
	}
	guarded := ledger.Guard(raw, ledger.GuardOptions{
		Timeout:     time.Duration(cfg.Ledger.Timeout),
		Failures:    uint32(cfg.Ledger.Breaker.Failures),
		OpenFor:     time.Duration(cfg.Ledger.Breaker.OpenFor),
		HalfOpenMax: uint32(cfg.Ledger.Breaker.HalfOpenMax),
	}, log)
	return guarded, guarded.Close, demo, nil
}
