package main_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input to the tool: one clear line on stderr, a non-zero exit, no
// stack trace.
func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("listen: [\n"), 0o644)
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("partners:\n- {institution: \"700\", allow: [127.0.0.0/8], screen: {columns: 40, lines: 16}, receipt: {columns: 40, lines: 24}, mac_kye: 00}\n"), 0o644)
	tiny := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(tiny, []byte("partners:\n- {institution: \"700\", allow: [127.0.0.0/8], screen: {columns: 10, lines: 3}, receipt: {columns: 40, lines: 24}}\n"), 0o644)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no command", nil, nil, 2, "usage"},
		{"unknown command", nil, []string{"frobnicate"}, 2, "unknown command"},
		{"unknown flag", nil, []string{"serve", "--nope"}, 2, "nope"},
		{"stray argument", nil, []string{"serve", "extra"}, 2, "unexpected argument"},
		{"missing config file", nil, []string{"serve", "--config", filepath.Join(dir, "none.yaml")}, 1, "no such file"},
		{"config not YAML", nil, []string{"serve", "--config", badYAML}, 1, "bad.yaml"},
		{"config typo", nil, []string{"serve", "--config", typo}, 1, "mac_kye"},
		{"profile too small", nil, []string{"serve", "--config", tiny, "--listen", "127.0.0.1:0"}, 1, "700"},
		{"bad listen", nil, []string{"serve", "--listen", "nonsense"}, 1, "listen"},
		{"admin address taken", nil, []string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", busy.Addr().String(), "--log-level", "warn"}, 1, "admin_listen on " + busy.Addr().String()},
		{"pprof without admin", nil, []string{"serve", "--listen", "127.0.0.1:0", "--pprof"}, 2, "-pprof needs admin_listen"},
		{"migrate without database", []string{"ATMGW_DATABASE_URL="}, []string{"migrate"}, 2, "no database"},
		{"load without dir", nil, []string{"load", "--database-url", "postgres://127.0.0.1:1/x"}, 2, "--dir"},
		{"unreachable database", nil, []string{"migrate", "--database-url", "postgres://nobody:secretpw@127.0.0.1:1/bli?connect_timeout=2"}, 1, "127.0.0.1"},
		{"unreachable database serve", nil, []string{"serve", "--listen", "127.0.0.1:0", "--database-url", "postgres://nobody:secretpw@127.0.0.1:1/bli?connect_timeout=2"}, 1, "127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := atmgw(t, c.env, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr does not mention %q: %s", c.want, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace: %s", stderr)
			}
			if strings.Contains(stderr, "secretpw") {
				t.Errorf("the database password leaked into the error: %s", stderr)
			}
			if c.code != 2 || c.want != "usage" {
				lines := strings.Count(strings.TrimRight(stderr, "\n"), "\n") + 1
				if c.code == 1 && lines != 1 {
					t.Errorf("want one line, got %d: %s", lines, stderr)
				}
			}
		})
	}
}

func TestLoadReportsBadRows(t *testing.T) {
	pgURL := testDatabase(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "as_of.txt"), []byte("2026-10-31\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "persons.csv"), []byte("national_id,name,birth_date\nA100000001,王小明,1985-06-15\nB200000002,陳美玲,1990-13-45\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "pension_ledger.csv"), []byte("entry_id,national_id,period,kind,unit_name,amount\n1,A100000001,2025-01,employer,甲公司,3000\n2,A100000001,2025-02,bonus,甲公司,3000\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "insurance_events.csv"), []byte("entry_id,national_id,event_date,kind,unit_name,insured_salary\n1,A100000001,2010-07-01,enroll,甲公司,26400\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "consents.csv"), []byte("institution,pan,national_id,name,birth_date,services,signed_date,status\n700,4711000000000001,A100000001,王小明,1985-06-15,both,2026-01-05,active\n700,47110000ABC,A100000001,王小明,1985-06-15,both,2026-01-05,active\n"), 0o644)
	env := []string{"ATMGW_DATABASE_URL=" + pgURL}
	code, stdout, stderr := atmgw(t, env, "load", "--dir", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (rows refused); %s %s", code, stdout, stderr)
	}
	for _, want := range []string{"persons.csv:3:", "pension_ledger.csv:3:", "consents.csv:3:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, stderr)
		}
	}
	if strings.Contains(stderr, "47110000ABC") {
		t.Errorf("a PAN in clear in the report: %s", stderr)
	}
	// The same files again: the same answer, nothing changes.
	code2, stdout2, _ := atmgw(t, env, "load", "--dir", dir)
	if code2 != 1 || stdout2 != stdout {
		t.Errorf("second load differs: exit %d\n%s\nvs\n%s", code2, stdout2, stdout)
	}
}
