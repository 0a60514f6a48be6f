package persistence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/gokeeper/gokeeper/jute"
)

// The epoch files of a quorum peer, as Apache ZooKeeper names them
// (QuorumPeer.ACCEPTED_EPOCH_FILENAME, CURRENT_EPOCH_FILENAME), in
// epochDirName under DataDir: where ZooKeeper keeps them (its snapDir,
// dataDir/version-2).
const (
	AcceptedEpochFile = "acceptedEpoch"
	CurrentEpochFile  = "currentEpoch"
	epochDirName      = "version-2"
	// maxEpochFileSize bounds what is read of an epoch file; ZooKeeper
	// reads its first line, and a long has at most 20 characters.
	maxEpochFileSize = 4096
)

// Epochs are the two epochs a ZAB peer persists.
type Epochs struct {
	// Accepted is the newest epoch the peer accepted in discovery
	// (LEADERINFO on a learner, the new epoch on a leader): it must be on
	// disk before the peer acknowledges it, and the peer never accepts a
	// lower one.
	Accepted int64
	// Current is the epoch of the newest leader the peer synced with: it
	// is written after the txns of the sync are durable and before the
	// ACK of NEWLEADER. Accepted >= Current >= epoch(last zxid).
	Current int64
}

// EpochDir is the directory holding the epoch files: DataDir/version-2,
// where a ZooKeeper operator looks for them.
func (s *Store) EpochDir() string { return s.fs.PathJoin(s.opts.DataDir, epochDirName) }

// ReadEpochs reads the epoch files at startup, after the tree was recovered
// up to lastZxid (the last txn applied), with ZooKeeper's rules
// (QuorumPeer.loadDataBase):
//
//   - A missing currentEpoch is created holding epoch(lastZxid).
//   - If epoch(lastZxid) > currentEpoch, a left-over currentEpoch.tmp (a
//     crash between its fsync and its rename) holds the epoch: it is read
//     and written to currentEpoch. Without one, ReadEpochs fails.
//   - A missing acceptedEpoch is created holding epoch(lastZxid).
//   - acceptedEpoch < currentEpoch fails.
//
// A file that does not hold a decimal long on its first line fails. Every
// failure wraps ErrCorrupt, and the peer must not start.
//
// NB: as in ZooKeeper, the epoch read from currentEpoch.tmp is not compared
// with epoch(lastZxid).
func (s *Store) ReadEpochs(lastZxid int64) (Epochs, error) {
	s.epochMu.Lock()
	defer s.epochMu.Unlock()
	if err := s.epochDirLocked(); err != nil {
		return Epochs{}, err
	}
	zxidEpoch := int64(jute.ZxidEpoch(lastZxid))
	cur, err := s.readOrCreateEpochLocked(CurrentEpochFile, zxidEpoch)
	if err != nil {
		return Epochs{}, err
	}
	if zxidEpoch > cur {
		tmp := s.fs.PathJoin(s.EpochDir(), CurrentEpochFile+tmpSuffix)
		e, err := s.readEpochFile(tmp)
		if errors.Is(err, os.ErrNotExist) {
			return Epochs{}, fmt.Errorf("%w: the current epoch, 0x%x, is older than the last zxid, 0x%x",
				ErrCorrupt, cur, lastZxid)
		}
		if err != nil {
			return Epochs{}, err
		}
		s.log.Info().Str("file", tmp).Int64("epoch", e).Msgf("%s found. Setting current epoch to %d.", tmp, e)
		if err := s.writeEpochLocked(CurrentEpochFile, e); err != nil {
			return Epochs{}, err
		}
		cur = e
	}
	acc, err := s.readOrCreateEpochLocked(AcceptedEpochFile, zxidEpoch)
	if err != nil {
		return Epochs{}, err
	}
	if acc < cur {
		return Epochs{}, fmt.Errorf("%w: the accepted epoch, 0x%x, is less than the current epoch, 0x%x",
			ErrCorrupt, acc, cur)
	}
	return Epochs{Accepted: acc, Current: cur}, nil
}

// WriteAcceptedEpoch durably replaces acceptedEpoch with e. A crash at any
// point leaves the file holding the old value or e.
func (s *Store) WriteAcceptedEpoch(e int64) error { return s.writeEpoch(AcceptedEpochFile, e) }

// WriteCurrentEpoch durably replaces currentEpoch with e. A crash at any
// point leaves the file holding the old value or e.
func (s *Store) WriteCurrentEpoch(e int64) error { return s.writeEpoch(CurrentEpochFile, e) }

func (s *Store) writeEpoch(name string, e int64) error {
	s.epochMu.Lock()
	defer s.epochMu.Unlock()
	if err := s.epochDirLocked(); err != nil {
		return err
	}
	return s.writeEpochLocked(name, e)
}

// epochDirLocked creates the epoch directory, durably, once.
func (s *Store) epochDirLocked() error {
	s.mu.Lock()
	closed := s.mu.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if s.epochDirMade {
		return nil
	}
	dir := s.EpochDir()
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("persistence: create %s: %w", dir, err)
	}
	if err := syncParents(s.fs, dir); err != nil {
		return fmt.Errorf("persistence: sync %s: %w", dir, err)
	}
	s.epochDirMade = true
	return nil
}

func (s *Store) readOrCreateEpochLocked(name string, def int64) (int64, error) {
	path := s.fs.PathJoin(s.EpochDir(), name)
	e, err := s.readEpochFile(path)
	if !errors.Is(err, os.ErrNotExist) {
		return e, err
	}
	s.log.Info().Str("file", path).Int64("epoch", def).Msgf("%s not found! Creating with a reasonable default of %d. "+
		"This should only happen when you are upgrading your installation", name, def)
	return def, s.writeEpochLocked(name, def)
}

// readEpochFile reads an epoch file as ZooKeeper's readLongFromFile does:
// the first line, parsed as a decimal long. A missing file gives an error
// wrapping os.ErrNotExist.
func (s *Store) readEpochFile(path string) (int64, error) {
	f, err := s.fs.Open(path)
	if err != nil {
		return 0, fmt.Errorf("persistence: open %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxEpochFileSize))
	if err != nil {
		return 0, fmt.Errorf("persistence: read %s: %w", path, err)
	}
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	}
	e, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: found %q in %s", ErrCorrupt, b, path)
	}
	return e, nil
}

// writeEpochLocked writes e to the epoch file name as ZooKeeper's
// writeLongToFile does (decimal, no newline, to name.tmp, fsynced, renamed)
// and then fsyncs the directory, so that the rename survives a power loss.
func (s *Store) writeEpochLocked(name string, e int64) error {
	path := s.fs.PathJoin(s.EpochDir(), name)
	tmp := path + tmpSuffix
	f, err := s.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("persistence: create %s: %w", tmp, err)
	}
	_, err = f.Write(strconv.AppendInt(nil, e, 10))
	if err = finishAtomicWrite(s.fs, f, tmp, path, err, true); err != nil {
		_ = s.fs.Remove(tmp)
		return fmt.Errorf("persistence: write %s: %w", path, err)
	}
	s.log.Info().Str("file", path).Int64("epoch", e).Msg("persistence: wrote epoch")
	return nil
}
