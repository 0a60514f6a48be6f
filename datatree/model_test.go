package datatree

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// model is a deliberately naive reference: a map from full path to node,
// children and ephemerals found by linear scans, watches in a flat list.
type model struct {
	nodes   map[string]*mnode
	watches []mwatch
}

type mnode struct {
	data []byte
	acl  []jute.ACL
	st   jute.StatPersisted
}

type mwatch struct {
	w    WatcherID
	path string
	kind byte // 'd' data/exist, 'c' child, 'p' persistent, 'r' recursive
}

func newModel() *model {
	m := &model{nodes: map[string]*mnode{}}
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota"} {
		m.nodes[p] = &mnode{data: []byte{}, acl: jute.OpenACLUnsafe()}
	}
	m.nodes["/zookeeper/config"] = &mnode{data: []byte{}, acl: jute.ReadACLUnsafe(), st: jute.StatPersisted{Aversion: -1}}
	return m
}

func mParent(p string) string {
	i := strings.LastIndex(p, "/")
	if i == 0 {
		return "/"
	}
	return p[:i]
}

func (m *model) children(p string) []string {
	var out []string
	for k := range m.nodes {
		if k != "/" && mParent(k) == p {
			out = append(out, k[strings.LastIndex(k, "/")+1:])
		}
	}
	sort.Strings(out)
	return out
}

func (m *model) stat(p string) jute.Stat {
	n := m.nodes[p]
	nc := int32(len(m.children(p)))
	owner := n.st.EphemeralOwner
	if owner == ContainerEphemeralOwner || uint64(owner)>>56 == 0xFF {
		owner = 0
	}
	return jute.Stat{Czxid: n.st.Czxid, Mzxid: n.st.Mzxid, Ctime: n.st.Ctime, Mtime: n.st.Mtime,
		Version: n.st.Version, Cversion: n.st.Cversion*2 - nc, Aversion: n.st.Aversion,
		EphemeralOwner: owner, DataLength: int32(len(n.data)), NumChildren: nc, Pzxid: n.st.Pzxid}
}

