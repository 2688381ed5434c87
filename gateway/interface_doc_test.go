package gateway_test

// Tests of docs/interface.md, the partner document (issue 12): its worked
// examples (section 8) decode to the fields it lists, re-encode byte for
// byte, MAC as it says, and are answered by a running gateway exactly as
// it shows; and the decisions it writes down where v1 leaves a point open
// (bit 65, leniency, DE22, DE23/5F34, DE55, DE64 without a key, DE7,
// the answer to a wrong MTI, what the rate and the ATC count) hold.

import (
	"bufio"
	"bytes"
	"crypto/des"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/limits"
	"github.com/bli/atmgw/sim"
)

// docExample is one worked example of section 8: the fields it lists, its
// frame, the readable split line shown before it (if any), and the prose
// since the previous example (whitespace collapsed).
type docExample struct {
	fields map[string]string
	order  []string
	frame  []byte
	msg    []byte // frame without its length header
	split  string
	prose  string
}

var (
	docOnce sync.Once
	docText string
	docErr  error
)

func interfaceDoc(t *testing.T) string {
	t.Helper()
	docOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join("..", "docs", "interface.md"))
		docText, docErr = string(b), err
	})
	if docErr != nil {
		t.Fatal(docErr)
	}
	return docText
}

// docSection returns section n of the document ("## n. ..." up to the next "## ").
func docSection(t *testing.T, n int) string {
	t.Helper()
	doc := interfaceDoc(t)
	head := "\n## " + strconv.Itoa(n) + ". "
	i := strings.Index(doc, head)
	if i < 0 {
		t.Fatalf("docs/interface.md has no section %d", n)
	}
	rest := doc[i+1:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

var (
	fieldLine = regexp.MustCompile(`^(MTI|DE\d+)\s+(\S.*)$`)
	spaces    = regexp.MustCompile(`\s+`)
)

// docExamples parses the worked examples of section 8.
func docExamples(t *testing.T) []docExample {
	t.Helper()
	out := workedExamples(t, "section 8", docSection(t, 8))
	if len(out) != 6 {
		t.Fatalf("section 8 has %d worked examples, want 6 (0800, 0810, 0200, 0200 with MAC, two 0210)", len(out))
	}
	return out
}

// workedExamples parses the worked examples of text (where names it in
// failures): each ```hex block is a frame; the ```text block of field
// lines before it lists its fields (another ```text block is the readable
// split line of the next frame).
func workedExamples(t *testing.T, where, text string) []docExample {
	t.Helper()
	lines := strings.Split(text, "\n")
	var out []docExample
	var cur docExample
	var prose strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, "```") {
			prose.WriteString(l)
			prose.WriteByte(' ')
			continue
		}
		lang := strings.TrimPrefix(l, "```")
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		switch lang {
		case "hex":
			h := spaces.ReplaceAllString(strings.Join(body, ""), "")
			frame, err := hex.DecodeString(h)
			if err != nil {
				t.Fatalf("%s, example %d: %v", where, len(out)+1, err)
			}
			if cur.fields == nil {
				t.Fatalf("%s, example %d: a frame without its fields", where, len(out)+1)
			}
			cur.frame = frame
			cur.prose = strings.TrimSpace(spaces.ReplaceAllString(prose.String(), " "))
			out = append(out, cur)
			cur = docExample{}
			prose.Reset()
		case "text":
			fields := map[string]string{}
			var order []string
			for _, b := range body {
				m := fieldLine.FindStringSubmatch(b)
				if m == nil {
					fields = nil
					break
				}
				fields[m[1]] = m[2]
				order = append(order, m[1])
			}
			if fields != nil && len(fields) > 0 {
				cur.fields, cur.order = fields, order
			} else if len(body) > 0 {
				cur.split = body[0]
			}
		default:
			t.Fatalf("%s: a code block of unknown kind %q", where, lang)
		}
	}
	for i := range out {
		msg, err := iso.ReadFrame(bytes.NewReader(out[i].frame), nil)
		if err != nil {
			t.Fatalf("%s, example %d: frame: %v", where, i+1, err)
		}
		if 2+len(msg) != len(out[i].frame) {
			t.Fatalf("%s, example %d: %d bytes after a length header of %d", where, i+1, len(out[i].frame)-2, len(msg))
		}
		out[i].msg = msg
	}
	return out
}

