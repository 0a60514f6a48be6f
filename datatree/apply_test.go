package datatree

import (
	"slices"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// TestNewSystemNodes pins facts checked against Apache ZooKeeper 3.8.0
// (TestOracle): a fresh server reports zk_znode_count 5 and
// zk_approximate_data_size 44, /zookeeper/config has aclVersion -1, and
// cversion is shown as creates+deletes (so -numChildren for system nodes).
func TestNewSystemNodes(t *testing.T) {
	tr := New(Options{})
	for _, tc := range []struct {
		path     string
		acl      []jute.ACL
		aversion int32
		kids     []string
	}{
		{"/", jute.OpenACLUnsafe(), 0, []string{"zookeeper"}},
		{"/zookeeper", jute.OpenACLUnsafe(), 0, []string{"config", "quota"}},
		{"/zookeeper/quota", jute.OpenACLUnsafe(), 0, []string{}},
		{"/zookeeper/config", jute.ReadACLUnsafe(), -1, []string{}},
	} {
		acl, st, code := tr.GetACL(tc.path)
		if code != jute.CodeOK || !slices.Equal(acl, tc.acl) {
			t.Errorf("%s: acl %v %v", tc.path, acl, code)
		}
		want := jute.Stat{Aversion: tc.aversion, NumChildren: int32(len(tc.kids)), Cversion: -int32(len(tc.kids))}
		if st != want {
			t.Errorf("%s: stat %+v, want %+v", tc.path, st, want)
		}
		kids, _, _ := tr.GetChildren(tc.path, 0)
		if !slices.Equal(kids, tc.kids) {
			t.Errorf("%s: children %v, want %v", tc.path, kids, tc.kids)
		}
	}
	if got := tr.NodeCount(); got != 5 {
		t.Errorf("NodeCount %d, want 5 (as zk_znode_count)", got)
	}
	if got := tr.ApproximateDataSize(); got != 44 {
		t.Errorf("ApproximateDataSize %d, want 44", got)
	}
	if n, _ := tr.AllChildrenNumber("/"); n != 3 {
		t.Errorf("AllChildrenNumber(/) %d, want 3", n)
	}
}

func TestConfigNode(t *testing.T) {
	tr := New(Options{ConfigData: []byte("server.1=a:1:2\nversion=100000000"), ConfigZxid: 0x100000000, ConfigTime: 77})
	d, st, _ := tr.GetData("/zookeeper/config", 0)
	if string(d) != "server.1=a:1:2\nversion=100000000" || st.Version != -1 || st.Mzxid != 0x100000000 || st.Mtime != 77 || st.Aversion != -1 {
		t.Fatalf("config %q %+v", d, st)
	}
}

func TestCreateStat(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	r := mustOK(t, b.create(tr, "/a", "hello", 0x55, false))
	want := jute.Stat{Czxid: 1, Mzxid: 1, Ctime: 10, Mtime: 10, Pzxid: 1, DataLength: 5}
	if r.Stat != want || r.Path != "/a" {
		t.Fatalf("create stat %+v, want %+v", r.Stat, want)
	}
	root, _ := tr.Exists("/", 0)
	// Root: one create so far beside /zookeeper (which ZooKeeper never
	// counted): persisted cversion 1, 2 children -> client cversion 0.
	if root.Cversion != 0 || root.NumChildren != 2 || root.Pzxid != 1 {
		t.Fatalf("root stat %+v", root)
	}
	r = mustOK(t, b.create(tr, "/a/e", "", 0x55, true))
	if r.Stat.EphemeralOwner != 0x55 || r.Stat.Czxid != 2 {
		t.Fatalf("ephemeral stat %+v", r.Stat)
	}
	a, _ := tr.Exists("/a", 0)
	if a.Cversion != 1 || a.NumChildren != 1 || a.Pzxid != 2 || a.Mzxid != 1 {
		t.Fatalf("parent stat %+v", a)
	}
	mustOK(t, b.delete(tr, "/a/e"))
	a, _ = tr.Exists("/a", 0)
	if a.Cversion != 2 || a.NumChildren != 0 || a.Pzxid != 3 {
		t.Fatalf("parent stat after delete %+v", a)
	}
	if eph := tr.Ephemerals(0x55); len(eph) != 0 {
		t.Fatalf("ephemerals left %v", eph)
	}
}

func TestApplyErrors(t *testing.T) {
	acl := jute.OpenACLUnsafe()
	for _, tc := range []struct {
		name string
		op   jute.OpCode
		body jute.Record
		want jute.Code
	}{
		{"create no parent", jute.OpCreate, &jute.CreateTxn{Path: "/x/y", Acl: acl, ParentCVersion: 1}, jute.CodeNoNode},
		{"create exists", jute.OpCreate2, &jute.CreateTxn{Path: "/a", Acl: acl, ParentCVersion: 9}, jute.CodeNodeExists},
		{"container exists", jute.OpCreateContainer, &jute.CreateContainerTxn{Path: "/a", Acl: acl, ParentCVersion: 9}, jute.CodeNodeExists},
		{"ttl no parent", jute.OpCreateTTL, &jute.CreateTTLTxn{Path: "/x/y", Acl: acl, Ttl: 5, ParentCVersion: 1}, jute.CodeNoNode},
		{"ttl out of range", jute.OpCreateTTL, &jute.CreateTTLTxn{Path: "/t", Acl: acl, Ttl: 0, ParentCVersion: 1}, jute.CodeBadArguments},
		{"delete missing", jute.OpDelete, &jute.DeleteTxn{Path: "/nope"}, jute.CodeNoNode},
		{"delete missing parent", jute.OpDelete, &jute.DeleteTxn{Path: "/nope/x"}, jute.CodeNoNode},
		{"deleteContainer missing", jute.OpDeleteContainer, &jute.DeleteTxn{Path: "/nope"}, jute.CodeNoNode},
		{"setData missing", jute.OpSetData, &jute.SetDataTxn{Path: "/nope", Version: 1}, jute.CodeNoNode},
		{"setACL missing", jute.OpSetACL, &jute.SetACLTxn{Path: "/nope", Acl: acl, Version: 1}, jute.CodeNoNode},
		{"error txn", jute.OpError, &jute.ErrorTxn{Err: int32(jute.CodeBadVersion)}, jute.CodeBadVersion},
		{"error txn notempty", jute.OpError, &jute.ErrorTxn{Err: int32(jute.CodeNotEmpty)}, jute.CodeNotEmpty},
		{"check", jute.OpCheck, &jute.CheckVersionTxn{Path: "/a", Version: 0}, jute.CodeOK},
		{"create session", jute.OpCreateSession, &jute.CreateSessionTxn{TimeOut: 3000}, jute.CodeOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b txnBuilder
			tr := New(Options{})
			mustOK(t, b.create(tr, "/a", "x", 1, false))
			before := dump(tr)
			r := tr.Apply(b.hdr(tc.op, 1), tc.body)
			if r.Err != tc.want {
				t.Fatalf("got %v, want %v", r.Err, tc.want)
			}
			if tc.name == "create exists" || tc.name == "container exists" || tc.name == "delete missing" || tc.name == "deleteContainer missing" {
				return // these move cversion/pzxid (checked in TestReplay)
			}
			if after := dump(tr); after != before {
				t.Fatalf("tree changed:\n%s\nwant\n%s", after, before)
			}
			if tr.LastZxid() != b.zxid {
				t.Fatalf("LastZxid %d, want %d", tr.LastZxid(), b.zxid)
			}
		})
	}
}

