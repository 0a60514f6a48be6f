package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/rs/zerolog"
)

// Errors returned by the store. Every error it returns wraps one of these
// (or is an error of the file system underneath).
var (
	// ErrInvalidOptions means Options.Validate failed.
	ErrInvalidOptions = errors.New("persistence: invalid options")
	// ErrLogFailed means a write or fsync of the txn log failed. The store
	// refuses every later Append with an error wrapping ErrLogFailed and the
	// first cause; nothing that was not durable was acknowledged.
	ErrLogFailed = errors.New("persistence: txn log failed")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("persistence: store closed")
	// ErrCorrupt means persisted data failed a check (checksum, format,
	// zxid order or gap) somewhere other than a torn tail. Open returns it
	// without modifying anything.
	ErrCorrupt = errors.New("persistence: corrupt")
	// ErrZxidOrder means Append was given a zxid not greater than the last
	// one, or one that leaves a gap within an epoch.
	ErrZxidOrder = errors.New("persistence: zxid out of order")
	// ErrBadEntry means an Entry's data is not a TxnHeader carrying the
	// entry's zxid followed by a txn.
	ErrBadEntry = errors.New("persistence: bad txn entry")
	// ErrBadNode means a snapshot iterator yielded a node the snapshot
	// format cannot hold.
	ErrBadNode = errors.New("persistence: bad snapshot node")
	// ErrNoSnapshot means an operation needs a snapshot and there is none.
	ErrNoSnapshot = errors.New("persistence: no snapshot")
	// ErrNotEmpty means ImportZooKeeperDir was called on a store that
	// already holds a log or snapshots.
	ErrNotEmpty = errors.New("persistence: store is not empty")
)

// Entry is one logged txn: its zxid and ZooKeeper's serialized TxnHeader
// followed by the txn record (and, when the writer added one, the TxnDigest):
// the same bytes a ZooKeeper txn log entry holds.
type Entry struct {
	Zxid int64
	Data []byte
}

// txnHeaderSize is the encoded size of jute.TxnHeader; the zxid sits at
// offset 12 (after clientId and cxid).
const (
	txnHeaderSize     = 32
	txnHeaderZxidOffs = 12
)

