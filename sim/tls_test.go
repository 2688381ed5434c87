package sim

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/testpki"
	"github.com/bli/atmgw/iso"
)

// TestDialTLS signs on over TLS with a client certificate, as a partner on
// the gateway's TLS listener does.
func TestDialTLS(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	server, _, _ := ca.Issue(t, "gateway", true)
	client, _, _ := ca.Issue(t, "partner-700", false)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)

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
