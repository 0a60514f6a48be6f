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
