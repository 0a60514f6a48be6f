// Package sasl holds the SASL mechanisms ZooKeeper speaks. Only DIGEST-MD5
// (RFC 2831) is here, both sides: pure state machines that take the other
// side's tokens and return their own, with no IO and no clock; randomness
// comes from the caller's reader. The server side serves the client port
// and the quorum ports, the client side a quorum learner.
//
// The exchange, as Java's DIGEST-MD5 runs it for ZooKeeper's client port
// (protocol "zookeeper", server name and realm "zk-sasl-md5", qop auth;
// the quorum ports use "zookeeper-quorum" and "zk-quorum-sasl-md5"):
//
//	client: (empty token)
//	server: realm="zk-sasl-md5",nonce="...",qop="auth",charset=utf-8,algorithm=md5-sess
//	client: username="u",realm="zk-sasl-md5",nonce="...",cnonce="...",nc=00000001,
//	        qop=auth,digest-uri="zookeeper/zk-sasl-md5",response=<32 hex>[,authzid="..."]
//	server: rspauth=<32 hex>      (the exchange is complete)
//
// with HA1 = MD5(MD5(user:realm:password):nonce:cnonce[:authzid]) and
// response = HEX(MD5(HEX(HA1):nonce:nc:cnonce:qop:HEX(MD5("AUTHENTICATE:"+digest-uri)))),
// rspauth the same with A2 = ":"+digest-uri.
package sasl

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrAuth is wrapped by every failed exchange.
var ErrAuth = errors.New("sasl: authentication failed")

// DIGEST-MD5 parameters of ZooKeeper's client port (Protocol,
// ServerName) and of its quorum ports (QuorumProtocol, QuorumServerName).
// The server name is also the realm.
const (
	Protocol         = "zookeeper"
	ServerName       = "zk-sasl-md5"
	QuorumProtocol   = "zookeeper-quorum"
	QuorumServerName = "zk-quorum-sasl-md5"
)

// DigestMD5 is one server-side DIGEST-MD5 exchange.
type DigestMD5 struct {
	// Password returns the password of user, and false for an unknown
	// user.
	Password func(user string) (string, bool)
	// Rand supplies the nonce.
	Rand io.Reader
	// Protocol and ServerName make the digest-uri the client must name
	// and the realm offered; empty means the client port's (Protocol,
	// ServerName).
	Protocol, ServerName string

	step     int
	nonce    string
	user     string
	authzid  string
	complete bool
}

func (d *DigestMD5) names() (protocol, serverName string) {
	protocol, serverName = d.Protocol, d.ServerName
	if protocol == "" {
		protocol = Protocol
	}
	if serverName == "" {
		serverName = ServerName
	}
	return protocol, serverName
}

// Complete reports whether the exchange succeeded.
func (d *DigestMD5) Complete() bool { return d.complete }

// AuthenticationID returns the authenticated user once Complete.
func (d *DigestMD5) AuthenticationID() string { return d.user }

// AuthorizationID returns the authzid the client asked for, or the
// authenticated user when it named none.
func (d *DigestMD5) AuthorizationID() string {
	if d.authzid != "" {
		return d.authzid
	}
	return d.user
}

// Step takes the client's next token and returns the server's answer.
// An error (wrapping ErrAuth) ends the exchange.
func (d *DigestMD5) Step(token []byte) ([]byte, error) {
	switch d.step {
	case 0:
		d.step++
		var n [24]byte
		if _, err := io.ReadFull(d.Rand, n[:]); err != nil {
			return nil, err
		}
		d.nonce = base64.StdEncoding.EncodeToString(n[:])
		_, serverName := d.names()
		return []byte(`realm="` + serverName + `",nonce="` + d.nonce + `",qop="auth",charset=utf-8,algorithm=md5-sess`), nil
	case 1:
		d.step++
		return d.response(token)
	}
	return nil, fmt.Errorf("%w: DIGEST-MD5 exchange already over", ErrAuth)
}

func (d *DigestMD5) response(token []byte) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("%w: DIGEST-MD5: "+format, append([]any{ErrAuth}, args...)...)
	}
	kv, err := parseDirectives(string(token))
	if err != nil {
		return fail("%v", err)
	}
	protocol, serverName := d.names()
	user, realm, cnonce, nc, qop, uri, resp := kv["username"], kv["realm"], kv["cnonce"], kv["nc"], kv["qop"], kv["digest-uri"], kv["response"]
	switch {
	case user == "" || cnonce == "" || resp == "":
		return fail("digest response format violation: username, cnonce and response are required")
	case kv["nonce"] != d.nonce:
		return fail("digest response format violation: mismatched nonce")
	case nc != "00000001":
		return fail("nonce count %s, want 00000001", nc)
	case qop != "" && qop != "auth":
		return fail("qop %q not offered (auth only)", qop)
	case realm != "" && realm != serverName:
		return fail("digest response format violation: nonexistent realm %q", realm)
	case !strings.EqualFold(uri, protocol+"/"+serverName):
		return fail("digest response format violation: mismatched URI %q, expecting %s/%s", uri, protocol, serverName)
	}
	password, ok := d.Password(user)
	if !ok {
		return fail("cannot acquire password for %s in realm %s", user, serverName)
	}
	authzid, hasAuthzid := kv["authzid"]
	digest := func(a2 string) string {
		return responseDigest(user, realm, password, d.nonce, cnonce, nc, authzid, hasAuthzid, a2)
	}
	want := digest("AUTHENTICATE:" + uri)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(resp)), []byte(want)) != 1 {
		return fail("digest response format violation: mismatched response")
	}
	d.user, d.authzid, d.complete = user, authzid, true
	return []byte("rspauth=" + digest(":"+uri)), nil
}

// responseDigest is RFC 2831's response value (a2 "AUTHENTICATE:"+uri)
// and rspauth value (a2 ":"+uri), qop auth.
func responseDigest(user, realm, password, nonce, cnonce, nc, authzid string, hasAuthzid bool, a2 string) string {
	h := md5.Sum([]byte(user + ":" + realm + ":" + password))
	a1 := string(h[:]) + ":" + nonce + ":" + cnonce
	if hasAuthzid {
		a1 += ":" + authzid
	}
	return md5hex(md5hex(a1) + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + md5hex(a2))
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// parseDirectives parses key=value pairs separated by commas, values bare
// or quoted with \ escapes.
func parseDirectives(s string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("directive without value at %q", s[i:])
		}
		key := strings.ToLower(strings.TrimSpace(s[i : i+eq]))
		i += eq + 1
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated quoted value")
			}
			i++
		} else {
			j := strings.IndexByte(s[i:], ',')
			if j < 0 {
				j = len(s) - i
			}
			val.WriteString(strings.TrimSpace(s[i : i+j]))
			i += j
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("directive %s given twice", key)
		}
		out[key] = val.String()
	}
	return out, nil
}
