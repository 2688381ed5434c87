package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
)

// openCardState opens the card state of a configuration: on the primary
// (card_state.store: database, the default with database_url), shared by
// every gateway on it, or in this process's memory (the demo ledger). With
// card_state.when_primary_down: memory, the primary's is backed by memory
// while it is down (logged, counted in atmgw_card_state_fallbacks_total).
// journal (nil: none) is the audit trail in the same database: the card
// state on the primary then commits an answer's record with its check.
func openCardState(ctx context.Context, cfg *config.Settings, journal *audit.Writer, log *zap.Logger, reg prometheus.Registerer) (ledger.CardState, error) {
	o := cfg.CardState.Options.CardStateOptions
	if cfg.CardState.Store == config.CardStateMemory {
		if cfg.DatabaseURL != "" {
			log.Warn("card state in this process's memory (card_state.store: memory): replays, duplicates and the per-card rate are not shared with other gateways nor kept across restarts")
		}
		return ledger.NewMemoryCardState(o), nil
	}
	return openPrimaryCardState(ctx, cfg, o, journal, log, reg)
}
