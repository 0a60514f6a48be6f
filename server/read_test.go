package server

import (
	"slices"
	"testing"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// read runs Read for a request record and decodes the reply into resp.
func readOp(t *testing.T, tree *datatree.Tree, op jute.OpCode, rec jute.Record, w datatree.WatcherID, auth []jute.Id, resp jute.Record) (jute.Code, []datatree.Event) {
	t.Helper()
	r := &Request{Session: 1, Cxid: 3, Op: op, Auth: auth}
	if rec != nil {
		r.Body = rec.Encode(nil)
	}
	b, code, events := Read(tree, r, w, nil, nil)
	if code != jute.CodeOK {
		if len(b) != 0 {
			t.Fatalf("%v failed with %v but wrote a body %x", op, code, b)
		}
		return code, events
	}
	if resp != nil {
		if err := jute.Unmarshal(b, resp, 0); err != nil {
			t.Fatalf("%v reply %x: %v", op, b, err)
		}
	} else if len(b) != 0 {
		t.Fatalf("%v reply has a body %x", op, b)
	}
	return code, events
}

func TestReadCodes(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{})
	setupTree(h)
	h.must(createReq("/noperm", "", []jute.ACL{acl(jute.PermCreate, "world", "anyone")}, jute.ModePersistent))
	h.must(createReq("/adminonly", "", []jute.ACL{acl(jute.PermAdmin, "world", "anyone")}, jute.ModePersistent))
	tree := h.tree
	tests := []struct {
		name string
		op   jute.OpCode
		rec  jute.Record
		auth []jute.Id
		resp jute.Record
		want jute.Code
	}{
		{"exists", jute.OpExists, &jute.ExistsRequest{Path: "/a"}, nil, &jute.ExistsResponse{}, jute.CodeOK},
		{"exists missing", jute.OpExists, &jute.ExistsRequest{Path: "/nope"}, nil, nil, jute.CodeNoNode},
		{"exists NUL", jute.OpExists, &jute.ExistsRequest{Path: "/a\x00"}, nil, nil, jute.CodeBadArguments},
		{"exists bad path", jute.OpExists, &jute.ExistsRequest{Path: "a"}, nil, nil, jute.CodeNoNode},
		{"exists no READ (3.9)", jute.OpExists, &jute.ExistsRequest{Path: "/noperm"}, nil, nil, jute.CodeNoAuth},
		{"exists write-only", jute.OpExists, &jute.ExistsRequest{Path: "/wonly"}, nil, nil, jute.CodeNoAuth},
		{"getData", jute.OpGetData, &jute.GetDataRequest{Path: "/a"}, nil, &jute.GetDataResponse{}, jute.CodeOK},
		{"getData missing", jute.OpGetData, &jute.GetDataRequest{Path: "/nope"}, nil, nil, jute.CodeNoNode},
		{"getData bad path", jute.OpGetData, &jute.GetDataRequest{Path: "abc"}, nil, nil, jute.CodeNoNode},
		{"getData no READ", jute.OpGetData, &jute.GetDataRequest{Path: "/wonly"}, nil, nil, jute.CodeNoAuth},
		{"getData digest", jute.OpGetData, &jute.GetDataRequest{Path: "/digest"}, []jute.Id{digestID}, &jute.GetDataResponse{}, jute.CodeOK},
		{"getData digest none", jute.OpGetData, &jute.GetDataRequest{Path: "/digest"}, []jute.Id{ipLocalID}, nil, jute.CodeNoAuth},
		{"getData ip", jute.OpGetData, &jute.GetDataRequest{Path: "/ip"}, []jute.Id{ipLocalID}, &jute.GetDataResponse{}, jute.CodeOK},
		{"getData ip outside", jute.OpGetData, &jute.GetDataRequest{Path: "/ip"}, []jute.Id{ipOtherID}, nil, jute.CodeNoAuth},
		{"getData super", jute.OpGetData, &jute.GetDataRequest{Path: "/wonly"}, []jute.Id{superID}, &jute.GetDataResponse{}, jute.CodeOK},
		{"getChildren", jute.OpGetChildren, &jute.GetChildrenRequest{Path: "/a"}, nil, &jute.GetChildrenResponse{}, jute.CodeOK},
		{"getChildren missing", jute.OpGetChildren, &jute.GetChildrenRequest{Path: "/nope"}, nil, nil, jute.CodeNoNode},
		{"getChildren no READ", jute.OpGetChildren, &jute.GetChildrenRequest{Path: "/noperm"}, nil, nil, jute.CodeNoAuth},
		{"getChildren2", jute.OpGetChildren2, &jute.GetChildren2Request{Path: "/"}, nil, &jute.GetChildren2Response{}, jute.CodeOK},
		{"getChildren2 no READ", jute.OpGetChildren2, &jute.GetChildren2Request{Path: "/wonly"}, nil, nil, jute.CodeNoAuth},
		{"getACL", jute.OpGetACL, &jute.GetACLRequest{Path: "/a"}, nil, &jute.GetACLResponse{}, jute.CodeOK},
		{"getACL admin only", jute.OpGetACL, &jute.GetACLRequest{Path: "/adminonly"}, nil, &jute.GetACLResponse{}, jute.CodeOK},
		{"getACL read only", jute.OpGetACL, &jute.GetACLRequest{Path: "/ro"}, nil, &jute.GetACLResponse{}, jute.CodeOK},
		{"getACL neither", jute.OpGetACL, &jute.GetACLRequest{Path: "/noperm"}, nil, nil, jute.CodeNoAuth},
		{"getACL missing", jute.OpGetACL, &jute.GetACLRequest{Path: "/nope"}, nil, nil, jute.CodeNoNode},
		{"getAllChildrenNumber", jute.OpGetAllChildrenNumber, &jute.GetAllChildrenNumberRequest{Path: "/a"}, nil, &jute.GetAllChildrenNumberResponse{}, jute.CodeOK},
		{"getAllChildrenNumber missing", jute.OpGetAllChildrenNumber, &jute.GetAllChildrenNumberRequest{Path: "/nope"}, nil, nil, jute.CodeNoNode},
		{"getAllChildrenNumber no READ", jute.OpGetAllChildrenNumber, &jute.GetAllChildrenNumberRequest{Path: "/noperm"}, nil, nil, jute.CodeNoAuth},
		{"getEphemerals", jute.OpGetEphemerals, &jute.GetEphemeralsRequest{PrefixPath: "/"}, nil, &jute.GetEphemeralsResponse{}, jute.CodeOK},
		{"sync", jute.OpSync, &jute.SyncRequest{Path: "/a"}, nil, &jute.SyncResponse{}, jute.CodeOK},
		{"addWatch", jute.OpAddWatch, &jute.AddWatchRequest{Path: "/ro", Mode: jute.AddWatchPersistent}, nil, &jute.ErrorResponse{}, jute.CodeOK},
		{"addWatch bad mode", jute.OpAddWatch, &jute.AddWatchRequest{Path: "/a", Mode: 7}, nil, nil, jute.CodeMarshallingError},
		{"addWatch bad path", jute.OpAddWatch, &jute.AddWatchRequest{Path: "abc", Mode: 0}, nil, &jute.ErrorResponse{}, jute.CodeOK},
		{"checkWatches none", jute.OpCheckWatches, &jute.CheckWatchesRequest{Path: "/a", Type: 3}, nil, nil, jute.CodeNoWatcher},
		{"checkWatches bad type", jute.OpCheckWatches, &jute.CheckWatchesRequest{Path: "/a", Type: 9}, nil, nil, jute.CodeMarshallingError},
		{"removeWatches none", jute.OpRemoveWatches, &jute.RemoveWatchesRequest{Path: "/a", Type: 3}, nil, nil, jute.CodeNoWatcher},
		{"removeWatches bad path", jute.OpRemoveWatches, &jute.RemoveWatchesRequest{Path: "//", Type: 3}, nil, nil, jute.CodeNoWatcher},
		{"setWatches", jute.OpSetWatches, &jute.SetWatches{DataWatches: []string{"/a"}, ExistWatches: []string{}, ChildWatches: []string{}}, nil, nil, jute.CodeOK},
		{"setWatches null list", jute.OpSetWatches, &jute.SetWatches{DataWatches: []string{"/a"}, ExistWatches: []string{}}, nil, nil, jute.CodeMarshallingError},
		{"setWatches all null", jute.OpSetWatches, &jute.SetWatches{}, nil, nil, jute.CodeMarshallingError},
		{"setWatches2", jute.OpSetWatches2, &jute.SetWatches2{DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{},
			PersistentWatches: []string{"/a", "bad"}, PersistentRecursiveWatches: []string{}}, nil, nil, jute.CodeOK},
		{"setWatches2 null recursive list", jute.OpSetWatches2, &jute.SetWatches2{DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{},
			PersistentWatches: []string{"/a"}}, nil, nil, jute.CodeMarshallingError},
		// ZooKeeper's DataTree keeps the root under "" too.
		{"exists empty path is the root", jute.OpExists, &jute.ExistsRequest{Path: ""}, nil, &jute.ExistsResponse{}, jute.CodeOK},
		{"getData empty path is the root", jute.OpGetData, &jute.GetDataRequest{Path: ""}, nil, &jute.GetDataResponse{}, jute.CodeOK},
		{"getChildren2 empty path is the root", jute.OpGetChildren2, &jute.GetChildren2Request{Path: ""}, nil, &jute.GetChildren2Response{}, jute.CodeOK},
		{"getACL empty path is the root", jute.OpGetACL, &jute.GetACLRequest{Path: ""}, nil, &jute.GetACLResponse{}, jute.CodeOK},
		{"write op", jute.OpCreate, &jute.CreateRequest{Path: "/x"}, nil, nil, jute.CodeUnimplemented},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := readOp(t, tree, tc.op, tc.rec, 5, tc.auth, tc.resp)
			if code != tc.want {
				t.Fatalf("code %v, want %v", code, tc.want)
			}
		})
	}
	for _, op := range []jute.OpCode{jute.OpExists, jute.OpGetData, jute.OpGetChildren, jute.OpGetChildren2, jute.OpGetACL,
		jute.OpGetAllChildrenNumber, jute.OpGetEphemerals, jute.OpAddWatch, jute.OpCheckWatches, jute.OpRemoveWatches,
		jute.OpSetWatches, jute.OpSetWatches2, jute.OpMultiRead, jute.OpSync} {
		if _, code, _ := Read(tree, &Request{Op: op, Body: []byte{0, 0, 0}}, 5, nil, nil); code != jute.CodeMarshallingError {
			t.Errorf("%v with a short body: %v", op, code)
		}
	}
}

