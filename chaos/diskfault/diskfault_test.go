package diskfault

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// setMode writes the control file and waits until fs has read it.
func setMode(t *testing.T, fs *FS, ctl string, m Mode) {
	t.Helper()
	if err := os.WriteFile(ctl, []byte(m+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); fs.Mode() != m; {
		if time.Now().After(deadline) {
			t.Fatalf("mode %q not read within 10 s", m)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFsyncErrorLosesTheUnsyncedTail(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl")
	fs := Watch(vfs.Default, ctl, time.Millisecond)
	defer fs.Close()
	name := filepath.Join(dir, "000001.log")
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("durable")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(" and lost")); err != nil {
		t.Fatal(err)
	}
	setMode(t, fs, ctl, FsyncError)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync under fsync-error: %v, want EIO", err)
	}
	setMode(t, fs, ctl, None)
	if _, err := f.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write after a failed sync: %v, want EIO (the file stays failed)", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync after a failed sync: %v, want EIO", err)
	}
	if b, err := os.ReadFile(name); err != nil || string(b) != "durable" {
		t.Fatalf("file holds %q, %v; want only what was synced", b, err)
	}
}

func TestENOSPCAndSlowFsync(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl")
	fs := Watch(vfs.Default, ctl, time.Millisecond)
	defer fs.Close()
	f, err := fs.Create(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	setMode(t, fs, ctl, ENOSPC)
	if _, err := f.Write([]byte("x")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write under enospc: %v", err)
	}
	if _, err := fs.Create(filepath.Join(dir, "b")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("create under enospc: %v", err)
	}
	setMode(t, fs, ctl, SlowFsync)
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < SlowSync {
		t.Fatalf("sync under slow-fsync took %v, want at least %v", took, SlowSync)
	}
}
