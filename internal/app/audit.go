package app

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/config"
)

// auditCloseTimeout is the least time Close gives the audit trail to write
// its buffer and replay its spool before it spools what is left (the spool
// is local: writing it is not bounded).
const auditCloseTimeout = 10 * time.Second

// openAudit starts the audit trail of a configuration (audit.mode: auto is
// the database when database_url is set, off on the demo ledger). close
// flushes it: to the database, or to the spool when the database is down.
// With the trail off, a is nil. journal is the writer when the trail is in
// the database (the card state's, so that the card state can commit an
// answer's record with its check), else nil.
func openAudit(ctx context.Context, cfg *config.Settings, log *zap.Logger, reg prometheus.Registerer) (a gateway.Auditor, journal *audit.Writer, close func(), err error) {
	nothing := func() {}
	sink := cfg.Audit.Sink
	if sink == config.AuditOff {
		why := "audit.mode: off"
		if cfg.Audit.Auto {
			why = "embedded demo ledger (audit.mode: spool keeps a trail in audit.spool_dir)"
		}
		log.Info("audit trail off", zap.String("why", why))
		return nil, nil, nothing, nil
	}
	opts := cfg.Audit.Options
	opts.Logger, opts.Registerer = log, reg
	w, err := audit.Open(ctx, opts)
	if err != nil {
		return nil, nil, nothing, fmt.Errorf("audit.spool_dir: %w", err)
	}
	st := w.Stats()
	log.Info("audit trail", zap.String("to", sink), zap.String("spool", w.SpoolFile()), zap.Int("spooled_records", st.SpoolPending))
	closeTimeout := max(auditCloseTimeout, 2*opts.Timeout)
	if sink == config.AuditDatabase {
		journal = w
	}
	return auditor{w}, journal, func() {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := w.Close(cctx); err != nil {
			log.Error("audit trail not closed cleanly", zap.Error(err))
		}
	}, nil
}

// auditor hands the gateway's records to the audit writer: Audit returns
// once the record is durable (committed, or fsync'd to the spool), or with
// the writer's error, which tells the gateway not to disclose the answer.
type auditor struct{ w *audit.Writer }

func (a auditor) Audit(ctx context.Context, r audit.Record) error {
	return a.w.Write(ctx, r)
}
