package datatree

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/gokeeper/gokeeper/jute"
)

var eventNames = map[jute.EventType]string{
	jute.EventNodeCreated: "NodeCreated", jute.EventNodeDeleted: "NodeDeleted",
	jute.EventNodeDataChanged: "NodeDataChanged", jute.EventNodeChildrenChanged: "NodeChildrenChanged",
	jute.EventDataWatchRemoved: "DataWatchRemoved", jute.EventChildWatchRemoved: "ChildWatchRemoved",
	jute.EventPersistentWatchRemoved: "PersistentWatchRemoved",
}

var watcherTypes = map[string]jute.WatcherType{
	"children": jute.WatcherChildren, "data": jute.WatcherData, "any": jute.WatcherAny,
	"persistent": jute.WatcherPersistent, "recursive": jute.WatcherPersistentRecursive,
}

var codeNames = map[string]jute.Code{
	"BadVersion": jute.CodeBadVersion, "NoNode": jute.CodeNoNode, "NodeExists": jute.CodeNodeExists,
	"NotEmpty": jute.CodeNotEmpty, "RuntimeInconsistency": jute.CodeRuntimeInconsistency,
}

func fmtEvents(sb *strings.Builder, evs []Event) {
	for _, e := range evs {
		fmt.Fprintf(sb, "w%d %s %s zxid=%d\n", e.Watcher, eventNames[e.Type], e.Path, e.Zxid)
	}
}

func fmtStat(s jute.Stat) string {
	return fmt.Sprintf("czxid=%d mzxid=%d pzxid=%d ver=%d cver=%d aver=%d eph=%#x len=%d kids=%d",
		s.Czxid, s.Mzxid, s.Pzxid, s.Version, s.Cversion, s.Aversion, s.EphemeralOwner, s.DataLength, s.NumChildren)
}

// ddState is one datadriven file's tree and txn clock.
type ddState struct {
	tr *Tree
	b  txnBuilder
}

func argOr(td *datadriven.TestData, key, def string) string {
	for _, a := range td.CmdArgs {
		if a.Key == key {
			if len(a.Vals) == 0 {
				return "true"
			}
			return a.Vals[0]
		}
	}
	return def
}

func argInt(td *datadriven.TestData, key string, def int64) int64 {
	v := argOr(td, key, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		panic(err)
	}
	return n
}

// opTxn turns one "op path [data]" line or command into a txn.
// pending counts creates under each parent already in the multi being
// built, as prep's outstanding changes would.
func (s *ddState) opTxn(op, path, data string, session int64, flags map[string]bool, ttl int64, pending map[string]int32) (jute.OpCode, jute.Record) {
	acl := jute.OpenACLUnsafe()
	switch op {
	case "create":
		parent, _ := splitPath(path)
		cv := parentCV(s.tr, path) + pending[parent]
		if pending != nil {
			pending[parent]++
		}
		switch {
		case flags["container"]:
			return jute.OpCreateContainer, &jute.CreateContainerTxn{Path: path, Data: []byte(data), Acl: acl, ParentCVersion: cv}
		case ttl > 0:
			return jute.OpCreateTTL, &jute.CreateTTLTxn{Path: path, Data: []byte(data), Acl: acl, ParentCVersion: cv, Ttl: ttl}
		}
		return jute.OpCreate, &jute.CreateTxn{Path: path, Data: []byte(data), Acl: acl, Ephemeral: flags["ephemeral"], ParentCVersion: cv}
	case "delete":
		return jute.OpDelete, &jute.DeleteTxn{Path: path}
	case "set":
		v := int32(0)
		if ni, ok := s.tr.Node(path); ok {
			v = ni.Stat.Version + 1
		}
		return jute.OpSetData, &jute.SetDataTxn{Path: path, Data: []byte(data), Version: v}
	case "check":
		return jute.OpCheck, &jute.CheckVersionTxn{Path: path}
	case "error":
		return jute.OpError, &jute.ErrorTxn{Err: int32(codeNames[path])}
	}
	panic("unknown op " + op)
}

