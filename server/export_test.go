package server

import (
	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"
)

// NewWithFS is newServer for the tests of package server_test, which
// drive a server through the layers above it.
func NewWithFS(cfg Config, log zerolog.Logger, fs vfs.FS) (*Server, error) {
	return newServer(cfg, log, fs)
}

// SyncFailFS fails the txn log's syncs once armed.
type SyncFailFS = syncFailFS

// Arm makes every later sync of the txn log fail.
func (fs *syncFailFS) Arm() { fs.armed.Store(true) }
