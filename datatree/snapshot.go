package datatree

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gokeeper/gokeeper/jute"
)

// SnapshotNode is one znode as a snapshot stores it. Path is "" for the
// root, as ZooKeeper serializes it.
type SnapshotNode struct {
	Path string
	Data []byte
	ACL  []jute.ACL
	Stat jute.StatPersisted
}

// Errors of Restore.
var (
	// ErrRestoreOrder is returned when a snapshot does not start with the
	// root ("").
	ErrRestoreOrder = errors.New("datatree: snapshot must start with the root")
	// ErrRestoreNoParent is returned for a node whose parent was not
	// restored before it (ZooKeeper: "Invalid Datatree").
	ErrRestoreNoParent = errors.New("datatree: snapshot node before its parent")
	// ErrRestoreDuplicate is returned for a path restored twice.
	ErrRestoreDuplicate = errors.New("datatree: snapshot node restored twice")
	// ErrRestoreBadName is returned for a path with a NUL byte, which
	// ZooKeeper never lets into a path.
	ErrRestoreBadName = errors.New("datatree: snapshot path contains NUL")
)

// Walk calls fn for every znode, parents before children, starting with
// the root as "". It is fuzzy, like ZooKeeper's snapshot: it holds the read
// lock for a few nodes at a time (walkBatch), so Apply runs meanwhile, and
// each node is seen as it was at the moment it was visited. A node created
// after its parent was visited is not seen; one deleted before it is
// visited is skipped. Replaying the txns from the zxid read before the walk
// started (LastZxid) over the result yields the tree. Siblings come in the
// order the tree keeps them: by name for small child sets, in no
// particular order for large ones (a snapshot does not need an order, and
// sorting 100k children per snapshot cost more than writing them).
//
// acls, if not nil, is called once before the first node with the ACL
// lists in use when the walk began; each node's ACL is then one of these
// slices, or nil when its ACL was set (by a create or setACL) after the
// walk began: replaying that txn sets it again. Without acls each node's
// ACL is its current one. fn must not keep n; n.Data and n.ACL are shared
// and must not be modified. Walk stops at and returns the first error of
// acls or fn.
func (t *Tree) Walk(acls func([][]jute.ACL) error, fn func(n *SnapshotNode) error) error {
	w := walker{fixedACLs: acls != nil}
	t.mu.RLock()
	if w.fixedACLs {
		c := t.mu.acls
		w.aclKeys = slices.Clone(c.keys)
		w.aclLists = slices.Clone(c.lists)
	}
	root := t.mu.root
	w.visitLocked(t, root, "")
	t.mu.RUnlock()
	if w.fixedACLs {
		inUse := make([][]jute.ACL, 0, len(w.aclLists))
		for _, l := range w.aclLists {
			if l != nil {
				inUse = append(inUse, l)
			}
		}
		if err := acls(inUse); err != nil {
			return err
		}
	}
	for {
		if err := w.emit(fn); err != nil {
			return err
		}
		if w.depth == 0 {
			return nil
		}
		t.mu.RLock()
		w.fillLocked(t)
		t.mu.RUnlock()
	}
}

// walkBatch is how many nodes a Walk copies under one hold of the read
// lock; fn runs on them after the lock is released.
const walkBatch = 64

// walker is one Walk in progress: a depth-first stack of child lists still
// to visit, and the batch of nodes visited but not yet given to fn.
type walker struct {
	fixedACLs bool
	aclKeys   []string     // the tree's ACL keys when the walk began
	aclLists  [][]jute.ACL // the tree's ACL lists when the walk began
	stack     []walkFrame
	depth     int // frames in use; stack keeps the rest for their capacity
	batch     []SnapshotNode
}

// walkFrame is a node whose children are being visited: its path and a
// copy of its child list, of which kids[next:] are still to visit.
type walkFrame struct {
	path string
	kids []*node
	next int
}

