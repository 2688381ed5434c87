package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testpki"
	"github.com/bli/atmgw/iso"
)

// The TLS listener: TLS 1.2 and 1.3, client certificates checked against
// the partner CA, and a certificate bound to an institution signs on as
// that institution only.
func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	partnerCA := testpki.NewCA(t, "BLI partner CA")
	serverCA := testpki.NewCA(t, "BLI gateway CA")
	rogueCA := testpki.NewCA(t, "someone else")
	_, srvCert, srvKey := serverCA.Issue(t, "atmgw.test", true)
	post, _, _ := partnerCA.Issue(t, "switch.post.test", false)
	land, _, _ := partnerCA.Issue(t, "switch.landbank.test", false)
	fubon, _, _ := partnerCA.Issue(t, "switch.fubon.test", false) // valid, bound to nobody
	rogue, _, _ := rogueCA.Issue(t, "switch.post.test", false)

	gw := gatewaytest.Start(t, gatewaytest.WithConfig(func(c *config.Config) {
		c.TLS = config.TLS{
			Listen:       "127.0.0.1:0",
			CertFile:     testpki.Write(t, dir, "srv.pem", srvCert),
			KeyFile:      testpki.Write(t, dir, "srv.key", srvKey),
			ClientCAFile: testpki.Write(t, dir, "ca.pem", partnerCA.PEM),
		}
		for i := range c.Partners {
			switch c.Partners[i].Institution {
			case "700":
				c.Partners[i].CertNames = []string{"switch.post.test"}
			case "005":
				c.Partners[i].CertNames = []string{"switch.landbank.test"}
			}
		}
	}))
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.Cert)
	client := func(cert *tls.Certificate, min, max uint16) *tls.Config {
		c := &tls.Config{RootCAs: roots, ServerName: "atmgw.test", MinVersion: min, MaxVersion: max}
		if cert != nil {
			c.Certificates = []tls.Certificate{*cert}
		}
		return c
	}
	stan := 0
	signOn := func(c *testclient.Client, inst string) string {
		t.Helper()
		stan++
		m := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: stanOf(stan), Institution: inst, NetworkCode: "001"}
		r, err := c.Do(m, nil, 5*time.Second)
		if err != nil {
			t.Fatalf("sign-on %s: %v", inst, err)
		}
		return r.ResponseCode
	}

	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			c, err := testclient.DialTLS(gw.TLSAddr, client(&post, v.ver, v.ver))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if rc := signOn(c, "005"); rc != "05" {
				t.Errorf("post's certificate signing on as 005: %s, want 05", rc)
			}
			if !c.Closed(5 * time.Second) {
				t.Fatal("the connection of a refused sign-on was kept")
			}
			c, err = testclient.DialTLS(gw.TLSAddr, client(&post, v.ver, v.ver))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if rc := signOn(c, "700"); rc != "00" {
				t.Errorf("post's certificate signing on as 700: %s, want 00", rc)
			}
			r := &rig{stan: 900 + int(v.ver)}
			resp, err := c.Do(r.request("700", panPost, "380000"), nil, 5*time.Second)
			if err != nil || resp.ResponseCode != "00" {
				t.Fatalf("inquiry over TLS: %v %+v", err, resp)
			}
		})
	}
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		if c, err := testclient.DialTLS(gw.TLSAddr, client(&post, tls.VersionTLS10, tls.VersionTLS11)); err == nil {
			c.Close()
			t.Fatal("TLS 1.1 accepted")
		}
	})
	t.Run("certificates", func(t *testing.T) {
		// A certificate of the partner CA bound to nobody can sign on as an
		// unbound partner, not as one that requires its certificate.
		c, err := testclient.DialTLS(gw.TLSAddr, client(&fubon, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if rc := signOn(c, "700"); rc != "05" {
			t.Errorf("unbound certificate as 700: %s, want 05", rc)
		}
		if !c.Closed(5 * time.Second) {
			t.Fatal("the connection of a refused sign-on was kept")
		}
		c, err = testclient.DialTLS(gw.TLSAddr, client(&fubon, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if rc := signOn(c, "012"); rc != "00" {
			t.Errorf("unbound certificate as 012 (no cert_names): %s, want 00", rc)
		}
		c2, err := testclient.DialTLS(gw.TLSAddr, client(&land, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		if rc := signOn(c2, "005"); rc != "00" {
			t.Errorf("land bank's certificate as 005: %s", rc)
		}
		// No certificate, or one of another CA: the handshake fails.
		for name, cert := range map[string]*tls.Certificate{"none": nil, "rogue CA": &rogue} {
			c, err := testclient.DialTLS(gw.TLSAddr, client(cert, 0, 0))
			if err == nil {
				// TLS 1.3 reports a refused client certificate on the first read.
				echo := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000777", Institution: "700", NetworkCode: "301"}
				if _, err = c.Do(echo, nil, 5*time.Second); err == nil {
					t.Errorf("client certificate %s accepted", name)
				}
				c.Close()
			}
		}
	})
	t.Run("plain connection cannot sign on as a certificate-bound partner", func(t *testing.T) {
		c, err := testclient.Dial(gw.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if rc := signOn(c, "700"); rc != "05" {
			t.Errorf("plain sign-on as 700: %s, want 05", rc)
		}
		if !c.Closed(5 * time.Second) {
			t.Fatal("the connection of a refused sign-on was kept")
		}
		c, err = testclient.Dial(gw.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if rc := signOn(c, "808"); rc != "00" {
			t.Errorf("plain sign-on as 808: %s, want 00", rc)
		}
	})
}