// docExample returns the example with this MTI and DE11 and DE32.
func findExample(t *testing.T, ex []docExample, mti, stan, inst string) docExample {
	t.Helper()
	for _, e := range ex {
		if e.fields["MTI"] == mti && e.fields["DE11"] == stan && e.fields["DE32"] == inst {
			return e
		}
	}
	t.Fatalf("section 8 has no %s with DE11 %s and DE32 %s", mti, stan, inst)
	return docExample{}
}

// fieldValue is field de of m as the document writes it: hex for DE55 and
// DE64, the text of Big5 fields.
func fieldValue(m *iso.Message, de string) string {
	if de == "MTI" {
		return m.MTI
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(de, "DE"))
	text, b, ok := m.Field(n)
	_, hexed, _ := iso.FieldLayout(n)
	switch {
	case !ok:
		return "?"
	case hexed:
		return strings.ToUpper(hex.EncodeToString(b))
	case b != nil:
		return sim.DecodeBig5(b)
	}
	return text
}

// decode decodes the example's frame and checks it against the document:
// the fields listed have the values shown, no other field is present, and
// the message re-encodes byte for byte.
func (e docExample) decode(t *testing.T) *iso.Message {
	t.Helper()
	m, err := iso.Decode(e.msg)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	for _, de := range e.order {
		if got := fieldValue(m, de); got != e.fields[de] {
			t.Errorf("%s = %q, the document says %q", de, got, e.fields[de])
		}
	}
	for n := 2; n <= 128; n++ {
		if _, listed := e.fields["DE"+strconv.Itoa(n)]; m.Has(n) != listed {
			t.Errorf("DE%d present %v, listed %v", n, m.Has(n), listed)
		}
	}
	if b, err := iso.Encode(m); err != nil || !bytes.Equal(b, e.msg) {
		t.Errorf("re-encoded\n%q (%v)\nthe document has\n%q", b, err, e.msg)
	}
	return m
}

// TestInterfaceDocExamples: every frame of section 8 decodes to the fields
// listed beside it (and no others), re-encodes byte for byte, matches its
// readable split line, and has the length and bitmap its text states.
func TestInterfaceDocExamples(t *testing.T) {
	for i, e := range docExamples(t) {
		t.Run(strconv.Itoa(i+1)+"-"+e.fields["MTI"]+"-"+e.fields["DE11"], func(t *testing.T) {
			m := e.decode(t)
			if e.split != "" {
				if got := strings.ReplaceAll(e.split, " ", ""); got != string(e.msg) {
					t.Errorf("split line %q is not the message %q", e.split, e.msg)
				}
			}
			for _, re := range []*regexp.Regexp{
				regexp.MustCompile(`message is (\d+) bytes`),
				regexp.MustCompile(`(\d+) bytes, bitmap`),
				regexp.MustCompile(`answer \((\d+) bytes\)`),
			} {
				for _, s := range re.FindAllStringSubmatch(e.prose, -1) {
					n, _ := strconv.Atoi(s[1])
					if n != len(e.msg) && !(m.Has(64) && n == len(e.msg)-16) {
						t.Errorf("the text says %q; the message is %d bytes", s[0], len(e.msg))
					}
				}
			}
			for _, s := range regexp.MustCompile("bitmap `([0-9A-F]{16})`").FindAllStringSubmatch(e.prose, -1) {
				if s[1] != string(e.msg[4:20]) {
					t.Errorf("the text gives the bitmap %s; the message has %s", s[1], e.msg[4:20])
				}
			}
			if l := e.prose; strings.Contains(l, "bytes before") {
				s := regexp.MustCompile(`(\d+) bytes before (DE64|it)`).FindStringSubmatch(l)
				if s == nil || s[1] != strconv.Itoa(len(e.msg)-16) {
					t.Errorf("the MAC covers %d bytes; the text says %v", len(e.msg)-16, s)
				}
			}
			if m.Has(55) {
				icc, err := card.ParseICC(m.ICC, m.CardSequence)
				if err != nil {
					t.Fatalf("DE55: %v", err)
				}
				if want := "ATC " + strconv.Itoa(int(icc.ATC)); !strings.Contains(interfaceDoc(t), want) {
					t.Errorf("the document does not say %q", want)
				}
			}
		})
	}
}

