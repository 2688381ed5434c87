package sim

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/bli/atmgw/iso"
)

func issue(t *testing.T, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{name},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	parent, signer := tmpl, key
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		parent, signer = ca, caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, c
}

// TestDialTLS signs on over TLS with a client certificate, as a partner on
// the gateway's TLS listener does.
func TestDialTLS(t *testing.T) {
	caTLS, ca := issue(t, "test CA", nil, nil, 0)
	caKey := caTLS.PrivateKey.(*ecdsa.PrivateKey)
	server, _ := issue(t, "gateway", ca, caKey, x509.ExtKeyUsageServerAuth)
	client, _ := issue(t, "partner-700", ca, caKey, x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		f, err := iso.ReadFrame(br, nil)
		if err != nil {
			peer <- "no frame: " + err.Error()
			return
		}
		m, _ := iso.Decode(f)
		peer <- c.(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName
		b, _ := iso.Encode(&iso.Message{MTI: "0810", STAN: m.STAN, TransmissionTime: m.TransmissionTime,
			Institution: m.Institution, ResponseCode: "00", NetworkCode: m.NetworkCode})
		iso.WriteFrame(c, b)
		br.ReadByte() // until the client closes
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := Dial(ctx, l.Addr().String(), ConnOptions{Institution: "700",
		TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SignOn(ctx); err != nil {
		t.Fatal(err)
	}
	if cn := <-peer; cn != "partner-700" {
		t.Errorf("the server saw client %q", cn)
	}
}