// fire collects watchers of the given kinds on path (and recursive ones on
// ancestors when anc), consuming one-shot ones, minus those in suppress.
func (m *model) fire(path string, kinds string, anc bool, typ jute.EventType, zxid int64, acl []jute.ACL, suppress map[WatcherID]bool, evs *[]Event) map[WatcherID]bool {
	got := map[WatcherID]bool{}
	var keep []mwatch
	for _, w := range m.watches {
		hit := w.path == path && strings.IndexByte(kinds, w.kind) >= 0
		if anc && w.kind == 'r' && w.path != path && (w.path == "/" || strings.HasPrefix(path, w.path+"/")) {
			hit = true
		}
		if hit {
			got[w.w] = true
		}
		if !(hit && (w.kind == 'd' || w.kind == 'c') && w.path == path) {
			keep = append(keep, w)
		}
	}
	m.watches = keep
	var ids []WatcherID
	for id := range got {
		if !suppress[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		*evs = append(*evs, Event{Watcher: id, Type: typ, Path: path, Zxid: zxid, ACL: acl})
	}
	return got
}

func (m *model) addWatch(w WatcherID, path string, kind byte) {
	for _, x := range m.watches {
		if x.w == w && x.path == path && x.kind == kind {
			return
		}
	}
	m.watches = append(m.watches, mwatch{w, path, kind})
}

type mres struct {
	err   jute.Code
	stat  jute.Stat
	multi []OpResult
}

func (m *model) apply(h *jute.TxnHeader, body jute.Record, evs *[]Event) mres {
	zxid := h.Zxid
	switch op := jute.OpCode(h.Type); op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
		var path string
		var data []byte
		var acl []jute.ACL
		var cv int32
		owner := int64(0)
		if op == jute.OpCreateContainer {
			c := body.(*jute.CreateContainerTxn)
			path, data, acl, cv, owner = c.Path, c.Data, c.Acl, c.ParentCVersion, ContainerEphemeralOwner
		} else {
			c := body.(*jute.CreateTxn)
			path, data, acl, cv = c.Path, c.Data, c.Acl, c.ParentCVersion
			if c.Ephemeral {
				owner = h.ClientId
			}
		}
		pp := mParent(path)
		parent := m.nodes[pp]
		if parent == nil {
			return mres{err: jute.CodeNoNode}
		}
		if ex := m.nodes[path]; ex != nil {
			ex.acl = slices.Clone(acl)
			if op == jute.OpCreate {
				if cv == -1 {
					cv = parent.st.Cversion + 1
				}
				if cv > parent.st.Cversion {
					parent.st.Cversion, parent.st.Pzxid = cv, zxid
				}
			}
			return mres{err: jute.CodeNodeExists}
		}
		if cv == -1 {
			cv = parent.st.Cversion + 1
		}
		if cv > parent.st.Cversion {
			parent.st.Cversion, parent.st.Pzxid = cv, zxid
		}
		m.nodes[path] = &mnode{data: slices.Clone(data), acl: slices.Clone(acl), st: jute.StatPersisted{
			Czxid: zxid, Mzxid: zxid, Ctime: h.Time, Mtime: h.Time, Pzxid: zxid, EphemeralOwner: owner}}
		m.fire(path, "dpr", true, jute.EventNodeCreated, zxid, acl, nil, evs)
		m.fire(pp, "cp", false, jute.EventNodeChildrenChanged, zxid, parent.acl, nil, evs)
		return mres{stat: m.stat(path)}
	case jute.OpDelete:
		path := body.(*jute.DeleteTxn).Path
		pp := mParent(path)
		parent := m.nodes[pp]
		if parent == nil {
			return mres{err: jute.CodeNoNode}
		}
		if zxid > parent.st.Pzxid {
			parent.st.Pzxid = zxid
		}
		n := m.nodes[path]
		if n == nil {
			return mres{err: jute.CodeNoNode}
		}
		delete(m.nodes, path)
		a := m.fire(path, "dpr", true, jute.EventNodeDeleted, zxid, n.acl, nil, evs)
		m.fire(path, "cp", false, jute.EventNodeDeleted, zxid, n.acl, a, evs)
		m.fire(pp, "cp", false, jute.EventNodeChildrenChanged, zxid, parent.acl, nil, evs)
		return mres{}
	case jute.OpSetData:
		s := body.(*jute.SetDataTxn)
		n := m.nodes[s.Path]
		if n == nil {
			return mres{err: jute.CodeNoNode}
		}
		n.data, n.st.Mzxid, n.st.Mtime, n.st.Version = slices.Clone(s.Data), zxid, h.Time, s.Version
		st := m.stat(s.Path)
		m.fire(s.Path, "dpr", true, jute.EventNodeDataChanged, zxid, n.acl, nil, evs)
		return mres{stat: st}
	case jute.OpSetACL:
		s := body.(*jute.SetACLTxn)
		n := m.nodes[s.Path]
		if n == nil {
			return mres{err: jute.CodeNoNode}
		}
		n.acl, n.st.Aversion = slices.Clone(s.Acl), s.Version
		return mres{stat: m.stat(s.Path)}
	case jute.OpCheck:
		return mres{}
	case jute.OpError:
		return mres{err: jute.Code(body.(*jute.ErrorTxn).Err)}
	case jute.OpCloseSession:
		var paths []string
		if c, ok := body.(*jute.CloseSessionTxn); ok && c != nil {
			paths = c.Paths2Delete
		}
		var owned []string
		for p, n := range m.nodes {
			if n.st.EphemeralOwner == h.ClientId {
				owned = append(owned, p)
			}
		}
		sort.Strings(owned)
		for _, p := range paths {
			m.apply(&jute.TxnHeader{Zxid: zxid, Type: int32(jute.OpDelete)}, &jute.DeleteTxn{Path: p}, evs)
		}
		for _, p := range owned {
			if !slices.Contains(paths, p) {
				m.apply(&jute.TxnHeader{Zxid: zxid, Type: int32(jute.OpDelete)}, &jute.DeleteTxn{Path: p}, evs)
			}
		}
		return mres{}
	case jute.OpMulti:
		mt := body.(*jute.MultiTxn)
		failed := false
		for _, s := range mt.Txns {
			failed = failed || jute.OpCode(s.Type) == jute.OpError
		}
		var r mres
		post := false
		for _, s := range mt.Txns {
			typ := jute.OpCode(s.Type)
			var sub mres
			if typ == jute.OpError {
				post = true
			}
			if failed {
				if typ == jute.OpError {
					var e jute.ErrorTxn
					_ = jute.Unmarshal(s.Data, &e, 1<<20)
					sub.err = jute.Code(e.Err)
				} else if post {
					sub.err = jute.CodeRuntimeInconsistency
				}
				typ = jute.OpError
			} else {
				rec := jute.NewTxnRecord(typ)
				_ = jute.Unmarshal(s.Data, rec, 1<<20)
				sub = m.apply(&jute.TxnHeader{ClientId: h.ClientId, Zxid: zxid, Time: h.Time, Type: int32(typ)}, rec, evs)
			}
			res := OpResult{Type: typ, Err: sub.err, Stat: sub.stat}
			if sub.err != jute.CodeOK {
				res.Type = jute.OpError
			}
			r.multi = append(r.multi, res)
			if sub.err != 0 && r.err == 0 {
				r.err = sub.err
			}
		}
		return r
	}
	panic("model: op")
}