// TestInterfaceDocMAC: the MACed examples verify under the key the
// document gives, and the intermediate values of section 8.3 are right.
func TestInterfaceDocMAC(t *testing.T) {
	ex := docExamples(t)
	keyHex := regexp.MustCompile("Taishin \\(812\\)\\*\\* has one, \\*\\*`([0-9A-F]{32})`").
		FindStringSubmatch(spaces.ReplaceAllString(docSection(t, 10), " "))
	if keyHex == nil || keyHex[1] != macKey812 {
		t.Fatalf("section 10 does not give Taishin's demo key %s: %v", macKey812, keyHex)
	}
	key, _ := hex.DecodeString(keyHex[1])
	req := findExample(t, ex, "0200", "000005", "812")
	if err := iso.VerifyMAC(req.msg, key); err != nil {
		t.Fatalf("8.3: %v", err)
	}
	resp := findExample(t, ex, "0210", "000005", "812")
	if err := iso.VerifyMAC(resp.msg, key); err != nil {
		t.Fatalf("8.4, the 63: %v", err)
	}
	for _, e := range ex {
		if e.fields["DE64"] == "" {
			if err := iso.VerifyMAC(e.msg, key); err != iso.ErrNoMAC {
				t.Errorf("%s %s: %v", e.fields["MTI"], e.fields["DE11"], err)
			}
		}
	}

	// DES-CBC under KL, then D under KR, then E under KL, as 8.3 spells out.
	data := req.msg[:len(req.msg)-16]
	k1, _ := des.NewCipher(key[:8])
	k2, _ := des.NewCipher(key[8:])
	padded := append(bytes.Clone(data), make([]byte, (8-len(data)%8)%8)...)
	var v [8]byte
	for i := 0; i < len(padded); i += 8 {
		for j := range v {
			v[j] ^= padded[i+j]
		}
		k1.Encrypt(v[:], v[:])
	}
	cbc := strings.ToUpper(hex.EncodeToString(v[:]))
	k2.Decrypt(v[:], v[:])
	dec := strings.ToUpper(hex.EncodeToString(v[:]))
	k1.Encrypt(v[:], v[:])
	mac := strings.ToUpper(hex.EncodeToString(v[:]))
	want := "DES-CBC under KL gives `" + cbc + "`; decrypted under KR, `" + dec +
		"`; encrypted again under KL, the MAC `" + mac + "`"
	if !strings.Contains(req.prose, want) {
		t.Errorf("8.3 should say %q", want)
	}
	if mac != req.fields["DE64"] {
		t.Errorf("MAC %s, DE64 %s", mac, req.fields["DE64"])
	}
	if s := "to 24 blocks"; len(padded)/8 != 24 || !strings.Contains(req.prose, s) {
		t.Errorf("%d blocks; 8.3 should say %q", len(padded)/8, s)
	}
	// Without the optional DE42 the message is 15 bytes shorter.
	m, _ := iso.Decode(req.msg)
	m.CardAcceptor = ""
	short, err := iso.EncodeMAC(m, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(short) != len(req.msg)-15 || bytes.Equal(short[len(short)-16:], req.msg[len(req.msg)-16:]) {
		t.Errorf("without DE42: %d bytes, MAC %s", len(short), short[len(short)-16:])
	}
}

// TestInterfaceDocDE54: the DE54 example of section 6 is what the codec
// writes for its two amounts.
func TestInterfaceDocDE54(t *testing.T) {
	s := regexp.MustCompile("carries `([0-9A-Z]+)`: cumulative contributions NT\\$([0-9,]+), cumulative earnings NT\\$([0-9,]+)").
		FindStringSubmatch(spaces.ReplaceAllString(docSection(t, 6), " "))
	if s == nil {
		t.Fatal("section 6 has no DE54 example")
	}
	c, _ := strconv.ParseInt(strings.ReplaceAll(s[2], ",", ""), 10, 64)
	e, _ := strconv.ParseInt(strings.ReplaceAll(s[3], ",", ""), 10, 64)
	if got := iso.FormatAmounts(c, e); got != s[1] || len(got) != 40 {
		t.Errorf("DE54 of %d and %d is %q, the document says %q", c, e, got, s[1])
	}
}

// docConn is a connection to a test gateway that sends frames and reads
// the answer of each.
type docConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialDoc(t *testing.T, addr string) *docConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &docConn{t: t, c: c, br: bufio.NewReader(c)}
}

