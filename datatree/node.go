package datatree

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gokeeper/gokeeper/jute"
)

// node is one znode. It stores its data and its own name, not its path:
// the path is the chain of names from the root, which every lookup walks
// anyway. Its ACL is an index into the tree's aclCache. Its stat fields are
// ZooKeeper's StatPersisted: cversion counts child creations, and the
// cversion a client sees is derived (see stat). Fields are written only
// under Tree.mu's write lock.
//
// The struct is exactly 80 bytes, one of Go's size classes: the stat fields
// that only a parent or a node whose ACL was set needs live in ext.
type node struct {
	// buf holds the node's data followed by its name, in one allocation:
	// the data is buf[:len(buf)] and the name buf[len(buf):cap(buf)], so
	// the node needs no length field for either and its name costs no
	// allocation of its own. Null data (length -1 on the wire, distinct
	// from empty) is marked by a '/' before the name, which no name
	// contains. buf is replaced, never modified in place, and data clips
	// the slice it hands out to its length: a slice handed to a reader stays
	// valid and unchanged, and an append to it copies instead of writing
	// over the name.
	buf   []byte
	czxid int64
	mzxid int64
	ctime int64
	mtime int64
	owner int64 // ephemeralOwner, as stored (container/TTL encodings included)

	version int32
	// acl is the node's index in the aclCache, or deletedACL once the node
	// has left the tree (so a fuzzy Walk still holding it skips it).
	acl uint32
	// ext holds the node's children and the stat fields they move; it is
	// nil while the node has never had a child, its ACL was never set and
	// its pzxid is its czxid, as for almost every leaf.
	ext *nodeExt
}

// nodeExt is the part of a node that leaves rarely need.
type nodeExt struct {
	kids     *childSet // nil while the node has never had children
	pzxid    int64
	cversion int32 // number of child creations (ZooKeeper's persisted cversion)
	aversion int32
}

// deletedACL marks a node that has left the tree.
const deletedACL = ^uint32(0)

// nullDataMark is the byte before the name in buf that marks null data.
const nullDataMark = '/'

// newNode returns a node called name holding a copy of data.
func newNode(name string, data []byte) *node {
	n := &node{}
	copy(n.setBuf(data, len(name)), name)
	return n
}

// setBuf replaces n's buf with one holding a copy of data (nil stays
// distinct from empty) and room for a name of nameLen bytes, and returns
// that room for the caller to fill.
func (n *node) setBuf(data []byte, nameLen int) (name []byte) {
	var b []byte
	if data == nil {
		b = make([]byte, 1+nameLen)
		b[0] = nullDataMark
		name = b[1:]
		b = b[:0]
	} else {
		b = make([]byte, len(data)+nameLen)
		copy(b, data)
		name = b[len(data):]
		b = b[:len(data)]
	}
	n.buf = b
	return name
}

// setData replaces n's data with a copy of data, keeping its name.
func (n *node) setData(data []byte) {
	name := n.name()
	copy(n.setBuf(data, len(name)), name)
}

// nullData reports whether n's data is null.
func (n *node) nullData() bool {
	return len(n.buf) == 0 && cap(n.buf) > 0 && n.buf[:1][0] == nullDataMark
}

// data returns n's data, nil if it is null. The slice is shared: its
// capacity is its length, and it is never modified.
func (n *node) data() []byte {
	if n.nullData() {
		return nil
	}
	return n.buf[:len(n.buf):len(n.buf)]
}

// name returns n's name, "" for the root. The bytes are shared and must not
// be modified; string(n.name()) in a comparison does not allocate.
func (n *node) name() []byte {
	if n.nullData() {
		return n.buf[1:cap(n.buf)]
	}
	return n.buf[len(n.buf):cap(n.buf)]
}

func (n *node) deleted() bool { return n.acl == deletedACL }

// extend returns n.ext, allocating it on first use.
func (n *node) extend() *nodeExt {
	if n.ext == nil {
		n.ext = &nodeExt{pzxid: n.czxid}
	}
	return n.ext
}

// kids returns n's children, or nil while it has never had any.
func (n *node) kids() *childSet {
	if n.ext == nil {
		return nil
	}
	return n.ext.kids
}

func (n *node) pzxid() int64 {
	if n.ext == nil {
		return n.czxid
	}
	return n.ext.pzxid
}

func (n *node) cversion() int32 {
	if n.ext == nil {
		return 0
	}
	return n.ext.cversion
}

func (n *node) aversion() int32 {
	if n.ext == nil {
		return 0
	}
	return n.ext.aversion
}

