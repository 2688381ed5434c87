package app

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/postgres"
)

// cardStateOpenTimeout bounds connecting to and warming the card state at start.
const cardStateOpenTimeout = 10 * time.Second

// openPrimaryCardState opens the card state on the primary (database_url),
// connected and warm before the gateway listens; the primary must answer
// at start. With when_primary_down: memory it is backed by this process's
// memory while the primary is down.
func openPrimaryCardState(ctx context.Context, cfg *config.Settings, o ledger.CardStateOptions, journal *audit.Writer, log *zap.Logger, reg prometheus.Registerer) (ledger.CardState, error) {
	octx, cancel := context.WithTimeout(ctx, cardStateOpenTimeout)
	defer cancel()
	po := cfg.CardState.Options
	po.Logger, po.Registerer, po.Journal = log, reg, journal
	pg, err := postgres.OpenCardState(octx, cfg.DatabaseURL, po)
	if err != nil {
		return nil, fmt.Errorf("card state: %w", err)
	}
	if journal != nil {
		log.Info("card state: an inquiry's audit record is committed with its check (one transaction on the primary)")
	}
	if !cfg.CardState.MemoryWhenPrimaryDown {
		return pg, nil
	}
	used := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "atmgw_card_state_fallbacks_total",
		Help: "Checks of decisions 7, 14 and 15 answered from this gateway's memory while the primary was down (card_state.when_primary_down: memory).",
	})
	if reg != nil {
		if err := reg.Register(used); err != nil {
			pg.Close()
			return nil, err
		}
	}
	log.Info("card state: this gateway's memory stands in while the primary is down (card_state.when_primary_down: memory)")
	return ledger.NewFallback(pg, ledger.NewMemoryCardState(o), log, used.Inc), nil
}
