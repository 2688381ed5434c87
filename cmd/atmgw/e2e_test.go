package main_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/sim"
)

// atmgwBin is the atmgw built once for the tests of this package.
var atmgwBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "atmgw-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	atmgwBin = filepath.Join(dir, "atmgw")
	out, err := exec.Command("go", "build", "-o", atmgwBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building atmgw: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// atmgw runs the binary and returns its exit code and output.
func atmgw(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, atmgwBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running atmgw: %v", err)
	}
	return code, stdout.String(), stderr.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

type e2e struct {
	t    *testing.T
	stan int
	atc  map[string]uint16
}

func (e *e2e) next() string { e.stan++; return fmt.Sprintf("%06d", e.stan) }

func (e *e2e) inquiry(inst, pan, pc string) *iso.Message {
	stan := e.next()
	e.atc[pan]++
	icc := card.BuildICC(card.ICC{Cryptogram: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, CID: 0x80, ATC: e.atc[pan],
		Unpredictable: [4]byte{9, 8, 7, 6}, PANSequence: 1, HasPANSequence: true})
	return &iso.Message{MTI: "0200", PAN: pan, ProcessingCode: pc, TransmissionTime: time.Now().UTC().Format("0102150405"),
		STAN: stan, LocalTime: "120000", LocalDate: "1124", Expiry: "3012", EntryMode: "051", CardSequence: "001",
		Institution: inst, RRN: "26112400" + stan[2:], TerminalID: "ATM" + inst + "01", ICC: icc}
}

func (e *e2e) signOn(c *testclient.Client, inst string) *iso.Message {
	e.t.Helper()
	m := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: e.next(), Institution: inst, NetworkCode: "001"}
	r, err := c.Do(m, nil, 5*time.Second)
	if err != nil {
		e.t.Fatalf("sign-on %s: %v", inst, err)
	}
	return r
}

