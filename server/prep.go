package server

import (
	"fmt"
	"slices"
	"sync"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
)

// PrepOptions are the ZooKeeper system properties that shape request
// preparation, reads and authentication. The zero value is ZooKeeper's
// default configuration.
type PrepOptions struct {
	// ExtendedTypesEnabled allows TTL znodes (zookeeper.extendedTypesEnabled).
	// Without it a TTL create is answered CodeUnimplemented.
	ExtendedTypesEnabled bool
	// SuperDigest is zookeeper.DigestAuthenticationProvider.superDigest,
	// "super:<base64 sha1>": a digest auth whose digest equals it makes the
	// session a superuser, which passes every ACL check.
	SuperDigest string
	// DigestAuthDisabled removes the digest scheme
	// (zookeeper.DigestAuthenticationProvider.enabled=false).
	DigestAuthDisabled bool
	// EnforceQuota makes creates and setData that break a hard quota fail
	// with CodeQuotaExceeded (zookeeper.enforceQuota).
	EnforceQuota bool
	// SkipACL disables every ACL check (zookeeper.skipACL=yes).
	SkipACL bool
	// ReconfigEnabled allows the reconfig op (reconfigEnabled); without
	// it a reconfig is answered CodeReconfigDisabled.
	ReconfigEnabled bool
	// MaxBuffer bounds the buffers and strings decoded from a request
	// (jute.maxbuffer); 0 means jute.DefaultMaxBuffer.
	MaxBuffer int
	// AuthProviders replaces the default scheme registry (ip and digest),
	// to add schemes such as x509 or sasl. Nil means the default.
	AuthProviders *AuthRegistry
	// Logger receives one Debug line per refused request.
	Logger zerolog.Logger
}

// authRegistry returns the registry o selects.
func (o *PrepOptions) authRegistry() *AuthRegistry {
	switch {
	case o == nil:
		return authDefaultRegistry
	case o.AuthProviders != nil:
		return o.AuthProviders
	case o.DigestAuthDisabled:
		return authDefaultRegistryNoDigest
	}
	return authDefaultRegistry
}

// prepRecord is ZooKeeper's ChangeRecord: what a znode will look like once
// the txns prepared so far are applied. A record with deleted set stands
// for a znode that will be gone.
//
// NB: one is kept per change a write makes, reused once applied; its
// fields are ordered to pack. data is shared with the tree or the request,
// never modified.
type prepRecord struct {
	zxid     int64
	path     string
	version  int32
	cversion int32 // the persisted cversion: number of child creations
	aversion int32
	children int32
	deleted  bool
	owner    int64 // stored ephemeralOwner, container and TTL encodings included
	czxid    int64
	mzxid    int64
	pzxid    int64
	ctime    int64
	mtime    int64
	data     []byte
	acl      []jute.ACL
	// digest is the znode's part of the tree's digest
	// (datatree.NodeDigest) in the state the record stands for, 0 when
	// deleted; set by recordLocked and addChangeLocked.
	digest int64
}

// persisted returns the stat the znode will have, as the tree stores it.
func (c *prepRecord) persisted() jute.StatPersisted {
	return jute.StatPersisted{
		Czxid: c.czxid, Mzxid: c.mzxid, Ctime: c.ctime, Mtime: c.mtime, Version: c.version,
		Cversion: c.cversion, Aversion: c.aversion, EphemeralOwner: c.owner, Pzxid: c.pzxid,
	}
}

