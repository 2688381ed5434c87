package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cluster"
	"github.com/bli/atmgw/limits"
)

// Request is one frame as the handlers see it: the decoded message (partial
// when Err is set), the packed bytes (for the MAC), the decode error, and
// when the session read it (for the latency in the audit trail).
type Request struct {
	Msg   *iso.Message
	Raw   []byte
	Err   error
	Start time.Time
}

// Response is what a handler answers: the final message, which the edge
// packs and signs (iso.EncodeMAC) with MACKey (nil: unsigned) and writes.
// A nil Msg means no answer is written (a 0200 whose audit record could
// not be made durable).
type Response struct {
	Msg    *iso.Message
	MACKey []byte
	// Decision notes why the answer is what it is, for logs and tests
	// ("approved", "no consent", ...). Never holds card data.
	Decision string
	// PANHash is the keyed hash of a well-formed DE2 (for the audit trail).
	PANHash string
	// Close asks the session to close the connection once this answer is
	// written (a sign-on answered 05).
	Close bool
	// journaled: the answer's audit record is already durable, committed
	// with its card state check (ledger.Journaling).
	journaled bool
}

// Binder is the session's side of sign-on: Bind counts the connection as
// signed on as an institution (false: the partner is at its cap, and
// nothing changed); Unbind undoes it. The handler decides; the session
// keeps the counts.
type Binder interface {
	Bind(institution string) bool
	Unbind(institution string)
}

// Handler takes requests through the decisions of the partner interface
// and produces the final answer, audited. It needs no socket: tests call
// its methods. The state that decisions 7, 14 and 15 share across
// requests, connections, gateways and restarts is Options.CardState's.
type Handler struct {
	opts    *Options
	routing atomic.Pointer[routing] // partners and profiles; replaced whole by Reload
	authSeq atomic.Uint64
	// journal is Options.CardState when it can commit an answer's audit
	// record with its check and there is an Auditor; else nil.
	journal ledger.Journaling
}

// NewHandler builds the handler of a Server from validated options. It
// fills the defaults into opts and keeps it; the partners and profiles are
// read once (Reload replaces them).
func NewHandler(opts *Options) (*Handler, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	h := &Handler{opts: opts}
	if j, ok := opts.CardState.(ledger.Journaling); ok && opts.Auditor != nil {
		h.journal = j
	}
	if err := h.Reload(opts.Partners, opts.Profiles); err != nil {
		return nil, err
	}
	// Start DE38 references somewhere that differs between restarts.
	h.authSeq.Store(uint64(opts.Now().UnixNano()) % 1_000_000)
	return h, nil
}

// routing is what Reload replaces: who may sign on and the profiles.
type routing struct {
	partners map[string]*Partner
	profiles *limits.Book
}

// Reload replaces the partners and the profiles: every request from now
// on is decided under them (MAC key, profiles, the next sign-on's allowed
// networks and certificates). Server.Reload also closes the connections
// they would not admit; on the handler alone, a connection whose
// institution was removed is answered as not signed on.
func (h *Handler) Reload(partners []Partner, profiles *limits.Book) error {
	if profiles == nil {
		return errors.New("gateway: no profiles")
	}
	r := &routing{partners: make(map[string]*Partner, len(partners)), profiles: profiles}
	for i := range partners {
		p := partners[i] // a copy: the caller's slice may change
		if len(p.MACKey) != 0 && len(p.MACKey) != 16 {
			return fmt.Errorf("gateway: partner %s: MAC key must be 16 bytes", p.Institution)
		}
		if _, dup := r.partners[p.Institution]; dup {
			return fmt.Errorf("gateway: partner %s listed twice", p.Institution)
		}
		r.partners[p.Institution] = &p
	}
	h.routing.Store(r)
	return nil
}

// Welcome reports whether a source address lies in some partner's allowed
// networks (a connection from anywhere else is closed at once when
// Options.RejectStrangers is set).
func (h *Handler) Welcome(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range h.routing.Load().partners {
		if p.allowed(a) {
			return true
		}
	}
	return false
}

// Partner returns the configured partner of an institution code (nil: none).
func (h *Handler) Partner(institution string) *Partner {
	return h.routing.Load().partners[institution]
}

