package zktls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultHandshakeTimeout bounds a handshake when Options.HandshakeTimeout
// is 0 (Netty's SslHandler default).
const DefaultHandshakeTimeout = 10 * time.Second

// ServerConfig loads the stores and returns the TLS configuration of a
// server endpoint, and notes for the start-up log (settings that Go
// cannot honour exactly). Every error names the key at fault.
func (o Options) ServerConfig() (*tls.Config, []string, error) {
	if o.OCSP {
		return nil, nil, o.errorf("ocsp", "true", "OCSP is not supported (Go's TLS has no OCSP client); use %s with CRL distribution points, or remove it", o.Key("crl"))
	}
	certs, err := o.LoadKeyStore()
	if err != nil {
		return nil, nil, err
	}
	trusted, err := o.LoadTrustStore()
	if err != nil {
		return nil, nil, err
	}
	minV, maxV, err := o.versions()
	if err != nil {
		return nil, nil, err
	}
	suites, skipped, err := o.cipherSuites()
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	if len(skipped) > 0 {
		notes = append(notes, fmt.Sprintf("%s: %s not available in Go's TLS, left out", o.Key("ciphersuites"), strings.Join(skipped, ",")))
	}
	cfg := &tls.Config{
		Certificates: certs,
		MinVersion:   minV,
		MaxVersion:   maxV,
		CipherSuites: suites,
	}
	if trusted != nil {
		cfg.ClientCAs = x509.NewCertPool()
		for _, c := range trusted {
			cfg.ClientCAs.AddCert(c)
		}
	}
	switch o.ClientAuth {
	case ClientAuthNeed:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthWant:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthNone:
		cfg.ClientAuth = tls.NoClientCert
	}
	var crls *crlCache
	if o.CRL {
		crls = newCRLCache()
	}
	checkHost := o.HostnameVerification && o.ClientHostnameVerification && o.ClientAuth != ClientAuthNone
	if crls != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return crls.check(cs.VerifiedChains) }
	}
	if checkHost {
		// NB: the client's address is known per connection only.
		base := cfg.Clone()
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c := base.Clone()
			host, _, _ := net.SplitHostPort(hello.Conn.RemoteAddr().String())
			c.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) > 0 {
					if err := cs.PeerCertificates[0].VerifyHostname(host); err != nil {
						return fmt.Errorf("client hostname verification: %w", err)
					}
				}
				if crls != nil {
					return crls.check(cs.VerifiedChains)
				}
				return nil
			}
			return c, nil
		}
	}
	return cfg, notes, nil
}

// HandshakeDeadline returns the handshake bound o selects.
func (o Options) HandshakeDeadline() time.Duration {
	if o.HandshakeTimeout > 0 {
		return o.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// ErrRevoked is returned for a peer certificate listed in its issuer's CRL.
var ErrRevoked = errors.New("zktls: certificate revoked")

// crlCache fetches the CRLs that certificates' distribution points name
// and keeps each until its next update.
type crlCache struct {
	client *http.Client
	mu     sync.Mutex
	byURL  map[string]*x509.RevocationList
}

func newCRLCache() *crlCache {
	return &crlCache{client: &http.Client{Timeout: 5 * time.Second}, byURL: map[string]*x509.RevocationList{}}
}

// check checks every certificate of the first verified chain but its
// root against the CRL of one of its distribution points, as Java's PKIX
// revocation checker with CRLDP does: a certificate with no distribution
// point, or whose CRL cannot be had, fails (no soft fail).
func (cc *crlCache) check(chains [][]*x509.Certificate) error {
	if len(chains) == 0 {
		return nil // NB: no client certificate (clientAuth=want)
	}
	chain := chains[0]
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		if len(cert.CRLDistributionPoints) == 0 {
			return fmt.Errorf("zktls: could not determine revocation status of %q: no CRL distribution point", cert.Subject)
		}
		var lastErr error
		checked := false
		for _, u := range cert.CRLDistributionPoints {
			crl, err := cc.get(u, issuer)
			if err != nil {
				lastErr = err
				continue
			}
			checked = true
			for _, r := range crl.RevokedCertificateEntries {
				if r.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					return fmt.Errorf("%w: %q (serial %s) by %s", ErrRevoked, cert.Subject, cert.SerialNumber, u)
				}
			}
			break
		}
		if !checked {
			return fmt.Errorf("zktls: could not determine revocation status of %q: %w", cert.Subject, lastErr)
		}
	}
	return nil
}

// get returns the CRL at u, signed by issuer, from the cache while it is
// current.
func (cc *crlCache) get(u string, issuer *x509.Certificate) (*x509.RevocationList, error) {
	cc.mu.Lock()
	crl := cc.byURL[u]
	cc.mu.Unlock()
	if crl == nil || (!crl.NextUpdate.IsZero() && time.Now().After(crl.NextUpdate)) {
		der, err := cc.fetch(u)
		if err != nil {
			return nil, err
		}
		if crl, err = x509.ParseRevocationList(der); err != nil {
			return nil, fmt.Errorf("CRL %s: %w", u, err)
		}
		cc.mu.Lock()
		cc.byURL[u] = crl
		cc.mu.Unlock()
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("CRL %s: %w", u, err)
	}
	return crl, nil
}

func (cc *crlCache) fetch(u string) ([]byte, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	switch pu.Scheme {
	case "file":
		return os.ReadFile(pu.Path)
	case "http", "https":
		resp, err := cc.client.Get(u)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("CRL %s: HTTP %s", u, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	}
	return nil, fmt.Errorf("CRL %s: unsupported URL scheme", u)
}
