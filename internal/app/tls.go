package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/bli/atmgw/internal/config"
)

// tls12Suites are the only TLS 1.2 cipher suites the listener accepts:
// ECDHE key exchange with an AEAD cipher (AES-GCM, ChaCha20-Poly1305), as
// in Mozilla's "intermediate" profile. CBC and SHA-1 suites, and static
// RSA key exchange, are refused. TLS 1.3's suites are all AEAD, and Go
// does not let them be configured.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig builds the TLS listener's configuration: the gateway's
// certificate, TLS 1.2 (AEAD suites only, tls12Suites) or 1.3 at least as
// configured, and client certificates required and verified against the
// partner CA.
func TLSConfig(c *config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
	}
	pem, err := os.ReadFile(c.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("tls.client_ca_file: no PEM certificate in " + c.ClientCAFile)
	}
	min := uint16(tls.VersionTLS12)
	if c.MinVersion == "1.3" {
		min = tls.VersionTLS13
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   min,
		CipherSuites: tls12Suites,
	}, nil
}
