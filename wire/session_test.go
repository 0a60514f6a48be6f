package wire_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/persistence"
	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
)

func mustCall(t *testing.T, rc *rawclient.Client, op jute.OpCode, req jute.Record) rawclient.Frame {
	t.Helper()
	f, _, err := rc.Call(op, req)
	if err != nil {
		t.Fatalf("%v: %v", op, err)
	}
	return f
}

// TestSessionExpiryRemovesEphemerals: a client that vanishes without
// closing its session loses its ephemerals once the session times out,
// through a closeSession txn that fires the watches of other sessions.
func TestSessionExpiryRemovesEphemerals(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil) // tick 200ms: min session timeout 400ms
	rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 100})
	if got := rc.Session().Response.TimeOut; got != 400 {
		t.Fatalf("negotiated timeout %d, want the minimum 400 (2 ticks)", got)
	}
	if f := mustCall(t, rc, jute.OpCreate, &jute.CreateRequest{Path: "/eph", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)}); f.Err() != jute.CodeOK {
		t.Fatalf("create: %v", f.Err())
	}
	watcher, _ := connect(t, ts.Addr)
	ok, _, ch, err := watcher.ExistsW("/eph")
	if err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	rc.Close() // NB: the TCP connection only; the session is not closed
	if ev := waitEvent(t, ch); ev.Type != zk.EventNodeDeleted || ev.Path != "/eph" {
		t.Fatalf("event %+v, want NodeDeleted /eph", ev)
	}
	// The expired session cannot come back.
	s := rc.Session().Response
	rc2, res, err := rawclient.Connect(ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: s.SessionId, Passwd: s.Passwd}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	if res.Response.TimeOut != 0 || res.Response.SessionId != 0 {
		t.Fatalf("reconnect to an expired session answered %+v, want timeout 0", res.Response)
	}
	if _, closed := rc2.WaitClosed(5 * time.Second); !closed {
		t.Fatal("connection of an expired session stayed open")
	}
}

// TestReconnectRearmsWatchesAndFiresMissed: after a reconnect the client
// re-sends its watches with the last zxid it saw; changes it missed fire.
func TestReconnectRearmsWatchesAndFiresMissed(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	for _, p := range []string{"/w", "/gone"} {
		mustCall(t, rc, jute.OpCreate, &jute.CreateRequest{Path: p, Acl: jute.OpenACLUnsafe()})
	}
	f := mustCall(t, rc, jute.OpGetData, &jute.GetDataRequest{Path: "/w", Watch: true})
	lastSeen := f.Header.Zxid
	s := rc.Session().Response
	rc.Close()

	other, _ := connect(t, ts.Addr)
	if _, err := other.Set("/w", []byte("changed"), -1); err != nil {
		t.Fatal(err)
	}
	if err := other.Delete("/gone", -1); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Create("/born", nil, 0, openACL); err != nil {
		t.Fatal(err)
	}

	rc2 := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: s.SessionId, Passwd: s.Passwd, LastZxidSeen: lastSeen})
	if rc2.Session().Response.SessionId != s.SessionId {
		t.Fatalf("reconnect got session %x, want %x", rc2.Session().Response.SessionId, s.SessionId)
	}
	_, events, err := rc2.SetWatches(&jute.SetWatches{
		RelativeZxid: lastSeen,
		DataWatches:  []string{"/w", "/gone"},
		ExistWatches: []string{"/born"},
		ChildWatches: []string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]jute.EventType{}
	for _, e := range events {
		got[e.Event.Path] = jute.EventType(e.Event.Type)
	}
	want := map[string]jute.EventType{"/w": jute.EventNodeDataChanged, "/gone": jute.EventNodeDeleted, "/born": jute.EventNodeCreated}
	for p, typ := range want {
		if got[p] != typ {
			t.Errorf("missed-change event for %s = %v, want %v (all: %v)", p, got[p], typ, got)
		}
	}
}

