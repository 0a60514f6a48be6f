package persistence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/rs/zerolog"
)

type loaded struct {
	zxid     int64
	sessions []Session
	nodes    []*Node
}

func loadLatest(t testing.TB, s *Store) (loaded, bool) {
	t.Helper()
	var l loaded
	z, ok, err := s.LoadLatestSnapshot(
		func(ss Session) { l.sessions = append(l.sessions, ss) },
		func(n *Node) error { l.nodes = append(l.nodes, n); return nil })
	if err != nil {
		t.Fatalf("LoadLatestSnapshot: %v", err)
	}
	l.zxid = z
	return l, ok
}

func checkNodes(t testing.TB, got, want []*Node) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d nodes, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("node %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	defer s.Close()
	if _, ok := loadLatest(t, s); ok {
		t.Fatal("empty store has a snapshot")
	}
	sessions := []Session{{ID: 0x100000001, Timeout: 30000}, {ID: 0x100000002, Timeout: 4000}}
	want := testNodes(50)
	if err := s.WriteSnapshot(0x1234, sessions, testTree(50)); err != nil {
		t.Fatal(err)
	}
	l, ok := loadLatest(t, s)
	if !ok || l.zxid != 0x1234 {
		t.Fatalf("LoadLatestSnapshot = 0x%x, %v; want 0x1234, true", l.zxid, ok)
	}
	if !reflect.DeepEqual(l.sessions, sessions) {
		t.Fatalf("sessions %+v, want %+v", l.sessions, sessions)
	}
	checkNodes(t, l.nodes, want)

	// The file is a ZooKeeper snapshot: header, sessions, then an ACL cache
	// holding each distinct ACL list once.
	b := readFile(t, fs, "/data/snapshots/snapshot.1234")
	if got := binary.BigEndian.Uint32(b); got != snapMagic {
		t.Fatalf("magic %08x", got)
	}
	if v, dbid := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint64(b[8:]); v != 2 || dbid != 0 {
		t.Fatalf("version %d dbid %d", v, dbid)
	}
	off := 16 + 4 + 12*len(sessions)
	if n := binary.BigEndian.Uint32(b[off:]); n != 2 {
		t.Fatalf("ACL cache has %d lists, want 2", n)
	}
	// The file ends in a seal: checksum, then the string "/".
	if !bytes.HasSuffix(b, []byte{0, 0, 0, 1, '/'}) {
		t.Fatalf("file does not end in a seal: % x", b[len(b)-8:])
	}
}

func TestSnapshotNilACLIsOpenUnsafe(t *testing.T) {
	s := mustOpen(t, testOptions(vfs.NewMem()))
	defer s.Close()
	err := s.WriteSnapshot(1, nil, sourceOf([]*Node{{Path: "", ACL: nil}}))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := loadLatest(t, s)
	if len(l.nodes) != 1 || !reflect.DeepEqual(l.nodes[0].ACL, jute.OpenACLUnsafe()) || l.nodes[0].Data != nil {
		t.Fatalf("got %+v, want the root with world:anyone ACL and null data", l.nodes)
	}
}