func TestReadResults(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{})
	setupTree(h)
	tree := h.tree
	var gd jute.GetDataResponse
	readOp(t, tree, jute.OpGetData, &jute.GetDataRequest{Path: "/a"}, 0, nil, &gd)
	if string(gd.Data) != "a" || gd.Stat.NumChildren != 1 {
		t.Fatalf("getData /a = %q %+v", gd.Data, gd.Stat)
	}
	var gc jute.GetChildren2Response
	readOp(t, tree, jute.OpGetChildren2, &jute.GetChildren2Request{Path: "/a"}, 0, nil, &gc)
	if !slices.Equal(gc.Children, []string{"b"}) || gc.Stat != gd.Stat {
		t.Fatalf("getChildren2 /a = %v %+v", gc.Children, gc.Stat)
	}
	var n jute.GetAllChildrenNumberResponse
	readOp(t, tree, jute.OpGetAllChildrenNumber, &jute.GetAllChildrenNumberRequest{Path: "/nocreate"}, 0, nil, &n)
	if n.TotalNumber != 1 {
		t.Fatalf("getAllChildrenNumber = %d", n.TotalNumber)
	}
	// getACL masks digest hashes without ADMIN.
	h.must(createReq("/dg", "", []jute.ACL{acl(jute.PermRead, "digest", DigestOf("user:pw")), acl(jute.PermAdmin, "ip", "10.0.0.0/8")}, jute.ModePersistent, superID))
	var ga jute.GetACLResponse
	readOp(t, tree, jute.OpGetACL, &jute.GetACLRequest{Path: "/dg"}, 0, []jute.Id{digestID}, &ga)
	if ga.Acl[0].Id.Id != "user:x" || ga.Acl[1].Id.Id != "10.0.0.0/8" {
		t.Fatalf("getACL without ADMIN = %v", ga.Acl)
	}
	readOp(t, tree, jute.OpGetACL, &jute.GetACLRequest{Path: "/dg"}, 0, []jute.Id{ipLocalID}, &ga)
	if ga.Acl[0].Id.Id != DigestOf("user:pw") {
		t.Fatalf("getACL with ADMIN = %v", ga.Acl)
	}
	// getEphemerals by prefix; ZooKeeper trims only to test for "all".
	h.must(createReq("/eph2", "", openACL, jute.ModeEphemeral))
	h.must(createReq("/a/e", "", openACL, jute.ModeEphemeral))
	for prefix, want := range map[string][]string{
		"": {"/a/e", "/eph", "/eph2"}, " / ": {"/a/e", "/eph", "/eph2"}, "/eph": {"/eph", "/eph2"},
		"/a": {"/a/e"}, " /eph": {}, "/z": {},
	} {
		var ge jute.GetEphemeralsResponse
		readOp(t, tree, jute.OpGetEphemerals, &jute.GetEphemeralsRequest{PrefixPath: prefix}, 0, nil, &ge)
		if !slices.Equal(ge.Ephemerals, want) {
			t.Errorf("getEphemerals(%q) = %v, want %v", prefix, ge.Ephemerals, want)
		}
	}
	// whoAmI.
	var who jute.WhoAmIResponse
	readOp(t, tree, jute.OpWhoAmI, nil, 0, []jute.Id{ipLocalID, digestID, superID}, &who)
	// In the order of ZooKeeper's auth set (checked with Java 17).
	want := []jute.ClientInfo{{AuthScheme: "digest", User: "user"}, {AuthScheme: "super", User: ""}, {AuthScheme: "ip", User: "10.1.2.3"}}
	if !slices.Equal(who.ClientInfo, want) {
		t.Fatalf("whoAmI = %v", who.ClientInfo)
	}
	var sr jute.SyncResponse
	readOp(t, tree, jute.OpSync, &jute.SyncRequest{Path: "/a"}, 0, nil, &sr)
	if sr.Path != "/a" {
		t.Fatalf("sync = %q", sr.Path)
	}
}

