package server

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// stressSink is a connection as the stress test sees it: every reply
// recorded, with a copy of its body (Sink.Reply's contract), and the
// server's Close noted.
type stressSink struct {
	mu      sync.Mutex
	xids    []int32
	codes   []jute.Code
	bodies  [][]byte
	closed  chan struct{}
	closing sync.Once
}

func newStressSink() *stressSink { return &stressSink{closed: make(chan struct{})} }

func (s *stressSink) Reply(xid int32, zxid int64, code jute.Code, body []byte) {
	s.mu.Lock()
	s.xids = append(s.xids, xid)
	s.codes = append(s.codes, code)
	s.bodies = append(s.bodies, bytes.Clone(body))
	s.mu.Unlock()
	clear(body) // NB: the server may reuse body once Reply returns
}
func (s *stressSink) Event(datatree.Event) {}
func (s *stressSink) Flush()               {}
func (s *stressSink) Close(string)         { s.closing.Do(func() { close(s.closed) }) }

func (s *stressSink) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// sentRequest is one request a stress client sent.
type sentRequest struct {
	xid       int32
	op        jute.OpCode
	path      string
	data      []byte // setData's data
	ephemeral bool   // a create's: the znode goes with the session
}

// stressConn is one connection of a stress client: the server's Client
// and what was sent on it.
type stressConn struct {
	c    *Client
	sink *stressSink
	sent []sentRequest
	// complete: every request through the closeSession must be answered.
	complete bool
	// expires: the server closes the session, whose ephemerals may be
	// gone before a read queued behind the writes runs.
	expires bool
}

// How a stress client's session ends.
const (
	endClose     = iota // closeSession, answered, then the connection closes
	endAbandon          // the connection drops with writes in flight; the session times out
	endMove             // writes in flight, the session moves to a new connection, which closes it
	endCloseRush        // closeSession behind a burst, more requests behind it (dropped)
	endExpire           // the server expires the session while its writes are in flight
	endModes
)

// TestWriteSlotPoolStress drives the reference-counted pool of write
// slots (pending: a write's reply slot, request and write in one
// allocation, held by the session's reply queue and by the write path,
// recycled by the last to let go) with clients pipelining writes and
// reads while connections drop, sessions move, close behind bursts and
// expire with writes in flight. Each connection's replies must be a
// prefix of its requests (none twice, none out of order, none after one
// that is missing), each with the body its request calls for (a create
// its own path, a read the data the writes before it left: a recycled
// slot answering another request shows here); a connection that stays
// gets every reply through its closeSession and none after; and once
// everything settled every slot is back in the pool, every in-flight
// token returned, every session and ephemeral gone. Run it under -race,
// which checks that no slot is touched after it was recycled.
func TestWriteSlotPoolStress(t *testing.T) {
	srv := startStressServer(t, vfs.NewMem())
	const clients, rounds = 40, 30
	conns := runStressClients(t, srv, clients, rounds, func(id int) int { return id % endModes }, nil)
	// Everything settles: abandoned sessions time out, writes in flight
	// are applied or dropped.
	settled(t, srv, func() bool { return srv.SessionCount() == 0 })
	if n := srv.Tree().EphemeralCount(); n != 0 {
		t.Errorf("%d ephemerals outlived their sessions", n)
	}
	if n := srv.prep.Outstanding(); n != 0 {
		t.Errorf("%d outstanding change records left after every write was applied", n)
	}
	answered, unanswered, refused := checkStressConns(t, conns)
	t.Logf("%d replies (%d writes refused behind a closing session), %d requests left unanswered", answered, refused, unanswered)
	if unanswered == 0 || refused == 0 {
		t.Errorf("no request went unanswered (%d) or no write was refused (%d): the closes and expiries did not race the writes", unanswered, refused)
	}
}

