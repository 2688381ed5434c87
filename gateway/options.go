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
	// CertNames, when set, bind TLS client certificates to this partner:
	// a sign-on as this partner needs a TLS connection whose verified
	// client certificate carries one of these names (subject CN or a DNS
	// SAN), and a certificate carrying one of them can sign on as no other.
	CertNames []string
}

// Peer is what the gateway knows of the other end of a connection.
type Peer struct {
	Addr      netip.Addr // source address
	TLS       bool       // the connection is TLS with a verified client certificate
	CertNames []string   // subject CN and DNS SANs of the verified client certificate
}

// hasCertName reports whether the peer's certificate carries one of names.
func (p Peer) hasCertName(names []string) bool {
	for _, a := range p.CertNames {
		for _, b := range names {
			if a == b {
				return true
			}
		}
	}
	return false
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
	Store    ledger.Store    // required: the ledger (wrap it in cluster.Guard for deadlines and a breaker)
	Hasher   *card.PANHasher // required: keys the PAN hash the ledger is indexed by
	// CardState keeps decisions 7 (duplicate window), 14 (ATC) and 15
	// (per-card rate), and their windows and limit. Required: a
	// postgres.CardState shares them between gateways and restarts; a
	// ledger.MemoryCardState keeps them in this process.
	CardState ledger.CardState
	// Consents takes the consents registered online (0302): the primary
	// (postgres.Store) or the demo ledger. nil: every 0302 that passes
	// decisions 3 to 7 is answered 12.
	Consents ledger.ConsentRegistry
	// ConsentTimeout bounds one registration (default 3s; past it the
	// 0302 is answered 91).
	ConsentTimeout time.Duration
	Logger         *zap.Logger // default: zap.NewNop()

	IdleTimeout  time.Duration // default 5 minutes: a connection with no frame for this long is closed
	MaxInFlight  int           // default 64: requests of one connection being handled at once
	WriteTimeout time.Duration // default 10s: a response that cannot be written in this time closes the connection
	MaxBadFrames int           // default 3: unparseable frames in a row that close the connection
	// FrameTimeout bounds a frame once its first byte has arrived: a peer
	// that trickles a frame in (a byte a second) is cut off. Default 10s.
	FrameTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake of a TLS connection. Default 10s.
	HandshakeTimeout time.Duration
	// MaxConns caps the open connections in total (default 1024); one over
	// the cap is closed at once. MaxConnsPerPartner caps the connections
	// signed on as one institution (default 256); a sign-on over it is
	// answered 05. Negative: no cap.
	MaxConns           int
	MaxConnsPerPartner int
	// SignOnDeadline closes a connection that has not signed on this long
	// after it opened (or after its sign-off); echoes do not extend it.
	// Default 30s; negative: no deadline.
	SignOnDeadline time.Duration
	// AdmitStrangers keeps connections from addresses outside every
	// partner's allowed networks open until they fail to sign on (test
	// setups). By default they are closed at once.
	AdmitStrangers bool
	// MaxUnboundPerAddress caps the connections of one source address that
	// have not signed on (default 64); one more is closed at once.
	// Negative: no cap.
	MaxUnboundPerAddress int

	Metrics *Metrics // nil: no metrics
	Auditor Auditor  // nil: no audit trail

	// Now gives the time (default time.Now). Dates are taken in Taiwan time.
	Now func() time.Time
}

// Defaults.
const (
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultMaxInFlight     = 64
	DefaultWriteTimeout    = 10 * time.Second
	DefaultMaxBadFrames    = 3
	DefaultFrameTimeout    = 10 * time.Second
	DefaultHandshake       = 10 * time.Second
	DefaultMaxConns        = 1024
	DefaultMaxConnsPartner = 256
	DefaultSignOnDeadline  = 30 * time.Second
	DefaultMaxUnboundAddr  = 64
	DefaultConsentTimeout  = 3 * time.Second
)

// Taipei is Taiwan's time zone (UTC+8, no daylight saving time).
var taipei = time.FixedZone("CST", 8*60*60)

func (o *Options) setDefaults() error {
	if o.Profiles == nil || o.Store == nil || o.Hasher == nil || o.CardState == nil {
		return errors.New("gateway: Options need Profiles, Store, Hasher and CardState")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.ConsentTimeout == 0 {
		o.ConsentTimeout = DefaultConsentTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
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
	if o.FrameTimeout == 0 {
		o.FrameTimeout = DefaultFrameTimeout
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = DefaultHandshake
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxConnsPerPartner == 0 {
		o.MaxConnsPerPartner = DefaultMaxConnsPartner
	}
	if o.SignOnDeadline == 0 {
		o.SignOnDeadline = DefaultSignOnDeadline
	}
	if o.MaxUnboundPerAddress == 0 {
		o.MaxUnboundPerAddress = DefaultMaxUnboundAddr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}