// NetworkManagement answers an 0800 (decisions 2 and 3 already passed for
// the MTI). current is the partner the connection is bound to (nil: not
// signed on); the returned partner is the binding after this request. b
// (nil: no caps) counts the connections signed on per institution: a
// sign-on over the partner's cap is answered 05. A sign-on answered 05
// asks the session to close the connection (Response.Close).
func (h *Handler) NetworkManagement(req *Request, current *Partner, peer Peer, b Binder) (Response, *Partner) {
	m := req.Msg
	resp := &iso.Message{
		MTI:              iso.MTINetworkResponse,
		TransmissionTime: m.TransmissionTime,
		STAN:             m.STAN,
		Institution:      m.Institution,
		NetworkCode:      m.NetworkCode,
	}
	if f := missing0800(m, req.Err); f != 0 {
		resp.Clear(f)
		resp.ResponseCode = iso.RCFormatError
		return Response{Msg: resp, Decision: fmt.Sprintf("DE%d missing or malformed", f)}, current
	}
	switch m.NetworkCode {
	case iso.NetSignOn:
		refuse := func(why string) (Response, *Partner) {
			resp.ResponseCode = iso.RCDoNotHonour
			return Response{Msg: resp, Decision: "sign-on: " + why, Close: true}, current
		}
		p := h.Partner(m.Institution)
		if why := h.refusal(p, peer); why != admitted {
			return refuse(why.String())
		}
		switch {
		case current != nil && current.Institution != p.Institution:
			// One connection belongs to one institution.
			return refuse("connection bound to another institution")
		case current == nil && b != nil && !b.Bind(p.Institution):
			h.opts.Metrics.refused("partner")
			return refuse("too many connections of this partner")
		}
		resp.ResponseCode = iso.RCApproved
		return Response{Msg: resp, Decision: "signed on"}, p
	case iso.NetSignOff:
		if current != nil && b != nil {
			b.Unbind(current.Institution)
		}
		resp.ResponseCode = iso.RCApproved
		return Response{Msg: resp, Decision: "signed off"}, nil
	case iso.NetEcho:
		resp.ResponseCode = iso.RCApproved
		return Response{Msg: resp, Decision: "echo"}, current
	}
	resp.ResponseCode = iso.RCInvalidTransaction
	return Response{Msg: resp, Decision: "unknown network management code"}, current
}

// refusal is why a peer may not be bound to partner p ("": it may): the
// one rule that a sign-on and a reload (Server.Reload, for the connections
// already bound) apply.
func (h *Handler) refusal(p *Partner, peer Peer) refusal {
	switch {
	case p == nil:
		return refusedUnknownInstitution
	case !peer.Addr.IsValid() || !p.allowed(peer.Addr):
		return refusedAddress
	case len(p.CertNames) > 0 && !peer.hasCertName(p.CertNames):
		return refusedCertificate
	case h.certBoundElsewhere(peer, p):
		return refusedCertElsewhere
	}
	return admitted
}

// refusal is why a peer may not be bound to a partner (admitted: it may).
// Its String is the sign-on's decision ("sign-on: " and it) and, after
// "reload: ", the close reason of a connection a reload no longer admits.
type refusal int

const (
	admitted refusal = iota
	refusedUnknownInstitution
	refusedAddress
	refusedCertificate
	refusedCertElsewhere
)

func (r refusal) String() string {
	switch r {
	case admitted:
		return ""
	case refusedUnknownInstitution:
		return "unknown institution"
	case refusedAddress:
		return "source address not allowed"
	case refusedCertificate:
		return "no client certificate of this partner"
	case refusedCertElsewhere:
		return "client certificate bound to another partner"
	}
	return "refusal " + strconv.Itoa(int(r))
}

// reloadReason is the close reason of a connection a reload no longer
// admits for r (closedUnknown when admitted: it stays).
func (r refusal) reloadReason() closeReason {
	switch r {
	case refusedUnknownInstitution:
		return closedReloadUnknownInstitution
	case refusedAddress:
		return closedReloadAddress
	case refusedCertificate:
		return closedReloadCertificate
	case refusedCertElsewhere:
		return closedReloadCertElsewhere
	}
	return closedUnknown
}

// Partners is the number of partners configured now.
func (h *Handler) Partners() int { return len(h.routing.Load().partners) }

