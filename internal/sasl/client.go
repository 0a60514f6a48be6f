package sasl

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
)

// DigestMD5Client is one client-side DIGEST-MD5 exchange, as Java's
// DIGEST-MD5 client runs it for a ZooKeeper quorum learner: no initial
// response, the authorization id equal to the user name, qop auth, and
// the server's rspauth checked at the end (mutual authentication).
type DigestMD5Client struct {
	// Username and Password are the learner's credentials (the JAAS
	// QuorumLearner section's username and password).
	Username, Password string
	// Protocol and ServerName make the digest-uri.
	Protocol, ServerName string
	// Rand supplies the cnonce.
	Rand io.Reader

	step     int
	rspauth  string
	complete bool
}

// Complete reports whether the exchange succeeded, the server's rspauth
// included.
func (c *DigestMD5Client) Complete() bool { return c.complete }

// Step takes the server's next token (its challenge, then its rspauth)
// and returns the client's answer: the digest response, then nothing. An
// error (wrapping ErrAuth) ends the exchange.
func (c *DigestMD5Client) Step(token []byte) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("%w: DIGEST-MD5: "+format, append([]any{ErrAuth}, args...)...)
	}
	kv, err := parseDirectives(string(token))
	if err != nil {
		return fail("%v", err)
	}
	switch c.step {
	case 0:
		c.step++
		nonce, realm := kv["nonce"], kv["realm"]
		if nonce == "" {
			return fail("challenge without a nonce")
		}
		if qops := strings.Split(kv["qop"], ","); kv["qop"] != "" && !slices.ContainsFunc(qops, func(q string) bool { return strings.TrimSpace(q) == "auth" }) {
			return fail("server offers qop %q, not auth", kv["qop"])
		}
		if a, ok := kv["algorithm"]; !ok || !strings.EqualFold(a, "md5-sess") {
			return fail("challenge algorithm %q, want md5-sess", a)
		}
		var n [24]byte
		if _, err := io.ReadFull(c.Rand, n[:]); err != nil {
			return nil, err
		}
		cnonce := base64.StdEncoding.EncodeToString(n[:])
		const nc = "00000001"
		uri := c.Protocol + "/" + c.ServerName
		digest := func(a2 string) string {
			return responseDigest(c.Username, realm, c.Password, nonce, cnonce, nc, c.Username, true, a2)
		}
		c.rspauth = digest(":" + uri)
		return []byte(`charset=utf-8,username="` + quote(c.Username) + `",realm="` + quote(realm) + `",nonce="` + quote(nonce) +
			`",nc=` + nc + `,cnonce="` + cnonce + `",digest-uri="` + quote(uri) + `",maxbuf=65536,response=` +
			digest("AUTHENTICATE:"+uri) + `,qop=auth,authzid="` + quote(c.Username) + `"`), nil
	case 1:
		c.step++
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(kv["rspauth"])), []byte(c.rspauth)) != 1 {
			return fail("the server's rspauth does not match: it does not know the password")
		}
		c.complete = true
		return nil, nil
	}
	return fail("DIGEST-MD5 exchange already over")
}

// quote escapes a quoted directive value.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
