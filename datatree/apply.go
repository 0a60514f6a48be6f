package datatree

import (
	"slices"

	"github.com/gokeeper/gokeeper/jute"
)

// maxSubTxnBuffer bounds buffers decoded from a multi's sub-txns; the
// whole multi was already bounded when it was read, so this only guards
// against a corrupt length.
const maxSubTxnBuffer = 1 << 30

// applier carries one Apply's event list.
type applier struct {
	t      *Tree
	events []Event
}

// Apply applies one committed txn. hdr.Type selects the body's concrete
// type, exactly jute.NewTxnRecord(hdr.Type). hdr.ClientId is the session
// (ephemeral owner), hdr.Time the wall time in milliseconds for ctime and
// mtime, hdr.Zxid the zxid. Apply is safe to replay over a fuzzy snapshot:
// a txn whose effect is already in the tree leaves the same final state, as
// ZooKeeper's DataTree.processTxn does, including the parent
// cversion/pzxid fix-up for a create that finds its node already there.
//
// Apply keeps none of the txn's slices: the tree stores copies of the data
// (next to the node's name, in one allocation) and of the ACL lists, so
// the caller may reuse the txn afterwards.
func (t *Tree) Apply(hdr *jute.TxnHeader, body jute.Record) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := applier{t: t}
	r := a.process(hdr, body)
	r.Events = a.events
	r.Digest = t.mu.digest
	if hdr.Zxid > t.lastZxid.Load() {
		t.lastZxid.Store(hdr.Zxid)
	}
	return r
}

// SetConfig sets /zookeeper/config to a membership activated without a
// txn of its own (ZooKeeper's initConfigInZKDatabase, as a learner that
// learned it from NEWLEADER does): data, dataVersion -1, mzxid the
// config's version, mtime; it fires the node's data watches and leaves
// the tree's last zxid alone.
func (t *Tree) SetConfig(data []byte, version, mtime int64) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := applier{t: t}
	a.setData(configPath, data, -1, version, mtime)
	return a.events
}

// process is DataTree.processTxn for one txn or sub-txn.
func (a *applier) process(hdr *jute.TxnHeader, body jute.Record) Result {
	var r Result
	op := jute.OpCode(hdr.Type)
	switch op {
	case jute.OpCreate, jute.OpCreate2:
		txn, ok := body.(*jute.CreateTxn)
		if !ok {
			return badBody(op)
		}
		r.Path = txn.Path
		owner := int64(0)
		if txn.Ephemeral {
			owner = hdr.ClientId
		}
		r.Stat, r.Err = a.create(txn.Path, txn.Data, txn.Acl, owner, txn.ParentCVersion, hdr.Zxid, hdr.Time)
		if op == jute.OpCreate && r.Err == jute.CodeNodeExists {
			// NB: replaying a create over a fuzzy snapshot can find the node
			// already there (deleted and re-created by another session after
			// its parent was serialized); ZooKeeper then still moves the
			// parent's cversion and pzxid forward. Only for OpCreate, as in
			// ZooKeeper.
			parent, _ := splitPath(txn.Path)
			r.Err = a.setCversionPzxid(parent, txn.ParentCVersion, hdr.Zxid)
			if r.Err == jute.CodeOK {
				r.Err = jute.CodeNodeExists
			}
		}
	case jute.OpCreateTTL:
		txn, ok := body.(*jute.CreateTTLTxn)
		if !ok {
			return badBody(op)
		}
		r.Path = txn.Path
		owner, err := TTLEphemeralOwner(txn.Ttl)
		if err != nil {
			r.Err = jute.CodeBadArguments
			break
		}
		r.Stat, r.Err = a.create(txn.Path, txn.Data, txn.Acl, owner, txn.ParentCVersion, hdr.Zxid, hdr.Time)
	case jute.OpCreateContainer:
		txn, ok := body.(*jute.CreateContainerTxn)
		if !ok {
			return badBody(op)
		}
		r.Path = txn.Path
		r.Stat, r.Err = a.create(txn.Path, txn.Data, txn.Acl, ContainerEphemeralOwner, txn.ParentCVersion, hdr.Zxid, hdr.Time)
	case jute.OpDelete, jute.OpDeleteContainer:
		txn, ok := body.(*jute.DeleteTxn)
		if !ok {
			return badBody(op)
		}
		r.Path = txn.Path
		r.Err = a.delete(txn.Path, hdr.Zxid)
	case jute.OpSetData, jute.OpReconfig:
		txn, ok := body.(*jute.SetDataTxn)
		if !ok {
			return badBody(op)
		}
		r.Path = txn.Path
		r.Stat, r.Err = a.setData(txn.Path, txn.Data, txn.Version, hdr.Zxid, hdr.Time)
		if op == jute.OpReconfig {
			r.Data = txn.Data
		}
	case jute.OpSetACL:
		txn, ok := body.(*jute.SetACLTxn)
		if !ok {
			return badBody(op)
		}
		r.Path = txn.Path
		r.Stat, r.Err = a.setACL(txn.Path, txn.Acl, txn.Version)
	case jute.OpCloseSession:
		var paths []string
		if txn, ok := body.(*jute.CloseSessionTxn); ok && txn != nil {
			paths = txn.Paths2Delete
		}
		a.killSession(hdr.ClientId, hdr.Zxid, paths)
	case jute.OpError:
		txn, ok := body.(*jute.ErrorTxn)
		if !ok {
			return badBody(op)
		}
		r.Err = jute.Code(txn.Err)
	case jute.OpCheck:
		txn, ok := body.(*jute.CheckVersionTxn)
		if !ok {
			return badBody(op)
		}
		r.Path = txn.Path
	case jute.OpMulti:
		txn, ok := body.(*jute.MultiTxn)
		if !ok {
			return badBody(op)
		}
		r.Multi, r.Err = a.multi(hdr, txn)
	case jute.OpCreateSession:
		// Sessions live in the server's session tracker; the tree has
		// nothing to change.
	default:
		r.Err = jute.CodeUnimplemented
	}
	return r
}

