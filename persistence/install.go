package persistence

import (
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble"
)

// installSuffix marks a snapshot received from a leader that replaces the
// store's state: snapshot.<hex zxid>.install. Its existence is the commit
// point of InstallSnapshot.
const installSuffix = ".install"

func (s *Store) installPath(zxid int64) string { return s.snapPath(zxid) + installSuffix }

// InstallSnapshot replaces the store's whole state with a snapshot at zxid
// received from a leader (ZAB's SNAP): afterwards the store holds that
// snapshot alone and an empty log, and appends continue after zxid. It is
// atomic: a crash at any point leaves the old state or the new one, and
// Open finishes an install that passed its commit point. tree yields the
// ACL lists, then the nodes, as for WriteSnapshot. Queued appends are
// written before the log is dropped. An error after the commit point
// latches ErrLogFailed (the store refuses further writes; a restart
// finishes the install).
func (s *Store) InstallSnapshot(zxid int64, sessions []Session, tree SnapshotSource) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	s.mu.Lock()
	closed, failed := s.mu.closed, s.mu.failed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if failed != nil {
		return failed
	}
	// The commit point: snapshot.<zxid>.install, fsynced, renamed into
	// place and its directory fsynced.
	st, err := writeSnapshotFile(s.fs, s.installPath(zxid), zxid, sessions, tree, nil, true)
	if err != nil {
		return err
	}
	err = s.truncateLog(0, func(int64) int64 { return zxid })
	if err == nil {
		err = s.finishInstallLocked(zxid)
	}
	if err != nil {
		err = fmt.Errorf("%w: install snapshot 0x%x: %w", ErrLogFailed, zxid, err)
		s.mu.Lock()
		if s.mu.failed == nil {
			s.mu.failed = err
		}
		s.mu.Unlock()
		return err
	}
	s.snapshotBytes.Store(st.bytes)
	s.log.Info().Str("zxid", fmt.Sprintf("0x%x", zxid)).Int("nodes", st.nodes).Int64("bytes", st.bytes).
		Msg("persistence: installed snapshot from the leader; the log is empty")
	return nil
}

// finishInstallLocked completes an install whose log is already empty:
// every other snapshot goes, and snapshot.<zxid>.install becomes
// snapshot.<zxid>, durably. Each step may be repeated after a crash.
func (s *Store) finishInstallLocked(zxid int64) error {
	zs, err := s.listSnapshots()
	if err != nil {
		return err
	}
	for _, z := range zs {
		if err := s.fs.Remove(s.snapPath(z)); err != nil {
			return fmt.Errorf("persistence: remove snapshot: %w", err)
		}
	}
	if err := s.fs.Rename(s.installPath(zxid), s.snapPath(zxid)); err != nil {
		return fmt.Errorf("persistence: install snapshot: %w", err)
	}
	if err := syncDir(s.fs, s.snapDir); err != nil {
		return fmt.Errorf("persistence: install snapshot: sync %s: %w", s.snapDir, err)
	}
	return nil
}

// finishPendingInstall runs at Open, before the commit goroutine starts:
// an install that passed its commit point (snapshot.<zxid>.install exists)
// but did not finish is finished: the log is dropped, durably, then
// finishInstallLocked.
func (s *Store) finishPendingInstall() error {
	names, err := s.fs.List(s.snapDir)
	if err != nil {
		return fmt.Errorf("persistence: list %s: %w", s.snapDir, err)
	}
	var pending []int64
	for _, n := range names {
		if base, ok := strings.CutSuffix(n, installSuffix); ok {
			if z, ok := zxidFromName(base, snapPrefix); ok {
				pending = append(pending, z)
			}
		}
	}
	switch len(pending) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("%w: several snapshots being installed: %x", ErrCorrupt, pending)
	}
	zxid := pending[0]
	if err := s.db.DeleteRange(logKey(0), []byte{logKeyPrefix + 1}, pebble.Sync); err != nil {
		return fmt.Errorf("persistence: install snapshot 0x%x: drop the txn log: %w", zxid, err)
	}
	if err := s.finishInstallLocked(zxid); err != nil {
		return err
	}
	s.log.Info().Str("zxid", fmt.Sprintf("0x%x", zxid)).
		Msg("persistence: finished installing the snapshot from the leader; the log is empty")
	return nil
}
