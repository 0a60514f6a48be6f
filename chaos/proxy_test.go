package chaos

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/internal/loopport"
)

// fakeMembers listens on a quorum and an election port for each of n
// members; accepted connections arrive on the returned channel.
func fakeMembers(t *testing.T, n int) (map[[2]int]string, chan net.Conn) {
	t.Helper()
	addrs := map[[2]int]string{}
	accepted := make(chan net.Conn, 16)
	for i := 1; i <= n; i++ {
		for _, p := range []Port{QuorumPort, ElectionPort} {
			ln, err := loopport.Listen()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			addrs[[2]int{i, int(p)}] = ln.Addr().String()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					t.Cleanup(func() { c.Close() })
					accepted <- c
				}
			}()
		}
	}
	return addrs, accepted
}

func startNet(t *testing.T) (*Net, chan net.Conn) {
	t.Helper()
	addrs, accepted := fakeMembers(t, 2)
	nw, err := NewNet(2, func(i int, p Port) string { return addrs[[2]int{i, int(p)}] })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nw.Close)
	return nw, accepted
}

func recv(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return buf
}

func TestProxyRewritesElectionHandshake(t *testing.T) {
	nw, accepted := startNet(t)
	c, err := net.Dial("tcp", nw.Addr(1, 2, ElectionPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	own := "127.0.0.1:1"
	hs := binary.BigEndian.AppendUint64(nil, uint64(0xffffffffffff0000)) // -65536
	hs = binary.BigEndian.AppendUint64(hs, 1)
	hs = binary.BigEndian.AppendUint32(hs, uint32(len(own)))
	hs = append(hs, own...)
	if _, err := c.Write(append(hs, "vote"...)); err != nil {
		t.Fatal(err)
	}
	up := <-accepted
	back := nw.Addr(2, 1, ElectionPort)
	want := append(append(hs[:16:16], binary.BigEndian.AppendUint32(nil, uint32(len(back)))...), back+"vote"...)
	if got := recv(t, up, len(want)); !bytes.Equal(got, want) {
		t.Errorf("member 2 received %q, want %q", got, want)
	}
}

// blockedConn returns a proxied connection from member 1 (c) to member 2
// (up) whose 1→2 direction lost the bytes "lost" to a block still in
// force; the other direction still flows.
func blockedConn(t *testing.T) (nw *Net, c, up net.Conn, accepted chan net.Conn) {
	t.Helper()
	nw, accepted = startNet(t)
	c, err := net.Dial("tcp", nw.Addr(1, 2, QuorumPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	up = <-accepted
	nw.Block(1, 2)
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	// The other direction still flows, after the lost bytes were dropped.
	if _, err := up.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c, 4); string(got) != "pong" {
		t.Fatalf("member 1 received %q", got)
	}
	return nw, c, up, accepted
}

func TestProxyBlockHealDrop(t *testing.T) {
	nw, c, up, accepted := blockedConn(t)
	_ = up.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _ := up.Read(make([]byte, 4)); n != 0 {
		t.Fatalf("member 2 received %d bytes across a block", n)
	}
	// The connection lost bytes: Heal closes it.
	nw.Heal()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the heal, read from the broken connection: %v, want EOF", err)
	}

	// A new connection flows, until DropConnections closes it.
	c2, err := net.Dial("tcp", nw.Addr(2, 1, QuorumPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	up2 := <-accepted
	if _, err := c2.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, up2, 4); string(got) != "ping" {
		t.Fatalf("member 1 received %q", got)
	}
	if n := nw.DropConnections(1); n != 1 {
		t.Fatalf("DropConnections closed %d connections, want 1", n)
	}
	_ = up2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := up2.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after DropConnections: %v, want EOF", err)
	}
}

func TestProxyPartitionGroups(t *testing.T) {
	nw := &Net{}
	nw.mu.blocked = map[[2]int]bool{}
	// A bridge: 2 sees 1 and 3, which do not see each other.
	nw.Partition([]int{1, 2}, []int{2, 3})
	want := map[[2]int]bool{{1, 3}: true, {3, 1}: true}
	if len(nw.mu.blocked) != len(want) {
		t.Fatalf("blocked %v, want %v", nw.mu.blocked, want)
	}
	for k := range want {
		if !nw.mu.blocked[k] {
			t.Fatalf("blocked %v, want %v", nw.mu.blocked, want)
		}
	}
}

func TestNemesisNetworkFaults(t *testing.T) {
	for _, tc := range []struct {
		n    int
		f    Fault
		want [][2]int // blocked, one direction listed
	}{
		{3, Fault{Kind: Partition, Who: 2}, [][2]int{{2, 1}, {2, 3}}},
		{5, Fault{Kind: Partition, Who: 2}, [][2]int{{2, 4}, {2, 5}, {2, 1}, {3, 4}, {3, 5}, {3, 1}}},
		{3, Fault{Kind: Bridge, Who: 2}, [][2]int{{3, 1}}},
		{5, Fault{Kind: Bridge, Who: 5}, [][2]int{{1, 3}, {1, 4}, {2, 3}, {2, 4}}},
	} {
		nw := &Net{}
		nw.mu.blocked = map[[2]int]bool{}
		nw.mu.delay = map[[2]int]time.Duration{}
		nm := &nemesis{c: &Cluster{N: tc.n, Net: nw}, network: []Fault{tc.f}}
		nm.applyNetworkLocked()
		want := map[[2]int]bool{}
		for _, p := range tc.want {
			want[p], want[[2]int{p[1], p[0]}] = true, true
		}
		if len(nw.mu.blocked) != len(want) {
			t.Errorf("%d members, %v: blocked %v, want %v", tc.n, tc.f, nw.mu.blocked, want)
			continue
		}
		for p := range want {
			if !nw.mu.blocked[p] {
				t.Errorf("%d members, %v: blocked %v, want %v", tc.n, tc.f, nw.mu.blocked, want)
				break
			}
		}
	}
}

// TestProxyNoHoles: a connection that lost bytes passes no more, even
// once its block is lifted and before Heal closes it: its other end never
// sees a stream with a hole (the race Heal had between unblocking and
// closing, which showed a follower PROPOSALs with missing zxids).
func TestProxyNoHoles(t *testing.T) {
	nw, c, up, _ := blockedConn(t)
	nw.mu.Lock()
	clear(nw.mu.blocked) // as Heal does before it closes what lost bytes
	nw.mu.Unlock()
	if _, err := c.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	_ = up.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := up.Read(make([]byte, 8)); n != 0 {
		t.Fatalf("member 2 received %d bytes after a hole in the stream", n)
	}
}