// TestRestartKeepsSessions: sessions and their ephemerals survive a
// restart; the client reconnects with its id and password.
func TestRestartKeepsSessions(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, nil)
	rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	mustCall(t, rc, jute.OpCreate, &jute.CreateRequest{Path: "/keep", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)})
	s := rc.Session().Response
	rc.Close()
	ts.Stop()

	ts2 := startServer(t, dir, nil)
	rc2 := rawConnect(t, ts2.Addr, rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: s.SessionId, Passwd: s.Passwd})
	if got := rc2.Session().Response.SessionId; got != s.SessionId {
		t.Fatalf("session after restart %x, want %x", got, s.SessionId)
	}
	f := mustCall(t, rc2, jute.OpExists, &jute.ExistsRequest{Path: "/keep"})
	st, ok := f.Record.(*jute.ExistsResponse)
	if f.Err() != jute.CodeOK || !ok || st.Stat.EphemeralOwner != s.SessionId {
		t.Fatalf("ephemeral after restart: %v %+v", f.Err(), f.Record)
	}
	// Writes continue with zxids above everything before the restart.
	f = mustCall(t, rc2, jute.OpCreate, &jute.CreateRequest{Path: "/after", Acl: jute.OpenACLUnsafe()})
	if f.Err() != jute.CodeOK || jute.ZxidEpoch(f.Header.Zxid) < 2 {
		t.Fatalf("write after restart: %v zxid %x, want epoch >= 2", f.Err(), f.Header.Zxid)
	}
}

func TestWrongPasswordGetsExpiredAnswer(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	id := rc.Session().Response.SessionId
	bad, res, err := rawclient.Connect(ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: id, Passwd: make([]byte, 16)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if res.Response.TimeOut != 0 || res.Response.SessionId != 0 || len(res.Response.Passwd) != 16 {
		t.Fatalf("wrong password answered %+v, want timeout 0, session 0, 16 zero bytes", res.Response)
	}
	if _, closed := bad.WaitClosed(5 * time.Second); !closed {
		t.Fatal("connection with a wrong password stayed open")
	}
	// NB: as in ZooKeeper, the attempt still drops the session's current
	// connection; the session itself lives on for its rightful owner.
	if _, closed := rc.WaitClosed(5 * time.Second); !closed {
		t.Fatal("the session's connection survived a reconnect attempt; ZooKeeper closes it")
	}
	s := rc.Session().Response
	again := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: id, Passwd: s.Passwd})
	if f := mustCall(t, again, jute.OpExists, &jute.ExistsRequest{Path: "/"}); f.Err() != jute.CodeOK {
		t.Fatalf("session after a bad reconnect attempt: %v", f.Err())
	}
}

func TestOldClientWithoutReadOnlyByte(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000, OmitReadOnly: true})
	if rc.Session().ReadOnlyPresent {
		t.Fatal("server sent the readOnly byte to a client that did not send one")
	}
	rc2 := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	if !rc2.Session().ReadOnlyPresent {
		t.Fatal("server left out the readOnly byte for a current client")
	}
}

func TestClientAheadInZxidIsRefused(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	rc, err := rawclient.Dial(ts.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Handshake(rawclient.ConnectOptions{TimeoutMs: 4000, LastZxidSeen: 1 << 40}); err == nil {
		t.Fatal("handshake from a client ahead in zxid succeeded; ZooKeeper closes the socket")
	}
}

// TestBadInputClosesOnlyThatConnection sends each kind of bad input on its
// own connection and checks that it is closed while a bystander session
// keeps working.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	bystander, _ := connect(t, ts.Addr)
	frame := func(n uint32, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, n)
		return append(b, body...)
	}
	cases := []struct {
		name      string
		handshake bool
		raw       []byte
	}{
		{"oversized connect frame", false, frame(jute.DefaultMaxBuffer+1, nil)},
		{"negative frame length", false, frame(0xffffff00, nil)},
		{"garbage connect request", false, frame(3, []byte{1, 2, 3})},
		{"oversized request frame", true, frame(jute.DefaultMaxBuffer+1, nil)},
		{"request shorter than its header", true, frame(3, []byte{0, 0, 0})},
		{"unknown op code", true, frame(8, []byte{0, 0, 0, 1, 0, 0, 0x30, 0x39})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := rawclient.Dial(ts.Addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if tc.handshake {
				if _, err := rc.Handshake(rawclient.ConnectOptions{TimeoutMs: 4000}); err != nil {
					t.Fatal(err)
				}
			}
			if err := rc.WriteRaw(tc.raw); err != nil {
				t.Fatal(err)
			}
			frames, closed := rc.WaitClosed(5 * time.Second)
			if !closed {
				t.Fatal("connection still open after bad input")
			}
			if tc.name == "unknown op code" {
				if len(frames) != 1 || frames[0].Err() != jute.CodeUnimplemented || frames[0].Header.Xid != 1 {
					t.Fatalf("unknown op answered %+v, want one Unimplemented reply for xid 1", frames)
				}
			}
			if _, _, err := bystander.Exists("/"); err != nil {
				t.Fatalf("bystander session broken: %v", err)
			}
		})
	}
}

