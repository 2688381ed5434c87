package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/iso"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func demoInquiry(stan int, pan string, atc uint16) *iso.Message {
	icc := card.BuildICC(card.ICC{CID: 0x80, ATC: atc, PANSequence: 1, HasPANSequence: true})
	s := fmt.Sprintf("%06d", stan)
	return &iso.Message{MTI: "0200", PAN: pan, ProcessingCode: "380000", TransmissionTime: "1124153010", STAN: s,
		LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051", CardSequence: "001",
		Institution: "700", RRN: "261124" + s, TerminalID: "ATM70001", ICC: icc}
}

// Operations: the admin endpoints, SIGHUP reloading partners without
// dropping connections (and keeping the old configuration when the new one
// is bad), and SIGTERM stopping cleanly.
func TestAdminReloadAndStop(t *testing.T) {
	dir := t.TempDir()
	addr, admin := freePort(t), freePort(t)
	cfgPath := filepath.Join(dir, "atmgw.yaml")
	base := string(configs.Example)
	base = strings.Replace(base, "listen: 127.0.0.1:8583", "listen: "+addr+"\nadmin_listen: "+admin, 1)
	if err := os.WriteFile(cfgPath, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, atmgwBin, "serve", "--config", cfgPath, "--log-format", "json")
	var logs testsync.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitPort(t, addr)
	waitPort(t, admin)

	if code, body := httpGet(t, "http://"+admin+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := httpGet(t, "http://"+admin+"/readyz"); code != 200 {
		t.Errorf("/readyz: %d %q", code, body)
	}

	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stan := 1
	on := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "001"}
	if r, err := c.Do(on, nil, 5*time.Second); err != nil || r.ResponseCode != "00" {
		t.Fatalf("sign-on: %v %+v", err, r)
	}
	stan++
	if r, err := c.Do(demoInquiry(stan, "4700123456789014", 100), nil, 5*time.Second); err != nil || r.ResponseCode != "00" {
		t.Fatalf("inquiry: %v %+v", err, r)
	}
	_, metrics := httpGet(t, "http://"+admin+"/metrics")
	if !strings.Contains(metrics, `atmgw_requests_total{code="00",institution="700",service="pension"} 1`) {
		t.Errorf("/metrics lacks the approved inquiry:\n%s", grep(metrics, "atmgw_requests_total"))
	}
	if !strings.Contains(metrics, "atmgw_connections_open 1") {
		t.Errorf("/metrics: connections_open:\n%s", grep(metrics, "atmgw_connections"))
	}
	if strings.Contains(metrics, "4700123456789014") || strings.Contains(metrics, "A123456789") {
		t.Error("/metrics holds a PAN or national ID")
	}

	// SIGHUP: 700 now has a MAC key and 005 is gone.
	reloaded := strings.Replace(base, "  - institution: \"005\"", "  - institution: \"099\"", 1)
	reloaded = strings.Replace(reloaded, "    name: Chunghwa Post 中華郵政\n", "    name: Chunghwa Post 中華郵政\n    mac_key: 00112233445566778899AABBCCDDEEFF\n", 1)
	os.WriteFile(cfgPath, []byte(reloaded), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, &logs, "partners and profiles reloaded")
	stan++
	if r, err := c.Do(demoInquiry(stan, "4700123456789014", 101), nil, 5*time.Second); err != nil || r.ResponseCode != "63" {
		t.Fatalf("after the reload, an unMACed inquiry on the same connection: %v %+v (want 63)", err, r)
	}
	c2, _ := testclient.Dial(addr)
	defer c2.Close()
	on005 := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000050", Institution: "005", NetworkCode: "001"}
	if r, err := c2.Do(on005, nil, 5*time.Second); err != nil || r.ResponseCode != "05" {
		t.Fatalf("sign-on of a removed partner: %v %+v (want 05)", err, r)
	}
	// A bad file: nothing changes.
	os.WriteFile(cfgPath, []byte("partners: [\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, &logs, "configuration not reloaded")
	key := []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF}
	stan++
	if r, err := c.Do(demoInquiry(stan, "4700123456789014", 102), key, 5*time.Second); err != nil || r.ResponseCode != "00" {
		t.Fatalf("with the MAC after a failed reload: %v %+v", err, r)
	}

	// SIGTERM: exit 0, connections closed.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if !c.Closed(5 * time.Second) {
		t.Error("connection still open after the gateway stopped")
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// waitLog waits for a message in the logs of a running process.
func waitLog(t *testing.T, logs *testsync.Buffer, msg string) {
	t.Helper()
	if !testsync.Until(10*time.Second, func() bool { return strings.Contains(logs.String(), msg) }) {
		t.Fatalf("the log never said %q:\n%s", msg, logs.String())
	}
}
