package sasl

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// client runs the client side of RFC 2831 as puresasl and Java do.
func client(t *testing.T, challenge, user, password, uri string) (resp, rspauth string) {
	t.Helper()
	kv, err := parseDirectives(challenge)
	if err != nil {
		t.Fatal(err)
	}
	nonce, realm, cnonce := kv["nonce"], kv["realm"], "Q2xpZW50Tm9uY2U"
	h := md5.Sum([]byte(user + ":" + realm + ":" + password))
	ha1 := md5hex(string(h[:]) + ":" + nonce + ":" + cnonce)
	dig := func(a2 string) string {
		return md5hex(ha1 + ":" + nonce + ":00000001:" + cnonce + ":auth:" + md5hex(a2))
	}
	return `username="` + user + `",realm="` + realm + `",nonce="` + nonce + `",cnonce="` + cnonce +
		`",nc=00000001,qop=auth,digest-uri="` + uri + `",response=` + dig("AUTHENTICATE:"+uri) + `,charset=utf-8`, "rspauth=" + dig(":"+uri)
}

func TestDigestMD5(t *testing.T) {
	users := map[string]string{"jaasuser": "jaas_password", "super": "super_secret"}
	pw := func(u string) (string, bool) { p, ok := users[u]; return p, ok }
	for _, tc := range []struct {
		name, user, password, uri string
		ok                        bool
	}{
		{"right password", "jaasuser", "jaas_password", "zookeeper/zk-sasl-md5", true},
		{"super", "super", "super_secret", "zookeeper/zk-sasl-md5", true},
		{"wrong password", "jaasuser", "nope", "zookeeper/zk-sasl-md5", false},
		{"unknown user", "mallory", "jaas_password", "zookeeper/zk-sasl-md5", false},
		{"other service", "jaasuser", "jaas_password", "http/zk-sasl-md5", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &DigestMD5{Password: pw, Rand: rand.Reader}
			ch, err := d.Step(nil)
			if err != nil || !strings.Contains(string(ch), `realm="zk-sasl-md5"`) || !strings.Contains(string(ch), `qop="auth"`) {
				t.Fatalf("challenge %q, %v", ch, err)
			}
			resp, rspauth := client(t, string(ch), tc.user, tc.password, tc.uri)
			out, err := d.Step([]byte(resp))
			if !tc.ok {
				if !errors.Is(err, ErrAuth) || d.Complete() {
					t.Fatalf("got %q, %v; want a failure", out, err)
				}
				return
			}
			if err != nil || string(out) != rspauth || !d.Complete() || d.AuthenticationID() != tc.user {
				t.Fatalf("got %q, %v (complete %v, id %q), want %q", out, err, d.Complete(), d.AuthenticationID(), rspauth)
			}
			if _, err := d.Step(nil); err == nil {
				t.Fatal("a third step was accepted")
			}
		})
	}
	// A replayed response (another nonce) fails.
	d1 := &DigestMD5{Password: pw, Rand: rand.Reader}
	ch, _ := d1.Step(nil)
	resp, _ := client(t, string(ch), "jaasuser", "jaas_password", "zookeeper/zk-sasl-md5")
	d2 := &DigestMD5{Password: pw, Rand: rand.Reader}
	d2.Step(nil)
	if _, err := d2.Step([]byte(resp)); !errors.Is(err, ErrAuth) {
		t.Fatalf("replayed response: %v", err)
	}
	_ = hex.EncodeToString
}