// Prepper turns write requests into txns, as ZooKeeper's
// PrepRequestProcessor does. It validates each request against the tree
// plus the changes of the txns prepared but not yet applied (ZooKeeper's
// outstanding changes), so pipelined writes see each other. Prep is called
// from one goroutine; Applied and Abort may come from another.
type Prepper struct {
	tree *datatree.Tree
	opts PrepOptions
	reg  *AuthRegistry
	log  zerolog.Logger
	// checkSession is ZooKeeper's SessionTracker.checkSession: CodeOK
	// for a live session, CodeSessionExpired for one that is closing,
	// CodeUnknownSession for one that is gone. The client writes that
	// ZooKeeper checks (create, delete, setData, setACL, check) are
	// refused with its code, so none outlives its session's
	// closeSession. Nil: every session is live.
	checkSession func(session int64) jute.Code
	// quorum is the ensemble's part of a reconfig; nil on a standalone
	// server, which answers reconfig CodeUnimplemented.
	quorum reconfigQuorum
	// changesQueued and changesRemoved count outstanding change records
	// added, and dropped once applied (outstanding_changes_queued and
	// outstanding_changes_removed); nil counts nothing.
	changesQueued, changesRemoved *metrics.Counter

	mu struct {
		sync.Mutex
		// changes holds the outstanding records in zxid order.
		changes []*prepRecord
		// byPath holds the latest outstanding record of each path.
		byPath map[string]*prepRecord
		// free holds records that Applied released, for addChangeLocked
		// to reuse: under load every write would otherwise allocate one
		// or two records and drop them a commit later.
		free []*prepRecord
		// digest is the tree's digest once the txns prepared so far are
		// applied (ZooKeeper's precalculated digest): the tree's own
		// while no change is outstanding, moved by each record added.
		digest   int64
		digester datatree.Digester
	}
}

// maxFreeRecords bounds the records a Prepper keeps for reuse.
const maxFreeRecords = 4096

// NewPrepper returns a Prepper preparing requests against t.
func NewPrepper(t *datatree.Tree, o PrepOptions) *Prepper {
	p := &Prepper{tree: t, opts: o, log: o.Logger}
	p.reg = p.opts.authRegistry()
	p.mu.byPath = make(map[string]*prepRecord)
	return p
}

// Applied tells the Prepper that every txn up to zxid has been applied to
// the tree; it drops those outstanding changes (the tree now has them).
func (p *Prepper) Applied(zxid int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := 0
	for ; i < len(p.mu.changes) && p.mu.changes[i].zxid <= zxid; i++ {
		c := p.mu.changes[i]
		if p.mu.byPath[c.path] == c {
			delete(p.mu.byPath, c.path)
		}
		// NB: nothing refers to c any more (changes and byPath are the
		// only holders of a record), so it is kept for the next change.
		*c = prepRecord{}
		if len(p.mu.free) < maxFreeRecords {
			p.mu.free = append(p.mu.free, c)
		}
	}
	// NB: the records left move to the front, so the array is reused; a
	// slice taken from i on would lose that capacity and make the next
	// addChangeLocked allocate a new array nearly every time.
	n := copy(p.mu.changes, p.mu.changes[i:])
	clear(p.mu.changes[n:])
	p.mu.changes = p.mu.changes[:n]
	p.changesRemoved.Add(int64(i))
}

// Abort drops all outstanding changes, e.g. after a log failure: the next
// Prep sees the tree alone.
func (p *Prepper) Abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.changes = nil
	p.mu.free = nil
	clear(p.mu.byPath)
}

// Outstanding returns the number of outstanding change records.
func (p *Prepper) Outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.mu.changes)
}

// prepCtx is one request (or multi) being prepared.
type prepCtx struct {
	r    *Request
	zxid int64
	// undo, when not nil, collects what addChange replaced, so a failed
	// multi can roll its changes back.
	undo []prepUndo
}

type prepUndo struct {
	path string
	prev *prepRecord // nil: the path had no outstanding record
}

