package config

import (
	"strings"
	"testing"

	"github.com/bli/atmgw/configs"
)

func TestExampleConfigIsValid(t *testing.T) {
	var c Config
	if err := Parse(configs.Example, &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Partners) != 6 {
		t.Fatalf("want the six partners, got %d", len(c.Partners))
	}
	inst := map[string]bool{}
	for _, p := range c.Partners {
		inst[p.Institution] = true
		if len(p.Networks) == 0 {
			t.Errorf("%s: no networks", p.Institution)
		}
	}
	for _, want := range []string{"005", "007", "012", "808", "812", "700"} {
		if !inst[want] {
			t.Errorf("partner %s missing", want)
		}
	}
	if c.Partners[4].Institution != "812" || len(c.Partners[4].Key) != 16 {
		t.Errorf("812 should carry a 16-byte MAC key")
	}
	if *c.CardRate.Inquiries != 10 || c.DatabaseURL != "" {
		t.Errorf("unexpected defaults: rate %d url %q", *c.CardRate.Inquiries, c.DatabaseURL)
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
	var c Config
	if err := Parse(nil, &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || *c.CardRate.Inquiries != DefaultRateInquiries {
		t.Fatalf("defaults not applied: %+v", c)
	}
}