// Key and value layout of the txn log Pebble instance; see doc.go.
const (
	logKeyPrefix = 'x'
	logKeyLen    = 9
	logValueCRC  = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func logKey(zxid int64) []byte {
	var k [logKeyLen]byte
	k[0] = logKeyPrefix
	binary.BigEndian.PutUint64(k[1:], uint64(zxid))
	return k[:]
}

func appendLogValue(dst []byte, e Entry) []byte {
	var z [8]byte
	binary.BigEndian.PutUint64(z[:], uint64(e.Zxid))
	crc := crc32.Update(crc32.Checksum(z[:], castagnoli), castagnoli, e.Data)
	dst = binary.BigEndian.AppendUint32(dst, crc)
	return append(dst, e.Data...)
}

// decodeLogKV checks one log key/value pair and returns its entry. The
// returned Data aliases value.
func decodeLogKV(key, value []byte) (Entry, error) {
	if len(key) != logKeyLen || key[0] != logKeyPrefix {
		return Entry{}, fmt.Errorf("%w: txn log key %x", ErrCorrupt, key)
	}
	zxid := int64(binary.BigEndian.Uint64(key[1:]))
	if len(value) < logValueCRC {
		return Entry{}, fmt.Errorf("%w: txn log entry 0x%x: value of %d bytes", ErrCorrupt, zxid, len(value))
	}
	e := Entry{Zxid: zxid, Data: value[logValueCRC:]}
	crc := crc32.Update(crc32.Checksum(key[1:], castagnoli), castagnoli, e.Data)
	if got := binary.BigEndian.Uint32(value); got != crc {
		return Entry{}, fmt.Errorf("%w: txn log entry 0x%x: checksum %08x, want %08x", ErrCorrupt, zxid, got, crc)
	}
	if err := checkEntry(e); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return e, nil
}

// checkEntry checks that e's data starts with a TxnHeader carrying e's zxid.
func checkEntry(e Entry) error {
	if len(e.Data) < txnHeaderSize {
		return fmt.Errorf("%w: zxid 0x%x: %d bytes, shorter than a TxnHeader", ErrBadEntry, e.Zxid, len(e.Data))
	}
	if z := int64(binary.BigEndian.Uint64(e.Data[txnHeaderZxidOffs:])); z != e.Zxid {
		return fmt.Errorf("%w: zxid 0x%x: TxnHeader says 0x%x", ErrBadEntry, e.Zxid, z)
	}
	return nil
}

// nextZxidOK reports whether zxid may follow prev in the log: it must be
// larger, and within one epoch the counter must advance by exactly one.
func nextZxidOK(prev, zxid int64) bool {
	if zxid <= prev {
		return false
	}
	if prev == 0 || jute.ZxidEpoch(prev) != jute.ZxidEpoch(zxid) {
		return true
	}
	return zxid == prev+1
}

// Store is gokeeper's persistent state: the txn log (a Pebble instance in
// DataLogDir/txnlog, written with group commit) and snapshots (ZooKeeper
// snapshot files in DataDir/snapshots). Its methods are safe for concurrent
// use.
type Store struct {
	opts    Options
	fs      vfs.FS
	log     zerolog.Logger
	db      *pebble.DB
	logDir  string
	snapDir string

	// lastDurable is the zxid of the last entry known durable in the log.
	lastDurable atomic.Int64
	// commits counts the log batches committed (one sync each).
	commits atomic.Int64
	// loggedBytes counts the data bytes of the entries committed since Open;
	// snapshotBytes is the size of the newest snapshot written or loaded.
	loggedBytes   atomic.Int64
	snapshotBytes atomic.Int64
	// m is where the store records ZooKeeper's metrics (Options.Metrics).
	m storeMetrics

	// kick wakes the commit goroutine; stopped is closed when it exits.
	kick    chan struct{}
	stopped chan struct{}

	mu struct {
		sync.Mutex
		// queue holds appends not yet handed to the commit goroutine.
		queue []*appendReq
		// lastQueued is the zxid the next appended entry must follow.
		lastQueued int64
		// failed is the latched ErrLogFailed error, once a commit failed.
		failed error
		closed bool
	}

	// snapMu serializes snapshot writes, purges, imports and exports.
	snapMu sync.Mutex

	// epochMu serializes reads and writes of the epoch files;
	// epochDirMade records that their directory exists, durably.
	epochMu      sync.Mutex
	epochDirMade bool

	// dbMu guards db against Close: Replay and purge hold it shared; Close
	// takes it exclusively and sets dbClosed.
	dbMu     sync.RWMutex
	dbClosed bool
	// dbWedged is set when Pebble panicked inside a commit holding its own
	// locks; db is then never touched again.
	dbWedged bool
}

type appendReq struct {
	entries []Entry
	done    func(error)
	queued  time.Time // when Append queued it
	err     error     // set when the request is refused before it is written
	// truncate marks a TruncateAfter request: remove entries > after.
	truncate bool
	after    int64
}

// Open opens (creating if needed) the store described by o and recovers it:
// it verifies every txn log entry (checksum, TxnHeader zxid, order, no gap
// within an epoch not covered by a snapshot). A torn tail of the log's WAL is
// logged and cut by Pebble's recovery; any other corruption (including a bad
// WAL record followed by good ones) makes Open fail with an error wrapping
// ErrCorrupt, after read-only checks that modified nothing. An
// InstallSnapshot that passed its commit point is finished.
func Open(o Options) (*Store, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		opts:    o,
		fs:      o.FS,
		log:     o.Logger,
		logDir:  o.FS.PathJoin(o.logDir(), "txnlog"),
		snapDir: o.FS.PathJoin(o.DataDir, "snapshots"),
		kick:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		m:       newStoreMetrics(o.Metrics),
	}
	if err := s.fs.MkdirAll(s.snapDir, 0o755); err != nil {
		return nil, fmt.Errorf("persistence: create %s: %w", s.snapDir, err)
	}
	if err := s.fs.MkdirAll(s.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("persistence: create %s: %w", s.logDir, err)
	}
	// Make the directories themselves durable: a crash must not lose the
	// directory entries of a log or snapshot that was synced.
	for _, d := range []string{s.snapDir, s.logDir} {
		if err := syncParents(s.fs, d); err != nil {
			return nil, fmt.Errorf("persistence: sync %s: %w", d, err)
		}
	}
	snaps, err := s.listSnapshots()
	if err != nil {
		return nil, err
	}
	// Check the log read-only first, so that corruption leaves every file as
	// it was.
	if err := s.checkWALTail(); err != nil {
		return nil, err
	}
	// NB: the read-only pass is the only full one: opening read-write
	// replays the same WAL, and a pending install only empties the log.
	if _, err := s.fs.Stat(s.fs.PathJoin(s.logDir, "CURRENT")); err == nil {
		db, err := s.openPebble(true)
		if err != nil {
			return nil, err
		}
		_, verr := s.verifyLog(db, snaps)
		cerr := db.Close()
		if verr != nil {
			return nil, verr
		}
		if cerr != nil {
			return nil, fmt.Errorf("persistence: close read-only txn log: %w", cerr)
		}
	}
	db, err := s.openPebble(false)
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := s.finishPendingInstall(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if snaps, err = s.listSnapshots(); err != nil {
		_ = db.Close()
		return nil, err
	}
	last, err := lastLogZxid(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.removeTempSnapshots()
	s.lastDurable.Store(last)
	s.mu.lastQueued = last
	if n := len(snaps); n > 0 && snaps[n-1] > last {
		s.mu.lastQueued = snaps[n-1]
	}
	s.log.Info().Str("dir", s.logDir).Str("zxid", fmt.Sprintf("0x%x", last)).Int("snapshots", len(snaps)).
		Msg("persistence: opened txn log")
	go s.commitLoop()
	return s, nil
}

func (s *Store) openPebble(readOnly bool) (*pebble.DB, error) {
	memTable := s.opts.memTableSize
	if memTable == 0 {
		memTable = 8 << 20
	}
	po := &pebble.Options{
		FS:       s.fs,
		Logger:   pebbleLogger{log: s.log},
		ReadOnly: readOnly,
		// The log is mostly appended, replayed once and purged, so the
		// memtable only has to make WAL rotations (and the flushes behind
		// them) rare on the commit path: 8 MiB is about one a second at
		// 60k setData/s of 100 bytes. Memtables count in RSS: at 1M
		// znodes it was 360 MiB with 32 MiB ones, 310 with 8 MiB.
		MemTableSize: uint64(memTable),
	}
	db, err := pebble.Open(s.logDir, po)
	if err != nil {
		if errors.Is(err, pebble.ErrCorruption) {
			return nil, fmt.Errorf("%w: txn log %s: %w", ErrCorrupt, s.logDir, err)
		}
		return nil, fmt.Errorf("persistence: open txn log %s: %w", s.logDir, err)
	}
	return db, nil
}

// verifyLog checks every entry of the log and returns the last zxid.
func (s *Store) verifyLog(db *pebble.DB, snaps []int64) (int64, error) {
	it, err := db.NewIter(&pebble.IterOptions{})
	if err != nil {
		return 0, fmt.Errorf("persistence: read txn log: %w", err)
	}
	defer it.Close()
	var prev int64
	for ok := it.First(); ok; ok = it.Next() {
		e, err := decodeLogKV(it.Key(), it.Value())
		if err != nil {
			return 0, err
		}
		if prev != 0 && !nextZxidOK(prev, e.Zxid) && !gapCovered(snaps, prev, e.Zxid) {
			return 0, fmt.Errorf("%w: txn log: zxid 0x%x follows 0x%x", ErrCorrupt, e.Zxid, prev)
		}
		prev = e.Zxid
	}
	if err := it.Error(); err != nil {
		if errors.Is(err, pebble.ErrCorruption) {
			return 0, fmt.Errorf("%w: txn log: %w", ErrCorrupt, err)
		}
		return 0, fmt.Errorf("persistence: read txn log: %w", err)
	}
	return prev, nil
}

// lastLogZxid returns the zxid of the log's last entry, 0 if it is empty.
func lastLogZxid(db *pebble.DB) (int64, error) {
	it, err := db.NewIter(&pebble.IterOptions{})
	if err != nil {
		return 0, fmt.Errorf("persistence: read txn log: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return 0, fmt.Errorf("persistence: read txn log: %w", err)
		}
		return 0, nil
	}
	e, err := decodeLogKV(it.Key(), it.Value())
	return e.Zxid, err
}

// gapCovered reports whether a snapshot makes the entries between prev and
// next unnecessary: one taken at next-1 or later.
func gapCovered(snaps []int64, prev, next int64) bool {
	return next > prev && len(snaps) > 0 && snaps[len(snaps)-1] >= next-1
}

// Close stops the store: queued appends are still committed (or failed) and
// their done callbacks run before Close returns.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.closed = true
	s.mu.Unlock()
	s.wake()
	<-s.stopped
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	return s.closeDB()
}

// closeDB closes Pebble. After a commit failure Pebble may report the
// failure again, or call its fatal logger; both become errors here.
func (s *Store) closeDB() (err error) {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	s.dbClosed = true
	if s.dbWedged {
		s.mu.Lock()
		failed := s.mu.failed
		s.mu.Unlock()
		return fmt.Errorf("persistence: txn log left open after a Pebble panic: %w", failed)
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(pebbleFatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("persistence: close txn log: %w", f)
		}
	}()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("persistence: close txn log: %w", err)
	}
	return nil
}