// TestSlowConsumerIsDisconnected: a client that sends requests but never
// reads its replies is cut off once its queue passes the bound; others
// are unaffected. The read pause is off: it would keep the queue below
// the bound.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	ts := startServerOpts(t, t.TempDir(), nil, func(o *wire.Options) {
		o.MaxOutstandingBytes = 1 << 20
		o.ReadPauseBytes = 0
	})
	c, _ := connect(t, ts.Addr)
	if _, err := c.Create("/big", make([]byte, 512<<10), 0, openACL); err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	req := (&jute.GetDataRequest{Path: "/big"}).Encode((&jute.RequestHeader{Xid: 1, Type: int32(jute.OpGetData)}).Encode(nil))
	go func() {
		if _, err := nc.Write(frame((&jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}).Encode(nil))); err != nil {
			return
		}
		for i := 0; i < 10_000; i++ { // NB: bounded: ~5 GB of replies if never cut off
			nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := nc.Write(frame(req)); err != nil {
				return // the server closed us
			}
		}
	}()
	// Only now read: a server that cut us off ends the stream long before
	// it has sent every reply.
	time.Sleep(500 * time.Millisecond) // NB: lets the replies pile up unread; not a condition wait
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept a client that never reads (read %d bytes)", n)
	}
	if n > 64<<20 {
		t.Fatalf("read %d bytes of replies; a slow consumer should be cut off near 1 MiB queued", n)
	}
	if _, _, err := c.Get("/big"); err != nil {
		t.Fatalf("well-behaved client broken: %v", err)
	}
}

// TestSlowReaderPausesReads (issue 13 bug 12): a client that pipelines
// 2000 reads of a 64 KiB znode and reads nothing makes the server stop
// reading its requests once about ReadPauseBytes of replies are queued,
// instead of queueing 125 MiB of them (or cutting it off as a slow
// consumer); once it reads, every reply arrives, in order.
func TestSlowReaderPausesReads(t *testing.T) {
	const (
		reads    = 2000
		size     = 64 << 10
		pauseAt  = 1 << 20
		maxReply = 4 + 16 + 4 + size + 80 // frame length, header, data, Stat
	)
	ts := startServerOpts(t, t.TempDir(), nil, func(o *wire.Options) { o.ReadPauseBytes = pauseAt })
	c, _ := connect(t, ts.Addr)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if _, err := c.Create("/big", data, 0, openACL); err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(nc)
	readFrame := func() []byte {
		t.Helper()
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, binary.BigEndian.Uint32(n[:]))
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := nc.Write(frame((&jute.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}).Encode(nil))); err != nil {
		t.Fatal(err)
	}
	var resp jute.ConnectResponse
	if err := jute.Unmarshal(readFrame(), &resp, 1<<20); err != nil || resp.TimeOut == 0 {
		t.Fatalf("connect: %+v %v", resp, err)
	}
	var batch []byte
	for xid := int32(1); xid <= reads; xid++ {
		req := (&jute.GetDataRequest{Path: "/big"}).Encode((&jute.RequestHeader{Xid: xid, Type: int32(jute.OpGetData)}).Encode(nil))
		batch = append(batch, frame(req)...)
	}
	sent := make(chan error, 1)
	go func() { _, err := nc.Write(batch); sent <- err }() // NB: may block once the server stops reading

	info := func() wire.ConnectionInfo {
		for _, ci := range ts.Listener.Connections() {
			if ci.SessionID == resp.SessionId {
				return ci
			}
		}
		t.Fatal("connection gone")
		return wire.ConnectionInfo{}
	}
	waitFor(t, "reads paused", func() bool { return info().ReadPaused })
	if ci := info(); ci.MaxOutputBytes > pauseAt+maxReply {
		t.Fatalf("%d bytes queued at most, want at most %d (pause bound + one reply)", ci.MaxOutputBytes, pauseAt+maxReply)
	}

	for xid := int32(1); xid <= reads; xid++ {
		d := jute.NewDecoder(readFrame(), 1<<20)
		var hdr jute.ReplyHeader
		hdr.Decode(d)
		if hdr.Xid != xid || hdr.Err != 0 {
			t.Fatalf("reply %d: xid %d err %d, want replies in order", xid, hdr.Xid, hdr.Err)
		}
		var resp jute.GetDataResponse
		if err := jute.Unmarshal(d.Rest(), &resp, 1<<20); err != nil || !bytes.Equal(resp.Data, data) {
			t.Fatalf("reply %d: %d bytes of data (%v), want the znode's %d", xid, len(resp.Data), err, size)
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("pipelining: %v", err)
	}
	waitFor(t, "output written", func() bool { ci := info(); return ci.OutputBytes == 0 && !ci.ReadPaused })
	if ci := info(); ci.MaxOutputBytes > pauseAt+maxReply {
		t.Fatalf("%d bytes queued at most, want at most %d", ci.MaxOutputBytes, pauseAt+maxReply)
	}
	if _, _, err := c.Get("/big"); err != nil {
		t.Fatalf("other client: %v", err)
	}
}