func TestSetDataSetACL(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	mustOK(t, b.create(tr, "/a", "x", 1, false))
	r := mustOK(t, tr.Apply(b.hdr(jute.OpSetData, 1), &jute.SetDataTxn{Path: "/a", Data: []byte("yyyy"), Version: 7}))
	want := jute.Stat{Czxid: 1, Mzxid: 2, Ctime: 10, Mtime: 20, Version: 7, Pzxid: 1, DataLength: 4}
	if r.Stat != want {
		t.Fatalf("setData %+v, want %+v", r.Stat, want)
	}
	acl := []jute.ACL{{Perms: jute.PermRead, Id: jute.Id{Scheme: "digest", Id: "u:p"}}}
	r = mustOK(t, tr.Apply(b.hdr(jute.OpSetACL, 1), &jute.SetACLTxn{Path: "/a", Acl: acl, Version: 3}))
	want.Aversion = 3
	if r.Stat != want {
		t.Fatalf("setACL %+v, want %+v", r.Stat, want)
	}
	got, _, _ := tr.GetACL("/a")
	if !slices.Equal(got, acl) {
		t.Fatalf("acl %v", got)
	}
	if tr.ACLCount() != 3 { // open, read (config), digest
		t.Fatalf("ACLCount %d", tr.ACLCount())
	}
	mustOK(t, tr.Apply(b.hdr(jute.OpReconfig, 1), &jute.SetDataTxn{Path: "/zookeeper/config", Data: []byte("v=2"), Version: -1}))
	d, st, _ := tr.GetData("/zookeeper/config", 0)
	if string(d) != "v=2" || st.Mzxid != 4 || st.Version != -1 {
		t.Fatalf("reconfig %q %+v", d, st)
	}
	mustOK(t, b.delete(tr, "/a"))
	if tr.ACLCount() != 2 {
		t.Fatalf("ACLCount after delete %d, want the digest list dropped", tr.ACLCount())
	}
}

