package persistence

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/metrics"
)

// MinSnapRetainCount is ZooKeeper's minimum for autopurge.snapRetainCount:
// Purge never keeps fewer snapshots than this.
const MinSnapRetainCount = 3

// Options configures a Store. Build it with DefaultOptions and check it with
// Validate (Open calls Validate).
type Options struct {
	// DataDir is zoo.cfg's dataDir. Snapshots live in DataDir/snapshots.
	DataDir string
	// DataLogDir is zoo.cfg's dataLogDir: the txn log (its own Pebble
	// instance) lives in DataLogDir/txnlog. Empty means DataDir.
	DataLogDir string
	// ForceSync is zoo.cfg's forceSync (default yes): a write is reported
	// durable only after the log was fsynced. When false a write is reported
	// once it reached the operating system, as ZooKeeper does with
	// forceSync=no.
	ForceSync bool
	// FS is the file system every file goes through: vfs.Default in
	// production, vfs.NewMem() or an error-injecting FS in tests.
	FS vfs.FS
	// Logger receives the store's log lines (and Pebble's, at debug level).
	Logger zerolog.Logger
	// FsyncWarningThreshold is fsync.warningthresholdms: a log commit (write
	// and fsync) slower than this logs ZooKeeper's fsync warning. Zero or
	// less disables the warning.
	FsyncWarningThreshold time.Duration
	// SyncThreadName names the committing thread in the fsync warning, as
	// ZooKeeper names its SyncThread ("SyncThread:<sid>").
	SyncThreadName string
	// MaxBuffer bounds a single length (node data, path, ACL list, txn) read
	// from a snapshot or a ZooKeeper txn log file; ZooKeeper's jute.maxbuffer.
	// Zero means 64 MiB, far above any legal node.
	MaxBuffer int
	// Metrics is the registry the store records its measurements in,
	// under ZooKeeper's names: fsynctime, snapshottime and the
	// sync_processor_* family (the log's commit goroutine is ZooKeeper's
	// SyncRequestProcessor). Nil records nowhere.
	Metrics *metrics.Registry

	// memTableSize overrides the txn log's Pebble memtable size (tests use a
	// small one to force WAL rotations).
	memTableSize int
}

// DefaultOptions returns the options ZooKeeper uses by default for dataDir:
// forceSync on, a 1s fsync warning threshold and the real file system.
func DefaultOptions(dataDir string) Options {
	return Options{
		DataDir:               dataDir,
		ForceSync:             true,
		FS:                    vfs.Default,
		Logger:                zerolog.Nop(),
		FsyncWarningThreshold: 1000 * time.Millisecond,
		SyncThreadName:        "SyncThread:0",
	}
}

// Validate reports the first invalid field. It fills nothing in.
func (o *Options) Validate() error {
	if o.DataDir == "" {
		return fmt.Errorf("%w: dataDir is not set", ErrInvalidOptions)
	}
	if o.FS == nil {
		return fmt.Errorf("%w: FS is nil", ErrInvalidOptions)
	}
	if o.MaxBuffer < 0 {
		return fmt.Errorf("%w: MaxBuffer %d is negative", ErrInvalidOptions, o.MaxBuffer)
	}
	return nil
}

func (o *Options) logDir() string {
	if o.DataLogDir == "" {
		return o.DataDir
	}
	return o.DataLogDir
}

func (o *Options) maxBuffer() int {
	if o.MaxBuffer == 0 {
		return 64 << 20
	}
	return o.MaxBuffer
}
