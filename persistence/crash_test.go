package persistence

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
)

// crashFS numbers the changes made through it (creating, writing, syncing,
// renaming, removing a file or a directory) and calls at(n) before the n-th
// one, from 1; at runs at most once.
type crashFS struct {
	vfs.FS
	n    atomic.Int64
	mu   sync.Mutex
	stop int64  // the change at which at runs
	at   func() // nil once it ran
}

// arm makes at run before the k-th change from now.
func (fs *crashFS) arm(k int64, at func()) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.stop, fs.at = fs.n.Load()+k, at
}

// fired reports whether the armed function ran.
func (fs *crashFS) fired() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.at == nil
}

func (fs *crashFS) change() {
	n := fs.n.Add(1)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.at != nil && n == fs.stop {
		fs.at()
		fs.at = nil
	}
}

func (fs *crashFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	return &crashFile{File: f, fs: fs}, nil
}

func (fs *crashFS) Create(name string) (vfs.File, error) {
	fs.change()
	return fs.wrap(fs.FS.Create(name))
}

func (fs *crashFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.Open(name, opts...))
}

func (fs *crashFS) OpenDir(name string) (vfs.File, error) { return fs.wrap(fs.FS.OpenDir(name)) }

func (fs *crashFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	fs.change()
	return fs.wrap(fs.FS.OpenReadWrite(name, opts...))
}

func (fs *crashFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	fs.change()
	return fs.wrap(fs.FS.ReuseForWrite(oldname, newname))
}

func (fs *crashFS) Link(oldname, newname string) error {
	fs.change()
	return fs.FS.Link(oldname, newname)
}

func (fs *crashFS) Remove(name string) error {
	fs.change()
	return fs.FS.Remove(name)
}

func (fs *crashFS) RemoveAll(name string) error {
	fs.change()
	return fs.FS.RemoveAll(name)
}

func (fs *crashFS) Rename(oldname, newname string) error {
	fs.change()
	return fs.FS.Rename(oldname, newname)
}

func (fs *crashFS) MkdirAll(dir string, perm os.FileMode) error {
	fs.change()
	return fs.FS.MkdirAll(dir, perm)
}

type crashFile struct {
	vfs.File
	fs *crashFS
}

func (f *crashFile) Write(p []byte) (int, error) {
	f.fs.change()
	return f.File.Write(p)
}

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.change()
	return f.File.WriteAt(p, off)
}

func (f *crashFile) Sync() error {
	f.fs.change()
	return f.File.Sync()
}

func (f *crashFile) SyncData() error {
	f.fs.change()
	return f.File.SyncData()
}

func (f *crashFile) SyncTo(length int64) (bool, error) {
	f.fs.change()
	return f.File.SyncTo(length)
}

// crashCase is one crash point of an operation.
type crashCase struct {
	// k is the change the crash came before; done means the operation had
	// finished (and returned opErr) before the crash.
	k    int64
	done bool
	// opErr is what the operation returned (it runs to its end; the crash
	// only decides what of it reached the disk).
	opErr error
	// s is the store reopened on what the crash left.
	s *Store
}

// forEachCrash runs op on a store once per crash point: before each change
// op makes to the files, and once after its last. With powerLoss the
// machine loses power there: nothing after it reaches the disk, nor
// anything that was not synced before it. Without, the process dies: the
// files keep every change made before it and nothing after. setup builds
// the state op starts from; check gets a store opened on what the crash
// left (closed after check returns).
func forEachCrash(t *testing.T, powerLoss bool, setup func(t *testing.T, s *Store), op func(s *Store) error,
	check func(t *testing.T, c crashCase)) {
	t.Helper()
	for k := int64(1); ; k++ {
		strict := vfs.NewStrictMem()
		cfs := &crashFS{FS: strict}
		s := mustOpen(t, testOptions(cfs))
		setup(t, s)
		var image *vfs.MemFS // the files the process left
		crash := func() {
			if powerLoss {
				strict.SetIgnoreSyncs(true)
				return
			}
			image = cloneMem(t, strict)
		}
		cfs.arm(k, crash)
		c := crashCase{k: k, opErr: op(s)}
		if !cfs.fired() {
			c.done = true
			crash()
		}
		strict.SetIgnoreSyncs(true)
		_ = s.Close()
		if powerLoss {
			strict.ResetToSyncedState()
			image = strict
		}
		strict.SetIgnoreSyncs(false)
		c.s = mustOpen(t, testOptions(image))
		check(t, c)
		if err := c.s.Close(); err != nil {
			t.Fatalf("crash before change %d: Close: %v", k, err)
		}
		if c.done {
			t.Logf("%d crash points", k)
			return
		}
	}
}

// cloneMem copies /data of fs, as it is now, to a new MemFS.
func cloneMem(t testing.TB, fs vfs.FS) *vfs.MemFS {
	t.Helper()
	image := vfs.NewMem()
	if _, err := vfs.Clone(fs, image, "/data", "/data"); err != nil {
		t.Fatalf("clone: %v", err)
	}
	return image
}