// session dials addr and signs on as inst, which must be answered 00;
// the connection is closed at the end of the test.
func (e *e2e) session(addr, inst string) *testclient.Client {
	e.t.Helper()
	c, err := testclient.Dial(addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if r := e.signOn(c, inst); r.ResponseCode != "00" {
		e.t.Fatalf("sign-on %s: %s", inst, r.ResponseCode)
	}
	return c
}

// TestEndToEnd starts atmgw on a private PostgreSQL, migrates, loads
// generated files, signs on and drives every decision of the contract
// through a real socket, including the ledger going down and coming back.
func TestEndToEnd(t *testing.T) {
	pg := pgtest.StartServer(t)
	env := []string{"ATMGW_DATABASE_URL=" + pg.URL()}

	if code, _, stderr := atmgw(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	testledger.Write(t, dir)
	if code, _, stderr := atmgw(t, env, "load", "--dir", dir); code != 0 {
		t.Fatalf("load: exit %d: %s", code, stderr)
	}

	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfgPath := testConfig(t)
	admin := freePort(t)
	cmd := exec.CommandContext(ctx, atmgwBin, "serve", "--config", cfgPath, "--listen", addr, "--admin-listen", admin,
		"--log-format", "json", "--log-level", "debug")
	cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve exited: %v\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("serve did not stop on SIGINT")
		}
		// Debug logging logs every request: still no PAN or national ID in clear.
		if !strings.Contains(logs.String(), `"msg":"request"`) {
			t.Errorf("debug logs without the per-request lines: the check below would prove nothing")
		}
		for _, secret := range []string{testledger.PanOK, testledger.PanMAC, testledger.PanRate, "A100000001", "B200000002"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the logs hold a PAN or national ID in clear")
			}
		}
	}()
	waitPort(t, addr)

	e := &e2e{t: t, atc: map[string]uint16{}}
	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// 4: an 0200 before sign-on.
	expect(t, c, e.inquiry("700", testledger.PanOK, "380000"), nil, "91")
	// Echo before sign-on.
	echo := &iso.Message{MTI: "0800", TransmissionTime: "1124153005", STAN: e.next(), Institution: "700", NetworkCode: "301"}
	if r, err := c.Do(echo, nil, 5*time.Second); err != nil || r.ResponseCode != "00" || r.MTI != "0810" {
		t.Fatalf("echo: %v %+v", err, r)
	}
	if r := e.signOn(c, "999"); r.ResponseCode != "05" {
		t.Fatalf("unknown institution sign-on: %s", r.ResponseCode)
	}
	// A sign-on answered 05 closes the connection.
	if !c.Closed(5 * time.Second) {
		t.Fatal("the connection of a refused sign-on was kept")
	}
	c = e.session(addr, "700")

	// 17: approved, with totals over all rows.
	r := expect(t, c, e.inquiry("700", testledger.PanOK, "380000"), nil, "00")
	amounts, err := sim.ParseAmounts(r.AdditionalAmounts)
	if err != nil {
		t.Fatal(err)
	}
	// employer 3000+3000+3600+3600, voluntary 1500, settlement 100000, adjustment -200; earnings 812.
	if len(amounts) != 2 || amounts[0].Type != iso.AmountContribution || amounts[0].Value != 114500 ||
		amounts[1].Type != iso.AmountEarnings || amounts[1].Value != 812 {
		t.Errorf("DE54 totals %+v, want 90: 114500, 91: 812", amounts)
	}
	if r.Statement[0] != 'P' || r.Statement[1] != '6' {
		t.Errorf("DE62 starts %q, want P6", r.Statement[:2])
	}
	r = expect(t, c, e.inquiry("700", testledger.PanOK, "390000"), nil, "00")
	if r.Statement[0] != 'I' || r.Statement[1] != '6' {
		t.Errorf("DE62 starts %q, want I6", r.Statement[:2])
	}
	// Seniority: 2010-07-01..2015-06-29, 2015-03-01..2018-12-30 (overlap counted once), 2019-03-01..2026-10-31.
	days := int(date(2018, 12, 31).Sub(date(2010, 7, 1)).Hours()/24) + int(date(2026, 11, 1).Sub(date(2019, 3, 1)).Hours()/24)
	tr := string(r.Statement[len(r.Statement)-6:])
	if want := fmt.Sprintf("%03d%03d", days/365, days%365); tr != want {
		t.Errorf("seniority trailer %q, want %q", tr, want)
	}

	// 3: malformed (letters in a numeric field), missing field, bad TLV.
	m := e.inquiry("700", testledger.PanOK, "380000")
	raw, _ := iso.Encode(m)
	bad := bytes.Replace(raw, []byte("380000"), []byte("38A000"), 1)
	if err := c.SendRaw(bad); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Await(m.STAN, 5*time.Second); err != nil || r.ResponseCode != "30" {
		t.Fatalf("letters in DE3: %v %+v", err, r)
	}
	m = e.inquiry("700", testledger.PanOK, "380000")
	m.RRN = ""
	expect(t, c, m, nil, "30")
	m = e.inquiry("700", testledger.PanOK, "380000")
	m.ICC = []byte{0x9F, 0x36, 0x05, 0x00}
	expect(t, c, m, nil, "30")

	// 2: an MTI other than 0800/0200.
	rev := &iso.Message{MTI: "0400", TransmissionTime: "1124153000", STAN: e.next(), Institution: "700"}
	if r, err := c.Do(rev, nil, 5*time.Second); err != nil || r.MTI != "0410" || r.ResponseCode != "12" {
		t.Fatalf("0400: %v %+v", err, r)
	}
	// 5, 7, 8, 9, 10, 11, 12, 13, 14, 15.
	expect(t, c, e.inquiry("005", testledger.PanPensOnly, "380000"), nil, "58")
	dup := e.inquiry("700", testledger.PanOK, "390000")
	expect(t, c, dup, nil, "00")
	expect(t, c, dup, nil, "94")
	expect(t, c, e.inquiry("700", testledger.PanOK, "370000"), nil, "12")
	m = e.inquiry("700", testledger.PanOK, "380000")
	m.EntryMode, m.ICC = "901", nil
	expect(t, c, m, nil, "57")
	m = e.inquiry("700", testledger.PanOK, "380000")
	m.Expiry = "2001"
	expect(t, c, m, nil, "54")
	expect(t, c, e.inquiry("700", "4711999999999999", "380000"), nil, "14")
	expect(t, c, e.inquiry("700", testledger.PanOtherInst, "380000"), nil, "14")
	expect(t, c, e.inquiry("700", testledger.PanMismatch, "380000"), nil, "25")
	expect(t, c, e.inquiry("700", testledger.PanNoPerson, "380000"), nil, "25")
	e.atc[testledger.PanOK] -= 5 // an old ATC: a replay
	m = e.inquiry("700", testledger.PanOK, "380000")
	expect(t, c, m, nil, "63")
	e.atc[testledger.PanOK] += 10
	for i := 0; i < 10; i++ {
		expect(t, c, e.inquiry("700", testledger.PanRate, "390000"), nil, "00")
	}
	expect(t, c, e.inquiry("700", testledger.PanRate, "390000"), nil, "65")

	// Other partners on their own connections: 12 (revoked, not consented), 6 (MAC), zero rows.
	c2 := e.session(addr, "012")
	expect(t, c2, e.inquiry("012", testledger.PanRevoked, "380000"), nil, "57")
	c3 := e.session(addr, "005")
	expect(t, c3, e.inquiry("005", testledger.PanPensOnly, "390000"), nil, "57")
	expect(t, c3, e.inquiry("005", testledger.PanPensOnly, "380000"), nil, "00")
	c4 := e.session(addr, "812")
	key, _ := hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")
	expect(t, c4, e.inquiry("812", testledger.PanMAC, "380000"), nil, "63")
	wrong, _ := hex.DecodeString("00112233445566778899AABBCCDDEEFF")
	expect(t, c4, e.inquiry("812", testledger.PanMAC, "380000"), wrong, "63")
	r = expect(t, c4, e.inquiry("812", testledger.PanMAC, "380000"), key, "00")
	if len(r.MAC) != 8 {
		t.Errorf("keyed partner's 0210 without DE64")
	}
	c5 := e.session(addr, "808")
	r = expect(t, c5, e.inquiry("808", testledger.PanEmpty, "380000"), nil, "00")
	if r.Statement[1] != '0' {
		t.Errorf("person without rows: count %q, want 0", r.Statement[1])
	}

	// Many requests in flight on one connection, answered as each is ready.
	var stans []string
	for i := 0; i < 20; i++ {
		m := e.inquiry("808", testledger.PanEmpty, "390000")
		if i%2 == 0 {
			m.ProcessingCode = "370000" // declined without the ledger
		}
		if err := c5.Send(m, nil); err != nil {
			t.Fatal(err)
		}
		stans = append(stans, m.STAN)
	}
	for _, s := range stans {
		if _, err := c5.Await(s, 10*time.Second); err != nil {
			t.Fatalf("pipelined STAN %s: %v", s, err)
		}
	}

	// 1: unparseable frames get no answer; the third in a row closes.
	c6 := e.session(addr, "700")
	garbage := []byte("0200ZZZZZZZZZZZZZZZZ")
	for i := 0; i < 2; i++ {
		c6.SendRaw(garbage)
	}
	expect(t, c6, e.inquiry("700", testledger.PanOK, "390000"), nil, "00") // a good frame resets the count
	for i := 0; i < 3; i++ {
		c6.SendRaw(garbage)
	}
	if !c6.Closed(5 * time.Second) {
		t.Errorf("three unparseable frames in a row did not close the connection")
	}
	// A declared length over 4096 closes at once.
	c7, _ := testclient.Dial(addr)
	defer c7.Close()
	hdr := make([]byte, 2)
	binary.BigEndian.PutUint16(hdr, 4097)
	c7.SendBytes(hdr)
	if !c7.Closed(5 * time.Second) {
		t.Errorf("an oversize length did not close the connection")
	}

	// 16: the database stops; answers are 91, fast; then it is back and so is 00.
	pg.Stop()
	for i := 0; i < 5; i++ {
		expect(t, c, e.inquiry("700", testledger.PanOK, "390000"), nil, "91")
	}
	pg.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := c.Do(e.inquiry("700", testledger.PanOK, "390000"), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r.ResponseCode == "00" {
			break
		}
		if r.ResponseCode != "91" || time.Now().After(deadline) {
			t.Fatalf("after the database came back: %s", r.ResponseCode)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The metrics of the whole session hold no PAN or national ID either.
	_, metrics := httpGet(t, "http://"+admin+"/metrics")
	if !strings.Contains(metrics, `atmgw_requests_total{code="65",institution="700",service="insurance"} 1`) {
		t.Errorf("/metrics lacks the rate-limited inquiry:\n%s", grep(metrics, "atmgw_requests_total"))
	}
	for _, secret := range []string{testledger.PanOK, testledger.PanMAC, testledger.PanRate, "A100000001", "B200000002"} {
		if strings.Contains(metrics, secret) {
			t.Errorf("/metrics holds a PAN or national ID in clear")
		}
	}

	// Sign-off ends service on the connection.
	off := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: e.next(), Institution: "700", NetworkCode: "002"}
	if r, err := c.Do(off, nil, 5*time.Second); err != nil || r.ResponseCode != "00" {
		t.Fatalf("sign-off: %v %+v", err, r)
	}
	expect(t, c, e.inquiry("700", testledger.PanOK, "390000"), nil, "91")
}

