package persistence

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// streamed is what ReadSnapStream gave.
type streamed struct {
	sessions []Session
	nodes    []*Node
}

func readStream(r io.Reader, maxBuffer int) (streamed, error) {
	var st streamed
	err := ReadSnapStream(r, maxBuffer, func(s Session) { st.sessions = append(st.sessions, s) },
		func(n *Node) error { st.nodes = append(st.nodes, n); return nil })
	return st, err
}

func writeStream(t testing.TB, sessions []Session, tree SnapshotSource) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteSnapStream(&b, sessions, tree); err != nil {
		t.Fatalf("WriteSnapStream: %v", err)
	}
	return b.Bytes()
}

func TestSnapStreamRoundTrip(t *testing.T) {
	sessions := []Session{{ID: 0x100000001, Timeout: 30000}, {ID: 0x100000002, Timeout: 4000}}
	want := testNodes(50)
	stream := writeStream(t, sessions, testTree(50))
	// The learner reads the next quorum packet from the same reader.
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(stream), strings.NewReader("next")))
	got, err := readStream(r, 0)
	if err != nil {
		t.Fatalf("ReadSnapStream: %v", err)
	}
	if !reflect.DeepEqual(got.sessions, sessions) {
		t.Fatalf("sessions %v, want %v", got.sessions, sessions)
	}
	checkNodes(t, got.nodes, want)
	if rest, _ := io.ReadAll(r); string(rest) != "next" {
		t.Fatalf("after the stream the reader holds %q, want \"next\"", rest)
	}
}

// TestSnapStreamIsSnapshotBody checks the layout against the snapshot file
// format: the stream is the file without its 16-byte header and what
// follows the nodes' "/", plus the signature.
func TestSnapStreamIsSnapshotBody(t *testing.T) {
	sessions := []Session{{ID: 7, Timeout: 5000}}
	stream := writeStream(t, sessions, testTree(20))
	fs := vfs.NewMem()
	if _, err := writeSnapshotFile(fs, "/snap", 9, sessions, testTree(20), nil, false); err != nil {
		t.Fatal(err)
	}
	file := readFile(t, fs, "/snap")
	sig := jute.AppendString(nil, "BenWasHere")
	body, ok := bytes.CutSuffix(stream, sig)
	if !ok {
		t.Fatalf("stream does not end in the signature: %x", stream[max(0, len(stream)-20):])
	}
	if !bytes.Equal(file[16:16+len(body)], body) {
		t.Fatal("the stream's body differs from the snapshot file's")
	}
	// What follows the body in the file is the first seal.
	if rest := file[16+len(body):]; !bytes.HasPrefix(rest[8:], jute.AppendString(nil, "/")) {
		t.Fatalf("the file goes on with %x after the body, want a seal", rest[:min(len(rest), 16)])
	}
}

func TestSnapStreamErrors(t *testing.T) {
	stream := writeStream(t, []Session{{ID: 1, Timeout: 2}}, testTree(3))
	// Cut anywhere: an error that says the stream ended early.
	for n := 0; n < len(stream); n++ {
		_, err := readStream(bytes.NewReader(stream[:n]), 0)
		if !errors.Is(err, ErrBadSnapStream) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("stream cut at %d of %d: %v, want ErrBadSnapStream and io.ErrUnexpectedEOF", n, len(stream), err)
		}
	}
	withSig := func(sig string) []byte {
		b := bytes.Clone(stream[:len(stream)-len(jute.AppendString(nil, "BenWasHere"))])
		return jute.AppendString(b, sig)
	}
	// No session, an empty ACL cache, and a root whose ACL reference is 99.
	var badACLRef []byte
	badACLRef = jute.AppendInt(badACLRef, 0)
	badACLRef = jute.AppendInt(badACLRef, 0)
	badACLRef = jute.AppendString(badACLRef, "")
	badACLRef = jute.AppendBuffer(badACLRef, []byte{})
	badACLRef = jute.AppendLong(badACLRef, 99)
	badACLRef = (&jute.StatPersisted{}).Encode(badACLRef)
	badACLRef = jute.AppendString(badACLRef, "/")
	badACLRef = jute.AppendString(badACLRef, "BenWasHere")
	tests := []struct {
		name      string
		data      []byte
		maxBuffer int
		want      error
	}{
		{"wrong signature", withSig("BenWasThere"), 0, ErrBadSnapStream},
		{"no signature", withSig(""), 0, ErrBadSnapStream},
		{"length over maxBuffer", withSig(strings.Repeat("x", 100)), 64, ErrBadSnapStream},
		{"negative session count", jute.AppendInt(nil, -1), 0, ErrBadSnapStream},
		{"ACL reference not in the cache", badACLRef, 0, ErrBadSnapStream},
		{"huge ACL cache, short stream", append(jute.AppendInt(nil, 0), jute.AppendInt(nil, 1<<30)...), 0, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := readStream(bytes.NewReader(tt.data), tt.maxBuffer); !errors.Is(err, tt.want) {
				t.Fatalf("ReadSnapStream: %v, want %v", err, tt.want)
			}
		})
	}
	// A read error of the connection is returned as it is.
	boom := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(stream[:10]), iotestErrReader{boom})
	if _, err := readStream(r, 0); !errors.Is(err, boom) || errors.Is(err, ErrBadSnapStream) {
		t.Fatalf("ReadSnapStream on a failing reader: %v, want %v alone", err, boom)
	}
	// nodeFn's error stops the read.
	stop := errors.New("stop")
	err := ReadSnapStream(bytes.NewReader(stream), 0, nil, func(*Node) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("ReadSnapStream with a failing nodeFn: %v, want %v", err, stop)
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func FuzzReadSnapStream(f *testing.F) {
	f.Add(writeStream(f, []Session{{ID: 1, Timeout: 2}}, testTree(3)))
	if b, err := os.ReadFile(goldenSnapStream); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readStream(bytes.NewReader(data), 1<<20)
		if err != nil {
			return
		}
		// What was read writes back and reads back the same.
		again, err := readStream(bytes.NewReader(writeStream(t, got.sessions, sourceOf(got.nodes))), 1<<20)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("read back %+v, want %+v", again, got)
		}
	})
}

