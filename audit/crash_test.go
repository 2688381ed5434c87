package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bli/atmgw/ledger/pgtest"
)

// The environment of the child process of TestCrashSafety.
const (
	envCrashChild = "ATMGW_AUDIT_CRASH_CHILD" // "1": TestCrashChild is the child
	envCrashDB    = "ATMGW_AUDIT_CRASH_DB"    // its database URL
	envCrashSpool = "ATMGW_AUDIT_CRASH_SPOOL" // its spool directory
	envCrashRound = "ATMGW_AUDIT_CRASH_ROUND" // a prefix of its ids
)

// TestCrashChild is the child process of TestCrashSafety (skipped
// otherwise): many goroutines write records and print each id on stdout
// only once Write has returned nil, until the parent kills the process.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		t.Skip("the child process of TestCrashSafety")
	}
	ctx := context.Background()
	w, err := Open(ctx, Options{DatabaseURL: os.Getenv(envCrashDB), SpoolDir: os.Getenv(envCrashSpool),
		ProbeInterval: 50 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	prefix := os.Getenv(envCrashRound) + "-" + strconv.Itoa(os.Getpid())
	var mu sync.Mutex
	for g := range 32 {
		go func() {
			for i := 0; ; i++ {
				r := rec(fmt.Sprintf("%s-%d-%d", prefix, g, i), "00")
				if err := w.Write(ctx, r); err != nil {
					fmt.Fprintln(os.Stderr, "write:", err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				mu.Lock()
				os.Stdout.WriteString(r.ID + "\n") // unbuffered: printed means durable
				mu.Unlock()
			}
		}()
	}
	time.Sleep(2 * time.Minute) // killed long before
	fmt.Fprintln(os.Stderr, "child: not killed")
	os.Exit(3)
}

// child is a running TestCrashChild and the ids it has printed.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr bytes.Buffer
	read   chan struct{} // closed at the end of its stdout

	mu  sync.Mutex
	ids []string
}

func startChild(t *testing.T, dbURL, dir, round string) *child {
	t.Helper()
	c := &child{t: t, read: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	c.cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashDB+"="+dbURL, envCrashSpool+"="+dir, envCrashRound+"="+round)
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.read)
		r := bufio.NewReader(out)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return // a last line without its newline was not printed whole: not counted
			}
			if id := strings.TrimSuffix(l, "\n"); strings.HasPrefix(id, round+"-") {
				c.mu.Lock()
				c.ids = append(c.ids, id)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *child) seen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// waitSeen waits until the child has printed n ids.
func (c *child) waitSeen(n int) {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for c.seen() < n {
		select {
		case <-c.read:
			c.t.Fatalf("the child ended after %d ids: %s", c.seen(), c.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			c.cmd.Process.Kill()
			<-c.read
			c.cmd.Wait()
			c.t.Fatalf("the child printed %d ids in a minute, want %d: %s", c.seen(), n, c.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kill kills the child with SIGKILL and returns the ids it printed whole.
func (c *child) kill() []string {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	<-c.read
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		c.t.Fatalf("the child was not killed: %v: %s", err, c.stderr.String())
	}
	if s := c.stderr.String(); s != "" {
		c.t.Errorf("the child's stderr: %s", s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ids
}

// checkRecovered opens a writer on the dead child's spool directory (it
// adopts and replays the spool), closes it, and checks that every id the
// child printed is in audit_log exactly once.
func checkRecovered(t *testing.T, dbURL, dir string, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := Open(ctx, Options{DatabaseURL: dbURL, SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	adopted := w.Stats().SpoolPending
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.SpoolPending != 0 || st.Lost != 0 {
		t.Errorf("after the replay: %+v", st)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, spoolGlob)); len(files) != 0 {
		t.Errorf("spool files left after the replay: %v", files)
	}
	c := pgtest.Connect(t, dbURL)
	rows, err := c.Query(ctx, "SELECT id, count(*) FROM audit_log WHERE id = ANY($1) GROUP BY id", ids)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		got[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, id := range ids {
		switch n := got[id]; {
		case n == 0:
			if missing++; missing <= 5 {
				t.Errorf("record %s: Write returned nil, the child was killed, the record is not in audit_log", id)
			}
		case n > 1:
			t.Errorf("record %s stored %d times", id, n)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged records missing", missing, len(ids))
	}
	var total, distinct int
	if err := c.QueryRow(ctx, "SELECT count(*), count(DISTINCT id) FROM audit_log").Scan(&total, &distinct); err != nil || total != distinct {
		t.Errorf("audit_log: %d rows, %d ids (%v)", total, distinct, err)
	}
	t.Logf("%d acknowledged records, all stored once (%d replayed from the spool; %d rows in audit_log)", len(ids), adopted, total)
}

// Crash safety, by crashing: a child process writes records from many
// goroutines and prints each id once Write returned nil; it is killed
// (SIGKILL) at a random moment; a new writer on the same spool directory
// adopts and replays what the child spooled; every printed id is then in
// audit_log exactly once. Second variant: the database is stopped under
// the running child, which is killed while it spools.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const rounds = 3
	t.Run("database", func(t *testing.T) {
		dbURL := database(t)
		dir := t.TempDir()
		for round := range rounds {
			c := startChild(t, dbURL, dir, fmt.Sprintf("db%d", round))
			c.waitSeen(200 + rand.IntN(2000))
			time.Sleep(time.Duration(rand.IntN(50_000)) * time.Microsecond)
			checkRecovered(t, dbURL, dir, c.kill())
		}
	})
	t.Run("database stopped", func(t *testing.T) {
		srv := pgtest.StartServer(t)
		dbURL := srv.URL()
		migrate(t, dbURL)
		dir := t.TempDir()
		for round := range rounds {
			c := startChild(t, dbURL, dir, fmt.Sprintf("stop%d", round))
			c.waitSeen(200 + rand.IntN(1000))
			srv.Stop()
			c.waitSeen(c.seen() + rand.IntN(2000)) // spooled
			time.Sleep(time.Duration(rand.IntN(50_000)) * time.Microsecond)
			ids := c.kill()
			srv.Start()
			checkRecovered(t, dbURL, dir, ids)
		}
	})
}
