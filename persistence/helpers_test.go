package persistence

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/rs/zerolog"
)

// txnEntry returns a real ZooKeeper txn (TxnHeader + CreateTxn) for zxid.
func txnEntry(zxid int64) Entry {
	path := fmt.Sprintf("/n%d", zxid)
	hdr := jute.TxnHeader{ClientId: 0x1234, Cxid: int32(zxid), Zxid: zxid, Time: 1700000000000 + zxid, Type: int32(jute.OpCreate)}
	txn := jute.CreateTxn{Path: path, Data: []byte("data-" + path), Acl: jute.OpenACLUnsafe(), ParentCVersion: int32(zxid)}
	b := hdr.Encode(nil)
	return Entry{Zxid: zxid, Data: txn.Encode(b)}
}

func txnEntries(from, to int64) []Entry {
	var es []Entry
	for z := from; z <= to; z++ {
		es = append(es, txnEntry(z))
	}
	return es
}

func testOptions(fs vfs.FS) Options {
	o := DefaultOptions("/data")
	o.FS = fs
	return o
}

func mustOpen(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// appendWait appends entries and waits for their done callback.
func appendWait(t testing.TB, s *Store, es []Entry) error {
	t.Helper()
	errc := make(chan error, 1)
	s.Append(es, func(err error) { errc <- err })
	select {
	case err := <-errc:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("append of %d entries not done after 30s", len(es))
		return nil
	}
}

// replayAll returns every durable entry after `after`, copied.
func replayAll(t testing.TB, s *Store, after int64) []Entry {
	t.Helper()
	var out []Entry
	err := s.Replay(after, func(e Entry) error {
		out = append(out, Entry{Zxid: e.Zxid, Data: append([]byte(nil), e.Data...)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return out
}

func checkEntries(t testing.TB, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Zxid != want[i].Zxid || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("entry %d: got zxid 0x%x (%d bytes), want 0x%x (%d bytes)", i, got[i].Zxid, len(got[i].Data),
				want[i].Zxid, len(want[i].Data))
		}
	}
}

// countingFS counts syncs of Pebble WAL files (*.log) and can hold the
// next one until released.
type countingFS struct {
	vfs.FS
	syncs atomic.Int64
	mu    sync.Mutex
	gate  chan struct{} // when set, the next WAL sync signals held and waits on it
	held  chan struct{}
}

func (fs *countingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &countingFile{File: f, fs: fs}, nil
}

func (fs *countingFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs *countingFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

func (fs *countingFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, opts...)
	return fs.wrap(name, f, err)
}

type countingFile struct {
	vfs.File
	fs *countingFS
}

func (f *countingFile) sync(do func() error) error {
	f.fs.syncs.Add(1)
	f.fs.mu.Lock()
	gate, held := f.fs.gate, f.fs.held
	f.fs.gate = nil
	f.fs.mu.Unlock()
	if gate != nil {
		close(held)
		<-gate
	}
	return do()
}

func (f *countingFile) Sync() error     { return f.sync(f.File.Sync) }
func (f *countingFile) SyncData() error { return f.sync(f.File.SyncData) }
func (f *countingFile) SyncTo(length int64) (bool, error) {
	var full bool
	err := f.sync(func() error {
		var err error
		full, err = f.File.SyncTo(length)
		return err
	})
	return full, err
}

// faultFS fails the n-th write or sync (counting from 1) of a WAL file
// after it is armed, and every one after it, as a dying disk does.
type faultFS struct {
	vfs.FS
	// suffix selects the files to fail (".log" when empty: Pebble's WAL).
	suffix string
	armed  atomic.Bool
	n      atomic.Int64
	failAt int64
	failed atomic.Bool
	// failCreate fails creating (or recycling) WAL files instead.
	failCreate bool
}

var errInjected = errors.New("injected IO error")

func (fs *faultFS) maybeFail() error {
	if !fs.armed.Load() {
		return nil
	}
	if fs.failed.Load() || fs.n.Add(1) >= fs.failAt {
		fs.failed.Store(true)
		return errInjected
	}
	return nil
}

func (fs *faultFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	suffix := fs.suffix
	if suffix == "" {
		suffix = ".log"
	}
	if err != nil || !strings.HasSuffix(name, suffix) {
		return f, err
	}
	return &faultFile{File: f, fs: fs}, nil
}

func (fs *faultFS) Create(name string) (vfs.File, error) {
	if err := fs.maybeFailCreate(name); err != nil {
		return nil, err
	}
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs *faultFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	if err := fs.maybeFailCreate(newname); err != nil {
		return nil, err
	}
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

// maybeFailCreate fails the creation of a matching file when failCreate is
// set and the FS is armed.
func (fs *faultFS) maybeFailCreate(name string) error {
	if fs.failCreate && fs.armed.Load() && strings.HasSuffix(name, ".log") {
		fs.failed.Store(true)
		return errInjected
	}
	return nil
}

type faultFile struct {
	vfs.File
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.maybeFail(); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.maybeFail(); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.maybeFail(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) SyncData() error {
	if err := f.fs.maybeFail(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *faultFile) SyncTo(length int64) (bool, error) {
	if err := f.fs.maybeFail(); err != nil {
		return false, err
	}
	return f.File.SyncTo(length)
}

// testLogger returns a logger writing to the test log when -v is given.
func testLogger(t testing.TB) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	return zerolog.Nop()
}

// logSink collects log lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *logSink) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func newestWAL(t testing.TB, fs vfs.FS, dir string) string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	best := ""
	for _, n := range names {
		if strings.HasSuffix(n, ".log") && n > best {
			best = n
		}
	}
	if best == "" {
		t.Fatalf("no WAL in %s: %v", dir, names)
	}
	return fs.PathJoin(dir, best)
}

func readFile(t testing.TB, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, fs vfs.FS, path string, data []byte) {
	t.Helper()
	f, err := fs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// NB: write a copy; under -race Pebble's MemFS scribbles over the bytes
	// of a file it drops, and the caller may still hold data.
	if _, err := f.Write(append([]byte(nil), data...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// testTree returns an iterator over a small tree: the root, /zookeeper,
// /zookeeper/quota and n nodes under /app with mixed ACLs.
func testTree(n int) SnapshotSource { return sourceOf(testNodes(n)) }

// sourceOf yields nodes to a snapshot writer, listing every node's ACL.
func sourceOf(nodes []*Node) SnapshotSource {
	return func(acls func([][]jute.ACL) error, node func(*Node) error) error {
		lists := make([][]jute.ACL, 0, len(nodes))
		for _, nd := range nodes {
			if nd.ACL != nil {
				lists = append(lists, nd.ACL)
			}
		}
		if err := acls(lists); err != nil {
			return err
		}
		for _, nd := range nodes {
			if err := node(nd); err != nil {
				return err
			}
		}
		return nil
	}
}

func testNodes(n int) []*Node {
	digest := []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "digest", Id: "user:tpoyr9ESNFdfl5ytYYx2yrDaF1Y="}}, {Perms: jute.PermRead, Id: jute.IDAnyone}}
	nodes := []*Node{
		{Path: "", Data: []byte{}, ACL: jute.OpenACLUnsafe()},
		{Path: "/zookeeper", Data: []byte{}, ACL: jute.OpenACLUnsafe()},
		{Path: "/zookeeper/quota", Data: []byte{}, ACL: jute.OpenACLUnsafe()},
		{Path: "/app", Data: []byte("app"), ACL: jute.OpenACLUnsafe(), Stat: jute.StatPersisted{Czxid: 1, Mzxid: 1, Ctime: 10, Mtime: 10, Cversion: int32(n), Pzxid: int64(n + 1)}},
	}
	for i := 0; i < n; i++ {
		acl := jute.OpenACLUnsafe()
		if i%3 == 1 {
			acl = digest
		}
		var data []byte
		if i%4 != 0 {
			data = []byte(fmt.Sprintf("value-%d", i))
		}
		nodes = append(nodes, &Node{
			Path: fmt.Sprintf("/app/n%04d", i),
			Data: data,
			ACL:  acl,
			Stat: jute.StatPersisted{Czxid: int64(i + 2), Mzxid: int64(i + 2), Ctime: int64(1000 + i), Mtime: int64(2000 + i),
				Version: int32(i % 5), Aversion: int32(i % 2), EphemeralOwner: int64(i % 7), Pzxid: int64(i + 2)},
		})
	}
	return nodes
}
