package gateway_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/sim"
)

// switchRegistry is the demo ledger's registry with a switch that makes it
// fail (91), counting the registrations that reached it.
type switchRegistry struct {
	ledger.ConsentRegistry
	down  bool
	calls int
}

func (s *switchRegistry) Register(ctx context.Context, u ledger.ConsentUpdate) (ledger.ConsentResult, error) {
	s.calls++
	if s.down {
		return 0, fmt.Errorf("test: %w", ledger.ErrUnavailable)
	}
	return s.ConsentRegistry.Register(ctx, u)
}

// auditLog keeps the audit records.
type auditLog struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (a *auditLog) Audit(_ context.Context, r audit.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, r)
	return nil
}

func (a *auditLog) last() audit.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.recs[len(a.recs)-1]
}

const panNew = "4700555555555555" // no consent in the demo ledger

// consentReq builds an 0302 of 王小明 (the demo's A123456789, born
// 1985-06-15), signed 2026-11-24 (the tests' fixed day), with a fresh STAN.
func (r *rig) consentReq(inst, pan, code string) *iso.Message {
	r.stan++
	m := &iso.Message{MTI: iso.MTIFileUpdate, PAN: pan, TransmissionTime: "1124153020", STAN: fmt.Sprintf("%06d", r.stan),
		Institution: inst, TerminalID: "CTR" + inst + "01", FileUpdateCode: code, FileName: iso.FileConsent,
		ConsentData: "A1234567890740615B1151124"}
	if code != iso.FileDelete {
		m.ConsentName = sim.EncodeBig5("王小明")
	}
	return m
}

// doConsent packs m (signed with key when set), decodes it as the session
// would, and runs the request handler on it: the answer must be an 0312
// that packs.
func (r *rig) doConsent(t *testing.T, m *iso.Message, p *gateway.Partner, key string) gateway.Response {
	t.Helper()
	var raw []byte
	var err error
	if key != "" {
		k, _ := hex.DecodeString(key)
		raw, err = iso.EncodeMAC(m, k)
	} else {
		raw, err = iso.Encode(m)
	}
	if err != nil {
		t.Fatal(err)
	}
	msg, derr := iso.Decode(raw)
	resp := r.h.Request(context.Background(), &gateway.Request{Msg: msg, Raw: raw, Err: derr}, p)
	if resp.Msg == nil {
		t.Fatal("no response")
	}
	if resp.Msg.MTI != iso.MTIFileUpdateResp || resp.Msg.STAN != m.STAN {
		t.Errorf("answer MTI %s DE11 %s", resp.Msg.MTI, resp.Msg.STAN)
	}
	if len(resp.Msg.Screen) != 0 || resp.Msg.ProcessingCode != "" || resp.Msg.ConsentData != "" || len(resp.Msg.ConsentName) != 0 {
		t.Errorf("the 0312 carries a field it must not: %s", resp.Msg)
	}
	if _, err := iso.Encode(resp.Msg); err != nil {
		t.Errorf("response does not pack: %v", err)
	}
	return resp
}

func consentRig(t *testing.T) (*rig, *switchRegistry, *auditLog) {
	reg := &switchRegistry{}
	aud := &auditLog{}
	r := newRig(t, func(o *gateway.Options) {
		reg.ConsentRegistry = o.Store.(*switchStore).Store.(*demo.Memory)
		o.Consents = reg
		o.Auditor = aud
	})
	return r, reg, aud
}