// failedErr returns the latched ErrLogFailed error.
func (s *Store) failedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.failed == nil {
		return ErrLogFailed
	}
	return s.mu.failed
}

func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Append queues entries for the log; done is called (on a store goroutine)
// once they are durable (fsynced, unless ForceSync is off) or with the error
// that stopped them. Entries appended by many callers while a commit is in
// progress share the next commit and its single fsync. Entries must be
// appended in increasing zxid order without gaps within an epoch; a call
// that breaks this gets ErrZxidOrder and leaves the log as it was. done
// callbacks run in the order of the Append calls, on the goroutine that
// commits the next batch: they must be quick and must not block. After a
// write or fsync error every later Append gets an error wrapping
// ErrLogFailed and its cause.
func (s *Store) Append(entries []Entry, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	req := &appendReq{entries: entries, done: done, queued: time.Now()}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		go done(ErrClosed)
		return
	}
	if s.mu.failed != nil {
		req.err = s.mu.failed
	} else {
		req.err = s.checkAppendLocked(entries)
	}
	accepted := req.err == nil // NB: the commit goroutine owns req once it is queued
	s.mu.queue = append(s.mu.queue, req)
	s.mu.Unlock()
	if accepted {
		s.m.requestQueued.Add(int64(len(entries)))
	}
	s.wake()
}

