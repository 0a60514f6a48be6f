package persistence

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
)

// txnEOR is the end-of-record byte FileTxnLog writes after every entry.
const txnEOR = 0x42 // 'B'

// ReadZKTxnLogFile reads an Apache ZooKeeper txn log file (log.<zxid>) and
// calls fn for every entry in file order. The file ends at its end, at a zero
// length (ZooKeeper preallocates log files with zeros) or at a torn last
// entry (short, or without its end-of-record byte), as ZooKeeper's
// FileTxnIterator reads it; an entry whose Adler32 checksum fails is
// corruption (ErrCorrupt). Entry.Data is valid only during the call.
func ReadZKTxnLogFile(path string, fn func(e Entry) error) error {
	return readTxnLogFile(vfs.Default, path, 0, fn)
}

func readTxnLogFile(fs vfs.FS, path string, maxBuffer int, fn func(e Entry) error) error {
	if maxBuffer <= 0 {
		maxBuffer = 64 << 20
	}
	f, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("persistence: open txn log file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("persistence: stat txn log file: %w", err)
	}
	left := fi.Size()
	r := bufio.NewReaderSize(f, 256<<10)
	var hdr [16]byte
	if left < int64(len(hdr)) {
		return fmt.Errorf("%w: %s: %d bytes, shorter than a file header", ErrCorrupt, path, left)
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("persistence: read %s: %w", path, err)
	}
	left -= int64(len(hdr))
	if m := binary.BigEndian.Uint32(hdr[:]); m != txnLogMagic {
		return fmt.Errorf("%w: %s: magic %08x, want %08x (ZKLG)", ErrCorrupt, path, m, txnLogMagic)
	}
	var buf []byte
	var pre [12]byte
	for {
		if left < int64(len(pre)) {
			return nil // end of file, or a torn entry prefix
		}
		if _, err := io.ReadFull(r, pre[:]); err != nil {
			return fmt.Errorf("persistence: read %s: %w", path, err)
		}
		left -= int64(len(pre))
		crc := binary.BigEndian.Uint64(pre[:8])
		n := int32(binary.BigEndian.Uint32(pre[8:]))
		if n == 0 {
			return nil // preallocated zeros: end of log
		}
		if n < 0 || int(n) > maxBuffer {
			return fmt.Errorf("%w: %s: txn length %d", ErrCorrupt, path, n)
		}
		if int64(n)+1 > left {
			return nil // torn last entry
		}
		if cap(buf) < int(n)+1 {
			buf = make([]byte, int(n)+1)
		}
		buf = buf[:int(n)+1]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("persistence: read %s: %w", path, err)
		}
		left -= int64(len(buf))
		if buf[n] != txnEOR {
			return nil // ZooKeeper: "Last transaction was partial."
		}
		data := buf[:n]
		if sum := uint64(adler32.Checksum(data)); sum != crc {
			return fmt.Errorf("%w: %s: txn checksum %x, want %x", ErrCorrupt, path, crc, sum)
		}
		if len(data) < txnHeaderSize {
			return fmt.Errorf("%w: %s: txn of %d bytes, shorter than a TxnHeader", ErrCorrupt, path, len(data))
		}
		e := Entry{Zxid: int64(binary.BigEndian.Uint64(data[txnHeaderZxidOffs:])), Data: data}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// WriteZKTxnLogFile writes entries as an Apache ZooKeeper txn log file
// (FileHeader "ZKLG", version 2, dbid 0; per entry the Adler32 of the txn
// bytes, their length, the bytes and 'B'), crash-safely. ZooKeeper expects
// the file to be named log.<hex zxid of the first entry>.
func WriteZKTxnLogFile(path string, entries []Entry) error {
	return writeTxnLogFile(vfs.Default, path, func(yield func(Entry) error) error {
		for _, e := range entries {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeTxnLogFile(fs vfs.FS, path string, entries func(yield func(Entry) error) error) (err error) {
	tmp := path + tmpSuffix
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("persistence: create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			_ = fs.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 256<<10)
	var b []byte
	b = binary.BigEndian.AppendUint32(b, txnLogMagic)
	b = binary.BigEndian.AppendUint32(b, fileVersion)
	b = binary.BigEndian.AppendUint64(b, 0)
	_, err = w.Write(b)
	if err == nil {
		err = entries(func(e Entry) error {
			if err := checkEntry(e); err != nil {
				return err
			}
			b = binary.BigEndian.AppendUint64(b[:0], uint64(adler32.Checksum(e.Data)))
			b = binary.BigEndian.AppendUint32(b, uint32(len(e.Data)))
			if _, err := w.Write(b); err != nil {
				return err
			}
			if _, err := w.Write(e.Data); err != nil {
				return err
			}
			return w.WriteByte(txnEOR)
		})
	}
	if err == nil {
		err = w.Flush()
	}
	if err = finishAtomicWrite(fs, f, tmp, path, err, true); err != nil {
		return fmt.Errorf("persistence: write txn log file %s: %w", path, err)
	}
	return nil
}

// ImportZooKeeperDir reads an Apache ZooKeeper version-2 directory (through
// the store's FS) into an empty store: the newest valid snapshot.<zxid>
// becomes the store's snapshot and every entry of the log.<zxid> files after
// it is appended to the log. Everything is checked before anything is
// written. Compressed snapshots (.gz, .snappy) are not read.
func (s *Store) ImportZooKeeperDir(dir string) error {
	s.mu.Lock()
	empty := s.mu.lastQueued == 0 && s.mu.failed == nil && !s.mu.closed
	s.mu.Unlock()
	if zs, err := s.listSnapshots(); err != nil {
		return err
	} else if !empty || len(zs) > 0 || s.LastZxid() != 0 {
		return ErrNotEmpty
	}

	// Find the snapshot and check everything.
	snaps, err := listZxidFiles(s.fs, dir, snapPrefix)
	if err != nil {
		return err
	}
	var snapPath string
	var snapZxid int64
	var sessions []Session
	var digest ZxidDigest
	for i := len(snaps) - 1; i >= 0; i-- {
		p := s.fs.PathJoin(dir, snapName(snaps[i]))
		var ss []Session
		var dg ZxidDigest
		err := readSnapshotFile(s.fs, p, func(x Session) { ss = append(ss, x) }, nil, nil, &dg, s.opts.maxBuffer())
		if err != nil {
			s.log.Warn().Err(err).Str("file", p).Msg("persistence: import: skipping invalid snapshot")
			continue
		}
		snapPath, snapZxid, sessions, digest = p, snaps[i], ss, dg
		break
	}
	if snapPath == "" {
		return fmt.Errorf("%w: no valid snapshot in %s", ErrNoSnapshot, dir)
	}
	logs, err := s.zkLogFilesAfter(dir, snapZxid)
	if err != nil {
		return err
	}
	var count int
	last := snapZxid
	for _, p := range logs {
		err := readTxnLogFile(s.fs, p, s.opts.maxBuffer(), func(e Entry) error {
			if e.Zxid <= last {
				return nil
			}
			if !nextZxidOK(last, e.Zxid) {
				return fmt.Errorf("%w: %s: zxid 0x%x follows 0x%x", ErrCorrupt, p, e.Zxid, last)
			}
			last = e.Zxid
			count++
			return nil
		})
		if err != nil {
			return err
		}
	}

	// Write. NB: the snapshot keeps ZooKeeper's digest trailer, which
	// says where its fuzzy range ends for the digests in the log.
	err = s.WriteSnapshotDigest(snapZxid, sessions, func(acls func([][]jute.ACL) error, node func(*Node) error) error {
		return readSnapshotFile(s.fs, snapPath, nil, acls, node, nil, s.opts.maxBuffer())
	}, func() ZxidDigest { return digest })
	if err != nil {
		return err
	}
	const batch = 1024
	var pending []Entry
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		errc := make(chan error, 1)
		s.Append(pending, func(err error) { errc <- err })
		pending = nil
		return <-errc
	}
	last = snapZxid
	for _, p := range logs {
		err := readTxnLogFile(s.fs, p, s.opts.maxBuffer(), func(e Entry) error {
			if e.Zxid <= last {
				return nil
			}
			last = e.Zxid
			pending = append(pending, Entry{Zxid: e.Zxid, Data: append([]byte(nil), e.Data...)})
			if len(pending) == batch {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	s.log.Info().Str("dir", dir).Str("zxid", fmt.Sprintf("0x%x", snapZxid)).Int("txns", count).
		Msg("persistence: imported ZooKeeper data dir")
	return nil
}

// zkLogFilesAfter returns the log files of dir that may hold entries after
// zxid, oldest first: the last one starting at or before zxid and all later
// ones (FileTxnLog.getLogFiles).
func (s *Store) zkLogFilesAfter(dir string, zxid int64) ([]string, error) {
	zs, err := listZxidFiles(s.fs, dir, logPrefix)
	if err != nil {
		return nil, err
	}
	start := 0
	for i, z := range zs {
		if z <= zxid {
			start = i
		}
	}
	var out []string
	for _, z := range zs[start:] {
		out = append(out, s.fs.PathJoin(dir, logPrefix+fmt.Sprintf("%x", z)))
	}
	return out, nil
}

// ExportZooKeeperDir writes the store's newest state into dir (through the
// store's FS) as an Apache ZooKeeper version-2 directory: a copy of the
// newest valid snapshot and, when the log holds entries after it, one
// log.<zxid> file with them. ZooKeeper started with dataDir set to dir's
// parent loads it. It needs a snapshot (ErrNoSnapshot otherwise).
func (s *Store) ExportZooKeeperDir(dir string) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	src, zxid, ok, err := s.newestValidSnapshotLocked()
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSnapshot
	}
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("persistence: create %s: %w", dir, err)
	}
	if err := copyFile(s.fs, src, s.fs.PathJoin(dir, snapName(zxid))); err != nil {
		return err
	}
	var first int64
	if err := s.Replay(zxid, func(e Entry) error {
		first = e.Zxid
		return errStopReplay
	}); err != nil && !errors.Is(err, errStopReplay) {
		return err
	}
	if first == 0 {
		return nil
	}
	return writeTxnLogFile(s.fs, s.fs.PathJoin(dir, logPrefix+fmt.Sprintf("%x", first)), func(yield func(Entry) error) error {
		return s.Replay(zxid, yield)
	})
}

var errStopReplay = errors.New("stop")

func copyFile(fs vfs.FS, src, dst string) (err error) {
	in, err := fs.Open(src)
	if err != nil {
		return fmt.Errorf("persistence: open %s: %w", src, err)
	}
	defer in.Close()
	tmp := dst + tmpSuffix
	out, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("persistence: create %s: %w", tmp, err)
	}
	_, err = io.Copy(out, bufio.NewReaderSize(in, 256<<10))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, dst)
	}
	if err == nil {
		err = syncDir(fs, fs.PathDir(dst))
	}
	if err != nil {
		_ = fs.Remove(tmp)
		return fmt.Errorf("persistence: copy %s to %s: %w", src, dst, err)
	}
	return nil
}
