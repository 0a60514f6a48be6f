package zktls_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/internal/zktls"
	"github.com/gokeeper/gokeeper/internal/zktls/zktlstest"
)

// pki is a CA, a server certificate for loopback and a client
// certificate, each written in every store format.
type pki struct {
	ca, other      *zktlstest.CA
	server, client *zktlstest.Cert
	dir            string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := zktlstest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := zktlstest.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "server"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "client"}})
	if err != nil {
		t.Fatal(err)
	}
	return &pki{ca: ca, other: other, server: srv, client: cli, dir: t.TempDir()}
}

// stores writes the server's key store and the CA's trust store in
// format and returns the properties naming them.
func (p *pki) stores(t *testing.T, format string) map[string]string {
	t.Helper()
	ks := filepath.Join(p.dir, "server-"+format)
	ts := filepath.Join(p.dir, "trust-"+format)
	switch format {
	case "jks":
		zktlstest.WriteFile(ks+".jks", zktlstest.Must(p.server.KeyStoreJKS("kspass")))
		zktlstest.WriteFile(ts+".jks", zktlstest.Must(zktlstest.TrustStoreJKS("tspass", p.ca.Cert)))
	case "p12":
		zktlstest.WriteFile(ks+".p12", zktlstest.Must(p.server.KeyStorePKCS12("kspass")))
		zktlstest.WriteFile(ts+".p12", zktlstest.Must(zktlstest.TrustStorePKCS12("tspass", p.ca.Cert)))
	case "pem":
		zktlstest.WriteFile(ks+".pem", zktlstest.Must(p.server.KeyStorePEM()))
		zktlstest.WriteFile(ts+".pem", zktlstest.TrustStorePEM(p.ca.Cert))
	}
	return map[string]string{
		"ssl.keyStore.location":   ks + "." + format,
		"ssl.keyStore.password":   "kspass",
		"ssl.trustStore.location": ts + "." + format,
		"ssl.trustStore.password": "tspass",
	}
}

func options(t *testing.T, props map[string]string) (zktls.Options, error) {
	t.Helper()
	return zktls.FromProperties("ssl.", func(k string) (string, bool) { v, ok := props[k]; return v, ok })
}

// handshake runs a TLS handshake of a Go client with cert (nil: none)
// against a server configured by props, and returns the server's error.
func (p *pki) handshake(t *testing.T, props map[string]string, cert *zktlstest.Cert) error {
	t.Helper()
	o, err := options(t, props)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := o.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	ccfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	if cert != nil {
		// NB: sent whatever CAs the server names, as a misconfigured
		// client would.
		ccfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &tls.Certificate{Certificate: [][]byte{cert.Cert.Raw}, PrivateKey: cert.Key}, nil
		}
	}
	done := make(chan error, 1)
	go func() {
		c := tls.Client(a, ccfg)
		err := c.Handshake()
		if err == nil {
			_, err = c.Read(make([]byte, 1)) // NB: TLS 1.3 reports a refused client cert on the first read
		}
		a.Close()
		done <- err
	}()
	s := tls.Server(b, cfg)
	serr := s.Handshake()
	if serr == nil {
		s.Write([]byte{1})
	}
	b.Close()
	<-done
	return serr
}

func TestStoreFormats(t *testing.T) {
	p := newPKI(t)
	for _, format := range []string{"jks", "p12", "pem"} {
		t.Run(format, func(t *testing.T) {
			props := p.stores(t, format)
			if err := p.handshake(t, props, p.client); err != nil {
				t.Fatalf("client with a trusted certificate refused: %v", err)
			}
			if err := p.handshake(t, props, nil); err == nil {
				t.Fatal("clientAuth=need accepted a client without a certificate")
			}
			props["ssl.clientAuth"] = "want"
			if err := p.handshake(t, props, nil); err != nil {
				t.Fatalf("clientAuth=want refused a client without a certificate: %v", err)
			}
			stranger, err := p.other.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "stranger"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.handshake(t, props, stranger); err == nil {
				t.Fatal("clientAuth=want accepted a certificate of an unknown CA")
			}
			props["ssl.clientAuth"] = "none"
			if err := p.handshake(t, props, stranger); err != nil {
				t.Fatalf("clientAuth=none refused a client: %v", err)
			}
		})
	}
}