func (s *Store) checkAppendLocked(entries []Entry) error {
	last := s.mu.lastQueued
	for _, e := range entries {
		if err := checkEntry(e); err != nil {
			return err
		}
		if !nextZxidOK(last, e.Zxid) {
			return fmt.Errorf("%w: zxid 0x%x after 0x%x", ErrZxidOrder, e.Zxid, last)
		}
		last = e.Zxid
	}
	s.mu.lastQueued = last
	return nil
}

// commitLoop is the store goroutine: it takes every queued append, commits
// them as one Pebble batch with one sync, and then runs their callbacks.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	var buf []byte
	for {
		<-s.kick
		for {
			s.mu.Lock()
			reqs := s.mu.queue
			s.mu.queue = nil
			closed := s.mu.closed
			s.mu.Unlock()
			if len(reqs) == 0 {
				if closed {
					return
				}
				break
			}
			s.m.taken(reqs)
			for len(reqs) > 0 {
				if reqs[0].truncate {
					s.truncate(reqs[0])
					reqs = reqs[1:]
					continue
				}
				n := 1
				for n < len(reqs) && !reqs[n].truncate {
					n++
				}
				buf = s.commit(reqs[:n], buf)
				reqs = reqs[n:]
			}
		}
	}
}

// commit writes the entries of reqs that were accepted as one batch and
// calls every done in order.
func (s *Store) commit(reqs []*appendReq, buf []byte) []byte {
	s.mu.Lock()
	failed := s.mu.failed
	s.mu.Unlock()
	if failed != nil {
		// An earlier commit or truncation in this round failed.
		for _, r := range reqs {
			if r.err == nil {
				r.err = failed
			}
			r.done(r.err)
		}
		return buf
	}
	b := s.db.NewBatch()
	var n, bytes int
	var last int64
	taken := time.Now()
	for _, r := range reqs {
		if r.err != nil {
			continue
		}
		for _, e := range r.entries {
			buf = appendLogValue(buf[:0], e)
			bytes += len(e.Data)
			if err := b.Set(logKey(e.Zxid), buf, nil); err != nil {
				// Set on an in-memory batch fails only on misuse.
				panic(err)
			}
			n++
			last = e.Zxid
		}
	}
	var err error
	if n > 0 {
		s.m.batched(reqs, taken)
		err = s.commitBatch(b)
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrLogFailed, err)
			s.log.Error().Err(err).Str("zxid", fmt.Sprintf("0x%x", last)).
				Msg("persistence: txn log write failed; refusing all further writes")
			s.mu.Lock()
			if s.mu.failed == nil {
				s.mu.failed = err
			}
			s.mu.Unlock()
		} else {
			s.lastDurable.Store(last)
			s.commits.Add(1)
			s.loggedBytes.Add(int64(bytes))
			s.m.flushed(reqs, n)
			_ = b.Close()
		}
	} else {
		_ = b.Close()
	}
	for _, r := range reqs {
		switch {
		case r.err != nil:
			r.done(r.err)
		case err != nil:
			r.done(err)
		default:
			r.done(nil)
		}
	}
	return buf
}

