package main

import (
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/zktls/zktlstest"
	"github.com/gokeeper/gokeeper/server"
)

// TestQuorumSecurityConfig builds the quorum links' security from
// sslQuorum, portUnification, ssl.quorum.* and quorum.auth.* with the JAAS
// file, and stops the start with an error naming the key at fault.
func TestQuorumSecurityConfig(t *testing.T) {
	dir := t.TempDir()
	ca, err := zktlstest.NewCA("quorum CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "member"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	ks := zktlstest.WriteFile(filepath.Join(dir, "ks.jks"), zktlstest.Must(cert.KeyStoreJKS("kspass")))
	ts := zktlstest.WriteFile(filepath.Join(dir, "ts.jks"), zktlstest.Must(zktlstest.TrustStoreJKS("tspass", ca.Cert)))
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const digest = "org.apache.zookeeper.server.auth.DigestLoginModule required"
	jaasGood := write("good.conf", "QuorumServer {\n "+digest+" user_test=\"mypassword\";\n};\nQuorumLearner {\n "+digest+" username=\"test\" password=\"mypassword\";\n};\n")
	jaasNoLearner := write("nolearner.conf", "QuorumServer {\n "+digest+" user_test=\"mypassword\";\n};\n")
	jaasKrb := write("krb.conf", "QuorumServer {\n com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab=\"/k\" principal=\"zkquorum/localhost@EXAMPLE.COM\";\n};\nQuorumLearner {\n "+digest+" username=\"test\" password=\"x\";\n};\n")
	tlsProps := map[string]string{
		"ssl.quorum.keyStore.location": ks, "ssl.quorum.keyStore.password": "kspass",
		"ssl.quorum.trustStore.location": ts, "ssl.quorum.trustStore.password": "tspass",
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, tc := range []struct {
		name                        string
		ssl, unify, sasl, saslReq   bool
		props                       map[string]string
		fail                        []string // substrings of the error
		tlsServer, tlsDial, plainOK bool
	}{
		{name: "sslQuorum", ssl: true, props: tlsProps, tlsServer: true, tlsDial: true},
		{name: "portUnification alone", unify: true, props: tlsProps, tlsServer: true, plainOK: true},
		{name: "portUnification without a key store", unify: true, props: map[string]string{}, plainOK: true},
		{name: "rolling upgrade", ssl: true, unify: true, props: tlsProps, tlsServer: true, tlsDial: true, plainOK: true},
		{name: "wrong key store password", ssl: true, props: with(tlsProps, "ssl.quorum.keyStore.password", "nope"),
			fail: []string{"ssl.quorum.keyStore.location", "wrong ssl.quorum.keyStore.password"}},
		{name: "wrong trust store password", ssl: true, props: with(tlsProps, "ssl.quorum.trustStore.password", "nope"),
			fail: []string{"ssl.quorum.trustStore"}},
		{name: "no key store", ssl: true, props: map[string]string{}, fail: []string{"ssl.quorum.keyStore.location: not set"}},
		{name: "client port stores do not count", ssl: true, props: map[string]string{"ssl.keyStore.location": ks, "ssl.keyStore.password": "kspass"},
			fail: []string{"ssl.quorum.keyStore.location: not set"}},
		{name: "SASL", sasl: true, saslReq: true, props: map[string]string{"java.security.auth.login.config": jaasGood}, plainOK: true},
		{name: "SASL without JAAS file", sasl: true, props: map[string]string{}, fail: []string{"quorum.auth.enableSasl", "QuorumServer"}},
		{name: "SASL without QuorumLearner", sasl: true, props: map[string]string{"java.security.auth.login.config": jaasNoLearner},
			fail: []string{`invalid value "QuorumLearner" for quorum.auth.learner.saslLoginContext: no JAAS configuration section`}},
		{name: "SASL with Kerberos", sasl: true, props: map[string]string{"java.security.auth.login.config": jaasKrb},
			fail: []string{"quorum.auth.enableSasl", "GSSAPI"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := server.DefaultConfig()
			cfg.ServerID = 1
			for id, line := range []string{"127.0.0.1:2001:3001", "127.0.0.1:2002:3002", "127.0.0.1:2003:3003"} {
				qs, err := server.ParseQuorumServer(int64(id+1), line, false)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Servers = append(cfg.Servers, qs)
			}
			cfg.SSLQuorum, cfg.PortUnification = tc.ssl, tc.unify
			cfg.QuorumEnableSASL, cfg.QuorumLearnerRequireSASL, cfg.QuorumServerRequireSASL = tc.sasl, tc.saslReq, tc.saslReq
			cfg.SystemProperties = tc.props
			_, err := quorumSecurity(&cfg, zerolog.Nop())
			if tc.fail != nil {
				for _, f := range tc.fail {
					if err == nil || !strings.Contains(err.Error(), f) {
						t.Fatalf("got %v, want an error saying %q", err, f)
					}
				}
				if strings.Contains(err.Error(), "kspass") || strings.Contains(err.Error(), "mypassword") {
					t.Fatalf("error shows a password: %v", err)
				}
				return
			}
			sec := cfg.QuorumSecurity
			if err != nil || sec == nil {
				t.Fatalf("got %v, %v", sec, err)
			}
			if (sec.ServerTLS != nil) != tc.tlsServer || (sec.DialTLS != nil) != tc.tlsDial || (sec.AcceptPlain || sec.ServerTLS == nil) != tc.plainOK {
				t.Fatalf("server TLS %v, dial TLS %v, plaintext accepted %v", sec.ServerTLS != nil, sec.DialTLS != nil, sec.AcceptPlain)
			}
			if tc.sasl {
				s := sec.SASL
				if s == nil || s.Users["test"] != "mypassword" || s.Username != "test" || s.Password != "mypassword" || !s.LearnerRequired || !s.ServerRequired || len(s.AuthzHosts) != 3 {
					t.Fatalf("SASL %+v", s)
				}
			}
		})
	}
	// A standalone server has no quorum links: nothing is read.
	cfg := server.DefaultConfig()
	cfg.SSLQuorum = true
	if _, err := quorumSecurity(&cfg, zerolog.Nop()); err != nil || cfg.QuorumSecurity != nil {
		t.Fatalf("standalone: %v, %v", cfg.QuorumSecurity, err)
	}
}
