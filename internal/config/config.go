// Package config reads the gateway's YAML configuration file (contract
// section 7), applies the command-line and environment overrides, and turns
// it into the typed values the gateway is built from. Unknown keys are an
// error, so that a typo does not silently fall back to a default.
package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
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

	// Filled by Validate.
	Networks []netip.Prefix `yaml:"-"`
	Key      []byte         `yaml:"-"`
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

	// Filled by Validate.
	PANKeyBytes []byte `yaml:"-"`
}

// Defaults of the keys a file may leave out.
const (
	DefaultListen          = "127.0.0.1:8583"
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultRateInquiries   = 10
	DefaultRateWindow      = 10 * time.Minute
	DefaultMaxInFlight     = 64
	DefaultLogLevel        = "info"
	DefaultFrameTimeout    = 10 * time.Second
	DefaultMaxConnsTotal   = 1024
	DefaultMaxConnsPartner = 256
	// DefaultSignOnDeadline is how long a connection may stay unbound.
	DefaultSignOnDeadline = 30 * time.Second
	// DefaultMaxUnboundPerAddress caps the connections of one source
	// address that have not signed on.
	DefaultMaxUnboundPerAddress = 64
	// DemoPANKey keys the PAN hash of the embedded demo ledger when no
	// pan_key is configured. It is public: never use it with real data.
	DemoPANKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

// Load reads and validates a file. An empty path gives the defaults (the
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

// ApplyDefaults fills in every key the file left out.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = Duration(DefaultIdleTimeout)
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = Duration(DefaultDuplicateWindow)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.FrameTimeout == 0 {
		c.FrameTimeout = Duration(DefaultFrameTimeout)
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConnsTotal
	}
	if c.MaxConnsPartner == 0 {
		c.MaxConnsPartner = DefaultMaxConnsPartner
	}
	if c.TLS.Listen != "" && c.TLS.MinVersion == "" {
		c.TLS.MinVersion = "1.2"
	}
	if c.CardRate.Inquiries == nil {
		n := DefaultRateInquiries
		c.CardRate.Inquiries = &n
	}
	if c.CardRate.Window == 0 {
		c.CardRate.Window = Duration(DefaultRateWindow)
	}
	c.Ledger.applyDefaults()
	c.Audit.applyDefaults()
	c.CardState.applyDefaults()
	if c.SignOnDeadline == 0 {
		c.SignOnDeadline = Duration(DefaultSignOnDeadline)
	}
	if c.RejectStrangers == nil {
		v := true
		c.RejectStrangers = &v
	}
	if c.MaxUnboundPerAddress == 0 {
		c.MaxUnboundPerAddress = DefaultMaxUnboundPerAddress
	}
}

// Validate applies the defaults, checks every key and fills the derived
// fields (networks, keys). The error names the key at fault.
func (c *Config) Validate() error {
	c.ApplyDefaults()
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if _, err := netip.ParseAddrPort(c.Listen); err != nil && !strings.HasPrefix(c.Listen, ":") && !strings.Contains(c.Listen, "localhost") {
		bad("listen: %q is not host:port", c.Listen)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.PANKeyFile != "" {
		if c.PANKey != "" {
			bad("pan_key_file: give pan_key or pan_key_file, not both")
		}
		if v, err := readKeyFile(c.PANKeyFile); err != nil {
			bad("pan_key_file: %v", err)
		} else {
			c.PANKey = v
		}
	}
	if c.PANKey != "" {
		k, err := hex.DecodeString(c.PANKey)
		if err != nil || len(k) < 16 {
			bad("pan_key: want at least 16 bytes as hex digits")
		}
		c.PANKeyBytes = k
	}
	if *c.CardRate.Inquiries < 0 {
		bad("card_rate.inquiries: must be 0 (off) or more")
	}
	if c.MaxInFlight < 1 {
		bad("max_in_flight: must be at least 1")
	}
	if c.MaxConns < 0 || c.MaxConnsPartner < 0 {
		bad("max_conns, max_conns_per_partner: must be positive")
	}
	errs = append(errs, c.TLS.validate()...)
	if c.AdminListen != "" && c.AdminListen == c.Listen {
		bad("admin_listen: must differ from listen")
	}
	seen := map[string]bool{}
	for i := range c.Partners {
		p := &c.Partners[i]
		where := fmt.Sprintf("partners[%d]", i)
		if !institutionRE.MatchString(p.Institution) {
			bad("%s.institution: %q is not 1 to 11 digits", where, p.Institution)
		} else {
			where = fmt.Sprintf("partners[%d] (%s)", i, p.Institution)
		}
		if seen[p.Institution] {
			bad("%s: institution listed twice", where)
		}
		seen[p.Institution] = true
		if len(p.Allow) == 0 {
			bad("%s.allow: list the source networks allowed to sign on (e.g. 127.0.0.0/8)", where)
		}
		p.Networks = p.Networks[:0]
		for _, a := range p.Allow {
			pfx, err := netip.ParsePrefix(a)
			if err != nil {
				addr, aerr := netip.ParseAddr(a)
				if aerr != nil {
					bad("%s.allow: %q is not a network (like 10.1.0.0/16) or address", where, a)
					continue
				}
				pfx = netip.PrefixFrom(addr, addr.BitLen())
			}
			p.Networks = append(p.Networks, pfx.Masked())
		}
		if p.MACKeyFile != "" {
			if p.MACKey != "" {
				bad("%s.mac_key_file: give mac_key or mac_key_file, not both", where)
			}
			if v, err := readKeyFile(p.MACKeyFile); err != nil {
				bad("%s.mac_key_file: %v", where, err)
			} else {
				p.MACKey = v
			}
		}
		if p.MACKey != "" {
			k, err := hex.DecodeString(p.MACKey)
			if err != nil || len(k) != 16 || !hexRE.MatchString(p.MACKey) {
				bad("%s.mac_key: want 16 bytes as 32 hex digits (a double-length DES key)", where)
			}
			p.Key = k
		}
		if p.Screen == (Profile{}) || p.Receipt == (Profile{}) {
			bad("%s: screen and receipt profiles ({columns, lines}) are required", where)
		}
		for j, t := range p.Terminals {
			if t.Prefix == "" {
				bad("%s.terminals[%d].prefix: empty", where, j)
			}
		}
	}
	errs = append(errs, c.Ledger.validate()...)
	errs = append(errs, c.Audit.validate()...)
	errs = append(errs, c.CardState.validate(c.DatabaseURL)...)
	if c.MaxUnboundPerAddress < 0 {
		bad("max_unbound_per_address: must be positive")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// readKeyFile reads a key kept in a file (hex digits, surrounding space
// ignored). The error never holds the file's content.
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

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