// certBoundElsewhere reports whether the peer's certificate is bound to a
// partner other than p.
func (h *Handler) certBoundElsewhere(peer Peer, p *Partner) bool {
	if len(peer.CertNames) == 0 {
		return false
	}
	for _, o := range h.routing.Load().partners {
		if o != p && len(o.CertNames) > 0 && peer.hasCertName(o.CertNames) {
			return true
		}
	}
	return false
}

// WrongMTI answers decision 2: a request MTI other than 0800, 0200 or 0302. The
// second result is false when the MTI is itself a response (odd third
// digit, e.g. 0210): that gets no answer, so that two peers never bounce
// responses back and forth.
func (h *Handler) WrongMTI(req *Request, current *Partner) (Response, bool) {
	m := req.Msg
	mti, ok := iso.ResponseMTI(m.MTI)
	if !ok {
		return Response{}, false
	}
	resp := &iso.Message{MTI: mti, STAN: m.STAN, TransmissionTime: m.TransmissionTime,
		Institution: m.Institution, TerminalID: m.TerminalID, ResponseCode: iso.RCInvalidTransaction}
	return Response{Msg: resp, Decision: "request MTI not 0800/0200/0302"}, true
}

// Inquiry takes an 0200 through decisions 3 to 17 and returns the final
// answer, its audit record durable (Options.Auditor) before it returns. p
// is the partner the connection is bound to (nil when not signed on).
//
// The order of the contract holds for every answer, while the database is
// asked at most twice: the ledger (a replica) for decisions 11 to 13 and
// 16, then the card state (the primary) for 7, 14 and 15 in one step.
// Decision 7 is thus asked after 8 to 13 have been worked out, but it
// still wins over them: a duplicate is answered 94 whatever they say, and
// a request declined at 8 to 13 consumes no ATC and no rate. The ledger
// read has no effect, so asking it first changes no answer. When the card
// state is ledger.Journaling and there is an auditor, the answer's audit
// record goes with the card state check (its response code by verdict:
// settle's), one commit for both; otherwise the Auditor writes it after.
func (h *Handler) Inquiry(ctx context.Context, req *Request, p *Partner) Response {
	return h.audited(ctx, req, h.decide(ctx, req, p))
}

// Request answers an 0200 (Inquiry) or an 0302 (FileUpdate): the requests
// a connection handles concurrently.
func (h *Handler) Request(ctx context.Context, req *Request, p *Partner) Response {
	if req.Msg.MTI == iso.MTIFileUpdate {
		return h.FileUpdate(ctx, req, p)
	}
	return h.Inquiry(ctx, req, p)
}

// Unavailable answers an 0200 (or an 0302) with 91, audited: the answer
// when handling the request failed (a recovered panic).
func (h *Handler) Unavailable(ctx context.Context, req *Request, p *Partner, why string) Response {
	if req.Msg.MTI == iso.MTIFileUpdate {
		return h.audited(ctx, req, h.fileAnswer(req, p).answer(iso.RCUnavailable, why))
	}
	a := h.answer(req, p)
	return h.audited(ctx, req, a.decline(iso.RCUnavailable, textUnavailable, why))
}

// inquiryAnswer builds the 0210 of one request.
type inquiryAnswer struct {
	h    *Handler
	req  *iso.Message
	p    *Partner
	resp *iso.Message
	key  []byte
	hash string
}

func (h *Handler) answer(req *Request, p *Partner) *inquiryAnswer {
	m := req.Msg
	a := &inquiryAnswer{h: h, req: m, p: p, resp: &iso.Message{
		MTI:              iso.MTIFinancialResponse,
		PAN:              m.PAN,
		ProcessingCode:   m.ProcessingCode,
		TransmissionTime: m.TransmissionTime,
		STAN:             m.STAN,
		LocalTime:        m.LocalTime,
		LocalDate:        m.LocalDate,
		Institution:      m.Institution,
		RRN:              m.RRN,
		TerminalID:       m.TerminalID,
	}}
	if p != nil {
		a.key = p.MACKey
	}
	return a
}

func (a *inquiryAnswer) decline(rc, text, why string) Response {
	a.resp.ResponseCode = rc
	a.resp.Screen = limits.Message(a.h.profile(a.req.Institution, a.req.TerminalID, a.p).Screen, text)
	return Response{Msg: a.resp, MACKey: a.key, Decision: why, PANHash: a.hash}
}

// pending is a decline of decisions 8 to 13 or 16, held until decision 7
// (which comes first) is known.
type pending struct {
	rc, text, why string
}

