// Package config reads the gateway's YAML configuration file (every key in
// configs/atmgw.example.yaml, docs/operations.md section 2) and resolves it. Two types, one per side:
//
//   - Config is the file as written (Parse, Load); cmd/atmgw applies the
//     environment and flag overrides to it. Nothing writes derived values
//     into it.
//   - Settings is the configuration in force (Config.Resolve): every key
//     checked, key files read, networks parsed, profiles built, auto modes
//     decided, and each value left out filled with the default of the
//     package that owns it (gateway, ledger, cluster, postgres, audit),
//     held in that package's own Options types. internal/app builds the
//     gateway from it and nothing else.
//
// Off is 0 in the file (card_rate.inquiries, ledger.queue); the packages'
// Options take 0 as "the default" and a negative value as "off", and
// Resolve translates. Unknown keys are an error, so that a typo does not
// silently fall back to a default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "10m", "300ms" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration like 10m or 300ms", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (like 10m or 300ms)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Profile is a screen or receipt size.
type Profile struct {
	Columns int `yaml:"columns"`
	Lines   int `yaml:"lines"`
}

// Terminal overrides a partner's profiles for terminal ids with a prefix.
type Terminal struct {
	Prefix  string  `yaml:"prefix"`
	Screen  Profile `yaml:"screen"`
	Receipt Profile `yaml:"receipt"`
}

// Partner is one institution allowed to sign on.
type Partner struct {
	Institution string     `yaml:"institution"`
	Name        string     `yaml:"name"`
	Allow       []string   `yaml:"allow"`
	MACKey      string     `yaml:"mac_key"`
	MACKeyFile  string     `yaml:"mac_key_file"` // a file holding the key in hex (instead of mac_key)
	CertNames   []string   `yaml:"cert_names"`   // client-certificate names bound to this partner (TLS)
	Screen      Profile    `yaml:"screen"`
	Receipt     Profile    `yaml:"receipt"`
	Terminals   []Terminal `yaml:"terminals"`
}

// CardRate is decision 15: at most Inquiries per card in Window; 0 turns it off.
type CardRate struct {
	Inquiries *int     `yaml:"inquiries"`
	Window    Duration `yaml:"window"`
}

// TLS is the optional TLS listener.
type TLS struct {
	Listen       string `yaml:"listen"`         // address of the TLS listener ("" : none)
	CertFile     string `yaml:"cert_file"`      // the gateway's certificate chain (PEM)
	KeyFile      string `yaml:"key_file"`       // its private key (PEM)
	ClientCAFile string `yaml:"client_ca_file"` // the partner CA that client certificates must chain to (PEM)
	MinVersion   string `yaml:"min_version"`    // "1.2" (default) or "1.3"
}

// Config is the whole file.
type Config struct {
	Listen          string    `yaml:"listen"`
	TLS             TLS       `yaml:"tls"`
	AdminListen     string    `yaml:"admin_listen"` // /metrics, /healthz, /readyz ("" : none)
	DatabaseURL     string    `yaml:"database_url"`
	PANKey          string    `yaml:"pan_key"`
	PANKeyFile      string    `yaml:"pan_key_file"` // a file holding pan_key in hex (instead of pan_key)
	LogLevel        string    `yaml:"log_level"`
	IdleTimeout     Duration  `yaml:"idle_timeout"`
	DuplicateWindow Duration  `yaml:"duplicate_window"`
	MaxInFlight     int       `yaml:"max_in_flight"` // per connection
	FrameTimeout    Duration  `yaml:"frame_timeout"` // a started frame must be complete within this
	MaxConns        int       `yaml:"max_conns"`     // open connections in total
	MaxConnsPartner int       `yaml:"max_conns_per_partner"`
	Partners        []Partner `yaml:"partners"`
	CardRate        CardRate  `yaml:"card_rate"`
	Ledger          Ledger    `yaml:"ledger"`
	Audit           Audit     `yaml:"audit"`
	CardState       CardState `yaml:"card_state"`

	// Connections that have not earned their place (see gateway.Options).
	SignOnDeadline       Duration `yaml:"sign_on_deadline"`        // an unbound connection must sign on within this (echoes do not extend it)
	RejectStrangers      *bool    `yaml:"reject_strangers"`        // close at once a connection from outside every partner's allow networks (default true)
	MaxUnboundPerAddress int      `yaml:"max_unbound_per_address"` // connections not signed on, per source address

	ConsentTimeout Duration `yaml:"consent_timeout"` // one consent registered online (0302) on the primary; past it 91
}

// Defaults of the keys that no package's Options owns. The others are
// the defaults of the package that owns them (gateway, ledger, cluster,
// postgres, audit): Resolve takes them from there.
const (
	DefaultListen        = "127.0.0.1:8583"
	DefaultLogLevel      = "info"
	DefaultTLSMinVersion = "1.2"
	// DemoPANKey keys the PAN hash of the embedded demo ledger when no
	// pan_key is configured. It is public: never use it with real data.
	DemoPANKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

// Load reads a file (Resolve checks it). An empty path gives the defaults (the
// demo setup: no partners unless the caller adds them).
func Load(path string) (*Config, error) {
	c := &Config{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := Parse(b, c); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	return c, nil
}

// Parse decodes YAML strictly into c.
func Parse(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: all defaults
		}
		return cleanYAMLError(err)
	}
	return nil
}

func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:;", "")
	msg = strings.ReplaceAll(msg, "in type config.", "in ")
	return errors.New(strings.TrimSpace(msg))
}

var (
	institutionRE = regexp.MustCompile(`^[0-9]{1,11}$`)
	hexRE         = regexp.MustCompile(`^[0-9A-Fa-f]*$`)
)

func (t *TLS) validate() []string {
	if t.Listen == "" {
		if t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != "" {
			return []string{"tls.listen: set it to use tls.cert_file, tls.key_file, tls.client_ca_file"}
		}
		return nil
	}
	var errs []string
	if t.CertFile == "" || t.KeyFile == "" {
		errs = append(errs, "tls: cert_file and key_file are required with tls.listen")
	}
	if t.ClientCAFile == "" {
		errs = append(errs, "tls.client_ca_file: required: partners authenticate with client certificates")
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		errs = append(errs, fmt.Sprintf("tls.min_version: %q is not 1.2 or 1.3", t.MinVersion))
	}
	return errs
}
