package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/limits"
)

// Settings is a configuration resolved: what internal/app builds a gateway
// from. Every value is the one in force (a key the file left out holds the
// default of the package that owns it), the key files are read, the
// networks parsed, the profiles built and the auto modes decided. The
// YAML structs (Config) stay as the file said; nothing writes into them.
//
// Where a package's Options take "negative: off", Settings holds a
// negative value: the file's 0 for "off" (card_rate.inquiries,
// ledger.queue) is translated here, once.
type Settings struct {
	Listen      string // the plain TCP listener
	TLS         TLS    // the TLS listener (Listen "": none); MinVersion filled
	AdminListen string // /metrics, /healthz, /readyz ("": none)
	DatabaseURL string // the primary ("": the embedded demo ledger)
	LogLevel    string // debug, info, warn or error
	PANKey      []byte // keys the PAN hash (DemoPANKey when the file gives none)

	// Gateway holds the partners, the profile book, the timeouts and the
	// caps; internal/app adds the store, hasher, card state, logger,
	// metrics and auditor.
	Gateway   gateway.Options
	Ledger    LedgerSettings
	Audit     AuditSettings
	CardState CardStateSettings
}

// Resolve checks every key of the file and returns the configuration in
// force. The error names every key at fault (never a key file's content,
// nor a URL's password).
func (c *Config) Resolve() (*Settings, error) {
	var p problems
	s := &Settings{
		Listen:      or(c.Listen, DefaultListen),
		TLS:         c.TLS,
		AdminListen: c.AdminListen,
		DatabaseURL: c.DatabaseURL,
		LogLevel:    or(c.LogLevel, DefaultLogLevel),
	}
	p.checkListen(s.Listen, s.AdminListen)
	p.checkLogLevel(s.LogLevel)
	s.PANKey = c.panKey(&p)
	if s.TLS.Listen != "" {
		s.TLS.MinVersion = or(s.TLS.MinVersion, DefaultTLSMinVersion)
	}
	p.add(s.TLS.validate()...)
	s.Gateway = c.gateway(&p)
	s.Ledger = c.Ledger.resolve(&p)
	s.CardState = c.CardState.resolve(&p, c.DatabaseURL, c.cardRules(&p))
	s.Audit = c.Audit.resolve(&p, c.DatabaseURL)
	if err := p.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate reports what Resolve would refuse.
func (c *Config) Validate() error {
	_, err := c.Resolve()
	return err
}

// problems gathers the errors of a file, each naming its key.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }
func (p *problems) add(errs ...string)              { *p = append(*p, errs...) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// or is v, or def when v is empty.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (p *problems) checkListen(listen, admin string) {
	if _, err := netip.ParseAddrPort(listen); err != nil && !strings.HasPrefix(listen, ":") && !strings.Contains(listen, "localhost") {
		p.addf("listen: %q is not host:port", listen)
	}
	if admin != "" && admin == listen && !strings.HasSuffix(listen, ":0") { // port 0: each takes a free port
		p.addf("admin_listen: must differ from listen")
	}
}

func (p *problems) checkLogLevel(level string) {
	switch level {
	case "debug", "info", "warn", "error":
	default:
		p.addf("log_level: %q is not one of debug, info, warn, error", level)
	}
}

// panKey is the key of the PAN hash: pan_key, or the content of
// pan_key_file, or the public DemoPANKey when neither is given.
func (c *Config) panKey(p *problems) []byte {
	v, ok := p.keyValue("", "pan_key", c.PANKey, c.PANKeyFile)
	if !ok {
		return nil
	}
	if v == "" {
		v = DemoPANKey
	}
	k, err := hex.DecodeString(v)
	if err != nil || len(k) < 16 {
		p.addf("pan_key: want at least 16 bytes as hex digits")
		return nil
	}
	return k
}

// gateway is the gateway's options of the file: partners and profiles,
// timeouts and caps.
func (c *Config) gateway(p *problems) gateway.Options {
	if c.MaxInFlight < 0 {
		p.addf("max_in_flight: must be at least 1")
	}
	if c.MaxConns < 0 || c.MaxConnsPartner < 0 {
		p.addf("max_conns, max_conns_per_partner: must be positive")
	}
	if c.MaxUnboundPerAddress < 0 {
		p.addf("max_unbound_per_address: must be positive")
	}
	partners, book := c.partners(p)
	return gateway.Options{
		Partners:             partners,
		Profiles:             book,
		IdleTimeout:          or(time.Duration(c.IdleTimeout), gateway.DefaultIdleTimeout),
		MaxInFlight:          or(c.MaxInFlight, gateway.DefaultMaxInFlight),
		FrameTimeout:         or(time.Duration(c.FrameTimeout), gateway.DefaultFrameTimeout),
		MaxConns:             or(c.MaxConns, gateway.DefaultMaxConns),
		MaxConnsPerPartner:   or(c.MaxConnsPartner, gateway.DefaultMaxConnsPartner),
		SignOnDeadline:       or(time.Duration(c.SignOnDeadline), gateway.DefaultSignOnDeadline),
		AdmitStrangers:       c.RejectStrangers != nil && !*c.RejectStrangers,
		MaxUnboundPerAddress: or(c.MaxUnboundPerAddress, gateway.DefaultMaxUnboundAddr),
		ConsentTimeout:       or(time.Duration(c.ConsentTimeout), gateway.DefaultConsentTimeout),
	}
}

// partners checks the partners and builds the gateway's partners and the
// profile book (a profile too small for six rows and the totals is
// refused here).
func (c *Config) partners(p *problems) ([]gateway.Partner, *limits.Book) {
	var out []gateway.Partner
	book := limits.NewBook()
	seen := map[string]bool{}
	for i := range c.Partners {
		cp := &c.Partners[i]
		where := fmt.Sprintf("partners[%d]", i)
		if !institutionRE.MatchString(cp.Institution) {
			p.addf("%s.institution: %q is not 1 to 11 digits", where, cp.Institution)
		} else {
			where = fmt.Sprintf("partners[%d] (%s)", i, cp.Institution)
		}
		if seen[cp.Institution] {
			p.addf("%s: institution listed twice", where)
		}
		seen[cp.Institution] = true
		gp := gateway.Partner{Institution: cp.Institution, Name: cp.Name, CertNames: cp.CertNames,
			Allow: cp.networks(p, where), MACKey: cp.macKey(p, where)}
		if cp.Screen == (Profile{}) || cp.Receipt == (Profile{}) {
			p.addf("%s: screen and receipt profiles ({columns, lines}) are required", where)
		} else if err := book.Add(cp.Institution, "", cp.pair()); err != nil {
			p.add(oneLine(err))
		}
		for j, t := range cp.Terminals {
			if t.Prefix == "" {
				p.addf("%s.terminals[%d].prefix: empty", where, j)
			} else if err := book.Add(cp.Institution, t.Prefix, t.pair()); err != nil {
				p.add(oneLine(err))
			}
		}
		out = append(out, gp)
	}
	return out, book
}

// networks parses a partner's allow list (an address is a network of one).
func (cp *Partner) networks(p *problems, where string) []netip.Prefix {
	if len(cp.Allow) == 0 {
		p.addf("%s.allow: list the source networks allowed to sign on (e.g. 127.0.0.0/8)", where)
	}
	var nets []netip.Prefix
	for _, a := range cp.Allow {
		pfx, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				p.addf("%s.allow: %q is not a network (like 10.1.0.0/16) or address", where, a)
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		nets = append(nets, pfx.Masked())
	}
	return nets
}

// macKey is a partner's MAC key: mac_key or the content of mac_key_file
// (nil: no MAC).
func (cp *Partner) macKey(p *problems, where string) []byte {
	v, ok := p.keyValue(where+".", "mac_key", cp.MACKey, cp.MACKeyFile)
	if !ok {
		return nil
	}
	if v == "" {
		return nil
	}
	k, err := hex.DecodeString(v)
	if err != nil || len(k) != 16 || !hexRE.MatchString(v) {
		p.addf("%s.mac_key: want 16 bytes as 32 hex digits (a double-length DES key)", where)
		return nil
	}
	return k
}

func (cp *Partner) pair() limits.Pair { return pair(cp.Screen, cp.Receipt) }
func (t *Terminal) pair() limits.Pair { return pair(t.Screen, t.Receipt) }

func pair(screen, receipt Profile) limits.Pair {
	return limits.Pair{
		Screen:  limits.Profile{Columns: screen.Columns, Lines: screen.Lines},
		Receipt: limits.Profile{Columns: receipt.Columns, Lines: receipt.Lines},
	}
}

// oneLine joins the lines of a multi-line error (errors.Join) with "; ",
// so that the command prints one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// keyValue is a key given as the key `name` (inline) or in the file of
// `name`_file (file); where prefixes the key names in errors. ok is false
// when the file cannot be read (the problem is recorded).
func (p *problems) keyValue(where, name, inline, file string) (v string, ok bool) {
	if file == "" {
		return inline, true
	}
	if inline != "" {
		p.addf("%s%s_file: give %s or %s_file, not both", where, name, name, name)
	}
	f, err := readKeyFile(file)
	if err != nil {
		p.addf("%s%s_file: %v", where, name, err)
		return "", false
	}
	return f, true
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