func (h *Handler) decide(ctx context.Context, req *Request, p *Partner) Response {
	m := req.Msg
	now := h.opts.Now().In(taipei)
	a := h.answer(req, p)

	// 3. Mandatory field missing or malformed (DE55 included).
	f, icc := h.check0200(m, req.Err, now)
	if f != 2 && m.PAN != "" {
		a.hash = h.opts.Hasher.Hash(m.PAN)
	}
	if f != 0 {
		a.resp.Clear(f)
		return a.decline(iso.RCFormatError, textFormat, fmt.Sprintf("DE%d missing or malformed", f))
	}
	// 4. Not signed on.
	if p == nil {
		return a.decline(iso.RCUnavailable, textNotSignedOn, "not signed on")
	}
	// 5. DE32 is not the institution this connection belongs to.
	if m.Institution != p.Institution {
		return a.decline(iso.RCNotPermittedTerminal, textInstitution, "DE32 differs from the signed-on institution")
	}
	// 6. MAC missing or wrong.
	if a.key != nil {
		if len(m.MAC) == 0 {
			return a.decline(iso.RCSecurityViolation, textMAC, "MAC missing")
		}
		if err := iso.VerifyMAC(req.Raw, a.key); err != nil {
			return a.decline(iso.RCSecurityViolation, textMAC, "MAC wrong")
		}
	}
	// 8 to 13 and 16, held until 7 is known.
	svc, ans, held := h.consult(ctx, m, p, a.hash, now)
	// 7, 14, 15: the card state, in one step; with the answer's audit
	// record when the card state can commit it in the same transaction.
	check := ledger.CardCheck{
		Key:     m.Institution + "|" + m.TerminalID + "|" + m.STAN + "|" + m.TransmissionTime,
		Card:    held == nil,
		PANHash: a.hash,
		ATC:     icc.ATC,
		Now:     now,
	}
	var v ledger.CardVerdict
	var journaled bool
	var err error
	if h.journal != nil {
		accepted := iso.RCApproved
		if held != nil {
			accepted = held.rc
		}
		v, journaled, err = h.journal.CheckJournaled(ctx, check, &ledger.Journal{
			Record: h.record(req, a.hash, ""),
			Codes:  [...]string{accepted, iso.RCDuplicate, iso.RCSecurityViolation, iso.RCFrequencyLimit},
		})
	} else {
		v, err = h.opts.CardState.Check(ctx, check)
	}
	if err != nil {
		// Counted and logged once per outage by the card state itself.
		h.opts.Logger.Debug("card state unavailable", zap.String("stan", m.STAN), zap.String("institution", m.Institution), zap.Error(err))
		return a.decline(iso.RCUnavailable, textUnavailable, "card state unavailable")
	}
	resp := h.settle(a, svc, ans, held, v, now)
	resp.journaled = journaled
	return resp
}

// settle is the answer once the card state's verdict v is known: decision
// 7, then what decisions 8 to 13 and 16 held, then 14, 15 and 17. Its
// response code is the one decide gave the card state for v.
func (h *Handler) settle(a *inquiryAnswer, svc card.Service, ans ledger.Answer, held *pending, v ledger.CardVerdict, now time.Time) Response {
	m, p := a.req, a.p
	if v == ledger.CardDuplicate {
		return a.decline(iso.RCDuplicate, textDuplicate, "duplicate DE32+DE41+DE11+DE7")
	}
	if held != nil {
		return a.decline(held.rc, held.text, held.why)
	}
	switch v {
	case ledger.CardReplayed:
		return a.decline(iso.RCSecurityViolation, textATC, "ATC not above the highest accepted")
	case ledger.CardOverRate:
		return a.decline(iso.RCFrequencyLimit, textRate, "over the per-card rate")
	}
	// 17. Approved.
	pair := h.profile(m.Institution, m.TerminalID, p)
	in := limits.Inquiry{
		Service:         svc,
		Name:            ans.Person.Name,
		Institution:     p.Institution,
		InstitutionName: p.Name,
		Terminal:        m.TerminalID,
		RRN:             m.RRN,
		PANLast4:        card.PANLast4(m.PAN),
		Time:            now,
		Pension:         ans.Pension,
		Insurance:       ans.Insurance,
	}
	resp := a.resp
	resp.ResponseCode = iso.RCApproved
	resp.AuthID = h.nextAuthID()
	if svc == card.ServicePension {
		resp.AdditionalAmounts = iso.FormatAmounts(ans.Pension.Contributions, ans.Pension.Earnings)
	}
	resp.Screen = limits.Screen(pair.Screen, in)
	resp.Statement = limits.Statement(in)
	resp.Receipt = limits.Receipt(pair.Receipt, in)
	return Response{Msg: resp, MACKey: a.key, Decision: "approved", PANHash: a.hash}
}

