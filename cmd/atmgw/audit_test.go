package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/ledger/pgtest"
)

// auditServe is one `atmgw serve` process of the audit tests.
type auditServe struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *testsync.Buffer
}

func startAuditServe(t *testing.T, cfgPath, addr string, env []string) *auditServe {
	t.Helper()
	cmd := exec.Command(atmgwBin, "serve", "--config", cfgPath, "--log-format", "json")
	cmd.Env = append(os.Environ(), env...)
	s := &auditServe{t: t, cmd: cmd, logs: &testsync.Buffer{}}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitPort(t, addr)
	return s
}

// term sends SIGTERM and wants exit status 0.
func (s *auditServe) term() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Fatalf("exit after SIGTERM: %v\n%s", err, s.logs.String())
		}
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		<-done
		s.t.Fatalf("no exit after SIGTERM:\n%s", s.logs.String())
	}
}

// auditTable is audit_log by STAN: the response codes.
func auditTable(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := pgtest.Connect(t, dbURL)
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT stan, response_code FROM audit_log")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	n := 0
	for rows.Next() {
		var stan, rc string
		if err := rows.Scan(&stan, &rc); err != nil {
			t.Fatal(err)
		}
		out[stan] = rc
		n++
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if n != len(out) {
		t.Errorf("audit_log: %d rows for %d STANs: a request recorded twice", n, len(out))
	}
	return out
}

// spoolRecords counts the records in the spool files of dir.
func spoolRecords(t *testing.T, dir string) (files, records int) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.spool"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		records += strings.Count(string(b), "\n")
	}
	return len(paths), records
}

func sameAudit(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("audit_log holds %d requests, %d were answered", len(got), len(want))
	}
	for stan, rc := range want {
		if got[stan] != rc {
			t.Errorf("STAN %s answered %s, audit_log says %q", stan, rc, got[stan])
		}
	}
}

