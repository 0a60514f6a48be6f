package harness

import (
	"errors"
	"testing"
	"time"
)

// StartZooKeeperT starts Apache ZooKeeper for one test, in t.TempDir(), and
// stops it in t.Cleanup, so it stops even when the test fails. The test
// fails with install instructions when ZooKeeper is missing.
func StartZooKeeperT(t testing.TB, s Settings) *Server {
	t.Helper()
	srv, err := StartZooKeeper(t.TempDir(), s, 60*time.Second)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// StartGokeeperT builds and starts gokeeper (module rooted at moduleDir)
// for one test and stops it in t.Cleanup. The test is skipped, with the
// reason, when gokeeper cannot be built or does not serve yet.
func StartGokeeperT(t testing.TB, moduleDir string, s Settings) *Server {
	t.Helper()
	dir := t.TempDir()
	bin, err := BuildGokeeper(moduleDir, dir)
	if err == nil {
		var srv *Server
		srv, err = StartGokeeper(bin, dir, s, 15*time.Second)
		if err == nil {
			t.Cleanup(srv.Stop)
			return srv
		}
	}
	if errors.Is(err, ErrGokeeperUnavailable) {
		t.Skipf("gokeeper side skipped: %v", err)
	}
	t.Fatalf("%v", err)
	return nil
}
