package persistence

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
)

// ZooKeeper file magics (FileSnap.SNAP_MAGIC, FileTxnLog.TXNLOG_MAGIC) and
// the file format version both write.
const (
	snapMagic   = 0x5a4b534e // "ZKSN"
	txnLogMagic = 0x5a4b4c47 // "ZKLG"
	fileVersion = 2

	snapPrefix = "snapshot."
	logPrefix  = "log."
	tmpSuffix  = ".tmp"

	// digestVersion is ZooKeeper's DigestCalculator.DIGEST_VERSION, written
	// in the digest trailer of a snapshot.
	digestVersion = 2
	// openACLUnsafeRef is ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID: the
	// ACL reference of a node whose ACL is world:anyone with all perms and
	// was never put in the cache.
	openACLUnsafeRef = -1
)

// Session is a session persisted in a snapshot: its id and negotiated
// timeout in milliseconds.
type Session struct {
	ID      int64
	Timeout int32
}

// SnapshotSource yields a tree to a snapshot writer: it calls acls once,
// with every ACL list its nodes use, then node for each znode, parents
// before children, the root "" first. A node's ACL is nil (written as
// OPEN_ACL_UNSAFE) or one of the listed lists (found by address; an equal
// list is found by content). The writer stops at and returns the first
// error the source returns.
type SnapshotSource func(acls func([][]jute.ACL) error, node func(*Node) error) error

// ZxidDigest is ZooKeeper's DataTree.ZxidDigest: a tree's digest
// (datatree.Tree.Digest) with the zxid of the last txn applied to it.
// After a snapshot's tree it is the trailer, read once the tree was
// written (zxid 0: none): a reader that loaded the (fuzzy) snapshot and
// replayed the log up to Zxid has exactly that tree, so ZooKeeper compares
// digests only from there on.
type ZxidDigest struct {
	Zxid, Digest int64
}

// Node is one znode of a snapshot. Path is "" for the root and the full path
// ("/a/b") otherwise, as ZooKeeper writes it.
type Node struct {
	Path string
	Data []byte
	ACL  []jute.ACL
	Stat jute.StatPersisted
}

// snapName returns ZooKeeper's file name for a snapshot taken at zxid.
func snapName(zxid int64) string { return snapPrefix + strconv.FormatInt(zxid, 16) }

// zxidFromName parses "<prefix><hex zxid>" and reports whether name is one.
func zxidFromName(name, prefix string) (int64, bool) {
	hex, ok := strings.CutPrefix(name, prefix)
	if !ok || hex == "" {
		return 0, false
	}
	z, err := strconv.ParseInt(hex, 16, 64)
	if err != nil || z < 0 {
		return 0, false
	}
	return z, true
}

// listZxidFiles returns the zxids of the files in dir named prefix+hex,
// ascending.
func listZxidFiles(fs vfs.FS, dir, prefix string) ([]int64, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("persistence: list %s: %w", dir, err)
	}
	var zs []int64
	for _, n := range names {
		if z, ok := zxidFromName(n, prefix); ok {
			zs = append(zs, z)
		}
	}
	sortZxids(zs)
	return zs, nil
}

func (s *Store) listSnapshots() ([]int64, error) { return listZxidFiles(s.fs, s.snapDir, snapPrefix) }

func (s *Store) snapPath(zxid int64) string { return s.fs.PathJoin(s.snapDir, snapName(zxid)) }

// removeTempSnapshots deletes what a crash in the middle of WriteSnapshot
// left behind.
func (s *Store) removeTempSnapshots() {
	names, err := s.fs.List(s.snapDir)
	if err != nil {
		return
	}
	for _, n := range names {
		if strings.HasSuffix(n, tmpSuffix) {
			p := s.fs.PathJoin(s.snapDir, n)
			if err := s.fs.Remove(p); err == nil {
				s.log.Info().Str("file", p).Msg("persistence: removed unfinished snapshot")
			}
		}
	}
}