// commitBatch commits b with one sync and times it. Pebble reports a failed
// WAL write or sync through its fatal logger; pebbleLogger panics with a
// pebbleFatal value, which is turned back into an error here.
func (s *Store) commitBatch(b *pebble.Batch) error {
	opt := pebble.NoSync
	if s.opts.ForceSync {
		opt = pebble.Sync
	}
	size := len(b.Repr())
	start := time.Now()
	if err := s.guardPebble(func() error { return b.Commit(opt) }); err != nil {
		return err
	}
	took := time.Since(start)
	s.m.fsyncTime.Add(took.Milliseconds())
	s.m.flushTime.Add(took.Milliseconds())
	if s.opts.ForceSync && s.opts.FsyncWarningThreshold > 0 && took > s.opts.FsyncWarningThreshold {
		s.log.Warn().Int64("fsyncMs", took.Milliseconds()).Int("batchBytes", size).
			Msgf("fsync-ing the write ahead log in %s took %dms which will adversely effect operation latency. "+
				"Batch size is %d bytes. See the ZooKeeper troubleshooting guide",
				s.opts.SyncThreadName, took.Milliseconds(), size)
	}
	return nil
}

// LastZxid returns the zxid of the last durable entry in the log, 0 if the
// log is empty (a store whose state is all in a snapshot may have an empty
// log: the caller takes the larger of this and the snapshot's zxid).
func (s *Store) LastZxid() int64 { return s.lastDurable.Load() }

// Replay calls fn for every durable logged entry with zxid > after, in zxid
// order. Entry.Data is valid only during the call. It stops at fn's first
// error and returns it.
func (s *Store) Replay(after int64, fn func(e Entry) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.dbClosed {
		return ErrClosed
	}
	if s.dbWedged {
		return s.failedErr()
	}
	upper := s.lastDurable.Load()
	if upper <= after {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logKey(after + 1), UpperBound: logKey(upper + 1)})
	if err != nil {
		return fmt.Errorf("persistence: read txn log: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		e, err := decodeLogKV(it.Key(), it.Value())
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("persistence: read txn log: %w", err)
	}
	return nil
}

// TruncateAfter removes every log entry with zxid > zxid, durably, after the
// appends queued before it (ZAB's TRUNC: a learner drops the txns the new
// leader does not have). Snapshots taken after zxid hold such txns (a tree
// recovered from the whole log, never-committed tail included, was
// snapshotted: ZOOKEEPER-1549) and are removed first, durably, so that a
// crash in between leaves the old state (the log still holds those txns)
// or the new one, and Open recovers exactly the log up to zxid. Appends
// after it continue from zxid. It fails with the latched ErrLogFailed
// error after a log failure.
func (s *Store) TruncateAfter(zxid int64) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	zs, err := s.listSnapshots()
	if err != nil {
		return err
	}
	if i := sort.Search(len(zs), func(i int) bool { return zs[i] > zxid }); i < len(zs) {
		for _, z := range zs[i:] {
			if err := s.fs.Remove(s.snapPath(z)); err != nil {
				return fmt.Errorf("persistence: truncate: remove snapshot: %w", err)
			}
		}
		if err := syncDir(s.fs, s.snapDir); err != nil {
			return fmt.Errorf("persistence: truncate: sync %s: %w", s.snapDir, err)
		}
		s.log.Info().Str("zxid", fmt.Sprintf("0x%x", zxid)).Int("snapshots", len(zs)-i).
			Msg("persistence: removed snapshots taken after the truncation zxid")
	}
	return s.truncateLog(zxid, func(last int64) int64 { return min(last, zxid) })
}

