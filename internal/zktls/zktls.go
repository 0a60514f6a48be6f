// Package zktls turns ZooKeeper's ssl.* settings into a Go TLS
// configuration: the key store and trust store files in the formats
// ZooKeeper reads (JKS, PKCS12, PEM), the client-auth mode, the protocol
// versions and cipher suites, and revocation by CRL. It is a leaf package:
// the client port (wire) uses it with the prefix "ssl.", the quorum and
// election ports with "ssl.quorum." (QuorumPrefix).
//
// The keys, their defaults and their meaning are those of ZooKeeper's
// X509Util and SSLContextAndOptions; every error names the key at fault,
// so that a bad store or password stops the start with a message an
// operator can act on.
package zktls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrConfig is wrapped by every error about a bad ssl.* setting.
var ErrConfig = errors.New("zktls: invalid TLS configuration")

// KeyError is a bad value of one key.
type KeyError struct {
	// Key is the zoo.cfg key, prefix included ("ssl.keyStore.location").
	Key string
	// Value is the value as written, or the file it names; empty when the
	// key is missing. Passwords are never put here.
	Value string
	// Reason says what is wrong.
	Reason string
}

// Error names the key, the value and the reason.
func (e *KeyError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("invalid value %q for %s: %s", e.Value, e.Key, e.Reason)
}

// Unwrap makes errors.Is(err, ErrConfig) hold.
func (e *KeyError) Unwrap() error { return ErrConfig }

// ClientAuth is ssl.clientAuth: whether a server asks its clients for a
// certificate.
type ClientAuth int

const (
	// ClientAuthNeed requires a certificate the trust store vouches for
	// (ZooKeeper's default, "need").
	ClientAuthNeed ClientAuth = iota
	// ClientAuthWant asks for one and verifies it if given, but lets a
	// client without one in ("want").
	ClientAuthWant
	// ClientAuthNone asks for none ("none").
	ClientAuthNone
)

// String returns the value as ZooKeeper spells it.
func (a ClientAuth) String() string {
	switch a {
	case ClientAuthWant:
		return "want"
	case ClientAuthNone:
		return "none"
	}
	return "need"
}

// Options are the ssl.* settings of one TLS endpoint. Build them with
// FromProperties; the zero value (with Prefix) is ZooKeeper's default.
type Options struct {
	// Prefix is the prefix of the keys, "ssl." for the client port; every
	// error names Prefix+key.
	Prefix string

	// KeyStoreLocation (keyStore.location) is the file holding this end's
	// private key and certificate chain; KeyStorePassword
	// (keyStore.password, or the content of keyStore.passwordPath) opens
	// it; KeyStoreType (keyStore.type: JKS, PKCS12, PEM) is taken from
	// the file name's extension (.jks, .p12, .pem) when empty.
	KeyStoreLocation, KeyStorePassword, KeyStoreType string
	// TrustStoreLocation, TrustStorePassword and TrustStoreType are the
	// same for the certificates a peer's chain must lead to. Without a
	// trust store the system's roots are used, as Java uses its cacerts.
	TrustStoreLocation, TrustStorePassword, TrustStoreType string

	// ClientAuth is ssl.clientAuth (need, want or none; default need).
	ClientAuth ClientAuth
	// Protocol is ssl.protocol: the newest version offered, and the
	// enabled versions when EnabledProtocols is empty: TLSv1.3 (the
	// default) enables TLSv1.3 and TLSv1.2, TLSv1.2 enables TLSv1.2 only,
	// as Java's SSLContext defaults do.
	Protocol string
	// EnabledProtocols is ssl.enabledProtocols, comma separated.
	EnabledProtocols []string
	// CipherSuites is ssl.ciphersuites, comma separated IANA names (Java
	// and Go share them). Go does not let TLS 1.3 suites be chosen:
	// those names are accepted and have no effect.
	CipherSuites []string
	// HostnameVerification is ssl.hostnameVerification (default true);
	// ClientHostnameVerification is ssl.clientHostnameVerification
	// (default false): together they make a server check that a client's
	// certificate names the address the client connects from, as
	// ZooKeeper 3.9's ZKTrustManager does. A client port never checks
	// it otherwise; the quorum's default is true (QuorumX509Util), so
	// there hostnameVerification alone decides, as in ZooKeeper 3.8.
	HostnameVerification, ClientHostnameVerification bool
	// CRL is ssl.crl: a peer certificate is checked against the CRLs its
	// chain's CRL distribution points name (http, https and file URLs),
	// fetched and cached until their next update.
	CRL bool
	// OCSP is ssl.ocsp. Go's TLS stack has no OCSP client: Validate
	// refuses it rather than start without the revocation checks asked for.
	OCSP bool
	// HandshakeTimeout bounds a TLS handshake; 0 means 10 s. ZooKeeper's
	// ssl.handshakeDetectionTimeoutMillis only bounds the port-unification
	// sniff; gokeeper uses it for that too.
	HandshakeTimeout time.Duration
}

// Key returns the full name of key under o's prefix.
func (o Options) Key(key string) string { return o.Prefix + key }

func (o Options) errorf(key, value, format string, args ...any) error {
	return &KeyError{Key: o.Key(key), Value: value, Reason: fmt.Sprintf(format, args...)}
}