// Prep prepares r as the txn with the given zxid. It always returns a txn
// with Hdr.Zxid = zxid, Hdr.ClientId = r.Session, Hdr.Cxid = r.Cxid and
// Hdr.Time = r.Time: on success the op's txn, on failure an ErrorTxn
// (Hdr.Type = OpError) carrying ZooKeeper's code, as ZooKeeper logs failed
// writes. A multi is a MultiTxn; when one of its ops fails every op becomes
// an ErrorTxn: CodeOK before the failing one, its code at it,
// CodeRuntimeInconsistency after, and none of its changes stay outstanding.
// A client's request goes through Reject first: what Reject refuses must
// not reach Prep, as it must not consume a zxid.
func (p *Prepper) Prep(r *Request, zxid int64) Txn {
	hdr := jute.TxnHeader{ClientId: r.Session, Cxid: r.Cxid, Zxid: zxid, Time: r.Time, Type: int32(r.Op)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.mu.changes) == 0 {
		// NB: every change prepared so far is applied: the tree's digest
		// is where the next txn starts from.
		p.mu.digest = p.tree.Digest()
	}
	ctx := &prepCtx{r: r, zxid: zxid}
	var body jute.Record
	code := jute.CodeOK
	switch r.Op {
	case jute.OpMulti:
		body, code = p.prepMultiLocked(ctx)
	case jute.OpCreateSession:
		txn := new(jute.CreateSessionTxn)
		if !opsDecode(r.Body, p.opts.MaxBuffer, txn) {
			code = jute.CodeMarshallingError
		}
		body = txn
	case jute.OpCloseSession:
		body = p.prepCloseSessionLocked(ctx)
	case jute.OpDeleteContainer:
		path, ok := prepDeleteContainerPath(r.Body, p.opts.MaxBuffer)
		if !ok {
			code = jute.CodeMarshallingError
			break
		}
		body, code = p.prepDeleteContainerLocked(ctx, path)
	case jute.OpReconfig:
		req, ok := r.decoded.(*jute.ReconfigRequest)
		if !ok {
			req = new(jute.ReconfigRequest)
			if !opsDecode(r.Body, p.opts.MaxBuffer, req) {
				code = jute.CodeMarshallingError
				break
			}
		}
		body, code = p.prepReconfigLocked(ctx, req)
	default:
		req := r.decoded
		if req != nil {
			body, code = p.prepOpLocked(ctx, r.Op, req)
			break
		}
		if req = prepNewRequest(r.Op); req == nil {
			code = jute.CodeUnimplemented
			break
		}
		if !opsDecode(r.Body, p.opts.MaxBuffer, req) {
			code = jute.CodeMarshallingError
			break
		}
		body, code = p.prepOpLocked(ctx, r.Op, req)
	}
	if code != jute.CodeOK {
		p.log.Debug().Int64("session", r.Session).Int64("zxid", zxid).Stringer("op", r.Op).
			Str("err", code.Error()).Msg("request refused")
		hdr.Type = int32(jute.OpError)
		// NB: as ZooKeeper's, a request's ErrorTxn carries no digest.
		return Txn{Hdr: hdr, Body: &jute.ErrorTxn{Err: int32(code)}}
	}
	t := Txn{Hdr: hdr, Body: body}
	if body != nil {
		// NB: a closeSession without its body (see
		// prepCloseSessionLocked) carries no digest either: a reader
		// could not tell the digest from the body.
		t.Digest = jute.TxnDigest{Version: datatree.DigestVersion, TreeDigest: p.mu.digest}
	}
	return t
}

// Reject reports whether ZooKeeper refuses the client write r before it
// assigns a zxid, and with which code; such a request makes no txn and
// consumes no zxid. ZooKeeper 3.9's PrepRequestProcessor decodes the
// request record of create, create2, createContainer, createTTL,
// deleteContainer, delete, setData, reconfig, setACL and check before it
// takes the next zxid, so a body that does not decode is answered
// CodeMarshallingError with the last zxid (multi, createSession and
// closeSession take their zxid first and are never rejected here). A
// top-level check is CodeUnimplemented: since ZOOKEEPER-2623 (3.9.3) it is
// valid only inside a multi, and ZooKeeper treats it as an unknown op
// (answer with zxid -1, then close the connection).
//
// Reject reads only r and the Prepper's options: it takes no lock and may
// be called from any goroutine, before Prep. It is meant for requests from
// clients; the server's own deleteContainer (a bare path) must not go
// through it. When it accepts a request whose record it decoded, it keeps
// the record in r for Prep, which then does not read r.Body.
func (p *Prepper) Reject(r *Request) (jute.Code, bool) {
	var req jute.Record
	switch r.Op {
	case jute.OpCheck:
		return jute.CodeUnimplemented, true
	case jute.OpDeleteContainer:
		d := jute.NewDecoder(r.Body, p.opts.MaxBuffer)
		// NB: a null buffer decodes, then fails in ZooKeeper's
		// new String(null).
		if b := d.Buffer(); d.Err() != nil || b == nil {
			return jute.CodeMarshallingError, true
		}
		return jute.CodeOK, false
	case jute.OpReconfig:
		req = new(jute.ReconfigRequest)
	default:
		if req = prepNewRequest(r.Op); req == nil {
			return jute.CodeOK, false
		}
	}
	if !opsDecode(r.Body, p.opts.MaxBuffer, req) {
		return jute.CodeMarshallingError, true
	}
	r.decoded = req
	return jute.CodeOK, false
}