// WriteSnapshot stores a snapshot taken at lastZxid. It is fuzzy: nodes may
// already reflect txns after lastZxid, which replaying the log from lastZxid
// makes right again (see doc.go). tree yields the ACL lists, then the
// nodes. The snapshot is a ZooKeeper
// snapshot file written to a temporary name and renamed, so a crash leaves
// the whole snapshot, none, or (after a power loss) one that fails its
// checksum and is skipped on load. NB: like ZooKeeper's periodic
// snapshots it is not fsynced when the log still holds every txn it
// covers; Purge fsyncs the snapshots it keeps before it deletes any log.
// A snapshot beyond the log (a follower sent a SNAP) is fsynced at once.
func (s *Store) WriteSnapshot(lastZxid int64, sessions []Session, tree SnapshotSource) error {
	return s.WriteSnapshotDigest(lastZxid, sessions, tree, nil)
}

// WriteSnapshotDigest is WriteSnapshot with the digest trailer that digest
// returns, which it calls once the tree is written (nil: none). See
// ZxidDigest.
func (s *Store) WriteSnapshotDigest(lastZxid int64, sessions []Session, tree SnapshotSource, digest func() ZxidDigest) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	s.mu.Lock()
	closed := s.mu.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	start := time.Now()
	sync := lastZxid > s.LastZxid()
	st, err := writeSnapshotFile(s.fs, s.snapPath(lastZxid), lastZxid, sessions, tree, digest, sync)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if lastZxid > s.mu.lastQueued {
		s.mu.lastQueued = lastZxid
	}
	s.mu.Unlock()
	s.snapshotBytes.Store(st.bytes)
	took := time.Since(start)
	s.m.snapshotTime.Add(took.Milliseconds())
	s.log.Info().Str("zxid", fmt.Sprintf("0x%x", lastZxid)).Int("nodes", st.nodes).Int64("bytes", st.bytes).
		Dur("took", took).Msg("persistence: wrote snapshot")
	return nil
}

// LoggedBytes is the data size of the txn log entries committed since Open.
func (s *Store) LoggedBytes() int64 { return s.loggedBytes.Load() }

// SnapshotBytes is the size of the newest snapshot written or loaded since
// Open, 0 if none.
func (s *Store) SnapshotBytes() int64 { return s.snapshotBytes.Load() }

// LoadLatestSnapshot reads the newest valid snapshot; ok is false when there
// is none. A snapshot that fails its checks (torn, bad checksum, bad format)
// is logged and skipped in favour of the next older one; the callbacks see
// only the snapshot that passed, so they never receive part of a bad one.
// Each *Node passed to nodeFn is new and the callee's to keep; nodes with the
// same ACL share its slice, which must not be modified.
func (s *Store) LoadLatestSnapshot(sessionFn func(Session), nodeFn func(*Node) error) (lastZxid int64, ok bool, err error) {
	lastZxid, _, ok, err = s.LoadLatestSnapshotDigest(sessionFn, nodeFn)
	return lastZxid, ok, err
}

// LoadLatestSnapshotDigest is LoadLatestSnapshot that also returns the
// snapshot's digest trailer (zero if it has none). See ZxidDigest.
func (s *Store) LoadLatestSnapshotDigest(sessionFn func(Session), nodeFn func(*Node) error) (lastZxid int64, digest ZxidDigest, ok bool, err error) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	path, zxid, ok, err := s.newestValidSnapshotLocked()
	if err != nil || !ok {
		return 0, digest, false, err
	}
	if err := readSnapshotFile(s.fs, path, sessionFn, nil, nodeFn, &digest, s.opts.maxBuffer()); err != nil {
		return 0, ZxidDigest{}, false, err
	}
	if fi, err := s.fs.Stat(path); err == nil {
		s.snapshotBytes.Store(fi.Size())
	}
	return zxid, digest, true, nil
}

