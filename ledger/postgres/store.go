package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cluster"
)

// Options tune Open. Zero values take the defaults.
type Options struct {
	// MaxConns is the size of the connection pool (default 16).
	MaxConns int32
	// Lazy opens the pool without checking that the database answers: the
	// first call connects. (For a read replica that may be down when the
	// gateway starts: its breaker deals with it.)
	Lazy bool
	// Warm makes Open warm the store before it returns (Store.Warm: the
	// database can serve, every connection of the pool open with the
	// inquiry statements prepared) and keeps the pool full from then on: a
	// connection closed for its age or idleness is replaced, prepared, in
	// the background, so that no inquiry waits for a connect. For serving
	// (not migrate or load: it needs a loaded ledger). Not with Lazy.
	Warm bool
	// Readers is how many goroutines send the inquiries, each a batch of
	// those waiting at once in one round trip (default: half of MaxConns,
	// between 1 and 4). See reader.go.
	Readers int
}

// ErrUnreachable is wrapped in the error of Open when the database did not
// answer (down, refused, wrong password), as opposed to a bad URL.
var ErrUnreachable = errors.New("database unreachable")

// Store is the ledger on PostgreSQL: a pgxpool Pool and the inquiry
// statements, prepared on every connection once the store is warm (Warm;
// before, by pgx's statement cache on first use). It implements
// ledger.Store and cluster.Pooled, and is safe for concurrent use.
type Store struct {
	pool    *Pool
	readers *readers    // the inquiries, in batches
	prepare atomic.Bool // warm: every new connection prepares the inquiries (Open's pools)
	closed  atomic.Bool
}

var (
	_ ledger.Store   = (*Store)(nil)
	_ cluster.Pooled = (*Store)(nil)
)

