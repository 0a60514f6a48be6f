package datatree

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// goldenBlocks reads a labelled-hex capture of jute/testdata (see its
// READMEs): a label line has a space, a hex line has none.
func goldenBlocks(t *testing.T, name string) (labels []string, blocks [][]byte) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "jute", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
		case strings.Contains(text, " "):
			labels = append(labels, text)
			blocks = append(blocks, nil)
		default:
			b, err := hex.DecodeString(text)
			if err != nil || len(blocks) == 0 {
				t.Fatalf("%s: bad hex line %q", name, text)
			}
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], b...)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return labels, blocks
}

// applyDigested applies one serialized txn as ZooKeeper logs and proposes
// it (TxnHeader, record, TxnDigest) and checks the tree's digest after it
// against the TxnDigest. ZooKeeper leaves the digest out of a request's
// ErrorTxn (the exception skips it) and puts it in every other txn.
func applyDigested(t *testing.T, tr *Tree, label string, txn []byte) {
	t.Helper()
	d := jute.NewDecoder(txn, 0)
	var hdr jute.TxnHeader
	hdr.Decode(d)
	body := jute.NewTxnRecord(jute.OpCode(hdr.Type))
	body.Decode(d)
	if d.Err() != nil {
		t.Fatalf("%s: %v", label, d.Err())
	}
	r := tr.Apply(&hdr, body)
	if jute.OpCode(hdr.Type) == jute.OpError {
		if d.Remaining() != 0 {
			t.Fatalf("%s: an error txn with %d bytes after it", label, d.Remaining())
		}
		return
	}
	var dg jute.TxnDigest
	dg.Decode(d)
	if d.Err() != nil || d.Remaining() != 0 {
		t.Fatalf("%s: %v, %d bytes left", label, d.Err(), d.Remaining())
	}
	if dg.Version != DigestVersion {
		t.Fatalf("%s: digest version %d", label, dg.Version)
	}
	if r.Digest != dg.TreeDigest {
		t.Fatalf("%s: digest %#x after the txn, ZooKeeper's %#x", label, r.Digest, dg.TreeDigest)
	}
	if got := tr.Digest(); got != r.Digest {
		t.Fatalf("%s: Digest() %#x, Result.Digest %#x", label, got, r.Digest)
	}
}

// TestDigestGoldenTxnLog replays the txn log Apache ZooKeeper 3.8 wrote
// (jute/testdata/persistence/log.1.txt: creates of every mode, TTL and
// container nodes, sequential nodes, setData, setACL, multi, deletes,
// errors, closeSession with ephemerals) over the empty tree it started
// from, and checks the tree's digest after every txn against the TxnDigest
// ZooKeeper logged with it.
func TestDigestGoldenTxnLog(t *testing.T) {
	labels, blocks := goldenBlocks(t, "persistence/log.1.txt")
	tr := New(Options{})
	n := 0
	for i, b := range blocks {
		if !strings.HasPrefix(labels[i], "txn ") {
			continue
		}
		// checksum long | length int | txn | 'B'
		l := int(binary.BigEndian.Uint32(b[8:]))
		applyDigested(t, tr, labels[i], b[12:12+l])
		n++
	}
	if n < 50 {
		t.Fatalf("only %d txns", n)
	}
}

// TestDigestGoldenProposals applies the PROPOSALs (to followers) and
// INFORMs (to the observer) a ZooKeeper 3.8 leader sent the learners it
// synced from the empty tree (DIFF zxid=0x0, jute/testdata/quorum), and
// checks the digest each carried. The trees are a quorum member's:
// /zookeeper/config holds the membership, which the digest leaves out.
func TestDigestGoldenProposals(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "jute", "testdata", "quorum", "quorum-*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	empty := New(Options{}).Digest()
	synced, txns := 0, map[string]int{}
	for _, f := range files {
		labels, blocks := goldenBlocks(t, filepath.Join("quorum", filepath.Base(f)))
		tr := New(Options{ConfigData: []byte("server.1=127.0.0.1:1:2:participant\nversion=0")})
		if tr.Digest() != empty {
			t.Fatalf("config data changed the digest: %#x, %#x", tr.Digest(), empty)
		}
		fromEmpty := false
		for i, b := range blocks {
			typ := strings.Fields(labels[i])[2]
			switch {
			case typ == "DIFF" || typ == "SNAP" || typ == "TRUNC":
				fromEmpty = typ == "DIFF" && strings.Contains(labels[i], " zxid=0x0 ")
				if fromEmpty {
					synced++
				}
			case fromEmpty && (typ == "PROPOSAL" || typ == "INFORM"):
				var qp jute.QuorumPacket
				if err := jute.Unmarshal(b, &qp, len(b)); err != nil {
					t.Fatalf("%s %s: %v", f, labels[i], err)
				}
				applyDigested(t, tr, filepath.Base(f)+" "+labels[i], qp.Data)
				txns[typ]++
			}
		}
	}
	if synced < 2 || txns["PROPOSAL"] < 5 || txns["INFORM"] < 5 {
		t.Fatalf("%d learners synced from the empty tree, with %v", synced, txns)
	}
}