// prepNewRequest returns an empty request record for a single write op that
// prepOpLocked handles, or nil.
func prepNewRequest(op jute.OpCode) jute.Record {
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
		return new(jute.CreateRequest)
	case jute.OpCreateTTL:
		return new(jute.CreateTTLRequest)
	case jute.OpDelete:
		return new(jute.DeleteRequest)
	case jute.OpSetData:
		return new(jute.SetDataRequest)
	case jute.OpSetACL:
		return new(jute.SetACLRequest)
	case jute.OpCheck:
		return new(jute.CheckVersionRequest)
	}
	return nil
}

// prepDeleteContainerPath reads a deleteContainer body: ZooKeeper's
// DeleteContainerRequest (a jute buffer with the path), or the bare path.
func prepDeleteContainerPath(body []byte, maxBuffer int) (string, bool) {
	if len(body) > 0 && body[0] == '/' {
		return string(body), true
	}
	d := jute.NewDecoder(body, maxBuffer)
	b := d.Buffer()
	if d.Err() != nil {
		return "", false
	}
	return string(b), true
}

// prepOpLocked prepares one write op (alone or inside a multi) and records
// its changes as outstanding.
func (p *Prepper) prepOpLocked(ctx *prepCtx, op jute.OpCode, req jute.Record) (jute.Record, jute.Code) {
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
		cr := req.(*jute.CreateRequest)
		return p.prepCreateLocked(ctx, op, cr.Path, cr.Data, cr.Acl, cr.Flags, -1)
	case jute.OpCreateTTL:
		cr := req.(*jute.CreateTTLRequest)
		return p.prepCreateLocked(ctx, op, cr.Path, cr.Data, cr.Acl, cr.Flags, cr.Ttl)
	case jute.OpDelete:
		return p.prepDeleteLocked(ctx, req.(*jute.DeleteRequest))
	case jute.OpSetData:
		return p.prepSetDataLocked(ctx, req.(*jute.SetDataRequest))
	case jute.OpSetACL:
		return p.prepSetACLLocked(ctx, req.(*jute.SetACLRequest))
	case jute.OpCheck:
		return p.prepCheckLocked(ctx, req.(*jute.CheckVersionRequest))
	}
	return nil, jute.CodeMarshallingError
}

// recordLocked returns what path will look like after the outstanding
// changes (ZooKeeper's getRecordForPath), or false if it will not exist.
// NB: it returns a copy, which the caller may change and record with
// duplicate: outstanding records are never changed once added.
func (p *Prepper) recordLocked(path string) (prepRecord, bool) {
	if c, ok := p.mu.byPath[path]; ok {
		if c.deleted {
			return prepRecord{}, false
		}
		return *c, true
	}
	n, ok := p.tree.Node(path)
	if !ok {
		return prepRecord{}, false
	}
	c := prepRecord{
		zxid: -1, path: path,
		version: n.Stat.Version, cversion: n.PersistedCversion, aversion: n.Stat.Aversion,
		owner: n.EphemeralOwner, children: n.Stat.NumChildren,
		czxid: n.Stat.Czxid, mzxid: n.Stat.Mzxid, pzxid: n.Stat.Pzxid, ctime: n.Stat.Ctime, mtime: n.Stat.Mtime,
		acl: n.ACL, data: n.Data,
	}
	st := c.persisted()
	c.digest = p.mu.digester.Node(path, c.data, &st)
	return c, true
}

// addChangeLocked records a copy of rec as the latest outstanding change of
// its path. rec.digest is still the digest of the state rec was made from
// (0 for a new znode): the change moves the prepared digest from it to
// rec's.
func (p *Prepper) addChangeLocked(ctx *prepCtx, rec prepRecord) {
	prev := rec.digest
	rec.digest = 0
	if !rec.deleted {
		st := rec.persisted()
		rec.digest = p.mu.digester.Node(rec.path, rec.data, &st)
	}
	p.mu.digest += rec.digest - prev
	var c *prepRecord
	if n := len(p.mu.free); n > 0 {
		c = p.mu.free[n-1]
		p.mu.free = p.mu.free[:n-1]
	} else {
		c = new(prepRecord)
	}
	*c = rec
	if ctx.undo != nil {
		ctx.undo = append(ctx.undo, prepUndo{path: c.path, prev: p.mu.byPath[c.path]})
	}
	p.mu.changes = append(p.mu.changes, c)
	p.mu.byPath[c.path] = c
	p.changesQueued.Add(1)
}

