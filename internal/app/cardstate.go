package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
)

// cardStateOptions are the rules of decisions 7, 14 and 15 of a configuration.
func cardStateOptions(cfg *config.Config) ledger.CardStateOptions {
	rate := *cfg.CardRate.Inquiries
	if rate == 0 {
		rate = -1 // off
	}
	return ledger.CardStateOptions{
		DuplicateWindow: time.Duration(cfg.DuplicateWindow),
		RateLimit:       rate,
		RateWindow:      time.Duration(cfg.CardRate.Window),
	}
}

// openCardState opens the card state of a configuration: on the primary
// (card_state.store: database, the default with database_url), shared by
// every gateway on it, or in this process's memory (the demo ledger). With
// card_state.when_primary_down: memory, the primary's is backed by memory
// while it is down (logged, counted in atmgw_card_state_fallbacks_total).
func openCardState(ctx context.Context, cfg *config.Config, log *zap.Logger, reg prometheus.Registerer) (ledger.CardState, error) {
	o := cardStateOptions(cfg)
	if cfg.CardState.Sink(cfg.DatabaseURL) == config.CardStateMemory {
		if cfg.DatabaseURL != "" {
			log.Warn("card state in this process's memory (card_state.store: memory): replays, duplicates and the per-card rate are not shared with other gateways nor kept across restarts")
		}
		return ledger.NewMemoryCardState(o), nil
	}
	return openPrimaryCardState(ctx, cfg, o, log, reg)
}