func TestSnapshotIteratorErrorLeavesNoFile(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	defer s.Close()
	boom := errors.New("tree changed")
	err := s.WriteSnapshot(5, nil, func(acls func([][]jute.ACL) error, node func(*Node) error) error {
		if err := acls(nil); err != nil {
			return err
		}
		if err := node(&Node{Path: ""}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteSnapshot: %v, want the iterator's error", err)
	}
	names, _ := fs.List("/data/snapshots")
	if len(names) != 0 {
		t.Fatalf("files left behind: %v", names)
	}
}

// TestTornSnapshotSkipped damages the newest snapshot in several ways; the
// previous one is loaded instead and the callbacks see only it.
func TestTornSnapshotSkipped(t *testing.T) {
	damage := []struct {
		name string
		f    func(b []byte) []byte
	}{
		{"truncated tail", func(b []byte) []byte { return b[:len(b)-3] }},
		{"truncated middle", func(b []byte) []byte { return b[:len(b)/2] }},
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"empty", func(b []byte) []byte { return nil }},
	}
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			fs := vfs.NewMem()
			var sink logSink
			o := testOptions(fs)
			o.Logger = zerolog.New(&sink)
			s := mustOpen(t, o)
			defer s.Close()
			if err := s.WriteSnapshot(10, []Session{{ID: 1, Timeout: 1}}, testTree(5)); err != nil {
				t.Fatal(err)
			}
			if err := s.WriteSnapshot(20, []Session{{ID: 2, Timeout: 2}}, testTree(30)); err != nil {
				t.Fatal(err)
			}
			p := "/data/snapshots/snapshot.14"
			writeFile(t, fs, p, d.f(readFile(t, fs, p)))
			l, ok := loadLatest(t, s)
			if !ok || l.zxid != 10 {
				t.Fatalf("loaded 0x%x, %v; want 0xa", l.zxid, ok)
			}
			if len(l.sessions) != 1 || l.sessions[0].ID != 1 {
				t.Fatalf("sessions %+v, want only the older snapshot's", l.sessions)
			}
			checkNodes(t, l.nodes, testNodes(5))
			if !sink.contains("skipping invalid snapshot") {
				t.Fatal("no log line for the skipped snapshot")
			}
		})
	}
}

