package server

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDigestMismatchCounted: the txns a server prepares carry the digest
// its tree has once they are applied, so its own writes count no
// mismatch; a txn whose digest differs (a leader whose tree differs from
// this member's) is counted in digest_mismatches_count each time and
// logged the first time only, as ZooKeeper's DataTree.compareDigest does.
func TestDigestMismatchCounted(t *testing.T) {
	var logs lockedBuffer
	srv, err := newServer(testConfig("/data"), zerolog.New(&logs), vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	sink := newRecordingSink()
	c, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}, "127.0.0.1", sink)
	if err != nil || c == nil {
		t.Fatalf("connect: %v", err)
	}
	acl := jute.OpenACLUnsafe()
	send(c, 1, jute.OpCreate, &jute.CreateRequest{Path: "/a", Data: []byte("x"), Acl: acl})
	send(c, 2, jute.OpCreate, &jute.CreateRequest{Path: "/a/e", Acl: acl, Flags: int32(jute.ModeEphemeralSequential)})
	send(c, 3, jute.OpSetData, &jute.SetDataRequest{Path: "/a", Data: []byte("y"), Version: -1})
	send(c, 4, jute.OpDelete, &jute.DeleteRequest{Path: "/nothing", Version: -1})
	for xid := int32(1); xid <= 4; xid++ {
		sink.reply(t, xid)
	}
	mismatches := srv.Metrics().Counter("digest_mismatches_count")
	if n := mismatches.Get(); n != 0 {
		t.Fatalf("%d digest mismatches on the server's own writes", n)
	}

	srv.applyMu.Lock()
	for i := range 2 {
		zxid := srv.tree.LastZxid() + 1
		txn := Txn{
			Hdr:    jute.TxnHeader{ClientId: 1, Zxid: zxid, Time: 1, Type: int32(jute.OpSetData)},
			Body:   &jute.SetDataTxn{Path: "/a", Data: []byte{byte(i)}, Version: int32(2 + i)},
			Digest: jute.TxnDigest{Version: datatree.DigestVersion, TreeDigest: 12345},
		}
		srv.applyLocked(&write{op: jute.OpSetData, txn: txn}, 0)
	}
	srv.applyMu.Unlock()
	if n := mismatches.Get(); n != 2 {
		t.Fatalf("digest_mismatches_count %d after two txns with a wrong digest, want 2", n)
	}
	if n := strings.Count(logs.String(), "first digest mismatch"); n != 1 {
		t.Fatalf("the mismatch was logged %d times, want once:\n%s", n, logs.String())
	}
}
