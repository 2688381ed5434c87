package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cluster"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/ledger/postgres"
)

// ledgerOpenTimeout bounds connecting to and checking each ledger host at start.
const ledgerOpenTimeout = 10 * time.Second

// openLedger opens the ledger of a configuration: PostgreSQL when
// database_url is set (the primary, and the read replicas of
// ledger.replicas), the embedded demo ledger otherwise, behind a
// cluster.Cluster (a breaker and an adaptive concurrency limit per host,
// failover) whose metrics go to reg. The primary must answer at start, and
// every host that answers must hold a current schema and a loaded ledger,
// or the gateway does not start (an error naming the key and the database,
// never its password); each such host is warmed before openLedger returns
// (all of its ledger.max_conns connections open, the inquiry statements
// prepared on each), so that the gateway, which listens and says ready only
// after, never makes its first inquiries wait for connects. A replica that
// does not answer at start is logged and left to its breaker (opened
// lazily: it connects on use once it answers). close releases it.
// consents takes the online registrations of consents (0302): the primary
// (or the demo ledger, in memory); an inquiry that a replica declines for
// its consent is reread from the primary (cluster.Options.RecheckConsent),
// so that a registration is seen at once however far a replica lags.
func openLedger(ctx context.Context, cfg *config.Settings, h *card.PANHasher, log *zap.Logger, reg prometheus.Registerer) (store ledger.Store, consents ledger.ConsentRegistry, close func(), isDemo bool, err error) {
	var primary ledger.Store
	var replicas []ledger.Store
	closeAll := func() {
		if primary != nil {
			primary.Close()
		}
		for _, r := range replicas {
			r.Close()
		}
	}
	if cfg.DatabaseURL == "" {
		if len(cfg.Ledger.Replicas) > 0 {
			return nil, nil, nil, false, errors.New("ledger.replicas: needs database_url (the primary)")
		}
		d, err := demo.Open(h)
		if err != nil {
			return nil, nil, nil, false, fmt.Errorf("demo ledger: %w", err)
		}
		primary, isDemo = d, true
	} else {
		pg, err := openHost(ctx, cfg.DatabaseURL, cfg)
		if err != nil {
			return nil, nil, nil, false, err
		}
		log.Info("ledger host warm", zap.String("host", cluster.HostPrimary), zap.Int("conns", pg.Conns()))
		primary = pg
		for i, url := range cfg.Ledger.Replicas {
			r, err := openHost(ctx, url, cfg)
			warm := err == nil
			if errors.Is(err, postgres.ErrUnreachable) {
				// A replica down at start does not stop the gateway: its
				// breaker keeps it out of use until it answers.
				log.Warn("ledger replica unreachable at start: in use once it answers",
					zap.String("host", fmt.Sprintf("replica%d", i+1)), zap.Error(err))
				r, err = postgres.Open(ctx, url, postgres.Options{MaxConns: int32(cfg.Ledger.MaxConns), Lazy: true})
			}
			if err != nil {
				closeAll()
				return nil, nil, nil, false, fmt.Errorf("ledger.replicas[%d]: %w", i, err)
			}
			if warm {
				log.Info("ledger host warm", zap.String("host", fmt.Sprintf("replica%d", i+1)), zap.Int("conns", r.Conns()))
			}
			replicas = append(replicas, r)
		}
	}
	co := cfg.Ledger.Cluster
	co.Metrics = cluster.NewMetrics(reg)
	co.RecheckConsent = true // the consents registered online on the primary: see cluster.Options
	c := cluster.New(primary, replicas, co, log)
	if !isDemo {
		o := c.Options()
		lim := c.Limiter(cluster.HostPrimary).Options()
		log.Info("ledger", zap.Int("replicas", len(replicas)), zap.String("read_from", cfg.Ledger.ReadFrom),
			zap.Int("attempts", o.Attempts), zap.Duration("timeout", o.Guard.Timeout),
			zap.Int("max_concurrent", lim.Max), zap.Int("min_concurrent", lim.Min),
			zap.Int("queue", lim.Queue), zap.Duration("queue_timeout", lim.QueueTimeout))
	}
	consents, _ = primary.(ledger.ConsentRegistry)
	return c, consents, c.Close, isDemo, nil
}

// openHost opens one PostgreSQL host, checks that it can serve and warms
// it (postgres.Options.Warm: every connection of its pool open, the inquiry
// statements prepared on each, the pool kept full).
func openHost(ctx context.Context, url string, cfg *config.Settings) (*postgres.Store, error) {
	octx, cancel := context.WithTimeout(ctx, ledgerOpenTimeout)
	defer cancel()
	return postgres.Open(octx, url, postgres.Options{MaxConns: int32(cfg.Ledger.MaxConns), Warm: true})
}
