// Package diskfault is a pebble vfs.FS that fails or slows the disk on
// command, for the fault-injection suite (chaos/). gokeeper uses it only
// when built with the `chaos` build tag and started with
// GOKEEPER_CHAOS_DISK naming a control file; production builds never
// link it.
//
// The control file holds one word, re-read every few milliseconds:
//
//	(empty)      no fault
//	fsync-error  every sync fails with EIO; the file loses what was written
//	             since its last good sync (as a disk that could not write
//	             it does once the page cache lets go) and fails every
//	             later write
//	enospc       every write, preallocation and create fails with ENOSPC
//	slow-fsync   every sync takes SlowSync longer
package diskfault

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// Mode is a disk fault.
type Mode string

// The faults the control file can name.
const (
	None       Mode = ""
	FsyncError Mode = "fsync-error"
	ENOSPC     Mode = "enospc"
	SlowFsync  Mode = "slow-fsync"
)

// SlowSync is what slow-fsync adds to every sync.
const SlowSync = 400 * time.Millisecond

// EnvControl names the environment variable that holds the control
// file's path.
const EnvControl = "GOKEEPER_CHAOS_DISK"

// FS wraps an FS with the fault the control file names.
type FS struct {
	vfs.FS
	mode atomic.Value // Mode
	stop chan struct{}
	once sync.Once
}

// FromEnv returns vfs.Default wrapped by the control file EnvControl
// names, or nil when it is unset.
func FromEnv() vfs.FS {
	path := os.Getenv(EnvControl)
	if path == "" {
		return nil
	}
	return Watch(vfs.Default, path, 10*time.Millisecond)
}

// Watch wraps fs and polls the control file at path every interval
// until Close.
func Watch(fs vfs.FS, path string, interval time.Duration) *FS {
	f := &FS{FS: fs, stop: make(chan struct{})}
	f.mode.Store(readMode(path))
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
				f.mode.Store(readMode(path))
			}
		}
	}()
	return f
}

// Close stops watching the control file.
func (f *FS) Close() { f.once.Do(func() { close(f.stop) }) }

// Mode returns the fault in force.
func (f *FS) Mode() Mode { return f.mode.Load().(Mode) }

func readMode(path string) Mode {
	b, err := os.ReadFile(path)
	if err != nil {
		return None
	}
	return Mode(strings.TrimSpace(string(b)))
}

// Create implements vfs.FS.
func (f *FS) Create(name string) (vfs.File, error) {
	if f.Mode() == ENOSPC {
		return nil, &os.PathError{Op: "create", Path: name, Err: syscall.ENOSPC}
	}
	return f.wrap(f.FS.Create(name))
}

// OpenReadWrite implements vfs.FS.
func (f *FS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return f.wrap(f.FS.OpenReadWrite(name, opts...))
}

// ReuseForWrite implements vfs.FS.
func (f *FS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	return f.wrap(f.FS.ReuseForWrite(oldname, newname))
}

func (f *FS) wrap(file vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	w := &File{File: file, fs: f}
	if st, err := file.Stat(); err == nil {
		w.synced = st.Size()
	}
	return w, nil
}

// File is a file of FS. Writes and syncs come one at a time (vfs.File's
// contract), so its fields need no lock.
type File struct {
	vfs.File
	fs       *FS
	synced   int64 // the size at the last good sync
	poisoned error // set once a sync failed: every later write fails
}

// errIO is what a failed disk returns.
var errIO = fmt.Errorf("diskfault: injected fsync failure: %w", syscall.EIO)

func (w *File) writeErr() error {
	if w.poisoned != nil {
		return w.poisoned
	}
	if w.fs.Mode() == ENOSPC {
		return fmt.Errorf("diskfault: injected: %w", syscall.ENOSPC)
	}
	return nil
}

// Write implements vfs.File.
func (w *File) Write(p []byte) (int, error) {
	if err := w.writeErr(); err != nil {
		return 0, err
	}
	return w.File.Write(p)
}

// WriteAt implements vfs.File.
func (w *File) WriteAt(p []byte, off int64) (int, error) {
	if err := w.writeErr(); err != nil {
		return 0, err
	}
	return w.File.WriteAt(p, off)
}

// Preallocate implements vfs.File.
func (w *File) Preallocate(off, n int64) error {
	if err := w.writeErr(); err != nil {
		return err
	}
	return w.File.Preallocate(off, n)
}

// beforeSync applies the fault to a sync: it fails (losing the unsynced
// tail) or waits.
func (w *File) beforeSync() error {
	if w.poisoned != nil {
		return w.poisoned
	}
	switch w.fs.Mode() {
	case FsyncError:
		w.poisoned = errIO
		if fd := w.File.Fd(); fd != vfs.InvalidFd {
			// NB: best effort; a directory cannot be truncated.
			_ = syscall.Ftruncate(int(fd), w.synced)
		}
		return errIO
	case SlowFsync:
		time.Sleep(SlowSync)
	}
	return nil
}

func (w *File) afterSync(err error) error {
	if err == nil {
		if st, serr := w.File.Stat(); serr == nil {
			w.synced = st.Size()
		}
	}
	return err
}

// Sync implements vfs.File.
func (w *File) Sync() error {
	if err := w.beforeSync(); err != nil {
		return err
	}
	return w.afterSync(w.File.Sync())
}

// SyncData implements vfs.File.
func (w *File) SyncData() error {
	if err := w.beforeSync(); err != nil {
		return err
	}
	return w.afterSync(w.File.SyncData())
}

// SyncTo implements vfs.File.
func (w *File) SyncTo(n int64) (bool, error) {
	if err := w.beforeSync(); err != nil {
		return false, err
	}
	full, err := w.File.SyncTo(n)
	if err == nil && full {
		err = w.afterSync(nil)
	}
	return full, err
}