func date(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func expect(t *testing.T, c *testclient.Client, m *iso.Message, key []byte, rc string) *iso.Message {
	t.Helper()
	r, err := c.Do(m, key, 10*time.Second)
	if err != nil {
		t.Fatalf("STAN %s: %v", m.STAN, err)
	}
	if r.ResponseCode != rc {
		t.Fatalf("STAN %s (%s %s): DE39 %s, want %s", m.STAN, m.Institution, m.ProcessingCode, r.ResponseCode, rc)
	}
	if r.MTI != "0210" || len(r.Screen) == 0 {
		t.Fatalf("STAN %s: %s without DE61", m.STAN, r.MTI)
	}
	return r
}

func waitPort(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("atmgw did not listen on %s", addr)
}

func testDatabase(t *testing.T) string { return pgtest.NewDatabase(t) }

// testConfig writes the example configuration with what suits a shared,
// noisy test machine: a roomier ledger deadline than production's 300ms, and
// the audit spool in the test's own directory.
func testConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	y := strings.Replace(string(configs.Example), "timeout: 300ms", "timeout: 2s", 1)
	if y == string(configs.Example) {
		t.Fatal("the example config has no ledger timeout of 300ms to replace")
	}
	y = strings.Replace(y, "spool_dir: /var/lib/atmgw/audit", "spool_dir: "+filepath.Join(dir, "spool"), 1)
	p := filepath.Join(dir, "atmgw.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// exampleWithoutAudit is the example configuration without its audit
// section, for tests that write their own.
func exampleWithoutAudit(t *testing.T) string {
	t.Helper()
	y := string(configs.Example)
	i := strings.Index(y, "\naudit:\n")
	if i < 0 {
		t.Fatal("the example config has no audit section")
	}
	j := strings.Index(y[i+1:], "\n\n")
	if j < 0 {
		t.Fatal("the example config's audit section does not end")
	}
	return y[:i+1] + y[i+1+j+2:]
}