// TestDigestIncremental checks the incremental digest against one
// computed from scratch over the whole tree, after a mix of txns that
// move every stat field, on the root and under /zookeeper too.
func TestDigestIncremental(t *testing.T) {
	tr := New(Options{})
	zxid := int64(0)
	apply := func(typ jute.OpCode, body jute.Record) Result {
		zxid++
		return tr.Apply(&jute.TxnHeader{ClientId: 7, Zxid: zxid, Time: 1000 + zxid, Type: int32(typ)}, body)
	}
	acl := jute.OpenACLUnsafe()
	apply(jute.OpCreate, &jute.CreateTxn{Path: "/a", Data: []byte("x"), Acl: acl, ParentCVersion: 1})
	apply(jute.OpCreate, &jute.CreateTxn{Path: "/a/b", Acl: acl, Ephemeral: true, ParentCVersion: 1})
	apply(jute.OpCreateContainer, &jute.CreateContainerTxn{Path: "/c", Acl: acl, ParentCVersion: 2})
	apply(jute.OpCreateTTL, &jute.CreateTTLTxn{Path: "/t", Data: []byte("ttl"), Acl: acl, ParentCVersion: 3, Ttl: 500})
	apply(jute.OpSetData, &jute.SetDataTxn{Path: "/", Data: []byte("root"), Version: 1})
	apply(jute.OpSetData, &jute.SetDataTxn{Path: "/a", Data: nil, Version: 1})
	apply(jute.OpSetACL, &jute.SetACLTxn{Path: "/a", Acl: jute.ReadACLUnsafe(), Version: 1})
	apply(jute.OpCreate, &jute.CreateTxn{Path: "/zookeeper/x", Acl: acl, ParentCVersion: -1})
	apply(jute.OpSetData, &jute.SetDataTxn{Path: "/zookeeper/quota", Data: []byte("q"), Version: 1})
	// A replayed create of an existing node moves only the parent.
	apply(jute.OpCreate, &jute.CreateTxn{Path: "/a/b", Acl: acl, ParentCVersion: 5})
	apply(jute.OpDelete, &jute.DeleteTxn{Path: "/c"})
	apply(jute.OpDelete, &jute.DeleteTxn{Path: "/gone"})
	r := apply(jute.OpCloseSession, &jute.CloseSessionTxn{})
	if e := tr.Ephemerals(7); len(e) != 0 {
		t.Fatalf("ephemerals left: %v", e)
	}
	want := int64(0)
	err := tr.Walk(nil, func(n *SnapshotNode) error {
		want += NodeDigest(n.Path, n.Data, &n.Stat)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Digest != want || tr.Digest() != want {
		t.Fatalf("incremental digest %#x (Digest() %#x), from scratch %#x", r.Digest, tr.Digest(), want)
	}
	// A tree restored from the same nodes has the same digest.
	re := New(Options{})
	err = tr.Walk(nil, func(n *SnapshotNode) error { return re.Restore(n) })
	if err != nil {
		t.Fatal(err)
	}
	re.SetLastZxid(zxid)
	if re.Digest() != want {
		t.Fatalf("restored digest %#x, want %#x", re.Digest(), want)
	}
}

func BenchmarkNodeDigest(b *testing.B) {
	for _, size := range []int{0, 100, maxInlineDigestData + 1} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			var d Digester
			data := make([]byte, size)
			st := jute.StatPersisted{Czxid: 1, Mzxid: 2, Pzxid: 3, Ctime: 4, Mtime: 5, Version: 6}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				st.Version = int32(i)
				d.Node("/bench/node-0000000012", data, &st)
			}
		})
	}
}

// TestNodeDigestLargeData: data hashed in place (beyond
// maxInlineDigestData) gives the CRC of the whole path, data and stat.
func TestNodeDigestLargeData(t *testing.T) {
	st := jute.StatPersisted{Czxid: 1, Mzxid: 2, Pzxid: 3, Ctime: 4, Mtime: 5, Version: 6, Cversion: 7, Aversion: 8, EphemeralOwner: 9}
	var d Digester
	for _, n := range []int{maxInlineDigestData, maxInlineDigestData + 1} {
		data := bytes.Repeat([]byte{'d'}, n)
		whole := append([]byte("/big"), data...)
		whole = append(whole, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3,
			0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 9)
		if got, want := d.Node("/big", data, &st), int64(crc32.ChecksumIEEE(whole)); got != want {
			t.Fatalf("%d bytes of data: %#x, want %#x", n, got, want)
		}
	}
}
