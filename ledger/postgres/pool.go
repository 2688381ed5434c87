package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Pool is the connection pool of a Store: pgxpool's, under a name of this
// package so that its callers (Migrate, Load, the commands) need not import
// pgxpool.
type Pool = pgxpool.Pool

// ErrPoolClosed is returned by a Store after Close.
var ErrPoolClosed = errors.New("postgres: connection pool closed")

// DefaultMaxConns is the pool size when Options.MaxConns is 0.
const DefaultMaxConns = 16

// The pool's settings. pgxpool pings a connection taken from the pool after
// more than a second idle (its default ShouldPing, kept), so that a
// database restarted meanwhile costs a ping, not a failed inquiry; a
// connection that broke or was left inside a transaction is destroyed when
// released; the health check closes idle connections older than
// maxConnIdleTime. It tops the pool up to nothing by default (no MinConns:
// a pool of a host down at start stays empty rather than dialling it in the
// background); a warm pool (Options.Warm, keepFull) is topped up to
// MaxConns idle connections, so that the connections closed for idleness
// or age are replaced (and prepared) in the background rather than by an
// inquiry; such a pool of a host that went down is dialled again at each
// health check, in the background, which costs inquiries nothing (its
// breaker keeps them away) and refills it as soon as the host is back.
const (
	// maxConnIdleTime closes a connection idle this long (pgxpool's
	// default is 30 minutes; firewalls between the gateway and the
	// database often drop idle flows sooner).
	maxConnIdleTime = 5 * time.Minute
	// healthCheckPeriod is how often idle connections are checked (the
	// default is a minute).
	healthCheckPeriod = 30 * time.Second
	// maxConnLifetime and its jitter renew every connection within about
	// an hour, not all at once.
	maxConnLifetime       = time.Hour
	maxConnLifetimeJitter = 5 * time.Minute
	// defaultConnectTimeout bounds a connection attempt when the URL sets
	// no connect_timeout. pgxpool dials in the background even when the
	// inquiry that asked for the connection gave up, and would wait up to
	// two minutes on a host that drops packets.
	defaultConnectTimeout = 5 * time.Second
)

// poolConfig parses url into a pool configuration of at most maxConns
// connections (DefaultMaxConns when 0).
func poolConfig(url string, maxConns int32) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	cfg.MaxConns = maxConns
	cfg.MinConns, cfg.MinIdleConns = 0, 0
	cfg.MaxConnIdleTime = maxConnIdleTime
	cfg.HealthCheckPeriod = healthCheckPeriod
	cfg.MaxConnLifetime = maxConnLifetime
	cfg.MaxConnLifetimeJitter = maxConnLifetimeJitter
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	return cfg, nil
}

// keepFull makes the pool's health check keep MaxConns connections open:
// MinIdleConns rather than MinConns, so that idle connections are still
// closed after maxConnIdleTime (a firewall may drop an idle flow) and
// replaced by fresh ones.
func keepFull(cfg *pgxpool.Config) {
	cfg.MinIdleConns = cfg.MaxConns
}