// newestValidSnapshotLocked finds the newest snapshot that reads completely
// and whose checksums hold.
func (s *Store) newestValidSnapshotLocked() (path string, zxid int64, ok bool, err error) {
	zs, err := s.listSnapshots()
	if err != nil {
		return "", 0, false, err
	}
	for i := len(zs) - 1; i >= 0; i-- {
		p := s.snapPath(zs[i])
		if err := readSnapshotFile(s.fs, p, nil, nil, nil, nil, s.opts.maxBuffer()); err != nil {
			s.log.Warn().Err(err).Str("file", p).Msg("persistence: skipping invalid snapshot")
			continue
		}
		return p, zs[i], true, nil
	}
	return "", 0, false, nil
}

// Purge keeps the newest retain snapshots (autopurge.snapRetainCount; values
// below MinSnapRetainCount are raised to it) and deletes older snapshots and
// the log entries older than the oldest retained snapshot's zxid.
func (s *Store) Purge(retain int) error {
	if retain < MinSnapRetainCount {
		s.log.Warn().Int("snapRetainCount", retain).Msgf("persistence: snapRetainCount below %d, using %d",
			MinSnapRetainCount, MinSnapRetainCount)
		retain = MinSnapRetainCount
	}
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	zs, err := s.listSnapshots()
	if err != nil {
		return err
	}
	if len(zs) < retain {
		return nil
	}
	keep := zs[len(zs)-retain:]
	// NB: the snapshots kept must be durable before the log behind them
	// goes (WriteSnapshot leaves them to the page cache).
	for _, z := range keep {
		if err := syncFile(s.fs, s.snapPath(z)); err != nil {
			return fmt.Errorf("persistence: purge: sync snapshot: %w", err)
		}
	}
	if err := syncDir(s.fs, s.fs.PathDir(s.snapPath(keep[0]))); err != nil {
		return fmt.Errorf("persistence: purge: sync snapshot dir: %w", err)
	}
	for _, z := range zs[:len(zs)-retain] {
		if err := s.fs.Remove(s.snapPath(z)); err != nil {
			return fmt.Errorf("persistence: purge snapshot: %w", err)
		}
	}
	if err := s.deleteLogBefore(keep[0]); err != nil {
		return err
	}
	s.log.Info().Int("removedSnapshots", len(zs)-retain).Str("zxid", fmt.Sprintf("0x%x", keep[0])).
		Msg("persistence: purged snapshots and txn log before zxid")
	return nil
}

// ReadZKSnapshotFile reads an Apache ZooKeeper snapshot file (or one of the
// store's, which have the same format) and returns the zxid in its name. It
// reads in one pass: when it returns an error the callbacks may already have
// seen part of the file, which the caller must then discard.
func ReadZKSnapshotFile(path string, sessionFn func(Session), nodeFn func(*Node) error) (lastZxid int64, err error) {
	z, ok := zxidFromName(vfs.Default.PathBase(path), snapPrefix)
	if !ok {
		return 0, fmt.Errorf("persistence: %s is not named snapshot.<zxid>", path)
	}
	if err := readSnapshotFile(vfs.Default, path, sessionFn, nil, nodeFn, nil, 0); err != nil {
		return 0, err
	}
	return z, nil
}

// WriteZKSnapshotFile writes an Apache ZooKeeper snapshot file at path
// (which ZooKeeper expects to be named snapshot.<hex lastZxid>), crash-safely.
func WriteZKSnapshotFile(path string, lastZxid int64, sessions []Session, tree SnapshotSource) error {
	if z, ok := zxidFromName(vfs.Default.PathBase(path), snapPrefix); !ok || z != lastZxid {
		return fmt.Errorf("persistence: %s is not named %s: ZooKeeper takes the zxid from the name", path, snapName(lastZxid))
	}
	_, err := writeSnapshotFile(vfs.Default, path, lastZxid, sessions, tree, nil, true)
	return err
}

type snapStats struct {
	nodes int
	bytes int64
}

