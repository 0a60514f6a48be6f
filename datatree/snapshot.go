package datatree

import (
	"errors"
	"fmt"
	"strings"

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
)

// Walk calls fn for every znode, parents before children and siblings in
// name order, starting with the root as "". It is fuzzy, like ZooKeeper's
// snapshot: it takes the read lock for one node at a time, so Apply runs
// meanwhile, and each node is seen as it was at the moment it was visited.
// A node created after its parent was visited is not seen; one deleted
// before it is visited is skipped. Replaying the txns from the zxid read
// before the walk started (LastZxid) over the result yields the tree. fn
// must not keep n; n.Data and n.ACL are shared and must not be modified.
// Walk stops at and returns fn's first error.
func (t *Tree) Walk(fn func(n *SnapshotNode) error) error {
	t.mu.RLock()
	root := t.mu.root
	t.mu.RUnlock()
	var sn SnapshotNode
	w := walker{t: t, fn: fn, sn: &sn}
	return w.walk(root, "", 0)
}

// walker is one Walk in progress. kids[d] is the reusable copy of the
// child list of the node being walked at depth d: a walk of 1M znodes
// under 1,000 parents copied 32 MB of child lists before they were reused.
type walker struct {
	t    *Tree
	fn   func(n *SnapshotNode) error
	sn   *SnapshotNode
	kids [][]child
}

func (w *walker) walk(n *node, path string, depth int) error {
	t := w.t
	t.mu.RLock()
	if n.deleted() {
		t.mu.RUnlock()
		return nil
	}
	*w.sn = SnapshotNode{Path: path, Data: n.data, ACL: t.mu.acls.get(n.acl), Stat: n.persisted()}
	if depth == len(w.kids) {
		w.kids = append(w.kids, nil)
	}
	kids := w.kids[depth][:0]
	if n.kids != nil {
		kids = n.kids.appendSorted(kids)
	}
	w.kids[depth] = kids
	t.mu.RUnlock()
	if err := w.fn(w.sn); err != nil {
		return err
	}
	for i := range kids {
		if err := w.walk(kids[i].n, path+"/"+kids[i].name, depth+1); err != nil {
			return err
		}
	}
	clear(kids) // NB: drop node references so a finished walk pins nothing
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
		root := t.mu.root
		root.kids = nil
		t.mu.numNodes = 1
		t.fillLocked(root, n)
		t.mu.dataSize = 1 + 2*int64(len(root.data))
		t.mu.restoring = true
		return nil
	}
	if !t.mu.restoring {
		return fmt.Errorf("%w: got %q", ErrRestoreOrder, n.Path)
	}
	parentName, name := splitPath(n.Path)
	parent := t.lookupLocked(parentName)
	if parent == nil {
		return fmt.Errorf("%w: %q", ErrRestoreNoParent, n.Path)
	}
	if parent.child(name) != nil {
		return fmt.Errorf("%w: %q", ErrRestoreDuplicate, n.Path)
	}
	k := &node{}
	t.fillLocked(k, n)
	parent.addChild(strings.Clone(name), k)
	t.mu.numNodes++
	t.mu.dataSize += int64(len(n.Path) + len(k.data))
	t.trackOwnerLocked(n.Path, k.owner)
	return nil
}

func (t *Tree) fillLocked(k *node, n *SnapshotNode) {
	k.data = copyData(n.Data)
	k.acl = t.mu.acls.add(n.ACL)
	s := n.Stat
	k.czxid, k.mzxid, k.ctime, k.mtime = s.Czxid, s.Mzxid, s.Ctime, s.Mtime
	k.version, k.cversion, k.aversion = s.Version, s.Cversion, s.Aversion
	k.owner, k.pzxid = s.EphemeralOwner, s.Pzxid
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