// Open connects to the database at url (a postgres:// URL or key=value
// DSN) and checks that it answers before ctx is done. A bad URL or an
// unreachable server gives a one-line error naming the host and database,
// never the password. Open does not check the schema (see Check): migrate
// opens a database that has none yet.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := poolConfig(url, opts.MaxConns)
	if err != nil {
		return nil, errors.New("database URL is not valid: " + scrub(cause(err), url, urlPassword(url)))
	}
	s := &Store{}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if s.prepare.Load() {
			return prepareInquiries(ctx, c)
		}
		return nil
	}
	warm := opts.Warm && !opts.Lazy
	if warm {
		keepFull(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errors.New("database URL is not valid: " + scrub(cause(err), url, cfg.ConnConfig.Password))
	}
	s.pool = pool
	readers := opts.Readers
	if readers <= 0 {
		readers = defaultReaders(pool.Config().MaxConns)
	}
	if opts.Lazy {
		s.readers = startReaders(pool, readers)
		return s, nil
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, &connError{msg: "database " + describe(cfg.ConnConfig) + " unreachable: " + scrub(cause(err), url, cfg.ConnConfig.Password), err: err}
	}
	if warm {
		if err := s.Warm(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	s.readers = startReaders(pool, readers)
	return s, nil
}

// prepareInquiries prepares the inquiry statements on a connection (the
// pool's AfterConnect once the store is warm: a connection joins the pool
// only once they are, so no inquiry pays for parsing and planning them).
// Each is named by its SQL text, under which pgx finds it when Inquire
// runs that text (on a connection without it, pgx's statement cache
// prepares it on first use). Preparing again is free.
func prepareInquiries(ctx context.Context, c *pgx.Conn) error {
	for _, sql := range [...]string{inquiryPension, inquiryInsurance} {
		if _, err := c.Prepare(ctx, sql, sql); err != nil {
			return fmt.Errorf("prepare the inquiry statements: %w", err)
		}
	}
	return nil
}

// Conns implements cluster.Pooled: the size of the pool.
func (s *Store) Conns() int { return int(s.pool.Config().MaxConns) }

// Warm readies the store to serve before ctx is done: it checks that the
// database can (Check), then opens every connection of the pool that is
// not open yet, all at once, and prepares the inquiry statements on each;
// from then on every connection the pool makes is prepared before it
// joins the pool. So no inquiry waits for a connect or a prepare. It fails
// when Check does, or when a connection cannot be opened, with an error
// naming the database and how many of ledger.max_conns opened (never the
// password), which wraps ErrUnreachable when the database did not answer
// (as opposed to refusing, e.g. too many clients). Warming a warm store
// costs a round trip per idle connection at most.
func (s *Store) Warm(ctx context.Context) error {
	if s.closed.Load() {
		return ErrPoolClosed
	}
	if err := s.Check(ctx); err != nil {
		return err
	}
	s.prepare.Store(true)
	n := s.Conns()
	conns := make([]*pgxpool.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Holding them all at once reaches every connection, the
			// ones made before the hook was on included.
			c, err := s.pool.Acquire(ctx)
			if err == nil {
				err = prepareInquiries(ctx, c.Conn())
			}
			conns[i], errs[i] = c, err
		}()
	}
	wg.Wait()
	opened := 0
	var first error
	for i, c := range conns {
		if c != nil {
			c.Release()
		}
		if errs[i] == nil {
			opened++
		} else if first == nil {
			first = errs[i]
		}
	}
	if first == nil {
		return nil
	}
	cc := s.pool.Config().ConnConfig
	msg := fmt.Sprintf("database %s: %d of %d connections (ledger.max_conns) opened: %s",
		describe(cc), opened, n, scrub(cause(first), "", cc.Password))
	var pe *pgconn.PgError
	if errors.As(first, &pe) {
		return &warmError{msg: msg, err: first} // it answered: refused (too many clients, ...)
	}
	return &connError{msg: msg, err: first}
}

// warmError is an error of Warm from a database that answered: a message
// fit for an operator (no password) over the driver's error.
type warmError struct {
	msg string
	err error
}

func (e *warmError) Error() string { return e.msg }
func (e *warmError) Unwrap() error { return e.err }

// Pool is the connection pool (for Migrate and Load).
func (s *Store) Pool() *Pool { return s.pool }

// Check reports a database the gateway cannot serve from: no schema, an
// older schema, or nothing loaded yet.
func (s *Store) Check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrPoolClosed
	}
	if err := checkSchema(ctx, s.pool); err != nil {
		return err
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM ledger_meta").Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return errors.New("the database holds no ledger yet: run atmgw load")
	}
	var unstated bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM persons WHERE "+unstatedSQL+")").Scan(&unstated); err != nil {
		return err
	}
	if unstated {
		return errUnstated
	}
	return nil
}

// Ping implements ledger.Store.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrPoolClosed
	}
	return s.pool.Ping(ctx)
}

// Close implements ledger.Store: it closes the pool, waiting for the
// connections in use to be released; the Store fails with ErrPoolClosed
// from now on.
func (s *Store) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.readers.stop()
	s.pool.Close()
}

// The inquiry: one statement, one round trip, one result row, two index
// probes: the consent by its primary key and the person's row, with the
// ready-made statement of the asked service (ledger.AppendPension,
// ledger.AppendInsurance), by its; plus the one row of ledger_meta. No
// sort, no aggregate, no scan over the person's history.
const (
	inquiryHead = `SELECT c.national_id, c.name, c.birth_date, c.pension, c.insurance, c.signed_date, c.revoked,
	p.national_id IS NOT NULL, p.name, p.birth_date, (SELECT as_of FROM ledger_meta), p.`
	inquiryTail = `
FROM consents c
LEFT JOIN persons p ON p.national_id = c.national_id
WHERE c.institution = $1 AND c.pan_hash = $2`
	inquiryPension   = inquiryHead + "pension" + inquiryTail
	inquiryInsurance = inquiryHead + "insurance" + inquiryTail
)

