package datatree

import (
	"bufio"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/compat-tests/harness"
	"github.com/gokeeper/gokeeper/jute"
)

// TestOracle runs a script against a real Apache ZooKeeper (the one at
// GOKEEPER_ZK_ADDR, loopback only, or else one it starts when ZooKeeper
// is installed, as in CI) and against the tree, and compares the stats a
// client sees (zxids and times aside, since the real server spends zxids
// on sessions). The facts it established are also pinned by the other
// tests, so it is skipped, saying why, without a server.
func TestOracle(t *testing.T) {
	addr := os.Getenv("GOKEEPER_ZK_ADDR")
	if addr == "" {
		if err := harness.ZooKeeperInstalled(); err != nil {
			t.Skipf("no comparison with ZooKeeper: GOKEEPER_ZK_ADDR is not set and %v", err)
		}
		addr = harness.StartZooKeeperT(t, harness.DefaultSettings()).Addr
	}
	if h, _, _ := net.SplitHostPort(addr); h != "127.0.0.1" {
		t.Fatal("only loopback servers may be targeted")
	}
	conn, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// NB: a ZooKeeper that answers ruok may still be loading and refuse
	// sessions; the client retries until it has one.
	for deadline := time.After(30 * time.Second); conn.State() != zk.StateHasSession; {
		select {
		case <-events:
		case <-deadline:
			t.Fatal("no session with ZooKeeper")
		}
	}
	mntr := func() map[string]string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("mntr"))
		out := map[string]string{}
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "\t"); ok {
				out[k] = v
			}
		}
		return out
	}
	base := "/oracle" + time.Now().Format("150405")
	var b txnBuilder
	tr := New(Options{})
	// Our tree starts fresh; compare the fresh system nodes first.
	m := mntr()
	if m["zk_znode_count"] != "5" || m["zk_approximate_data_size"] != "44" {
		t.Logf("real server not fresh: znode_count=%s data_size=%s (comparing system stats only)", m["zk_znode_count"], m["zk_approximate_data_size"])
	}
	cmp := func(path string) {
		t.Helper()
		_, rs, err := conn.Get(path)
		if err != nil {
			t.Fatalf("real get %s: %v", path, err)
		}
		our := path
		if strings.HasPrefix(path, base) {
			our = "/o" + strings.TrimPrefix(path, base)
		}
		_, os, code := tr.GetData(our, 0)
		if code != jute.CodeOK {
			t.Fatalf("our get %s: %v", our, code)
		}
		got := [6]int64{int64(os.Version), int64(os.Cversion), int64(os.Aversion), int64(os.DataLength), int64(os.NumChildren), btoi(os.EphemeralOwner != 0)}
		want := [6]int64{int64(rs.Version), int64(rs.Cversion), int64(rs.Aversion), int64(rs.DataLength), int64(rs.NumChildren), btoi(rs.EphemeralOwner != 0)}
		if got != want {
			t.Errorf("%s: ours [ver cver aver len kids eph] %v, real %v", path, got, want)
		}
	}
	cmp("/zookeeper")
	cmp("/zookeeper/quota")
	cmp("/zookeeper/config")
	acl := zk.WorldACL(zk.PermAll)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = conn.Create(base, []byte("x"), 0, acl)
	must(err)
	mustOK(t, b.create(tr, "/o", "x", 1, false))
	for _, c := range []string{"/a", "/b", "/c"} {
		_, err = conn.Create(base+c, nil, 0, acl)
		must(err)
		mustOK(t, b.create(tr, "/o"+c, "", 1, false))
	}
	cmp(base)
	must(conn.Delete(base+"/b", -1))
	mustOK(t, b.delete(tr, "/o/b"))
	cmp(base)
	_, err = conn.Create(base+"/e", []byte("eph"), zk.FlagEphemeral, acl)
	must(err)
	mustOK(t, b.create(tr, "/o/e", "eph", conn.SessionID(), true))
	cmp(base + "/e")
	_, err = conn.Set(base+"/a", []byte("12345"), -1)
	must(err)
	mustOK(t, b.setData(tr, "/o/a", "12345"))
	_, err = conn.SetACL(base+"/a", zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermDelete|zk.PermAdmin|zk.PermCreate), -1)
	must(err)
	mustOK(t, tr.Apply(b.hdr(jute.OpSetACL, 1), &jute.SetACLTxn{Path: "/o/a", Acl: jute.OpenACLUnsafe(), Version: 1}))
	cmp(base + "/a")
	cmp(base)
	_, err = conn.CreateContainer(base+"/k", nil, zk.FlagContainer, acl)
	must(err)
	mustOK(t, tr.Apply(b.hdr(jute.OpCreateContainer, 1), &jute.CreateContainerTxn{Path: "/o/k", Acl: jute.OpenACLUnsafe(), ParentCVersion: parentCV(tr, "/o/k")}))
	cmp(base + "/k")
	// Multi: create and delete a child in one go.
	_, err = conn.Multi(&zk.CreateRequest{Path: base + "/m", Acl: acl}, &zk.DeleteRequest{Path: base + "/m", Version: -1})
	must(err)
	mt := &jute.MultiTxn{Txns: []jute.Txn{
		encodeTxn(jute.OpCreate, &jute.CreateTxn{Path: "/o/m", Acl: jute.OpenACLUnsafe(), ParentCVersion: parentCV(tr, "/o/m")}),
		encodeTxn(jute.OpDelete, &jute.DeleteTxn{Path: "/o/m"}),
	}}
	mustOK(t, tr.Apply(b.hdr(jute.OpMulti, 1), mt))
	cmp(base)
	for _, c := range []string{"/a", "/c", "/e", "/k"} {
		must(conn.Delete(base+c, -1))
		mustOK(t, b.delete(tr, "/o"+c))
	}
	cmp(base)
	must(conn.Delete(base, -1))
}

func btoi(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
