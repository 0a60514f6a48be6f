package server

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// syncFailFS fails every sync of the txn log's WAL files once armed, as a
// dying disk does.
type syncFailFS struct {
	vfs.FS
	armed atomic.Bool
}

var errInjectedSync = errors.New("injected fsync failure")

func (fs *syncFailFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs *syncFailFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

func (fs *syncFailFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &syncFailFile{File: f, fs: fs}, nil
}

type syncFailFile struct {
	vfs.File
	fs *syncFailFS
}

func (f *syncFailFile) fail() error {
	if f.fs.armed.Load() {
		return errInjectedSync
	}
	return nil
}

func (f *syncFailFile) Sync() error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *syncFailFile) SyncData() error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *syncFailFile) SyncTo(n int64) (bool, error) {
	if err := f.fail(); err != nil {
		return false, err
	}
	return f.File.SyncTo(n)
}

// recordingSink is a Sink that records what a connection would be sent.
type recordingSink struct {
	mu      sync.Mutex
	replies map[int32]jute.Code
	got     chan int32
	closed  chan struct{}
	once    sync.Once
}

func newRecordingSink() *recordingSink {
	return &recordingSink{replies: map[int32]jute.Code{}, got: make(chan int32, 64), closed: make(chan struct{})}
}

func (r *recordingSink) Reply(xid int32, zxid int64, code jute.Code, body []byte) {
	r.mu.Lock()
	r.replies[xid] = code
	r.mu.Unlock()
	r.got <- xid
}
func (r *recordingSink) Event(datatree.Event) {}
func (r *recordingSink) Flush()               {}
func (r *recordingSink) Close(string)         { r.once.Do(func() { close(r.closed) }) }

func (r *recordingSink) reply(t *testing.T, xid int32) jute.Code {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		code, ok := r.replies[xid]
		r.mu.Unlock()
		if ok {
			return code
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("no reply for xid %d", xid)
		}
	}
}

func (r *recordingSink) hasReply(xid int32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.replies[xid]
	return ok
}

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.ClientPort = 2181
	cfg.TickTime = 200
	return cfg
}

func send(c *Client, xid int32, op jute.OpCode, body jute.Record) {
	c.Handle(&jute.RequestHeader{Xid: xid, Type: int32(op)}, body.Encode(nil))
}

// TestLogFailureStopsWritesKeepsReads: once the txn log cannot sync, the
// write in flight is never answered (its connection closes: outcome
// unknown), later writes are refused with NotReadOnly, reads still work,
// and a restart finds every write that was acknowledged.
func TestLogFailureStopsWritesKeepsReads(t *testing.T) {
	fs := &syncFailFS{FS: vfs.NewMem()}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	srv, err := newServer(testConfig("/data"), log, fs)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	sink := newRecordingSink()
	c, resp, err := srv.Connect(&jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}, "127.0.0.1", sink)
	if err != nil || c == nil {
		t.Fatalf("connect: %v", err)
	}
	acl := jute.OpenACLUnsafe()
	send(c, 1, jute.OpCreate, &jute.CreateRequest{Path: "/acked", Acl: acl})
	if code := sink.reply(t, 1); code != jute.CodeOK {
		t.Fatalf("create before the failure: %v", code)
	}

	fs.armed.Store(true)
	send(c, 2, jute.OpCreate, &jute.CreateRequest{Path: "/unknown", Acl: acl})
	send(c, 3, jute.OpGetData, &jute.GetDataRequest{Path: "/acked"})
	select {
	case <-sink.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("connection with a write of unknown outcome was not closed")
	}
	if sink.hasReply(2) || sink.hasReply(3) {
		t.Fatal("a reply was sent for or after a write whose outcome is unknown")
	}
	// The failure is counted once, as ZooKeeper counts a critical
	// thread's (its SyncThread's) unrecoverable error.
	if n := srv.Metrics().Counter("unrecoverable_error_count").Get(); n != 1 {
		t.Errorf("unrecoverable_error_count %d, want 1", n)
	}

	// The session reconnects: reads work, writes are refused.
	sink2 := newRecordingSink()
	c2, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: 4000, SessionId: resp.SessionId, Passwd: resp.Passwd}, "127.0.0.1", sink2)
	if err != nil || c2 == nil {
		t.Fatalf("reconnect after the log failed: %v", err)
	}
	send(c2, 4, jute.OpGetData, &jute.GetDataRequest{Path: "/acked"})
	if code := sink2.reply(t, 4); code != jute.CodeOK {
		t.Fatalf("read after the log failed: %v", code)
	}
	send(c2, 5, jute.OpSetData, &jute.SetDataRequest{Path: "/acked", Version: -1})
	if code := sink2.reply(t, 5); code != jute.CodeNotReadOnly {
		t.Fatalf("write after the log failed: %v, want NotReadOnly", code)
	}
	srv.Close()

	fs.armed.Store(false)
	srv2, err := newServer(testConfig("/data"), log, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	if _, ok := srv2.Tree().Node("/acked"); !ok {
		t.Fatal("an acknowledged write is missing after restart")
	}
}
