package zktls_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/gokeeper/gokeeper/internal/zktls"
	"github.com/gokeeper/gokeeper/internal/zktls/zktlstest"
)

// quorumProps writes cert's key store and ca's trust store and returns the
// ssl.quorum.* properties naming them.
func quorumProps(t *testing.T, dir, name string, cert *zktlstest.Cert, ca *zktlstest.CA) map[string]string {
	t.Helper()
	return map[string]string{
		"ssl.quorum.keyStore.location":   zktlstest.WriteFile(filepath.Join(dir, name+".p12"), zktlstest.Must(cert.KeyStorePKCS12("pw"))),
		"ssl.quorum.keyStore.password":   "pw",
		"ssl.quorum.trustStore.location": zktlstest.WriteFile(filepath.Join(dir, name+"-trust.jks"), zktlstest.Must(zktlstest.TrustStoreJKS("pw", ca.Cert))),
		"ssl.quorum.trustStore.password": "pw",
	}
}

// TestQuorumMutualTLS dials a quorum server over loopback TCP with the
// client side of the same settings: both ends must present a certificate
// the other trusts that names 127.0.0.1, unless hostnameVerification is
// off.
func TestQuorumMutualTLS(t *testing.T) {
	p := newPKI(t)
	noSAN, err := p.ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "no address"}})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := p.other.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "stranger"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		server, dial *zktlstest.Cert
		noHostCheck  bool
		ok           bool
	}{
		{"both named and trusted", p.server, p.server, false, true},
		{"server certificate without the address", noSAN, p.server, false, false},
		{"client certificate without the address", p.server, noSAN, false, false},
		{"no address, hostnameVerification=false", noSAN, noSAN, true, true},
		{"client from another CA", p.server, stranger, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := func(cert *zktlstest.Cert, name string) zktls.Options {
				props := quorumProps(t, p.dir, name, cert, p.ca)
				if tc.noHostCheck {
					props["ssl.quorum.hostnameVerification"] = "false"
				}
				o, err := zktls.FromProperties(zktls.QuorumPrefix, func(k string) (string, bool) { v, ok := props[k]; return v, ok })
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			scfg, _, err := opts(tc.server, "srv").ServerConfig()
			if err != nil {
				t.Fatal(err)
			}
			cl, _, err := opts(tc.dial, "dial").ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			srvErr := make(chan error, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					srvErr <- err
					return
				}
				s := tls.Server(nc, scfg)
				err = s.Handshake()
				if err == nil {
					_, err = s.Write([]byte{1})
				}
				s.Close()
				srvErr <- err
			}()
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c := tls.Client(nc, cl.Config("127.0.0.1", "127.0.0.1"))
			cerr := c.Handshake()
			if cerr == nil {
				_, cerr = c.Read(make([]byte, 1)) // NB: TLS 1.3 reports a refused client cert on the first read
			}
			c.Close()
			serr := <-srvErr
			if tc.ok != (cerr == nil && serr == nil) {
				t.Fatalf("dialer: %v; server: %v; want success %v", cerr, serr, tc.ok)
			}
			if tc.server == noSAN && !tc.noHostCheck && !errors.Is(cerr, zktls.ErrServerCert) {
				t.Fatalf("dialer: %v, want ErrServerCert", cerr)
			}
		})
	}
}
