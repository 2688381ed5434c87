package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment scripts/test sets.
const (
	// EnvURL is a superuser URL of a PostgreSQL server for tests.
	EnvURL = "ATMGW_TEST_DATABASE_URL"
	// EnvBin is the directory of the PostgreSQL server binaries (initdb, pg_ctl).
	EnvBin = "ATMGW_PG_BIN"
)

// cmdTimeout bounds every server command (initdb, pg_ctl) and SQL statement.
const cmdTimeout = 2 * time.Minute

// missing skips the test, or fails it under CI=true.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("needs PostgreSQL (%s): run scripts/test", what)
	}
	t.Skipf("needs PostgreSQL (%s): run scripts/test", what)
}

// NewDatabase creates a fresh empty database on the server of
// ATMGW_TEST_DATABASE_URL, drops it when the test ends (closing any
// connection left to it), and returns its URL. Without the variable the
// test is skipped (failed under CI=true).
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		missing(t, EnvURL+" is not set")
	}
	name := "atmgw_test_" + randomHex(6)
	dbURL, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}
	if err := adminExec(admin, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := adminExec(admin, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return dbURL
}

func adminExec(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

// withDatabase returns the connection string s naming database name instead.
func withDatabase(s, name string) (string, error) {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("not a URL")
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	return s + " dbname=" + name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Server is a private PostgreSQL server of one test: its own data
// directory, a loopback port, fsync off. Stop and Start stop and start it
// again (same port, same data) for fault tests. A primary (StartServer)
// accepts streaming replicas (StartReplica); a replica is a Server too.
type Server struct {
	t       testing.TB
	bin     string
	dir     string // owned by the server's user; holds data/, the socket and server.log
	port    int
	asPG    bool    // run the server commands as the postgres user (we are root)
	primary *Server // the primary of a replica; nil for a primary

	mu      sync.Mutex
	running bool
}

// newServer makes the directory of a server, removed (the server stopped
// first) when the test ends.
func newServer(t testing.TB) *Server {
	t.Helper()
	bin := findBin()
	if bin == "" {
		missing(t, "no initdb in $"+EnvBin+" nor /usr/lib/postgresql/*/bin")
	}
	s := &Server{t: t, bin: bin, asPG: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "atmgw-pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	s.dir = dir
	t.Cleanup(func() {
		s.mu.Lock()
		running := s.running
		s.mu.Unlock()
		if running {
			s.pgctl("-m", "immediate", "stop")
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if s.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	return s
}

// StartServer initialises and starts a private PostgreSQL server, stopped
// and removed when the test ends. The binaries are those of
// ATMGW_PG_BIN, or else the newest /usr/lib/postgresql/*/bin; without them
// the test is skipped (failed under CI=true). As root, the server runs as
// the postgres user. It is ready to stream to replicas (wal_level replica,
// max_wal_senders, a replication entry for loopback in pg_hba.conf, trust
// on loopback).
func StartServer(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	if out, err := s.run(filepath.Join(s.bin, "initdb"), "-D", s.data(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C.UTF-8", "-N"); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	// initdb's pg_hba.conf has these lines already (with -A trust); say so
	// rather than depend on its template.
	hba, err := os.OpenFile(filepath.Join(s.data(), "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = hba.WriteString("\n# pgtest: streaming replicas from loopback\nhost replication all 127.0.0.1/32 trust\n")
		if cerr := hba.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("pgtest: pg_hba.conf: %v", err)
	}
	s.port = freePort(t)
	s.Start()
	return s
}

// StartReplica makes and starts a streaming replica of s (which must be
// running): a base backup taken with pg_basebackup -R (so the replica
// follows s by itself), a hot standby on a loopback port of its own,
// read-only. It is stopped and removed when the test ends; Stop and Start
// work as on the primary, and a replica started again catches up by
// itself. Use WaitCaughtUp after writing to the primary.
func (s *Server) StartReplica(t testing.TB) *Server {
	t.Helper()
	if s.primary != nil {
		t.Fatalf("pgtest: StartReplica of a replica")
	}
	r := newServer(t)
	r.primary = s
	if out, err := r.run(filepath.Join(r.bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-U", "postgres", "-D", r.data(), "-R", "-X", "stream", "-c", "fast", "--no-sync"); err != nil {
		t.Fatalf("pgtest: pg_basebackup: %v\n%s", err, out)
	}
	r.port = freePort(t)
	r.Start()
	return r
}

// IsReplica tells a replica from a primary.
func (s *Server) IsReplica() bool { return s.primary != nil }

// WaitCaughtUp waits until the replica has replayed everything its primary
// had committed when called (both must be running; it commits a
// transaction of its own on the primary to flush its WAL), failing the
// test after a minute.
func (s *Server) WaitCaughtUp() {
	s.t.Helper()
	if s.primary == nil {
		s.t.Fatalf("pgtest: WaitCaughtUp of a primary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lsn, err := flushedLSN(ctx, s.primary.URL())
	if err != nil {
		s.t.Fatalf("pgtest: primary's WAL position: %v", err)
	}
	for {
		var done bool
		err := queryRow(ctx, s.URL(), "SELECT coalesce(pg_last_wal_replay_lsn() >= '"+lsn+"'::pg_lsn, false)", &done)
		if err == nil && done {
			return
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("pgtest: the replica did not replay up to %s within a minute (last error: %v)", lsn, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// flushedLSN writes a transaction with a synchronous commit on the server
// at url, so that everything written before is flushed, and returns the
// position flushed. (The insert position is no target: it may point past a
// page header that no record fills until the next write.)
func flushedLSN(ctx context.Context, url string) (string, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "SET synchronous_commit = on"); err != nil {
		return "", err
	}
	// A transactional message: a commit that wrote WAL, so flushed (an
	// xid alone is committed without a flush).
	if _, err := c.Exec(ctx, "SELECT pg_logical_emit_message(true, 'pgtest', 'caught up?')"); err != nil {
		return "", err
	}
	var lsn string
	err = c.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&lsn)
	return lsn, err
}

func queryRow(ctx context.Context, url, sql string, dest ...any) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return c.QueryRow(ctx, sql).Scan(dest...)
}

// URL is a superuser URL of the server's postgres database.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Stop stops the server (fast shutdown: sessions are ended, as when an
// operator stops the database). It can be started again with Start.
func (s *Server) Stop() {
	s.t.Helper()
	if out, err := s.pgctl("-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		s.t.Fatalf("pgtest: stop: %v\n%s", err, out)
	}
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
}

// Start starts the server (again), on the same port with the same data,
// and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"+
		" -c wal_level=replica -c max_wal_senders=10 -c hot_standby=on -c wal_retrieve_retry_interval=200ms",
		s.port, s.dir)
	s.mu.Lock()
	s.running = true // even if pg_ctl fails, the cleanup tries to stop it
	s.mu.Unlock()
	if out, err := s.pgctl("-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		s.t.Fatalf("pgtest: start: %v\n%s\n%s", err, out, log)
	}
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) pgctl(args ...string) ([]byte, error) {
	return s.run(filepath.Join(s.bin, "pg_ctl"), append([]string{"-D", s.data()}, args...)...)
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if s.asPG {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	return cmd.CombinedOutput()
}

// findBin is the directory of initdb: ATMGW_PG_BIN, or the newest
// /usr/lib/postgresql/*/bin.
func findBin() string {
	if d := os.Getenv(EnvBin); d != "" {
		if isExec(filepath.Join(d, "initdb")) {
			return d
		}
		return ""
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) {
			return d
		}
	}
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Connect opens a connection of the test's own to the database at url
// (a second session beside the code under test: to read a table, hold a
// lock, change a setting), closed when the test ends.
func Connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	c := connect(t, url)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	return c
}

// Exec runs sql on a connection of its own to the database at url,
// failing the test on an error.
func Exec(t testing.TB, url, sql string, args ...any) {
	t.Helper()
	c := connect(t, url)
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// QueryRow runs sql on a connection of its own to the database at url and
// scans its one row into dest, failing the test on an error.
func QueryRow(t testing.TB, url, sql string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if err := queryRow(ctx, url, sql, dest...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