func (m *model) dump() string {
	var paths []string
	for p := range m.nodes {
		paths = append(paths, p)
	}
	// Walk order: parents before children, siblings by name.
	sort.Slice(paths, func(i, j int) bool {
		a, b := strings.Split(paths[i], "/"), strings.Split(paths[j], "/")
		if paths[i] == "/" {
			return paths[j] != "/"
		}
		if paths[j] == "/" {
			return false
		}
		return slices.Compare(a, b) < 0
	})
	var sb strings.Builder
	for _, p := range paths {
		n := m.nodes[p]
		q := p
		if q == "/" {
			q = ""
		}
		fmt.Fprintf(&sb, "%q %q %v %+v\n", q, n.data, n.acl, n.st)
	}
	return sb.String()
}

// TestRandomAgainstModel applies random txn sequences, failures included,
// with random watches, to the tree and to the model, and compares every
// result, stat, event and, after every step, the whole tree.
func TestRandomAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomRun(t, seed, 400) })
	}
}

func randomRun(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	tr := New(Options{})
	m := newModel()
	var zxid int64
	names := []string{"a", "b", "c", "d"}
	acls := [][]jute.ACL{jute.OpenACLUnsafe(), jute.ReadACLUnsafe(), {{Perms: 3, Id: jute.Id{Scheme: "ip", Id: "127.0.0.1"}}}}
	randPath := func() string {
		p := ""
		for d := rng.Intn(3) + 1; d > 0; d-- {
			p += "/" + names[rng.Intn(len(names))]
		}
		return p
	}
	existing := func() string {
		var ps []string
		for p := range m.nodes {
			if !strings.HasPrefix(p, "/zookeeper") {
				ps = append(ps, p)
			}
		}
		sort.Strings(ps)
		return ps[rng.Intn(len(ps))]
	}
	// genOp makes one txn as prep would (or a failing/replayed one);
	// pending counts creates already in the multi under each parent.
	genOp := func(pending map[string]int32, inMulti bool) (jute.OpCode, jute.Record) {
		switch k := rng.Intn(10); {
		case k < 4:
			p := randPath()
			if rng.Intn(3) == 0 {
				e := existing()
				if e != "/" {
					p = e + "/" + names[rng.Intn(len(names))]
				}
			}
			pp := mParent(p)
			if n := m.nodes[pp]; n != nil && n.st.EphemeralOwner != 0 && !IsContainer(n.st.EphemeralOwner) {
				// Prep refuses children of ephemerals (NoChildrenForEphemerals).
				return jute.OpCheck, &jute.CheckVersionTxn{Path: pp}
			}
			cv := int32(-1)
			if n := m.nodes[pp]; n != nil && rng.Intn(5) > 0 {
				cv = n.st.Cversion + 1 + pending[pp]
			}
			if pending != nil {
				pending[pp]++
			}
			data := []byte(strings.Repeat("x", rng.Intn(5)))
			if rng.Intn(6) == 0 {
				data = nil
			}
			acl := acls[rng.Intn(len(acls))]
			if !inMulti && rng.Intn(8) == 0 {
				return jute.OpCreateContainer, &jute.CreateContainerTxn{Path: p, Data: data, Acl: acl, ParentCVersion: cv}
			}
			op := jute.OpCreate
			if rng.Intn(2) == 0 {
				op = jute.OpCreate2
			}
			return op, &jute.CreateTxn{Path: p, Data: data, Acl: acl, Ephemeral: !inMulti && rng.Intn(3) == 0, ParentCVersion: cv}
		case k < 6:
			// Delete a leaf (prep never lets a node with children go), or a
			// missing node (replay).
			p := existing()
			if p == "/" || len(m.children(p)) > 0 || pending[p] > 0 || rng.Intn(4) == 0 {
				p = randPath()
				if m.nodes[p] != nil && (len(m.children(p)) > 0 || pending[p] > 0) || pending[p] > 0 {
					p += "/zz"
				}
			}
			return jute.OpDelete, &jute.DeleteTxn{Path: p}
		case k < 8:
			p := existing()
			if rng.Intn(5) == 0 {
				p = randPath()
			}
			return jute.OpSetData, &jute.SetDataTxn{Path: p, Data: []byte(strings.Repeat("y", rng.Intn(7))), Version: int32(rng.Intn(5))}
		case k < 9 && !inMulti:
			p := existing()
			return jute.OpSetACL, &jute.SetACLTxn{Path: p, Acl: acls[rng.Intn(len(acls))], Version: int32(rng.Intn(5))}
		default:
			return jute.OpCheck, &jute.CheckVersionTxn{Path: existing()}
		}
	}
	for step := 0; step < steps; step++ {
		// Random reads that leave watches, on both.
		for i := rng.Intn(4); i > 0; i-- {
			w := WatcherID(rng.Intn(4) + 1)
			p := randPath()
			if rng.Intn(2) == 0 {
				p = existing()
			}
			switch rng.Intn(6) {
			case 0:
				_, st, code := tr.GetData(p, w)
				if code == jute.CodeOK {
					m.addWatch(w, p, 'd')
					if st != m.stat(p) {
						t.Fatalf("step %d getData %s: %+v vs %+v", step, p, st, m.stat(p))
					}
				} else if m.nodes[p] != nil {
					t.Fatalf("step %d getData %s: %v", step, p, code)
				}
			case 1:
				_, code := tr.Exists(p, w)
				m.addWatch(w, p, 'd')
				if (code == jute.CodeOK) != (m.nodes[p] != nil) {
					t.Fatalf("step %d exists %s: %v", step, p, code)
				}
			case 2:
				kids, _, code := tr.GetChildren(p, w)
				if code == jute.CodeOK {
					m.addWatch(w, p, 'c')
					if want := m.children(p); !slices.Equal(kids, want) && len(want)+len(kids) > 0 {
						t.Fatalf("step %d children %s: %v vs %v", step, p, kids, want)
					}
				}
			case 3:
				if rng.Intn(2) == 0 {
					tr.AddWatch(p, w, jute.AddWatchPersistent)
					m.addWatch(w, p, 'p')
				} else {
					tr.AddWatch(p, w, jute.AddWatchPersistentRecursive)
					m.addWatch(w, p, 'r')
				}
			case 4:
				if rng.Intn(4) == 0 {
					_, code := tr.RemoveWatches(p, w, jute.WatcherAny)
					had := false
					var keep []mwatch
					for _, x := range m.watches {
						if x.w == w && x.path == p {
							had = true
						} else {
							keep = append(keep, x)
						}
					}
					m.watches = keep
					if (code == jute.CodeOK) != had {
						t.Fatalf("step %d removeWatches %s w%d: %v, model had %v", step, p, w, code, had)
					}
				}
			case 5:
				if rng.Intn(10) == 0 {
					tr.RemoveWatcher(w)
					var keep []mwatch
					for _, x := range m.watches {
						if x.w != w {
							keep = append(keep, x)
						}
					}
					m.watches = keep
				}
			}
		}
		zxid++
		session := int64(rng.Intn(3) + 1)
		h := &jute.TxnHeader{ClientId: session, Zxid: zxid, Time: zxid * 7}
		var body jute.Record
		switch k := rng.Intn(20); {
		case k == 0:
			h.Type = int32(jute.OpCloseSession)
			if rng.Intn(2) == 0 {
				var ps []string
				for p, n := range m.nodes {
					if n.st.EphemeralOwner == session && rng.Intn(2) == 0 {
						ps = append(ps, p)
					}
				}
				sort.Strings(ps)
				body = &jute.CloseSessionTxn{Paths2Delete: ps}
			}
		case k < 4:
			h.Type = int32(jute.OpMulti)
			mt := &jute.MultiTxn{}
			pending := map[string]int32{}
			n := rng.Intn(4) + 1
			fail := rng.Intn(3) == 0
			for i := 0; i < n; i++ {
				op, rec := genOp(pending, true)
				if fail && i == n/2 {
					op, rec = jute.OpError, &jute.ErrorTxn{Err: int32(jute.CodeBadVersion)}
				} else if fail && i > n/2 {
					op, rec = jute.OpError, &jute.ErrorTxn{Err: int32(jute.CodeRuntimeInconsistency)}
				}
				mt.Txns = append(mt.Txns, encodeTxn(op, rec))
			}
			body = mt
		case k == 4:
			h.Type = int32(jute.OpError)
			body = &jute.ErrorTxn{Err: int32(jute.CodeNoNode)}
		default:
			op, rec := genOp(nil, false)
			h.Type, body = int32(op), rec
		}
		var mevs []Event
		want := m.apply(h, body, &mevs)
		got := tr.Apply(h, body)
		if got.Err != want.err {
			t.Fatalf("step %d %v: err %v, model %v", step, jute.OpCode(h.Type), got.Err, want.err)
		}
		if got.Err == jute.CodeOK && (h.Type == int32(jute.OpSetData) || h.Type == int32(jute.OpSetACL) || h.Type == int32(jute.OpCreate2)) && got.Stat != want.stat {
			t.Fatalf("step %d %v: stat %+v, model %+v", step, jute.OpCode(h.Type), got.Stat, want.stat)
		}
		if len(got.Multi) != len(want.multi) {
			t.Fatalf("step %d multi: %+v vs %+v", step, got.Multi, want.multi)
		}
		for i := range got.Multi {
			g, w := got.Multi[i], want.multi[i]
			g.Path = ""
			if g.Type == jute.OpCreate || g.Type == jute.OpDelete || g.Type == jute.OpCheck {
				g.Stat = jute.Stat{}
				w.Stat = jute.Stat{}
			}
			if g != w {
				t.Fatalf("step %d multi op %d: %+v vs %+v", step, i, g, w)
			}
		}
		if !slices.EqualFunc(got.Events, mevs, sameEvent) {
			t.Fatalf("step %d %v: events\n%v\nmodel\n%v", step, jute.OpCode(h.Type), got.Events, mevs)
		}
		if g, w := dump(tr), m.dump(); g != w {
			t.Fatalf("step %d %v: tree\n%s\nmodel\n%s", step, jute.OpCode(h.Type), g, w)
		}
		for s := int64(1); s <= 3; s++ {
			var want []string
			for p, n := range m.nodes {
				if n.st.EphemeralOwner == s {
					want = append(want, p)
				}
			}
			sort.Strings(want)
			if got := tr.Ephemerals(s); !slices.Equal(got, want) && len(got)+len(want) > 0 {
				t.Fatalf("step %d ephemerals of %d: %v vs %v", step, s, got, want)
			}
		}
		if tr.NodeCount() != len(m.nodes)+1 {
			t.Fatalf("step %d NodeCount %d, model %d", step, tr.NodeCount(), len(m.nodes)+1)
		}
		if n, _ := tr.AllChildrenNumber("/"); int(n) != len(m.nodes)-1 {
			t.Fatalf("step %d AllChildrenNumber %d", step, n)
		}
	}
}

// sameEvent compares events field by field, the ACL by content.
func sameEvent(a, b Event) bool {
	return a.Watcher == b.Watcher && a.Type == b.Type && a.Path == b.Path && a.Zxid == b.Zxid &&
		slices.EqualFunc(a.ACL, b.ACL, func(x, y jute.ACL) bool { return x == y })
}