func TestNullAndEmptyData(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	mustOK(t, tr.Apply(b.hdr(jute.OpCreate, 1), &jute.CreateTxn{Path: "/n", Data: nil, Acl: jute.OpenACLUnsafe(), ParentCVersion: -1}))
	mustOK(t, tr.Apply(b.hdr(jute.OpCreate, 1), &jute.CreateTxn{Path: "/e", Data: []byte{}, Acl: jute.OpenACLUnsafe(), ParentCVersion: -1}))
	if d, _, _ := tr.GetData("/n", 0); d != nil {
		t.Fatalf("null data came back as %v", d)
	}
	if d, _, _ := tr.GetData("/e", 0); d == nil || len(d) != 0 {
		t.Fatalf("empty data came back as %v", d)
	}
	// ParentCVersion -1 means "current + 1".
	if ni, _ := tr.Node("/"); ni.PersistedCversion != 2 {
		t.Fatalf("root persisted cversion %d", ni.PersistedCversion)
	}
}

func TestContainersAndTTL(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	r := mustOK(t, tr.Apply(b.hdr(jute.OpCreateContainer, 9), &jute.CreateContainerTxn{Path: "/c", Acl: jute.OpenACLUnsafe(), ParentCVersion: parentCV(tr, "/c")}))
	if r.Stat.EphemeralOwner != 0 {
		t.Fatalf("container owner shown as %x", r.Stat.EphemeralOwner)
	}
	if ni, _ := tr.Node("/c"); !IsContainer(ni.EphemeralOwner) {
		t.Fatalf("stored owner %x", ni.EphemeralOwner)
	}
	mustOK(t, tr.Apply(b.hdr(jute.OpCreateTTL, 9), &jute.CreateTTLTxn{Path: "/t", Acl: jute.OpenACLUnsafe(), Ttl: 100, ParentCVersion: parentCV(tr, "/t")}))
	ttlTime := b.time
	if got := tr.ExpiredContainers(1 << 40); !slices.Equal(got, []string{"/t"}) {
		t.Fatalf("unused container must stay, ttl expired: %v", got)
	}
	if got := tr.ExpiredContainers(ttlTime + 100); len(got) != 0 {
		t.Fatalf("ttl not yet expired at mtime+ttl: %v", got)
	}
	mustOK(t, b.create(tr, "/c/k", "", 1, false))
	mustOK(t, b.create(tr, "/t/k", "", 1, false))
	if got := tr.ExpiredContainers(1 << 40); len(got) != 0 {
		t.Fatalf("nodes with children are no candidates: %v", got)
	}
	mustOK(t, b.delete(tr, "/c/k"))
	mustOK(t, b.delete(tr, "/t/k"))
	if got := tr.ExpiredContainers(1 << 40); !slices.Equal(got, []string{"/c", "/t"}) {
		t.Fatalf("candidates %v", got)
	}
	mustOK(t, tr.Apply(b.hdr(jute.OpDeleteContainer, 0), &jute.DeleteTxn{Path: "/c"}))
	if got := tr.ExpiredContainers(1 << 40); !slices.Equal(got, []string{"/t"}) {
		t.Fatalf("candidates after delete %v", got)
	}
	if tr.EphemeralCount() != 0 {
		t.Fatalf("containers and TTL nodes are not ephemerals")
	}
}