// TestBadStores checks that each mistake is refused with the key named.
func TestBadStores(t *testing.T) {
	p := newPKI(t)
	for _, format := range []string{"jks", "p12", "pem"} {
		for _, tc := range []struct {
			name, key, value, want string
		}{
			{"wrong key store password", "ssl.keyStore.password", "nope", "ssl.keyStore.location"},
			{"wrong trust store password", "ssl.trustStore.password", "nope", "ssl.trustStore.location"},
			{"missing key store", "ssl.keyStore.location", "/nonexistent/ks.jks", "ssl.keyStore.location"},
			{"bad type", "ssl.keyStore.type", "BKS", "ssl.keyStore.type"},
			{"bad clientAuth", "ssl.clientAuth", "maybe", "ssl.clientAuth"},
			{"bad protocol", "ssl.protocol", "SSLv3", "ssl.protocol"},
			{"ocsp", "ssl.ocsp", "true", "ssl.ocsp"},
		} {
			if format == "pem" && strings.Contains(tc.name, "password") {
				continue // NB: an unencrypted PEM store needs no password
			}
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				props := p.stores(t, format)
				props[tc.key] = tc.value
				o, err := options(t, props)
				if err == nil {
					_, _, err = o.ServerConfig()
				}
				if err == nil || !errors.Is(err, zktls.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an error naming %s", err, tc.want)
				}
				if strings.Contains(err.Error(), "kspass") || strings.Contains(err.Error(), "tspass") {
					t.Fatalf("error shows a password: %v", err)
				}
			})
		}
	}
}

func TestProtocolsAndCiphers(t *testing.T) {
	p := newPKI(t)
	props := p.stores(t, "pem")
	props["ssl.protocol"] = "TLSv1.2"
	props["ssl.ciphersuites"] = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"
	o, err := options(t, props)
	if err != nil {
		t.Fatal(err)
	}
	cfg, notes, err := o.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS12 {
		t.Errorf("versions %x..%x, want TLS 1.2 only", cfg.MinVersion, cfg.MaxVersion)
	}
	if len(cfg.CipherSuites) != 1 || cfg.CipherSuites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Errorf("cipher suites %v", cfg.CipherSuites)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256") {
		t.Errorf("notes %q should name the suite Go lacks", notes)
	}
	if err := p.handshake(t, props, p.client); err != nil {
		t.Fatal(err)
	}
	props["ssl.enabledProtocols"] = "TLSv1.3,TLSv1.2"
	o, _ = options(t, props)
	if cfg, _, _ = o.ServerConfig(); cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS13 {
		t.Errorf("enabledProtocols: versions %x..%x", cfg.MinVersion, cfg.MaxVersion)
	}
}

// TestCRL revokes the client's certificate in a CRL served over HTTP.
func TestCRL(t *testing.T) {
	p := newPKI(t)
	var crl []byte
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(crl) }))
	defer hs.Close()
	good, err := p.ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "good"}, CRLURLs: []string{hs.URL + "/ca.crl"}})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := p.ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "bad"}, CRLURLs: []string{hs.URL + "/ca.crl"}})
	if err != nil {
		t.Fatal(err)
	}
	if crl, err = p.ca.CRL(bad.Cert); err != nil {
		t.Fatal(err)
	}
	props := p.stores(t, "pem")
	props["ssl.crl"] = "true"
	if err := p.handshake(t, props, good); err != nil {
		t.Fatalf("unrevoked certificate refused: %v", err)
	}
	if err := p.handshake(t, props, bad); !errors.Is(err, zktls.ErrRevoked) {
		t.Fatalf("revoked certificate: got %v, want ErrRevoked", err)
	}
	if err := p.handshake(t, props, p.client); err == nil {
		t.Fatal("a certificate without CRL distribution point passed with ssl.crl=true")
	}
}

func TestClientHostnameVerification(t *testing.T) {
	p := newPKI(t)
	props := p.stores(t, "pem")
	props["ssl.clientHostnameVerification"] = "true"
	// NB: net.Pipe's address is "pipe", which no certificate names.
	if err := p.handshake(t, props, p.client); err == nil || !strings.Contains(err.Error(), "hostname") {
		t.Fatalf("got %v, want a hostname verification failure", err)
	}
	props["ssl.hostnameVerification"] = "false"
	if err := p.handshake(t, props, p.client); err != nil {
		t.Fatalf("hostnameVerification=false still verified: %v", err)
	}
}
