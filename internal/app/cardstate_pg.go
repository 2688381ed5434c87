package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
)

// openPrimaryCardState: interim, until postgres.CardState lands.
func openPrimaryCardState(ctx context.Context, cfg *config.Config, o ledger.CardStateOptions, log *zap.Logger, reg prometheus.Registerer) (ledger.CardState, error) {
	return ledger.NewMemoryCardState(o), nil
}