func TestEphemeralEncodings(t *testing.T) {
	o, err := TTLEphemeralOwner(1000)
	if err != nil || uint64(o) != 0xFF000000000003E8 {
		t.Fatalf("TTL owner %x %v", o, err)
	}
	if ttl, ok := EphemeralTTL(o); !ok || ttl != 1000 {
		t.Fatalf("EphemeralTTL %d %v", ttl, ok)
	}
	if _, err := TTLEphemeralOwner(MaxTTL + 1); err == nil {
		t.Fatal("ttl above max accepted")
	}
	if _, err := TTLEphemeralOwner(MaxTTL); err != nil {
		t.Fatal(err)
	}
	if _, ok := EphemeralTTL(0x1234); ok {
		t.Fatal("session id taken as TTL")
	}
	if _, ok := EphemeralTTL(ContainerEphemeralOwner); ok {
		t.Fatal("container taken as TTL")
	}
	if !IsContainer(ContainerEphemeralOwner) || ContainerEphemeralOwner != -0x8000000000000000 || IsContainer(5) {
		t.Fatal("IsContainer")
	}
}

func TestMulti(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	mustOK(t, b.create(tr, "/a", "x", 1, false))
	cv := parentCV(tr, "/b")
	mt := &jute.MultiTxn{Txns: []jute.Txn{
		encodeTxn(jute.OpCreate2, &jute.CreateTxn{Path: "/b", Data: []byte("bb"), Acl: jute.OpenACLUnsafe(), ParentCVersion: cv}),
		encodeTxn(jute.OpSetData, &jute.SetDataTxn{Path: "/a", Data: []byte("y"), Version: 1}),
		encodeTxn(jute.OpCheck, &jute.CheckVersionTxn{Path: "/a", Version: 1}),
		encodeTxn(jute.OpDelete, &jute.DeleteTxn{Path: "/b"}),
	}}
	r := mustOK(t, tr.Apply(b.hdr(jute.OpMulti, 1), mt))
	wantTypes := []jute.OpCode{jute.OpCreate2, jute.OpSetData, jute.OpCheck, jute.OpDelete}
	if len(r.Multi) != 4 {
		t.Fatalf("results %+v", r.Multi)
	}
	for i, res := range r.Multi {
		if res.Type != wantTypes[i] || res.Err != jute.CodeOK {
			t.Fatalf("op %d: %+v", i, res)
		}
	}
	if r.Multi[0].Path != "/b" || r.Multi[0].Stat.Czxid != 2 || r.Multi[1].Stat.Version != 1 || r.Multi[1].Stat.Mzxid != 2 {
		t.Fatalf("results %+v", r.Multi)
	}
	if _, c := tr.Exists("/b", 0); c != jute.CodeNoNode {
		t.Fatal("/b should be gone")
	}

	// A failed multi: prep wrote the failing op as an ErrorTxn. Nothing
	// applies; ops before it report OK, ops after it RuntimeInconsistency.
	before := dump(tr)
	mt = &jute.MultiTxn{Txns: []jute.Txn{
		encodeTxn(jute.OpCreate, &jute.CreateTxn{Path: "/c", Acl: jute.OpenACLUnsafe(), ParentCVersion: parentCV(tr, "/c")}),
		encodeTxn(jute.OpError, &jute.ErrorTxn{Err: int32(jute.CodeBadVersion)}),
		encodeTxn(jute.OpError, &jute.ErrorTxn{Err: int32(jute.CodeRuntimeInconsistency)}),
	}}
	r = tr.Apply(b.hdr(jute.OpMulti, 1), mt)
	if r.Err != jute.CodeBadVersion {
		t.Fatalf("multi err %v", r.Err)
	}
	want := []jute.Code{jute.CodeOK, jute.CodeBadVersion, jute.CodeRuntimeInconsistency}
	for i, res := range r.Multi {
		if res.Type != jute.OpError || res.Err != want[i] {
			t.Fatalf("op %d: %+v", i, res)
		}
	}
	if after := dump(tr); after != before {
		t.Fatalf("failed multi changed the tree")
	}
	// A sub-op failing at apply time (replay) reports its error.
	mt = &jute.MultiTxn{Txns: []jute.Txn{encodeTxn(jute.OpDelete, &jute.DeleteTxn{Path: "/zz"})}}
	r = tr.Apply(b.hdr(jute.OpMulti, 1), mt)
	if r.Err != jute.CodeNoNode || r.Multi[0].Err != jute.CodeNoNode || r.Multi[0].Type != jute.OpError {
		t.Fatalf("apply-time failure %+v", r)
	}
}

func TestCloseSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		body jute.Record
	}{
		{"nil body", nil},
		{"nil list", &jute.CloseSessionTxn{}},
		{"listed", &jute.CloseSessionTxn{Paths2Delete: []string{"/e2", "/p/e1", "/gone"}}},
		{"partly listed", &jute.CloseSessionTxn{Paths2Delete: []string{"/e2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b txnBuilder
			tr := New(Options{})
			mustOK(t, b.create(tr, "/p", "", 1, false))
			mustOK(t, b.create(tr, "/p/e1", "", 7, true))
			mustOK(t, b.create(tr, "/e2", "", 7, true))
			mustOK(t, b.create(tr, "/other", "", 8, true))
			if got := tr.Ephemerals(7); !slices.Equal(got, []string{"/e2", "/p/e1"}) {
				t.Fatalf("ephemerals %v", got)
			}
			if tr.EphemeralCount() != 3 {
				t.Fatalf("EphemeralCount %d", tr.EphemeralCount())
			}
			mustOK(t, tr.Apply(b.hdr(jute.OpCloseSession, 7), tc.body))
			for _, p := range []string{"/p/e1", "/e2"} {
				if _, c := tr.Exists(p, 0); c != jute.CodeNoNode {
					t.Fatalf("%s survived", p)
				}
			}
			if _, c := tr.Exists("/other", 0); c != jute.CodeOK {
				t.Fatal("other session's ephemeral deleted")
			}
			if len(tr.Ephemerals(7)) != 0 || tr.EphemeralCount() != 1 {
				t.Fatal("ephemeral index not cleaned")
			}
			p, _ := tr.Exists("/p", 0)
			if p.Pzxid != b.zxid || p.Cversion != 2 {
				t.Fatalf("parent stat %+v", p)
			}
		})
	}
}

