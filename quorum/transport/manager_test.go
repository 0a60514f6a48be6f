package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const testDeadline = 20 * time.Second

// logBuffer is a zerolog destination that tests can search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// cluster is a set of Managers on loopback that all know each other.
type cluster struct {
	t    *testing.T
	log  *logBuffer
	mgrs map[int64]*Manager // the running ones
	all  []*Manager         // every one started, closed ones included
	sec  map[int64]*Security
}

func testConfig(sid int64, addr string, log *logBuffer) Config {
	cfg := DefaultConfig()
	cfg.MyID = sid
	cfg.ListenAddr = addr
	cfg.BindRetries = 1
	cfg.Logger = zerolog.New(log)
	return cfg
}

func newCluster(t *testing.T, sids ...int64) *cluster {
	t.Helper()
	return newSecureCluster(t, nil, sids...)
}

// newSecureCluster starts managers secured by sec[sid] (nil: plaintext).
func newSecureCluster(t *testing.T, sec map[int64]*Security, sids ...int64) *cluster {
	t.Helper()
	c := &cluster{t: t, log: &logBuffer{}, mgrs: map[int64]*Manager{}, sec: sec}
	for _, sid := range sids {
		c.start(sid, "127.0.0.1:0")
	}
	c.setPeers()
	t.Cleanup(func() {
		for _, m := range c.mgrs {
			m.Close()
		}
		if t.Failed() {
			t.Logf("log:\n%s", c.log)
		}
	})
	return c
}

func (c *cluster) start(sid int64, addr string) *Manager {
	c.t.Helper()
	cfg := testConfig(sid, addr, c.log)
	cfg.Security = c.sec[sid]
	m, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mgrs[sid] = m
	c.all = append(c.all, m)
	return m
}

func (c *cluster) setPeers() {
	peers := map[int64][]string{}
	for sid, m := range c.mgrs {
		peers[sid] = []string{m.Addr().String()}
	}
	for _, m := range c.mgrs {
		m.SetPeers(peers)
	}
}