func (n *node) numChildren() int32 {
	if k := n.kids(); k != nil {
		return int32(k.len())
	}
	return 0
}

// stat returns the Stat a client sees (DataNode.copyStat): ephemeralOwner
// 0 for containers and TTL nodes, and cversion translated from the count of
// creates to the count of changes (creates plus deletes), cversion*2 -
// numChildren.
func (n *node) stat() jute.Stat {
	nc := n.numChildren()
	return jute.Stat{
		Czxid:          n.czxid,
		Mzxid:          n.mzxid,
		Ctime:          n.ctime,
		Mtime:          n.mtime,
		Version:        n.version,
		Cversion:       n.cversion()*2 - nc,
		Aversion:       n.aversion(),
		EphemeralOwner: clientEphemeralOwner(n.owner),
		DataLength:     int32(len(n.buf)),
		NumChildren:    nc,
		Pzxid:          n.pzxid(),
	}
}

// persisted returns the stat as ZooKeeper stores it in snapshots.
func (n *node) persisted() jute.StatPersisted {
	return jute.StatPersisted{
		Czxid: n.czxid, Mzxid: n.mzxid, Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: n.cversion(), Aversion: n.aversion(),
		EphemeralOwner: n.owner, Pzxid: n.pzxid(),
	}
}

// setPersisted sets n's stat fields from a snapshot's.
func (n *node) setPersisted(s *jute.StatPersisted) {
	n.czxid, n.mzxid, n.ctime, n.mtime = s.Czxid, s.Mzxid, s.Ctime, s.Mtime
	n.version, n.owner = s.Version, s.EphemeralOwner
	if n.ext != nil || s.Pzxid != s.Czxid || s.Cversion != 0 || s.Aversion != 0 {
		e := n.extend()
		e.pzxid, e.cversion, e.aversion = s.Pzxid, s.Cversion, s.Aversion
	}
}

// smallChildren is the largest child count kept in a sorted slice; beyond
// it a childSet switches to a hash table. A slice entry costs 16 bytes
// against 11 to 32 for a table slot, and an insert moves at most 16 KiB;
// very wide parents (big queues, flat registries) get O(1) insert and
// delete from the table.
const smallChildren = 1024

// child is one entry of a childSet's list: the child and its key, which
// holds the 8 bytes of the child's name that follow the list's common
// prefix, big-endian and zero-padded. All names in the list share that
// prefix, so comparing keys orders names as comparing the strings does,
// and siblings named alike (sequential znodes: "lock-0000000123") still
// differ in their keys. A stored name never contains NUL (prep rejects
// it; create and Restore check it), so a key whose name ends within its 8
// bytes is that name's alone: a binary search reads a child's name from
// its node only when keys tie on longer names.
type child struct {
	key uint64
	n   *node
}

// nameKey returns the key of the part of a child name after the list's
// prefix, and whether the key alone identifies a stored name: rest is
// shorter than 8 bytes and has no NUL.
func nameKey[S string | []byte](rest S) (k uint64, exact bool) {
	exact = len(rest) < 8
	for i := 0; i < 8; i++ {
		k <<= 8
		if i < len(rest) {
			k |= uint64(rest[i])
			if rest[i] == 0 {
				exact = false
			}
		}
	}
	return k, exact
}

func cmpChildren(a, b child) int {
	if a.key != b.key {
		if a.key < b.key {
			return -1
		}
		return 1
	}
	return strings.Compare(string(a.n.name()), string(b.n.name()))
}

// cacheNamesFrom is the child count from which a listed childSet keeps its
// sorted names until the next change: a getChildren of 1,000 children
// copied 16 KiB per call, one of 10,000 sorted them (2.5ms).
const cacheNamesFrom = 64

// childSet holds a node's children, by name.
type childSet struct {
	// prefix is a prefix of every name in list, from which the keys start:
	// the whole name of the first child added, shortened when a name
	// without it is added. It is "" while table is used.
	prefix string
	list   []child    // sorted by name; used while table is nil
	table  *nodeTable // the children once there are more than smallChildren
	// nameCache holds the sorted child names of a set of at least
	// cacheNamesFrom children once listed. Readers (under the tree's read
	// lock) fill it; add and remove (under the write lock) clear it.
	// NB: atomic because several readers may fill it at once.
	nameCache atomic.Pointer[[]string]
}

func (c *childSet) len() int {
	if c.table != nil {
		return c.table.n
	}
	return len(c.list)
}

