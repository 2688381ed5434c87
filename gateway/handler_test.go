package gateway_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/app"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/sim"
)

// The demo ledger's cards (ledger/demo/README.md).
const (
	panPost      = "4700123456789014" // 700 and 812, both services
	panLand      = "6005000000000011" // 005, pension only
	panFubonRev  = "6012000000000013" // 012, revoked
	panESunEmpty = "6808000000000014" // 808, no ledger rows
	panWrongDOB  = "4700999999999999" // 700, birth date differs
	panNoPerson  = "4700888888888888" // 700, person unknown
	macKey812    = "0123456789ABCDEFFEDCBA9876543210"
)

// fixedNow is a time at which the example messages' cards (expiry 3012) are valid.
var fixedNow = time.Date(2026, 11, 24, 15, 30, 10, 0, time.FixedZone("CST", 8*3600))

type rig struct {
	h     *gateway.Handler
	store *switchStore
	stan  int
}

// switchStore is the demo ledger with a switch that makes it fail, to drive
// decision 16 without a socket (the end-to-end test stops a real PostgreSQL).
type switchStore struct {
	ledger.Store
	down bool
}

func (s *switchStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	if s.down {
		return ledger.Answer{}, fmt.Errorf("test: %w", ledger.ErrUnavailable)
	}
	return s.Store.Inquire(ctx, q)
}

// exampleOptions are the options of the example configuration on the demo
// ledger (its Store), card state in memory and the tests' fixed clock.
func exampleOptions(t testing.TB) (gateway.Options, *demo.Memory) {
	t.Helper()
	cfg := &config.Config{}
	if err := config.Parse(configs.Example, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := cfg.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.Hasher(s)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := demo.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	return gateway.Options{
		Partners:  s.Gateway.Partners,
		Profiles:  s.Gateway.Profiles,
		Store:     mem,
		Hasher:    h,
		CardState: ledger.NewMemoryCardState(ledger.CardStateOptions{}),
		Now:       func() time.Time { return fixedNow },
	}, mem
}

func newRig(t testing.TB, mutate ...func(*gateway.Options)) *rig {
	t.Helper()
	opts, mem := exampleOptions(t)
	st := &switchStore{Store: mem}
	opts.Store = st
	for _, m := range mutate {
		m(&opts)
	}
	hd, err := gateway.NewHandler(&opts)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{h: hd, store: st, stan: 100}
}

// request builds a valid 0200 like the reference message, with a fresh STAN
// and an ATC above every one used before.
func (r *rig) request(inst, pan, pc string) *iso.Message {
	r.stan++
	icc := card.BuildICC(card.ICC{
		Cryptogram:     [8]byte{0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F, 0x70, 0x81},
		CID:            0x80,
		ATC:            uint16(r.stan),
		Unpredictable:  [4]byte{0xDE, 0xAD, 0xBE, 0xEF},
		PANSequence:    1,
		HasPANSequence: true,
	})
	term := "ATM" + inst + "01"
	return &iso.Message{
		MTI: "0200", PAN: pan, ProcessingCode: pc, TransmissionTime: "1124153010",
		STAN: fmt.Sprintf("%06d", r.stan), LocalTime: "153010", LocalDate: "1124", Expiry: "3012",
		EntryMode: "051", CardSequence: "001", Institution: inst,
		RRN: fmt.Sprintf("2611240%05d", r.stan), TerminalID: term[:8], CardAcceptor: "BLIQUERY0000001", ICC: icc,
	}
}

// do packs m (signing it when key is set), decodes it as the session would,
// and runs the inquiry handler.
func (r *rig) do(t *testing.T, m *iso.Message, p *gateway.Partner, key string) gateway.Response {
	t.Helper()
	if key != "" {
		m.MAC = make([]byte, 8)
	}
	raw, err := iso.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		k, _ := hex.DecodeString(key)
		if err := iso.SignMAC(raw, k); err != nil {
			t.Fatal(err)
		}
	}
	return r.doRaw(t, raw, p)
}

func (r *rig) doRaw(t *testing.T, raw []byte, p *gateway.Partner) gateway.Response {
	t.Helper()
	msg, derr := iso.Decode(raw)
	resp := r.h.Inquiry(context.Background(), &gateway.Request{Msg: msg, Raw: raw, Err: derr}, p)
	if resp.Msg == nil {
		t.Fatal("no response")
	}
	if len(resp.Msg.Screen) == 0 {
		t.Errorf("every 0210 must carry DE61 (decision %q)", resp.Decision)
	}
	if resp.Msg.MTI != "0210" {
		t.Errorf("MTI %s, want 0210", resp.Msg.MTI)
	}
	// Every response must pack.
	if _, err := iso.Encode(resp.Msg); err != nil {
		t.Errorf("response does not pack: %v", err)
	}
	return resp
}

