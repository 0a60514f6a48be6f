package datatree

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gokeeper/gokeeper/jute"
)

// WatcherID identifies one client connection's watches; 0 means "set no watch".
type WatcherID int64

// Event is one watch notification for one watcher.
type Event struct {
	Watcher WatcherID
	Type    jute.EventType
	Path    string
	Zxid    int64 // zxid of the txn that fired it (-1 for events not caused by a txn)
	// ACL is, for an event a txn fired, the ACL of the znode at Path as
	// the txn found it (a deleted znode's, a created one's; the parent's
	// for NodeChildrenChanged): the server tells only watchers that may
	// READ it, as ZooKeeper 3.9.2 does (CVE-2024-23944). Nil for other
	// events. NB: the list is shared and must not be changed.
	ACL []jute.ACL
}

// OpResult is the outcome of one op of a multi.
type OpResult struct {
	Type jute.OpCode // the sub-txn's type (jute.OpError when the op failed)
	Err  jute.Code
	Path string    // created path for creates
	Stat jute.Stat // for create2 / setData results
}

// Result is what Apply returns.
type Result struct {
	Err    jute.Code  // CodeOK, or the error (from an ErrorTxn, or an apply-time failure)
	Path   string     // the created path (creates)
	Stat   jute.Stat  // node stat after the change (create, setData, setACL)
	Data   []byte     // the new config (reconfig)
	Multi  []OpResult // one per op for OpMulti
	Events []Event    // notifications to deliver, in ZooKeeper's order
	// Digest is the tree's digest once the txn is applied (Tree.Digest).
	Digest int64
}

// NodeInfo is what request preparation needs to know about a znode.
type NodeInfo struct {
	// Stat is the stat a client sees.
	Stat jute.Stat
	// ACL is the node's ACL list; shared, never modified.
	ACL []jute.ACL
	// Data is the node's data; shared, never modified.
	Data []byte
	// PersistedCversion is the cversion ZooKeeper stores (the number of
	// child creations), which CreateTxn.ParentCVersion counts on: prep
	// puts PersistedCversion+1 there. Stat.Cversion is derived from it
	// (PersistedCversion*2 - NumChildren).
	PersistedCversion int32
	// EphemeralOwner is the stored ephemeralOwner, container and TTL
	// encodings included (Stat.EphemeralOwner shows 0 for those).
	EphemeralOwner int64
}

// Options configures a new Tree.
type Options struct {
	// ConfigData, when not nil, becomes the data of /zookeeper/config, as
	// ZooKeeper's ZKDatabase.initConfigInZKDatabase sets it in quorum mode:
	// with dataVersion -1, mzxid ConfigZxid and mtime ConfigTime.
	ConfigData []byte
	// ConfigZxid is the version (zxid) of the dynamic configuration.
	ConfigZxid int64
	// ConfigTime is the mtime in milliseconds to stamp on /zookeeper/config.
	ConfigTime int64
}

// Well-known paths.
const (
	procPath   = "/zookeeper"
	quotaPath  = "/zookeeper/quota"
	configPath = "/zookeeper/config"
	limitNode  = "zookeeper_limits"
	statNode   = "zookeeper_stats"
)

// Tree is the znode tree. See the package documentation for its
// representation and locking.
type Tree struct {
	mu struct {
		sync.RWMutex
		root     *node
		acls     *aclCache
		numNodes int   // znodes, root included
		dataSize int64 // ZooKeeper's nodeDataSize: path length + data length
		// ephemerals maps a session to the paths of its ephemeral znodes.
		ephemerals map[int64]map[string]struct{}
		containers map[string]struct{}
		ttls       map[string]struct{}
		// quotas holds the paths with a zookeeper_limits node (ZooKeeper's
		// pTrie).
		quotas map[string]struct{}
		// restoring is set from Restore of the root until SetLastZxid.
		restoring bool
		// digest is the tree's digest (Digest).
		digest   int64
		digester Digester
	}
	lastZxid atomic.Int64

	// watchMu guards the watch managers. Reads take it (under mu's read
	// lock) only to register a watch; Apply takes it under mu's write lock.
	watchMu      sync.Mutex
	dataWatches  *watchManager
	childWatches *watchManager
}

// New returns a tree holding only ZooKeeper's system nodes: the root,
// /zookeeper, /zookeeper/quota and /zookeeper/config (ACL READ_ACL_UNSAFE,
// aversion -1), all with zero stats, as DataTree's constructor builds them.
func New(opts Options) *Tree {
	t := &Tree{dataWatches: newWatchManager(), childWatches: newWatchManager()}
	t.resetLocked()
	if opts.ConfigData != nil {
		cfg := t.lookupLocked(configPath)
		t.mu.dataSize += int64(len(opts.ConfigData)) - int64(len(cfg.buf))
		cfg.setData(opts.ConfigData)
		cfg.version = -1
		cfg.mzxid = opts.ConfigZxid
		cfg.mtime = opts.ConfigTime
	}
	return t
}