// duplicate returns a copy of c stamped with zxid, as ChangeRecord.duplicate.
func (c prepRecord) duplicate(zxid int64) prepRecord {
	c.zxid = zxid
	return c
}

// checkSessionLocked is checkSession for the request's session.
func (p *Prepper) checkSessionLocked(ctx *prepCtx) jute.Code {
	if p.checkSession == nil {
		return jute.CodeOK
	}
	return p.checkSession(ctx.r.Session)
}

// checkACLLocked checks perm for the request's ids on acl.
func (p *Prepper) checkACL(ctx *prepCtx, acl []jute.ACL, perm int32) jute.Code {
	return aclCheck(p.reg, p.opts.SkipACL, acl, perm, ctx.r.Auth)
}

// prepNextVersion is checkAndIncVersion: BadVersion unless expected is -1
// or current; the next version skips -1 (ZOOKEEPER-4743).
func prepNextVersion(current, expected int32) (int32, jute.Code) {
	if expected != -1 && expected != current {
		return 0, jute.CodeBadVersion
	}
	next := current + 1
	if next == -1 {
		next = 0
	}
	return next, jute.CodeOK
}

// isNormalEphemeral reports whether owner marks a session's ephemeral
// znode, as EphemeralType.get(owner) == NORMAL: neither persistent, nor a
// container, nor (with extended types) a TTL znode.
func (p *Prepper) isNormalEphemeral(owner int64) bool {
	if owner == 0 || datatree.IsContainer(owner) {
		return false
	}
	if p.opts.ExtendedTypesEnabled && uint64(owner)>>56 == 0xff {
		return false
	}
	return true
}