// writeSnapshotFile writes a ZooKeeper snapshot in one pass: header, the
// body (writeSnapshotBody), then the trailers, the digest one from digest
// (nil: none).
func writeSnapshotFile(fs vfs.FS, path string, lastZxid int64, sessions []Session,
	tree SnapshotSource, digest func() ZxidDigest, sync bool) (st snapStats, err error) {
	tmp := path + tmpSuffix
	f, err := fs.Create(tmp)
	if err != nil {
		return st, fmt.Errorf("persistence: create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			_ = fs.Remove(tmp)
		}
	}()
	w := &checkedWriter{w: bufio.NewWriterSize(f, 256<<10), sum: adler32.New()}
	w.header(snapMagic)
	st.nodes, err = writeSnapshotBody(w, sessions, tree)
	if err != nil {
		_ = f.Close()
		return st, fmt.Errorf("persistence: write snapshot %s: %w", path, err)
	}
	w.seal()
	// ZooKeeper 3.6+ writes a ZxidDigest after the tree; zxid 0 means "no
	// digest" to its reader.
	var dg ZxidDigest
	if digest != nil {
		dg = digest()
	}
	w.int64(dg.Zxid)
	w.int32(digestVersion)
	w.int64(dg.Digest)
	w.seal()
	err = w.err
	if err == nil {
		err = w.w.Flush()
	}
	if err = finishAtomicWrite(fs, f, tmp, path, err, sync); err != nil {
		return st, fmt.Errorf("persistence: write snapshot %s: %w", path, err)
	}
	st.bytes = w.n
	return st, nil
}

// writeSnapshotBody writes what a snapshot file and a SNAP stream share
// (ZooKeeper's SerializeUtils.serializeSnapshot): the sessions, the ACL
// cache (the lists tree gives first), the nodes, and the "/" that ends
// them. It returns the number of nodes written.
func writeSnapshotBody(w *checkedWriter, sessions []Session, tree SnapshotSource) (nodes int, err error) {
	w.int32(int32(len(sessions)))
	for _, ss := range sessions {
		w.int64(ss.ID)
		w.int32(ss.Timeout)
	}
	var acls *aclCache
	var scratch []byte
	err = tree(func(lists [][]jute.ACL) error {
		if acls != nil {
			return fmt.Errorf("%w: ACL lists given twice", ErrBadNode)
		}
		acls = newACLCache(lists)
		w.int32(int32(len(acls.lists)))
		for i, l := range acls.lists {
			w.int64(int64(i + 1))
			w.raw(l)
		}
		return w.err
	}, func(n *Node) error {
		if acls == nil {
			return fmt.Errorf("%w: node %q before the ACL lists", ErrBadNode, n.Path)
		}
		if n.Path == "/" {
			// "/" ends the node list in the format; the root is "".
			return fmt.Errorf("%w: node path \"/\" (the root is \"\")", ErrBadNode)
		}
		ref, ok := acls.ref(n.ACL)
		if !ok {
			return fmt.Errorf("%w: node %q has an ACL not among the snapshot's ACL lists", ErrBadNode, n.Path)
		}
		scratch = jute.AppendString(scratch[:0], n.Path)
		scratch = jute.AppendBuffer(scratch, n.Data)
		scratch = jute.AppendLong(scratch, ref)
		scratch = n.Stat.Encode(scratch)
		nodes++
		w.raw(scratch)
		return w.err
	})
	if err == nil && acls == nil {
		err = fmt.Errorf("%w: no ACL lists and no nodes", ErrBadNode)
	}
	if err != nil {
		return nodes, err
	}
	w.str("/")
	return nodes, w.err
}

// finishAtomicWrite completes writing a file at tmp (err is how writing it
// went so far): close it and rename it to path, so that path holds the
// whole file or nothing; with sync, fsync the file before and the
// directory after, so that it survives a power loss too.
func finishAtomicWrite(fs vfs.FS, f vfs.File, tmp, path string, err error, sync bool) error {
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, path)
	}
	if err == nil && sync {
		err = syncDir(fs, fs.PathDir(path))
	}
	return err
}

