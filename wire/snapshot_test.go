package wire_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/server"
)

// TestSnapshotOnLogSize: as ZooKeeper's SyncRequestProcessor, a snapshot
// is due once the txns logged since the last one pass snapSizeLimitInKb
// (randomised between half of it and all of it), however far the count
// is from snapCount: a few large txns must not grow the log unbounded.
func TestSnapshotOnLogSize(t *testing.T) {
	ts := startServer(t, "", func(c *server.Config) {
		c.SnapCount = 1_000_000
		c.SnapSizeLimitInKb = 64
	})
	zc, _ := connect(t, ts.Addr)
	data := bytes.Repeat([]byte("x"), 4096)
	for i := range 40 { // 160 KiB
		if _, err := zc.Create(fmt.Sprintf("/n%d", i), data, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	zc.Close()
	ts.Stop() // NB: Close waits for a snapshot being written
	if snap, ok := ts.Server.LastSnapshot(); !ok || snap.Zxid == 0 {
		t.Fatalf("no snapshot after 160 KiB of txns with snapSizeLimitInKb=64 (last: %+v, %v)", snap, ok)
	}
}
