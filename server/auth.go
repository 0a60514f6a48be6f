package server

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/gokeeper/gokeeper/jute"
)

// Auth schemes ZooKeeper knows without a provider of its own: "world" (the
// only valid id is "anyone"), "auth" (expands to the creator's authenticated
// ids) and "super" (the superuser, granted by the digest provider when the
// password matches SuperDigest).
const (
	SchemeWorld  = "world"
	SchemeAuth   = "auth"
	SchemeSuper  = "super"
	SchemeDigest = "digest"
	SchemeIP     = "ip"
)

// AuthProvider is one authentication scheme, the shape of ZooKeeper's
// ServerAuthenticationProvider. Implementations must be safe for concurrent
// use: reads check ACLs from many goroutines.
type AuthProvider interface {
	// Scheme returns the scheme name, as in an auth packet and in ACL ids.
	Scheme() string
	// Authenticate handles an auth packet's bytes for a client and returns
	// the ids to add to the session, or CodeAuthFailed.
	Authenticate(a *AuthAttempt) ([]jute.Id, jute.Code)
	// IsAuthenticated reports whether ids of this scheme name an
	// authenticated user; only those are used to expand the "auth" ACL
	// scheme.
	IsAuthenticated() bool
	// IsValid reports whether id is well-formed for an ACL of this scheme.
	IsValid(id string) bool
	// Matches reports whether the session's id (of this scheme) matches an
	// ACL entry's id expression.
	Matches(id, aclExpr string) bool
	// UserName returns the user name whoAmI reports for id.
	UserName(id string) string
}

// AuthAttempt is what a provider gets to authenticate one auth packet.
type AuthAttempt struct {
	// Auth is the auth packet's bytes.
	Auth []byte
	// RemoteIP is the client's address (host, or host:port).
	RemoteIP string
	// SuperDigest is zookeeper.DigestAuthenticationProvider.superDigest
	// ("super:<base64 sha1>"), or "" for none.
	SuperDigest string
	// PeerCertificates is the client's verified TLS certificate chain,
	// leaf first; nil on a plaintext port or without a certificate.
	PeerCertificates []*x509.Certificate
}

// AuthRegistry maps schemes to providers (ZooKeeper's ProviderRegistry). It
// is immutable once built, so it can be shared by every goroutine.
type AuthRegistry struct {
	providers map[string]AuthProvider
}

// NewAuthRegistry returns a registry holding providers; a later provider
// replaces an earlier one of the same scheme.
func NewAuthRegistry(providers ...AuthProvider) *AuthRegistry {
	r := &AuthRegistry{providers: make(map[string]AuthProvider, len(providers))}
	for _, p := range providers {
		r.providers[p.Scheme()] = p
	}
	return r
}

// DefaultAuthRegistry returns ZooKeeper's default providers: ip and digest,
// or ip alone when digestDisabled (zookeeper.DigestAuthenticationProvider.enabled=false).
func DefaultAuthRegistry(digestDisabled bool) *AuthRegistry {
	if digestDisabled {
		return NewAuthRegistry(IPAuthProvider{})
	}
	return NewAuthRegistry(IPAuthProvider{}, DigestAuthProvider{})
}

var (
	authDefaultRegistry         = DefaultAuthRegistry(false)
	authDefaultRegistryNoDigest = DefaultAuthRegistry(true)
)

// Provider returns the provider for scheme, or nil.
func (r *AuthRegistry) Provider(scheme string) AuthProvider {
	if r == nil {
		return nil
	}
	return r.providers[scheme]
}