// goldenSnapStream is a SNAP stream written by Apache ZooKeeper 3.8's own
// classes (testdata/java/SnapStreamTool.java), and goldenSnapStreamDump
// what it printed of the database it wrote.
const (
	goldenSnapStream     = "testdata/zk38/snapstream.bin"
	goldenSnapStreamDump = "testdata/zk38/snapstream.txt"
)

// dumpStreamed prints st as SnapStreamTool.java prints a database.
func dumpStreamed(st streamed) string {
	var lines []string
	for _, s := range st.sessions {
		lines = append(lines, fmt.Sprintf("session %d %d", s.ID, s.Timeout))
	}
	for _, n := range st.nodes {
		data := "null"
		if n.Data != nil {
			data = fmt.Sprintf("%x", n.Data)
		}
		var acls []string
		for _, a := range n.ACL {
			acls = append(acls, fmt.Sprintf("%d:%s:%s", a.Perms, a.Id.Scheme, a.Id.Id))
		}
		s := n.Stat
		lines = append(lines, fmt.Sprintf("node %s|%s|%s|%d,%d,%d,%d,%d,%d,%d,%d,%d", n.Path, data, strings.Join(acls, ","),
			s.Czxid, s.Mzxid, s.Ctime, s.Mtime, s.Version, s.Cversion, s.Aversion, s.EphemeralOwner, s.Pzxid))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestGoldenSnapStream decodes a stream Apache ZooKeeper wrote into what
// ZooKeeper printed of its database.
func TestGoldenSnapStream(t *testing.T) {
	stream, err := os.ReadFile(goldenSnapStream)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(goldenSnapStreamDump)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readStream(bytes.NewReader(stream), 0)
	if err != nil {
		t.Fatalf("ReadSnapStream: %v", err)
	}
	if d := dumpStreamed(got); d != string(want) {
		t.Fatalf("decoded\n%s\nZooKeeper wrote\n%s", d, want)
	}
}

// runSnapStreamTool runs testdata/java/SnapStreamTool.java on Apache
// ZooKeeper's classes and returns what it printed.
func runSnapStreamTool(t *testing.T, mode, file string) string {
	t.Helper()
	var cp []string
	for _, j := range []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-nop.jar", "metrics-core.jar",
		"commons-io.jar", "netty-handler.jar", "netty-common.jar", "netty-buffer.jar", "netty-transport.jar"} {
		cp = append(cp, filepath.Join(zkJars, j))
	}
	cmd := exec.Command("java", "-Xmx256m", "-cp", strings.Join(cp, ":"), "testdata/java/SnapStreamTool.java", mode, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("SnapStreamTool %s: %v\n%s", mode, err, stderr.String())
	}
	return string(out)
}

// TestZooKeeperSnapStream has Apache ZooKeeper's own classes write a SNAP
// stream as a leader does, decodes it, writes it again, and has ZooKeeper
// read that back as a learner does: both databases print the same. With
// -capture-zk it rewrites the golden stream.
func TestZooKeeperSnapStream(t *testing.T) {
	requireZooKeeper(t)
	dir := t.TempDir()
	zkStream := filepath.Join(dir, "zk.bin")
	zkDump := runSnapStreamTool(t, "write", zkStream)
	stream, err := os.ReadFile(zkStream)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readStream(bytes.NewReader(stream), 0)
	if err != nil {
		t.Fatalf("ReadSnapStream of ZooKeeper's stream: %v", err)
	}
	if d := dumpStreamed(got); d != zkDump {
		t.Fatalf("decoded\n%s\nZooKeeper wrote\n%s", d, zkDump)
	}
	ours := filepath.Join(dir, "ours.bin")
	if err := os.WriteFile(ours, writeStream(t, got.sessions, sourceOf(got.nodes)), 0o644); err != nil {
		t.Fatal(err)
	}
	if d := runSnapStreamTool(t, "read", ours); d != zkDump {
		t.Fatalf("ZooKeeper read our stream as\n%s\nwant\n%s", d, zkDump)
	}
	if *captureZK {
		if err := os.WriteFile(goldenSnapStream, stream, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenSnapStreamDump, []byte(zkDump), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGoldenLeaderSnapStream reads the snapshot a ZooKeeper 3.8 leader
// streamed to a wiped follower after SNAP (jute/testdata/quorum, the
// SNAPSTREAM block; jute's TestGoldenQuorum re-encodes it byte for byte),
// writes it again and reads back the same database (the ACL references
// are numbered afresh: ZooKeeper's cache keeps its own numbers, and -1 for
// world:anyone), and checks that the tree it holds has the digest the
// leader put in its PROPOSAL of the SNAP's zxid.
func TestGoldenLeaderSnapStream(t *testing.T) {
	files, err := filepath.Glob("../jute/testdata/quorum/quorum-*.txt")
	if err != nil {
		t.Fatal(err)
	}
	digests := map[int64]int64{} // zxid -> the TxnDigest of its PROPOSAL
	var snapZxid int64
	var stream []byte
	for _, f := range files {
		labels, blocks := goldenQuorumBlocks(t, f)
		for i, b := range blocks {
			words := strings.Fields(labels[i])
			switch words[2] {
			case "PROPOSAL":
				var qp jute.QuorumPacket
				if err := jute.Unmarshal(b, &qp, 0); err != nil {
					t.Fatal(err)
				}
				var dg jute.TxnDigest
				if err := jute.Unmarshal(qp.Data[len(qp.Data)-dg.Size():], &dg, 0); err == nil {
					digests[qp.Zxid] = dg.TreeDigest
				}
			case "SNAP":
				if _, err := fmt.Sscanf(words[3], "zxid=0x%x", &snapZxid); err != nil {
					t.Fatal(err)
				}
			case "SNAPSTREAM":
				stream = b
			}
		}
	}
	if stream == nil {
		t.Fatal("no SNAPSTREAM in the golden quorum streams")
	}
	got, err := readStream(bytes.NewReader(stream), 0)
	if err != nil {
		t.Fatalf("ReadSnapStream: %v", err)
	}
	again, err := readStream(bytes.NewReader(writeStream(t, got.sessions, sourceOf(got.nodes))), 0)
	if err != nil {
		t.Fatalf("ReadSnapStream of the stream written again: %v", err)
	}
	if d, want := dumpStreamed(again), dumpStreamed(got); d != want {
		t.Fatalf("written again and read back:\n%s\nZooKeeper streamed:\n%s", d, want)
	}
	tree := datatree.New(datatree.Options{})
	for _, n := range got.nodes {
		if err := tree.Restore(&datatree.SnapshotNode{Path: n.Path, Data: n.Data, ACL: n.ACL, Stat: n.Stat}); err != nil {
			t.Fatal(err)
		}
	}
	tree.SetLastZxid(snapZxid)
	want, ok := digests[snapZxid]
	if !ok {
		t.Fatalf("no PROPOSAL of zxid 0x%x, the SNAP's, was captured", snapZxid)
	}
	if tree.Digest() != want {
		t.Fatalf("the snapshot's tree has digest %#x, the leader's at 0x%x was %#x", tree.Digest(), snapZxid, want)
	}
}

// goldenQuorumBlocks reads a captured quorum connection: label lines, each
// followed by its bytes in hex.
func goldenQuorumBlocks(t *testing.T, name string) (labels []string, blocks [][]byte) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.Contains(line, " "):
			labels = append(labels, line)
			blocks = append(blocks, nil)
		default:
			h, err := hex.DecodeString(line)
			if err != nil || len(blocks) == 0 {
				t.Fatalf("%s: bad hex line %q", name, line)
			}
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], h...)
		}
	}
	return labels, blocks
}
