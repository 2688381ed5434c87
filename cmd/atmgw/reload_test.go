package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
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
	"github.com/bli/atmgw/internal/testpki"
	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/iso"
)

// TestReloadAndTLSPolicy runs the real binary over plain TCP and TLS: a
// reload refuses what a start refuses (an empty file, partners: []), and
// a reload that removes a partner or narrows its networks closes the live
// connections it no longer admits, while the others go on; the TLS
// listener refuses CBC suites.
func TestReloadAndTLSPolicy(t *testing.T) {
	dir := t.TempDir()
	partnerCA := testpki.NewCA(t, "BLI partner CA")
	serverCA := testpki.NewCA(t, "BLI gateway CA")
	_, srvCert, srvKey := serverCA.Issue(t, "atmgw.test", true)
	client, _, _ := partnerCA.Issue(t, "switch.fubon.test", false)
	addr, tlsAddr, admin := freePort(t), freePort(t), freePort(t)
	base := strings.Replace(string(configs.Example), "listen: 127.0.0.1:8583", fmt.Sprintf(`listen: %s
admin_listen: %s
tls:
  listen: %s
  cert_file: %s
  key_file: %s
  client_ca_file: %s`, addr, admin, tlsAddr,
		testpki.Write(t, dir, "srv.pem", srvCert), testpki.Write(t, dir, "srv.key", srvKey),
		testpki.Write(t, dir, "ca.pem", partnerCA.PEM)), 1)
	cfgPath := filepath.Join(dir, "atmgw.yaml")
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
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitPort(t, addr)
	waitPort(t, admin)

	stan := 0
	atc := uint16(0)
	signOn := func(inst string) *testclient.Client {
		t.Helper()
		c, err := testclient.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		stan++
		on := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: fmt.Sprintf("%06d", stan), Institution: inst, NetworkCode: "001"}
		if r, err := c.Do(on, nil, 5*time.Second); err != nil || r.ResponseCode != "00" {
			t.Fatalf("sign-on %s: %v %+v", inst, err, r)
		}
		return c
	}
	inquire := func(c *testclient.Client, inst, pan string) (string, error) {
		stan++
		atc++
		s := fmt.Sprintf("%06d", stan)
		m := &iso.Message{MTI: "0200", PAN: pan, ProcessingCode: "380000", TransmissionTime: "1124153010", STAN: s,
			LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051", Institution: inst,
			RRN: "261124" + s, TerminalID: "ATM" + inst + "01", ICC: card.BuildICC(card.ICC{CID: 0x80, ATC: atc})}
		r, err := c.Do(m, nil, 5*time.Second)
		if err != nil {
			return "", err
		}
		return r.ResponseCode, nil
	}
	const panLand, panPost, panESun = "6005000000000011", "4700123456789014", "6808000000000014"
	land, post, esun := signOn("005"), signOn("700"), signOn("808")
	for _, x := range []struct {
		c         *testclient.Client
		inst, pan string
	}{{land, "005", panLand}, {post, "700", panPost}, {esun, "808", panESun}} {
		if rc, err := inquire(x.c, x.inst, x.pan); err != nil || rc != "00" {
			t.Fatalf("%s before any reload: %v %s", x.inst, err, rc)
		}
	}

	// A file that could not start the gateway is refused by SIGHUP, with an
	// ERROR line, and the old configuration stays.
	for i, bad := range []string{"", "partners: []\n"} {
		os.WriteFile(cfgPath, []byte(bad), 0o644)
		cmd.Process.Signal(syscall.SIGHUP)
		waitLogCount(t, &logs, `"level":"error","ts":`, `configuration not reloaded`, i+1)
		if rc, err := inquire(land, "005", panLand); err != nil || rc != "00" {
			t.Fatalf("after refusing %q: %v %s", bad, err, rc)
		}
		if code, body := httpGet(t, "http://"+admin+"/readyz"); code != 200 {
			t.Errorf("/readyz after refusing %q: %d %q", bad, code, body)
		}
	}

	// 005 may now sign on only from 10.9.9.0/24, and 808 is gone: their
	// live connections are closed; 700's goes on.
	narrowed := strings.Replace(base, "  - institution: \"808\"", "  - institution: \"909\"", 1)
	i := strings.Index(narrowed, "  - institution: \"005\"")
	j := i + strings.Index(narrowed[i:], "allow:")
	k := j + strings.Index(narrowed[j:], "\n")
	narrowed = narrowed[:j] + `allow: ["10.9.9.0/24"]` + narrowed[k:]
	os.WriteFile(cfgPath, []byte(narrowed), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, &logs, "partners and profiles reloaded")
	if !land.Closed(5 * time.Second) {
		t.Error("005's connection kept after its network was removed")
	}
	if !esun.Closed(5 * time.Second) {
		t.Error("808's connection kept after 808 was removed")
	}
	if rc, err := inquire(post, "700", panPost); err != nil || rc != "00" {
		t.Fatalf("700 after the reload: %v %s", err, rc)
	}
	// A close is counted once its session has finished, just after the
	// client saw it.
	for _, want := range []string{
		`atmgw_connections_closed_total{reason="reload: source address not allowed"} 1`,
		`atmgw_connections_closed_total{reason="reload: unknown institution"} 1`,
	} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, metrics := httpGet(t, "http://"+admin+"/metrics")
			if strings.Contains(metrics, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("/metrics lacks %s:\n%s", want, grep(metrics, "atmgw_connections_closed_total"))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// TLS 1.2 with a CBC-SHA1 suite only: refused; with an AEAD suite: served.
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.Cert)
	dialTLS := func(suite uint16) error {
		cfg := &tls.Config{RootCAs: roots, ServerName: "atmgw.test", Certificates: []tls.Certificate{client},
			MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tlsAddr, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, cbc := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA} {
		if err := dialTLS(cbc); err == nil {
			t.Errorf("TLS 1.2 handshake with %s accepted", tls.CipherSuiteName(cbc))
		}
	}
	if err := dialTLS(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256); err != nil {
		t.Errorf("TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256: %v", err)
	}
}

// waitLogCount waits until the logs hold n lines with every one of subs.
func waitLogCount(t *testing.T, logs *testsync.Buffer, sub1, sub2 string, n int) {
	t.Helper()
	said := func() bool {
		got := 0
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, sub1) && strings.Contains(l, sub2) {
				got++
			}
		}
		return got >= n
	}
	if !testsync.Until(10*time.Second, said) {
		t.Fatalf("the log never said %q %d times:\n%s", sub2, n, logs.String())
	}
}