// TestReplay checks the fuzzy-snapshot fix-ups: re-applying txns whose
// effect is already in the tree converges to the same state.
func TestReplay(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	var log []struct {
		h    *jute.TxnHeader
		body jute.Record
	}
	apply := func(h *jute.TxnHeader, body jute.Record) {
		log = append(log, struct {
			h    *jute.TxnHeader
			body jute.Record
		}{h, body})
		tr.Apply(h, body)
	}
	acl := jute.OpenACLUnsafe()
	apply(b.hdr(jute.OpCreate, 1), &jute.CreateTxn{Path: "/a", Acl: acl, ParentCVersion: 1})
	apply(b.hdr(jute.OpCreate, 1), &jute.CreateTxn{Path: "/a/b", Acl: acl, ParentCVersion: 1})
	apply(b.hdr(jute.OpCreate, 5), &jute.CreateTxn{Path: "/a/e", Acl: acl, Ephemeral: true, ParentCVersion: 2})
	apply(b.hdr(jute.OpCloseSession, 5), &jute.CloseSessionTxn{Paths2Delete: []string{"/a/e"}})
	apply(b.hdr(jute.OpCreate, 6), &jute.CreateTxn{Path: "/a/e", Acl: acl, Ephemeral: true, ParentCVersion: 3})
	apply(b.hdr(jute.OpSetData, 1), &jute.SetDataTxn{Path: "/a/b", Data: []byte("z"), Version: 1})
	apply(b.hdr(jute.OpDelete, 1), &jute.DeleteTxn{Path: "/a/b"})
	apply(b.hdr(jute.OpSetACL, 1), &jute.SetACLTxn{Path: "/a", Acl: jute.ReadACLUnsafe(), Version: 1})
	want := dump(tr)
	// Replay every suffix of the log over the final state.
	for i := range log {
		for _, e := range log[i:] {
			tr.Apply(e.h, e.body)
		}
		if got := dump(tr); got != want {
			t.Fatalf("replay from %d:\n%s\nwant\n%s", i, got, want)
		}
	}
	// A fuzzy snapshot taken after /a was serialized with cversion 1 and
	// before its child creates: replaying the create that finds the node
	// moves the parent forward.
	tr2 := New(Options{})
	tr2.Apply(log[0].h, log[0].body)
	tr2.Apply(log[4].h, log[4].body) // /a/e by session 6, cversion 3
	tr2.Apply(log[1].h, log[1].body)
	tr2.Apply(log[2].h, log[2].body) // NodeExists: /a/e already there
	a, _ := tr2.Node("/a")
	if a.PersistedCversion != 3 || a.Stat.Pzxid != log[4].h.Zxid {
		t.Fatalf("cversion moved back: %+v", a)
	}
}

func TestApplyWrongBody(t *testing.T) {
	tr := New(Options{})
	before := dump(tr)
	for _, op := range []jute.OpCode{jute.OpCreate, jute.OpCreateTTL, jute.OpCreateContainer, jute.OpDelete,
		jute.OpSetData, jute.OpSetACL, jute.OpError, jute.OpCheck, jute.OpMulti} {
		if r := tr.Apply(&jute.TxnHeader{Zxid: 1, Type: int32(op)}, &jute.CreateSessionTxn{}); r.Err != jute.CodeMarshallingError {
			t.Errorf("%v with a wrong body: %v", op, r.Err)
		}
	}
	if r := tr.Apply(&jute.TxnHeader{Zxid: 1, Type: 999}, nil); r.Err != jute.CodeUnimplemented {
		t.Errorf("unknown op: %v", r.Err)
	}
	mt := &jute.MultiTxn{Txns: []jute.Txn{{Type: int32(jute.OpCreate), Data: []byte{1, 2}}}}
	if r := tr.Apply(&jute.TxnHeader{Zxid: 2, Type: int32(jute.OpMulti)}, mt); r.Err != jute.CodeMarshallingError {
		t.Errorf("corrupt sub-txn: %v", r.Err)
	}
	if dump(tr) != before {
		t.Fatal("tree changed")
	}
}
