package persistence

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/gokeeper/gokeeper/jute"
)

// captureZK rewrites testdata/zk38 from a real Apache ZooKeeper 3.8 run.
var captureZK = flag.Bool("capture-zk", false, "rewrite testdata/zk38 from a real Apache ZooKeeper run")

const goldenDir = "testdata/zk38/version-2"

// TestCaptureZooKeeperFiles (only with -capture-zk) runs Apache ZooKeeper,
// makes a few changes, and stores its snapshot and txn log files (the log's
// zero padding trimmed) as golden files.
func TestCaptureZooKeeperFiles(t *testing.T) {
	if !*captureZK {
		t.Skip("run with -capture-zk to rewrite testdata/zk38")
	}
	requireZooKeeper(t)
	dataDir := t.TempDir()
	z := startZooKeeper(t, dataDir)
	c := zkConnect(t, z.addr)
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create("/golden", []byte("g"), 0, zk.WorldACL(zk.PermAll)))
	must(c.Create("/golden/child", []byte("c1"), 0, zk.DigestACL(zk.PermAll, "bob", "pw")))
	if _, err := c.Set("/golden", []byte("g2"), 0); err != nil {
		t.Fatal(err)
	}
	z.kill()
	c.Close()
	z = startZooKeeper(t, dataDir) // writes a snapshot holding the changes
	z.kill()
	if err := os.RemoveAll(goldenDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(goldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dataDir, "version-2")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := zxidFromName(e.Name(), logPrefix); ok {
			b = b[:len(bytes.TrimRight(b, "\x00"))+16] // keep a zero length as the end
		}
		if err := os.WriteFile(filepath.Join(goldenDir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGoldenZooKeeperFiles reads files written by Apache ZooKeeper 3.8.
func TestGoldenZooKeeperFiles(t *testing.T) {
	snaps, err := filepath.Glob(filepath.Join(goldenDir, "snapshot.*"))
	if err != nil || len(snaps) < 2 {
		t.Fatalf("golden snapshots %v %v", snaps, err)
	}
	sort.Strings(snaps)
	// The newest snapshot (taken at the restart) holds the changes.
	newest := snaps[len(snaps)-1]
	nodes := map[string]*Node{}
	var sessions []Session
	zxid, err := ReadZKSnapshotFile(newest, func(s Session) { sessions = append(sessions, s) },
		func(n *Node) error { nodes[n.Path] = n; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if zxid == 0 || len(sessions) != 1 {
		t.Fatalf("snapshot zxid 0x%x sessions %+v", zxid, sessions)
	}
	for _, p := range []string{"", "/zookeeper", "/zookeeper/quota", "/zookeeper/config", "/golden", "/golden/child"} {
		if nodes[p] == nil {
			t.Fatalf("node %q missing; have %d nodes", p, len(nodes))
		}
	}
	g, ch := nodes["/golden"], nodes["/golden/child"]
	if string(g.Data) != "g2" || g.Stat.Version != 1 || g.Stat.Cversion != 1 || g.Stat.Pzxid != ch.Stat.Czxid {
		t.Fatalf("/golden: %+v", g)
	}
	wantACL := []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "digest", Id: zk.DigestACL(zk.PermAll, "bob", "pw")[0].ID}}}
	if string(ch.Data) != "c1" || !reflect.DeepEqual(ch.ACL, wantACL) {
		t.Fatalf("/golden/child: %+v", ch)
	}

	// The log holds createSession, two creates and a setData, in order.
	logs, _ := filepath.Glob(filepath.Join(goldenDir, "log.*"))
	var types []jute.OpCode
	var last int64
	for _, l := range logs {
		err := ReadZKTxnLogFile(l, func(e Entry) error {
			if e.Zxid <= last {
				t.Fatalf("zxid 0x%x after 0x%x", e.Zxid, last)
			}
			last = e.Zxid
			var h jute.TxnHeader
			d := jute.NewDecoder(e.Data, 0)
			h.Decode(d)
			types = append(types, jute.OpCode(h.Type))
			if jute.OpCode(h.Type) == jute.OpCreate {
				// ZooKeeper 3.8 (digests on by default) appends a TxnDigest
				// after the txn record.
				var c jute.CreateTxn
				c.Decode(d)
				var dg jute.TxnDigest
				dg.Decode(d)
				if d.Err() != nil || d.Remaining() != 0 || dg.Version != digestVersion || dg.TreeDigest == 0 {
					t.Fatalf("create 0x%x: %v, %d bytes left, digest %+v", e.Zxid, d.Err(), d.Remaining(), dg)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []jute.OpCode{jute.OpCreateSession, jute.OpCreate, jute.OpCreate, jute.OpSetData}
	if !reflect.DeepEqual(types[:min(len(types), 4)], want) {
		t.Fatalf("txn types %v, want %v first", types, want)
	}
	if last != zxid {
		t.Fatalf("log ends at 0x%x, snapshot at 0x%x", last, zxid)
	}

	// Written back with WriteZKSnapshotFile and read again, it is the same.
	out := filepath.Join(t.TempDir(), filepath.Base(newest))
	var order []*Node
	if _, err := ReadZKSnapshotFile(newest, nil, func(n *Node) error { order = append(order, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := WriteZKSnapshotFile(out, zxid, sessions, sourceOf(order)); err != nil {
		t.Fatal(err)
	}
	var again []*Node
	if _, err := ReadZKSnapshotFile(out, nil, func(n *Node) error { again = append(again, n); return nil }); err != nil {
		t.Fatal(err)
	}
	checkNodes(t, again, order)
}
