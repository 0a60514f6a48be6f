package server

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/persistence"
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

// TestDigestComparedOnRecovery: a restarted server replays its log over
// its snapshot and compares each txn's digest with its tree's, from the
// zxid of the snapshot's digest trailer on: its own log counts no
// mismatch, and a txn logged with a wrong digest counts one.
func TestDigestComparedOnRecovery(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig("/data")
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	start := func() *Server {
		t.Helper()
		srv, err := newServer(cfg, log, fs)
		if err != nil {
			t.Fatal(err)
		}
		srv.Start()
		return srv
	}
	srv := start()
	sink := newRecordingSink()
	c, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}, "127.0.0.1", sink)
	if err != nil || c == nil {
		t.Fatalf("connect: %v", err)
	}
	acl := jute.OpenACLUnsafe()
	xid := int32(0)
	for i := range 10 {
		if i == 5 {
			if _, err := srv.TakeSnapshot(); err != nil {
				t.Fatal(err)
			}
		}
		xid++
		send(c, xid, jute.OpCreate, &jute.CreateRequest{Path: fmt.Sprintf("/n%d", i), Data: []byte("d"), Acl: acl})
		sink.reply(t, xid)
		xid++
		send(c, xid, jute.OpSetData, &jute.SetDataRequest{Path: fmt.Sprintf("/n%d", i), Data: []byte("e"), Version: -1})
		sink.reply(t, xid)
	}
	last := srv.tree.LastZxid()
	srv.Close()

	srv = start()
	if n := srv.Metrics().Counter("digest_mismatches_count").Get(); n != 0 {
		t.Fatalf("%d digest mismatches replaying the server's own log", n)
	}
	if got := srv.tree.LastZxid(); got != last {
		t.Fatalf("recovered to 0x%x, want 0x%x", got, last)
	}
	srv.Close()

	// A txn logged with a digest that is not the tree's.
	st, err := persistence.Open(func() persistence.Options {
		o := persistenceOptions(cfg, log)
		o.FS = fs
		return o
	}())
	if err != nil {
		t.Fatal(err)
	}
	bad := Txn{
		Hdr:    jute.TxnHeader{ClientId: 1, Zxid: last + 1, Time: 1, Type: int32(jute.OpSetData)},
		Body:   &jute.SetDataTxn{Path: "/n0", Data: []byte("f"), Version: 9},
		Digest: jute.TxnDigest{Version: datatree.DigestVersion, TreeDigest: 12345},
	}
	done := make(chan error, 1)
	st.Append([]persistence.Entry{{Zxid: last + 1, Data: EncodeTxn(nil, &bad)}}, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.Close()
	srv = start()
	defer srv.Close()
	if n := srv.Metrics().Counter("digest_mismatches_count").Get(); n != 1 {
		t.Fatalf("digest_mismatches_count %d after replaying a txn with a wrong digest, want 1", n)
	}
}

// TestDigestFuzzySnapshotRecovery: a snapshot taken at zxid 2 holds the
// tree as it was at zxid 8 (a fuzzy snapshot at its most fuzzy), with the
// digest trailer of zxid 8. Recovery compares no digest of the txns it
// replays before zxid 8, where the tree is exact again and the trailer
// matches. Without the trailer every txn is compared, as ZooKeeper does,
// and those of the fuzzy range mismatch.
func TestDigestFuzzySnapshotRecovery(t *testing.T) {
	for _, trailer := range []bool{true, false} {
		fs := vfs.NewMem()
		cfg := testConfig("/data")
		log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
		o := persistenceOptions(cfg, log)
		o.FS = fs
		st, err := persistence.Open(o)
		if err != nil {
			t.Fatal(err)
		}
		tree := datatree.New(datatree.Options{})
		var entries []persistence.Entry
		for z := int64(1); z <= 8; z++ {
			txn := Txn{Hdr: jute.TxnHeader{ClientId: 1, Zxid: z, Time: z, Type: int32(jute.OpCreate)},
				Body: &jute.CreateTxn{Path: fmt.Sprintf("/n%d", z), Acl: jute.OpenACLUnsafe(), ParentCVersion: int32(z)}}
			if z%2 == 0 {
				txn.Hdr.Type = int32(jute.OpSetData)
				txn.Body = &jute.SetDataTxn{Path: fmt.Sprintf("/n%d", z-1), Data: []byte("x"), Version: 1}
			}
			r := tree.Apply(&txn.Hdr, txn.Body)
			txn.Digest = jute.TxnDigest{Version: datatree.DigestVersion, TreeDigest: r.Digest}
			entries = append(entries, persistence.Entry{Zxid: z, Data: EncodeTxn(nil, &txn)})
		}
		done := make(chan error, 1)
		st.Append(entries, func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var digest func() persistence.ZxidDigest
		if trailer {
			digest = func() persistence.ZxidDigest {
				z, d := tree.LastDigest()
				return persistence.ZxidDigest{Zxid: z, Digest: d}
			}
		}
		src := func(acls func([][]jute.ACL) error, node func(*persistence.Node) error) error {
			return tree.Walk(acls, func(n *datatree.SnapshotNode) error {
				return node(&persistence.Node{Path: n.Path, Data: n.Data, ACL: n.ACL, Stat: n.Stat})
			})
		}
		if err := st.WriteSnapshotDigest(2, nil, src, digest); err != nil {
			t.Fatal(err)
		}
		st.Close()
		srv, err := newServer(cfg, log, fs)
		if err != nil {
			t.Fatal(err)
		}
		n := srv.Metrics().Counter("digest_mismatches_count").Get()
		srv.Close()
		if trailer && n != 0 || !trailer && n == 0 {
			t.Errorf("digest trailer %v: %d mismatches replaying the fuzzy range", trailer, n)
		}
	}
}