// fillLocked visits nodes until the batch is full or the walk is done.
func (w *walker) fillLocked(t *Tree) {
	for len(w.batch) < walkBatch && w.depth > 0 {
		f := &w.stack[w.depth-1]
		if f.next == len(f.kids) {
			clear(f.kids) // NB: drop node references so a finished walk pins nothing
			w.depth--
			continue
		}
		k := f.kids[f.next]
		f.next++
		if !k.deleted() {
			w.visitLocked(t, k, f.path+"/"+string(k.name()))
		}
	}
}

// visitLocked adds n to the batch and, if it has children, pushes them.
func (w *walker) visitLocked(t *Tree, n *node, path string) {
	acl := t.mu.acls.get(n.acl)
	if w.fixedACLs {
		acl = nil
		if i := int(n.acl); i < len(w.aclKeys) && w.aclKeys[i] == t.mu.acls.keys[i] {
			acl = w.aclLists[i]
		}
	}
	w.batch = append(w.batch, SnapshotNode{Path: path, Data: n.data(), ACL: acl, Stat: n.persisted()})
	kids := n.kids()
	if kids == nil || kids.len() == 0 {
		return
	}
	if w.depth == len(w.stack) {
		w.stack = append(w.stack, walkFrame{})
	}
	f := &w.stack[w.depth]
	f.path, f.kids, f.next = path, kids.appendTo(f.kids[:0]), 0
	w.depth++
}

// emit gives the batch to fn, in order.
func (w *walker) emit(fn func(n *SnapshotNode) error) error {
	for i := range w.batch {
		if err := fn(&w.batch[i]); err != nil {
			return err
		}
	}
	clear(w.batch)
	w.batch = w.batch[:0]
	return nil
}

// Restore adds one snapshot node while rebuilding a tree, in Walk's order:
// the root ("") first, which empties the tree, then each node after its
// parent. Call SetLastZxid when done; it rebuilds the quota stats as
// ZooKeeper does after loading a snapshot. Restore takes its own copy of
// n's data and ACL.
func (t *Tree) Restore(n *SnapshotNode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n.Path == "" || n.Path == "/" {
		t.resetLocked()
		root := newNode("", n.Data)
		t.fillLocked(root, n)
		t.mu.root = root
		t.mu.numNodes = 1
		t.mu.dataSize = 1 + 2*int64(len(root.buf))
		t.mu.digest = t.digestLocked(root, "")
		t.mu.restoring = true
		return nil
	}
	if !t.mu.restoring {
		return fmt.Errorf("%w: got %q", ErrRestoreOrder, n.Path)
	}
	parentName, name := splitPath(n.Path)
	if !validName(name) {
		return fmt.Errorf("%w: %q", ErrRestoreBadName, n.Path)
	}
	parent := t.lookupLocked(parentName)
	if parent == nil {
		return fmt.Errorf("%w: %q", ErrRestoreNoParent, n.Path)
	}
	if parent.child(name) != nil {
		return fmt.Errorf("%w: %q", ErrRestoreDuplicate, n.Path)
	}
	k := newNode(name, n.Data)
	t.fillLocked(k, n)
	parent.addChild(name, k)
	t.mu.numNodes++
	t.mu.dataSize += int64(len(n.Path) + len(k.buf))
	t.mu.digest += t.digestLocked(k, n.Path)
	t.trackOwnerLocked(n.Path, k.owner)
	return nil
}

// fillLocked gives k, which already holds n's data, n's ACL and stat.
func (t *Tree) fillLocked(k *node, n *SnapshotNode) {
	k.acl = t.mu.acls.add(n.ACL)
	k.setPersisted(&n.Stat)
}

// SetLastZxid sets the zxid of the last applied txn, after a snapshot was
// restored. If a Restore is in progress it ends it: the quota index and
// zookeeper_stats nodes are rebuilt from the restored zookeeper_limits
// nodes (DataTree.setupQuota).
func (t *Tree) SetLastZxid(zxid int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.restoring {
		t.setupQuotaLocked()
		t.mu.restoring = false
	}
	t.lastZxid.Store(zxid)
}
