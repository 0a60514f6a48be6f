package sasl

import (
	"crypto/rand"
	"errors"
	"testing"
)

// TestDigestMD5Client runs the client against the server with the quorum's
// names: the right password completes both sides with the user as
// authorization id; a wrong one fails at the server; a server that does
// not know the password (a forged rspauth) fails at the client.
func TestDigestMD5Client(t *testing.T) {
	users := map[string]string{"test": "mypassword"}
	pw := func(u string) (string, bool) { p, ok := users[u]; return p, ok }
	for _, tc := range []struct {
		name, password string
		ok             bool
	}{
		{"right password", "mypassword", true},
		{"wrong password", "guess", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &DigestMD5{Password: pw, Rand: rand.Reader, Protocol: QuorumProtocol, ServerName: QuorumServerName}
			cl := &DigestMD5Client{Username: "test", Password: tc.password, Protocol: QuorumProtocol, ServerName: QuorumServerName, Rand: rand.Reader}
			ch, err := srv.Step(nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := cl.Step(ch)
			if err != nil {
				t.Fatal(err)
			}
			rspauth, err := srv.Step(resp)
			if !tc.ok {
				if !errors.Is(err, ErrAuth) || srv.Complete() {
					t.Fatalf("server accepted a wrong password: %q, %v", rspauth, err)
				}
				return
			}
			if err != nil || !srv.Complete() || srv.AuthenticationID() != "test" || srv.AuthorizationID() != "test" {
				t.Fatalf("server: %v, complete %v, ids %q %q", err, srv.Complete(), srv.AuthenticationID(), srv.AuthorizationID())
			}
			if out, err := cl.Step(rspauth); err != nil || out != nil || !cl.Complete() {
				t.Fatalf("client on rspauth: %q, %v, complete %v", out, err, cl.Complete())
			}
		})
	}
	t.Run("forged rspauth", func(t *testing.T) {
		srv := &DigestMD5{Password: func(string) (string, bool) { return "other", true }, Rand: rand.Reader, Protocol: QuorumProtocol, ServerName: QuorumServerName}
		cl := &DigestMD5Client{Username: "test", Password: "mypassword", Protocol: QuorumProtocol, ServerName: QuorumServerName, Rand: rand.Reader}
		ch, _ := srv.Step(nil)
		if _, err := cl.Step(ch); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Step([]byte("rspauth=00112233445566778899aabbccddeeff")); !errors.Is(err, ErrAuth) || cl.Complete() {
			t.Fatalf("forged rspauth accepted: %v", err)
		}
	})
	t.Run("client port names refused", func(t *testing.T) {
		srv := &DigestMD5{Password: pw, Rand: rand.Reader} // the client port's names
		cl := &DigestMD5Client{Username: "test", Password: "mypassword", Protocol: QuorumProtocol, ServerName: QuorumServerName, Rand: rand.Reader}
		ch, _ := srv.Step(nil)
		resp, _ := cl.Step(ch)
		if _, err := srv.Step(resp); !errors.Is(err, ErrAuth) {
			t.Fatalf("digest-uri of the quorum accepted on the client port: %v", err)
		}
	})
}

// FuzzDigestMD5Client feeds the client arbitrary challenges: it never
// panics, and a response it makes is well formed and names the nonce it
// was given.
func FuzzDigestMD5Client(f *testing.F) {
	srv := &DigestMD5{Password: func(string) (string, bool) { return "pw", true }, Rand: rand.Reader, Protocol: QuorumProtocol, ServerName: QuorumServerName}
	ch, _ := srv.Step(nil)
	f.Add(ch, []byte("rspauth=00"))
	f.Add([]byte(`nonce="a\"b",algorithm=md5-sess,qop="auth-int,auth"`), []byte(""))
	f.Add([]byte(`realm=,nonce`), []byte(`rspauth="`))
	f.Fuzz(func(t *testing.T, challenge, rspauth []byte) {
		cl := &DigestMD5Client{Username: `te"st`, Password: "pw", Protocol: QuorumProtocol, ServerName: QuorumServerName, Rand: rand.Reader}
		resp, err := cl.Step(challenge)
		if err != nil {
			return
		}
		kv, err := parseDirectives(string(resp))
		if err != nil {
			t.Fatalf("response %q does not parse: %v", resp, err)
		}
		want, _ := parseDirectives(string(challenge))
		if kv["nonce"] != want["nonce"] || kv["username"] != `te"st` {
			t.Fatalf("response %q for challenge %q", resp, challenge)
		}
		if _, err := cl.Step(rspauth); err == nil && !cl.Complete() {
			t.Fatal("rspauth accepted without completing")
		}
	})
}