// search returns where name, which starts with c.prefix, is or would be in
// the list.
func (c *childSet) search(name string) (int, bool) {
	k, exact := nameKey(name[len(c.prefix):])
	lo, hi := 0, len(c.list)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e := &c.list[m]
		if e.key < k || (e.key == k && !exact && string(e.n.name()) < name) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(c.list) && c.list[lo].key == k && (exact || string(c.list[lo].n.name()) == name)
}

func (c *childSet) get(name string) *node {
	if c.table != nil {
		if i, ok := c.table.find(name); ok {
			return c.table.slots[i]
		}
		return nil
	}
	if !strings.HasPrefix(name, c.prefix) {
		return nil
	}
	if i, ok := c.search(name); ok {
		return c.list[i].n
	}
	return nil
}

// add inserts n, called name; the caller made sure no child has that name.
func (c *childSet) add(name string, n *node) {
	c.nameCache.Store(nil)
	if c.table != nil {
		c.table.insert(n)
		return
	}
	if len(c.list) >= smallChildren {
		c.table = newNodeTable(len(c.list) + 1)
		for _, e := range c.list {
			c.table.insert(e.n)
		}
		c.table.insert(n)
		c.list, c.prefix = nil, ""
		return
	}
	switch {
	case len(c.list) == 0:
		c.prefix = strings.Clone(name)
	case !strings.HasPrefix(name, c.prefix):
		p := 0
		for p < len(name) && name[p] == c.prefix[p] {
			p++
		}
		c.rekey(c.prefix[:p])
	}
	i, _ := c.search(name)
	k, _ := nameKey(name[len(c.prefix):])
	c.list = slices.Insert(c.list, i, child{k, n})
}

// rekey makes prefix, a prefix of every name in the list, the list's.
func (c *childSet) rekey(prefix string) {
	c.prefix = prefix
	for i := range c.list {
		e := &c.list[i]
		e.key, _ = nameKey(e.n.name()[len(prefix):])
	}
}

// commonPrefix returns the longest prefix of all names in the list.
func (c *childSet) commonPrefix() string {
	if len(c.list) == 0 {
		return ""
	}
	prefix := string(c.list[0].n.name())
	for _, e := range c.list[1:] {
		name := e.n.name()
		p := 0
		for p < len(prefix) && p < len(name) && name[p] == prefix[p] {
			p++
		}
		prefix = prefix[:p]
	}
	return prefix
}

// remove deletes the child called name, if any.
func (c *childSet) remove(name string) {
	c.nameCache.Store(nil)
	if c.table != nil {
		if i, ok := c.table.find(name); ok {
			c.table.delete(i)
		}
		if c.table.n <= smallChildren/2 {
			c.list = make([]child, 0, c.table.n)
			for n := range c.all {
				c.list = append(c.list, child{n: n})
			}
			c.table = nil
			c.rekey(c.commonPrefix())
			slices.SortFunc(c.list, cmpChildren)
		}
		return
	}
	if !strings.HasPrefix(name, c.prefix) {
		return
	}
	if i, ok := c.search(name); ok {
		c.list = slices.Delete(c.list, i, i+1)
		if len(c.list) == 0 {
			c.list, c.prefix = nil, ""
		}
	}
}

// all yields the children: by name while the set is a list, in table
// order once it is a table.
func (c *childSet) all(yield func(*node) bool) {
	if c.table == nil {
		for _, e := range c.list {
			if !yield(e.n) {
				return
			}
		}
		return
	}
	for _, k := range c.table.slots {
		if k != nil && !yield(k) {
			return
		}
	}
}

// appendTo appends the children to dst, in all's order.
func (c *childSet) appendTo(dst []*node) []*node {
	for k := range c.all {
		dst = append(dst, k)
	}
	return dst
}

// names returns the child names ordered by name. From cacheNamesFrom
// children on, the slice is cached and shared: callers must not modify it.
// The names are substrings of one string built per call (or per cache
// fill), since the nodes hold theirs as bytes.
func (c *childSet) names() []string {
	if c.table == nil && len(c.list) < cacheNamesFrom {
		return c.buildNames()
	}
	if p := c.nameCache.Load(); p != nil {
		return *p
	}
	out := c.buildNames()
	if c.table != nil {
		slices.Sort(out)
	}
	out = slices.Clip(out) // NB: an append by a caller must copy, not write into the cache
	c.nameCache.Store(&out)
	return out
}