func TestOpenRemovesUnfinishedSnapshots(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	if err := s.WriteSnapshot(7, nil, testTree(1)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	writeFile(t, fs, "/data/snapshots/snapshot.9.tmp", []byte("partial"))
	s = mustOpen(t, testOptions(fs))
	defer s.Close()
	names, _ := fs.List("/data/snapshots")
	if len(names) != 1 || names[0] != "snapshot.7" {
		t.Fatalf("snapshot dir holds %v, want [snapshot.7]", names)
	}
}

func TestPurge(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	for i := int64(1); i <= 5; i++ {
		if err := appendWait(t, s, txnEntries((i-1)*10+1, i*10)); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteSnapshot(i*10-5, nil, testTree(int(i))); err != nil {
			t.Fatal(err)
		}
	}
	// retain 1 is raised to the minimum of 3.
	if err := s.Purge(1); err != nil {
		t.Fatal(err)
	}
	zs, _ := s.listSnapshots()
	if !reflect.DeepEqual(zs, []int64{25, 35, 45}) {
		t.Fatalf("snapshots after purge %v, want [25 35 45]", zs)
	}
	checkEntries(t, replayAll(t, s, 0), txnEntries(25, 50))
	_ = s.Close()
	s = mustOpen(t, testOptions(fs))
	defer s.Close()
	checkEntries(t, replayAll(t, s, 0), txnEntries(25, 50))
	l, _ := loadLatest(t, s)
	if l.zxid != 45 {
		t.Fatalf("latest snapshot 0x%x after purge, want 0x2d", l.zxid)
	}
	// Fewer snapshots than retained: nothing is removed.
	if err := s.Purge(10); err != nil {
		t.Fatal(err)
	}
	if zs, _ := s.listSnapshots(); len(zs) != 3 {
		t.Fatalf("Purge(10) left %v", zs)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	a := mustOpen(t, testOptions(fs))
	if err := appendWait(t, a, txnEntries(1, 30)); err != nil {
		t.Fatal(err)
	}
	sessions := []Session{{ID: 77, Timeout: 6000}}
	if err := a.WriteSnapshot(20, sessions, testTree(40)); err != nil {
		t.Fatal(err)
	}
	if err := a.ExportZooKeeperDir("/export/version-2"); err != nil {
		t.Fatal(err)
	}
	_ = a.Close()
	names, _ := fs.List("/export/version-2")
	if len(names) != 2 {
		t.Fatalf("exported %v, want a snapshot and a log", names)
	}
	var logged []Entry
	err := readTxnLogFile(fs, "/export/version-2/log.15", 0, func(e Entry) error {
		logged = append(logged, Entry{Zxid: e.Zxid, Data: append([]byte(nil), e.Data...)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, logged, txnEntries(21, 30))

	o := testOptions(fs)
	o.DataDir = "/b"
	b := mustOpen(t, o)
	defer b.Close()
	if err := b.ImportZooKeeperDir("/export/version-2"); err != nil {
		t.Fatal(err)
	}
	l, ok := loadLatest(t, b)
	if !ok || l.zxid != 20 || !reflect.DeepEqual(l.sessions, sessions) {
		t.Fatalf("imported snapshot 0x%x %v %+v", l.zxid, ok, l.sessions)
	}
	checkNodes(t, l.nodes, testNodes(40))
	checkEntries(t, replayAll(t, b, 20), txnEntries(21, 30))
	if err := b.ImportZooKeeperDir("/export/version-2"); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("second import: %v, want ErrNotEmpty", err)
	}
}

func TestExportNeedsSnapshot(t *testing.T) {
	s := mustOpen(t, testOptions(vfs.NewMem()))
	defer s.Close()
	if err := s.ExportZooKeeperDir("/x"); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("export: %v, want ErrNoSnapshot", err)
	}
}

func TestReadZKTxnLogFile(t *testing.T) {
	fs := vfs.NewMem()
	entries := txnEntries(1, 3)
	if err := writeTxnLogFile(fs, "/log.1", func(yield func(Entry) error) error {
		for _, e := range entries {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	good := readFile(t, fs, "/log.1")
	last := len(good) - (len(entries[2].Data) + 13) // start of the third entry
	tests := []struct {
		name    string
		data    []byte
		want    int
		wantErr error
	}{
		{"whole", good, 3, nil},
		{"preallocated zeros", append(append([]byte(nil), good...), make([]byte, 4096)...), 3, nil},
		{"torn: no EOR", good[:len(good)-1], 2, nil},
		{"torn: short txn", good[:len(good)-10], 2, nil},
		{"torn: short prefix", good[:last+5], 2, nil},
		{"wrong EOR", func() []byte { b := append([]byte(nil), good...); b[len(b)-1] = 'X'; return b }(), 2, nil},
		{"checksum", func() []byte { b := append([]byte(nil), good...); b[last+20] ^= 1; return b }(), 0, ErrCorrupt},
		{"bad magic", func() []byte { b := append([]byte(nil), good...); b[0] = 0; return b }(), 0, ErrCorrupt},
		{"negative length", func() []byte {
			b := append([]byte(nil), good[:last]...)
			return append(b, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe)
		}(), 0, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, fs, "/t", tt.data)
			n := 0
			err := readTxnLogFile(fs, "/t", 0, func(e Entry) error {
				if !bytes.Equal(e.Data, entries[n].Data) || e.Zxid != entries[n].Zxid {
					return fmt.Errorf("entry %d differs", n)
				}
				n++
				return nil
			})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("read %d entries, err %v; want %d", n, err, tt.want)
			}
		})
	}
}

func FuzzReadSnapshot(f *testing.F) {
	fs := vfs.NewMem()
	if _, err := writeSnapshotFile(fs, "/seed", 1, []Session{{ID: 1, Timeout: 2}}, testTree(3), nil, true); err != nil {
		f.Fatal(err)
	}
	f.Add(readFile(f, fs, "/seed"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mfs := vfs.NewMem()
		writeFile(t, mfs, "/snap", data)
		_ = readSnapshotFile(mfs, "/snap", func(Session) {}, func([][]jute.ACL) error { return nil }, func(*Node) error { return nil }, nil, 1<<20)
	})
}

func FuzzReadTxnLog(f *testing.F) {
	fs := vfs.NewMem()
	if err := writeTxnLogFile(fs, "/seed", func(yield func(Entry) error) error { return yield(txnEntry(1)) }); err != nil {
		f.Fatal(err)
	}
	f.Add(readFile(f, fs, "/seed"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mfs := vfs.NewMem()
		writeFile(t, mfs, "/log", data)
		_ = readTxnLogFile(mfs, "/log", 1<<20, func(Entry) error { return nil })
	})
}

// TestSnapshotWriteFailure fails the k-th write or sync of a snapshot being
// written: WriteSnapshot reports it, leaves no file behind, and the previous
// snapshot stays the latest.
func TestSnapshotWriteFailure(t *testing.T) {
	for k := int64(1); ; k++ {
		mem := vfs.NewMem()
		ffs := &faultFS{FS: mem, suffix: tmpSuffix, failAt: k}
		s := mustOpen(t, testOptions(ffs))
		if err := s.WriteSnapshot(10, nil, testTree(3)); err != nil {
			t.Fatal(err)
		}
		ffs.armed.Store(true)
		err := s.WriteSnapshot(20, nil, testTree(8000))
		if err == nil && ffs.n.Load() < k {
			// k is past the last write or sync: every step was covered.
			if k < 4 {
				t.Fatalf("only %d write/sync steps", k-1)
			}
			_ = s.Close()
			return
		}
		if !errors.Is(err, errInjected) {
			t.Fatalf("k=%d: WriteSnapshot: %v, want the injected error", k, err)
		}
		names, _ := mem.List("/data/snapshots")
		if !reflect.DeepEqual(names, []string{"snapshot.a"}) {
			t.Fatalf("k=%d: snapshot dir %v, want [snapshot.a]", k, names)
		}
		l, ok := loadLatest(t, s)
		if !ok || l.zxid != 10 {
			t.Fatalf("k=%d: latest 0x%x %v", k, l.zxid, ok)
		}
		_ = s.Close()
	}
}

func TestDataLogDir(t *testing.T) {
	fs := vfs.NewMem()
	o := testOptions(fs)
	o.DataLogDir = "/log"
	s := mustOpen(t, o)
	if err := appendWait(t, s, txnEntries(1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSnapshot(3, nil, testTree(1)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if _, err := fs.Stat("/log/txnlog/CURRENT"); err != nil {
		t.Fatalf("txn log not in dataLogDir: %v", err)
	}
	if _, err := fs.Stat("/data/txnlog"); err == nil {
		t.Fatal("txn log in dataDir although dataLogDir is set")
	}
	if _, err := fs.Stat("/data/snapshots/snapshot.3"); err != nil {
		t.Fatalf("snapshot not in dataDir: %v", err)
	}
	s = mustOpen(t, o)
	defer s.Close()
	checkEntries(t, replayAll(t, s, 0), txnEntries(1, 3))
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(o *Options)
		ok   bool
	}{
		{"default", func(o *Options) {}, true},
		{"no dataDir", func(o *Options) { o.DataDir = "" }, false},
		{"no FS", func(o *Options) { o.FS = nil }, false},
		{"negative MaxBuffer", func(o *Options) { o.MaxBuffer = -1 }, false},
	}
	for _, tt := range tests {
		o := DefaultOptions("/d")
		tt.mod(&o)
		err := o.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidOptions)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// TestSnapshotRejectsBadSource: a source that breaks SnapshotSource's
// contract gets ErrBadNode, and no snapshot file is left.
func TestSnapshotRejectsBadSource(t *testing.T) {
	digest := []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "digest", Id: "u:x"}}}
	for _, tt := range []struct {
		name string
		src  SnapshotSource
	}{
		{"path /", sourceOf([]*Node{{Path: "/"}})},
		{"node before ACL lists", func(acls func([][]jute.ACL) error, node func(*Node) error) error {
			return node(&Node{Path: ""})
		}},
		{"unlisted ACL", func(acls func([][]jute.ACL) error, node func(*Node) error) error {
			if err := acls(nil); err != nil {
				return err
			}
			return node(&Node{Path: "", ACL: digest})
		}},
		{"ACL lists twice", func(acls func([][]jute.ACL) error, node func(*Node) error) error {
			if err := acls(nil); err != nil {
				return err
			}
			return acls(nil)
		}},
		{"nothing", func(acls func([][]jute.ACL) error, node func(*Node) error) error { return nil }},
	} {
		fs := vfs.NewMem()
		s := mustOpen(t, testOptions(fs))
		if err := s.WriteSnapshot(1, nil, tt.src); !errors.Is(err, ErrBadNode) {
			t.Errorf("%s: WriteSnapshot: %v, want ErrBadNode", tt.name, err)
		}
		if names, _ := fs.List("/data/snapshots"); len(names) != 0 {
			t.Errorf("%s: files left behind: %v", tt.name, names)
		}
		_ = s.Close()
	}
}

// TestSnapshotACLReferences: listed lists get references 1, 2, ... once
// each (equal lists share one); a listed slice is found by address, an
// equal copy by content, an unlisted world:anyone list and nil as -1.
func TestSnapshotACLReferences(t *testing.T) {
	a := []jute.ACL{{Perms: jute.PermRead, Id: jute.IDAnyone}}
	b := []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "digest", Id: "u:x"}}}
	c := newACLCache([][]jute.ACL{a, b, slices.Clone(a)})
	if len(c.lists) != 2 {
		t.Fatalf("%d lists, want 2", len(c.lists))
	}
	for _, tt := range []struct {
		acl  []jute.ACL
		want int64
		ok   bool
	}{
		{a, 1, true}, {b, 2, true}, {slices.Clone(b), 2, true}, {nil, openACLUnsafeRef, true},
		{jute.OpenACLUnsafe(), openACLUnsafeRef, true}, {[]jute.ACL{{Perms: jute.PermRead | jute.PermWrite, Id: jute.IDAnyone}}, 0, false},
	} {
		if r, ok := c.ref(tt.acl); r != tt.want || ok != tt.ok {
			t.Errorf("ref(%v) = %d %v, want %d %v", tt.acl, r, ok, tt.want, tt.ok)
		}
	}
}