// TestWriteSlotPoolLogFailure is the stress test's clients bursting
// writes when the txn log fails: the writes in flight are abandoned (the
// connection closes, its queue is dropped), the later ones refused, and
// every slot still goes back to the pool with no reply out of order.
func TestWriteSlotPoolLogFailure(t *testing.T) {
	fs := &syncFailFS{FS: vfs.NewMem()}
	srv := startStressServer(t, fs)
	const clients, rounds = 16, 30
	// NB: the log fails once every client is connected and a few writes
	// in: the bursts are under way.
	conns := runStressClients(t, srv, clients, rounds, func(int) int { return endAbandon }, func() {
		for srv.m.prepQueued.Get() < clients+30 {
			time.Sleep(100 * time.Microsecond)
		}
		fs.armed.Store(true)
	})
	settled(t, srv, func() bool { return true })
	if !srv.ReadOnly() {
		t.Fatal("the txn log did not fail during the test")
	}
	answered, unanswered, refused := checkStressConns(t, conns)
	closed := 0
	for _, cs := range conns {
		for _, sc := range cs {
			if sc.sink.isClosed() {
				closed++
			}
		}
	}
	t.Logf("%d replies (%d writes refused), %d requests left unanswered, %d connections closed with writes of unknown outcome",
		answered, refused, unanswered, closed)
	if closed == 0 || unanswered == 0 {
		t.Errorf("no connection lost a write in flight (%d closed, %d unanswered): the failure did not race the writes", closed, unanswered)
	}
}

func startStressServer(t *testing.T, fs vfs.FS) *Server {
	t.Helper()
	cfg := testConfig("/data")
	cfg.TickTime = 100               // sessions of 200 ms to 2 s
	cfg.GlobalOutstandingLimit = 100 // NB: readers wait for tokens
	srv, err := newServer(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.Disabled), fs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.Start()
	return srv
}

// runStressClients runs clients concurrently, each ending by mode(id),
// and returns their connections. Every client connects, then all start
// their requests together while during (if set) runs.
func runStressClients(t *testing.T, srv *Server, clients, rounds int, mode func(id int) int, during func()) [][]*stressConn {
	conns := make([][]*stressConn, clients)
	var connected, wg sync.WaitGroup
	start := make(chan struct{})
	connected.Add(clients)
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[id] = runStressClient(t, srv, id, mode(id), rounds, connected.Done, start)
		}()
	}
	connected.Wait()
	close(start)
	if during != nil {
		during()
	}
	wg.Wait()
	return conns
}

