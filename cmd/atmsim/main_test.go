package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/sim/cards"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// oneLine checks that a failure says so in exactly one line on stderr.
func oneLine(t *testing.T, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(stderr, want) {
		t.Errorf("stderr %q: want one line mentioning %q", stderr, want)
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("stack trace on stderr: %s", stderr)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"cards": [{"pan": "1"}]}`), 0o644)
	scen := filepath.Join(dir, "s.yaml")
	os.WriteFile(scen, []byte("steps:\n  - do: dance\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
		{[]string{"inquiry", "--bogus"}, exitUsage, "-bogus"},
		{[]string{"inquiry", "--card-file", filepath.Join(dir, "none.json")}, exitUsage, "no such file"},
		{[]string{"inquiry", "--card-file", bad}, exitUsage, "pan must be"},
		{[]string{"inquiry", "--service", "loans"}, exitUsage, "service"},
		{[]string{"inquiry", "--institution", "ABC"}, exitUsage, "institution"},
		{[]string{"inquiry", "--mac-key", "12"}, exitUsage, "mac-key"},
		{[]string{"inquiry", "--card-file", writeDemo(t, dir), "--pan", "1234567890123"}, exitUsage, "not in the card file"},
		{[]string{"inquiry", "--card-file", writeDemo(t, dir), "--gateway", "127.0.0.1:1"}, exitUnreachable, "cannot reach"},
		{[]string{"inquiry", "--reader", "any", "--replay"}, exitUsage, "--replay works with the card file"},
		{[]string{"vpcd", "--card-file", filepath.Join(dir, "none.json")}, exitUsage, "no such file"},
		{[]string{"vpcd", "--card-file", writeDemo(t, dir), "--addr", "127.0.0.1:1"}, exitUnreachable, "pcscd"},
		{[]string{"script"}, exitUsage, "scenario FILE"},
		{[]string{"script", scen}, exitUsage, "dance"},
		{[]string{"script", filepath.Join(dir, "none.yaml")}, exitUsage, "no such file"},
		{[]string{"load", "--card-file", writeDemo(t, dir), "--gateway", "127.0.0.1:1", "--count", "1"}, exitUnreachable, "cannot reach"},
		{[]string{"load", "--card-file", writeDemo(t, dir), "--institution", "999", "--count", "1"}, exitUsage, "no card of institution 999"},
		{[]string{"load", "--duration", "0"}, exitUsage, "duration"},
		{[]string{"gen"}, exitUsage, "--dir"},
		{[]string{"gen", "--dir", dir, "--as-of", "yesterday"}, exitUsage, "as-of"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr)
		}
		oneLine(t, stderr, tc.want)
	}
}

func writeDemo(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "demo.json")
	if err := cards.Demo().Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelp(t *testing.T) {
	code, out, stderr := runCmd(t, "inquiry", "-h")
	if code != 0 || !strings.Contains(out, "--replay") && !strings.Contains(out, "-replay") || stderr != "" {
		t.Errorf("inquiry -h: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestInquiryExitCodes(t *testing.T) {
	addr := gatewaytest.StartDemo(t)
	dir := t.TempDir()
	cf := writeDemo(t, dir)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--pan", "4700123456789014"}, exitOK, "00 approved"},
		{[]string{"--pan", "4700123456789014", "--service", "insurance", "--terminal", "KSK70001"}, exitOK, "screen DE61 32x20"},
		{[]string{"--pan", "4700123456789014", "--replay"}, exitDeclined, "63 security violation"},
		{[]string{"--pan", "6012000000000013"}, exitDeclined, "57"},
		{[]string{"--pan", "6808000000000014"}, exitOK, "0 row(s)"},
		{[]string{"--pan", "4700123456789014", "--institution", "999"}, exitSignOn, ""},
		{[]string{"--pan", "4700123456789014", "--institution", "812", "--mac-key", "0123456789ABCDEFFEDCBA9876543210"}, exitOK, "00 approved"},
		{[]string{"--pan", "4700123456789014", "--institution", "812"}, exitDeclined, "63"},
	} {
		args := append([]string{"inquiry", "--gateway", addr, "--card-file", cf}, tc.args...)
		code, out, stderr := runCmd(t, args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d (want %d), stdout:\n%s\nstderr: %s", tc.args, code, tc.code, out, stderr)
		}
	}
	// Every use went up the file's counter (the replay and the refused
	// sign-on excepted): 4 uses of the post-office card.
	f, err := cards.Load(cf)
	if err != nil {
		t.Fatal(err)
	}
	if atc := f.Find("4700123456789014").ATC; atc != 4 {
		t.Errorf("ATC in the file = %d, want 4", atc)
	}
}

func TestScriptAndLoad(t *testing.T) {
	addr := gatewaytest.StartDemo(t, gatewaytest.WithoutRateLimit())
	dir := t.TempDir()
	cf := writeDemo(t, dir)
	code, out, stderr := runCmd(t, "script", "--gateway", addr, "--card-file", cf,
		"../../sim/scenarios/17-approved.yaml", "../../sim/scenarios/14-atc-replay.yaml")
	if code != 0 || !strings.Contains(out, "2 scenarios") {
		t.Errorf("script: exit %d\n%s\n%s", code, out, stderr)
	}
	js, svg := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	code, out, stderr = runCmd(t, "load", "--gateway", addr, "--card-file", cf, "--institution", "700,005",
		"--connections", "2", "--count", "200", "--json", js, "--svg", svg)
	if code != 0 || !strings.Contains(out, "200 = 200 + 0  OK") {
		t.Errorf("load: exit %d\n%s\n%s", code, out, stderr)
	}
	var rep map[string]any
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &rep); err != nil || rep["sent"].(float64) != 200 {
		t.Errorf("JSON report %s: %v", b, err)
	}
	if b, _ := os.ReadFile(svg); !strings.Contains(string(b), "<svg") {
		t.Error("no SVG written")
	}
	code, out, _ = runCmd(t, "gen", "--dir", filepath.Join(dir, "gen"), "--persons", "50")
	if code != 0 || !strings.Contains(out, "50 persons") {
		t.Errorf("gen: exit %d %s", code, out)
	}
	if _, err := cards.Load(filepath.Join(dir, "gen", "cards.json")); err != nil {
		t.Error(err)
	}
}
