package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
)

// Facts of Pebble's WAL format (record/record.go, LevelDB's log format with
// RocksDB's recyclable chunk header): 32 KiB blocks; chunk header checksum
// (4, little-endian), length (2), type (1), log number (4); types 5 and 6 are
// a full record and a record's first chunk. The checksum is the masked
// CRC-32C of type, log number and payload.
const (
	walBlockSize       = 32 << 10
	walHeaderSize      = 11
	walFullChunk       = 5
	walFirstChunk      = 6
	walCRCMaskConstant = 0xa282ead8
)

// checkWALTail reads the newest WAL of the txn log before Pebble replays it.
// Pebble's recovery stops at the first bad record of the newest WAL, which
// is right for a record torn by a crash (it was never acknowledged: the
// commit syncs after the write) but would silently drop acknowledged entries
// if the bad record were followed by good ones. So: a bad record with no
// valid record after it is a torn tail, logged and left to Pebble to cut; a
// bad record followed by a valid one is corruption, and Open stops with
// ErrCorrupt before anything is modified.
func (s *Store) checkWALTail() error {
	names, err := s.fs.List(s.logDir)
	if err != nil {
		return fmt.Errorf("persistence: list %s: %w", s.logDir, err)
	}
	var num uint64
	var name string
	for _, n := range names {
		base, ok := strings.CutSuffix(n, ".log")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(base, 10, 64)
		if err == nil && (name == "" || v > num) {
			num, name = v, n
		}
	}
	if name == "" {
		return nil
	}
	path := s.fs.PathJoin(s.logDir, name)
	f, err := s.fs.Open(path)
	if err != nil {
		return fmt.Errorf("persistence: open %s: %w", path, err)
	}
	defer f.Close()
	r := record.NewReader(f, pebble.FileNum(num))
	records := 0
	for {
		off := r.Offset()
		rec, err := r.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, rec)
		}
		if err == nil {
			records++
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if !record.IsInvalidRecord(err) {
			return fmt.Errorf("persistence: read %s: %w", path, err)
		}
		fi, serr := f.Stat()
		if serr != nil {
			return fmt.Errorf("persistence: stat %s: %w", path, serr)
		}
		rest := make([]byte, fi.Size()-off)
		if _, rerr := f.ReadAt(rest, off); rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("persistence: read %s: %w", path, rerr)
		}
		if at, ok := findWALRecord(rest[min(1, len(rest)):], off+1, uint32(num)); ok {
			return fmt.Errorf("%w: txn log WAL %s: bad record at offset %d followed by a valid record at offset %d (%v)",
				ErrCorrupt, path, off, at, err)
		}
		s.log.Warn().Str("file", path).Int64("offset", off).Int64("size", fi.Size()).Int("records", records).
			Err(err).Msg("persistence: txn log ends in a torn record (crash during a write); cutting it")
		return nil
	}
}

// findWALRecord looks in b (which starts at file offset base) for a chunk
// that begins a record of WAL logNum and whose checksum holds.
func findWALRecord(b []byte, base int64, logNum uint32) (int64, bool) {
	table := crc32.MakeTable(crc32.Castagnoli)
	for i := 0; i+walHeaderSize <= len(b); i++ {
		inBlock := int((base + int64(i)) % walBlockSize)
		if inBlock+walHeaderSize > walBlockSize {
			continue
		}
		t := b[i+6]
		if (t != walFullChunk && t != walFirstChunk) || binary.LittleEndian.Uint32(b[i+7:]) != logNum {
			continue
		}
		length := int(binary.LittleEndian.Uint16(b[i+4:]))
		if inBlock+walHeaderSize+length > walBlockSize || i+walHeaderSize+length > len(b) {
			continue
		}
		c := crc32.Checksum(b[i+6:i+walHeaderSize+length], table)
		if binary.LittleEndian.Uint32(b[i:]) == (c>>15|c<<17)+walCRCMaskConstant {
			return base + int64(i), true
		}
	}
	return 0, false
}