// syncFile fsyncs the file at path.
func syncFile(fs vfs.FS, path string) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// aclCache assigns ZooKeeper ACL cache references (1, 2, ...) to the
// distinct ACL lists a snapshot source lists, as ReferenceCountedACLCache
// does; a nil list, or one equal to OPEN_ACL_UNSAFE that was not listed,
// gets openACLUnsafeRef.
type aclCache struct {
	byList    map[*jute.ACL]int64 // first element of a listed slice → ref
	byContent map[string]int64    // encoded list → ref
	lists     [][]byte            // encoded vector per reference - 1
	scratch   []byte
}

func newACLCache(lists [][]jute.ACL) *aclCache {
	c := &aclCache{byList: make(map[*jute.ACL]int64, len(lists)), byContent: make(map[string]int64, len(lists))}
	for _, l := range lists {
		enc := c.encode(l)
		r, ok := c.byContent[string(enc)]
		if !ok {
			c.lists = append(c.lists, slices.Clone(enc))
			r = int64(len(c.lists))
			c.byContent[string(enc)] = r
		}
		if len(l) > 0 {
			c.byList[&l[0]] = r
		}
	}
	return c
}

func (c *aclCache) encode(acl []jute.ACL) []byte {
	enc := jute.AppendVectorLen(c.scratch[:0], len(acl))
	for i := range acl {
		enc = acl[i].Encode(enc)
	}
	c.scratch = enc
	return enc
}

// ref returns the reference of acl; ok is false when acl was not listed.
// NB: a listed slice is found by its address, without encoding it.
func (c *aclCache) ref(acl []jute.ACL) (ref int64, ok bool) {
	if acl == nil {
		return openACLUnsafeRef, true
	}
	if len(acl) > 0 {
		if r, ok := c.byList[&acl[0]]; ok {
			return r, true
		}
	}
	if r, ok := c.byContent[string(c.encode(acl))]; ok { // no allocation for the lookup
		return r, true
	}
	if slices.Equal(acl, jute.OpenACLUnsafe()) {
		return openACLUnsafeRef, true
	}
	return 0, false
}

// checkedWriter writes jute primitives and keeps ZooKeeper's Adler32 over
// everything written (SnapStream's CheckedOutputStream) when sum is set.
// Errors stick.
type checkedWriter struct {
	w   *bufio.Writer
	sum hash.Hash32 // nil: no checksum (a SNAP stream)
	n   int64
	buf [16]byte
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.sum != nil {
		c.sum.Write(p)
	}
	c.n += int64(len(p))
	n, err := c.w.Write(p)
	c.err = err
	return n, err
}

func (c *checkedWriter) raw(p []byte) { _, _ = c.Write(p) }

func (c *checkedWriter) int32(v int32) { c.raw(jute.AppendInt(c.buf[:0], v)) }

func (c *checkedWriter) int64(v int64) { c.raw(jute.AppendLong(c.buf[:0], v)) }

func (c *checkedWriter) str(s string) {
	c.int32(int32(len(s)))
	c.raw([]byte(s))
}

func (c *checkedWriter) header(magic int32) {
	h := jute.FileHeader{Magic: magic, Version: fileVersion}
	c.raw(h.Encode(c.buf[:0]))
}

// seal writes SnapStream.sealStream: the checksum so far, then "/".
func (c *checkedWriter) seal() {
	c.int64(int64(c.sum.Sum32()))
	c.str("/")
}

// checkedReader reads jute primitives from a stream, keeping the Adler32 of
// what it consumed when sum is set. Every length is checked against the
// bytes left in the file and the maximum buffer before anything is
// allocated. It reads exactly the bytes it decodes from r. Errors stick.
type checkedReader struct {
	r    io.Reader
	sum  hash.Hash32 // nil: no checksum (a SNAP stream)
	left int64       // bytes left in the input; math.MaxInt64 when unknown
	max  int
	path string
	bad  error // the sentinel that format errors wrap
	buf  [16]byte
	stat [60]byte
	err  error
}

func (c *checkedReader) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s: %w", c.bad, c.path, fmt.Errorf(format, args...))
	}
}