// prepCreateLocked is pRequest2TxnCreate. The checks, in ZooKeeper's order:
// TTL mode without extended types (Unimplemented); TTL out of range or a
// TTL for another mode (BadArguments); the session (SessionExpired,
// UnknownSession); no '/' or a NUL in the path
// (BadArguments); the ACL (InvalidACL); the parent (NoNode); CREATE on the
// parent (NoAuth); the final path, sequence number appended from the
// parent's cversion (BadArguments); an existing node (NodeExists); an
// ephemeral parent (NoChildrenForEphemerals); the quota (QuotaExceeded).
func (p *Prepper) prepCreateLocked(ctx *prepCtx, op jute.OpCode, path string, data []byte,
	acl []jute.ACL, flags int32, ttl int64) (jute.Record, jute.Code) {
	mode := jute.CreateMode(flags)
	if !mode.Valid() {
		return nil, jute.CodeBadArguments
	}
	if mode.TTL() && !p.opts.ExtendedTypesEnabled {
		return nil, jute.CodeUnimplemented
	}
	var ttlOwner int64
	if mode.TTL() {
		o, err := datatree.TTLEphemeralOwner(ttl)
		if err != nil {
			return nil, jute.CodeBadArguments
		}
		ttlOwner = o
	} else if ttl >= 0 || op == jute.OpCreateTTL {
		// NB: ZooKeeper lets a createTTL with a non-TTL mode and ttl -1
		// through, and then fails to apply it; refuse it here.
		return nil, jute.CodeBadArguments
	}
	if code := p.checkSessionLocked(ctx); code != jute.CodeOK {
		return nil, code
	}
	parentPath, ok := pathParent(path)
	if !ok {
		return nil, jute.CodeBadArguments
	}
	listACL, code := aclFixup(p.reg, ctx.r.Auth, acl)
	if code != jute.CodeOK {
		return nil, code
	}
	parent, ok := p.recordLocked(parentPath)
	if !ok {
		return nil, jute.CodeNoNode
	}
	if code := p.checkACL(ctx, parent.acl, jute.PermCreate); code != jute.CodeOK {
		return nil, code
	}
	if mode.Sequential() {
		path += fmt.Sprintf("%010d", parent.cversion)
	}
	if ValidatePath(path) != nil {
		return nil, jute.CodeBadArguments
	}
	if _, exists := p.recordLocked(path); exists {
		return nil, jute.CodeNodeExists
	}
	if p.isNormalEphemeral(parent.owner) {
		return nil, jute.CodeNoChildrenForEphemerals
	}
	newCversion := parent.cversion + 1
	if p.opts.EnforceQuota {
		if code := p.tree.CheckQuota(path, 1, int64(len(data))); code != jute.CodeOK {
			return nil, code
		}
	}
	var txn jute.Record
	switch op {
	case jute.OpCreateContainer:
		txn = &jute.CreateContainerTxn{Path: path, Data: data, Acl: listACL, ParentCVersion: newCversion}
	case jute.OpCreateTTL:
		txn = &jute.CreateTTLTxn{Path: path, Data: data, Acl: listACL, ParentCVersion: newCversion, Ttl: ttl}
	default:
		txn = &jute.CreateTxn{Path: path, Data: data, Acl: listACL, Ephemeral: mode.Ephemeral(), ParentCVersion: newCversion}
	}
	// NB: the owner the tree will store, which the txn's type decides: a
	// create with the container or TTL flag makes a persistent znode, and
	// a createContainer with other flags a container. ZooKeeper's change
	// record takes the owner from the flags instead, so its digest for
	// such a txn is not the one its own followers compute.
	var owner int64
	switch {
	case op == jute.OpCreateContainer:
		owner = datatree.ContainerEphemeralOwner
	case op == jute.OpCreateTTL:
		owner = ttlOwner
	case mode.Ephemeral():
		owner = ctx.r.Session
	}
	parent.children++
	parent.cversion = newCversion
	parent.pzxid = ctx.zxid
	p.addChangeLocked(ctx, parent.duplicate(ctx.zxid))
	p.addChangeLocked(ctx, prepRecord{
		zxid: ctx.zxid, path: path, owner: owner, czxid: ctx.zxid, mzxid: ctx.zxid, pzxid: ctx.zxid,
		ctime: ctx.r.Time, mtime: ctx.r.Time, acl: listACL, data: data,
	})
	return txn, jute.CodeOK
}

// prepDeleteLocked: the session (SessionExpired, UnknownSession), the
// path's parent (BadArguments for the system nodes, a
// path without '/' or with NUL), the parent (NoNode), DELETE on the parent
// (NoAuth), the node (NoNode), its version (BadVersion), its children
// (NotEmpty).
func (p *Prepper) prepDeleteLocked(ctx *prepCtx, req *jute.DeleteRequest) (jute.Record, jute.Code) {
	if code := p.checkSessionLocked(ctx); code != jute.CodeOK {
		return nil, code
	}
	parentPath, ok := pathParent(req.Path)
	if !ok || pathIsSpecial(req.Path) {
		return nil, jute.CodeBadArguments
	}
	parent, ok := p.recordLocked(parentPath)
	if !ok {
		return nil, jute.CodeNoNode
	}
	if code := p.checkACL(ctx, parent.acl, jute.PermDelete); code != jute.CodeOK {
		return nil, code
	}
	n, ok := p.recordLocked(req.Path)
	if !ok {
		return nil, jute.CodeNoNode
	}
	if _, code := prepNextVersion(n.version, req.Version); code != jute.CodeOK {
		return nil, code
	}
	if n.children > 0 {
		return nil, jute.CodeNotEmpty
	}
	p.removeLocked(ctx, parent, n)
	return &jute.DeleteTxn{Path: req.Path}, jute.CodeOK
}

// removeLocked records the deletion of n, a child of parent.
func (p *Prepper) removeLocked(ctx *prepCtx, parent, n prepRecord) {
	parent.children--
	parent.pzxid = ctx.zxid
	p.addChangeLocked(ctx, parent.duplicate(ctx.zxid))
	p.addChangeLocked(ctx, prepRecord{zxid: ctx.zxid, path: n.path, deleted: true, digest: n.digest})
}