func TestDecisionTable(t *testing.T) {
	r := newRig(t)
	post := r.h.Partner("700")
	land := r.h.Partner("005")
	fubon := r.h.Partner("012")
	esun := r.h.Partner("808")
	taishin := r.h.Partner("812")

	type tc struct {
		name  string
		build func() (*iso.Message, *gateway.Partner, string)
		rc    string
	}
	cases := []tc{
		{"17 approved pension", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", panPost, "380000"), post, ""
		}, "00"},
		{"17 approved insurance", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", panPost, "390000"), post, ""
		}, "00"},
		{"17 approved with no rows", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("808", panESunEmpty, "380000"), esun, ""
		}, "00"},
		{"3 PAN missing", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.PAN = ""
			return m, post, ""
		}, "30"},
		{"3 DE55 missing on chip", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.ICC = nil
			return m, post, ""
		}, "30"},
		{"3 DE55 not TLV", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.ICC = []byte{0x9F, 0x26, 0x20, 0x01}
			return m, post, ""
		}, "30"},
		{"3 5F34 disagrees with DE23", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.CardSequence = "002"
			return m, post, ""
		}, "30"},
		{"3 bad DE7 date", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.TransmissionTime = "1332153010"
			return m, post, ""
		}, "30"},
		{"3 before 4: malformed and not signed on", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.TerminalID = ""
			return m, nil, ""
		}, "30"},
		{"4 not signed on", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", panPost, "380000"), nil, ""
		}, "91"},
		{"5 DE32 not the connection's", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", panPost, "380000"), land, ""
		}, "58"},
		{"6 MAC missing", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("812", panPost, "380000"), taishin, ""
		}, "63"},
		{"6 MAC wrong", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("812", panPost, "380000"), taishin, "00112233445566778899AABBCCDDEEFF"
		}, "63"},
		{"6 MAC right", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("812", panPost, "380000"), taishin, macKey812
		}, "00"},
		{"8 unknown processing code", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", panPost, "310000"), post, ""
		}, "12"},
		{"9 not chip", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.EntryMode = "021"
			m.ICC = nil
			return m, post, ""
		}, "57"},
		{"10 expired last month", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.Expiry = "2610"
			return m, post, ""
		}, "54"},
		{"10 this month still good", func() (*iso.Message, *gateway.Partner, string) {
			m := r.request("700", panPost, "380000")
			m.Expiry = "2611"
			return m, post, ""
		}, "00"},
		{"11 no consent", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", "4700000000000000", "380000"), post, ""
		}, "14"},
		{"11 consent of another institution", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", panLand, "380000"), post, ""
		}, "14"},
		{"12 revoked", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("012", panFubonRev, "380000"), fubon, ""
		}, "57"},
		{"12 service not consented", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("005", panLand, "390000"), land, ""
		}, "57"},
		{"13 birth date differs", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", panWrongDOB, "380000"), post, ""
		}, "25"},
		{"13 person unknown", func() (*iso.Message, *gateway.Partner, string) {
			return r.request("700", panNoPerson, "390000"), post, ""
		}, "25"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, p, key := c.build()
			resp := r.do(t, m, p, key)
			if got := resp.Msg.ResponseCode; got != c.rc {
				t.Fatalf("DE39 %s (%s), want %s", got, resp.Decision, c.rc)
			}
			if resp.Msg.STAN != m.STAN {
				t.Errorf("DE11 %q not echoed (%q)", resp.Msg.STAN, m.STAN)
			}
			if p != nil && p.MACKey != nil && len(resp.MACKey) != 16 {
				t.Errorf("a keyed partner's response must be signed (DE64)")
			}
			if c.rc == "00" {
				checkApproved(t, m, resp.Msg)
			} else if resp.Msg.Statement != nil || resp.Msg.Receipt != nil || resp.Msg.AuthID != "" {
				t.Errorf("a decline carries DE38/62/63")
			}
		})
	}
}

