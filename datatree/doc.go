// Package datatree is the znode tree as a deterministic state machine:
// ZooKeeper's DataTree and WatchManager, with no IO, no goroutines, no clock
// and no randomness (but for the hash seed of very wide child sets, which,
// like a Go map's, decides only the order in which a Walk visits their
// children). Committed txns go in through Apply, in zxid order;
// the result, and the watch events the txn fired, come back out. Time
// comes only from txn headers (ctime/mtime) and from the caller
// (ExpiredContainers).
//
// # Representation
//
// A znode is an 80-byte node struct holding its stat fields as ZooKeeper's
// StatPersisted keeps them, a 4-byte index into an ACL cache, and one
// buffer with its data followed by its own name; not its path. The fields
// only parents and nodes whose ACL was set need (children, cversion, pzxid,
// aversion) hang off a pointer that almost every leaf leaves nil. ACL lists
// are interned and reference counted, as ZooKeeper's
// ReferenceCountedACLCache does, so a million znodes with the same ACL
// share one list. Children hang off their parent in a childSet: a sorted
// slice of 16-byte (key, pointer) entries while there are at most 1024 of
// them, where the key is 8 bytes of the name past the siblings' common
// prefix, so a binary search seldom reads a child's name from the child;
// beyond that, an open-addressed hash table of the children, keyed by the
// names they hold. Leaves have none. There is no global path index: a
// lookup walks the path one component at a time. Paths are built only
// where ZooKeeper keeps them anyway (the ephemeral, container and TTL
// indexes, watch tables, snapshot walks).
//
// Stat rules follow DataTree.java exactly. The persisted cversion counts
// child creations; a client sees cversion*2 - numChildren (DataNode.copyStat),
// that is creations plus deletions. A create sets the parent's cversion to
// the txn's parentCVersion (prep computed it as persisted cversion + 1; -1
// means "current + 1") and its pzxid to the zxid, but only if that moves
// cversion forward. A delete moves the parent's pzxid forward, even if the
// child is already gone. setData takes the version from the txn and setACL
// the aversion. ephemeralOwner holds the session, or ZooKeeper's container
// and TTL encodings (ephemeral.go), which clients see as 0.
//
// Data and ACL slices are replaced on change, never modified in place, so a
// slice returned by a read stays valid and unchanged without a copy; a data
// slice is clipped to its length, so an append to it copies rather than
// writing over the name stored after it. Apply copies the txn's data and
// ACLs and keeps no slice of the txn.
//
// # Locking
//
// One sync.RWMutex guards the tree. Reads take the read lock, so they run in
// parallel with each other; Apply, Restore and SetLastZxid take the write
// lock. The watch tables have their own mutex, taken by a read only when it
// registers a watch, while it still holds the read lock: no txn can apply
// between the read and the registration, so a watch never misses a change
// made after the data it was set on. Apply fires watches under the write
// lock, in ZooKeeper's order, and returns the events; delivering them is
// the caller's business.
//
// Within one txn the events come in the order DataTree raises them (for a
// delete: NodeDeleted to data/exist/persistent watchers of the node, then
// NodeDeleted to its child watchers that did not already get one, then
// NodeChildrenChanged to the parent's child watchers), each trigger
// notifying each watcher at most once, in ascending WatcherID order
// (ZooKeeper uses a hash set there). Persistent-recursive watches get
// NodeCreated, NodeDeleted and NodeDataChanged for the node and all its
// descendants, never NodeChildrenChanged.
//
// # Snapshots and replay
//
// Walk is fuzzy, as ZooKeeper's snapshot is: it holds the read lock for one
// node at a time, so writes continue, and the result mixes states from
// different zxids. Recovery restores the snapshot and replays the txn log
// from the zxid that was current when the walk began. Apply is idempotent
// over such a state in the way DataTree.processTxn is: a create that finds
// its node keeps the tree's node (giving it the txn's ACL) and, for
// OpCreate, still moves the parent's cversion/pzxid forward
// (setCversionPzxid); a create never moves a parent's cversion back; a
// delete of a missing node still moves the parent's pzxid forward;
// setData/setACL overwrite with the txn's values; closeSession ignores
// paths already gone. LastZxid only moves forward.
//
// # Digest
//
// The tree keeps ZooKeeper's DataTree digest (Digest, and Result.Digest
// after each txn): the wrapping sum over every znode but those under
// /zookeeper/ of NodeDigest, the CRC-32 of its path, data and stored stat
// (DigestCalculator). Each change subtracts the digest of the znodes it
// touches as they were and adds them as they are, as NodeHashMapImpl's
// preChange/postChange do, so the sum is a function of the tree alone:
// the same for every member that applied the same txns, whatever order
// its snapshot was written or restored in.
//
// # Quotas
//
// Paths with a /zookeeper/quota/<path>/zookeeper_limits node are indexed
// (ZooKeeper's PathTrie); every create, delete and setData under such a
// path updates the count and bytes in the nearest one's zookeeper_stats
// node, in StatsTrack's text format. CheckQuota answers prep's hard-limit
// question.
package datatree
