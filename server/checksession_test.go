package server

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// TestPrepChecksSession: a client write that reaches prep once its
// session is closing (its closeSession, or its expiry, got there first)
// is refused with SessionExpired, and with UnknownSession once the
// closeSession has been applied, as ZooKeeper's checkSession refuses it.
// None of them makes an ephemeral that outlives its session.
func TestPrepChecksSession(t *testing.T) {
	srv, err := newServer(testConfig("/data"), zerolog.Nop(), vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	c, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: 4000}, "127.0.0.1", &copyingSink{})
	if err != nil {
		t.Fatal(err)
	}
	write := func(op jute.OpCode, rec jute.Record) jute.Code {
		t.Helper()
		applied := make(chan jute.Code, 1)
		var body []byte
		if rec != nil {
			body = rec.Encode(nil)
		}
		srv.submit(&Request{Session: c.session, Op: op, Body: body},
			&write{op: op, done: func(r *datatree.Result) { applied <- r.Err }})
		select {
		case code := <-applied:
			return code
		case <-time.After(5 * time.Second):
			t.Fatalf("%v not applied within 5s", op)
		}
		return 0
	}
	eph := func(path string) *jute.CreateRequest {
		return &jute.CreateRequest{Path: path, Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)}
	}
	if code := write(jute.OpCreate, eph("/live")); code != jute.CodeOK {
		t.Fatalf("create by a live session: %v", code)
	}
	// As the expiry loop does, just before the write reaches prep.
	srv.smu.Lock()
	srv.smu.tracker.setClosing(c.session)
	srv.smu.Unlock()
	for _, w := range []struct {
		op  jute.OpCode
		rec jute.Record
	}{
		{jute.OpCreate, eph("/closing")},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/live", Version: -1}},
		{jute.OpSetACL, &jute.SetACLRequest{Path: "/live", Acl: jute.OpenACLUnsafe(), Version: -1}},
		{jute.OpDelete, &jute.DeleteRequest{Path: "/live", Version: -1}},
	} {
		if code := write(w.op, w.rec); code != jute.CodeSessionExpired {
			t.Errorf("%v by a closing session: %v, want SessionExpired", w.op, code)
		}
	}
	if code := write(jute.OpCloseSession, nil); code != jute.CodeOK {
		t.Fatalf("closeSession: %v", code)
	}
	if code := write(jute.OpCreate, eph("/closed")); code != jute.CodeUnknownSession {
		t.Errorf("create by a closed session: %v, want UnknownSession", code)
	}
	if n := srv.tree.EphemeralCount(); n != 0 {
		t.Fatalf("%d ephemerals outlive their session", n)
	}
}

// expireNow expires a session as expiryLoop does when its bucket falls
// due: marked closing, then its closeSession submitted.
func expireNow(s *Server, id int64) {
	s.smu.Lock()
	s.setClosingLocked(id)
	s.smu.Unlock()
	s.expire(id)
}

// TestRequestsAfterExpiryAreDropped: once the server expires a session,
// every request its connection sends after is dropped unanswered, as
// ZooKeeper's submitRequestNow drops them when touchSession fails, and
// not only those whose touch moves the session to a new expiry bucket: a
// client never sees a reply past a request it got none for.
func TestRequestsAfterExpiryAreDropped(t *testing.T) {
	srv, err := newServer(testConfig("/data"), zerolog.Nop(), vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	sink := newRecordingSink()
	c, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: 4000}, "127.0.0.1", sink)
	if err != nil {
		t.Fatal(err)
	}
	send(c, 1, jute.OpGetData, &jute.GetDataRequest{Path: "/"})
	if code := sink.reply(t, 1); code != jute.CodeOK {
		t.Fatalf("read before the expiry: %v", code)
	}
	expireNow(srv, c.session)
	// NB: in the expiry bucket of the read above: the tracker is not asked.
	send(c, 2, jute.OpGetData, &jute.GetDataRequest{Path: "/"})
	send(c, 3, jute.OpCreate, &jute.CreateRequest{Path: "/after", Acl: jute.OpenACLUnsafe()})
	select {
	case <-sink.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the expired session's connection was not closed")
	}
	if sink.hasReply(2) || sink.hasReply(3) {
		t.Fatal("a request sent after the session expired was answered")
	}
	if _, ok := srv.Tree().Node("/after"); ok {
		t.Fatal("a create sent after the session expired was applied")
	}
}