// waitFor waits until cond, evaluated whenever a manager's connection
// state changes, holds.
func waitFor(t *testing.T, what string, mgrs map[int64]*Manager, cond func() bool) {
	t.Helper()
	timeout := time.After(testDeadline)
	for {
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timeout)}}
		for _, m := range mgrs {
			m.mu.Lock()
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(m.mu.changed)})
			m.mu.Unlock()
		}
		if cond() {
			return
		}
		if i, _, _ := reflect.Select(cases); i == 0 {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// settled reports whether no dial or handshake is under way anywhere and
// every connection a dialer made has been accepted. mgrs must include
// the closed managers that were dialled.
func settled(mgrs []*Manager) bool {
	connected, accepted := 0, 0
	for _, m := range mgrs {
		m.mu.Lock()
		busy := m.mu.dials > 0 || len(m.mu.inbound) > 0
		connected += m.mu.connected
		accepted += m.mu.accepted
		m.mu.Unlock()
		if busy {
			return false
		}
	}
	return connected == accepted
}

// link returns the local and remote addresses of m's connection to sid.
func link(m *Manager, sid int64) (local, remote string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.mu.peers[sid]
	if p == nil || p.conn == nil {
		return "", "", false
	}
	return p.conn.nc.LocalAddr().String(), p.conn.nc.RemoteAddr().String(), true
}

// pairsOK reports whether every pair of managers shares one connection,
// dialled by the larger sid.
func pairsOK(mgrs map[int64]*Manager) error {
	for a, ma := range mgrs {
		for b, mb := range mgrs {
			if a >= b {
				continue
			}
			// b dialled a: a's end is a's listening address.
			aLocal, aRemote, okA := link(ma, b)
			bLocal, bRemote, okB := link(mb, a)
			switch {
			case !okA || !okB:
				return fmt.Errorf("%d-%d: connected %v/%v", a, b, okA, okB)
			case aLocal != ma.Addr().String() || bRemote != aLocal || aRemote != bLocal:
				return fmt.Errorf("%d-%d: %d has %s->%s, %d has %s->%s", a, b, a, aLocal, aRemote, b, bLocal, bRemote)
			}
		}
	}
	return nil
}

func (c *cluster) waitConnected() {
	c.t.Helper()
	waitFor(c.t, "every pair connected and settled", c.mgrs, func() bool {
		return settled(c.all) && pairsOK(c.mgrs) == nil
	})
}

// recvOne returns the next message m receives.
func recvOne(t *testing.T, m *Manager) Message {
	t.Helper()
	select {
	case msg := <-m.Recv():
		return msg
	case <-time.After(testDeadline):
		t.Fatalf("sid %d received nothing", m.cfg.MyID)
	}
	return Message{}
}

// recvUntil reads m's receive queue until want holds every message it
// lists (From -> Data), ignoring duplicates.
func recvUntil(t *testing.T, m *Manager, want map[int64]string) {
	t.Helper()
	timeout := time.After(testDeadline)
	missing := map[int64]string{}
	for k, v := range want {
		missing[k] = v
	}
	for len(missing) > 0 {
		select {
		case msg, ok := <-m.Recv():
			if !ok {
				t.Fatal("receive queue closed")
			}
			if missing[msg.From] == string(msg.Data) {
				delete(missing, msg.From)
			}
		case <-timeout:
			t.Fatalf("sid %d: still waiting for %v", m.cfg.MyID, missing)
		}
	}
}

// TestManagerPairsConnectOnce: whatever order the servers dial in, each
// pair ends with one connection, dialled by the larger sid. When servers
// dial one after another, every server registers exactly one connection
// per peer; when all dial at once, the tie-break may churn before it
// settles.
func TestManagerPairsConnectOnce(t *testing.T) {
	for _, order := range [][]int64{{1, 2, 3}, {3, 2, 1}, {2, 3, 1}, {1, 3, 2}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			c := newCluster(t, 1, 2, 3)
			for _, sid := range order {
				c.mgrs[sid].ConnectAll()
				waitFor(t, "settled", c.mgrs, func() bool { return settled(c.all) })
			}
			c.waitConnected()
			for sid, m := range c.mgrs {
				m.mu.Lock()
				n := m.mu.established
				m.mu.Unlock()
				if n != 2 {
					t.Errorf("sid %d registered %d connections, want 2", sid, n)
				}
			}
		})
	}
	t.Run("all at once", func(t *testing.T) {
		c := newCluster(t, 1, 2, 3)
		var wg sync.WaitGroup
		for _, m := range c.mgrs {
			wg.Go(m.ConnectAll)
		}
		wg.Wait()
		c.waitConnected()
	})
}

// TestManagerMessages sends a message from every manager to every
// manager, itself included, before any connection exists.
func TestManagerMessages(t *testing.T) {
	c := newCluster(t, 1, 2, 3)
	for from, m := range c.mgrs {
		for to := range c.mgrs {
			if err := m.Send(to, []byte(fmt.Sprintf("%d to %d", from, to))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for to, m := range c.mgrs {
		want := map[int64]string{}
		for from := range c.mgrs {
			want[from] = fmt.Sprintf("%d to %d", from, to)
		}
		recvUntil(t, m, want)
	}
	c.waitConnected()
}

// TestManagerPeerRestart stops a server and starts it again on the same
// address: the others reconnect when they next send, and messages flow
// both ways again.
func TestManagerPeerRestart(t *testing.T) {
	for _, restarted := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint(restarted), func(t *testing.T) {
			c := newCluster(t, 1, 2, 3)
			for _, m := range c.mgrs {
				m.ConnectAll()
			}
			c.waitConnected()
			old := c.mgrs[restarted]
			addr := old.Addr().String()
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			delete(c.mgrs, restarted)
			waitFor(t, "the others to see the connection go", c.mgrs, func() bool {
				for _, m := range c.mgrs {
					if _, _, ok := link(m, restarted); ok {
						return false
					}
				}
				return true
			})
			c.start(restarted, addr)
			c.setPeers()
			for from, m := range c.mgrs {
				for to := range c.mgrs {
					if to != from && (to == restarted || from == restarted) {
						if err := m.Send(to, []byte(fmt.Sprintf("again %d to %d", from, to))); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			for to, m := range c.mgrs {
				want := map[int64]string{}
				for from := range c.mgrs {
					if from != to && (to == restarted || from == restarted) {
						want[from] = fmt.Sprintf("again %d to %d", from, to)
					}
				}
				recvUntil(t, m, want)
			}
			c.waitConnected()
		})
	}
}

// rawDial opens a raw connection to m's election port.
func rawDial(t *testing.T, m *Manager) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", m.Addr().String(), testDeadline)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// waitClosed waits until the manager closes nc: a read returns EOF or a
// reset.
func waitClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(testDeadline))
	_, err := io.Copy(io.Discard, nc)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open")
	}
}

func handshakeBytes(t *testing.T, h Handshake) []byte {
	t.Helper()
	b, err := h.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func frame(n int32, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(n)), body...)
}

