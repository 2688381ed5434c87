package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/limits"
)

// The 0302 of a consent registered online (docs/interface.md section 11).
const (
	// consentDataLen is DE120's length: national ID (10), birth date ROC
	// YYYMMDD (7), services (1: P, I or B), signed date ROC YYYMMDD (7).
	consentDataLen = 25
	// maxNameBytes bounds DE121, the name in Big5 bytes.
	maxNameBytes = 60
)

// onlyFileUpdate is the first field present in m that only an 0302 or an
// 0312 carries (0: none). Before the 0302 existed these fields were
// outside the interface, and an 0800 or an 0200 carrying one is still
// malformed (30), byte for byte as before.
func onlyFileUpdate(m *iso.Message) int {
	switch {
	case m.FileUpdateCode != "":
		return 91
	case m.FileName != "":
		return 101
	case m.ConsentData != "":
		return 120
	case len(m.ConsentName) > 0:
		return 121
	case len(m.MAC2) > 0:
		return 128
	}
	return 0
}

// FileUpdate takes an 0302 (a consent registered, replaced or revoked
// online at a partner's counter) through decisions 3 to 7 as for an 0200,
// then the consent's own (docs/interface.md section 11), and returns the final
// 0312, its audit record durable before it returns. p is the partner the
// connection is bound to (nil when not signed on).
func (h *Handler) FileUpdate(ctx context.Context, req *Request, p *Partner) Response {
	return h.audited(ctx, req, h.decideFileUpdate(ctx, req, p))
}

// fileAnswer builds the 0312 of one 0302.
type fileAnswer struct {
	resp *iso.Message
	key  []byte
	hash string
}

func (h *Handler) fileAnswer(req *Request, p *Partner) *fileAnswer {
	m := req.Msg
	a := &fileAnswer{resp: &iso.Message{
		MTI:              iso.MTIFileUpdateResp,
		PAN:              m.PAN,
		TransmissionTime: m.TransmissionTime,
		STAN:             m.STAN,
		Institution:      m.Institution,
		TerminalID:       m.TerminalID,
		FileUpdateCode:   m.FileUpdateCode,
		FileName:         m.FileName,
	}}
	if p != nil {
		a.key = p.MACKey
	}
	return a
}

func (a *fileAnswer) answer(rc, why string) Response {
	a.resp.ResponseCode = rc
	return Response{Msg: a.resp, MACKey: a.key, Decision: why, PANHash: a.hash}
}

func (h *Handler) decideFileUpdate(ctx context.Context, req *Request, p *Partner) Response {
	m := req.Msg
	now := h.opts.Now().In(taipei)
	a := h.fileAnswer(req, p)

	// 3. Mandatory field missing or malformed.
	f, u := check0302(m, req.Err, now)
	if f != 2 && m.PAN != "" {
		a.hash = h.opts.Hasher.Hash(m.PAN)
	}
	if f != 0 {
		a.resp.Clear(f)
		return a.answer(iso.RCFormatError, fmt.Sprintf("DE%d missing or malformed", f))
	}
	// 4. Not signed on.
	if p == nil {
		return a.answer(iso.RCUnavailable, "not signed on")
	}
	// 5. DE32 is not the institution this connection belongs to.
	if m.Institution != p.Institution {
		return a.answer(iso.RCNotPermittedTerminal, "DE32 differs from the signed-on institution")
	}
	// 6. MAC (DE128: the message has a secondary bitmap) missing or wrong.
	if a.key != nil {
		if len(m.MAC2) == 0 {
			return a.answer(iso.RCSecurityViolation, "MAC missing")
		}
		if err := iso.VerifyMAC(req.Raw, a.key); err != nil {
			return a.answer(iso.RCSecurityViolation, "MAC wrong")
		}
	}
	// 7. Duplicate: the same key space as the 0200s, in the card state.
	v, err := h.opts.CardState.Check(ctx, ledger.CardCheck{
		Key: m.Institution + "|" + m.TerminalID + "|" + m.STAN + "|" + m.TransmissionTime,
		Now: now,
	})
	if err != nil {
		h.opts.Logger.Debug("card state unavailable", zap.String("stan", m.STAN), zap.String("institution", m.Institution), zap.Error(err))
		return a.answer(iso.RCUnavailable, "card state unavailable")
	}
	if v == ledger.CardDuplicate {
		return a.answer(iso.RCDuplicate, "duplicate DE32+DE41+DE11+DE7")
	}
	// 8. Unknown file or file update code.
	if m.FileName != iso.FileConsent || u.Action == 0 {
		return a.answer(iso.RCInvalidTransaction, "unknown DE101 file or DE91 file update code")
	}
	if h.opts.Consents == nil {
		return a.answer(iso.RCInvalidTransaction, "no consent registry")
	}
	// 14, 12, 25 or 00: the registry decides and stores, on the primary.
	u.PANHash = a.hash
	u.Consent.Institution = p.Institution
	rctx, cancel := context.WithTimeout(ctx, h.opts.ConsentTimeout)
	defer cancel()
	res, err := h.opts.Consents.Register(rctx, u)
	if err != nil {
		h.opts.Logger.Warn("consent registration failed", zap.String("stan", m.STAN), zap.String("institution", m.Institution), zap.Error(err))
		return a.answer(iso.RCUnavailable, "consent registry unavailable")
	}
	switch res {
	case ledger.ConsentStored:
		return a.answer(iso.RCApproved, "consent "+u.Action.String()+": stored")
	case ledger.ConsentNoRecord:
		return a.answer(iso.RCNoConsent, "consent "+u.Action.String()+": no consent record")
	case ledger.ConsentSuperseded:
		return a.answer(iso.RCInvalidTransaction, "consent "+u.Action.String()+": a record signed later is stored")
	case ledger.ConsentMismatch:
		return a.answer(iso.RCRecordMismatch, "consent "+u.Action.String()+": personal data mismatch")
	}
	return a.answer(iso.RCUnavailable, "consent registry: unknown result")
}

