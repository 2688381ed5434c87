package iso_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
)

func TestFormatAmounts(t *testing.T) {
	cases := []struct {
		c, e int64
		want string
	}{
		{114500, 812, "0090901C000000114500" + "0091901C000000000812"},
		{0, 0, "0090901C000000000000" + "0091901C000000000000"},
		{-200, -1, "0090901D000000000200" + "0091901D000000000001"},
		{999_999_999_999, -999_999_999_999, "0090901C999999999999" + "0091901D999999999999"},
		{math.MaxInt64, math.MinInt64, "0090901C999999999999" + "0091901D999999999999"}, // clamped
	}
	for _, c := range cases {
		got := iso.FormatAmounts(c.c, c.e)
		if got != c.want {
			t.Errorf("FormatAmounts(%d, %d) = %q", c.c, c.e, got)
		}
		if len(got) != 40 {
			t.Errorf("length %d", len(got))
		}
		if c.c == math.MaxInt64 {
			continue
		}
		gc, ge, err := iso.ParseAmounts(got)
		if err != nil || gc != c.c || ge != c.e {
			t.Errorf("ParseAmounts(%q) = %d, %d, %v", got, gc, ge, err)
		}
	}
	// DE54 is an..120: it travels.
	m := &iso.Message{MTI: "0210", STAN: "000001", AdditionalAmounts: iso.FormatAmounts(-5, 7)}
	if _, err := iso.Encode(m); err != nil {
		t.Fatal(err)
	}
}

func TestParseAmounts(t *testing.T) {
	c, e, err := iso.ParseAmounts("0091901D000000000003" + "0090901C000000000010")
	if err != nil || c != 10 || e != -3 {
		t.Errorf("either order: %d %d %v", c, e, err)
	}
	bad := []string{
		"",
		"0090901C000000000010", // one amount
		"0090901C000000000010" + "0091901C000000000003" + "0", // 41 characters
		"0090901C000000000010" + "0090901C000000000003",       // 90 twice
		"0091901C000000000010" + "0091901C000000000003",       // 91 twice
		"0092901C000000000010" + "0091901C000000000003",       // type 92
		"0190901C000000000010" + "0091901C000000000003",       // account 01
		"0090840C000000000010" + "0091901C000000000003",       // USD
		"0090901X000000000010" + "0091901C000000000003",       // sign X
		"0090901C00000000001A" + "0091901C000000000003",       // letter
		"0090901C-00000000010" + "0091901C000000000003",       // minus
	}
	for _, s := range bad {
		_, _, err := iso.ParseAmounts(s)
		var fe *iso.FieldError
		if !errors.As(err, &fe) || fe.Field != 54 {
			t.Errorf("ParseAmounts(%q): %v", s, err)
		}
	}
}

