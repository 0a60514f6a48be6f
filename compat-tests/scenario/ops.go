package scenario

import (
	"fmt"
	"strings"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

// Open is ZooKeeper's OPEN_ACL_UNSAFE.
var Open = jute.OpenACLUnsafe()

func (s *Session) p(path string) string { return s.run.norm.Path(path) }

// Create sends create (op 1).
func (s *Session) Create(path string, data []byte, acl []jute.ACL, mode jute.CreateMode) rawclient.Frame {
	desc := fmt.Sprintf("create %s data=%s acl=%s mode=%d", s.p(path), s.run.norm.Data(data), s.run.norm.ACLs(acl), mode)
	return s.call(true, desc, jute.OpCreate, &jute.CreateRequest{Path: path, Data: data, Acl: acl, Flags: int32(mode)})
}

// Create2 sends create2 (op 15), which also returns the Stat.
func (s *Session) Create2(path string, data []byte, acl []jute.ACL, mode jute.CreateMode) rawclient.Frame {
	desc := fmt.Sprintf("create2 %s data=%s acl=%s mode=%d", s.p(path), s.run.norm.Data(data), s.run.norm.ACLs(acl), mode)
	return s.call(true, desc, jute.OpCreate2, &jute.CreateRequest{Path: path, Data: data, Acl: acl, Flags: int32(mode)})
}

// CreateContainer sends createContainer (op 19).
func (s *Session) CreateContainer(path string, data []byte, mode jute.CreateMode) rawclient.Frame {
	desc := fmt.Sprintf("createContainer %s data=%s mode=%d", s.p(path), s.run.norm.Data(data), mode)
	return s.call(true, desc, jute.OpCreateContainer, &jute.CreateRequest{Path: path, Data: data, Acl: Open, Flags: int32(mode)})
}

// CreateTTL sends createTTL (op 21).
func (s *Session) CreateTTL(path string, data []byte, mode jute.CreateMode, ttl int64) rawclient.Frame {
	desc := fmt.Sprintf("createTTL %s data=%s mode=%d ttl=%d", s.p(path), s.run.norm.Data(data), mode, ttl)
	return s.call(true, desc, jute.OpCreateTTL, &jute.CreateTTLRequest{Path: path, Data: data, Acl: Open, Flags: int32(mode), Ttl: ttl})
}

// Delete sends delete (op 2).
func (s *Session) Delete(path string, version int32) rawclient.Frame {
	return s.call(true, fmt.Sprintf("delete %s v=%d", s.p(path), version), jute.OpDelete, &jute.DeleteRequest{Path: path, Version: version})
}

// Exists sends exists (op 3).
func (s *Session) Exists(path string, watch bool) rawclient.Frame {
	return s.call(true, fmt.Sprintf("exists %s watch=%v", s.p(path), watch), jute.OpExists, &jute.ExistsRequest{Path: path, Watch: watch})
}

// GetData sends getData (op 4).
func (s *Session) GetData(path string, watch bool) rawclient.Frame {
	return s.call(true, fmt.Sprintf("getData %s watch=%v", s.p(path), watch), jute.OpGetData, &jute.GetDataRequest{Path: path, Watch: watch})
}

// SetData sends setData (op 5).
func (s *Session) SetData(path string, data []byte, version int32) rawclient.Frame {
	desc := fmt.Sprintf("setData %s data=%s v=%d", s.p(path), s.run.norm.Data(data), version)
	return s.call(true, desc, jute.OpSetData, &jute.SetDataRequest{Path: path, Data: data, Version: version})
}

// GetACL sends getACL (op 6).
func (s *Session) GetACL(path string) rawclient.Frame {
	return s.call(true, "getACL "+s.p(path), jute.OpGetACL, &jute.GetACLRequest{Path: path})
}

// SetACL sends setACL (op 7).
func (s *Session) SetACL(path string, acl []jute.ACL, version int32) rawclient.Frame {
	desc := fmt.Sprintf("setACL %s acl=%s v=%d", s.p(path), s.run.norm.ACLs(acl), version)
	return s.call(true, desc, jute.OpSetACL, &jute.SetACLRequest{Path: path, Acl: acl, Version: version})
}

// GetChildren sends getChildren (op 8).
func (s *Session) GetChildren(path string, watch bool) rawclient.Frame {
	return s.call(true, fmt.Sprintf("getChildren %s watch=%v", s.p(path), watch), jute.OpGetChildren, &jute.GetChildrenRequest{Path: path, Watch: watch})
}

// GetChildren2 sends getChildren2 (op 12).
func (s *Session) GetChildren2(path string, watch bool) rawclient.Frame {
	return s.call(true, fmt.Sprintf("getChildren2 %s watch=%v", s.p(path), watch), jute.OpGetChildren2, &jute.GetChildren2Request{Path: path, Watch: watch})
}

// Sync sends sync (op 9).
func (s *Session) Sync(path string) rawclient.Frame {
	return s.call(true, "sync "+s.p(path), jute.OpSync, &jute.SyncRequest{Path: path})
}

// Check sends a standalone check (op 13).
func (s *Session) Check(path string, version int32) rawclient.Frame {
	return s.call(true, fmt.Sprintf("check %s v=%d", s.p(path), version), jute.OpCheck, &jute.CheckVersionRequest{Path: path, Version: version})
}

// AddWatch sends addWatch (op 106) with mode AddWatchPersistent or
// AddWatchPersistentRecursive.
func (s *Session) AddWatch(path string, mode int32) rawclient.Frame {
	return s.call(true, fmt.Sprintf("addWatch %s mode=%d", s.p(path), mode), jute.OpAddWatch, &jute.AddWatchRequest{Path: path, Mode: mode})
}

// CheckWatches sends checkWatches (op 17).
func (s *Session) CheckWatches(path string, t jute.WatcherType) rawclient.Frame {
	return s.call(true, fmt.Sprintf("checkWatches %s type=%d", s.p(path), t), jute.OpCheckWatches, &jute.CheckWatchesRequest{Path: path, Type: int32(t)})
}

// RemoveWatches sends removeWatches (op 18).
func (s *Session) RemoveWatches(path string, t jute.WatcherType) rawclient.Frame {
	return s.call(true, fmt.Sprintf("removeWatches %s type=%d", s.p(path), t), jute.OpRemoveWatches, &jute.RemoveWatchesRequest{Path: path, Type: int32(t)})
}

// GetEphemerals sends getEphemerals (op 103).
func (s *Session) GetEphemerals(prefix string) rawclient.Frame {
	return s.call(true, "getEphemerals "+s.p(prefix), jute.OpGetEphemerals, &jute.GetEphemeralsRequest{PrefixPath: prefix})
}

// GetAllChildrenNumber sends getAllChildrenNumber (op 104).
func (s *Session) GetAllChildrenNumber(path string) rawclient.Frame {
	return s.call(true, "getAllChildrenNumber "+s.p(path), jute.OpGetAllChildrenNumber, &jute.GetAllChildrenNumberRequest{Path: path})
}

// WhoAmI sends whoAmI (op 107).
func (s *Session) WhoAmI() rawclient.Frame {
	return s.call(true, "whoAmI", jute.OpWhoAmI, nil)
}

// Multi sends multi (op 14).
func (s *Session) Multi(ops ...rawclient.Op) rawclient.Frame {
	return s.call(true, "multi "+s.describeOps(ops), jute.OpMulti, &rawclient.MultiRequest{Ops: ops})
}

// MultiRead sends multiRead (op 22).
func (s *Session) MultiRead(ops ...rawclient.Op) rawclient.Frame {
	return s.call(true, "multiRead "+s.describeOps(ops), jute.OpMultiRead, &rawclient.MultiRequest{Ops: ops})
}

func (s *Session) describeOps(ops []rawclient.Op) string {
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = op.Type.String() + " " + s.describeReq(op.Req)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func (s *Session) describeReq(rec jute.Record) string {
	n := s.run.norm
	switch r := rec.(type) {
	case *jute.CreateRequest:
		return fmt.Sprintf("%s data=%s acl=%s mode=%d", n.Path(r.Path), n.Data(r.Data), n.ACLs(r.Acl), r.Flags)
	case *jute.CreateTTLRequest:
		return fmt.Sprintf("%s mode=%d ttl=%d", n.Path(r.Path), r.Flags, r.Ttl)
	case *jute.DeleteRequest:
		return fmt.Sprintf("%s v=%d", n.Path(r.Path), r.Version)
	case *jute.SetDataRequest:
		return fmt.Sprintf("%s data=%s v=%d", n.Path(r.Path), n.Data(r.Data), r.Version)
	case *jute.CheckVersionRequest:
		return fmt.Sprintf("%s v=%d", n.Path(r.Path), r.Version)
	case *jute.GetChildrenRequest:
		return fmt.Sprintf("%s watch=%v", n.Path(r.Path), r.Watch)
	case *jute.GetDataRequest:
		return fmt.Sprintf("%s watch=%v", n.Path(r.Path), r.Watch)
	case nil:
		return ""
	}
	return fmt.Sprintf("%T", rec)
}

// Auth sends an auth packet (xid -4).
func (s *Session) Auth(scheme, auth string) rawclient.Frame {
	body := (&jute.AuthPacket{Scheme: scheme, Auth: []byte(auth)}).Encode(nil)
	return s.callRaw(true, fmt.Sprintf("auth %s %q", scheme, auth), jute.RequestHeader{Xid: jute.XidAuth, Type: int32(jute.OpAuth)}, body, false)
}

// SetWatches sends setWatches (op 101, xid -8). A relative zxid of -1
// means "the last zxid this session saw".
func (s *Session) SetWatches(rel int64, data, exist, child []string) rawclient.Frame {
	if rel == -1 {
		rel = s.lastZxd
	}
	req := &jute.SetWatches{RelativeZxid: rel, DataWatches: data, ExistWatches: exist, ChildWatches: child}
	desc := fmt.Sprintf("setWatches rel=%s data=%s exist=%s child=%s", s.run.relZxid(rel),
		s.run.norm.Paths(data), s.run.norm.Paths(exist), s.run.norm.Paths(child))
	return s.callRaw(true, desc, jute.RequestHeader{Xid: jute.XidSetWatches, Type: int32(jute.OpSetWatches)}, req.Encode(nil), false)
}

// SetWatches2 sends setWatches2 (op 105, xid -8). A relative zxid of -1
// means "the last zxid this session saw".
func (s *Session) SetWatches2(rel int64, data, exist, child, persistent, recursive []string) rawclient.Frame {
	if rel == -1 {
		rel = s.lastZxd
	}
	req := &jute.SetWatches2{RelativeZxid: rel, DataWatches: data, ExistWatches: exist, ChildWatches: child,
		PersistentWatches: persistent, PersistentRecursiveWatches: recursive}
	n := s.run.norm
	desc := fmt.Sprintf("setWatches2 rel=%s data=%s exist=%s child=%s persistent=%s recursive=%s", s.run.relZxid(rel),
		n.Paths(data), n.Paths(exist), n.Paths(child), n.Paths(persistent), n.Paths(recursive))
	return s.callRaw(true, desc, jute.RequestHeader{Xid: jute.XidSetWatches, Type: int32(jute.OpSetWatches2)}, req.Encode(nil), false)
}

// Raw sends op with the next xid and a raw body.
func (s *Session) Raw(op jute.OpCode, body []byte) rawclient.Frame {
	return s.callRaw(true, fmt.Sprintf("raw op=%d body=%d bytes", op, len(body)), jute.RequestHeader{Xid: s.Client.NextXid(), Type: int32(op)}, body, true)
}

// RawHeader sends a request with a crafted header and raw body, and waits
// for the reply carrying hdr.Xid.
func (s *Session) RawHeader(hdr jute.RequestHeader, body []byte) rawclient.Frame {
	return s.callRaw(true, fmt.Sprintf("raw xid=%d op=%d body=%d bytes", hdr.Xid, hdr.Type, len(body)), hdr, body, false)
}

// Close sends closeSession and records the reply and whether the server
// then closed the connection.
func (s *Session) Close() rawclient.Frame {
	s.run.unorderedEvents = true
	defer func() { s.run.unorderedEvents = false }()
	f := s.call(true, "closeSession", jute.OpCloseSession, nil)
	if f.Err() == jute.CodeOK {
		s.closed = true
		_, closed := s.Client.WaitClosed(s.run.Target.IOTimeout)
		s.run.add(fmt.Sprintf("%s connection closed=%v", s.Name, closed))
		s.dead = true
		s.Client.Close()
	}
	return f
}

// Drop closes the TCP connection without closing the session, as a client
// that loses its network does.
func (s *Session) Drop() {
	s.run.step++
	s.run.add(s.Name + " drop connection")
	s.dead = true
	s.Client.Close()
}

// ExpectClosed records whether the server closes the connection within
// the IO timeout, with the frames (normalised) that came before.
func (s *Session) ExpectClosed() {
	s.run.step++
	if s.dead {
		s.run.add(s.Name + " closed=true")
		return
	}
	frames, closed := s.Client.WaitClosed(s.run.Target.CloseWait)
	for i := range frames {
		s.run.add(s.Name + " " + s.run.norm.Frame(&frames[i]))
	}
	s.run.add(fmt.Sprintf("%s closed=%v", s.Name, closed))
	if closed {
		s.dead = true
	}
}

// Pipeline sends every request before reading any reply, then records the
// replies in arrival order with their xids relative to the first.
func (s *Session) Pipeline(reqs []rawclient.Op) {
	r := s.run
	r.step++
	if s.dead {
		r.add(s.Name + " pipeline -> ! closed")
		return
	}
	first := s.Client.NextXid()
	for _, q := range reqs {
		if _, err := s.Client.Send(q.Type, q.Req); err != nil {
			break
		}
	}
	r.add(fmt.Sprintf("%s pipeline %d requests: %s", s.Name, len(reqs), s.describeOps(reqs)))
	for got := 0; got < len(reqs); {
		f, err := s.Client.Next()
		if err != nil {
			s.dead = true
			r.add(s.Name + " ! " + errClass(err))
			return
		}
		prefix := s.Name
		if !f.IsEvent() {
			got++
			prefix += fmt.Sprintf(" xid+%d %s", f.Header.Xid-first, f.Op)
		}
		r.add(prefix + " " + r.norm.Frame(&f))
	}
	r.Sync()
}