func TestReadWatches(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{})
	setupTree(h)
	tree := h.tree
	const w = datatree.WatcherID(9)
	// getData with watch, exists on a missing node, getChildren with watch;
	// a refused read sets no watch.
	readOp(t, tree, jute.OpGetData, &jute.GetDataRequest{Path: "/a", Watch: true}, w, nil, &jute.GetDataResponse{})
	readOp(t, tree, jute.OpExists, &jute.ExistsRequest{Path: "/new", Watch: true}, w, nil, nil)
	readOp(t, tree, jute.OpGetChildren, &jute.GetChildrenRequest{Path: "/a", Watch: true}, w, nil, &jute.GetChildrenResponse{})
	readOp(t, tree, jute.OpGetData, &jute.GetDataRequest{Path: "/wonly", Watch: true}, w, nil, nil)
	readOp(t, tree, jute.OpExists, &jute.ExistsRequest{Path: "/wonly", Watch: true}, w, nil, nil)
	readOp(t, tree, jute.OpGetData, &jute.GetDataRequest{Path: "/ro", Watch: false}, w, nil, &jute.GetDataResponse{})
	if code, _ := readOp(t, tree, jute.OpCheckWatches, &jute.CheckWatchesRequest{Path: "/a", Type: int32(jute.WatcherData)}, w, nil, nil); code != jute.CodeOK {
		t.Fatalf("data watch on /a not set: %v", code)
	}
	for _, p := range []string{"/wonly", "/ro"} {
		if code, _ := readOp(t, tree, jute.OpCheckWatches, &jute.CheckWatchesRequest{Path: p, Type: int32(jute.WatcherAny)}, w, nil, nil); code != jute.CodeNoWatcher {
			t.Fatalf("watch set on %s: %v", p, code)
		}
	}
	res := h.must(createReq("/new", "", openACL, jute.ModePersistent))
	if !slices.ContainsFunc(res.Events, func(e datatree.Event) bool {
		return e.Watcher == w && e.Type == jute.EventNodeCreated && e.Path == "/new"
	}) {
		t.Fatalf("exists watch did not fire: %v", res.Events)
	}
	// removeWatches removes the data watch and leaves the child watch (the
	// client raises *WatchRemoved itself; ZooKeeper sends no event).
	code, _ := readOp(t, tree, jute.OpRemoveWatches, &jute.RemoveWatchesRequest{Path: "/a", Type: int32(jute.WatcherData)}, w, nil, nil)
	if code != jute.CodeOK || tree.CheckWatches("/a", w, jute.WatcherData) != jute.CodeNoWatcher ||
		tree.CheckWatches("/a", w, jute.WatcherChildren) != jute.CodeOK {
		t.Fatalf("removeWatches = %v", code)
	}
	// addWatch persistent, then it fires on a change.
	readOp(t, tree, jute.OpAddWatch, &jute.AddWatchRequest{Path: "/a", Mode: jute.AddWatchPersistentRecursive}, w, nil, &jute.ErrorResponse{})
	res = h.must(createReq("/a/b/c", "", openACL, jute.ModePersistent))
	if !slices.ContainsFunc(res.Events, func(e datatree.Event) bool { return e.Watcher == w && e.Path == "/a/b/c" }) {
		t.Fatalf("recursive watch did not fire: %v", res.Events)
	}
	// setWatches fires for a change missed since relativeZxid.
	const w2 = datatree.WatcherID(10)
	// A path that names no znode, valid or not, fires NodeDeleted.
	code, events := readOp(t, tree, jute.OpSetWatches, &jute.SetWatches{RelativeZxid: 1, DataWatches: []string{"/a/b/c", "bad//path"}, ExistWatches: []string{}, ChildWatches: []string{}}, w2, nil, nil)
	if code != jute.CodeOK || len(events) != 2 || events[0].Type != jute.EventNodeDataChanged || events[0].Watcher != w2 ||
		events[1].Type != jute.EventNodeDeleted || events[1].Path != "bad//path" {
		t.Fatalf("setWatches = %v %v", code, events)
	}
	// A null list fails the request (ZooKeeper's NullPointerException,
	// answered MarshallingError) after the lists before it took effect.
	const w3 = datatree.WatcherID(11)
	last := tree.LastZxid()
	code, events = readOp(t, tree, jute.OpSetWatches, &jute.SetWatches{RelativeZxid: last, DataWatches: []string{"/a", "/gone"}, ChildWatches: []string{"/a"}}, w3, nil, nil)
	if code != jute.CodeMarshallingError || len(events) != 1 || events[0].Path != "/gone" || events[0].Type != jute.EventNodeDeleted {
		t.Fatalf("setWatches with a null exist list = %v %v", code, events)
	}
	if tree.CheckWatches("/a", w3, jute.WatcherData) != jute.CodeOK || tree.CheckWatches("/a", w3, jute.WatcherChildren) != jute.CodeNoWatcher {
		t.Fatalf("setWatches with a null exist list: data watch kept, child watch skipped expected")
	}
	// exists leaves a watch on any path, as ZooKeeper's statNode does.
	readOp(t, tree, jute.OpExists, &jute.ExistsRequest{Path: "no/slash", Watch: true}, w3, nil, nil)
	if tree.CheckWatches("no/slash", w3, jute.WatcherData) != jute.CodeOK {
		t.Fatalf("exists on an invalid path left no watch")
	}
}