func TestResponseMTI(t *testing.T) {
	cases := map[string]string{
		"0200": "0210", "0800": "0810", "0100": "0110", "0420": "0430", "0820": "0830", "9980": "9990",
		"0210": "", "0810": "", "0230": "", "0290": "", "020": "", "02000": "", "02A0": "", "": "",
	}
	for in, want := range cases {
		got, ok := iso.ResponseMTI(in)
		if got != want || ok != (want != "") {
			t.Errorf("ResponseMTI(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestConstants(t *testing.T) {
	codes := map[string]string{
		iso.RCApproved: "00", iso.RCDoNotHonour: "05", iso.RCInvalidTransaction: "12", iso.RCNoConsent: "14",
		iso.RCRecordMismatch: "25", iso.RCFormatError: "30", iso.RCExpiredCard: "54",
		iso.RCNotPermittedCardholder: "57", iso.RCNotPermittedTerminal: "58", iso.RCSecurityViolation: "63",
		iso.RCFrequencyLimit: "65", iso.RCUnavailable: "91", iso.RCDuplicate: "94",
	}
	if len(codes) != 13 {
		t.Fatalf("response codes not distinct: %v", codes)
	}
	seen := map[string]bool{}
	for rc, want := range codes {
		if rc != want {
			t.Errorf("%s != %s", rc, want)
		}
		d := iso.Describe(rc)
		if d == iso.Describe("xx") || seen[d] {
			t.Errorf("Describe(%s) = %q", rc, d)
		}
		seen[d] = true
	}
	if iso.Describe(iso.RCApproved) != "approved" || iso.Describe(iso.RCDuplicate) != "duplicate transmission" {
		t.Error("descriptions")
	}
	if iso.MTIFinancialRequest != "0200" || iso.MTIFinancialResponse != "0210" || iso.MTINetworkRequest != "0800" ||
		iso.MTINetworkResponse != "0810" || iso.ProcPension != "380000" || iso.ProcInsurance != "390000" ||
		iso.NetSignOn != "001" || iso.NetSignOff != "002" || iso.NetEcho != "301" {
		t.Error("constants")
	}
}

func TestLoggingHidesCardData(t *testing.T) {
	m, err := iso.Decode(unframed(t, "0200-pension-mac"))
	if err != nil {
		t.Fatal(err)
	}
	m.AdditionalAmounts = iso.FormatAmounts(114500, 812)
	m.Screen = []byte("\xa8t\xb2\xce")
	secrets := []string{examplePAN, "3012", "1A2B3C4D", "1a2b3c4d", "114500", fmt.Sprintf("%X", m.MAC), "\xa8t"}

	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	log.Info("fields", m.LogFields()...)
	log.Info("object", zap.Object("msg", m))
	log.Info("any", zap.Any("msg", m))
	log.Info("stringer", zap.Stringer("msg", m))
	var texts []string
	for _, e := range logs.All() {
		var b bytes.Buffer
		// No time key: a timestamp's digits could contain a secret by chance.
		cfg := zap.NewProductionEncoderConfig()
		cfg.TimeKey = ""
		enc := zapcore.NewJSONEncoder(cfg)
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(buf.Bytes())
		texts = append(texts, b.String())
	}
	texts = append(texts, m.String(), fmt.Sprintf("%v|%+v|%#v|%s", m, m, m, m))
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("log shows %q: %s", s, text)
			}
		}
		if !strings.Contains(text, "470012******9014") || !strings.Contains(text, "000005") {
			t.Errorf("log lacks the masked PAN or the STAN: %s", text)
		}
	}
	if len(m.LogFields()) < 10 {
		t.Errorf("LogFields: %d fields", len(m.LogFields()))
	}
	var nilMsg *iso.Message
	if nilMsg.LogFields() != nil || nilMsg.String() != "<nil>" {
		t.Error("nil message")
	}
}

// TestLogOrder: a message with every field logs them in the same order and
// form as ever (keys, masking, lengths): the MTI, DE11 and DE7, the other
// text fields in wire order, then the lengths; never DE14.
func TestLogOrder(t *testing.T) {
	m := &iso.Message{MTI: "0210", PAN: "4700123456789014", ProcessingCode: "380000", TransmissionTime: "1124153010",
		STAN: "000005", LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051", CardSequence: "001",
		Institution: "812", RRN: "261124000005", AuthID: "00012A", ResponseCode: "00", TerminalID: "ATM81201",
		CardAcceptor: "BLIQUERY0000001", AdditionalAmounts: "0123", ICC: []byte{1, 2, 3}, Screen: []byte("ab"),
		Statement: []byte("cde"), Receipt: []byte("fghi"), MAC: make([]byte, 8), NetworkCode: "001"}
	want := `mti="0210" stan="000005" tx_time="1124153010" pan="470012******9014" proc_code="380000" ` +
		`local_time="153010" local_date="1124" entry_mode="051" card_seq="001" institution="812" ` +
		`rrn="261124000005" auth_id="00012A" rc="00" terminal="ATM81201" acceptor="BLIQUERY0000001" ` +
		`net_code="001" amounts_len=4 icc_len=3 screen_len=2 statement_len=3 receipt_len=4 mac_len=8`
	if got := m.String(); got != want {
		t.Errorf("String:\n got %s\nwant %s", got, want)
	}
	if n := len(m.LogFields()); n != 22 {
		t.Errorf("LogFields: %d fields, want 22", n)
	}
}

func TestServiceOf(t *testing.T) {
	for pc, want := range map[string]card.Service{
		iso.ProcPension: card.ServicePension, iso.ProcInsurance: card.ServiceInsurance,
		"": 0, "380001": 0, "400000": 0,
	} {
		if got := iso.ServiceOf(pc); got != want {
			t.Errorf("ServiceOf(%q) = %v, want %v", pc, got, want)
		}
	}
}

func TestClear(t *testing.T) {
	m := &iso.Message{MTI: "0210", PAN: "4700123456789014", STAN: "000001", ICC: []byte{1}, Screen: []byte("x")}
	m.Clear(2)
	m.Clear(55)
	m.Clear(0)  // the MTI stays
	m.Clear(99) // not a field of the interface: nothing happens
	if m.PAN != "" || m.ICC != nil || m.MTI != "0210" || m.STAN != "000001" || string(m.Screen) != "x" {
		t.Fatalf("Clear: %+v", m)
	}
}
