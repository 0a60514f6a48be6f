package scenario

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

// Normalizer rewrites the values that legitimately differ between two
// servers (or two runs on one server) into stable tokens:
//
//   - zxids are rebased: the first non-zero zxid the scenario sees becomes
//     Z+0 and every other zxid is written relative to it (Z+3, Z-1); 0 and
//     -1 stay as they are;
//   - ctime and mtime become T when they are plausible wall-clock times of
//     this run (mtime must not precede ctime), 0 stays 0, anything else is
//     kept raw and so shows up in the diff;
//   - session ids become s1, s2, ... in order of first appearance;
//   - the scenario's root path becomes /R;
//   - session passwords are reduced to their length;
//   - the target's aliases (its own addresses) are replaced in node data.
//
// A Normalizer is owned by one scenario run.
type Normalizer struct {
	root     string
	baseZxid int64
	haveBase bool
	sessions map[int64]string
	start    time.Time
	aliases  *strings.Replacer
}

// NewNormalizer returns a Normalizer for a run rooted at root that started
// at start.
func NewNormalizer(root string, start time.Time) *Normalizer {
	return &Normalizer{root: root, sessions: map[int64]string{}, start: start}
}

// Zxid returns the rebased token for z.
func (n *Normalizer) Zxid(z int64) string {
	if z == 0 || z == -1 {
		return strconv.FormatInt(z, 10)
	}
	if !n.haveBase {
		n.baseZxid, n.haveBase = z, true
	}
	d := z - n.baseZxid
	if d >= 0 {
		return "Z+" + strconv.FormatInt(d, 10)
	}
	return "Z" + strconv.FormatInt(d, 10)
}

// Session returns the token for session id (s1, s2, ...; 0 stays 0).
func (n *Normalizer) Session(id int64) string {
	if id == 0 {
		return "0"
	}
	if s, ok := n.sessions[id]; ok {
		return s
	}
	s := "s" + strconv.Itoa(len(n.sessions)+1)
	n.sessions[id] = s
	return s
}

// Time returns the token for a ctime or mtime in milliseconds.
func (n *Normalizer) Time(ms int64) string {
	if ms == 0 {
		return "0"
	}
	t := time.UnixMilli(ms)
	if t.After(n.start.Add(-time.Hour)) && t.Before(time.Now().Add(time.Hour)) {
		return "T"
	}
	return "T!" + strconv.FormatInt(ms, 10)
}

// Path replaces the scenario root in p with /R and quotes anything that is
// not printable.
func (n *Normalizer) Path(p string) string {
	if n.root != "" {
		p = strings.ReplaceAll(p, n.root, "/R")
	}
	return quoteIfNeeded(p)
}

func quoteIfNeeded(s string) string {
	q := strconv.Quote(s)
	if q[1:len(q)-1] == s && !strings.ContainsAny(s, " =") {
		return s
	}
	return q
}

// Data renders node data: short printable data in full, long data by
// length and a checksum.
func (n *Normalizer) Data(b []byte) string {
	if b == nil {
		return "null"
	}
	if n.aliases != nil {
		b = []byte(n.aliases.Replace(string(b)))
	}
	if len(b) <= 64 {
		s := string(b)
		if n.root != "" {
			s = strings.ReplaceAll(s, n.root, "/R")
		}
		return strconv.Quote(s)
	}
	var sum uint32
	for _, c := range b {
		sum = sum*31 + uint32(c)
	}
	return fmt.Sprintf("<%d bytes sum=%08x>", len(b), sum)
}

// Stat renders a Stat with zxids, times and the ephemeral owner
// normalised.
func (n *Normalizer) Stat(s *jute.Stat) string {
	mt := n.Time(s.Mtime)
	if s.Mtime < s.Ctime {
		mt = "T!<ctime"
	}
	return fmt.Sprintf("stat{cz=%s mz=%s ct=%s mt=%s v=%d cv=%d av=%d eo=%s dl=%d nc=%d pz=%s}",
		n.Zxid(s.Czxid), n.Zxid(s.Mzxid), n.Time(s.Ctime), mt, s.Version, s.Cversion, s.Aversion,
		n.Session(s.EphemeralOwner), s.DataLength, s.NumChildren, n.Zxid(s.Pzxid))
}