// truncateLog removes every log entry with zxid > after through the commit
// goroutine, after the appends queued before it; the next append must
// follow next(the zxid it had to follow).
func (s *Store) truncateLog(after int64, next func(last int64) int64) error {
	errc := make(chan error, 1)
	req := &appendReq{truncate: true, after: after, done: func(err error) { errc <- err }}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	req.err = s.mu.failed
	if req.err == nil {
		s.mu.lastQueued = next(s.mu.lastQueued)
	}
	s.mu.queue = append(s.mu.queue, req)
	s.mu.Unlock()
	s.wake()
	return <-errc
}

// truncate runs a TruncateAfter request on the store goroutine.
func (s *Store) truncate(r *appendReq) {
	if r.err != nil {
		r.done(r.err)
		return
	}
	s.mu.Lock()
	failed := s.mu.failed
	s.mu.Unlock()
	if failed != nil {
		r.done(failed)
		return
	}
	err := s.guardPebble(func() error {
		return s.db.DeleteRange(logKey(r.after+1), []byte{logKeyPrefix + 1}, pebble.Sync)
	})
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrLogFailed, err)
		s.mu.Lock()
		if s.mu.failed == nil {
			s.mu.failed = err
		}
		s.mu.Unlock()
		r.done(err)
		return
	}
	if r.after < s.lastDurable.Load() {
		s.lastDurable.Store(r.after)
	}
	s.log.Info().Str("zxid", fmt.Sprintf("0x%x", r.after)).Msg("persistence: truncated txn log after zxid")
	r.done(nil)
}

// deleteLogBefore removes every log entry with zxid < zxid.
func (s *Store) deleteLogBefore(zxid int64) error {
	if zxid <= 1 {
		return nil
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.dbClosed {
		return ErrClosed
	}
	if s.dbWedged {
		return s.failedErr()
	}
	if err := s.db.DeleteRange(logKey(0), logKey(zxid), pebble.Sync); err != nil {
		return fmt.Errorf("persistence: purge txn log: %w", err)
	}
	return nil
}

// guardPebble runs a Pebble write (a commit or a truncation) and turns
// Pebble's ways of giving up into errors. A failed WAL write or sync reaches
// pebbleLogger.Fatalf, which panics with pebbleFatal after Pebble released
// its locks. A failure to create or recycle the next WAL at a memtable
// rotation makes Pebble panic with the error while holding its own mutex:
// the instance is wedged, so it is marked and never touched again (not even
// closed); the process keeps serving reads from memory and the operator
// restarts it. Any other panic is a bug and goes on.
func (s *Store) guardPebble(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch v := r.(type) {
			case pebbleFatal:
				err = v
			case error:
				s.dbMu.Lock()
				s.dbWedged = true
				s.dbMu.Unlock()
				err = fmt.Errorf("pebble: %w", v)
			default:
				panic(r)
			}
		}
	}()
	return fn()
}

// pebbleFatal is the panic value of pebbleLogger.Fatalf.
// It keeps the first error among the Fatalf arguments as its cause.
type pebbleFatal struct {
	msg   string
	cause error
}

func (f pebbleFatal) Error() string { return f.msg }

func (f pebbleFatal) Unwrap() error { return f.cause }

// pebbleLogger forwards Pebble's log lines to zerolog at debug level. Pebble
// calls Fatalf when its commit pipeline or MANIFEST cannot be written;
// instead of exiting the process it panics with pebbleFatal, which the
// store's commit path recovers into ErrLogFailed. (A Fatalf on one of
// Pebble's background goroutines still ends the process, as ZooKeeper ends
// on an unrecoverable log error.)
type pebbleLogger struct{ log zerolog.Logger }

func (l pebbleLogger) Infof(format string, args ...interface{}) {
	l.log.Debug().Msgf("pebble: "+strings.TrimSuffix(format, "\n"), args...)
}

func (l pebbleLogger) Fatalf(format string, args ...interface{}) {
	f := pebbleFatal{msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.cause = err
			break
		}
	}
	l.log.Error().Msg("pebble: fatal: " + f.msg)
	panic(f)
}

// sortZxids sorts ascending.
func sortZxids(z []int64) { sort.Slice(z, func(i, j int) bool { return z[i] < z[j] }) }

// syncParents fsyncs every directory from dir's parent up to the root.
func syncParents(fs vfs.FS, dir string) error {
	for {
		parent := fs.PathDir(dir)
		if parent == dir || parent == "" || parent == "." {
			return nil
		}
		if err := syncDir(fs, parent); err != nil {
			return err
		}
		dir = parent
	}
}
