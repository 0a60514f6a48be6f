package wire_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/internal/zktls/zktlstest"
	"github.com/gokeeper/gokeeper/wire"
)

// TestTLSHandshakeLimitCounted: with MaxTLSHandshakes handshakes under
// way on the secure port, the next connection is closed and counted in
// tls_handshake_exceeded, and outstanding_tls_handshake reports the ones
// under way.
func TestTLSHandshakeLimitCounted(t *testing.T) {
	ts := startServerOpts(t, t.TempDir(), nil, nil)
	ca, err := zktlstest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(zktlstest.Options{Subject: pkix.Name{CommonName: "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Cert.Raw}, PrivateKey: cert.Key}}}
	o := wire.DefaultOptions()
	o.MaxTLSHandshakes = 1
	l, err := wire.ListenPorts(ts.Server, o, wire.Port{Addr: "127.0.0.1:0", TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	defer l.Close()
	exceeded := ts.Server.Metrics().Counter("tls_handshake_exceeded")
	before := exceeded.Get()

	// The first connection says nothing: its handshake stays under way.
	first, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().OutstandingTLSHandshakes.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("outstanding_tls_handshake %d, want 1", l.Stats().OutstandingTLSHandshakes.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	second, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection past the handshake limit was served")
	}
	if n := exceeded.Get() - before; n != 1 {
		t.Fatalf("tls_handshake_exceeded grew by %d, want 1", n)
	}
}