// consult works out decisions 8 to 13 and 16: the service asked, and the
// first decision that declines (nil: none, and the answer holds the person
// and the statement).
func (h *Handler) consult(ctx context.Context, m *iso.Message, p *Partner, hash string, now time.Time) (card.Service, ledger.Answer, *pending) {
	// 8. Unknown processing code.
	svc := iso.ServiceOf(m.ProcessingCode)
	if svc == 0 {
		return svc, ledger.Answer{}, &pending{iso.RCInvalidTransaction, textUnknownService, "unknown processing code"}
	}
	// 9. Not chip.
	if !isChip(m.EntryMode) {
		return svc, ledger.Answer{}, &pending{iso.RCNotPermittedCardholder, textNotChip, "DE22 not chip"}
	}
	// 10. Card expired.
	if err := card.CheckExpiry(m.Expiry, now); err != nil {
		return svc, ledger.Answer{}, &pending{iso.RCExpiredCard, textExpired, "card expired"}
	}
	// 11-13 need the consent record and the insured person; 16 the statement.
	ans, err := h.opts.Store.Inquire(ctx, ledger.Query{Institution: p.Institution, PANHash: hash, Service: svc})
	if err != nil {
		// Shed and breaker-refused calls are counted (atmgw_ledger_*) and
		// the breaker logs its changes: a line each would flood the log
		// exactly when the gateway is under overload.
		lvl := zap.WarnLevel
		if errors.Is(err, cluster.ErrShed) || errors.Is(err, cluster.ErrBreakerOpen) {
			lvl = zap.DebugLevel
		}
		h.opts.Logger.Log(lvl, "ledger unavailable", zap.String("stan", m.STAN), zap.String("institution", m.Institution), zap.Error(err))
		return svc, ans, &pending{iso.RCUnavailable, textUnavailable, "ledger unavailable"}
	}
	if err := card.Validate(p.Institution, ans.Consent, ans.Person, svc); err != nil {
		switch {
		case errors.Is(err, card.ErrNoConsent):
			return svc, ans, &pending{iso.RCNoConsent, textNoConsent, "no consent"}
		case errors.Is(err, card.ErrRevoked):
			return svc, ans, &pending{iso.RCNotPermittedCardholder, textRevoked, "consent revoked"}
		case errors.Is(err, card.ErrServiceNotConsented):
			return svc, ans, &pending{iso.RCNotPermittedCardholder, textNotConsented, "service not consented"}
		default:
			return svc, ans, &pending{iso.RCRecordMismatch, textMismatch, "personal data mismatch"}
		}
	}
	// 16. The statement itself.
	if (svc == card.ServicePension && ans.Pension == nil) || (svc == card.ServiceInsurance && ans.Insurance == nil) {
		return svc, ans, &pending{iso.RCUnavailable, textUnavailable, "ledger returned no statement"}
	}
	return svc, ans, nil
}

// audited makes the answer's audit record durable before the answer may
// leave. When it cannot be (neither the database nor the local spool took
// it), nothing is answered: the gateway never discloses what it cannot
// account for, and the partner's switch times the request out. Counted
// and logged.
func (h *Handler) audited(ctx context.Context, req *Request, resp Response) Response {
	aud := h.opts.Auditor
	if aud == nil || resp.Msg == nil || resp.journaled {
		return resp
	}
	m := req.Msg
	err := aud.Audit(ctx, h.record(req, resp.PANHash, resp.Msg.ResponseCode))
	if err != nil {
		h.opts.Metrics.withheld()
		h.opts.Logger.Error("audit record not durable: answer withheld", zap.String("stan", m.STAN),
			zap.String("institution", m.Institution), zap.String("rc", resp.Msg.ResponseCode), zap.Error(err))
		return Response{Decision: "withheld: audit record not durable (" + resp.Decision + ")", PANHash: resp.PANHash}
	}
	return resp
}

