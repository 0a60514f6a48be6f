package persistence

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/go-zookeeper/zk"
	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// These tests run the real Apache ZooKeeper 3.8 (Debian's zookeeper package,
// see /work/shared/REFERENCE-ZK.md) on a temporary dataDir bound to
// 127.0.0.1 and exchange data directories with it.

const zkJars = "/usr/share/java"

func requireZooKeeper(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping Apache ZooKeeper interop test in -short mode")
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("skipping: java is not installed (needed to run Apache ZooKeeper)")
	}
	if _, err := os.Stat(filepath.Join(zkJars, "zookeeper.jar")); err != nil {
		t.Skip("skipping: the zookeeper package is not installed (apt-get install zookeeper)")
	}
}

type zkServer struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
}

// startZooKeeper starts Apache ZooKeeper standalone with dataDir dir and
// waits until it serves requests.
func startZooKeeper(t *testing.T, dataDir string) *zkServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	conf := t.TempDir()
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n", dataDir, port)
	if err := os.WriteFile(filepath.Join(conf, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log4j := "log4j.rootLogger=INFO, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\n" +
		"log4j.appender.C.layout=org.apache.log4j.PatternLayout\nlog4j.appender.C.layout.ConversionPattern=%d %p %c{1}: %m%n\n"
	if err := os.WriteFile(filepath.Join(conf, "log4j.properties"), []byte(log4j), 0o644); err != nil {
		t.Fatal(err)
	}
	var cp []string
	for _, j := range []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-log4j12.jar", "log4j-1.2.jar",
		"servlet-api.jar", "netty-all.jar", "metrics-core.jar", "snappy-java.jar", "commons-io.jar", "commons-cli.jar"} {
		cp = append(cp, filepath.Join(zkJars, j))
	}
	cp = append(cp, conf)
	out := &bytes.Buffer{}
	cmd := exec.Command("java", "-Xmx256m", "-cp", strings.Join(cp, ":"),
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(conf, "zoo.cfg"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	z := &zkServer{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), out: out}
	t.Cleanup(z.kill)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// ruok answers imok while the database is still loading; srvr
		// reports the zxid only once the server serves requests.
		if strings.Contains(fourLetter(z.addr, "srvr"), "Zxid:") {
			// Keep the exit watcher's result for kill.
			go func() { <-exited }()
			return z
		}
		select {
		case err := <-exited:
			t.Fatalf("ZooKeeper exited: %v\n%s", err, out)
		case <-deadline:
			t.Fatalf("ZooKeeper not serving after 60s\n%s", out)
		case <-tick.C:
		}
	}
}

func fourLetter(addr, cmd string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return ""
	}
	b, _ := io.ReadAll(c)
	return strings.TrimSpace(string(b))
}

// kill stops ZooKeeper the hard way; every acknowledged txn is on disk.
func (z *zkServer) kill() {
	if z.cmd.Process != nil {
		_ = z.cmd.Process.Kill()
		_, _ = z.cmd.Process.Wait()
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

func zkConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c
			}
		case <-deadline:
			t.Fatal("no ZooKeeper session after 20s")
		}
	}
}

// clientNode is what a client reads of a znode.
type clientNode struct {
	data []byte
	acl  []zk.ACL
	stat zk.Stat
}

