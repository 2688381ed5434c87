package config

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/postgres"
)

// resolve parses the file y and resolves it, failing the test on an
// error of either.
func resolve(t *testing.T, y []byte) *Settings {
	t.Helper()
	var c Config
	if err := Parse(y, &c); err != nil {
		t.Fatal(err)
	}
	s, err := c.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExampleConfigIsValid(t *testing.T) {
	var c Config
	if err := Parse(configs.Example, &c); err != nil {
		t.Fatal(err)
	}
	s, err := c.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	ps := s.Gateway.Partners
	if len(ps) != 6 {
		t.Fatalf("want the six partners, got %d", len(ps))
	}
	inst := map[string]bool{}
	for _, p := range ps {
		inst[p.Institution] = true
		if len(p.Allow) == 0 {
			t.Errorf("%s: no networks", p.Institution)
		}
		if _, ok := s.Gateway.Profiles.Lookup(p.Institution, "ATM"+p.Institution+"01"); !ok {
			t.Errorf("%s: no profile", p.Institution)
		}
	}
	for _, want := range []string{"005", "007", "012", "808", "812", "700"} {
		if !inst[want] {
			t.Errorf("partner %s missing", want)
		}
	}
	if ps[4].Institution != "812" || len(ps[4].MACKey) != 16 {
		t.Errorf("812 should carry a 16-byte MAC key")
	}
	if s.CardState.Options.RateLimit != 10 || s.DatabaseURL != "" {
		t.Errorf("unexpected defaults: rate %d url %q", s.CardState.Options.RateLimit, s.DatabaseURL)
	}
	// The file is left as it was: nothing is written into it.
	if c.Partners[0].Allow == nil || c.Partners[0].MACKey != "" || c.CardState.Store != CardStateAuto {
		t.Errorf("the file's values changed: %+v", c)
	}
}

func TestBadConfigs(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"unknown key":   {"listn: 1.2.3.4:5\n", "listn"},
		"bad duration":  {"idle_timeout: soon\n", "not a duration"},
		"bad mac key":   {"partners:\n- {institution: \"700\", allow: [127.0.0.0/8], mac_key: 0123, screen: {columns: 40, lines: 16}, receipt: {columns: 40, lines: 24}}\n", "mac_key"},
		"bad network":   {"partners:\n- {institution: \"700\", allow: [localhost], screen: {columns: 40, lines: 16}, receipt: {columns: 40, lines: 24}}\n", "allow"},
		"no allow":      {"partners:\n- {institution: \"700\", screen: {columns: 40, lines: 16}, receipt: {columns: 40, lines: 24}}\n", "allow"},
		"bad inst":      {"partners:\n- {institution: \"70A\", allow: [127.0.0.1], screen: {columns: 40, lines: 16}, receipt: {columns: 40, lines: 24}}\n", "institution"},
		"twice":         {"partners:\n- {institution: \"700\", allow: [127.0.0.1], screen: {columns: 40, lines: 16}, receipt: {columns: 40, lines: 24}}\n- {institution: \"700\", allow: [127.0.0.1], screen: {columns: 40, lines: 16}, receipt: {columns: 40, lines: 24}}\n", "twice"},
		"negative rate": {"card_rate: {inquiries: -1}\n", "card_rate"},
		"bad pan key":   {"pan_key: zz\n", "pan_key"},
		"bad level":     {"log_level: loud\n", "log_level"},
		"no workers":    {"card_state: {workers: -1}\n", "card_state.workers"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var c Config
			err := Parse([]byte(tc.yaml), &c)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %q, got %v", tc.want, err)
			}
		})
	}
}