// record is the audit record of req's answer, as of now.
func (h *Handler) record(req *Request, panHash, rc string) audit.Record {
	m := req.Msg
	return audit.Record{
		Time: h.opts.Now(), Institution: m.Institution, Terminal: m.TerminalID, STAN: m.STAN, RRN: m.RRN,
		Service: serviceLabel(m), PANHash: panHash, ResponseCode: rc, Latency: since(req.Start),
	}
}

func since(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return time.Since(t)
}

// profile finds the screen and receipt profiles for a response. Without a
// bound partner it uses DE32's partner, and failing that the book's default.
func (h *Handler) profile(institution, terminal string, p *Partner) limits.Pair {
	if p != nil {
		institution = p.Institution
	}
	pair, _ := h.routing.Load().profiles.Lookup(institution, terminal)
	return pair
}

// nextAuthID gives DE38, the inquiry reference of an approved answer: six
// characters, unique in this process for the next 2 billion answers.
func (h *Handler) nextAuthID() string {
	n := h.authSeq.Add(1) % (36 * 36 * 36 * 36 * 36 * 36)
	s := strconv.FormatUint(n, 36)
	const zeros = "000000"
	return toUpper(zeros[:6-len(s)] + s)
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func isChip(entryMode string) bool {
	return len(entryMode) == 3 && entryMode[0] == '0' && entryMode[1] == '5'
}

// check0200 is decision 3 for an 0200: it returns the number of the first
// mandatory field missing or malformed (0: none) and the parsed chip data.
func (h *Handler) check0200(m *iso.Message, decodeErr error, now time.Time) (int, card.ICC) {
	if f := fieldOf(decodeErr); f != 0 {
		return f, card.ICC{}
	}
	if f := onlyFileUpdate(m); f != 0 {
		return f, card.ICC{}
	}
	if decodeErr != nil {
		return 1, card.ICC{} // structural problem after MTI and DE11 were recovered
	}
	switch {
	case m.PAN == "":
		return 2, card.ICC{}
	case m.ProcessingCode == "":
		return 3, card.ICC{}
	case !validDateTime(m.TransmissionTime):
		return 7, card.ICC{}
	case m.STAN == "":
		return 11, card.ICC{}
	case !validTime(m.LocalTime):
		return 12, card.ICC{}
	case !validMMDD(m.LocalDate):
		return 13, card.ICC{}
	case !validExpiry(m.Expiry):
		return 14, card.ICC{}
	case m.EntryMode == "":
		return 22, card.ICC{}
	case m.Institution == "":
		return 32, card.ICC{}
	case m.RRN == "":
		return 37, card.ICC{}
	case m.TerminalID == "":
		return 41, card.ICC{}
	}
	if !isChip(m.EntryMode) {
		return 0, card.ICC{} // DE55 is mandatory only for chip; decision 9 answers the rest
	}
	if len(m.ICC) == 0 {
		return 55, card.ICC{}
	}
	icc, err := card.ParseICC(m.ICC, m.CardSequence)
	if err != nil {
		return 55, card.ICC{}
	}
	return 0, icc
}

// missing0800 is decision 3 for an 0800.
func missing0800(m *iso.Message, decodeErr error) int {
	if f := fieldOf(decodeErr); f != 0 {
		return f
	}
	if f := onlyFileUpdate(m); f != 0 {
		return f
	}
	switch {
	case decodeErr != nil:
		return 1
	case !validDateTime(m.TransmissionTime):
		return 7
	case m.STAN == "":
		return 11
	case m.Institution == "":
		return 32
	case m.NetworkCode == "":
		return 70
	}
	return 0
}

func fieldOf(err error) int {
	if err == nil {
		return 0
	}
	var fe *iso.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return 0
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func num(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func validMMDD(s string) bool {
	if !digits(s, 4) {
		return false
	}
	mm, dd := num(s[:2]), num(s[2:])
	return mm >= 1 && mm <= 12 && dd >= 1 && dd <= 31
}

func validTime(s string) bool {
	return digits(s, 6) && num(s[:2]) < 24 && num(s[2:4]) < 60 && num(s[4:]) < 60
}

func validDateTime(s string) bool {
	return len(s) == 10 && validMMDD(s[:4]) && validTime(s[4:])
}

func validExpiry(s string) bool {
	return digits(s, 4) && num(s[2:]) >= 1 && num(s[2:]) <= 12
}