// TestConnectionLimitPerIP: connections past maxClientCnxns from one
// address are closed at once; the earlier ones keep working.
func TestConnectionLimitPerIP(t *testing.T) {
	ts := startServerOpts(t, t.TempDir(), nil, func(o *wire.Options) { o.MaxClientCnxns = 3 })
	var keep []*rawclient.Client
	for i := 0; i < 3; i++ {
		keep = append(keep, rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000}))
	}
	extra, err := rawclient.Dial(ts.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if _, err := extra.Handshake(rawclient.ConnectOptions{TimeoutMs: 4000}); err == nil {
		t.Fatal("fourth connection from one address was served; maxClientCnxns is 3")
	}
	for _, rc := range keep {
		if f := mustCall(t, rc, jute.OpExists, &jute.ExistsRequest{Path: "/"}); f.Err() != jute.CodeOK {
			t.Fatal(f.Err())
		}
	}
}

// TestPipelinedRepliesInOrder: many requests in flight on one connection
// are answered in order, reads seeing the writes before them.
func TestPipelinedRepliesInOrder(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	var xids []int32
	for i := 0; i < 200; i++ {
		var xid int32
		var err error
		if i%2 == 0 {
			xid, err = rc.Send(jute.OpSetData, &jute.SetDataRequest{Path: "/", Data: []byte{byte(i)}, Version: -1})
		} else {
			xid, err = rc.Send(jute.OpGetData, &jute.GetDataRequest{Path: "/"})
		}
		if err != nil {
			t.Fatal(err)
		}
		xids = append(xids, xid)
	}
	for i, xid := range xids {
		f, err := rc.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Header.Xid != xid {
			t.Fatalf("reply %d has xid %d, want %d", i, f.Header.Xid, xid)
		}
		if r, ok := f.Record.(*jute.GetDataResponse); ok && (len(r.Data) != 1 || r.Data[0] != byte(i-1)) {
			t.Fatalf("read %d saw %v, want the write just before it (%d)", i, r.Data, i-1)
		}
	}
}

func frame(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }

// waitFor polls cond until it holds, for at most 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("still waiting after 5s for %s", what)
		}
	}
}