// badBody is the result of a txn whose body is not the record
// jute.NewTxnRecord gives for its type: a caller bug, reported as
// CodeMarshallingError with the tree unchanged rather than a panic.
func badBody(jute.OpCode) Result {
	return Result{Err: jute.CodeMarshallingError}
}

// multi applies a MultiTxn's sub-txns in order, as DataTree.processTxn
// does: if any sub-txn is an ErrorTxn (prep found the multi would fail)
// nothing is applied, the ops before the first error report CodeOK and the
// ops after it CodeRuntimeInconsistency, as error results. The multi's
// error is the first sub-error.
func (a *applier) multi(hdr *jute.TxnHeader, mt *jute.MultiTxn) ([]OpResult, jute.Code) {
	failed := slices.ContainsFunc(mt.Txns, func(s jute.Txn) bool { return jute.OpCode(s.Type) == jute.OpError })
	results := make([]OpResult, 0, len(mt.Txns))
	var err jute.Code
	postFailed := false
	for i := range mt.Txns {
		sub := &mt.Txns[i]
		typ := jute.OpCode(sub.Type)
		switch typ {
		case jute.OpCreate, jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer,
			jute.OpDelete, jute.OpDeleteContainer, jute.OpSetData, jute.OpCheck:
		case jute.OpError:
			postFailed = true
		default:
			// ZooKeeper stops at an unknown sub-txn type (IOException).
			if err == jute.CodeOK {
				err = jute.CodeMarshallingError
			}
			return results, err
		}
		var rec jute.Record
		if failed && typ != jute.OpError {
			code := jute.CodeOK
			if postFailed {
				code = jute.CodeRuntimeInconsistency
			}
			typ = jute.OpError
			rec = &jute.ErrorTxn{Err: int32(code)}
		} else {
			rec = jute.NewTxnRecord(typ)
			if e := jute.Unmarshal(sub.Data, rec, maxSubTxnBuffer); e != nil {
				if err == jute.CodeOK {
					err = jute.CodeMarshallingError
				}
				return results, err
			}
		}
		subHdr := jute.TxnHeader{ClientId: hdr.ClientId, Cxid: hdr.Cxid, Zxid: hdr.Zxid, Time: hdr.Time, Type: int32(typ)}
		sr := a.process(&subHdr, rec)
		res := OpResult{Type: typ, Err: sr.Err, Path: sr.Path, Stat: sr.Stat}
		if sr.Err != jute.CodeOK {
			res.Type = jute.OpError
		}
		results = append(results, res)
		if sr.Err != jute.CodeOK && err == jute.CodeOK {
			err = sr.Err
		}
	}
	return results, err
}

