package gateway

import (
	"errors"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/limits"
)

// Partner is one institution that may sign on: a bank's ATM switch or the
// post office's kiosk network. Partners are configuration, not code.
type Partner struct {
	Institution string         // DE32 code
	Name        string         // for logs and receipts
	Allow       []netip.Prefix // source networks allowed to sign on as this partner
	MACKey      []byte         // 16-byte X9.19 key; nil: no MAC on this partner's 0200/0210
}

// allowed reports whether a source address may sign on as p.
func (p *Partner) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.Allow {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Options configure a Server. The zero value of each optional field is
// replaced by the default documented beside it.
type Options struct {
	Partners []Partner       // required: who may sign on
	Profiles *limits.Book    // required: screen and receipt profiles per institution and terminal prefix
	Store    ledger.Store    // required: the ledger (wrap it in ledger.Guard for deadlines and a breaker)
	Hasher   *card.PANHasher // required: keys the PAN hash the ledger is indexed by
	Logger   *zap.Logger     // default: zap.NewNop()

	// RateLimit is decision 15: at most RateLimit inquiries per card in
	// RateWindow. Default 10 in 10 minutes; a negative RateLimit turns it off.
	RateLimit  int
	RateWindow time.Duration

	IdleTimeout     time.Duration // default 5 minutes: a connection with no frame for this long is closed
	DuplicateWindow time.Duration // default 10 minutes: decision 7
	MaxInFlight     int           // default 64: requests of one connection being handled at once
	WriteTimeout    time.Duration // default 10s: a response that cannot be written in this time closes the connection
	MaxBadFrames    int           // default 3: unparseable frames in a row that close the connection

	// Now gives the time (default time.Now). Dates are taken in Taiwan time.
	Now func() time.Time
}

// Defaults.
const (
	DefaultRateLimit       = 10
	DefaultRateWindow      = 10 * time.Minute
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultMaxInFlight     = 64
	DefaultWriteTimeout    = 10 * time.Second
	DefaultMaxBadFrames    = 3
)

// Taipei is Taiwan's time zone (UTC+8, no daylight saving time).
var taipei = time.FixedZone("CST", 8*60*60)

func (o *Options) setDefaults() error {
	if o.Profiles == nil || o.Store == nil || o.Hasher == nil {
		return errors.New("gateway: Options need Profiles, Store and Hasher")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.RateWindow == 0 {
		o.RateWindow = DefaultRateWindow
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxBadFrames == 0 {
		o.MaxBadFrames = DefaultMaxBadFrames
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, p := range o.Partners {
		if len(p.MACKey) != 0 && len(p.MACKey) != 16 {
			return errors.New("gateway: partner " + p.Institution + ": MAC key must be 16 bytes")
		}
	}
	return nil
}
