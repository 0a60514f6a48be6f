package transport

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/zktls"
	"github.com/gokeeper/gokeeper/internal/zktls/zktlstest"
	"github.com/gokeeper/gokeeper/jute"
)

// testPKI is a CA and the quorum TLS of members whose certificates it
// issues for 127.0.0.1.
type testPKI struct {
	t   *testing.T
	ca  *zktlstest.CA
	dir string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := zktlstest.NewCA("quorum CA")
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{t: t, ca: ca, dir: t.TempDir()}
}

// security returns a member's TLS, its key store in format (jks, p12 or
// pem) issued by ca, trusting p's CA.
func (p *testPKI) security(name, format string, ca *zktlstest.CA, sslQuorum, portUnification bool) *Security {
	p.t.Helper()
	cert, err := ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: name}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		p.t.Fatal(err)
	}
	var ks []byte
	switch format {
	case "jks":
		ks, err = cert.KeyStoreJKS("secret")
	case "p12":
		ks, err = cert.KeyStorePKCS12("secret")
	default:
		ks, err = cert.KeyStorePEM()
	}
	if err != nil {
		p.t.Fatal(err)
	}
	props := map[string]string{
		"ssl.quorum.keyStore.location":   zktlstest.WriteFile(filepath.Join(p.dir, name+"."+format), ks),
		"ssl.quorum.keyStore.password":   "secret",
		"ssl.quorum.trustStore.location": zktlstest.WriteFile(filepath.Join(p.dir, name+"-trust.pem"), zktlstest.TrustStorePEM(p.ca.Cert)),
	}
	o, err := zktls.FromProperties(zktls.QuorumPrefix, func(k string) (string, bool) { v, ok := props[k]; return v, ok })
	if err != nil {
		p.t.Fatal(err)
	}
	s := &Security{AcceptPlain: portUnification}
	if s.ServerTLS, _, err = o.ServerConfig(); err != nil {
		p.t.Fatal(err)
	}
	if sslQuorum {
		if s.DialTLS, _, err = o.ClientConfig(); err != nil {
			p.t.Fatal(err)
		}
	}
	return s
}