// create is DataTree.createNode.
func (a *applier) create(path string, data []byte, acl []jute.ACL, owner int64, parentCVersion int32, zxid, time int64) (jute.Stat, jute.Code) {
	t := a.t
	parentName, childName := splitPath(path)
	if !validName(childName) {
		return jute.Stat{}, jute.CodeBadArguments
	}
	parent := t.lookupLocked(parentName)
	if parent == nil {
		return jute.Stat{}, jute.CodeNoNode
	}
	aclIdx := t.mu.acls.add(acl)
	if existing := parent.child(childName); existing != nil {
		// NB: as ZooKeeper, a create that finds the node (fuzzy replay)
		// gives it the txn's ACL.
		t.mu.acls.release(existing.acl)
		existing.acl = aclIdx
		return jute.Stat{}, jute.CodeNodeExists
	}
	if parentCVersion == -1 {
		parentCVersion = parent.cversion() + 1
	}
	// A replayed create of a node created and deleted inside the fuzzy
	// range must not move cversion and pzxid back.
	if parentCVersion > parent.cversion() {
		t.mu.digest -= t.digestLocked(parent, parentName)
		e := parent.extend()
		e.cversion = parentCVersion
		e.pzxid = zxid
		t.mu.digest += t.digestLocked(parent, parentName)
	}
	// The new node's pzxid is its czxid, so it needs no ext.
	n := newNode(childName, data)
	n.acl = aclIdx
	n.czxid, n.mzxid, n.ctime, n.mtime, n.owner = zxid, zxid, time, time, owner
	parent.addChild(childName, n)
	t.mu.numNodes++
	t.mu.dataSize += int64(len(path) + len(data))
	t.mu.digest += t.digestLocked(n, path)
	t.trackOwnerLocked(path, owner)
	if len(parentName) >= len(quotaPath) && parentName[:len(quotaPath)] == quotaPath {
		switch childName {
		case limitNode:
			t.mu.quotas[parentName[len(quotaPath):]] = struct{}{}
		case statNode:
			t.updateQuotaForPathLocked(parentName[len(quotaPath):])
		}
	}
	if prefix, ok := t.maxQuotaPrefixLocked(path); ok {
		t.updateQuotaStatLocked(prefix, int64(len(data)), 1)
	}
	a.trigger(t.dataWatches, path, jute.EventNodeCreated, zxid, nil, t.mu.acls.get(aclIdx))
	a.trigger(t.childWatches, watchPath(parentName), jute.EventNodeChildrenChanged, zxid, nil, t.mu.acls.get(parent.acl))
	return n.stat(), jute.CodeOK
}

// trackOwnerLocked records a new node in the ephemeral, container or TTL
// index its owner puts it in.
func (t *Tree) trackOwnerLocked(path string, owner int64) {
	switch kindOf(owner) {
	case kindVoid:
	case kindContainer:
		t.mu.containers[path] = struct{}{}
	case kindTTL:
		t.mu.ttls[path] = struct{}{}
	default:
		set := t.mu.ephemerals[owner]
		if set == nil {
			set = make(map[string]struct{})
			t.mu.ephemerals[owner] = set
		}
		set[path] = struct{}{}
	}
}

// untrackOwnerLocked is trackOwnerLocked's inverse.
func (t *Tree) untrackOwnerLocked(path string, owner int64) {
	switch kindOf(owner) {
	case kindVoid:
	case kindContainer:
		delete(t.mu.containers, path)
	case kindTTL:
		delete(t.mu.ttls, path)
	default:
		if set := t.mu.ephemerals[owner]; set != nil {
			delete(set, path)
			if len(set) == 0 {
				delete(t.mu.ephemerals, owner)
			}
		}
	}
}

