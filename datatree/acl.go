package datatree

import (
	"github.com/gokeeper/gokeeper/jute"
)

// aclCache interns ACL lists, as ZooKeeper's ReferenceCountedACLCache does:
// every znode holds a small index into the cache instead of its own list,
// and a list is dropped when the last znode using it goes. Index 0 is
// reserved for OPEN_ACL_UNSAFE, which is never dropped. The cache is
// guarded by Tree.mu (written under the write lock, read under either).
type aclCache struct {
	byKey map[string]uint32
	lists [][]jute.ACL
	refs  []int64
	keys  []string
	free  []uint32
	// scratch is where add encodes the key it looks up, so that finding a
	// list already held allocates nothing.
	scratch []byte
}

func newACLCache() *aclCache {
	c := &aclCache{byKey: make(map[string]uint32)}
	open := jute.OpenACLUnsafe()
	k := aclKey(open)
	c.byKey[k] = 0
	c.lists = append(c.lists, open)
	c.refs = append(c.refs, 1) // pinned
	c.keys = append(c.keys, k)
	return c
}

// aclKey is the jute encoding of the list, a unique key for its content.
func aclKey(acl []jute.ACL) string { return string(appendACLKey(nil, acl)) }

// appendACLKey appends acl's key to b.
func appendACLKey(b []byte, acl []jute.ACL) []byte {
	b = jute.AppendVectorLen(b, len(acl))
	for i := range acl {
		b = acl[i].Encode(b)
	}
	return b
}

// add returns the index of acl's list, taking one reference to it. The
// cache keeps its own copy, so the caller may reuse acl.
func (c *aclCache) add(acl []jute.ACL) uint32 {
	c.scratch = appendACLKey(c.scratch[:0], acl)
	if i, ok := c.byKey[string(c.scratch)]; ok {
		c.refs[i]++
		return i
	}
	k := string(c.scratch)
	cp := make([]jute.ACL, len(acl))
	copy(cp, acl)
	var i uint32
	if n := len(c.free); n > 0 {
		i = c.free[n-1]
		c.free = c.free[:n-1]
		c.lists[i], c.refs[i], c.keys[i] = cp, 1, k
	} else {
		i = uint32(len(c.lists))
		c.lists = append(c.lists, cp)
		c.refs = append(c.refs, 1)
		c.keys = append(c.keys, k)
	}
	c.byKey[k] = i
	return i
}

// release drops one reference to list i.
func (c *aclCache) release(i uint32) {
	if i == 0 {
		return
	}
	c.refs[i]--
	if c.refs[i] > 0 {
		return
	}
	delete(c.byKey, c.keys[i])
	c.lists[i], c.keys[i] = nil, ""
	c.free = append(c.free, i)
}

// get returns list i. The slice is shared and never modified.
func (c *aclCache) get(i uint32) []jute.ACL { return c.lists[i] }

// size is the number of distinct lists held.
func (c *aclCache) size() int { return len(c.byKey) }