// TestNoWatchLeftByAGoneConnection: a read with a watch, queued behind a
// write, that runs after its connection has gone registers no watch: no
// one would ever remove it (ZooKeeper's isDeadWatcher).
func TestNoWatchLeftByAGoneConnection(t *testing.T) {
	// NB: with fsync the write is still in flight when the close arrives.
	ts := startServer(t, t.TempDir(), func(c *server.Config) { c.ForceSync = true })
	observer := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	for round := range 10 {
		rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
		path := fmt.Sprintf("/w%d", round)
		if _, err := rc.Send(jute.OpCreate, &jute.CreateRequest{Path: path, Acl: jute.OpenACLUnsafe()}); err != nil {
			t.Fatal(err)
		}
		reads := []struct {
			op  jute.OpCode
			req jute.Record
		}{
			{jute.OpGetData, &jute.GetDataRequest{Path: "/", Watch: true}},
			{jute.OpExists, &jute.ExistsRequest{Path: "/nothing", Watch: true}},
			{jute.OpAddWatch, &jute.AddWatchRequest{Path: "/", Mode: jute.AddWatchPersistentRecursive}},
		}
		for _, r := range reads {
			if _, err := rc.Send(r.op, r.req); err != nil {
				t.Fatal(err)
			}
		}
		rc.Close()
		waitFor(t, "the connection to be gone", func() bool { return ts.Listener.ConnectionCount() == 1 })
		// NB: the queued reads ran when the create was applied, before
		// the observer's later write.
		mustCall(t, observer, jute.OpCreate, &jute.CreateRequest{Path: path + "-after", Acl: jute.OpenACLUnsafe()})
		if f := mustCall(t, observer, jute.OpExists, &jute.ExistsRequest{Path: path}); f.Err() != jute.CodeOK {
			t.Fatalf("create %s: %v", path, f.Err())
		}
		if n := ts.Server.Tree().WatchCount(); n != 0 {
			t.Fatalf("round %d: %d watches left by a closed connection", round, n)
		}
	}
}

// TestWritesPipelinedAfterCloseSession: writes a client pipelines behind
// its closeSession make nothing: no ephemeral is left owned by the closed
// session (before, the create made one that nothing ever deleted).
func TestWritesPipelinedAfterCloseSession(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	observer := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	for round := range 10 {
		rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
		eph := fmt.Sprintf("/e%d", round)
		// NB: one write, so the server has all three before it answers.
		var out []byte
		for i, r := range []struct {
			op  jute.OpCode
			req jute.Record
		}{
			{jute.OpCloseSession, nil},
			{jute.OpCreate, &jute.CreateRequest{Path: eph, Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)}},
			{jute.OpCreate, &jute.CreateRequest{Path: eph + "-persistent", Acl: jute.OpenACLUnsafe()}},
		} {
			frame := (&jute.RequestHeader{Xid: int32(i + 1), Type: int32(r.op)}).Encode(nil)
			if r.req != nil {
				frame = r.req.Encode(frame)
			}
			out = binary.BigEndian.AppendUint32(out, uint32(len(frame)))
			out = append(out, frame...)
		}
		if err := rc.WriteRaw(out); err != nil {
			t.Fatal(err)
		}
		if _, closed := rc.WaitClosed(5 * time.Second); !closed {
			t.Fatal("connection stayed open after closeSession")
		}
		// NB: the observer's write is prepared after the closed session's.
		mustCall(t, observer, jute.OpCreate, &jute.CreateRequest{Path: eph + "-after", Acl: jute.OpenACLUnsafe()})
		for _, p := range []string{eph, eph + "-persistent"} {
			if f := mustCall(t, observer, jute.OpExists, &jute.ExistsRequest{Path: p}); f.Err() != jute.CodeNoNode {
				t.Fatalf("round %d: %s after its session's closeSession: %v, want NoNode", round, p, f.Err())
			}
		}
	}
	if n := ts.Server.Tree().EphemeralCount(); n != 0 {
		t.Fatalf("%d ephemerals left by closed sessions", n)
	}
}