// Properties are the keys FromProperties reads, without the prefix.
var Properties = []string{
	"keyStore.location", "keyStore.password", "keyStore.passwordPath", "keyStore.type",
	"trustStore.location", "trustStore.password", "trustStore.passwordPath", "trustStore.type",
	"clientAuth", "protocol", "enabledProtocols", "ciphersuites", "hostnameVerification",
	"clientHostnameVerification", "allowReverseDnsLookup", "crl", "ocsp",
	"handshakeDetectionTimeoutMillis", "context.supplier.class",
}

// FromProperties reads the settings under prefix through get, which looks
// a key up (prefix included) and reports whether it is set. Booleans
// follow Java's Boolean.parseBoolean: "true" in any case is true, anything
// else false. A password path is read here: a missing file is an error.
func FromProperties(prefix string, get func(key string) (string, bool)) (Options, error) {
	o := Options{Prefix: prefix, HostnameVerification: true}
	str := func(k string) string {
		v, _ := get(prefix + k)
		return strings.TrimSpace(v)
	}
	boolean := func(k string, def bool) bool {
		v, ok := get(prefix + k)
		if !ok {
			return def
		}
		return strings.EqualFold(strings.TrimSpace(v), "true")
	}
	if v := str("context.supplier.class"); v != "" {
		return o, o.errorf("context.supplier.class", v, "a Java class cannot supply gokeeper's TLS context; use the keyStore/trustStore keys")
	}
	var err error
	o.KeyStoreLocation = str("keyStore.location")
	if o.KeyStorePassword, err = o.password("keyStore", get); err != nil {
		return o, err
	}
	o.KeyStoreType = str("keyStore.type")
	o.TrustStoreLocation = str("trustStore.location")
	if o.TrustStorePassword, err = o.password("trustStore", get); err != nil {
		return o, err
	}
	o.TrustStoreType = str("trustStore.type")
	switch v := str("clientAuth"); strings.ToLower(v) {
	case "", "need":
		o.ClientAuth = ClientAuthNeed
	case "want":
		o.ClientAuth = ClientAuthWant
	case "none":
		o.ClientAuth = ClientAuthNone
	default:
		return o, o.errorf("clientAuth", v, "not need, want or none")
	}
	o.Protocol = str("protocol")
	o.EnabledProtocols = splitList(str("enabledProtocols"))
	o.CipherSuites = splitList(str("ciphersuites"))
	o.HostnameVerification = boolean("hostnameVerification", true)
	o.ClientHostnameVerification = boolean("clientHostnameVerification", prefix == QuorumPrefix)
	o.CRL = boolean("crl", false)
	o.OCSP = boolean("ocsp", false)
	if v := str("handshakeDetectionTimeoutMillis"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil {
			return o, o.errorf("handshakeDetectionTimeoutMillis", v, "not an integer")
		}
		if ms >= 1 { // NB: ZooKeeper falls back to its default below 1
			o.HandshakeTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	return o, nil
}

// password returns store.password, or the content of store.passwordPath
// (which wins, as in ZooKeeper), without one final line separator.
func (o Options) password(store string, get func(string) (string, bool)) (string, error) {
	pw, _ := get(o.Key(store + ".password"))
	path, _ := get(o.Key(store + ".passwordPath"))
	if path = strings.TrimSpace(path); path == "" {
		return pw, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", o.errorf(store+".passwordPath", path, "%v", err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// protocolVersions maps Java's protocol names to Go's versions.
var protocolVersions = map[string]uint16{
	"TLSv1":   tls.VersionTLS10,
	"TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12,
	"TLSv1.3": tls.VersionTLS13,
}

// versions returns the lowest and highest enabled protocol versions.
func (o Options) versions() (minV, maxV uint16, err error) {
	if len(o.EnabledProtocols) > 0 {
		for _, p := range o.EnabledProtocols {
			v, ok := protocolVersions[p]
			if !ok {
				return 0, 0, o.errorf("enabledProtocols", strings.Join(o.EnabledProtocols, ","), "unknown protocol %q (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", p)
			}
			if minV == 0 || v < minV {
				minV = v
			}
			maxV = max(maxV, v)
		}
		return minV, maxV, nil
	}
	switch p := o.Protocol; p {
	case "", "TLS", "TLSv1.3":
		return tls.VersionTLS12, tls.VersionTLS13, nil
	default:
		v, ok := protocolVersions[p]
		if !ok {
			return 0, 0, o.errorf("protocol", p, "unknown protocol (TLS, TLSv1.2, TLSv1.3, ...)")
		}
		return v, v, nil
	}
}

// cipherSuites returns the ids of the configured TLS 1.0-1.2 suites (nil:
// Go's defaults) and the names it skipped because Go does not have them.
func (o Options) cipherSuites() (ids []uint16, skipped []string, err error) {
	if len(o.CipherSuites) == 0 {
		return nil, nil, nil
	}
	byName := map[string]*tls.CipherSuite{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[cs.Name] = cs
	}
	tls13 := false
	for _, name := range o.CipherSuites {
		cs, ok := byName[name]
		switch {
		case !ok:
			skipped = append(skipped, name)
		case slices.Equal(cs.SupportedVersions, []uint16{tls.VersionTLS13}):
			tls13 = true // NB: always on in Go; nothing to select
		default:
			ids = append(ids, cs.ID)
		}
	}
	if len(ids) == 0 && !tls13 {
		return nil, skipped, o.errorf("ciphersuites", strings.Join(o.CipherSuites, ","), "none of these cipher suites is available in Go's TLS")
	}
	return ids, skipped, nil
}
