package peer

import (
	"bytes"
	"crypto/x509/pkix"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/zktls"
	"github.com/gokeeper/gokeeper/internal/zktls/zktlstest"
	"github.com/gokeeper/gokeeper/quorum"
	"github.com/gokeeper/gokeeper/quorum/transport"
)

// TestPeerTLS: with sslQuorum on both ports the members elect, sync and
// commit.
func TestPeerTLS(t *testing.T) {
	ca, err := zktlstest.NewCA("quorum CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trust := zktlstest.WriteFile(filepath.Join(dir, "trust.pem"), zktlstest.TrustStorePEM(ca.Cert))
	sec := map[int64]*transport.Security{}
	for id := int64(1); id <= 3; id++ {
		cert, err := ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "member"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
		if err != nil {
			t.Fatal(err)
		}
		props := map[string]string{
			"ssl.quorum.keyStore.location":   zktlstest.WriteFile(filepath.Join(dir, "ks"+string(rune('0'+id))+".p12"), zktlstest.Must(cert.KeyStorePKCS12("pw"))),
			"ssl.quorum.keyStore.password":   "pw",
			"ssl.quorum.trustStore.location": trust,
		}
		o, err := zktls.FromProperties(zktls.QuorumPrefix, func(k string) (string, bool) { v, ok := props[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		s := &transport.Security{}
		if s.ServerTLS, _, err = o.ServerConfig(); err != nil {
			t.Fatal(err)
		}
		if s.DialTLS, _, err = o.ClientConfig(); err != nil {
			t.Fatal(err)
		}
		sec[id] = s
	}
	c := newSecureCluster(t, 3, sec, sec, nil)
	lead, st := c.leader()
	c.converged(c.propose(lead, st.Epoch, 1, 3))
}

// TestPeerQuorumSASL: on the quorum port, a learner with the wrong
// password is refused by the leader and never serves, while the others
// form a quorum and commit. (The election ports run in the clear here,
// so that the refused member votes and the leader's check is the one
// that keeps it out.)
func TestPeerQuorumSASL(t *testing.T) {
	sec := map[int64]*transport.Security{}
	for id, pw := range map[int64]string{1: "guess", 2: "mypassword", 3: "mypassword"} {
		sec[id] = &transport.Security{Logger: zerolog.Nop(), SASL: &transport.SASL{
			LearnerRequired: true, ServerRequired: true,
			Users:    map[string]string{"test": "mypassword"},
			Username: "test", Password: pw,
		}}
	}
	var log syncBuffer
	c := newSecureCluster(t, 3, nil, sec, &log)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s3, s2 := c.peers[3].Status(), c.peers[2].Status()
		if s3.State == quorum.Leading && s3.Serving && s2.State == quorum.Following && s2.Serving {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no quorum of 3 and 2: %+v, %+v", s3, s2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	zxids := c.propose(3, c.peers[3].Status().Epoch, 1, 2)
	for _, id := range []int64{2, 3} {
		deadline := time.Now().Add(10 * time.Second)
		for got, _ := c.storage[id].state(); len(got) != len(zxids); got, _ = c.storage[id].state() {
			if time.Now().After(deadline) {
				t.Fatalf("member %d applied %x, want %x", id, got, zxids)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Member 1 tried, and was refused, with its address logged.
	for _, text := range []string{
		`"member":3,"sid":3,"error":"transport: quorum SASL authentication failed: learner 127.0.0.1:`,
		`"member":1,"sid":1,"error":"transport: quorum SASL authentication failed: against 127.0.0.1:`,
	} {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(log.String(), text) {
			if time.Now().After(deadline) {
				t.Fatalf("log never said %s:\n%s", text, log.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if st := c.peers[1].Status(); st.Serving {
		t.Fatalf("member 1 with the wrong password serves: %+v", st)
	}
	if got, _ := c.storage[1].state(); len(got) != 0 {
		t.Fatalf("member 1 with the wrong password applied %x", got)
	}
}

// syncBuffer is a log destination tests can search.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