// TestCloseSessionTxnWithinMaxBuffer: a session whose ephemerals' paths
// add up to more than jute.maxbuffer still closes with a txn the log,
// learners and ZooKeeper's own readers accept (at most jute.maxbuffer),
// and its ephemerals are gone, also after a restart.
func TestCloseSessionTxnWithinMaxBuffer(t *testing.T) {
	const maxBuffer = 4096
	dir := t.TempDir()
	ts := startServer(t, dir, func(c *server.Config) { c.JuteMaxBuffer = maxBuffer })
	rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	name := strings.Repeat("e", 200)
	total := 0
	for i := 0; total <= 2*maxBuffer; i++ {
		p := fmt.Sprintf("/%s%03d", name, i)
		if f := mustCall(t, rc, jute.OpCreate, &jute.CreateRequest{Path: p, Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)}); f.Err() != jute.CodeOK {
			t.Fatalf("create %d: %v", i, f.Err())
		}
		total += 4 + len(p)
	}
	if f, _, err := rc.CloseSession(); err != nil || f.Err() != jute.CodeOK {
		t.Fatalf("closeSession: %v %v", err, f.Err())
	}
	if n := ts.Server.Tree().EphemeralCount(); n != 0 {
		t.Fatalf("%d ephemerals left after closeSession", n)
	}
	ts.Stop()

	st, err := persistence.Open(persistence.DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Replay(0, func(e persistence.Entry) error {
		if len(e.Data) > maxBuffer {
			return fmt.Errorf("txn 0x%x is %d bytes, more than jute.maxbuffer %d", e.Zxid, len(e.Data), maxBuffer)
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	ts2 := startServer(t, dir, func(c *server.Config) { c.JuteMaxBuffer = maxBuffer })
	if n := ts2.Server.Tree().EphemeralCount(); n != 0 {
		t.Fatalf("%d ephemerals after a restart", n)
	}
}

// TestIdleConnectionsHaveNoReader (issue 13 bug 14): a session that sends
// nothing for IdleAfter gives up its goroutines, so thousands of idle
// sessions cost no goroutine stacks; an idle connection still answers
// its next request, is closed at its session's read limit, when its
// session moves, and when the listener closes.
func TestIdleConnectionsHaveNoReader(t *testing.T) {
	const n = 200
	ts := startServerOpts(t, t.TempDir(), nil, func(o *wire.Options) {
		o.IdleAfter = 50 * time.Millisecond
		o.MaxClientCnxns = 0
	})
	before := runtime.NumGoroutine()
	var rcs []*rawclient.Client
	for range n {
		rcs = append(rcs, rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000}))
	}
	allIdle := func() bool {
		cs := ts.Listener.Connections()
		for _, ci := range cs {
			if !ci.Idle {
				return false
			}
		}
		return len(cs) == n
	}
	waitFor(t, "every connection idle", allIdle)
	if extra := runtime.NumGoroutine() - before; extra > n/10 {
		t.Fatalf("%d goroutines more with %d idle sessions, want next to none", extra, n)
	}

	// Every idle connection answers, in order, and goes idle again.
	for i, rc := range rcs {
		f := mustCall(t, rc, jute.OpExists, &jute.ExistsRequest{Path: "/zookeeper"})
		if f.Err() != jute.CodeOK {
			t.Fatalf("session %d: exists: %v", i, f.Err())
		}
	}
	waitFor(t, "every connection idle again", allIdle)

	// A session that moves to another connection closes the idle one.
	s := rcs[0].Session().Response
	moved := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: s.SessionId, Passwd: s.Passwd})
	if _, closed := rcs[0].WaitClosed(5 * time.Second); !closed {
		t.Fatal("the idle connection of a session that moved is still open")
	}
	if f := mustCall(t, moved, jute.OpExists, &jute.ExistsRequest{Path: "/zookeeper"}); f.Err() != jute.CodeOK {
		t.Fatalf("moved session: exists: %v", f.Err())
	}

	// An idle connection silent past its read limit (the 400 ms minimum
	// timeout and an eighth) is closed.
	silent := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 400})
	start := time.Now()
	if _, closed := silent.WaitClosed(5 * time.Second); !closed {
		t.Fatal("a silent connection outlived its session timeout")
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("a silent connection was closed after %v, before its session timeout", d)
	}

	// Closing the listener closes the idle connections and returns.
	stopped := make(chan struct{})
	go func() { ts.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Listener.Close hangs with idle connections")
	}
	if _, closed := rcs[1].WaitClosed(5 * time.Second); !closed {
		t.Fatal("an idle connection outlived its listener")
	}
}
