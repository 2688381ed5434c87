package gateway_test

// Tests of docs/interface.md section 11 (consents registered online): its
// worked examples decode to the fields listed, re-encode byte for byte,
// have the sizes and bitmaps the text states, MAC under Taishin's demo key,
// and are answered by a running demo gateway exactly as shown.

import (
	"bytes"
	"encoding/hex"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/iso"
)

// consentExamples are the worked examples of section 11.4.
func consentExamples(t *testing.T) []docExample {
	t.Helper()
	sec := docSection(t, 11)
	i := strings.Index(sec, "### 11.4")
	if i < 0 {
		t.Fatal("section 11 has no 11.4")
	}
	out := workedExamples(t, "11.4", sec[i:])
	if len(out) != 4 {
		t.Fatalf("11.4 has %d worked examples, want 4 (0302, 0312, 0302 with MAC, 0312 with MAC)", len(out))
	}
	return out
}

func TestInterfaceDocConsentExamples(t *testing.T) {
	key, _ := hex.DecodeString(macKey812)
	for i, e := range consentExamples(t) {
		t.Run(strconv.Itoa(i+1)+"-"+e.fields["MTI"]+"-"+e.fields["DE32"], func(t *testing.T) {
			m := e.decode(t)
			for _, s := range regexp.MustCompile(`(\d+) bytes[:,).;]`).FindAllStringSubmatch(e.prose, -1) {
				if n, _ := strconv.Atoi(s[1]); n != len(e.msg) && !(m.Has(128) && n == len(e.msg)-16) {
					t.Errorf("the text says %q; the message is %d bytes", s[0], len(e.msg))
				}
			}
			bitmaps := regexp.MustCompile("bitmaps `([0-9A-F]{16})` [^`]*and `([0-9A-F]{16})`").FindStringSubmatch(e.prose)
			if bitmaps != nil && bitmaps[1]+bitmaps[2] != string(e.msg[4:36]) {
				t.Errorf("the text gives the bitmaps %s %s; the message has %s", bitmaps[1], bitmaps[2], e.msg[4:36])
			}
			if m.Has(128) {
				s := regexp.MustCompile(`MAC of the (\d+) bytes before it`).FindStringSubmatch(e.prose)
				if e.fields["MTI"] == "0302" && (s == nil || s[1] != strconv.Itoa(len(e.msg)-16)) {
					t.Errorf("the MAC covers %d bytes; the text says %v", len(e.msg)-16, s)
				}
				if !strings.Contains(e.prose, "`"+string(e.msg[20:36])+"`") {
					t.Errorf("the text does not give the secondary bitmap %s", e.msg[20:36])
				}
				if err := iso.VerifyMAC(e.msg, key); err != nil {
					t.Errorf("DE128 under Taishin's key: %v", err)
				}
			} else if bitmaps == nil {
				t.Errorf("an unsigned example whose text states no bitmaps")
			}
		})
	}
}

// TestInterfaceDocConsentLive sends the two 0302s of 11.4 to a demo
// gateway, each after a sign-on of its institution, and gets the 0312s of
// the document byte for byte.
func TestInterfaceDocConsentLive(t *testing.T) {
	ex := consentExamples(t)
	addr := gatewaytest.StartDemo(t)
	for _, pair := range [][2]docExample{{ex[0], ex[1]}, {ex[2], ex[3]}} {
		inst := pair[0].fields["DE32"]
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		signOn := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: inst, NetworkCode: "001"}
		b, _ := iso.Encode(signOn)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := iso.WriteFrame(c, b); err != nil {
			t.Fatal(err)
		}
		if r, err := iso.ReadFrame(c, nil); err != nil || !strings.Contains(string(r), "00001") {
			t.Fatalf("sign-on %s: %v %q", inst, err, r)
		}
		if _, err := c.Write(pair[0].frame); err != nil {
			t.Fatal(err)
		}
		got, err := iso.ReadFrame(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pair[1].msg) {
			t.Errorf("%s: the gateway answers\n%q\nthe document shows\n%q", inst, got, pair[1].msg)
		}
		c.Close()
	}
}