// TestConsentDecisionTable: every answer of an 0302, without a socket.
func TestConsentDecisionTable(t *testing.T) {
	r, reg, _ := consentRig(t)
	post := r.h.Partner("700")
	taishin := r.h.Partner("812")
	type tc struct {
		name  string
		build func() (*iso.Message, *gateway.Partner, string)
		rc    string
	}
	with := func(f func(m *iso.Message)) func() (*iso.Message, *gateway.Partner, string) {
		return func() (*iso.Message, *gateway.Partner, string) {
			m := r.consentReq("700", panNew, iso.FileAdd)
			f(m)
			return m, post, ""
		}
	}
	cases := []tc{
		{"3 DE2 missing", with(func(m *iso.Message) { m.PAN = "" }), "30"},
		{"3 DE41 missing", with(func(m *iso.Message) { m.TerminalID = "" }), "30"},
		{"3 DE91 missing", with(func(m *iso.Message) { m.FileUpdateCode = "" }), "30"},
		{"3 DE101 missing", with(func(m *iso.Message) { m.FileName = "" }), "30"},
		{"3 DE120 missing", with(func(m *iso.Message) { m.ConsentData = "" }), "30"},
		{"3 DE120 short", with(func(m *iso.Message) { m.ConsentData = m.ConsentData[:24] }), "30"},
		{"3 DE120 ID lower case", with(func(m *iso.Message) { m.ConsentData = "a" + m.ConsentData[1:] }), "30"},
		{"3 DE120 birth date 30 February", with(func(m *iso.Message) { m.ConsentData = "A1234567890740230B1151124" }), "30"},
		{"3 DE120 services X", with(func(m *iso.Message) { m.ConsentData = "A1234567890740615X1151124" }), "30"},
		{"3 DE120 signed tomorrow", with(func(m *iso.Message) { m.ConsentData = "A1234567890740615B1151125" }), "30"},
		{"3 DE121 missing on an add", with(func(m *iso.Message) { m.ConsentName = nil }), "30"},
		{"3 DE121 not Big5", with(func(m *iso.Message) { m.ConsentName = []byte{0xA4, 0xFD, 0xFF} }), "30"},
		{"3 DE121 blank", with(func(m *iso.Message) { m.ConsentName = sim.EncodeBig5("\u3000 ") }), "30"},
		{"4 not signed on", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("700", panNew, iso.FileAdd), nil, ""
		}, "91"},
		{"5 DE32 not the connection's", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("812", panNew, iso.FileAdd), post, ""
		}, "58"},
		{"6 MAC missing", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("812", panNew, iso.FileAdd), taishin, ""
		}, "63"},
		{"6 MAC wrong key", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("812", panNew, iso.FileAdd), taishin, "00112233445566778899AABBCCDDEEFF"
		}, "63"},
		{"8 DE91 not 1-3", with(func(m *iso.Message) { m.FileUpdateCode = "4" }), "12"},
		{"8 DE101 another file", with(func(m *iso.Message) { m.FileName = "PERSONS" }), "12"},
		{"14 replace of no record", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("700", "4700555555555556", iso.FileReplace), post, ""
		}, "14"},
		{"14 revoke of no record", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("700", "4700555555555556", iso.FileDelete), post, ""
		}, "14"},
		{"25 birth date differs", with(func(m *iso.Message) { m.ConsentData = "A1234567890740616B1151124" }), "25"},
		{"25 name differs", with(func(m *iso.Message) { m.ConsentName = sim.EncodeBig5("王大明") }), "25"},
		{"25 no such person", with(func(m *iso.Message) { m.ConsentData = "Z9999999990740615B1151124" }), "25"},
		{"00 add", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("700", panNew, iso.FileAdd), post, ""
		}, "00"},
		{"00 add MACed", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("812", panNew, iso.FileAdd), taishin, macKey812
		}, "00"},
		{"00 revoke, no DE121", func() (*iso.Message, *gateway.Partner, string) {
			return r.consentReq("812", panNew, iso.FileDelete), taishin, macKey812
		}, "00"},
		{"12 an add signed before the revocation", func() (*iso.Message, *gateway.Partner, string) {
			m := r.consentReq("812", panNew, iso.FileAdd)
			m.ConsentData = "A1234567890740615B1151123"
			return m, taishin, macKey812
		}, "12"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, p, key := c.build()
			resp := r.doConsent(t, m, p, key)
			if resp.Msg.ResponseCode != c.rc {
				t.Errorf("DE39 %s (%s), want %s", resp.Msg.ResponseCode, resp.Decision, c.rc)
			}
			if signed := len(resp.MACKey) > 0; signed != (p != nil && p.Institution == "812") {
				t.Errorf("answer signed %v", signed)
			}
		})
	}
	if reg.calls != 9 {
		t.Errorf("the registry was asked %d times, want 9 (the cases past decision 8)", reg.calls)
	}
}