// Inquire implements ledger.Store in one round trip.
func (s *Store) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	var sql string
	switch q.Service {
	case card.ServicePension:
		sql = inquiryPension
	case card.ServiceInsurance:
		sql = inquiryInsurance
	default:
		return ledger.Answer{}, fmt.Errorf("ledger: unknown service %d", int(q.Service))
	}
	if s.closed.Load() {
		return ledger.Answer{}, ErrPoolClosed
	}
	return s.readers.inquire(ctx, sql, q)
}

// queryRower is a pool or a connection.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// errUnstated is the error of an inquiry of a person whose ready-made
// statement is not computed (a database migrated and not loaded since;
// Check refuses to serve one).
var errUnstated = errors.New("ledger: the person's statement is not computed yet: run atmgw load")

// inquire runs an inquiry statement on db and reads its answer.
func inquire(ctx context.Context, db queryRower, sql string, q ledger.Query) (ledger.Answer, error) {
	return scanAnswer(db.QueryRow(ctx, sql, q.Institution, q.PANHash), q)
}

// scanAnswer reads the answer of an inquiry statement from its row.
func scanAnswer(row pgx.Row, q ledger.Query) (ledger.Answer, error) {
	var (
		c         = new(card.Consent)
		found     bool
		pName     pgtype.Text
		pBirth    pgtype.Date
		asOf      pgtype.Date
		statement []byte
	)
	err := row.Scan(
		&c.NationalID, &c.Name, &c.BirthDate, &c.Pension, &c.Insurance, &c.SignedDate, &c.Revoked,
		&found, &pName, &pBirth, &asOf, &statement)
	if errors.Is(err, pgx.ErrNoRows) {
		return ledger.Answer{}, nil
	}
	if err != nil {
		return ledger.Answer{}, err
	}
	c.Institution = q.Institution
	ans := ledger.Answer{Consent: c}
	if !found {
		return ans, nil // a consent of no insured person: no statement
	}
	if statement == nil {
		return ledger.Answer{}, errUnstated
	}
	ans.Person = &card.Person{NationalID: c.NationalID, Name: pName.String, BirthDate: pBirth.Time}
	if q.Service == card.ServicePension {
		ans.Pension, err = ledger.DecodePension(statement, asOf.Time)
	} else {
		ans.Insurance, err = ledger.DecodeInsurance(statement, asOf.Time)
	}
	if err != nil {
		return ledger.Answer{}, err
	}
	return ans, nil
}

// connError is an error of Open: a message fit for an operator (no
// password) over the driver's error.
type connError struct {
	msg string
	err error
}

func (e *connError) Error() string   { return e.msg }
func (e *connError) Unwrap() []error { return []error{ErrUnreachable, e.err} }

// describe names a database without its password: user@host:port/database.
func describe(c *pgx.ConnConfig) string {
	host := c.Host
	if strings.HasPrefix(host, "/") {
		host = "socket " + host
	} else {
		host = net.JoinHostPort(host, strconv.Itoa(int(c.Port)))
	}
	return fmt.Sprintf("%s@%s/%s", c.User, host, c.Database)
}

// cause is the innermost useful message of a connection error: the network
// error or the server's message, without pgconn's restatement of the
// connection parameters.
func cause(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Severity + ": " + pe.Message + " (SQLSTATE " + pe.Code + ")"
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return ne.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "failed to connect to `"); ok {
		if _, after, ok := strings.Cut(rest, "`:"); ok {
			msg = strings.TrimSpace(after)
		}
	}
	// One line: pgconn lists each address it tried on a line of its own.
	return strings.NewReplacer("\n\t", "; ", "\n", " ").Replace(msg)
}

// urlPassword is the password of a postgres:// URL, if it has one.
func urlPassword(s string) string {
	u, err := neturl.Parse(s)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

// scrub removes the URL and the password from a message, should a driver
// ever echo them.
func scrub(msg, url, password string) string {
	if url != "" {
		msg = strings.ReplaceAll(msg, url, "(database URL)")
	}
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "xxxxx")
	}
	return msg
}