// hint bounds a capacity taken from a count in the input: by what the rest
// of the input can hold at size bytes per element, and by maxHint, so that
// a count in an input of unknown size allocates little before it is read.
func (c *checkedReader) hint(count int64, size int64) int {
	const maxHint = 1024
	return int(min(count, c.left/size, maxHint))
}

func (c *checkedReader) read(p []byte) bool {
	if c.err != nil {
		return false
	}
	if int64(len(p)) > c.left {
		c.fail("truncated: need %d bytes, %d left", len(p), c.left)
		return false
	}
	if _, err := io.ReadFull(c.r, p); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			c.fail("truncated: %w", io.ErrUnexpectedEOF)
		} else {
			c.err = fmt.Errorf("persistence: read %s: %w", c.path, err)
		}
		return false
	}
	if c.sum != nil {
		c.sum.Write(p)
	}
	c.left -= int64(len(p))
	return true
}

func (c *checkedReader) int32() int32 {
	if !c.read(c.buf[:4]) {
		return 0
	}
	return int32(binary.BigEndian.Uint32(c.buf[:4]))
}

func (c *checkedReader) int64() int64 {
	if !c.read(c.buf[:8]) {
		return 0
	}
	return int64(binary.BigEndian.Uint64(c.buf[:8]))
}

// length reads a length prefix, allowing -1 (null).
func (c *checkedReader) length(what string) int {
	n := c.int32()
	if c.err != nil {
		return 0
	}
	if n < -1 || int64(n) > c.left || int(n) > c.max {
		c.fail("bad %s length %d with %d bytes left", what, n, c.left)
		return 0
	}
	return int(n)
}

func (c *checkedReader) buffer() []byte {
	n := c.length("buffer")
	if c.err != nil || n < 0 {
		return nil
	}
	b := make([]byte, n)
	c.read(b)
	return b
}