// TestConsentSeenByTheNextInquiry: an 0302 answered 00 changes what the
// next 0200 gets; a retransmission is 94 and reaches no registry; a
// registry down is 91; every 0302 is audited.
func TestConsentSeenByTheNextInquiry(t *testing.T) {
	r, reg, aud := consentRig(t)
	post := r.h.Partner("700")
	if rc := r.do(t, r.request("700", panNew, "380000"), post, "").Msg.ResponseCode; rc != "14" {
		t.Fatalf("before: %s, want 14", rc)
	}
	add := r.consentReq("700", panNew, iso.FileAdd)
	if resp := r.doConsent(t, add, post, ""); resp.Msg.ResponseCode != "00" {
		t.Fatalf("add: %s %s", resp.Msg.ResponseCode, resp.Decision)
	}
	if a := aud.last(); a.Service != "consent-add" || a.ResponseCode != "00" || a.PANHash == "" || a.STAN != add.STAN || a.Terminal != "CTR70001" {
		t.Errorf("audit record %+v", a)
	}
	if rc := r.do(t, r.request("700", panNew, "380000"), post, "").Msg.ResponseCode; rc != "00" {
		t.Fatalf("after the add: %s, want 00", rc)
	}
	calls := reg.calls
	if resp := r.doConsent(t, add, post, ""); resp.Msg.ResponseCode != "94" || reg.calls != calls {
		t.Errorf("retransmission: %s, registry asked %d more times", resp.Msg.ResponseCode, reg.calls-calls)
	}
	rev := r.consentReq("700", panNew, iso.FileDelete)
	reg.down = true
	if resp := r.doConsent(t, rev, post, ""); resp.Msg.ResponseCode != "91" {
		t.Errorf("registry down: %s", resp.Msg.ResponseCode)
	}
	reg.down = false
	rev = r.consentReq("700", panNew, iso.FileDelete)
	if resp := r.doConsent(t, rev, post, ""); resp.Msg.ResponseCode != "00" {
		t.Fatalf("revoke: %s", resp.Msg.ResponseCode)
	}
	if a := aud.last(); a.Service != "consent-revoke" || a.ResponseCode != "00" {
		t.Errorf("audit record %+v", a)
	}
	if rc := r.do(t, r.request("700", panNew, "380000"), post, "").Msg.ResponseCode; rc != "57" {
		t.Errorf("after the revoke: %s, want 57", rc)
	}
}

// TestConsentFieldsRefusedElsewhere: an 0200 or an 0800 carrying a field
// only an 0302 uses is malformed (30), as before the 0302 existed.
func TestConsentFieldsRefusedElsewhere(t *testing.T) {
	r, _, _ := consentRig(t)
	post := r.h.Partner("700")
	for de, set := range map[int]func(m *iso.Message){
		91:  func(m *iso.Message) { m.FileUpdateCode = "1" },
		101: func(m *iso.Message) { m.FileName = iso.FileConsent },
		120: func(m *iso.Message) { m.ConsentData = "X" },
		121: func(m *iso.Message) { m.ConsentName = []byte{0xA4, 0xFD} },
		128: func(m *iso.Message) { m.MAC2 = make([]byte, 8) },
	} {
		m := r.request("700", panPost, "380000")
		set(m)
		if resp := r.do(t, m, post, ""); resp.Msg.ResponseCode != "30" {
			t.Errorf("0200 with DE%d: %s", de, resp.Msg.ResponseCode)
		}
		n := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "001"}
		set(n)
		raw, err := iso.Encode(n)
		if err != nil {
			t.Fatal(err)
		}
		msg, derr := iso.Decode(raw)
		resp, _ := r.h.NetworkManagement(&gateway.Request{Msg: msg, Raw: raw, Err: derr}, nil, gateway.Peer{}, nil)
		if resp.Msg.ResponseCode != "30" {
			t.Errorf("0800 with DE%d: %s", de, resp.Msg.ResponseCode)
		}
	}
}