func TestReadMulti(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{})
	setupTree(h)
	body := multiBody(
		jute.OpGetData, &jute.GetDataRequest{Path: "/a", Watch: true},
		jute.OpGetChildren, &jute.GetChildrenRequest{Path: "/nope"},
		jute.OpGetChildren, &jute.GetChildrenRequest{Path: "/a"},
		jute.OpGetData, &jute.GetDataRequest{Path: "/wonly"},
	)
	b, code, _ := Read(h.tree, &Request{Op: jute.OpMultiRead, Body: body}, 4, nil, nil)
	if code != jute.CodeOK {
		t.Fatalf("multiRead: %v", code)
	}
	d := jute.NewDecoder(b, 0)
	var mh jute.MultiHeader
	var gd jute.GetDataResponse
	var gc jute.GetChildrenResponse
	var er jute.ErrorResponse
	mh.Decode(d)
	gd.Decode(d)
	if jute.OpCode(mh.Type) != jute.OpGetData || mh.Err != 0 || string(gd.Data) != "a" {
		t.Fatalf("op 0: %+v %q", mh, gd.Data)
	}
	mh.Decode(d)
	er.Decode(d)
	if jute.OpCode(mh.Type) != jute.OpError || mh.Err != int32(jute.CodeNoNode) || er.Err != int32(jute.CodeNoNode) {
		t.Fatalf("op 1: %+v %+v", mh, er)
	}
	mh.Decode(d)
	gc.Decode(d)
	if jute.OpCode(mh.Type) != jute.OpGetChildren || !slices.Equal(gc.Children, []string{"b"}) {
		t.Fatalf("op 2: %+v %v", mh, gc.Children)
	}
	mh.Decode(d)
	er.Decode(d)
	if mh.Err != int32(jute.CodeNoAuth) {
		t.Fatalf("op 3: %+v", mh)
	}
	mh.Decode(d)
	if !mh.Done || d.Remaining() != 0 || d.Err() != nil {
		t.Fatalf("done: %+v rest %d err %v", mh, d.Remaining(), d.Err())
	}
	// multiRead sets no watches (ZooKeeper's Op records carry none).
	if h.tree.CheckWatches("/a", 4, jute.WatcherData) != jute.CodeNoWatcher {
		t.Fatal("multiRead set a watch")
	}
	// Writes in a multiRead are malformed; so is a mix.
	for _, bad := range [][]byte{
		multiBody(jute.OpCheck, &jute.CheckVersionRequest{Path: "/a", Version: -1}),
		multiBody(jute.OpGetData, &jute.GetDataRequest{Path: "/a"}, jute.OpDelete, &jute.DeleteRequest{Path: "/a"}),
	} {
		if _, code, _ := Read(h.tree, &Request{Op: jute.OpMultiRead, Body: bad}, 4, nil, nil); code != jute.CodeMarshallingError {
			t.Fatalf("bad multiRead: %v", code)
		}
	}
}