// readTree reads every node under (and including) "/" except /zookeeper's
// internal nodes.
func readTree(t *testing.T, c *zk.Conn) map[string]clientNode {
	t.Helper()
	out := map[string]clientNode{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getACL %s: %v", p, err)
		}
		out[p] = clientNode{data: data, acl: acl, stat: *st}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		for _, k := range kids {
			if p == "/" && k == "zookeeper" {
				continue
			}
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	return out
}

func toJuteACL(acl []zk.ACL) []jute.ACL {
	out := make([]jute.ACL, len(acl))
	for i, a := range acl {
		out[i] = jute.ACL{Perms: a.Perms, Id: jute.Id{Scheme: a.Scheme, Id: a.ID}}
	}
	return out
}

// compareNode checks a snapshot node against what the client read.
func compareNode(t *testing.T, path string, n *Node, children int, c clientNode) {
	t.Helper()
	if !bytes.Equal(n.Data, c.data) {
		t.Errorf("%s: data %q, client read %q", path, n.Data, c.data)
	}
	// ZooKeeper 3.8 hides digest hashes from clients without ADMIN
	// permission ("user:x"); compare the user part then.
	acl := append([]jute.ACL(nil), n.ACL...)
	for i := range acl {
		if i < len(c.acl) && acl[i].Id.Scheme == "digest" && strings.HasSuffix(c.acl[i].ID, ":x") {
			acl[i].Id.Id = acl[i].Id.Id[:strings.Index(acl[i].Id.Id, ":")] + ":x"
		}
	}
	if !reflect.DeepEqual(acl, toJuteACL(c.acl)) {
		t.Errorf("%s: ACL %+v, client read %+v", path, n.ACL, c.acl)
	}
	// The persisted cversion counts creates; clients see the count of
	// changes, 2*creates - children (DataNode.copyStat).
	s := n.Stat
	got := zk.Stat{Czxid: s.Czxid, Mzxid: s.Mzxid, Ctime: s.Ctime, Mtime: s.Mtime, Version: s.Version,
		Cversion: s.Cversion*2 - int32(children), Aversion: s.Aversion, EphemeralOwner: s.EphemeralOwner, DataLength: int32(len(n.Data)),
		NumChildren: int32(children), Pzxid: s.Pzxid}
	if got != c.stat {
		t.Errorf("%s: stat %+v, client read %+v", path, got, c.stat)
	}
}

func clientPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// TestImportFromZooKeeper builds a tree in Apache ZooKeeper, stops it and
// imports its version-2 dir: every node matches what the client read.
func TestImportFromZooKeeper(t *testing.T) {
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
	open := zk.WorldACL(zk.PermAll)
	digest := append(zk.DigestACL(zk.PermAll, "alice", "secret"), zk.WorldACL(zk.PermRead)...)
	must(c.Create("/app", []byte("top"), 0, open))
	must(c.Create("/app/config", []byte("k=v\n"), 0, open))
	must(c.Create("/app/config/deep", nil, 0, open))
	must(c.Create("/app/secret", []byte("hidden"), 0, digest))
	must(c.Create("/app/readonly", []byte("ro"), 0, zk.WorldACL(zk.PermRead|zk.PermCreate)))
	must(c.Create("/app/eph", []byte("mine"), zk.FlagEphemeral, open))
	for i := 0; i < 3; i++ {
		must(c.Create("/app/seq-", []byte{byte(i)}, zk.FlagSequence, open))
	}
	if _, err := c.Set("/app/config", []byte("k=v2\n"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/app/seq-0000000005", -1); err != nil {
		t.Fatal(err)
	}
	want := readTree(t, c)
	session := c.SessionID()
	z.kill() // the session (and its ephemeral) is still alive
	c.Close()

	// Restart ZooKeeper on the same dir: it replays its log and writes a
	// snapshot holding everything; stop it again before the session expires.
	z = startZooKeeper(t, dataDir)
	z.kill()
	snaps, err := listZxidFiles(vfs.Default, filepath.Join(dataDir, "version-2"), snapPrefix)
	if err != nil || len(snaps) < 2 {
		t.Fatalf("ZooKeeper wrote no snapshot at restart: %v %v\n%s", snaps, err, z.out)
	}

	o := DefaultOptions(t.TempDir())
	o.Logger = testLogger(t)
	s := mustOpen(t, o)
	defer s.Close()
	if err := s.ImportZooKeeperDir(filepath.Join(dataDir, "version-2")); err != nil {
		t.Fatal(err)
	}
	var sessions []Session
	var nodes []*Node
	zxid, ok, err := s.LoadLatestSnapshot(func(ss Session) { sessions = append(sessions, ss) },
		func(n *Node) error { nodes = append(nodes, n); return nil })
	if err != nil || !ok {
		t.Fatalf("LoadLatestSnapshot: %v %v", ok, err)
	}
	t.Logf("imported snapshot 0x%x: %d nodes, %d sessions, log up to 0x%x", zxid, len(nodes), len(sessions), s.LastZxid())
	found := false
	for _, ss := range sessions {
		found = found || (ss.ID == session && ss.Timeout == 30000)
	}
	if !found {
		t.Errorf("live session 0x%x (30000ms) not in the snapshot: %+v", session, sessions)
	}
	children := map[string]int{}
	byPath := map[string]*Node{}
	for _, n := range nodes {
		byPath[clientPath(n.Path)] = n
		if n.Path != "" {
			children[clientPath(n.Path[:strings.LastIndex(n.Path, "/")])]++
		}
	}
	if n := byPath["/app/eph"]; n == nil || n.Stat.EphemeralOwner != session {
		t.Errorf("ephemeral /app/eph missing or not owned by 0x%x: %+v", session, n)
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		n := byPath[p]
		if n == nil {
			t.Errorf("%s: not in the imported snapshot", p)
			continue
		}
		compareNode(t, p, n, children[p], want[p])
	}
	for p := range byPath {
		if _, ok := want[p]; !ok && p != "/zookeeper" && !strings.HasPrefix(p, "/zookeeper/") {
			t.Errorf("%s: in the snapshot, not seen by the client", p)
		}
	}
}

// TestImportZooKeeperLog imports a dir whose txns are only in ZooKeeper's
// log (ZooKeeper killed before any snapshot after them) and checks that the
// log entries are the creates the client made.
func TestImportZooKeeperLog(t *testing.T) {
	requireZooKeeper(t)
	dataDir := t.TempDir()
	z := startZooKeeper(t, dataDir)
	c := zkConnect(t, z.addr)
	var created []string
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("/logged%d", i)
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		created = append(created, p)
	}
	z.kill()
	c.Close()

	o := DefaultOptions(t.TempDir())
	s := mustOpen(t, o)
	defer s.Close()
	if err := s.ImportZooKeeperDir(filepath.Join(dataDir, "version-2")); err != nil {
		t.Fatal(err)
	}
	var paths []string
	err := s.Replay(0, func(e Entry) error {
		d := jute.NewDecoder(e.Data, 0)
		var hdr jute.TxnHeader
		hdr.Decode(d)
		if hdr.Zxid != e.Zxid {
			return fmt.Errorf("header zxid 0x%x in entry 0x%x", hdr.Zxid, e.Zxid)
		}
		if jute.OpCode(hdr.Type) == jute.OpCreate {
			var txn jute.CreateTxn
			txn.Decode(d)
			if d.Err() != nil {
				return d.Err()
			}
			if string(txn.Data) != txn.Path {
				return fmt.Errorf("create %s with data %q", txn.Path, txn.Data)
			}
			paths = append(paths, txn.Path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(paths, created) {
		t.Fatalf("creates in the imported log %v, want %v", paths, created)
	}
}

// TestExportToZooKeeper builds a store through the API (a snapshot and txns
// logged after it), exports it, starts Apache ZooKeeper on the export and
// reads the tree back with a client.
func TestExportToZooKeeper(t *testing.T) {
	requireZooKeeper(t)
	o := DefaultOptions(t.TempDir())
	o.FS = vfs.Default
	s := mustOpen(t, o)
	defer s.Close()

	const snapZxid = 0x100000010
	nodes := testNodes(20)
	nodes[0].Stat.Pzxid = 0x10000000f
	nodes[0].Stat.Cversion = 2
	for _, n := range nodes[4:] {
		n.Stat.EphemeralOwner = 0 // no sessions: ephemerals would belong to nobody
	}
	if err := s.WriteSnapshot(snapZxid, []Session{{ID: 0x1000000aa, Timeout: 40000}}, sourceOf(nodes)); err != nil {
		t.Fatal(err)
	}
	// Three creates under /app after the snapshot.
	var logged []Entry
	for i := int64(1); i <= 3; i++ {
		z := snapZxid + i
		hdr := jute.TxnHeader{ClientId: 0x1000000aa, Cxid: int32(i), Zxid: z, Time: 1700000000000 + i, Type: int32(jute.OpCreate)}
		txn := jute.CreateTxn{Path: fmt.Sprintf("/app/logged%d", i), Data: []byte(fmt.Sprintf("L%d", i)),
			Acl: jute.OpenACLUnsafe(), ParentCVersion: int32(20 + i)}
		logged = append(logged, Entry{Zxid: z, Data: txn.Encode(hdr.Encode(nil))})
	}
	if err := appendWait(t, s, logged); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	if err := s.ExportZooKeeperDir(filepath.Join(dataDir, "version-2")); err != nil {
		t.Fatal(err)
	}

	z := startZooKeeper(t, dataDir)
	c := zkConnect(t, z.addr)
	defer c.Close()
	got := readTree(t, c)
	children := map[string]int{}
	for _, n := range nodes {
		if n.Path != "" {
			children[clientPath(n.Path[:strings.LastIndex(n.Path, "/")])]++
		}
	}
	children["/app"] += 3
	for _, n := range nodes {
		p := clientPath(n.Path)
		if strings.HasPrefix(p, "/zookeeper") {
			continue
		}
		cn, ok := got[p]
		if !ok {
			t.Errorf("%s: not served by ZooKeeper", p)
			continue
		}
		want := *n
		if p == "/app" { // the logged creates moved its cversion and pzxid
			want.Stat.Cversion = 23
			want.Stat.Pzxid = snapZxid + 3
		}
		compareNode(t, p, &want, children[p], cn)
	}
	for i := int64(1); i <= 3; i++ {
		p := fmt.Sprintf("/app/logged%d", i)
		cn, ok := got[p]
		if !ok {
			t.Errorf("%s: logged create not replayed by ZooKeeper", p)
			continue
		}
		if string(cn.data) != fmt.Sprintf("L%d", i) || cn.stat.Czxid != snapZxid+i || cn.stat.Ctime != 1700000000000+i {
			t.Errorf("%s: data %q stat %+v", p, cn.data, cn.stat)
		}
	}
	if len(got) != len(nodes)-2+3 { // without /zookeeper and /zookeeper/quota, with the logged nodes
		t.Errorf("ZooKeeper serves %d nodes, want %d", len(got), len(nodes))
	}
	if t.Failed() {
		t.Logf("ZooKeeper output:\n%s", z.out)
	}
}

// TestExportDigestsToZooKeeper exports a fuzzy snapshot (taken at zxid 2,
// holding the tree as it was at zxid 8) and a log whose txns carry the
// TxnDigest datatree computes, to Apache ZooKeeper. ZooKeeper replays the
// log and compares every digest after the snapshot's digest trailer says
// its fuzzy range ends: with the trailer it counts no mismatch. Without
// it ZooKeeper compares inside the fuzzy range too and counts mismatches,
// which shows it did compare the digests.
func TestExportDigestsToZooKeeper(t *testing.T) {
	requireZooKeeper(t)
	for _, trailer := range []bool{true, false} {
		o := DefaultOptions(t.TempDir())
		o.FS = vfs.Default
		s := mustOpen(t, o)
		tree := datatree.New(datatree.Options{})
		var logged []Entry
		const session = 0x1000000aa
		for z := int64(1); z <= 8; z++ {
			hdr := jute.TxnHeader{ClientId: session, Cxid: int32(z), Zxid: z, Time: 1700000000000 + z, Type: int32(jute.OpCreate)}
			var body jute.Record = &jute.CreateTxn{Path: fmt.Sprintf("/n%d", z), Data: []byte{byte(z)}, Acl: jute.OpenACLUnsafe(), ParentCVersion: int32(z)}
			if z%3 == 0 {
				hdr.Type = int32(jute.OpSetData)
				body = &jute.SetDataTxn{Path: fmt.Sprintf("/n%d", z-1), Data: []byte("set"), Version: 1}
			}
			r := tree.Apply(&hdr, body)
			dg := jute.TxnDigest{Version: datatree.DigestVersion, TreeDigest: r.Digest}
			logged = append(logged, Entry{Zxid: z, Data: dg.Encode(body.Encode(hdr.Encode(nil)))})
		}
		if err := appendWait(t, s, logged); err != nil {
			t.Fatal(err)
		}
		src := func(acls func([][]jute.ACL) error, node func(*Node) error) error {
			return tree.Walk(acls, func(n *datatree.SnapshotNode) error {
				return node(&Node{Path: n.Path, Data: n.Data, ACL: n.ACL, Stat: n.Stat})
			})
		}
		var digest func() ZxidDigest
		if trailer {
			digest = func() ZxidDigest {
				z, d := tree.LastDigest()
				return ZxidDigest{Zxid: z, Digest: d}
			}
		}
		if err := s.WriteSnapshotDigest(2, []Session{{ID: session, Timeout: 40000}}, src, digest); err != nil {
			t.Fatal(err)
		}
		dataDir := t.TempDir()
		if err := s.ExportZooKeeperDir(filepath.Join(dataDir, "version-2")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		z := startZooKeeper(t, dataDir)
		var mismatches string
		for _, l := range strings.Split(fourLetter(z.addr, "mntr"), "\n") {
			if v, ok := strings.CutPrefix(l, "zk_digest_mismatches_count\t"); ok {
				mismatches = v
			}
		}
		switch {
		case trailer && mismatches != "0":
			t.Errorf("with the digest trailer: zk_digest_mismatches_count %q, want 0\n%s", mismatches, z.out)
		case !trailer && (mismatches == "" || mismatches == "0"):
			t.Errorf("without the digest trailer: zk_digest_mismatches_count %q, want the fuzzy range's mismatches\n%s", mismatches, z.out)
		}
		z.kill()
	}
}