// delete is DataTree.deleteNode. NB: the parent's pzxid moves forward even
// when the child is already gone (fuzzy replay), before NoNode is reported.
func (a *applier) delete(path string, zxid int64) jute.Code {
	t := a.t
	parentName, childName := splitPath(path)
	parent := t.lookupLocked(parentName)
	if parent == nil {
		return jute.CodeNoNode
	}
	n := parent.child(childName)
	if n != nil {
		parent.removeChild(childName)
	}
	if zxid > parent.pzxid() {
		t.mu.digest -= t.digestLocked(parent, parentName)
		parent.extend().pzxid = zxid
		t.mu.digest += t.digestLocked(parent, parentName)
	}
	if n == nil {
		return jute.CodeNoNode
	}
	t.mu.numNodes--
	t.mu.digest -= t.digestLocked(n, path)
	acl := t.mu.acls.get(n.acl) // NB: the list outlives its release
	t.mu.acls.release(n.acl)
	n.acl = deletedACL
	t.mu.dataSize -= int64(len(path) + len(n.buf))
	t.untrackOwnerLocked(path, n.owner)
	if childName == limitNode && len(parentName) >= len(procPath) && parentName[:len(procPath)] == procPath {
		delete(t.mu.quotas, trimQuotaPath(parentName))
	}
	if prefix, ok := t.maxQuotaPrefixLocked(path); ok {
		t.updateQuotaStatLocked(prefix, -int64(len(n.buf)), -1)
	}
	fired := a.trigger(t.dataWatches, path, jute.EventNodeDeleted, zxid, nil, acl)
	a.trigger(t.childWatches, path, jute.EventNodeDeleted, zxid, fired, acl)
	a.trigger(t.childWatches, watchPath(parentName), jute.EventNodeChildrenChanged, zxid, nil, t.mu.acls.get(parent.acl))
	return jute.CodeOK
}

// trimQuotaPath strips the /zookeeper/quota prefix (Quotas.trimQuotaPath).
func trimQuotaPath(p string) string {
	if len(p) < len(quotaPath) {
		return ""
	}
	return p[len(quotaPath):]
}

// setData is DataTree.setData: the version comes from the txn.
func (a *applier) setData(path string, data []byte, version int32, zxid, time int64) (jute.Stat, jute.Code) {
	t := a.t
	n := t.lookupLocked(path)
	if n == nil {
		return jute.Stat{}, jute.CodeNoNode
	}
	last := len(n.buf)
	t.mu.digest -= t.digestLocked(n, path)
	n.setData(data)
	n.mtime = time
	n.mzxid = zxid
	n.version = version
	t.mu.digest += t.digestLocked(n, path)
	st := n.stat()
	if prefix, ok := t.maxQuotaPrefixLocked(path); ok {
		t.updateQuotaStatLocked(prefix, int64(len(data)-last), 0)
	}
	t.mu.dataSize += int64(len(data) - last)
	a.trigger(t.dataWatches, path, jute.EventNodeDataChanged, zxid, nil, t.mu.acls.get(n.acl))
	return st, jute.CodeOK
}

// setACL is DataTree.setACL: the aversion comes from the txn.
func (a *applier) setACL(path string, acl []jute.ACL, version int32) (jute.Stat, jute.Code) {
	t := a.t
	n := t.lookupLocked(path)
	if n == nil {
		return jute.Stat{}, jute.CodeNoNode
	}
	idx := t.mu.acls.add(acl)
	t.mu.acls.release(n.acl)
	n.acl = idx
	t.mu.digest -= t.digestLocked(n, path)
	n.extend().aversion = version
	t.mu.digest += t.digestLocked(n, path)
	return n.stat(), jute.CodeOK
}

// setCversionPzxid is DataTree.setCversionPzxid.
func (a *applier) setCversionPzxid(path string, cversion int32, zxid int64) jute.Code {
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	t := a.t
	n := t.lookupLocked(path)
	if n == nil {
		return jute.CodeNoNode
	}
	if cversion == -1 {
		cversion = n.cversion() + 1
	}
	if cversion > n.cversion() {
		t.mu.digest -= t.digestLocked(n, path)
		e := n.extend()
		e.cversion = cversion
		e.pzxid = zxid
		t.mu.digest += t.digestLocked(n, path)
	}
	return jute.CodeOK
}

// killSession is DataTree.killSession: it deletes the paths the
// CloseSessionTxn names, in order, then whatever ephemerals of the session
// remain (sorted), ignoring paths already gone.
func (a *applier) killSession(session, zxid int64, paths []string) {
	t := a.t
	local := t.mu.ephemerals[session]
	delete(t.mu.ephemerals, session)
	for _, p := range paths {
		a.delete(p, zxid)
		delete(local, p)
	}
	rest := make([]string, 0, len(local))
	for p := range local {
		rest = append(rest, p)
	}
	slices.Sort(rest)
	for _, p := range rest {
		a.delete(p, zxid)
	}
}

// trigger fires watches of m and records the events.
func (a *applier) trigger(m *watchManager, path string, typ jute.EventType, zxid int64, suppress []WatcherID, acl []jute.ACL) []WatcherID {
	a.t.watchMu.Lock()
	defer a.t.watchMu.Unlock()
	var fired []WatcherID
	a.events, fired = m.trigger(path, typ, zxid, suppress, acl, a.events)
	return fired
}
