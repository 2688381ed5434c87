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
// maxConnIdleTime and tops the pool up to nothing (no MinConns: a pool of a
// dead host stays empty rather than dialling it in the background).
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