// ask sends one message and returns the next frame received (framed).
func (d *docConn) ask(msg []byte) []byte {
	d.t.Helper()
	if err := iso.WriteFrame(d.c, msg); err != nil {
		d.t.Fatal(err)
	}
	d.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := iso.ReadFrame(d.br, nil)
	if err != nil {
		d.t.Fatalf("no answer: %v", err)
	}
	f, _ := iso.AppendFrame(nil, b)
	return f
}

func (d *docConn) askMsg(msg []byte) *iso.Message {
	d.t.Helper()
	f := d.ask(msg)
	m, err := iso.Decode(f[2:])
	if err != nil {
		d.t.Fatalf("answer does not decode: %v", err)
	}
	return m
}

func signOn812(t *testing.T, ex []docExample) []byte {
	t.Helper()
	m, _ := iso.Decode(findExample(t, ex, "0800", "000001", "700").msg)
	m.Institution = "812"
	b, err := iso.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInterfaceDocLive sends the frames of section 8 to a running demo
// gateway, in the order sections 8 and 10 describe, and checks its answers
// byte for byte where the document shows them.
func TestInterfaceDocLive(t *testing.T) {
	ex := docExamples(t)
	signOn := findExample(t, ex, "0800", "000001", "700")
	signOnAnswer := findExample(t, ex, "0810", "000001", "700")
	pension := findExample(t, ex, "0200", "000003", "700")
	notSignedOn := findExample(t, ex, "0210", "000003", "700")
	withMAC := findExample(t, ex, "0200", "000005", "812")
	badMAC := findExample(t, ex, "0210", "000005", "812")
	key, _ := hex.DecodeString(macKey812)
	de54 := regexp.MustCompile("carries `([0-9A-Z]{40})`").FindStringSubmatch(docSection(t, 6))
	if de54 == nil {
		t.Fatal("section 6 has no DE54 example")
	}

	t.Run("sections 8 and 10 in order", func(t *testing.T) {
		addr := gatewaytest.StartDemo(t)
		post := dialDoc(t, addr)
		if got := post.ask(pension.msg); !bytes.Equal(got, notSignedOn.frame) {
			t.Errorf("8.2 before sign-on answered\n%X\nsection 8.4 shows\n%X", got, notSignedOn.frame)
		}
		if got := post.ask(signOn.msg); !bytes.Equal(got, signOnAnswer.frame) {
			t.Errorf("8.1 answered\n%X\nsection 8.1 shows\n%X", got, signOnAnswer.frame)
		}
		m := post.askMsg(pension.msg)
		if m.ResponseCode != "00" || m.AdditionalAmounts != de54[1] {
			t.Errorf("8.2 signed on: %s, DE54 %q; section 6 says %q", m.ResponseCode, m.AdditionalAmounts, de54[1])
		}
		if f, _ := iso.Encode(m); string(f[4:20]) != "623800010E80040E" {
			t.Errorf("approved pension 0210 bitmap %s, section 5 says 623800010E80040E", f[4:20])
		}
		taishin := dialDoc(t, addr)
		if m := taishin.askMsg(signOn812(t, ex)); m.ResponseCode != "00" {
			t.Fatalf("812 sign-on: %s", m.ResponseCode)
		}
		bad := bytes.Clone(withMAC.msg)
		copy(bad[len(bad)-16:], "0000000000000000")
		if got := taishin.ask(bad); !bytes.Equal(got, badMAC.frame) {
			t.Errorf("8.3 with a wrong DE64 answered\n%X\nsection 8.4 shows\n%X", got, badMAC.frame)
		}
		if m := taishin.askMsg(withMAC.msg); m.ResponseCode != "63" {
			t.Errorf("8.3 after 8.2: %s, section 10 says 63 (the same ATC)", m.ResponseCode)
		}
	})

	t.Run("8.3 first", func(t *testing.T) {
		taishin := dialDoc(t, gatewaytest.StartDemo(t))
		taishin.askMsg(signOn812(t, ex))
		f := taishin.ask(withMAC.msg)
		m, err := iso.Decode(f[2:])
		if err != nil || m.ResponseCode != "00" {
			t.Fatalf("8.3 on a fresh gateway: %v %s", err, m.ResponseCode)
		}
		if err := iso.VerifyMAC(f[2:], key); err != nil {
			t.Errorf("the 0210's DE64: %v", err)
		}
		if string(f[6:22]) != "623800010E80040F" || m.AdditionalAmounts != de54[1] {
			t.Errorf("bitmap %s, DE54 %q", f[6:22], m.AdditionalAmounts)
		}
	})
}

// TestInterfaceDocDecisions pins what section 3 and 5 decide where v1
// leaves the point open.
func TestInterfaceDocDecisions(t *testing.T) {
	r := newRig(t, func(o *gateway.Options) { // one card, many inquiries: no rate here
		o.CardState = ledger.NewMemoryCardState(ledger.CardStateOptions{RateLimit: -1})
	})
	post := r.h.Partner("700")
	taishin := r.h.Partner("812")
	ok := func(t *testing.T, raw []byte, p *gateway.Partner, want string) gateway.Response {
		t.Helper()
		resp := r.doRaw(t, raw, p)
		if resp.Msg.ResponseCode != want {
			t.Fatalf("DE39 %s (%s), want %s", resp.Msg.ResponseCode, resp.Decision, want)
		}
		return resp
	}
	enc := func(t *testing.T, m *iso.Message) []byte {
		t.Helper()
		b, err := iso.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	icc := func(seq []byte, atc uint16) []byte {
		b := card.BuildICC(card.ICC{CID: 0x80, ATC: atc})
		if seq != nil {
			b = card.AppendTLV(b, card.TagPANSequence, seq)
		}
		return b
	}

	t.Run("bit 65 on a 0200: 30, the fields before it echoed", func(t *testing.T) {
		raw := enc(t, r.request("700", panPost, "380000"))
		bm, _ := strconv.ParseUint(string(raw[4:20]), 16, 64)
		raw = append([]byte(string(raw[:4])+strings.ToUpper(strconv.FormatUint(bm|1<<63, 16))+"8000000000000000"), raw[20:]...)
		resp := ok(t, raw, post, "30")
		if resp.Msg.PAN != panPost || resp.Msg.RRN == "" || resp.Msg.TerminalID == "" {
			t.Errorf("fields not echoed: %+v", resp.Msg)
		}
	})
	t.Run("bit 65 on an 0800: 0810 30 without DE70", func(t *testing.T) {
		raw := []byte("0800" + "8220000100000000" + "8400000000000000" + "1124153000" + "000001" + "03700" + "001")
		msg, derr := iso.Decode(raw)
		if !iso.Recovered(msg) {
			t.Fatal("not recovered: the document says it is answered")
		}
		resp, _ := r.h.NetworkManagement(&gateway.Request{Msg: msg, Raw: raw, Err: derr}, nil, gateway.Peer{}, nil)
		if resp.Msg.MTI != "0810" || resp.Msg.ResponseCode != "30" || resp.Msg.Has(70) || resp.Msg.STAN != "000001" {
			t.Fatalf("%+v", resp.Msg)
		}
	})
	t.Run("wrong MTI: 0110 with DE7, DE11, DE32, DE39, DE41 only, unsigned", func(t *testing.T) {
		m := r.request("812", panPost, "380000")
		m.MTI = "0100"
		raw := enc(t, m)
		msg, derr := iso.Decode(raw)
		resp, answered := r.h.WrongMTI(&gateway.Request{Msg: msg, Raw: raw, Err: derr}, taishin)
		if !answered || resp.Msg.MTI != "0110" || resp.Msg.ResponseCode != "12" || resp.MACKey != nil {
			t.Fatalf("%+v (key %x)", resp.Msg, resp.MACKey)
		}
		for n := 2; n <= 128; n++ {
			want := n == 7 || n == 11 || n == 32 || n == 39 || n == 41
			if resp.Msg.Has(n) != want {
				t.Errorf("DE%d present %v", n, resp.Msg.Has(n))
			}
		}
	})
	t.Run("lower-case hex in the bitmap, DE55 and DE64 is tolerated", func(t *testing.T) {
		m := r.request("812", panPost, "380000")
		key, _ := hex.DecodeString(macKey812)
		m.MAC = make([]byte, 8)
		raw := enc(t, m)
		s := string(raw)
		i := strings.Index(s, strings.ToUpper(hex.EncodeToString(m.ICC)))
		raw = []byte(s[:4] + strings.ToLower(s[4:20]) + s[20:i] + strings.ToLower(s[i:]))
		if err := iso.SignMAC(raw, key); err != nil {
			t.Fatal(err)
		}
		copy(raw[len(raw)-16:], strings.ToLower(string(raw[len(raw)-16:])))
		ok(t, raw, taishin, "00")
	})
	t.Run("an all-zero secondary bitmap on a 0200 is tolerated", func(t *testing.T) {
		raw := enc(t, r.request("700", panPost, "380000"))
		bm, _ := strconv.ParseUint(string(raw[4:20]), 16, 64)
		raw = append([]byte(string(raw[:4])+strings.ToUpper(strconv.FormatUint(bm|1<<63, 16))+"0000000000000000"), raw[20:]...)
		ok(t, raw, post, "00")
	})
	t.Run("DE64 from a partner without a key is ignored, if hex", func(t *testing.T) {
		m := r.request("700", panPost, "380000")
		m.MAC = []byte{1, 2, 3, 4, 5, 6, 7, 8}
		if resp := ok(t, enc(t, m), post, "00"); resp.MACKey != nil {
			t.Errorf("the 0210 of a partner without a key is signed")
		}
		m = r.request("700", panPost, "380000")
		m.MAC = make([]byte, 8)
		raw := enc(t, m)
		copy(raw[len(raw)-16:], "ZZ00000000000000")
		ok(t, raw, post, "30")
	})
	t.Run("DE22 05x: any third digit is chip", func(t *testing.T) {
		for _, mode := range []string{"050", "051", "055", "059"} {
			m := r.request("700", panPost, "380000")
			m.EntryMode = mode
			ok(t, enc(t, m), post, "00")
		}
		m := r.request("700", panPost, "380000")
		m.EntryMode = "021"
		m.ICC = []byte{0x9F, 0x26, 0x20} // not TLV: not looked into
		ok(t, enc(t, m), post, "57")
	})
	t.Run("DE23 and 5F34", func(t *testing.T) {
		cases := []struct {
			name string
			de23 string
			seq  []byte
			rc   string
		}{
			{"5F34 10 (BCD) with DE23 010", "010", []byte{0x10}, "00"},
			{"5F34 0A (binary ten) with DE23 010", "010", []byte{0x0A}, "30"},
			{"5F34 without DE23", "", []byte{0x01}, "30"},
			{"DE23 without 5F34", "001", nil, "00"},
			{"neither", "", nil, "00"},
			{"5F34 01 with DE23 002", "002", []byte{0x01}, "30"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				m := r.request("700", panPost, "380000")
				m.CardSequence = c.de23
				m.ICC = icc(c.seq, uint16(r.stan))
				ok(t, enc(t, m), post, c.rc)
			})
		}
	})
	t.Run("9F26 and 9F27 are not verified", func(t *testing.T) {
		m := r.request("700", panPost, "380000")
		m.ICC = card.BuildICC(card.ICC{Cryptogram: [8]byte{}, CID: 0x00, ATC: uint16(r.stan)})
		m.CardSequence = ""
		ok(t, enc(t, m), post, "00")
	})
	t.Run("DE7 is not compared with the clock; ranges only", func(t *testing.T) {
		for de7, rc := range map[string]string{"0101000000": "00", "0231235959": "00", "1124153010": "00", "1301000000": "30", "1124240000": "30", "0100000000": "30"} {
			m := r.request("700", panPost, "380000")
			m.TransmissionTime = de7
			if resp := r.doRaw(t, enc(t, m), post); resp.Msg.ResponseCode != rc {
				t.Errorf("DE7 %s: %s, want %s", de7, resp.Msg.ResponseCode, rc)
			}
		}
	})
	t.Run("DE37 and DE41 with spaces and lower case", func(t *testing.T) {
		m := r.request("700", panPost, "380000")
		m.RRN, m.TerminalID = "ab 1        ", "ATM7    "
		resp := ok(t, enc(t, m), post, "00")
		if resp.Msg.RRN != m.RRN || resp.Msg.TerminalID != m.TerminalID {
			t.Errorf("not echoed as sent: %q %q", resp.Msg.RRN, resp.Msg.TerminalID)
		}
		if resp.Msg.CardAcceptor != "" || resp.Msg.CardSequence != "" || resp.Msg.EntryMode != "" || resp.Msg.Expiry != "" || resp.Msg.ICC != nil {
			t.Errorf("the 0210 carries a field it never carries: %+v", resp.Msg)
		}
	})
}

// TestInterfaceDocRateAndATC pins section 5's notes: only 00 answers count
// towards the rate, an ATC is consumed by a 00 or a 65, and a 91 of an
// unavailable ledger consumes neither.
func TestInterfaceDocRateAndATC(t *testing.T) {
	now := fixedNow
	r := newRig(t, func(o *gateway.Options) { o.Now = func() time.Time { return now } })
	post := r.h.Partner("700")
	rc := func(m *iso.Message) string {
		t.Helper()
		return r.do(t, m, post, "").Msg.ResponseCode
	}
	// The ledger down: 91, and the ATC is still free afterwards.
	r.store.down = true
	held := r.request("700", panPost, "390000")
	if got := rc(held); got != "91" {
		t.Fatalf("ledger down: %s", got)
	}
	r.store.down = false
	held.STAN = "900001"
	if got := rc(held); got != "00" {
		t.Fatalf("the ATC of a 91 is consumed: %s", got)
	}
	// Declines do not count: replays (63) between approvals.
	for i := 0; i < 9; i++ {
		if got := rc(r.request("700", panPost, "390000")); got != "00" {
			t.Fatalf("approval %d: %s", i+2, got)
		}
		replay := r.request("700", panPost, "390000")
		replay.ICC = held.ICC
		if got := rc(replay); got != "63" {
			t.Fatalf("replay: %s", got)
		}
	}
	// The 11th: 65, and its ATC is consumed.
	over := r.request("700", panPost, "390000")
	if got := rc(over); got != "65" {
		t.Fatalf("11th approval in 10 minutes: %s", got)
	}
	over.STAN = "900002" // the same ATC again: consumed by the 65, so 14 declines it
	if got := rc(over); got != "63" {
		t.Fatalf("the ATC of a 65 again: %s, want 63", got)
	}
	// 65s half-way through the window do not count either.
	now = fixedNow.Add(5 * time.Minute)
	for i := 0; i < 10; i++ {
		if got := rc(r.request("700", panPost, "390000")); got != "65" {
			t.Fatalf("still over: %s", got)
		}
	}
	now = fixedNow.Add(10*time.Minute + time.Second)
	if got := rc(r.request("700", panPost, "390000")); got != "00" {
		t.Fatalf("10 minutes after the approvals (65s in between): %s", got)
	}
}

// TestLayoutDocAmountsEdge: the example of docs/layout.md section 3 (the
// amounts' edge before the end of the line) is what limits draws.
func TestLayoutDocAmountsEdge(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "layout.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "**[atmgw] The amounts' edge.**")
	if i < 0 {
		t.Fatal("layout.md has no paragraph on the amounts' edge")
	}
	doc = doc[i:]
	start := strings.Index(doc, "```\n")
	end := strings.Index(doc[start+4:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no example after the paragraph")
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(doc[start+4:start+4+end]), "\n") {
		if strings.HasPrefix(l, "|") {
			want = append(want, strings.TrimRight(strings.TrimSuffix(strings.TrimPrefix(l, "|"), "|"), " "))
		}
	}
	in := limits.Inquiry{Service: card.ServicePension, Name: "王小明", Institution: "700", Pension: &ledger.PensionStatement{
		AsOf: time.Date(2024, 10, 31, 0, 0, 0, 0, time.UTC), Contributions: 12000, Earnings: 812,
		Rows: []ledger.PensionRow{
			{Year: 2024, Month: 8, Kind: ledger.KindEmployer, Unit: "台積電", Amount: 6000},
			{Year: 2024, Month: 7, Kind: ledger.KindEarnings, Unit: "勞動部", Amount: 812},
		}}}
	got := strings.Split(sim.DecodeBig5(limits.Screen(limits.Profile{Columns: 40, Lines: 16}, in)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("limits draws\n%s\nlayout.md shows\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