// resetLocked empties the tree down to the system nodes.
func (t *Tree) resetLocked() {
	t.mu.acls = newACLCache()
	t.mu.ephemerals = make(map[int64]map[string]struct{})
	t.mu.containers = make(map[string]struct{})
	t.mu.ttls = make(map[string]struct{})
	t.mu.quotas = make(map[string]struct{})
	empty := []byte{}
	root := newNode("", empty)
	proc := newNode("zookeeper", empty)
	quota := newNode("quota", empty)
	config := newNode("config", empty)
	config.acl = t.mu.acls.add(jute.ReadACLUnsafe())
	config.extend().aversion = -1
	root.addChild("zookeeper", proc)
	proc.addChild("quota", quota)
	proc.addChild("config", config)
	t.mu.root = root
	t.mu.numNodes = 4
	t.mu.digest = t.digestLocked(root, "") + t.digestLocked(proc, procPath)
	// ZooKeeper counts the root twice ("" and its alias "/").
	t.mu.dataSize = int64(len("") + len("/") + len(procPath) + len(quotaPath) + len(configPath))
}

// lookupLocked returns the node at a validated path ("/" or "" for the
// root), or nil.
func (t *Tree) lookupLocked(path string) *node {
	n := t.mu.root
	if path == "/" || path == "" {
		return n
	}
	i := 1
	for n != nil {
		j := strings.IndexByte(path[i:], '/')
		if j < 0 {
			return n.child(path[i:])
		}
		n = n.child(path[i : i+j])
		i += j + 1
	}
	return nil
}

// GetData returns the node's data and stat, and leaves a data watch for w
// if w is not 0 and the node exists.
func (t *Tree) GetData(path string, w WatcherID) ([]byte, jute.Stat, jute.Code) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookupLocked(path)
	if n == nil {
		return nil, jute.Stat{}, jute.CodeNoNode
	}
	if w != 0 {
		t.addWatch(t.dataWatches, path, w, modeStandard)
	}
	return n.data(), n.stat(), jute.CodeOK
}

// Exists returns the node's stat. A watch for w (if not 0) is left whether
// or not the node exists: on a missing node it fires NodeCreated.
func (t *Tree) Exists(path string, w WatcherID) (jute.Stat, jute.Code) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if w != 0 {
		t.addWatch(t.dataWatches, path, w, modeStandard)
	}
	n := t.lookupLocked(path)
	if n == nil {
		return jute.Stat{}, jute.CodeNoNode
	}
	return n.stat(), jute.CodeOK
}

// GetChildren returns the names of the node's children, sorted, and its
// stat, and leaves a child watch for w if w is not 0 and the node exists.
// The names slice may be shared with other callers: do not modify it.
func (t *Tree) GetChildren(path string, w WatcherID) ([]string, jute.Stat, jute.Code) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookupLocked(path)
	if n == nil {
		return nil, jute.Stat{}, jute.CodeNoNode
	}
	if w != 0 {
		t.addWatch(t.childWatches, path, w, modeStandard)
	}
	kids := n.kids()
	if kids == nil {
		return []string{}, n.stat(), jute.CodeOK
	}
	return kids.names(), n.stat(), jute.CodeOK
}

// GetACL returns the node's ACL list and stat.
func (t *Tree) GetACL(path string) ([]jute.ACL, jute.Stat, jute.Code) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookupLocked(path)
	if n == nil {
		return nil, jute.Stat{}, jute.CodeNoNode
	}
	return t.mu.acls.get(n.acl), n.stat(), jute.CodeOK
}

// AllChildrenNumber returns the number of descendants of path, as
// DataTree.getAllChildrenNumber counts them (for "/" that includes the
// /zookeeper subtree).
func (t *Tree) AllChildrenNumber(path string) (int32, jute.Code) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookupLocked(path)
	if n == nil {
		return 0, jute.CodeNoNode
	}
	if n == t.mu.root {
		return int32(t.mu.numNodes - 1), jute.CodeOK
	}
	return int32(countDescendants(n)), jute.CodeOK
}

func countDescendants(n *node) int {
	kids := n.kids()
	if kids == nil {
		return 0
	}
	c := 0
	for k := range kids.all {
		c += 1 + countDescendants(k)
	}
	return c
}

// Ephemerals returns the sorted paths of the ephemeral znodes owned by
// session.
func (t *Tree) Ephemerals(session int64) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	set := t.mu.ephemerals[session]
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Node returns what request preparation needs about the node at path.
func (t *Tree) Node(path string) (NodeInfo, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookupLocked(path)
	if n == nil {
		return NodeInfo{}, false
	}
	return NodeInfo{
		Stat: n.stat(), ACL: t.mu.acls.get(n.acl), Data: n.data(),
		PersistedCversion: n.cversion(), EphemeralOwner: n.owner,
	}, true
}

// LastZxid returns the zxid of the last applied txn.
func (t *Tree) LastZxid() int64 { return t.lastZxid.Load() }

// NodeCount returns ZooKeeper's znode count (zk_znode_count), which counts
// the root twice, under "" and its alias "/": a fresh tree has 5.
func (t *Tree) NodeCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.mu.numNodes + 1
}

// ApproximateDataSize returns ZooKeeper's zk_approximate_data_size: the sum
// over znodes of path length plus data length, kept incrementally as
// DataTree's nodeDataSize is (quota stat rewrites are not counted, as in
// ZooKeeper). A fresh tree has 44.
func (t *Tree) ApproximateDataSize() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.mu.dataSize
}

// EphemeralCount returns the number of ephemeral znodes of all sessions.
func (t *Tree) EphemeralCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c := 0
	for _, s := range t.mu.ephemerals {
		c += len(s)
	}
	return c
}

// ACLCount returns the number of distinct ACL lists held.
func (t *Tree) ACLCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.mu.acls.size()
}