// prepDeleteContainerLocked is the server's own deletion of an empty
// container or expired TTL znode: BadArguments for a system node, NoNode,
// NotEmpty, BadVersion when the node is a session's ephemeral.
func (p *Prepper) prepDeleteContainerLocked(ctx *prepCtx, path string) (jute.Record, jute.Code) {
	parentPath, ok := pathParent(path)
	if !ok || pathIsSpecial(path) {
		return nil, jute.CodeBadArguments
	}
	n, ok := p.recordLocked(path)
	if !ok {
		return nil, jute.CodeNoNode
	}
	if n.children > 0 {
		return nil, jute.CodeNotEmpty
	}
	if p.isNormalEphemeral(n.owner) {
		return nil, jute.CodeBadVersion
	}
	parent, ok := p.recordLocked(parentPath)
	if !ok {
		return nil, jute.CodeNoNode
	}
	p.removeLocked(ctx, parent, n)
	return &jute.DeleteTxn{Path: path}, jute.CodeOK
}

// prepSetDataLocked: the session (SessionExpired, UnknownSession), the
// path (BadArguments), the node (NoNode), WRITE
// (NoAuth), the quota (QuotaExceeded), the version (BadVersion).
func (p *Prepper) prepSetDataLocked(ctx *prepCtx, req *jute.SetDataRequest) (jute.Record, jute.Code) {
	if code := p.checkSessionLocked(ctx); code != jute.CodeOK {
		return nil, code
	}
	if ValidatePath(req.Path) != nil {
		return nil, jute.CodeBadArguments
	}
	n, ok := p.recordLocked(req.Path)
	if !ok {
		return nil, jute.CodeNoNode
	}
	if code := p.checkACL(ctx, n.acl, jute.PermWrite); code != jute.CodeOK {
		return nil, code
	}
	if p.opts.EnforceQuota {
		if code := p.tree.CheckQuota(req.Path, 0, int64(len(req.Data)-len(n.data))); code != jute.CodeOK {
			return nil, code
		}
	}
	next, code := prepNextVersion(n.version, req.Version)
	if code != jute.CodeOK {
		return nil, code
	}
	n.version = next
	n.data = req.Data
	n.mzxid = ctx.zxid
	n.mtime = ctx.r.Time
	p.addChangeLocked(ctx, n.duplicate(ctx.zxid))
	return &jute.SetDataTxn{Path: req.Path, Data: req.Data, Version: next}, jute.CodeOK
}

// prepSetACLLocked: the session (SessionExpired, UnknownSession), the
// path (BadArguments), the ACL (InvalidACL), the node
// (NoNode), ADMIN (NoAuth), the ACL version (BadVersion).
func (p *Prepper) prepSetACLLocked(ctx *prepCtx, req *jute.SetACLRequest) (jute.Record, jute.Code) {
	if code := p.checkSessionLocked(ctx); code != jute.CodeOK {
		return nil, code
	}
	if ValidatePath(req.Path) != nil {
		return nil, jute.CodeBadArguments
	}
	listACL, code := aclFixup(p.reg, ctx.r.Auth, req.Acl)
	if code != jute.CodeOK {
		return nil, code
	}
	n, ok := p.recordLocked(req.Path)
	if !ok {
		return nil, jute.CodeNoNode
	}
	if code := p.checkACL(ctx, n.acl, jute.PermAdmin); code != jute.CodeOK {
		return nil, code
	}
	next, code := prepNextVersion(n.aversion, req.Version)
	if code != jute.CodeOK {
		return nil, code
	}
	n.aversion = next
	n.acl = listACL
	p.addChangeLocked(ctx, n.duplicate(ctx.zxid))
	return &jute.SetACLTxn{Path: req.Path, Acl: listACL, Version: next}, jute.CodeOK
}

// prepCheckLocked: the session (SessionExpired, UnknownSession), the path
// (BadArguments), the node (NoNode), READ
// (NoAuth), the version (BadVersion). As ZooKeeper, the txn carries the
// version the node would have next.
func (p *Prepper) prepCheckLocked(ctx *prepCtx, req *jute.CheckVersionRequest) (jute.Record, jute.Code) {
	if code := p.checkSessionLocked(ctx); code != jute.CodeOK {
		return nil, code
	}
	if ValidatePath(req.Path) != nil {
		return nil, jute.CodeBadArguments
	}
	n, ok := p.recordLocked(req.Path)
	if !ok {
		return nil, jute.CodeNoNode
	}
	if code := p.checkACL(ctx, n.acl, jute.PermRead); code != jute.CodeOK {
		return nil, code
	}
	next, code := prepNextVersion(n.version, req.Version)
	if code != jute.CodeOK {
		return nil, code
	}
	return &jute.CheckVersionTxn{Path: req.Path, Version: next}, jute.CodeOK
}