// TestSnapshotSyncedBeforeLogGoes: a snapshot the log covers is written
// without fsync; Purge fsyncs the snapshots it keeps before deleting the
// log behind them; a snapshot beyond the log is fsynced at once.
func TestSnapshotSyncedBeforeLogGoes(t *testing.T) {
	cfs := &dirSyncFS{FS: vfs.NewMem(), dir: "/data/snapshots"}
	s := mustOpen(t, testOptions(cfs))
	defer s.Close()
	if err := appendWait(t, s, txnEntries(1, 10)); err != nil {
		t.Fatal(err)
	}
	snapSyncs := cfs.n.Load
	for z := int64(2); z <= 8; z += 2 {
		if err := s.WriteSnapshot(z, nil, testTree(3)); err != nil {
			t.Fatal(err)
		}
	}
	if n := snapSyncs(); n != 0 {
		t.Fatalf("%d syncs under the snapshot dir for snapshots the log covers, want 0", n)
	}
	if err := s.Purge(3); err != nil {
		t.Fatal(err)
	}
	if n := snapSyncs(); n < 4 { // 3 kept files and their directory
		t.Fatalf("purge made %d syncs under the snapshot dir, want the 3 kept snapshots and the dir", n)
	}
	before := snapSyncs()
	if err := s.WriteSnapshot(100, nil, testTree(3)); err != nil {
		t.Fatal(err)
	}
	if n := snapSyncs() - before; n < 2 {
		t.Fatalf("a snapshot beyond the log made %d syncs, want the file and its directory", n)
	}
}

// dirSyncFS counts the syncs of files (and the directory) under dir.
type dirSyncFS struct {
	vfs.FS
	dir string
	n   atomic.Int64
}

func (fs *dirSyncFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasPrefix(name, fs.dir) {
		return f, err
	}
	return &dirSyncFile{File: f, fs: fs}, nil
}

func (fs *dirSyncFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs *dirSyncFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.Open(name, opts...)
	return fs.wrap(name, f, err)
}

func (fs *dirSyncFS) OpenDir(name string) (vfs.File, error) {
	f, err := fs.FS.OpenDir(name)
	return fs.wrap(name, f, err)
}

type dirSyncFile struct {
	vfs.File
	fs *dirSyncFS
}

func (f *dirSyncFile) Sync() error {
	f.fs.n.Add(1)
	return f.File.Sync()
}