func checkApproved(t *testing.T, req, resp *iso.Message) {
	t.Helper()
	if len(resp.AuthID) != 6 {
		t.Errorf("DE38 %q, want 6 characters", resp.AuthID)
	}
	if resp.PAN != req.PAN || resp.ProcessingCode != req.ProcessingCode || resp.RRN != req.RRN ||
		resp.TerminalID != req.TerminalID || resp.Institution != req.Institution ||
		resp.TransmissionTime != req.TransmissionTime || resp.LocalTime != req.LocalTime || resp.LocalDate != req.LocalDate {
		t.Errorf("ME fields not echoed: %+v", resp)
	}
	if len(resp.Statement) < 9 || len(resp.Receipt) == 0 {
		t.Fatalf("DE62/DE63 missing")
	}
	switch req.ProcessingCode {
	case "380000":
		if resp.Statement[0] != 'P' || len(resp.AdditionalAmounts) != 40 {
			t.Errorf("pension answer: DE62 service %q, DE54 %q", resp.Statement[0], resp.AdditionalAmounts)
		}
	case "390000":
		if resp.Statement[0] != 'I' || resp.AdditionalAmounts != "" {
			t.Errorf("insurance answer: DE62 service %q, DE54 %q", resp.Statement[0], resp.AdditionalAmounts)
		}
	}
}

func TestDuplicateIsRefused(t *testing.T) {
	r := newRig(t)
	post := r.h.Partner("700")
	m := r.request("700", panPost, "380000")
	raw, _ := iso.Encode(m)
	if rc := r.doRaw(t, raw, post).Msg.ResponseCode; rc != "00" {
		t.Fatalf("first: %s", rc)
	}
	if rc := r.doRaw(t, raw, post).Msg.ResponseCode; rc != "94" {
		t.Fatalf("same DE32+DE41+DE11+DE7 again: %s, want 94", rc)
	}
	// Another DE7 is another request, even with the same STAN (the ATC is
	// the same too, so the card check refuses it: 63).
	m.TransmissionTime = "1124153011"
	raw, _ = iso.Encode(m)
	if rc := r.doRaw(t, raw, post).Msg.ResponseCode; rc != "63" {
		t.Fatalf("new DE7, replayed ATC: %s, want 63", rc)
	}
}

func TestDuplicateBeforeProcessingCode(t *testing.T) {
	// Decision 7 comes before 8: an unknown processing code sent twice is 12, then 94.
	r := newRig(t)
	post := r.h.Partner("700")
	raw, _ := iso.Encode(r.request("700", panPost, "310000"))
	if rc := r.doRaw(t, raw, post).Msg.ResponseCode; rc != "12" {
		t.Fatalf("first: %s", rc)
	}
	if rc := r.doRaw(t, raw, post).Msg.ResponseCode; rc != "94" {
		t.Fatalf("second: %s", rc)
	}
}

func TestATCReplay(t *testing.T) {
	r := newRig(t)
	post := r.h.Partner("700")
	first := r.request("700", panPost, "380000")
	second := r.request("700", panPost, "380000")
	if rc := r.do(t, second, post, "").Msg.ResponseCode; rc != "00" {
		t.Fatalf("higher ATC: %s", rc)
	}
	// The lower ATC now comes too late: decision 14.
	if rc := r.do(t, first, post, "").Msg.ResponseCode; rc != "63" {
		t.Fatalf("lower ATC after a higher one: %s, want 63", rc)
	}
}

func TestRateLimit(t *testing.T) {
	r := newRig(t)
	post := r.h.Partner("700")
	for i := 1; i <= 10; i++ {
		if rc := r.do(t, r.request("700", panPost, "390000"), post, "").Msg.ResponseCode; rc != "00" {
			t.Fatalf("inquiry %d: %s", i, rc)
		}
	}
	if rc := r.do(t, r.request("700", panPost, "390000"), post, "").Msg.ResponseCode; rc != "65" {
		t.Fatalf("11th inquiry in 10 minutes: %s, want 65", rc)
	}
	// Another card is not affected.
	if rc := r.do(t, r.request("808", panESunEmpty, "390000"), r.h.Partner("808"), "").Msg.ResponseCode; rc != "00" {
		t.Fatalf("other card: %s", rc)
	}
}

func TestRateLimitOff(t *testing.T) {
	r := newRig(t, func(o *gateway.Options) {
		o.CardState = ledger.NewMemoryCardState(ledger.CardStateOptions{RateLimit: -1})
	})
	post := r.h.Partner("700")
	for i := 1; i <= 25; i++ {
		if rc := r.do(t, r.request("700", panPost, "390000"), post, "").Msg.ResponseCode; rc != "00" {
			t.Fatalf("inquiry %d with the limit off: %s", i, rc)
		}
	}
}