func (s *ddState) run(t *testing.T, td *datadriven.TestData) string {
	var sb strings.Builder
	path := argOr(td, "path", "/")
	w := WatcherID(argInt(td, "w", 0))
	session := argInt(td, "session", 1)
	apply := func(op jute.OpCode, body jute.Record) {
		r := s.tr.Apply(s.b.hdr(op, session), body)
		fmt.Fprintf(&sb, "zxid=%d err=%v\n", s.b.zxid, r.Err)
		for i, m := range r.Multi {
			fmt.Fprintf(&sb, "  op%d %v err=%v %s\n", i, m.Type, m.Err, m.Path)
		}
		fmtEvents(&sb, r.Events)
	}
	switch td.Cmd {
	case "create", "delete", "set", "check":
		flags := map[string]bool{"ephemeral": td.HasArg("ephemeral"), "container": td.HasArg("container")}
		apply(s.opTxn(td.Cmd, path, argOr(td, "data", ""), session, flags, argInt(td, "ttl", 0), nil))
	case "close":
		var body jute.Record
		if p := argOr(td, "paths", ""); p != "" {
			body = &jute.CloseSessionTxn{Paths2Delete: strings.Split(p, ",")}
		}
		apply(jute.OpCloseSession, body)
	case "multi":
		mt := &jute.MultiTxn{}
		pending := map[string]int32{}
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			f := strings.Fields(line)
			data := ""
			if len(f) > 2 {
				data = f[2]
			}
			op, rec := s.opTxn(f[0], f[1], data, session, nil, 0, pending)
			mt.Txns = append(mt.Txns, encodeTxn(op, rec))
		}
		apply(jute.OpMulti, mt)
	case "get":
		d, st, code := s.tr.GetData(path, w)
		fmt.Fprintf(&sb, "%v %q %s\n", code, d, fmtStat(st))
	case "exists":
		st, code := s.tr.Exists(path, w)
		fmt.Fprintf(&sb, "%v %s\n", code, fmtStat(st))
	case "children":
		kids, st, code := s.tr.GetChildren(path, w)
		fmt.Fprintf(&sb, "%v %v %s\n", code, kids, fmtStat(st))
	case "addwatch":
		mode := jute.AddWatchPersistent
		if argOr(td, "mode", "") == "recursive" {
			mode = jute.AddWatchPersistentRecursive
		}
		s.tr.AddWatch(path, w, mode)
		return "ok"
	case "checkwatches":
		return s.tr.CheckWatches(path, w, watcherTypes[argOr(td, "type", "any")]).Error()
	case "removewatches":
		evs, code := s.tr.RemoveWatches(path, w, watcherTypes[argOr(td, "type", "any")])
		sb.WriteString(code.Error() + "\n")
		fmtEvents(&sb, evs)
	case "removewatcher":
		s.tr.RemoveWatcher(w)
		return "ok"
	case "setwatches":
		sw := &jute.SetWatches2{}
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			switch f[0] {
			case "data":
				sw.DataWatches = append(sw.DataWatches, f[1])
			case "exist":
				sw.ExistWatches = append(sw.ExistWatches, f[1])
			case "child":
				sw.ChildWatches = append(sw.ChildWatches, f[1])
			case "persistent":
				sw.PersistentWatches = append(sw.PersistentWatches, f[1])
			case "recursive":
				sw.PersistentRecursiveWatches = append(sw.PersistentRecursiveWatches, f[1])
			}
		}
		fmtEvents(&sb, s.tr.SetWatches(w, argInt(td, "zxid", 0), sw))
	case "watches":
		byW := s.tr.WatchesByWatcher()
		ids := make([]WatcherID, 0, len(byW))
		for id := range byW {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			fmt.Fprintf(&sb, "w%d data/exist: %v\n", id, byW[id])
		}
		c, p, tot := s.tr.WatchSummary()
		fmt.Fprintf(&sb, "summary: %d connections, %d paths, %d watches; count %d\n", c, p, tot, s.tr.WatchCount())
	case "ephemerals":
		fmt.Fprintf(&sb, "%v total=%d\n", s.tr.Ephemerals(session), s.tr.EphemeralCount())
	case "expired":
		fmt.Fprintf(&sb, "%v\n", s.tr.ExpiredContainers(argInt(td, "now", 0)))
	case "tree":
		_ = s.tr.Walk(nil, func(n *SnapshotNode) error {
			if strings.HasPrefix(n.Path, "/zookeeper") && !td.HasArg("all") {
				return nil
			}
			_, st, _ := s.tr.GetData(watchPath(n.Path), 0)
			fmt.Fprintf(&sb, "%s %q %s\n", watchPath(n.Path), n.Data, fmtStat(st))
			return nil
		})
	default:
		t.Fatalf("unknown command %s", td.Cmd)
	}
	return sb.String()
}

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &ddState{tr: New(Options{})}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return s.run(t, td)
		})
	})
}