// check0302 is decision 3 for an 0302: the number of the first mandatory
// field missing or malformed (0: none) and the update it asks for (its
// Action 0 when DE91 is no code the gateway knows: decision 8).
func check0302(m *iso.Message, decodeErr error, now time.Time) (int, ledger.ConsentUpdate) {
	var u ledger.ConsentUpdate
	if f := fieldOf(decodeErr); f != 0 {
		return f, u
	}
	if decodeErr != nil {
		return 1, u
	}
	switch {
	case m.PAN == "":
		return 2, u
	case !validDateTime(m.TransmissionTime):
		return 7, u
	case m.STAN == "":
		return 11, u
	case m.Institution == "":
		return 32, u
	case m.TerminalID == "":
		return 41, u
	case m.FileUpdateCode == "":
		return 91, u
	case m.FileName == "":
		return 101, u
	}
	switch m.FileUpdateCode {
	case iso.FileAdd:
		u.Action = ledger.ConsentAdd
	case iso.FileReplace:
		u.Action = ledger.ConsentReplace
	case iso.FileDelete:
		u.Action = ledger.ConsentRevoke
	}
	d := m.ConsentData
	if len(d) != consentDataLen || !card.ValidNationalID(d[:10]) {
		return 120, u
	}
	birth, ok1 := rocDate(d[10:17])
	signed, ok2 := rocDate(d[18:25])
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if !ok1 || !ok2 || birth.After(today) || signed.After(today) {
		return 120, u
	}
	c := &u.Consent
	switch d[17] {
	case 'P':
		c.Pension = true
	case 'I':
		c.Insurance = true
	case 'B':
		c.Pension, c.Insurance = true, true
	default:
		return 120, u
	}
	c.NationalID, c.BirthDate, c.SignedDate = d[:10], birth, signed
	if u.Action == ledger.ConsentRevoke || u.Action == 0 {
		return 0, u // a revoke needs no name (DE121 is ignored)
	}
	name, ok := consentName(m.ConsentName)
	if !ok {
		return 121, u
	}
	c.Name = name
	return 0, u
}

// rocDate reads a ROC date YYYMMDD (year 1 on); ok is false for a date that
// does not exist (1130230).
func rocDate(s string) (time.Time, bool) {
	if !digits(s, 7) {
		return time.Time{}, false
	}
	y, mo, d := num(s[:3])+1911, num(s[3:5]), num(s[5:])
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if y == 1911 || mo < 1 || mo > 12 || t.Day() != d || t.Month() != time.Month(mo) {
		return time.Time{}, false
	}
	return t, true
}

// consentName decodes DE121: CP950 bytes, at most maxNameBytes, no control
// characters, nothing outside CP950, not blank.
func consentName(b []byte) (string, bool) {
	if len(b) == 0 || len(b) > maxNameBytes {
		return "", false
	}
	s := limits.DecodeBig5(b)
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return "", false
		}
	}
	s = strings.TrimSpace(strings.Trim(s, "\u3000"))
	return s, s != ""
}