// TestManagerBadPeers: a malformed handshake, a handshake with our own
// sid and a bad frame length each close only their own connection; the
// established connections carry on.
func TestManagerBadPeers(t *testing.T) {
	c := newCluster(t, 1, 2)
	m1 := c.mgrs[1]
	m1.ConnectAll()
	c.waitConnected()
	m1.mu.Lock()
	established := m1.mu.established
	m1.mu.Unlock()

	for _, tc := range []struct {
		name string
		in   []byte
		log  string
	}{
		{"unknown version", rawHandshake(-2, 9, 3, "a:1"), "bad handshake"},
		{"address length 0", rawHandshake(ProtocolV1, 9, 0, ""), "bad handshake"},
		{"address length 2049", rawHandshake(ProtocolV1, 9, 2049, ""), "bad handshake"},
		{"bad address", rawHandshake(ProtocolV1, 9, 4, "host"), "bad handshake"},
		{"our own sid", handshakeBytes(t, Handshake{Version: ProtocolV1, SID: 1, Addrs: []string{"127.0.0.1:1"}}), "our own sid"},
		{"frame too large", append(handshakeBytes(t, Handshake{Version: ProtocolV1, SID: 9, Addrs: []string{"127.0.0.1:1"}}),
			frame(MaxMessage+1, nil)...), "bad frame length"},
		{"frame length 0", append(handshakeBytes(t, Handshake{Version: ProtocolV1, SID: 9, Addrs: []string{"127.0.0.1:1"}}),
			frame(1, []byte{7})...), ""},
		{"frame length -1", append(handshakeBytes(t, Handshake{Version: ProtocolV2, SID: 10, Addrs: []string{"127.0.0.1:1"}}),
			frame(-1, nil)...), "bad frame length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := rawDial(t, m1)
			if _, err := nc.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			if tc.log == "" {
				// A good frame first: it is delivered, then a zero
				// length closes the connection.
				msg := recvOne(t, m1)
				if msg.From != 9 || !bytes.Equal(msg.Data, []byte{7}) {
					t.Fatalf("received %+v", msg)
				}
				if _, err := nc.Write(frame(0, nil)); err != nil {
					t.Fatal(err)
				}
				tc.log = "bad frame length"
			}
			waitClosed(t, nc)
			waitFor(t, "the log line", c.mgrs, func() bool { return strings.Contains(c.log.String(), tc.log) })
		})
	}
	// The connection between 1 and 2 is the one made at the start.
	if err := pairsOK(c.mgrs); err != nil {
		t.Fatal(err)
	}
	m1.mu.Lock()
	if n := m1.mu.established; n != established+3 { // sids 9 (twice) and 10
		t.Errorf("1 registered %d connections, want %d", n, established+3)
	}
	m1.mu.Unlock()
	if err := c.mgrs[2].Send(1, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, m1, map[int64]string{2: "still here"})
}

// TestManagerObserverDialBack: a dialer with the observer id gets a
// negative sid and, being smaller, is dialled back at the address its
// handshake names, where the manager's own handshake arrives; messages
// then flow on that connection.
func TestManagerObserverDialBack(t *testing.T) {
	c := newCluster(t, 1)
	m1 := c.mgrs[1]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc := rawDial(t, m1)
	if _, err := nc.Write(handshakeBytes(t, Handshake{Version: ProtocolV1, SID: ObserverID, Addrs: []string{ln.Addr().String()}})); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, nc)
	back, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	_ = back.SetReadDeadline(time.Now().Add(testDeadline))
	h, err := ReadHandshake(back)
	if err != nil || h.Version != ProtocolV1 || h.SID != 1 || len(h.Addrs) != 1 || h.Addrs[0] != m1.Addr().String() {
		t.Fatalf("dial-back handshake %+v, %v", h, err)
	}
	waitFor(t, "the dial-back registered", c.mgrs, func() bool { _, _, ok := link(m1, -1); return ok })
	if err := m1.Send(-1, []byte("vote")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 8)
	if _, err := io.ReadFull(back, got); err != nil || !bytes.Equal(got, frame(4, []byte("vote"))) {
		t.Fatalf("read % x, %v", got, err)
	}
	if _, err := back.Write(frame(2, []byte("ok"))); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, m1, map[int64]string{-1: "ok"})
}

