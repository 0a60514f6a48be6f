//go:build !chaos

package main

import "github.com/cockroachdb/pebble/vfs"

// storeFS returns the file system under the store: nil, the OS's. The
// fault-injection suite's builds (tag chaos) replace it.
func storeFS() vfs.FS { return nil }