func TestEmptyFileGivesDefaults(t *testing.T) {
	s := resolve(t, nil)
	// Every default is the one of the package that owns the key.
	g := s.Gateway
	if s.Listen != DefaultListen || s.LogLevel != DefaultLogLevel || s.CardState.Options.RateLimit != ledger.DefaultRateLimit ||
		g.IdleTimeout != gateway.DefaultIdleTimeout || g.MaxInFlight != gateway.DefaultMaxInFlight ||
		g.MaxConns != gateway.DefaultMaxConns || g.MaxConnsPerPartner != gateway.DefaultMaxConnsPartner ||
		g.SignOnDeadline != gateway.DefaultSignOnDeadline || g.MaxUnboundPerAddress != gateway.DefaultMaxUnboundAddr ||
		g.ConsentTimeout != gateway.DefaultConsentTimeout ||
		g.AdmitStrangers || s.Audit.Sink != AuditOff || !s.Audit.Auto || s.Audit.Options.BatchSize != audit.DefaultBatchSize ||
		s.CardState.Store != CardStateMemory || s.CardState.MemoryWhenPrimaryDown ||
		s.CardState.Options.MaxBatch != postgres.DefaultCardStateMaxBatch || s.CardState.Options.Workers != postgres.DefaultCardStateWorkers || string(s.PANKey) != string(mustHex(t, DemoPANKey)) {
		t.Fatalf("defaults not applied: %+v", s)
	}
}

// Off is 0 in the file, and negative in the packages' options (whose 0 is
// the default).
func TestOffIsZeroInTheFile(t *testing.T) {
	s := resolve(t, []byte("card_rate: {inquiries: 0}\nledger: {queue: 0}\n"))
	if s.CardState.Options.RateLimit >= 0 || s.Ledger.Cluster.Limit.Queue >= 0 {
		t.Errorf("off not translated: rate %d, queue %d", s.CardState.Options.RateLimit, s.Ledger.Cluster.Limit.Queue)
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeysFromFiles(t *testing.T) {
	dir := t.TempDir()
	pan := filepath.Join(dir, "pan.key")
	mac := filepath.Join(dir, "812.mac")
	os.WriteFile(pan, []byte("  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"), 0o600)
	os.WriteFile(mac, []byte("0123456789ABCDEFFEDCBA9876543210\n"), 0o600)
	y := "pan_key_file: " + pan + "\npartners:\n- {institution: \"812\", allow: [127.0.0.1], mac_key_file: " + mac +
		", screen: {columns: 40, lines: 16}, receipt: {columns: 32, lines: 32}}\n"
	s := resolve(t, []byte(y))
	if len(s.PANKey) != 32 || s.PANKey[31] != 0x1f {
		t.Errorf("pan_key_file not read: %x", s.PANKey)
	}
	if k := s.Gateway.Partners[0].MACKey; len(k) != 16 || k[0] != 0x01 || k[15] != 0x10 {
		t.Errorf("mac_key_file not read: %x", k)
	}

	// Errors name the key and never show a file's content.
	os.WriteFile(mac, []byte("SECRETSECRETSECRET\n"), 0o600)
	var bad Config
	Parse([]byte(y), &bad)
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "mac_key") || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("bad MAC key file: %v", err)
	}
	var both Config
	Parse([]byte("pan_key: 00112233445566778899aabbccddeeff\npan_key_file: "+pan+"\n"), &both)
	if err := both.Validate(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("pan_key and pan_key_file together: %v", err)
	}
	var missing Config
	Parse([]byte("pan_key_file: "+filepath.Join(dir, "none")+"\n"), &missing)
	if err := missing.Validate(); err == nil || !strings.Contains(err.Error(), "pan_key_file") {
		t.Errorf("missing key file: %v", err)
	}
}

// TestConsentTimeout: consent_timeout reaches the gateway's Options.
func TestConsentTimeout(t *testing.T) {
	s := resolve(t, []byte("consent_timeout: 750ms\n"))
	if s.Gateway.ConsentTimeout != 750*time.Millisecond {
		t.Errorf("consent_timeout 750ms gave %v", s.Gateway.ConsentTimeout)
	}
}

func TestCardStateWorkers(t *testing.T) {
	s := resolve(t, []byte("card_state: {workers: 1, max_batch: 64}\n"))
	if o := s.CardState.Options; o.Workers != 1 || o.MaxBatch != 64 {
		t.Errorf("card_state: want workers 1, max_batch 64, got %d, %d", o.Workers, o.MaxBatch)
	}
}
