package server

import (
	"strings"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// Read serves a request that makes no txn from the tree, as ZooKeeper's
// FinalRequestProcessor does: exists, getData, getChildren, getChildren2,
// getACL, getAllChildrenNumber, getEphemerals, multiRead, whoAmI, addWatch,
// checkWatches, removeWatches, setWatches, setWatches2 and sync. It makes
// the ACL check ZooKeeper makes for each op and registers watches for w (0
// sets none). It appends the response body to b (nothing when the code is
// not CodeOK) and returns the reply code and the watch events to deliver
// (removeWatches' *WatchRemoved events, setWatches' missed changes).
//
// Read keeps no state: it may run on many goroutines at once. o may be nil
// for the default options.
//
// NB: ZooKeeper does not validate read paths on the server: it looks them
// up as they are, so "" names the root (its DataTree keeps the root under
// "" as well as "/"), a path that could never name a znode is a missing one
// (NoNode, or NoWatcher for watch ops), and exists, addWatch and setWatches
// register watches on any path (such a watch never fires). Only exists of
// a path holding NUL is BadArguments.
func Read(t *datatree.Tree, r *Request, w datatree.WatcherID, o *PrepOptions, b []byte) ([]byte, jute.Code, []datatree.Event) {
	rd := reader{t: t, session: r.Session, auth: r.Auth, w: w, reg: o.authRegistry()}
	maxBuffer := 0
	if o != nil {
		rd.skipACL = o.SkipACL
		maxBuffer = o.MaxBuffer
	}
	switch r.Op {
	case jute.OpMultiRead:
		ops, reads, ok := opsDecodeMulti(r.Body, maxBuffer)
		if !ok || (len(ops) > 0 && !reads) {
			return b, jute.CodeMarshallingError, nil
		}
		return rd.multiRead(b, ops), jute.CodeOK, nil
	case jute.OpWhoAmI:
		resp := jute.WhoAmIResponse{ClientInfo: aclClientInfos(rd.reg, r.Auth)}
		return resp.Encode(b), jute.CodeOK, nil
	}
	req := readNewRequest(r.Op)
	if req == nil {
		return b, jute.CodeUnimplemented, nil
	}
	// NB: opsDecodeKnown knows every record readNewRequest makes
	// (TestOpsDecodeKnown); decoded through it, req stays on the stack.
	var d jute.Decoder
	d.Reset(r.Body, maxBuffer)
	if !opsDecodeKnown(&d, req) || d.Err() != nil {
		return b, jute.CodeMarshallingError, nil
	}
	return rd.serve(b, req)
}

// readNewRequest returns an empty request record for a read op, or nil.
func readNewRequest(op jute.OpCode) jute.Record {
	switch op {
	case jute.OpExists:
		return new(jute.ExistsRequest)
	case jute.OpGetData:
		return new(jute.GetDataRequest)
	case jute.OpGetChildren:
		return new(jute.GetChildrenRequest)
	case jute.OpGetChildren2:
		return new(jute.GetChildren2Request)
	case jute.OpGetACL:
		return new(jute.GetACLRequest)
	case jute.OpGetAllChildrenNumber:
		return new(jute.GetAllChildrenNumberRequest)
	case jute.OpGetEphemerals:
		return new(jute.GetEphemeralsRequest)
	case jute.OpAddWatch:
		return new(jute.AddWatchRequest)
	case jute.OpCheckWatches:
		return new(jute.CheckWatchesRequest)
	case jute.OpRemoveWatches:
		return new(jute.RemoveWatchesRequest)
	case jute.OpSetWatches:
		return new(jute.SetWatches)
	case jute.OpSetWatches2:
		return new(jute.SetWatches2)
	case jute.OpSync:
		return new(jute.SyncRequest)
	}
	return nil
}

// reader serves one read request.
//
// NB: it holds the request's session and ids rather than the *Request,
// which then does not escape: a caller's Request may stay on its stack.
type reader struct {
	t       *datatree.Tree
	session int64
	auth    []jute.Id
	w       datatree.WatcherID
	reg     *AuthRegistry
	skipACL bool
}

// watcher returns the watcher to register when the request asks for a
// watch.
func (rd *reader) watcher(watch bool) datatree.WatcherID {
	if watch {
		return rd.w
	}
	return 0
}

// checkNode returns CodeNoNode for a path that names no znode, CodeNoAuth
// when the session lacks perm on it, else CodeOK.
func (rd *reader) checkNode(path string, perm int32) jute.Code {
	n, ok := rd.t.Node(path)
	if !ok {
		return jute.CodeNoNode
	}
	return aclCheck(rd.reg, rd.skipACL, n.ACL, perm, rd.auth)
}

// serve answers req: it appends the response body to b when the code is
// CodeOK. NB: responses are encoded from values on the stack, not
// returned as records, which would each be a heap allocation.
func (rd *reader) serve(b []byte, req jute.Record) ([]byte, jute.Code, []datatree.Event) {
	switch req := req.(type) {
	case *jute.ExistsRequest:
		if strings.IndexByte(req.Path, 0) >= 0 {
			return b, jute.CodeBadArguments, nil
		}
		// ZooKeeper 3.9 (ZOOKEEPER-2590) checks READ on an existing node.
		if n, ok := rd.t.Node(req.Path); ok {
			if code := aclCheck(rd.reg, rd.skipACL, n.ACL, jute.PermRead, rd.auth); code != jute.CodeOK {
				return b, code, nil
			}
		}
		stat, code := rd.t.Exists(req.Path, rd.watcher(req.Watch))
		if code != jute.CodeOK {
			return b, code, nil
		}
		resp := jute.ExistsResponse{Stat: stat}
		return resp.Encode(b), jute.CodeOK, nil
	case *jute.GetDataRequest:
		data, stat, code := rd.getData(req.Path, req.Watch)
		if code != jute.CodeOK {
			return b, code, nil
		}
		resp := jute.GetDataResponse{Data: data, Stat: stat}
		return resp.Encode(b), jute.CodeOK, nil
	case *jute.GetChildrenRequest:
		kids, _, code := rd.getChildren(req.Path, req.Watch)
		if code != jute.CodeOK {
			return b, code, nil
		}
		resp := jute.GetChildrenResponse{Children: kids}
		return resp.Encode(b), jute.CodeOK, nil
	case *jute.GetChildren2Request:
		kids, stat, code := rd.getChildren(req.Path, req.Watch)
		if code != jute.CodeOK {
			return b, code, nil
		}
		resp := jute.GetChildren2Response{Children: kids, Stat: stat}
		return resp.Encode(b), jute.CodeOK, nil
	case *jute.GetACLRequest:
		if code := rd.checkNode(req.Path, jute.PermRead|jute.PermAdmin); code != jute.CodeOK {
			return b, code, nil
		}
		acl, stat, code := rd.t.GetACL(req.Path)
		if code != jute.CodeOK {
			return b, code, nil
		}
		if aclCheck(rd.reg, rd.skipACL, acl, jute.PermAdmin, rd.auth) != jute.CodeOK {
			acl = aclMaskDigests(acl)
		}
		resp := jute.GetACLResponse{Acl: acl, Stat: stat}
		return resp.Encode(b), jute.CodeOK, nil
	case *jute.GetAllChildrenNumberRequest:
		if code := rd.checkNode(req.Path, jute.PermRead); code != jute.CodeOK {
			return b, code, nil
		}
		n, code := rd.t.AllChildrenNumber(req.Path)
		if code != jute.CodeOK {
			return b, code, nil
		}
		resp := jute.GetAllChildrenNumberResponse{TotalNumber: n}
		return resp.Encode(b), jute.CodeOK, nil
	case *jute.GetEphemeralsRequest:
		all := rd.t.Ephemerals(rd.session)
		prefix := strings.TrimFunc(req.PrefixPath, func(c rune) bool { return c <= ' ' })
		out := make([]string, 0, len(all))
		for _, p := range all {
			if prefix == "" || prefix == "/" || strings.HasPrefix(p, req.PrefixPath) {
				out = append(out, p)
			}
		}
		resp := jute.GetEphemeralsResponse{Ephemerals: out}
		return resp.Encode(b), jute.CodeOK, nil
	case *jute.AddWatchRequest:
		if req.Mode != jute.AddWatchPersistent && req.Mode != jute.AddWatchPersistentRecursive {
			return b, jute.CodeMarshallingError, nil
		}
		// NB: ZooKeeper registers a watch on any path and answers OK; one
		// on a path that can never name a znode never fires.
		if rd.w != 0 {
			rd.t.AddWatch(req.Path, rd.w, req.Mode)
		}
		resp := jute.ErrorResponse{Err: 0}
		return resp.Encode(b), jute.CodeOK, nil
	case *jute.CheckWatchesRequest:
		typ, ok := readWatcherType(req.Type)
		if !ok {
			return b, jute.CodeMarshallingError, nil
		}
		if rd.w == 0 {
			return b, jute.CodeNoWatcher, nil
		}
		return b, rd.t.CheckWatches(req.Path, rd.w, typ), nil
	case *jute.RemoveWatchesRequest:
		typ, ok := readWatcherType(req.Type)
		if !ok {
			return b, jute.CodeMarshallingError, nil
		}
		if rd.w == 0 {
			return b, jute.CodeNoWatcher, nil
		}
		events, code := rd.t.RemoveWatches(req.Path, rd.w, typ)
		return b, code, events
	case *jute.SetWatches:
		events, code := rd.setWatches(&jute.SetWatches2{
			RelativeZxid: req.RelativeZxid, DataWatches: req.DataWatches,
			ExistWatches: req.ExistWatches, ChildWatches: req.ChildWatches,
			PersistentWatches: []string{}, PersistentRecursiveWatches: []string{},
		})
		return b, code, events
	case *jute.SetWatches2:
		events, code := rd.setWatches(req)
		return b, code, events
	case *jute.SyncRequest:
		resp := jute.SyncResponse{Path: req.Path}
		return resp.Encode(b), jute.CodeOK, nil
	}
	return b, jute.CodeUnimplemented, nil
}

func (rd *reader) getData(path string, watch bool) ([]byte, jute.Stat, jute.Code) {
	if code := rd.checkNode(path, jute.PermRead); code != jute.CodeOK {
		return nil, jute.Stat{}, code
	}
	return rd.t.GetData(path, rd.watcher(watch))
}

func (rd *reader) getChildren(path string, watch bool) ([]string, jute.Stat, jute.Code) {
	if code := rd.checkNode(path, jute.PermRead); code != jute.CodeOK {
		return nil, jute.Stat{}, code
	}
	return rd.t.GetChildren(path, rd.watcher(watch))
}

// setWatches re-arms a reconnecting client's watches, on any path as
// ZooKeeper does. ZooKeeper walks the data, exist, child, persistent and
// persistent-recursive lists in that order and fails with a
// NullPointerException, which its FinalRequestProcessor answers
// MarshallingError, at the first list sent as null (length -1): the lists
// before it take effect (their events are sent), the rest do not.
func (rd *reader) setWatches(sw *jute.SetWatches2) ([]datatree.Event, jute.Code) {
	clean := *sw
	lists := []*[]string{&clean.DataWatches, &clean.ExistWatches, &clean.ChildWatches,
		&clean.PersistentWatches, &clean.PersistentRecursiveWatches}
	code := jute.CodeOK
	for _, l := range lists {
		if code == jute.CodeOK && *l == nil {
			code = jute.CodeMarshallingError
		}
		if code != jute.CodeOK {
			*l = nil
		}
	}
	if rd.w == 0 {
		return nil, code
	}
	return rd.t.SetWatches(rd.w, sw.RelativeZxid, &clean), code
}

// multiRead answers each getData/getChildren of a multiRead on its own
// (without watches, as ZooKeeper's Op records carry none): results and
// errors mixed in one MultiResponse.
func (rd *reader) multiRead(b []byte, ops []opsMultiOp) []byte {
	for _, o := range ops {
		switch req := o.req.(type) {
		case *jute.GetChildrenRequest:
			kids, _, code := rd.getChildren(req.Path, false)
			if code != jute.CodeOK {
				b = readAppendMultiError(b, code)
				continue
			}
			b = (&jute.MultiHeader{Type: int32(jute.OpGetChildren)}).Encode(b)
			b = (&jute.GetChildrenResponse{Children: kids}).Encode(b)
		case *jute.GetDataRequest:
			data, stat, code := rd.getData(req.Path, false)
			if code != jute.CodeOK {
				b = readAppendMultiError(b, code)
				continue
			}
			b = (&jute.MultiHeader{Type: int32(jute.OpGetData)}).Encode(b)
			b = (&jute.GetDataResponse{Data: data, Stat: stat}).Encode(b)
		}
	}
	return (&jute.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(b)
}

func readAppendMultiError(b []byte, code jute.Code) []byte {
	b = (&jute.MultiHeader{Type: int32(jute.OpError), Err: int32(code)}).Encode(b)
	return (&jute.ErrorResponse{Err: int32(code)}).Encode(b)
}

// readWatcherType maps a request's watcher type (Watcher.WatcherType).
func readWatcherType(v int32) (jute.WatcherType, bool) {
	t := jute.WatcherType(v)
	switch t {
	case jute.WatcherChildren, jute.WatcherData, jute.WatcherAny,
		jute.WatcherPersistent, jute.WatcherPersistentRecursive:
		return t, true
	}
	return 0, false
}