// bytesInto reads a buffer or string into dst (reused) without keeping
// it; null reads as empty.
func (c *checkedReader) bytesInto(dst []byte, what string) []byte {
	n := c.length(what)
	if c.err != nil || n <= 0 {
		return dst[:0]
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	c.read(dst)
	return dst
}

func (c *checkedReader) str() string {
	n := c.length("string")
	if c.err != nil || n <= 0 {
		return ""
	}
	b := make([]byte, n)
	c.read(b)
	return string(b)
}

// checkSeal reads a SnapStream seal and compares its checksum with the one
// computed over everything before it.
func (c *checkedReader) checkSeal(what string) {
	want := int64(c.sum.Sum32())
	got := c.int64()
	if p := c.str(); c.err == nil && p != "/" {
		c.fail("%s: seal ends in %q, want \"/\"", what, p)
	}
	if c.err == nil && got != want {
		c.fail("%s: checksum %x, want %x", what, got, want)
	}
}

func (c *checkedReader) atEOF() bool { return c.err == nil && c.left == 0 }

// readSnapshotFile reads a ZooKeeper snapshot file, calling sessionFn,
// aclFn (with the ACL cache's lists, in file order, before any node) and
// nodeFn as it goes; each may be nil. A node's ACL is one of the lists
// given to aclFn, or a new OPEN_ACL_UNSAFE list. The digest trailer, if
// the file has one, goes to digest unless it is nil.
func readSnapshotFile(fs vfs.FS, path string, sessionFn func(Session), aclFn func([][]jute.ACL) error,
	nodeFn func(*Node) error, digest *ZxidDigest, maxBuffer int) error {
	if maxBuffer <= 0 {
		maxBuffer = 64 << 20
	}
	f, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("persistence: open snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("persistence: stat snapshot: %w", err)
	}
	c := &checkedReader{r: bufio.NewReaderSize(f, 256<<10), sum: adler32.New(), left: fi.Size(), max: maxBuffer,
		path: path, bad: ErrCorrupt}
	if magic := c.int32(); c.err == nil && magic != snapMagic {
		c.fail("magic %08x, want %08x (ZKSN)", uint32(magic), snapMagic)
	}
	c.int32() // version
	c.int64() // dbid
	if err := readSnapshotBody(c, sessionFn, aclFn, nodeFn); err != nil {
		return err
	}
	c.checkSeal("tree")
	if !c.atEOF() && c.err == nil {
		// ZooKeeper 3.6+: ZxidDigest (zxid, digestVersion, digest) and a
		// seal. Version 1's digest was a hex string.
		var dg ZxidDigest
		dg.Zxid = c.int64()
		if v := c.int32(); v < 2 {
			if d, err := strconv.ParseUint(c.str(), 16, 64); err == nil {
				dg.Digest = int64(d)
			}
		} else {
			dg.Digest = c.int64()
		}
		c.checkSeal("digest")
		if digest != nil && c.err == nil {
			*digest = dg
		}
	}
	if !c.atEOF() && c.err == nil {
		// ZooKeeper 3.9+: lastProcessedZxid and a seal.
		c.int64()
		c.checkSeal("last processed zxid")
	}
	return c.err
}

// readSnapshotBody reads what writeSnapshotBody writes, through the "/"
// that ends the nodes. It returns the first error of a callback; a format
// or read error is left in c.err.
func readSnapshotBody(c *checkedReader, sessionFn func(Session), aclFn func([][]jute.ACL) error,
	nodeFn func(*Node) error) error {
	count := c.int32()
	if c.err == nil && (count < 0 || int64(count)*12 > c.left) {
		c.fail("bad session count %d", count)
	}
	for i := int32(0); i < count && c.err == nil; i++ {
		ss := Session{ID: c.int64(), Timeout: c.int32()}
		if c.err == nil && sessionFn != nil {
			sessionFn(ss)
		}
	}
	nacl := c.int32()
	if c.err == nil && (nacl < 0 || int64(nacl)*12 > c.left) {
		c.fail("bad ACL cache size %d", nacl)
	}
	if c.err != nil {
		nacl = 0
	}
	acls := make(map[int64][]jute.ACL, c.hint(int64(nacl), 12))
	lists := make([][]jute.ACL, 0, c.hint(int64(nacl), 12))
	for i := int32(0); i < nacl && c.err == nil; i++ {
		ref := c.int64()
		n := c.length("ACL vector")
		if c.err == nil && (n < 0 || int64(n)*12 > c.left) {
			c.fail("bad ACL vector length %d", n)
		}
		if c.err != nil {
			break
		}
		list := make([]jute.ACL, 0, c.hint(int64(n), 12))
		for j := 0; j < n && c.err == nil; j++ {
			var a jute.ACL
			a.Perms = c.int32()
			a.Id.Scheme = c.str()
			a.Id.Id = c.str()
			list = append(list, a)
		}
		acls[ref] = list
		lists = append(lists, list)
	}
	if c.err == nil && aclFn != nil {
		if err := aclFn(lists); err != nil {
			return err
		}
	}
	var scratch []byte
	for c.err == nil {
		if nodeFn == nil {
			// Checking only: read into scratch, allocate nothing per node.
			scratch = c.bytesInto(scratch[:0], "path")
			if c.err != nil || string(scratch) == "/" {
				break
			}
			scratch = c.bytesInto(scratch[:0], "data")
			ref := c.int64()
			c.read(c.stat[:])
			if c.err == nil && ref != openACLUnsafeRef {
				if _, ok := acls[ref]; !ok {
					c.fail("a node refers to ACL %d, not in the ACL cache", ref)
				}
			}
			continue
		}
		path := c.str()
		if c.err != nil || path == "/" {
			break
		}
		n := &Node{Path: path}
		n.Data = c.buffer()
		ref := c.int64()
		if !c.read(c.stat[:]) {
			break
		}
		n.Stat.Decode(jute.NewDecoder(c.stat[:], 0))
		if ref == openACLUnsafeRef {
			n.ACL = jute.OpenACLUnsafe()
		} else if l, ok := acls[ref]; ok {
			n.ACL = l
		} else {
			c.fail("node %q refers to ACL %d, not in the ACL cache", path, ref)
			break
		}
		if err := nodeFn(n); err != nil {
			return err
		}
	}
	return nil
}