// ACLs renders an ACL list in order.
func (n *Normalizer) ACLs(acls []jute.ACL) string {
	if acls == nil {
		return "null"
	}
	parts := make([]string, len(acls))
	for i, a := range acls {
		parts[i] = fmt.Sprintf("%s:%s:%d", a.Id.Scheme, a.Id.Id, a.Perms)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Paths renders a list of paths sorted, since ZooKeeper returns children
// and ephemerals in hash-set order.
func (n *Normalizer) Paths(ps []string) string {
	if ps == nil {
		return "null"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = n.Path(p)
	}
	sort.Strings(out)
	return "[" + strings.Join(out, ",") + "]"
}

// Record renders a decoded reply body.
func (n *Normalizer) Record(rec jute.Record) string {
	switch r := rec.(type) {
	case nil:
		return ""
	case rawclient.EmptyResponse:
		return ""
	case *jute.CreateResponse:
		return "path=" + n.Path(r.Path)
	case *jute.Create2Response:
		return "path=" + n.Path(r.Path) + " " + n.Stat(&r.Stat)
	case *jute.ExistsResponse:
		return n.Stat(&r.Stat)
	case *jute.GetDataResponse:
		return "data=" + n.Data(r.Data) + " " + n.Stat(&r.Stat)
	case *jute.SetDataResponse:
		return n.Stat(&r.Stat)
	case *jute.GetACLResponse:
		return "acl=" + n.ACLs(r.Acl) + " " + n.Stat(&r.Stat)
	case *jute.SetACLResponse:
		return n.Stat(&r.Stat)
	case *jute.GetChildrenResponse:
		return "children=" + n.Paths(r.Children)
	case *jute.GetChildren2Response:
		return "children=" + n.Paths(r.Children) + " " + n.Stat(&r.Stat)
	case *jute.SyncResponse:
		return "path=" + n.Path(r.Path)
	case *jute.GetEphemeralsResponse:
		return "ephemerals=" + n.Paths(r.Ephemerals)
	case *jute.GetAllChildrenNumberResponse:
		return "number=" + strconv.Itoa(int(r.TotalNumber))
	case *jute.WhoAmIResponse:
		parts := make([]string, len(r.ClientInfo))
		for i, c := range r.ClientInfo {
			parts[i] = c.AuthScheme + ":" + c.User
		}
		return "whoami=[" + strings.Join(parts, ",") + "]"
	case *rawclient.MultiResponse:
		parts := make([]string, len(r.Results))
		for i, res := range r.Results {
			if res.Type == jute.OpError {
				parts[i] = "error:" + codeName(res.Err)
				continue
			}
			s := res.Type.String()
			if body := n.Record(res.Record); body != "" {
				s += " " + body
			}
			parts[i] = s
		}
		return "results=[" + strings.Join(parts, "; ") + "]"
	}
	return fmt.Sprintf("%T", rec)
}

// Event renders a watch event.
func (n *Normalizer) Event(ev *jute.WatcherEvent) string {
	return fmt.Sprintf("event %s %s %s", eventName(jute.EventType(ev.Type)), stateName(jute.KeeperState(ev.State)), n.Path(ev.Path))
}

// Frame renders a reply frame: error code, zxid and body.
func (n *Normalizer) Frame(f *rawclient.Frame) string {
	if f.IsEvent() {
		return n.Event(f.Event)
	}
	s := codeName(f.Err()) + " zxid=" + n.Zxid(f.Header.Zxid)
	if f.DecodeErr != nil {
		return s + fmt.Sprintf(" undecodable(%d bytes)", len(f.Body))
	}
	if f.Err() != jute.CodeOK {
		if len(f.Body) > 0 {
			s += fmt.Sprintf(" body=%d bytes", len(f.Body))
		}
		return s
	}
	if body := n.Record(f.Record); body != "" {
		s += " " + body
	}
	return s
}

var codeNames = map[jute.Code]string{
	jute.CodeOK: "OK", jute.CodeSystemError: "SYSTEMERROR", jute.CodeRuntimeInconsistency: "RUNTIMEINCONSISTENCY",
	jute.CodeDataInconsistency: "DATAINCONSISTENCY", jute.CodeConnectionLoss: "CONNECTIONLOSS",
	jute.CodeMarshallingError: "MARSHALLINGERROR", jute.CodeUnimplemented: "UNIMPLEMENTED",
	jute.CodeOperationTimeout: "OPERATIONTIMEOUT", jute.CodeBadArguments: "BADARGUMENTS",
	jute.CodeUnknownSession: "UNKNOWNSESSION", jute.CodeNewConfigNoQuorum: "NEWCONFIGNOQUORUM",
	jute.CodeReconfigInProgress: "RECONFIGINPROGRESS", jute.CodeAPIError: "APIERROR",
	jute.CodeNoNode: "NONODE", jute.CodeNoAuth: "NOAUTH", jute.CodeBadVersion: "BADVERSION",
	jute.CodeNoChildrenForEphemerals: "NOCHILDRENFOREPHEMERALS", jute.CodeNodeExists: "NODEEXISTS",
	jute.CodeNotEmpty: "NOTEMPTY", jute.CodeSessionExpired: "SESSIONEXPIRED",
	jute.CodeInvalidCallback: "INVALIDCALLBACK", jute.CodeInvalidACL: "INVALIDACL",
	jute.CodeAuthFailed: "AUTHFAILED", jute.CodeSessionMoved: "SESSIONMOVED",
	jute.CodeNotReadOnly: "NOTREADONLY", jute.CodeEphemeralOnLocalSession: "EPHEMERALONLOCALSESSION",
	jute.CodeNoWatcher: "NOWATCHER", jute.CodeRequestTimeout: "REQUESTTIMEOUT",
	jute.CodeReconfigDisabled: "RECONFIGDISABLED", jute.CodeSessionClosedRequireSASLAuth: "SESSIONCLOSEDREQUIRESASLAUTH",
	jute.CodeQuotaExceeded: "QUOTAEXCEEDED", jute.CodeThrottledOp: "THROTTLEDOP",
}

func codeName(c jute.Code) string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "CODE(" + strconv.Itoa(int(c)) + ")"
}

var eventNames = map[jute.EventType]string{
	jute.EventNone: "None", jute.EventNodeCreated: "NodeCreated", jute.EventNodeDeleted: "NodeDeleted",
	jute.EventNodeDataChanged: "NodeDataChanged", jute.EventNodeChildrenChanged: "NodeChildrenChanged",
	jute.EventDataWatchRemoved: "DataWatchRemoved", jute.EventChildWatchRemoved: "ChildWatchRemoved",
	jute.EventPersistentWatchRemoved: "PersistentWatchRemoved",
}

func eventName(t jute.EventType) string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return "Event(" + strconv.Itoa(int(t)) + ")"
}

var stateNames = map[jute.KeeperState]string{
	jute.StateUnknown: "Unknown", jute.StateDisconnected: "Disconnected", jute.StateNoSyncConnected: "NoSyncConnected",
	jute.StateSyncConnected: "SyncConnected", jute.StateAuthFailed: "AuthFailed",
	jute.StateConnectedReadOnly: "ConnectedReadOnly", jute.StateSaslAuthenticated: "SaslAuthenticated",
	jute.StateExpired: "Expired", jute.StateClosed: "Closed",
}

func stateName(s jute.KeeperState) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}
