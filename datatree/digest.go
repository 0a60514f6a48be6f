package datatree

import (
	"encoding/binary"
	"hash/crc32"
	"strings"

	"github.com/gokeeper/gokeeper/jute"
)

// DigestVersion is ZooKeeper's DigestCalculator.DIGEST_VERSION: the
// version a TxnDigest or a snapshot's ZxidDigest carries for digests
// computed as NodeDigest computes them.
const DigestVersion = 2

// digestExcluded is the prefix of the paths left out of the digest
// (ZooDefs.ZOOKEEPER_NODE_SUBTREE): the quota and config nodes, which
// ZooKeeper members update locally. /zookeeper itself counts.
const digestExcluded = "/zookeeper/"

// NodeDigest is ZooKeeper's DigestCalculator.calculateDigest: the CRC-32
// (IEEE) of the path ("" for the root, whichever alias names it), the data
// and the 60 bytes of the stored stat in the order czxid, mzxid, pzxid,
// ctime, mtime (longs), version, cversion, aversion (ints), ephemeralOwner
// (long), big-endian. Null and empty data hash alike. Paths under
// /zookeeper/ hash to 0: they are not part of the tree's digest.
// A Digester computes the same without allocating.
func NodeDigest(path string, data []byte, st *jute.StatPersisted) int64 {
	var d Digester
	return d.Node(path, data, st)
}

// Digester computes NodeDigest in a buffer it keeps, so that the write
// path does not allocate for it. It is not safe for concurrent use.
type Digester struct {
	buf []byte
}

// maxInlineDigestData is the largest data Digester.Node copies next to the
// path and the stat to hash them in one slice.
const maxInlineDigestData = 4096

// Node returns NodeDigest(path, data, st).
func (d *Digester) Node(path string, data []byte, st *jute.StatPersisted) int64 {
	if strings.HasPrefix(path, digestExcluded) {
		return 0
	}
	if path == "/" {
		path = ""
	}
	// NB: crc32 is about twice as fast over one slice of 64 bytes or more
	// (it then uses carry-less multiplication) as over the short pieces,
	// so data up to maxInlineDigestData is copied between the path and
	// the stat; larger data is hashed where it lies. The pieces go
	// through d.buf, on the heap already: crc32.Update makes whatever
	// slice it is given escape.
	inline := len(data) <= maxInlineDigestData
	b := append(d.buf[:0], path...)
	if inline {
		b = append(b, data...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(st.Czxid))
	b = binary.BigEndian.AppendUint64(b, uint64(st.Mzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(st.Pzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(st.Ctime))
	b = binary.BigEndian.AppendUint64(b, uint64(st.Mtime))
	b = binary.BigEndian.AppendUint32(b, uint32(st.Version))
	b = binary.BigEndian.AppendUint32(b, uint32(st.Cversion))
	b = binary.BigEndian.AppendUint32(b, uint32(st.Aversion))
	b = binary.BigEndian.AppendUint64(b, uint64(st.EphemeralOwner))
	d.buf = b
	if inline {
		return int64(crc32.ChecksumIEEE(b))
	}
	c := crc32.Update(0, crc32.IEEETable, b[:len(path)])
	c = crc32.Update(c, crc32.IEEETable, data)
	return int64(crc32.Update(c, crc32.IEEETable, b[len(path):]))
}

// digestLocked returns n's part of the tree's digest; path is its path.
// The caller holds t.mu's write lock.
func (t *Tree) digestLocked(n *node, path string) int64 {
	st := n.persisted()
	return t.mu.digester.Node(path, n.buf, &st)
}

// Digest returns the tree's digest, as ZooKeeper's DataTree.getTreeDigest
// keeps it (NodeHashMapImpl with AdHash): the sum, wrapping, of NodeDigest
// over every znode. It is kept incrementally by Apply and Restore; Result
// carries the value after each txn.
func (t *Tree) Digest() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.mu.digest
}

// LastDigest returns the zxid of the last applied txn and the tree's
// digest with it, read together (ZooKeeper's lastProcessedZxidDigest).
func (t *Tree) LastDigest() (zxid, digest int64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lastZxid.Load(), t.mu.digest
}