// TestAuditAcrossSIGTERM runs the real binary: the trail is write-ahead,
// so every answer's record is in audit_log (or, with the database down, in
// the spool) by the time the answer arrives. SIGTERM with the database up:
// exit 0, the spool empty. SIGTERM with the database down: exit 0 and the
// outage's records in the spool; the next start replays them.
func TestAuditAcrossSIGTERM(t *testing.T) {
	pg := pgtest.StartServer(t)
	env := []string{"ATMGW_DATABASE_URL=" + pg.URL()}
	if code, _, stderr := atmgw(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	data := t.TempDir()
	testledger.Write(t, data)
	if code, _, stderr := atmgw(t, env, "load", "--dir", data); code != 0 {
		t.Fatalf("load: exit %d: %s", code, stderr)
	}
	addr := freePort(t)
	spool := t.TempDir()
	cfg := exampleWithoutAudit(t)
	cfg = strings.Replace(cfg, "listen: 127.0.0.1:8583", "listen: "+addr, 1)
	cfg = strings.Replace(cfg, "card_rate: {inquiries: 10, window: 10m}", "card_rate: {inquiries: 0, window: 10m}", 1)
	cfg += fmt.Sprintf("\naudit:\n  mode: database\n  spool_dir: %s\n  batch_size: 10000\n  probe_interval: 100ms\n", spool)
	cfgPath := filepath.Join(t.TempDir(), "atmgw.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	e := &e2e{t: t, atc: map[string]uint16{}}
	answered := map[string]string{}
	ask := func(c *testclient.Client, pan, pc, want string) {
		t.Helper()
		m := e.inquiry("700", pan, pc)
		expect(t, c, m, nil, want)
		answered[m.STAN] = want
	}
	session := func() *testclient.Client { return e.session(addr, "700") }

	// 1. The database up at SIGTERM: each record is stored before its answer.
	s := startAuditServe(t, cfgPath, addr, env)
	c := session()
	for _, q := range []struct{ pan, pc, rc string }{
		{testledger.PanOK, "380000", "00"},
		{testledger.PanOK, "390000", "00"},
		{testledger.PanOK, "370000", "12"},
		{"4711999999999999", "380000", "14"},
		{testledger.PanMismatch, "380000", "25"},
	} {
		ask(c, q.pan, q.pc, q.rc)
		if n := len(auditTable(t, pg.URL())); n != len(answered) {
			t.Fatalf("audit_log holds %d rows once %d answers arrived: not write-ahead", n, len(answered))
		}
	}
	s.term()
	sameAudit(t, auditTable(t, pg.URL()), answered)
	if files, recs := spoolRecords(t, spool); files != 0 || recs != 0 {
		t.Errorf("after a stop with the database up: %d spool files, %d records", files, recs)
	}
	// The records went with the card state's checks (one commit for both).
	if !strings.Contains(s.logs.String(), "audit record is committed with its check") {
		t.Errorf("the audit records were not journaled with the card state:\n%s", s.logs.String())
	}

	// 2. The database down at SIGTERM: the records go to the spool.
	s = startAuditServe(t, cfgPath, addr, env)
	c = session()
	ask(c, testledger.PanOK, "380000", "00")
	ask(c, testledger.PanOK, "390000", "00")
	pg.Stop()
	for i := 0; i < 3; i++ {
		ask(c, testledger.PanOK, "390000", "91")
		if _, recs := spoolRecords(t, spool); recs != i+1 {
			t.Fatalf("%d records in the spool once %d answers of the outage arrived: not write-ahead", recs, i+1)
		}
	}
	// Decision 7 needs the primary: an unknown service is 91 too.
	ask(c, testledger.PanOK, "370000", "91")
	s.term()
	if files, recs := spoolRecords(t, spool); files != 1 || recs != 4 {
		t.Fatalf("after a stop with the database down: %d spool files, %d records; want 1 and 4\n%s", files, recs, s.logs.String())
	}

	// 3. The database back: the next start replays the spool.
	pg.Start()
	s = startAuditServe(t, cfgPath, addr, env)
	deadline := time.Now().Add(60 * time.Second) // a hang guard
	for len(auditTable(t, pg.URL())) != len(answered) {
		if time.Now().After(deadline) {
			t.Fatalf("the spool was not replayed at start:\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.term()
	sameAudit(t, auditTable(t, pg.URL()), answered)
	if files, recs := spoolRecords(t, spool); files != 0 || recs != 0 {
		t.Errorf("after the replay: %d spool files, %d records", files, recs)
	}
}

// A database audit trail without a database refuses to start, in one line
// naming the key.
func TestAuditConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"audit:\n  mode: database\n":  "audit.mode: database needs database_url",
		"audit:\n  mode: sometimes\n": "audit.mode",
		"audit:\n  batch_size: -1\n":  "audit.batch_size",
		"audit:\n  buffer: -5\n":      "audit.buffer",
		"audit:\n  timeout: x\n":      "not a duration",
	}
	i := 0
	for extra, want := range cases {
		i++
		p := filepath.Join(dir, fmt.Sprintf("c%d.yaml", i))
		os.WriteFile(p, []byte(exampleWithoutAudit(t)+"\n"+extra), 0o644)
		code, _, stderr := atmgw(t, []string{"ATMGW_DATABASE_URL="}, "serve", "--config", p, "--listen", "127.0.0.1:0")
		if code != 1 || !strings.Contains(stderr, want) || strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 {
			t.Errorf("%q: exit %d, stderr %q (want exit 1, one line with %q)", extra, code, stderr, want)
		}
	}
}

// On the embedded demo ledger the trail is off unless audit.mode says
// spool; then the spool file is the trail, kept at the stop.
func TestAuditOnTheDemoLedger(t *testing.T) {
	for _, mode := range []string{"auto", "spool"} {
		t.Run(mode, func(t *testing.T) {
			addr := freePort(t)
			spool := filepath.Join(t.TempDir(), "audit")
			cfg := strings.Replace(exampleWithoutAudit(t), "listen: 127.0.0.1:8583", "listen: "+addr, 1)
			cfg += fmt.Sprintf("\naudit:\n  mode: %s\n  spool_dir: %s\n", mode, spool)
			cfgPath := filepath.Join(t.TempDir(), "atmgw.yaml")
			os.WriteFile(cfgPath, []byte(cfg), 0o644)
			s := startAuditServe(t, cfgPath, addr, []string{"ATMGW_DATABASE_URL="})
			e := &e2e{t: t, atc: map[string]uint16{}}
			c := e.session(addr, "700")
			for i := 0; i < 3; i++ {
				if r, err := c.Do(demoInquiry(10+i, "4700123456789014", uint16(100+i)), nil, 5*time.Second); err != nil || r.ResponseCode != "00" {
					t.Fatalf("inquiry: %v %+v", err, r)
				}
			}
			s.term()
			files, recs := spoolRecords(t, spool)
			switch mode {
			case "auto":
				if !strings.Contains(s.logs.String(), "audit trail off") {
					t.Errorf("the log does not say the trail is off:\n%s", s.logs.String())
				}
				if _, err := os.Stat(spool); !os.IsNotExist(err) {
					t.Errorf("spool directory made with the trail off: %v", err)
				}
			case "spool":
				if files != 1 || recs != 3 {
					t.Errorf("spool: %d files, %d records; want 1 and 3", files, recs)
				}
			}
		})
	}
}