// TestManagerSendQueue: a peer's queue keeps only the newest message
// while the peer is down, HaveDelivered says so, and that message is
// what the peer gets once it is up.
func TestManagerSendQueue(t *testing.T) {
	c := newCluster(t, 1)
	m1 := c.mgrs[1]
	// A free port nobody listens on yet: sid 2's address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr2 := ln.Addr().String()
	ln.Close()
	m1.SetPeers(map[int64][]string{1: {m1.Addr().String()}, 2: {addr2}})
	for _, msg := range []string{"old", "older", "newest"} {
		if err := m1.Send(2, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the dials to fail", c.mgrs, func() bool { return settled(c.all) })
	if m1.HaveDelivered() {
		t.Fatal("HaveDelivered with a message queued for a peer that is down")
	}
	m2 := c.start(2, addr2)
	c.setPeers()
	m1.ConnectAll() // 1 < 2: 1's dial makes 2 dial back
	msg := recvOne(t, m2)
	if msg.From != 1 || string(msg.Data) != "newest" {
		t.Fatalf("2 received %q from %d first, want \"newest\" from 1", msg.Data, msg.From)
	}
	waitFor(t, "the queue to empty", c.mgrs, m1.HaveDelivered)
}

// TestManagerResendLast: a connection that starts with an empty queue
// resends the last message, which may have been lost with the old one.
func TestManagerResendLast(t *testing.T) {
	c := newCluster(t, 1, 2)
	if err := c.mgrs[2].Send(1, []byte("my vote")); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, c.mgrs[1], map[int64]string{2: "my vote"})
	addr := c.mgrs[1].Addr().String()
	c.mgrs[1].Close()
	delete(c.mgrs, 1)
	waitFor(t, "2 to see the connection go", c.mgrs, func() bool { _, _, ok := link(c.mgrs[2], 1); return !ok })
	c.start(1, addr)
	c.setPeers()
	c.mgrs[2].ConnectAll()
	recvUntil(t, c.mgrs[1], map[int64]string{2: "my vote"})
}

// TestManagerRecvQueue: the receive queue keeps the newest 100 messages.
func TestManagerRecvQueue(t *testing.T) {
	c := newCluster(t, 1)
	m := c.mgrs[1]
	for i := range RecvCapacity + 50 {
		if err := m.Send(1, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(m.Recv()); n != RecvCapacity {
		t.Fatalf("%d messages queued", n)
	}
	if msg := <-m.Recv(); string(msg.Data) != "50" {
		t.Fatalf("oldest kept is %q, want \"50\"", msg.Data)
	}
}

func TestManagerSendErrors(t *testing.T) {
	c := newCluster(t, 1)
	m := c.mgrs[1]
	for _, msg := range [][]byte{nil, make([]byte, MaxMessage+1)} {
		if err := m.Send(2, msg); !errors.Is(err, ErrMessageSize) {
			t.Errorf("Send of %d bytes: %v", len(msg), err)
		}
	}
	if err := m.Send(1, make([]byte, MaxMessage)); err != nil {
		t.Errorf("Send of MaxMessage bytes: %v", err)
	}
	m.Close()
	if err := m.Send(1, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	for range m.Recv() { // drains, then ends: Close closed it
	}
}

func TestNewBindFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	log := &logBuffer{}
	cfg := testConfig(1, ln.Addr().String(), log)
	cfg.BindRetries, cfg.BindRetryInterval = 2, time.Millisecond
	if m, err := New(cfg); !errors.Is(err, ErrBind) {
		m.Close()
		t.Fatalf("New on a busy port: %v", err)
	}
	if n := strings.Count(log.String(), "cannot bind"); n != 2 {
		t.Fatalf("%d bind failures logged, want 2:\n%s", n, log)
	}
}
