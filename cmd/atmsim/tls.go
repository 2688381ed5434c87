package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// tlsFlags are the TLS options of the commands that connect.
type tlsFlags struct {
	ca, cert, key, serverName *string
	on                        *bool
}

func addTLSFlags(fs *cmdFlags) *tlsFlags {
	return &tlsFlags{
		on:         fs.Bool("tls", false, "connect with TLS (implied by --tls-ca)"),
		ca:         fs.String("tls-ca", "", "PEM `file` of the CA that signed the gateway's certificate (default: the system's)"),
		cert:       fs.String("tls-cert", "", "PEM `file` of the partner's client certificate"),
		key:        fs.String("tls-key", "", "PEM `file` of the client certificate's private key"),
		serverName: fs.String("tls-server-name", "", "name to verify the gateway's certificate against (default: the host of --gateway)"),
	}
}

// config returns the TLS configuration, nil for plain TCP.
func (t *tlsFlags) config() (*tls.Config, error) {
	if !*t.on && *t.ca == "" && *t.cert == "" && *t.key == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: *t.serverName}
	if *t.ca != "" {
		pem, err := os.ReadFile(*t.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", *t.ca)
		}
		c.RootCAs = pool
	}
	if (*t.cert == "") != (*t.key == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if *t.cert != "" {
		kp, err := tls.LoadX509KeyPair(*t.cert, *t.key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c, nil
}
