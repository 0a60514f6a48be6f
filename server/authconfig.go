package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gokeeper/gokeeper/jute"
)

// Authentication providers from ZooKeeper's settings. ZooKeeper loads a
// Java class for each authProvider.N (zookeeper.authProvider.N) and files
// it under the scheme it reports; gokeeper knows ZooKeeper's own classes
// and refuses any other rather than start with different ACL semantics.

// Schemes of the providers beyond ip and digest.
const (
	SchemeX509 = "x509"
	SchemeSASL = "sasl"
)

// authProviderClasses maps ZooKeeper's provider classes to their scheme.
var authProviderClasses = map[string]string{
	"org.apache.zookeeper.server.auth.IPAuthenticationProvider":     SchemeIP,
	"org.apache.zookeeper.server.auth.DigestAuthenticationProvider": SchemeDigest,
	"org.apache.zookeeper.server.auth.X509AuthenticationProvider":   SchemeX509,
	"org.apache.zookeeper.server.auth.SASLAuthenticationProvider":   SchemeSASL,
}

// sysBool reads a system property as Java's Boolean.parseBoolean: true
// only for "true" in any case; def when unset.
func (c Config) sysBool(key string, def bool) bool {
	v, ok := c.SystemProperties[key]
	if !ok {
		return def
	}
	return strings.EqualFold(strings.TrimSpace(v), "true")
}

// AuthRegistryFromConfig builds the scheme registry cfg selects: ip;
// digest unless DigestAuthenticationProvider.enabled is false; x509 when
// there is a secure client port (ZooKeeper's configureSSLAuth) or an
// authProvider.N names it; sasl when an authProvider.N names it.
func AuthRegistryFromConfig(cfg Config) (*AuthRegistry, error) {
	schemes := map[string]bool{SchemeIP: true, SchemeDigest: cfg.sysBool("DigestAuthenticationProvider.enabled", true)}
	var keys []string
	for k := range cfg.SystemProperties {
		if strings.HasPrefix(k, "authProvider.") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		class := strings.TrimSpace(cfg.SystemProperties[k])
		scheme, ok := authProviderClasses[class]
		if !ok {
			return nil, configErr(k, class, "not one of ZooKeeper's auth providers (IP, Digest, X509, SASL AuthenticationProvider): gokeeper cannot load a Java class")
		}
		schemes[scheme] = true
	}
	if v, ok := cfg.SystemProperties["ssl.authProvider"]; ok && strings.TrimSpace(v) != SchemeX509 {
		return nil, configErr("ssl.authProvider", v, "only x509 (X509AuthenticationProvider) authenticates TLS clients in gokeeper")
	}
	if cfg.SecureClientPort != 0 {
		schemes[SchemeX509] = true
	}
	var ps []AuthProvider
	for s := range schemes {
		switch {
		case !schemes[s]:
		case s == SchemeIP:
			ps = append(ps, IPAuthProvider{})
		case s == SchemeDigest:
			ps = append(ps, DigestAuthProvider{})
		case s == SchemeSASL:
			ps = append(ps, SASLAuthProvider{LetAnyUserDoX: cfg.SystemProperties["letAnySaslUserDoX"]})
		case s == SchemeX509:
			ps = append(ps, X509AuthProvider{SuperUser: cfg.SystemProperties["X509AuthenticationProvider.superUser"]})
		}
	}
	return NewAuthRegistry(ps...), nil
}

// X509AuthProvider is ZooKeeper's X509AuthenticationProvider: a client's
// TLS certificate (verified against the trust store during the
// handshake) makes its subject, as Java prints it, the session's x509
// id. A client whose subject is SuperUser
// (zookeeper.X509AuthenticationProvider.superUser) is also a superuser,
// and its x509 id matches every x509 ACL.
type X509AuthProvider struct {
	SuperUser string
}

// Scheme returns "x509".
func (X509AuthProvider) Scheme() string { return SchemeX509 }

// Authenticate takes the id from the connection's certificate; the auth
// bytes are ignored, as in ZooKeeper. A connection without a certificate
// fails.
func (p X509AuthProvider) Authenticate(a *AuthAttempt) ([]jute.Id, jute.Code) {
	if len(a.PeerCertificates) == 0 {
		return nil, jute.CodeAuthFailed
	}
	id, err := X509SubjectName(a.PeerCertificates[0].RawSubject)
	if err != nil {
		return nil, jute.CodeAuthFailed
	}
	ids := []jute.Id{}
	if p.SuperUser != "" && id == p.SuperUser {
		ids = append(ids, jute.Id{Scheme: SchemeSuper, Id: id})
	}
	return append(ids, jute.Id{Scheme: SchemeX509, Id: id}), jute.CodeOK
}

// IsAuthenticated returns true.
func (X509AuthProvider) IsAuthenticated() bool { return true }

// IsValid reports whether id parses as a distinguished name.
func (X509AuthProvider) IsValid(id string) bool { return validX500Name(id) }

// Matches compares the names exactly; the superuser's matches any.
func (p X509AuthProvider) Matches(id, aclExpr string) bool {
	return id == aclExpr || (p.SuperUser != "" && id == p.SuperUser)
}

// UserName returns id.
func (X509AuthProvider) UserName(id string) string { return id }

// ErrTLSAuth is returned when a client's certificate is refused.
var ErrTLSAuth = errors.New("server: client certificate refused")

// AuthenticateTLS returns the ids a secure connection's client
// certificate chain (leaf first) earns, ZooKeeper's CertificateVerifier:
// none without a certificate; those of the x509 provider otherwise, or
// ErrTLSAuth when it refuses it, which the caller counts (AuthFailed) and
// answers by closing the connection.
func (s *Server) AuthenticateTLS(chain []*x509.Certificate, remoteIP string) ([]jute.Id, error) {
	if len(chain) == 0 {
		return nil, nil
	}
	p := s.prepO.authRegistry().Provider(SchemeX509)
	if p == nil {
		return nil, fmt.Errorf("%w: no x509 auth provider", ErrTLSAuth)
	}
	ids, code := p.Authenticate(&AuthAttempt{RemoteIP: remoteIP, PeerCertificates: chain})
	if code != jute.CodeOK {
		return nil, fmt.Errorf("%w: %v", ErrTLSAuth, code)
	}
	return ids, nil
}

// AddAuth adds ids to the connection's authenticated ids (those a TLS
// certificate earned before the session was attached).
func (c *Client) AddAuth(ids []jute.Id) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	auth := append([]jute.Id(nil), c.mu.auth...)
	for _, id := range ids {
		dup := false
		for _, have := range auth {
			dup = dup || have == id
		}
		if !dup {
			auth = append(auth, id)
		}
	}
	c.mu.auth = auth
	c.mu.Unlock()
}