func TestLedgerDown(t *testing.T) {
	r := newRig(t)
	post := r.h.Partner("700")
	r.store.down = true
	resp := r.do(t, r.request("700", panPost, "380000"), post, "")
	if resp.Msg.ResponseCode != "91" {
		t.Fatalf("ledger down: %s, want 91", resp.Msg.ResponseCode)
	}
	if !strings.Contains(sim.DecodeBig5(resp.Msg.Screen), "系統忙碌中") {
		t.Errorf("91 screen: %q", sim.DecodeBig5(resp.Msg.Screen))
	}
	r.store.down = false
	if rc := r.do(t, r.request("700", panPost, "380000"), post, "").Msg.ResponseCode; rc != "00" {
		t.Fatalf("ledger back: %s", rc)
	}
}

func TestDeclineScreens(t *testing.T) {
	r := newRig(t)
	post := r.h.Partner("700")
	resp := r.do(t, r.request("700", "4700000000000000", "380000"), post, "")
	if got := sim.DecodeBig5(resp.Msg.Screen); !strings.Contains(got, "未申請勞保局資料查詢服務") {
		t.Errorf("14 screen: %q", got)
	}
}

func TestResponseMACVerifies(t *testing.T) {
	r := newRig(t)
	taishin := r.h.Partner("812")
	resp := r.do(t, r.request("812", panPost, "380000"), taishin, macKey812)
	if resp.Msg.ResponseCode != "00" {
		t.Fatalf("rc %s", resp.Msg.ResponseCode)
	}
	raw, err := iso.EncodeMAC(resp.Msg, resp.MACKey)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := hex.DecodeString(macKey812)
	if err := iso.VerifyMAC(raw, k); err != nil {
		t.Fatalf("the response's MAC does not verify: %v", err)
	}
}

func TestNetworkManagement(t *testing.T) {
	r := newRig(t)
	loop := netip.MustParseAddr("127.0.0.1")
	far := netip.MustParseAddr("192.0.2.7")
	m := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "001"}
	cases := []struct {
		name    string
		mutate  func(*iso.Message)
		current *gateway.Partner
		remote  netip.Addr
		rc      string
		bound   string
	}{
		{"sign-on", nil, nil, loop, "00", "700"},
		{"unknown institution", func(m *iso.Message) { m.Institution = "999" }, nil, loop, "05", ""},
		{"address not allowed", nil, nil, far, "05", ""},
		{"other institution on a bound connection", func(m *iso.Message) { m.Institution = "005" }, r.h.Partner("700"), loop, "05", "700"},
		{"echo unsigned", func(m *iso.Message) { m.NetworkCode = "301" }, nil, far, "00", ""},
		{"sign-off", func(m *iso.Message) { m.NetworkCode = "002" }, r.h.Partner("700"), loop, "00", ""},
		{"unknown code", func(m *iso.Message) { m.NetworkCode = "999" }, nil, loop, "12", ""},
		{"DE11 missing", func(m *iso.Message) { m.STAN = "" }, nil, loop, "30", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mm := *m
			if c.mutate != nil {
				c.mutate(&mm)
			}
			raw, err := iso.Encode(&mm)
			if err != nil {
				t.Fatal(err)
			}
			msg, derr := iso.Decode(raw)
			resp, p := r.h.NetworkManagement(&gateway.Request{Msg: msg, Raw: raw, Err: derr}, c.current, gateway.Peer{Addr: c.remote}, nil)
			if resp.Msg.MTI != "0810" || resp.Msg.ResponseCode != c.rc {
				t.Fatalf("%s %s (%s), want 0810 %s", resp.Msg.MTI, resp.Msg.ResponseCode, resp.Decision, c.rc)
			}
			bound := ""
			if p != nil {
				bound = p.Institution
			}
			if bound != c.bound {
				t.Fatalf("bound to %q, want %q", bound, c.bound)
			}
			if resp.Msg.NetworkCode != mm.NetworkCode || resp.Msg.TransmissionTime != mm.TransmissionTime {
				t.Errorf("DE7/DE70 not echoed")
			}
		})
	}
}

func TestWrongMTI(t *testing.T) {
	r := newRig(t)
	m := &iso.Message{MTI: "0400", TransmissionTime: "1124153000", STAN: "000009", Institution: "700"}
	resp, ok := r.h.WrongMTI(&gateway.Request{Msg: m}, nil)
	if !ok || resp.Msg.MTI != "0410" || resp.Msg.ResponseCode != "12" || resp.Msg.STAN != "000009" {
		t.Fatalf("got %s %s %s", resp.Msg.MTI, resp.Msg.ResponseCode, resp.Msg.STAN)
	}
	m.MTI = "0210"
	if _, ok := r.h.WrongMTI(&gateway.Request{Msg: m}, nil); ok {
		t.Fatal("a response MTI must not be answered")
	}
}

var _ = errors.New
