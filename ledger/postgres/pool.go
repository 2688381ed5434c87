package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrPoolClosed is returned by a Pool after Close.
var ErrPoolClosed = errors.New("postgres: connection pool closed")

// pingAfter is how long a connection may sit idle before it is pinged when
// taken again (a database restarted meanwhile leaves dead connections).
const pingAfter = time.Second

// Pool is a small pool of pgx connections, at most a fixed number open.
// A connection is opened when needed and none is idle, kept for reuse while
// healthy, pinged before reuse after a second idle, and dropped when it
// broke or was left inside a transaction. It opens no goroutine. (pgxpool
// would do; it needs github.com/jackc/puddle/v2, which go.mod does not
// have.)
type Pool struct {
	cfg   *pgx.ConnConfig
	slots chan struct{} // one token per open (or opening) connection
	idle  chan idleConn
	done  chan struct{}

	mu     sync.Mutex
	closed bool
}

type idleConn struct {
	c     *pgx.Conn
	since time.Time
}

// NewPool makes a pool of at most maxConns connections (at least 1) with
// cfg (from pgx.ParseConfig). It connects nothing yet.
func NewPool(cfg *pgx.ConnConfig, maxConns int) *Pool {
	maxConns = max(maxConns, 1)
	return &Pool{
		cfg:   cfg,
		slots: make(chan struct{}, maxConns),
		idle:  make(chan idleConn, maxConns),
		done:  make(chan struct{}),
	}
}

// MaxConns is the most connections the pool opens.
func (p *Pool) MaxConns() int { return cap(p.slots) }

// Acquire takes an idle connection or opens one, waiting for one to be
// released when MaxConns are in use, until ctx is done. Give it back with
// Release.
func (p *Pool) Acquire(ctx context.Context) (*pgx.Conn, error) {
	for {
		var ic idleConn
		select {
		case ic = <-p.idle:
		default:
			select {
			case ic = <-p.idle:
			case p.slots <- struct{}{}:
				select {
				case <-p.done:
					<-p.slots
					return nil, ErrPoolClosed
				default:
				}
				c, err := pgx.ConnectConfig(ctx, p.cfg)
				if err != nil {
					<-p.slots
					return nil, err
				}
				return c, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-p.done:
				return nil, ErrPoolClosed
			}
		}
		if time.Since(ic.since) >= pingAfter {
			if err := ic.c.Ping(ctx); err != nil {
				p.destroy(ic.c)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				continue
			}
		}
		return ic.c, nil
	}
}

// Release gives back a connection of Acquire. A closed connection, one
// inside a transaction, or any after Close is dropped.
func (p *Pool) Release(c *pgx.Conn) {
	healthy := !c.IsClosed() && c.PgConn().TxStatus() == 'I'
	p.mu.Lock()
	if healthy && !p.closed {
		p.idle <- idleConn{c: c, since: time.Now()} // never blocks: at most cap(slots) connections exist
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.destroy(c)
}

func (p *Pool) destroy(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Close(ctx)
	<-p.slots
}

// Close closes the idle connections now and the others when released;
// Acquire fails from now on.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	for {
		select {
		case ic := <-p.idle:
			p.destroy(ic.c)
		default:
			return
		}
	}
}

// With runs f on a connection of the pool.
func (p *Pool) With(ctx context.Context, f func(*pgx.Conn) error) error {
	c, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	defer p.Release(c)
	return f(c)
}

// Exec runs one statement on a connection of the pool.
func (p *Pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := p.With(ctx, func(c *pgx.Conn) error {
		var err error
		tag, err = c.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// QueryRow runs a query of one row on a connection of the pool and scans it into dest.
func (p *Pool) QueryRow(ctx context.Context, dest []any, sql string, args ...any) error {
	return p.With(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, sql, args...).Scan(dest...) })
}

// Ping checks that the database answers, on a connection of the pool.
func (p *Pool) Ping(ctx context.Context) error {
	return p.With(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) })
}
