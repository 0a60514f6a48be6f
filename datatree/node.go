package datatree

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gokeeper/gokeeper/jute"
)

// node is one znode. It stores neither its path nor its name: its parent's
// childSet holds the name, and the path is the chain of names from the
// root, which every lookup walks anyway. Its ACL is
// an index into the tree's aclCache. Its stat fields are ZooKeeper's
// StatPersisted: cversion counts child creations, and the cversion a client
// sees is derived (see stat). Fields are written only under Tree.mu's write
// lock; data is replaced, never modified in place, so a slice handed to a
// reader stays valid and unchanged.
type node struct {
	data  []byte
	kids  *childSet // nil while the node has never had children
	czxid int64
	mzxid int64
	ctime int64
	mtime int64
	owner int64 // ephemeralOwner, as stored (container/TTL encodings included)
	pzxid int64

	version  int32
	cversion int32 // number of child creations (ZooKeeper's persisted cversion)
	aversion int32
	// acl is the node's index in the aclCache, or deletedACL once the node
	// has left the tree (so a fuzzy Walk still holding it skips it). The
	// struct is exactly 96 bytes, one of Go's size classes.
	acl uint32
}

// deletedACL marks a node that has left the tree.
const deletedACL = ^uint32(0)

func (n *node) deleted() bool { return n.acl == deletedACL }

func (n *node) numChildren() int32 {
	if n.kids == nil {
		return 0
	}
	return int32(n.kids.len())
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
		Cversion:       n.cversion*2 - nc,
		Aversion:       n.aversion,
		EphemeralOwner: clientEphemeralOwner(n.owner),
		DataLength:     int32(len(n.data)),
		NumChildren:    nc,
		Pzxid:          n.pzxid,
	}
}

// persisted returns the stat as ZooKeeper stores it in snapshots.
func (n *node) persisted() jute.StatPersisted {
	return jute.StatPersisted{
		Czxid: n.czxid, Mzxid: n.mzxid, Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: n.cversion, Aversion: n.aversion,
		EphemeralOwner: n.owner, Pzxid: n.pzxid,
	}
}

// smallChildren is the largest child count kept in a sorted slice; beyond
// it a childSet switches to a map. A slice entry costs 32 bytes against
// about 40 for a map entry, and an insert moves at most 32 KiB; very wide
// parents (big queues, flat registries) get O(1) insert and delete from the
// map.
const smallChildren = 1024

// child is one entry of a childSet: the child's name (a node does not store
// its own) and the node. key holds the name's first 8 bytes big-endian,
// zero-padded (names never contain NUL), so comparing keys orders names as
// comparing the strings does; a binary search touches a name's bytes only
// when the keys tie, so most lookups never leave the slice.
type child struct {
	key  uint64
	name string
	n    *node
}

// nameKey returns the key of a child name.
func nameKey(name string) uint64 {
	var k uint64
	for i := 0; i < 8; i++ {
		k <<= 8
		if i < len(name) {
			k |= uint64(name[i])
		}
	}
	return k
}

// cacheNamesFrom is the child count from which a listed childSet keeps its
// sorted names until the next change: a getChildren of 1,000 children
// copied 16 KiB per call, one of 10,000 sorted them (2.5ms).
const cacheNamesFrom = 64

// childSet holds a node's children, by name.
type childSet struct {
	list []child // sorted by name; used while m is nil
	m    map[string]*node
	// nameCache holds the sorted child names of a set of at least
	// cacheNamesFrom children once listed. Readers (under the tree's read
	// lock) fill it; add and remove (under the write lock) clear it.
	// NB: atomic because several readers may fill it at once.
	nameCache atomic.Pointer[[]string]
}

func (c *childSet) len() int {
	if c.m != nil {
		return len(c.m)
	}
	return len(c.list)
}

func cmpChildren(a, b child) int {
	if a.key != b.key {
		if a.key < b.key {
			return -1
		}
		return 1
	}
	return strings.Compare(a.name, b.name)
}

// search returns where name is or would be in the list.
func (c *childSet) search(name string) (int, bool) {
	k := nameKey(name)
	lo, hi := 0, len(c.list)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e := &c.list[m]
		if e.key < k || (e.key == k && e.name < name) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(c.list) && c.list[lo].key == k && c.list[lo].name == name
}

func (c *childSet) get(name string) *node {
	if c.m != nil {
		return c.m[name]
	}
	if i, ok := c.search(name); ok {
		return c.list[i].n
	}
	return nil
}

// add inserts n as name; the caller made sure no child has that name.
func (c *childSet) add(name string, n *node) {
	c.nameCache.Store(nil)
	if c.m != nil {
		c.m[name] = n
		return
	}
	if len(c.list) >= smallChildren {
		c.m = make(map[string]*node, 2*smallChildren)
		for _, k := range c.list {
			c.m[k.name] = k.n
		}
		c.list = nil
		c.m[name] = n
		return
	}
	i, _ := c.search(name)
	c.list = slices.Insert(c.list, i, child{nameKey(name), name, n})
}

// remove deletes the child called name, if any.
func (c *childSet) remove(name string) {
	c.nameCache.Store(nil)
	if c.m != nil {
		delete(c.m, name)
		if len(c.m) <= smallChildren/2 {
			c.list = c.sorted()
			c.m = nil
		}
		return
	}
	if i, ok := c.search(name); ok {
		c.list = slices.Delete(c.list, i, i+1)
		if len(c.list) == 0 {
			c.list = nil
		}
	}
}

// sorted returns the children ordered by name in a new slice.
func (c *childSet) sorted() []child {
	out := c.appendTo(make([]child, 0, c.len()))
	if c.m != nil {
		slices.SortFunc(out, cmpChildren)
	}
	return out
}

// appendTo appends the children to dst: by name while the set is a list,
// in map order once it is a map.
func (c *childSet) appendTo(dst []child) []child {
	if c.m == nil {
		return append(dst, c.list...)
	}
	for name, k := range c.m {
		dst = append(dst, child{nameKey(name), name, k})
	}
	return dst
}

// names returns the child names ordered by name. From cacheNamesFrom
// children on, the slice is cached and shared: callers must not modify it.
func (c *childSet) names() []string {
	if c.m == nil && len(c.list) < cacheNamesFrom {
		out := make([]string, 0, len(c.list))
		for _, k := range c.list {
			out = append(out, k.name)
		}
		return out
	}
	if p := c.nameCache.Load(); p != nil {
		return *p
	}
	out := make([]string, 0, c.len())
	if c.m == nil {
		for _, k := range c.list {
			out = append(out, k.name)
		}
	} else {
		for name := range c.m {
			out = append(out, name)
		}
		slices.Sort(out)
	}
	out = slices.Clip(out) // NB: an append by a caller must copy, not write into the cache
	c.nameCache.Store(&out)
	return out
}

func (n *node) child(name string) *node {
	if n.kids == nil {
		return nil
	}
	return n.kids.get(name)
}

func (n *node) addChild(name string, k *node) {
	if n.kids == nil {
		n.kids = &childSet{}
	}
	n.kids.add(name, k)
}

func (n *node) removeChild(name string) {
	if n.kids != nil {
		n.kids.remove(name)
	}
}

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