// settled waits until every in-flight token is back, every write slot
// is back in the pool, and done holds.
func settled(t *testing.T, srv *Server, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for srv.OutstandingRequests() != 0 || srv.pendingsLive.Load() != 0 || !done() {
		if time.Now().After(deadline) {
			t.Fatalf("not settled: %d sessions, %d requests outstanding, %d write slots out of the pool",
				srv.SessionCount(), srv.OutstandingRequests(), srv.pendingsLive.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkStressConns checks every connection's replies.
func checkStressConns(t *testing.T, conns [][]*stressConn) (answered, unanswered, refused int) {
	t.Helper()
	for id, cs := range conns {
		for i, sc := range cs {
			n, r := checkStressConn(t, fmt.Sprintf("client %d connection %d", id, i), sc)
			answered += n
			refused += r
			unanswered += len(sc.sent) - n
		}
	}
	return answered, unanswered, refused
}

// checkStressConn checks one connection's replies against its requests
// and returns how many there were and how many refused a write.
func checkStressConn(t *testing.T, where string, sc *stressConn) (answered, refused int) {
	t.Helper()
	sc.sink.mu.Lock()
	xids, codes, bodies := sc.sink.xids, sc.sink.codes, sc.sink.bodies
	sc.sink.mu.Unlock()
	if len(xids) > len(sc.sent) {
		t.Errorf("%s: %d replies to %d requests", where, len(xids), len(sc.sent))
		return len(xids), 0
	}
	// data holds each path's data as the replies so far left it (absent:
	// no create of it succeeded).
	data := map[string][]byte{}
	ephemeral := map[string]bool{}
	for _, r := range sc.sent {
		ephemeral[r.path] = ephemeral[r.path] || r.ephemeral
	}
	for k, xid := range xids {
		r := sc.sent[k]
		if xid != r.xid {
			t.Errorf("%s: reply %d is to xid %d, want %d: replies %v are not a prefix of the requests", where, k, xid, r.xid, xids)
			return len(xids), refused
		}
		code, body := codes[k], bodies[k]
		if (code == jute.CodeSessionExpired || code == jute.CodeUnknownSession || code == jute.CodeNotReadOnly) && r.op != jute.OpGetData {
			refused++ // NB: a write behind its session's closeSession, or after the log failed
			continue
		}
		var msg string
		switch r.op {
		case jute.OpCreate:
			var resp jute.CreateResponse
			if err := jute.Unmarshal(body, &resp, 1<<20); code != jute.CodeOK || err != nil || resp.Path != r.path {
				msg = fmt.Sprintf("%v %q (%v)", code, resp.Path, err)
			}
			data[r.path] = []byte("v0")
		case jute.OpSetData:
			var resp jute.SetDataResponse
			if err := jute.Unmarshal(body, &resp, 1<<20); code != jute.CodeOK || err != nil || resp.Stat.Version != 1 {
				msg = fmt.Sprintf("%v version %d (%v)", code, resp.Stat.Version, err)
			}
			data[r.path] = r.data
		case jute.OpGetData:
			want, exists := data[r.path]
			var resp jute.GetDataResponse
			switch err := jute.Unmarshal(body, &resp, 1<<20); {
			case code == jute.CodeNoNode && sc.expires && ephemeral[r.path]:
				// NB: the expiry's closeSession was applied first.
			case !exists && code != jute.CodeNoNode:
				msg = fmt.Sprintf("%v, want NoNode: its create was refused", code)
			case exists && (code != jute.CodeOK || err != nil || !bytes.Equal(resp.Data, want)):
				msg = fmt.Sprintf("%v %q (%v), want %q", code, resp.Data, err, want)
			}
		case jute.OpCloseSession:
			if code != jute.CodeOK {
				msg = fmt.Sprint(code)
			}
		}
		if msg != "" {
			t.Errorf("%s: xid %d %v %s: %s", where, xid, r.op, r.path, msg)
		}
	}
	if sc.complete {
		last := slices.IndexFunc(sc.sent, func(r sentRequest) bool { return r.op == jute.OpCloseSession })
		if len(xids) != last+1 {
			t.Errorf("%s: %d replies, want the %d requests through the closeSession answered and none after", where, len(xids), last+1)
		}
	}
	return len(xids), refused
}

// runStressClient runs one client: rounds of pipelined create (every
// other one ephemeral), setData and getData of its own znodes, a reply
// awaited now and then, and the session's end by mode. Like package
// wire, it calls Handle from one goroutine per connection, and Detach
// once the server closed the connection (or it drops it).
func runStressClient(t *testing.T, srv *Server, id, mode, rounds int, connected func(), start <-chan struct{}) []*stressConn {
	rng := rand.New(rand.NewPCG(uint64(id), 7))
	timeout := int32(2000)
	if mode == endAbandon {
		timeout = 200 // NB: the shortest: the dropped session times out soon
	}
	connect := func(session int64) *stressConn {
		sink := newStressSink()
		c, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: timeout, SessionId: session, Passwd: sessionPassword(session)}, "127.0.0.1", sink)
		if err != nil || c == nil {
			t.Errorf("client %d: connect to session 0x%x: %v", id, session, err)
			return nil
		}
		return &stressConn{c: c, sink: sink}
	}
	sc := connect(0)
	connected()
	if sc == nil {
		return nil
	}
	<-start
	conns := []*stressConn{sc}
	xid := int32(0)
	send := func(sc *stressConn, op jute.OpCode, path string, data []byte, rec jute.Record) {
		xid++
		r := sentRequest{xid: xid, op: op, path: path, data: data}
		if cr, ok := rec.(*jute.CreateRequest); ok {
			r.ephemeral = cr.Flags == int32(jute.ModeEphemeral)
		}
		sc.sent = append(sc.sent, r)
		var body []byte
		if rec != nil {
			body = rec.Encode(nil)
		}
		sc.c.Handle(&jute.RequestHeader{Xid: xid, Type: int32(op)}, body)
	}
	// await waits for the reply to the last request sent, or the close.
	await := func(sc *stressConn) {
		want := sc.sent[len(sc.sent)-1].xid
		deadline := time.Now().Add(10 * time.Second)
		for {
			sc.sink.mu.Lock()
			n := len(sc.sink.xids)
			got := n > 0 && sc.sink.xids[n-1] >= want
			sc.sink.mu.Unlock()
			if got || sc.sink.isClosed() {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("client %d: no reply to xid %d", id, want)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	acl := jute.OpenACLUnsafe()
	burst := func(sc *stressConn, from, n int) {
		for r := from; r < from+n; r++ {
			path := fmt.Sprintf("/c%d-%d", id, r)
			flags := int32(0)
			if r%2 == 1 {
				flags = int32(jute.ModeEphemeral)
			}
			send(sc, jute.OpCreate, path, nil, &jute.CreateRequest{Path: path, Data: []byte("v0"), Acl: acl, Flags: flags})
			v1 := []byte(fmt.Sprintf("v1-%d-%d", id, r))
			send(sc, jute.OpSetData, path, v1, &jute.SetDataRequest{Path: path, Data: v1, Version: 0})
			send(sc, jute.OpGetData, path, nil, &jute.GetDataRequest{Path: path})
			if rng.IntN(6) == 0 {
				await(sc)
			}
		}
	}
	closeSession := func(sc *stressConn) { send(sc, jute.OpCloseSession, "", nil, nil) }
	closedByServer := func(sc *stressConn) {
		select {
		case <-sc.sink.closed:
		case <-time.After(10 * time.Second):
			t.Errorf("client %d: the server did not close the connection", id)
		}
		sc.c.Detach()
	}
	switch mode {
	case endClose:
		burst(sc, 0, rounds)
		closeSession(sc)
		await(sc)
		closedByServer(sc)
		sc.complete = true
	case endAbandon:
		sc.expires = true
		burst(sc, 0, rounds)
		sc.c.Detach() // NB: gone with writes in flight; nothing touches the session again
	case endMove:
		burst(sc, 0, rounds/2)
		next := connect(sc.c.SessionID())
		if next == nil {
			return conns
		}
		closedByServer(sc) // NB: the session moved; the old connection's writes may be in flight
		conns = append(conns, next)
		burst(next, rounds/2, rounds-rounds/2)
		closeSession(next)
		await(next)
		closedByServer(next)
		next.complete = true
	case endCloseRush:
		burst(sc, 0, rounds)
		closeSession(sc)
		// NB: what follows a closeSession is dropped unanswered.
		path := fmt.Sprintf("/after%d", id)
		send(sc, jute.OpCreate, path, nil, &jute.CreateRequest{Path: path, Acl: acl})
		send(sc, jute.OpGetData, path, nil, &jute.GetDataRequest{Path: path})
		closedByServer(sc)
		sc.complete = true
	case endExpire:
		sc.expires = true
		// NB: the tracker's expiry lands at a random point of the burst,
		// as it does when a client's pings stop reaching the server.
		expired := make(chan struct{})
		after := time.Duration(rng.IntN(3000)) * time.Microsecond
		go func() {
			time.Sleep(after)
			expireNow(srv, sc.c.SessionID())
			close(expired)
		}()
		burst(sc, 0, rounds)
		<-expired
		closedByServer(sc)
	}
	return conns
}