// prepCloseSessionLocked lists the session's ephemerals, those the tree has
// and those outstanding creates will add, less outstanding deletes, and
// records their deletion. The txn names them (CloseSessionTxn) unless the
// list would make the txn larger than jute.maxbuffer, which the log,
// learners and ZooKeeper's readers refuse: then it has no body, the
// closeSession ZooKeeper logs with zookeeper.closeSessionTxn.enabled=false,
// and applying it deletes the session's ephemerals as the tree has them,
// which by then are the ones listed here (txns apply in zxid order).
func (p *Prepper) prepCloseSessionLocked(ctx *prepCtx) jute.Record {
	session := ctx.r.Session
	set := make(map[string]bool)
	for _, path := range p.tree.Ephemerals(session) {
		set[path] = true
	}
	for _, c := range p.mu.changes {
		switch {
		case c.deleted:
			delete(set, c.path)
		case c.owner == session:
			set[c.path] = true
		}
	}
	paths := make([]string, 0, len(set))
	for path := range set {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	for _, path := range paths {
		parentPath, ok := pathParent(path)
		if !ok {
			continue
		}
		// NB: a path that is gone already changes nothing: digest 0.
		n, _ := p.recordLocked(path)
		if parent, ok := p.recordLocked(parentPath); ok {
			n.path = path
			p.removeLocked(ctx, parent, n)
		} else {
			p.addChangeLocked(ctx, prepRecord{zxid: ctx.zxid, path: path, deleted: true, digest: n.digest})
		}
	}
	txn := &jute.CloseSessionTxn{Paths2Delete: paths}
	maxBuffer := p.opts.MaxBuffer
	if maxBuffer == 0 {
		maxBuffer = jute.DefaultMaxBuffer
	}
	if (&jute.TxnHeader{}).Size()+txn.Size() > maxBuffer {
		p.log.Info().Int64("session", ctx.r.Session).Int("ephemerals", len(paths)).
			Msg("closeSession txn without its paths: listing them would pass jute.maxbuffer")
		return nil
	}
	return txn
}

// prepMultiLocked prepares every op of a multi against the outstanding
// state, earlier ops of the same multi included. On the first failure it
// rolls back the multi's changes and answers ZooKeeper's error form.
func (p *Prepper) prepMultiLocked(ctx *prepCtx) (jute.Record, jute.Code) {
	ops, reads, ok := opsDecodeMulti(ctx.r.Body, p.opts.MaxBuffer)
	if !ok || reads {
		return nil, jute.CodeMarshallingError
	}
	ctx.undo = make([]prepUndo, 0, 2*len(ops))
	start, digest := len(p.mu.changes), p.mu.digest
	txns := make([]jute.Txn, len(ops))
	for i, o := range ops {
		rec, code := p.prepOpLocked(ctx, o.op, o.req)
		if code == jute.CodeOK {
			txns[i] = jute.Txn{Type: int32(o.op), Data: rec.Encode(nil)}
			continue
		}
		// Roll back: drop this multi's records, restore what they hid.
		for j := len(ctx.undo) - 1; j >= 0; j-- {
			u := ctx.undo[j]
			if u.prev == nil {
				delete(p.mu.byPath, u.path)
			} else {
				p.mu.byPath[u.path] = u.prev
			}
		}
		clear(p.mu.changes[start:])
		p.mu.changes = p.mu.changes[:start]
		p.mu.digest = digest
		for j := range txns {
			e := jute.CodeOK
			switch {
			case j == i:
				e = code
			case j > i:
				e = jute.CodeRuntimeInconsistency
			}
			txns[j] = jute.Txn{Type: int32(jute.OpError), Data: (&jute.ErrorTxn{Err: int32(e)}).Encode(nil)}
		}
		break
	}
	return &jute.MultiTxn{Txns: txns}, jute.CodeOK
}
