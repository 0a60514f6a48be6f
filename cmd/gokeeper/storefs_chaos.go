//go:build chaos

package main

import (
	"github.com/cockroachdb/pebble/vfs"

	"github.com/gokeeper/gokeeper/chaos/diskfault"
)

// storeFS returns the fault-injecting file system the chaos suite
// controls through GOKEEPER_CHAOS_DISK (nil, the OS's, when unset).
func storeFS() vfs.FS { return diskfault.FromEnv() }