// exchange sends a message from every manager to every other and waits
// for all of them.
func exchange(t *testing.T, c *cluster) {
	t.Helper()
	for from, m := range c.mgrs {
		for to := range c.mgrs {
			if to != from {
				if err := m.Send(to, []byte(fmt.Sprintf("%d to %d", from, to))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for to, m := range c.mgrs {
		want := map[int64]string{}
		for from := range c.mgrs {
			if from != to {
				want[from] = fmt.Sprintf("%d to %d", from, to)
			}
		}
		recvUntil(t, m, want)
	}
}

// waitLog polls the cluster's log for text.
func waitLog(t *testing.T, c *cluster, text string) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !strings.Contains(c.log.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q", text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func saslSecurity(password string, required bool) *Security {
	return &Security{SASL: &SASL{
		LearnerRequired: required, ServerRequired: required,
		Users:    map[string]string{"test": "mypassword"},
		Username: "test", Password: password,
		AuthzHosts: []string{"127.0.0.1"},
	}, Logger: zerolog.Nop()}
}

// TestSecureElection: election connections form and carry messages over
// mutual TLS (key stores in each format), during a rolling upgrade with
// portUnification (a plaintext member among TLS ones), and with quorum
// SASL required.
func TestSecureElection(t *testing.T) {
	t.Run("sslQuorum", func(t *testing.T) {
		p := newTestPKI(t)
		c := newSecureCluster(t, map[int64]*Security{
			1: p.security("s1", "jks", p.ca, true, false),
			2: p.security("s2", "p12", p.ca, true, false),
			3: p.security("s3", "pem", p.ca, true, false),
		}, 1, 2, 3)
		exchange(t, c)
		c.waitConnected()
		for sid, m := range c.mgrs {
			m.mu.Lock()
			for peer, pr := range m.mu.peers {
				if _, ok := pr.conn.nc.(*tls.Conn); !ok {
					t.Errorf("%d's connection to %d is %T, not TLS", sid, peer, pr.conn.nc)
				}
			}
			m.mu.Unlock()
		}
	})
	t.Run("portUnification", func(t *testing.T) {
		p := newTestPKI(t)
		c := newSecureCluster(t, map[int64]*Security{
			1: p.security("s1", "pem", p.ca, true, true),
			2: p.security("s2", "pem", p.ca, false, true), // not upgraded yet: dials in plaintext
			3: p.security("s3", "pem", p.ca, true, true),
		}, 1, 2, 3)
		exchange(t, c)
	})
	t.Run("SASL", func(t *testing.T) {
		c := newSecureCluster(t, map[int64]*Security{
			1: saslSecurity("mypassword", true), 2: saslSecurity("mypassword", true), 3: saslSecurity("mypassword", true),
		}, 1, 2, 3)
		exchange(t, c)
	})
	// Turning SASL on member by member: servers that do not require it
	// let in learners that do not authenticate.
	t.Run("SASL not required", func(t *testing.T) {
		learner := saslSecurity("mypassword", true)
		learner.SASL.ServerRequired = false
		c := newSecureCluster(t, map[int64]*Security{1: saslSecurity("mypassword", false), 2: learner, 3: nil}, 1, 2, 3)
		exchange(t, c)
	})
}

// TestSecureElectionRefusals: a member with the wrong SASL password, a
// plaintext member, or one whose certificate another CA issued is refused
// with its address logged, and the others still talk.
func TestSecureElectionRefusals(t *testing.T) {
	p := newTestPKI(t)
	stranger, err := zktlstest.NewCA("stranger CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sec  func() map[int64]*Security
		log  string
	}{
		{"wrong SASL password", func() map[int64]*Security {
			return map[int64]*Security{1: saslSecurity("mypassword", true), 2: saslSecurity("mypassword", true), 3: saslSecurity("guess", true)}
		}, "the server refused our credentials"},
		{"SASL required, none sent", func() map[int64]*Security {
			return map[int64]*Security{1: saslSecurity("mypassword", true), 2: saslSecurity("mypassword", true), 3: nil}
		}, "not trying to authenticate and authentication is required"},
		{"plaintext on a TLS-only port", func() map[int64]*Security {
			return map[int64]*Security{1: p.security("s1", "pem", p.ca, true, false), 2: p.security("s2", "pem", p.ca, true, false), 3: nil}
		}, "plaintext connection refused"},
		{"untrusted certificate", func() map[int64]*Security {
			return map[int64]*Security{1: p.security("s1", "pem", p.ca, true, false), 2: p.security("s2", "pem", p.ca, true, false), 3: p.security("s3", "pem", stranger, true, false)}
		}, "election connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSecureCluster(t, tc.sec(), 1, 2, 3)
			for _, m := range c.mgrs {
				m.ConnectAll()
			}
			waitLog(t, c, tc.log)
			waitLog(t, c, `"remote":"127.0.0.1:`)
			good := map[int64]*Manager{1: c.mgrs[1], 2: c.mgrs[2]}
			waitFor(t, "1 and 2 connected", good, func() bool { return pairsOK(good) == nil })
			if err := c.mgrs[1].Send(2, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			recvUntil(t, c.mgrs[2], map[int64]string{1: "hello"})
			for _, sid := range []int64{1, 2} {
				if _, _, ok := link(c.mgrs[sid], 3); ok {
					t.Errorf("%d has a connection to the refused member 3", sid)
				}
			}
		})
	}
}

// TestQuorumAuthPacketBytes pins the bytes of the learner's first packet:
// the magic, IN_PROGRESS and an empty (not null) token.
func TestQuorumAuthPacketBytes(t *testing.T) {
	var b bytes.Buffer
	if err := writeAuthPacket(&b, AuthInProgress, []byte{}); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x5f, 0x24, 0x35, 0x01, 0x35, 0x01, 0xed, 0xcc, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("got % x, want % x", b.Bytes(), want)
	}
	var p jute.QuorumAuthPacket
	if err := jute.Unmarshal(b.Bytes(), &p, 1024); err != nil || p.Magic != QuorumAuthMagic || p.Token == nil {
		t.Fatalf("decoded %+v, %v", p, err)
	}
	status, token, err := readAuthPacket(bytes.NewReader(append(want[:12:12], 0x7f, 0, 0, 0)))
	if err == nil {
		t.Fatalf("a 2 GB token was accepted: status %d, %d bytes", status, len(token))
	}
}

// FuzzReadAuthPacket checks that reading never panics, reads exactly one
// packet, and that what it accepts writes back to the same bytes.
func FuzzReadAuthPacket(f *testing.F) {
	var b bytes.Buffer
	writeAuthPacket(&b, AuthInProgress, []byte{})
	writeAuthPacket(&b, AuthSuccess, []byte("rspauth=0123"))
	f.Add(b.Bytes())
	f.Add(append(binary.BigEndian.AppendUint64(nil, uint64(QuorumAuthMagic)), 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff))
	f.Add(append(binary.BigEndian.AppendUint64(nil, uint64(QuorumAuthMagic)), 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		status, token, err := readAuthPacket(r)
		if err != nil {
			return
		}
		consumed := in[:len(in)-r.Len()]
		if len(token) > maxAuthToken {
			t.Fatalf("token of %d bytes", len(token))
		}
		var out bytes.Buffer
		writeAuthPacket(&out, status, token) // NB: a null token is nil, written as -1
		if !bytes.Equal(out.Bytes(), consumed) {
			t.Fatalf("read % x, writes back % x", consumed, out.Bytes())
		}
	})
}