// buildNames returns the child names in all's order.
func (c *childSet) buildNames() []string {
	size := 0
	for k := range c.all {
		size += len(k.name())
	}
	var b strings.Builder
	b.Grow(size)
	for k := range c.all {
		b.Write(k.name())
	}
	joined := b.String()
	out := make([]string, 0, c.len())
	off := 0
	for k := range c.all {
		l := len(k.name())
		out = append(out, joined[off:off+l])
		off += l
	}
	return out
}

// nodeTable is a childSet's children once there are more than
// smallChildren: an open-addressed hash table of the child nodes, keyed by
// the names they hold, with linear probing and no tombstones. A slot is one
// pointer plus a tag byte (seven bits of the name's hash, high bit set;
// zero marks an empty slot), so a probe reads a node's name only when its
// tag matches: about one node per lookup instead of two or three. The
// table is kept between a quarter and three quarters full, so a child
// costs 12 to 36 bytes, where a Go map from name to node cost about 40 and
// a copy of the name.
//
// NB: the seed is random, as a Go map's is, so that names chosen by clients
// cannot be made to collide; it decides only the order in which a Walk
// visits the children of a large set, which is no particular order anyway.
type nodeTable struct {
	seed  maphash.Seed
	slots []*node // a power of two of them; nil marks an empty slot
	tags  []uint8 // per slot: 0 if empty, else tagOf the child's name
	n     int     // slots in use
}

// newNodeTable returns an empty table with room for n children.
func newNodeTable(n int) *nodeTable {
	size := 8
	for 3*size < 4*n {
		size *= 2
	}
	return &nodeTable{seed: maphash.MakeSeed(), slots: make([]*node, size), tags: make([]uint8, size)}
}

// tagOf returns the tag of a name whose hash is h.
func tagOf(h uint64) uint8 { return uint8(h>>57) | 0x80 }

// find returns the slot of the child called name and true, or false.
func (t *nodeTable) find(name string) (int, bool) {
	mask := len(t.slots) - 1
	h := maphash.String(t.seed, name)
	tag := tagOf(h)
	for i := int(h & uint64(mask)); ; i = (i + 1) & mask {
		switch t.tags[i] {
		case 0:
			return i, false
		case tag:
			if string(t.slots[i].name()) == name {
				return i, true
			}
		}
	}
}

// insert adds k; the caller made sure no child has its name.
func (t *nodeTable) insert(k *node) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	t.place(k)
	t.n++
}

// place puts k in the first empty slot from its home.
func (t *nodeTable) place(k *node) {
	mask := len(t.slots) - 1
	h := maphash.Bytes(t.seed, k.name())
	i := int(h & uint64(mask))
	for t.tags[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i], t.tags[i] = k, tagOf(h)
}

// delete empties slot i, then moves back each later entry of its probe run
// whose home is at or before the hole, so that every entry stays reachable
// from its home without tombstones.
func (t *nodeTable) delete(i int) {
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.tags[j] != 0; j = (j + 1) & mask {
		h := int(maphash.Bytes(t.seed, t.slots[j].name()) & uint64(mask))
		if (j-h)&mask >= (j-i)&mask {
			t.slots[i], t.tags[i] = t.slots[j], t.tags[j]
			i = j
		}
	}
	t.slots[i], t.tags[i] = nil, 0
	t.n--
	if 4*t.n < len(t.slots) && len(t.slots) > 8 {
		t.resize(len(t.slots) / 2)
	}
}

// resize rehashes the table into size slots.
func (t *nodeTable) resize(size int) {
	old := t.slots
	t.slots, t.tags = make([]*node, size), make([]uint8, size)
	for _, k := range old {
		if k != nil {
			t.place(k)
		}
	}
}

func (n *node) child(name string) *node {
	if k := n.kids(); k != nil {
		return k.get(name)
	}
	return nil
}

// addChild adds k, whose name is name, as n's child.
func (n *node) addChild(name string, k *node) {
	e := n.extend()
	if e.kids == nil {
		e.kids = &childSet{}
	}
	e.kids.add(name, k)
}

func (n *node) removeChild(name string) {
	if k := n.kids(); k != nil {
		k.remove(name)
	}
}

// validName reports whether a path component can be stored: it must not
// contain NUL (see child).
func validName(name string) bool { return strings.IndexByte(name, 0) < 0 }

// splitPath returns the parent path and the last component of a validated
// absolute path, with ZooKeeper's convention that the root's children have
// parent "" (the root's alias).
func splitPath(p string) (parent, name string) {
	i := lastSlash(p)
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// watchPath turns ZooKeeper's "" alias of the root into "/".
func watchPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
