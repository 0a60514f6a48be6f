package server

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/jute"
)

// TestSnapshotCadence: with snapCount=2 a snapshot would follow every txn,
// but one is taken only once the log written since the last one holds as
// many bytes as that snapshot: small writes after a large snapshot take
// none, one large write takes the next.
func TestSnapshotCadence(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig("/data")
	cfg.SnapCount = 2
	srv, err := newServer(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), fs)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Start()
	sink := newRecordingSink()
	c, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}, "127.0.0.1", sink)
	if err != nil || c == nil {
		t.Fatalf("connect: %v", err)
	}
	snapshots := func() int {
		names, _ := fs.List("/data/snapshots")
		n := 0
		for _, name := range names {
			if strings.HasPrefix(name, "snapshot.") && !strings.HasSuffix(name, ".tmp") {
				n++
			}
		}
		return n
	}
	xid := int32(0)
	write := func(path string, size int) {
		t.Helper()
		xid++
		send(c, xid, jute.OpCreate, &jute.CreateRequest{Path: path, Data: bytes.Repeat([]byte("x"), size), Acl: jute.OpenACLUnsafe()})
		if code := sink.reply(t, xid); code != jute.CodeOK {
			t.Fatalf("create %s: %v", path, code)
		}
	}
	// waitSnapshot waits until a snapshot of at least size bytes is written
	// and none is being written, and returns the number of snapshots.
	waitSnapshot := func(size int64) int {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for srv.store.SnapshotBytes() < size || srv.snapActive.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("no snapshot of %d bytes; the last has %d", size, srv.store.SnapshotBytes())
			}
			time.Sleep(time.Millisecond)
		}
		return snapshots()
	}

	write("/big", 200_000)
	n := waitSnapshot(200_000)
	for i := range 40 {
		write("/small"+strings.Repeat("s", i), 100)
	}
	if got := snapshots(); got != n {
		t.Fatalf("%d snapshots after 4 KB of writes behind a 200 KB snapshot, want %d", got, n)
	}
	write("/big2", 200_000)
	write("/last", 0) // NB: the applier may have applied /big2 before its snapshot began
	if got := waitSnapshot(400_000); got != n+1 {
		t.Fatalf("%d snapshots after 200 KB more, want %d", got, n+1)
	}
}