// Schemes returns the registered schemes in sorted order.
func (r *AuthRegistry) Schemes() []string {
	var out []string
	for s := range r.providers {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Authenticate handles an auth packet (scheme + auth bytes) for a client at
// remoteIP. It returns the Id to add to the session's auth list, or
// CodeAuthFailed for an unknown scheme or a refused credential. When the
// digest password is the superuser's (o.SuperDigest), the Id is {super, ""};
// ZooKeeper then also adds the digest id, which AuthenticateIDs returns.
func Authenticate(scheme string, auth []byte, remoteIP string, o *PrepOptions) (jute.Id, jute.Code) {
	ids, code := AuthenticateIDs(scheme, auth, remoteIP, o)
	if code != jute.CodeOK {
		return jute.Id{}, code
	}
	return ids[0], jute.CodeOK
}

// AuthenticateIDs is Authenticate returning every id ZooKeeper adds to the
// session for the packet: for the superuser's digest, {super ""} then
// {digest user:hash}.
func AuthenticateIDs(scheme string, auth []byte, remoteIP string, o *PrepOptions) ([]jute.Id, jute.Code) {
	p := o.authRegistry().Provider(scheme)
	if p == nil {
		return nil, jute.CodeAuthFailed
	}
	a := &AuthAttempt{Auth: auth, RemoteIP: remoteIP}
	if o != nil {
		a.SuperDigest = o.SuperDigest
	}
	ids, code := p.Authenticate(a)
	if code == jute.CodeOK && len(ids) == 0 {
		code = jute.CodeAuthFailed
	}
	if code != jute.CodeOK {
		return nil, code
	}
	return ids, jute.CodeOK
}

// DigestAuthProvider is ZooKeeper's "digest" scheme: the client sends
// "user:password", the session gets digest:user:base64(sha1("user:password")).
type DigestAuthProvider struct{}

// Scheme returns "digest".
func (DigestAuthProvider) Scheme() string { return SchemeDigest }

// Authenticate never fails, as ZooKeeper's: any bytes yield a digest id,
// preceded by {super ""} when the digest equals a.SuperDigest.
func (DigestAuthProvider) Authenticate(a *AuthAttempt) ([]jute.Id, jute.Code) {
	d := DigestOf(string(a.Auth))
	if a.SuperDigest != "" && d == a.SuperDigest {
		return []jute.Id{{Scheme: SchemeSuper, Id: ""}, {Scheme: SchemeDigest, Id: d}}, jute.CodeOK
	}
	return []jute.Id{{Scheme: SchemeDigest, Id: d}}, jute.CodeOK
}

// IsAuthenticated returns true.
func (DigestAuthProvider) IsAuthenticated() bool { return true }

// IsValid reports whether id splits into exactly two parts on ':' the way
// Java's String.split does (trailing empty parts dropped): "user:hash".
func (DigestAuthProvider) IsValid(id string) bool { return authJavaSplitCount(id, ':') == 2 }

// Matches compares the ids exactly.
func (DigestAuthProvider) Matches(id, aclExpr string) bool { return id == aclExpr }

// UserName returns the part before the first ':'.
func (DigestAuthProvider) UserName(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return id[:i]
	}
	return id
}

// DigestOf returns ZooKeeper's DigestAuthenticationProvider.generateDigest
// of "user:password": "user:" + base64(sha1("user:password")).
func DigestOf(userPassword string) string {
	sum := sha1.Sum([]byte(userPassword))
	user := userPassword
	if i := strings.IndexByte(userPassword, ':'); i >= 0 {
		user = userPassword[:i]
	}
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// authJavaSplitCount returns len(s.split(sep)) in Java: the number of parts,
// not counting trailing empty ones.
func authJavaSplitCount(s string, sep byte) int {
	parts := strings.Split(s, string(sep))
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	if n == 0 && s == "" {
		return 1 // "".split(":") is [""]
	}
	return n
}

// IPAuthProvider is ZooKeeper's "ip" scheme: the session gets ip:<client
// address>; ACL ids are an address or a CIDR ("10.0.0.0/8", "fe80::/16").
type IPAuthProvider struct{}

// Scheme returns "ip".
func (IPAuthProvider) Scheme() string { return SchemeIP }

// Authenticate returns the client's address, formatted as Java's
// InetAddress.getHostAddress does.
func (IPAuthProvider) Authenticate(a *AuthAttempt) ([]jute.Id, jute.Code) {
	host := a.RemoteIP
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); ip != nil {
		host = authJavaHostAddress(ip)
	}
	if host == "" {
		return nil, jute.CodeAuthFailed
	}
	return []jute.Id{{Scheme: SchemeIP, Id: host}}, jute.CodeOK
}

// IsAuthenticated returns false: an ip id does not name a user.
func (IPAuthProvider) IsAuthenticated() bool { return false }

// IsValid reports whether id is an address with an optional prefix length
// no longer than the address.
func (IPAuthProvider) IsValid(id string) bool {
	addr, bits, ok := authParseIPExpr(id)
	return ok && addr != nil && bits >= 0
}

// Matches reports whether the address id lies in the aclExpr network.
func (IPAuthProvider) Matches(id, aclExpr string) bool {
	aclAddr, bits, ok := authParseIPExpr(aclExpr)
	if !ok {
		return false
	}
	remote := authIPBytes(id)
	if remote == nil || len(remote) != len(aclAddr) {
		return false
	}
	authMaskBits(aclAddr, bits)
	authMaskBits(remote, bits)
	for i := range remote {
		if remote[i] != aclAddr[i] {
			return false
		}
	}
	return true
}

// UserName returns id.
func (IPAuthProvider) UserName(id string) string { return id }

// authParseIPExpr parses "addr" or "addr/bits" as IPAuthenticationProvider
// does; bits defaults to the address length.
func authParseIPExpr(expr string) (addr []byte, bits int, ok bool) {
	a, b, hasBits := strings.Cut(expr, "/")
	addr = authIPBytes(a)
	if addr == nil {
		return nil, 0, false
	}
	bits = len(addr) * 8
	if hasBits {
		n, err := strconv.ParseInt(b, 10, 32)
		if err != nil || n < 0 || int(n) > len(addr)*8 {
			return nil, 0, false
		}
		bits = int(n)
	}
	return addr, bits, true
}

// authIPBytes parses an address the way IPAuthenticationProvider.addr2Bytes
// does: anything with ':' is IPv6 (8 groups, or fewer around one "::"),
// otherwise anything with '.' is IPv4 (four decimal parts 0..255). It
// returns nil for anything else.
func authIPBytes(s string) []byte {
	switch {
	case strings.IndexByte(s, ':') >= 0:
		return authIPv6Bytes(s)
	case strings.IndexByte(s, '.') >= 0:
		parts := strings.Split(s, ".")
		if len(parts) != 4 {
			return nil
		}
		b := make([]byte, 4)
		for i, p := range parts {
			v, err := strconv.ParseInt(p, 10, 32)
			if err != nil || v < 0 || v > 255 {
				return nil
			}
			b[i] = byte(v)
		}
		return b
	}
	return nil
}

func authIPv6Bytes(s string) []byte {
	halves := strings.Split(s, "::")
	var head, tail []string
	switch len(halves) {
	case 1:
		head = strings.Split(halves[0], ":")
		if len(head) != 8 {
			return nil
		}
	case 2:
		if halves[0] != "" {
			head = strings.Split(halves[0], ":")
		}
		if halves[1] != "" {
			tail = strings.Split(halves[1], ":")
		}
		if len(head)+len(tail) >= 8 {
			return nil
		}
	default:
		return nil
	}
	b := make([]byte, 16)
	if !authIPv6Groups(b, 0, head) || !authIPv6Groups(b, 16-2*len(tail), tail) {
		return nil
	}
	return b
}

func authIPv6Groups(b []byte, at int, groups []string) bool {
	for _, g := range groups {
		if g == "" || len(g) > 4 {
			return false
		}
		v, err := strconv.ParseInt(g, 16, 32)
		if err != nil {
			return false
		}
		b[at] = byte(v >> 8)
		b[at+1] = byte(v)
		at += 2
	}
	return true
}

// authMaskBits clears every bit of b after the first bits.
func authMaskBits(b []byte, bits int) {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			b[i] &= ^byte(0xff >> bits)
			bits = 0
		default:
			b[i] = 0
		}
	}
}

// authJavaHostAddress formats ip as Java's getHostAddress: dotted IPv4, or
// eight lowercase hex groups without zero compression for IPv6.
func authJavaHostAddress(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(ip[i])<<8|uint64(ip[i+1]), 16))
	}
	return sb.String()
}
