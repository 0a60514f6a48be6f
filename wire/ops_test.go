package wire_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/server"
)

var openACL = zk.WorldACL(zk.PermAll)

// waitEvent returns the next event on ch or fails after a deadline.
func waitEvent(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return zk.Event{}
}

// TestGoZookeeperClientOps drives every op go-zookeeper offers.
func TestGoZookeeperClientOps(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *server.Config) { c.ExtendedTypesEnabled = true })
	c, _ := connect(t, ts.Addr)

	// Create modes.
	mustCreate := func(path string, flags int32) string {
		t.Helper()
		p, err := c.Create(path, []byte("d"), flags, openACL)
		if err != nil {
			t.Fatalf("create %s flags %d: %v", path, flags, err)
		}
		return p
	}
	mustCreate("/app", 0)
	if p := mustCreate("/app/seq-", zk.FlagSequence); p != "/app/seq-0000000000" {
		t.Fatalf("sequential name %q, want /app/seq-0000000000 (parent cversion 0)", p)
	}
	if p := mustCreate("/app/eph", zk.FlagEphemeral); p != "/app/eph" {
		t.Fatalf("ephemeral name %q", p)
	}
	if p := mustCreate("/app/es-", zk.FlagEphemeral|zk.FlagSequence); p != "/app/es-0000000002" {
		t.Fatalf("ephemeral sequential name %q", p)
	}
	if _, err := c.CreateContainer("/app/box", nil, zk.FlagContainer, openACL); err != nil {
		t.Fatalf("container: %v", err)
	}
	if _, err := c.CreateTTL("/app/ttl", nil, zk.FlagTTL, openACL, time.Hour); err != nil {
		t.Fatalf("ttl: %v", err)
	}
	_, st, err := c.Get("/app/eph")
	if err != nil || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("ephemeral owner %x, session %x (%v)", st.EphemeralOwner, c.SessionID(), err)
	}

	// Errors.
	if _, err := c.Create("/app/eph/child", nil, 0, openACL); !errors.Is(err, zk.ErrNoChildrenForEphemerals) {
		t.Fatalf("child of ephemeral: %v", err)
	}
	if _, err := c.Create("/missing/child", nil, 0, openACL); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("create without parent: %v", err)
	}
	if err := c.Delete("/app", -1); !errors.Is(err, zk.ErrNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	if _, err := c.Create("/bad/", nil, 0, openACL); !errors.Is(err, zk.ErrInvalidPath) && err == nil {
		t.Fatalf("trailing slash accepted")
	}

	// Exists, children, stat fields.
	ok, st, err := c.Exists("/app")
	if err != nil || !ok || st.NumChildren != 5 || st.Cversion != 5 {
		t.Fatalf("exists /app = %v %+v %v; want 5 children, cversion 5", ok, st, err)
	}
	kids, _, err := c.Children("/app")
	slices.Sort(kids)
	want := []string{"box", "eph", "es-0000000002", "seq-0000000000", "ttl"}
	if err != nil || !slices.Equal(kids, want) {
		t.Fatalf("children = %v %v, want %v", kids, err, want)
	}

	// Watches: exists on a missing node, child watch, data watch.
	_, _, exCh, err := c.ExistsW("/app/new")
	if err != nil {
		t.Fatal(err)
	}
	_, _, chCh, err := c.ChildrenW("/app")
	if err != nil {
		t.Fatal(err)
	}
	mustCreate("/app/new", 0)
	if ev := waitEvent(t, exCh); ev.Type != zk.EventNodeCreated || ev.Path != "/app/new" {
		t.Fatalf("exists watch: %+v", ev)
	}
	if ev := waitEvent(t, chCh); ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/app" {
		t.Fatalf("child watch: %+v", ev)
	}
	_, _, dCh, err := c.GetW("/app/new")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/app/new", 0); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, dCh); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("data watch on delete: %+v", ev)
	}

	// Multi: success, then a failure in the middle that applies nothing.
	res, err := c.Multi(
		&zk.CreateRequest{Path: "/m1", Acl: openACL},
		&zk.SetDataRequest{Path: "/m1", Data: []byte("v"), Version: 0},
		&zk.CheckVersionRequest{Path: "/m1", Version: 1},
	)
	if err != nil || len(res) != 3 || res[0].String != "/m1" || res[1].Stat.Version != 1 {
		t.Fatalf("multi: %+v %v", res, err)
	}
	res, err = c.Multi(
		&zk.CreateRequest{Path: "/m2", Acl: openACL},
		&zk.DeleteRequest{Path: "/nope", Version: -1},
		&zk.CreateRequest{Path: "/m3", Acl: openACL},
	)
	if !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("failing multi err = %v", err)
	}
	if len(res) != 3 || res[0].Error != nil || !errors.Is(res[1].Error, zk.ErrNoNode) || res[2].Error == nil || !strings.Contains(res[2].Error.Error(), "-2") {
		t.Fatalf("failing multi results: %+v", res)
	}
	if ok, _, _ := c.Exists("/m2"); ok {
		t.Fatal("a failed multi left /m2 behind")
	}

	// ACLs and sync.
	if _, err := c.SetACL("/m1", zk.WorldACL(zk.PermRead), 0); err != nil {
		t.Fatal(err)
	}
	acl, st, err := c.GetACL("/m1")
	if err != nil || len(acl) != 1 || acl[0].Perms != zk.PermRead || st.Aversion != 1 {
		t.Fatalf("getACL = %+v %+v %v", acl, st, err)
	}
	if _, err := c.Set("/m1", nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("set on read-only ACL: %v", err)
	}
	if p, err := c.Sync("/m1"); err != nil || p != "/m1" {
		t.Fatalf("sync = %q %v", p, err)
	}
}

// TestDigestAuthAndACLDenial checks digest ACLs across two sessions.
func TestDigestAuthAndACLDenial(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	owner, _ := connect(t, ts.Addr)
	if err := owner.AddAuth("digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Create("/private", []byte("x"), 0, zk.DigestACL(zk.PermAll, "alice", "secret")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := owner.Get("/private"); err != nil {
		t.Fatalf("owner get: %v", err)
	}
	other, _ := connect(t, ts.Addr)
	if _, _, err := other.Get("/private"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("get without auth: %v", err)
	}
	if err := other.AddAuth("digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Get("/private"); err != nil {
		t.Fatalf("get after auth: %v", err)
	}
}

// TestRawOps covers the ops go-zookeeper lacks, with the raw client.
func TestRawOps(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *server.Config) { c.ExtendedTypesEnabled = true })
	rc := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})

	call := func(op jute.OpCode, req jute.Record) rawclient.Frame {
		t.Helper()
		f, _, err := rc.Call(op, req)
		if err != nil {
			t.Fatalf("%v: %v", op, err)
		}
		return f
	}
	if f := call(jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModePersistentWithTTL), Ttl: 60000}); f.Err() != jute.CodeOK {
		t.Fatalf("createTTL: %v", f.Err())
	}
	if f := call(jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t2", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModePersistentWithTTL), Ttl: 0}); f.Err() != jute.CodeBadArguments {
		t.Fatalf("createTTL with ttl 0: %v, want BadArguments", f.Err())
	}
	for _, p := range []string{"/t/a", "/t/a/b"} {
		call(jute.OpCreate, &jute.CreateRequest{Path: p, Acl: jute.OpenACLUnsafe()})
	}
	call(jute.OpCreate, &jute.CreateRequest{Path: "/t/e", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)})

	f := call(jute.OpGetAllChildrenNumber, &jute.GetAllChildrenNumberRequest{Path: "/t"})
	if r, ok := f.Record.(*jute.GetAllChildrenNumberResponse); !ok || r.TotalNumber != 3 {
		t.Fatalf("getAllChildrenNumber: %+v %v", f.Record, f.Err())
	}
	f = call(jute.OpGetEphemerals, &jute.GetEphemeralsRequest{PrefixPath: "/t"})
	if r, ok := f.Record.(*jute.GetEphemeralsResponse); !ok || !slices.Equal(r.Ephemerals, []string{"/t/e"}) {
		t.Fatalf("getEphemerals: %+v %v", f.Record, f.Err())
	}
	f = call(jute.OpWhoAmI, nil)
	if r, ok := f.Record.(*jute.WhoAmIResponse); !ok || len(r.ClientInfo) != 1 || r.ClientInfo[0].AuthScheme != "ip" || r.ClientInfo[0].User != "127.0.0.1" {
		t.Fatalf("whoAmI: %+v %v", f.Record, f.Err())
	}

	// addWatch persistent-recursive: fires for descendants, stays armed.
	if f := call(jute.OpAddWatch, &jute.AddWatchRequest{Path: "/t", Mode: jute.AddWatchPersistentRecursive}); f.Err() != jute.CodeOK {
		t.Fatalf("addWatch: %v", f.Err())
	}
	for i := 0; i < 2; i++ {
		_, events, err := rc.Call(jute.OpSetData, &jute.SetDataRequest{Path: "/t/a/b", Data: []byte{byte(i)}, Version: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Event.Type != int32(jute.EventNodeDataChanged) || events[0].Event.Path != "/t/a/b" {
			t.Fatalf("round %d: recursive watch events %+v", i, events)
		}
	}
	if f := call(jute.OpCheckWatches, &jute.CheckWatchesRequest{Path: "/t", Type: int32(jute.WatcherAny)}); f.Err() != jute.CodeOK {
		t.Fatalf("checkWatches on a watched path: %v", f.Err())
	}
	f, events, err := rc.Call(jute.OpRemoveWatches, &jute.RemoveWatchesRequest{Path: "/t", Type: int32(jute.WatcherAny)})
	if err != nil || f.Err() != jute.CodeOK {
		t.Fatalf("removeWatches: %v %v", f.Err(), err)
	}
	// NB: ZooKeeper sends no event for removed watches; clients raise the
	// *WatchRemoved events themselves.
	if len(events) != 0 {
		t.Fatalf("removeWatches sent events: %+v", events)
	}
	if f := call(jute.OpCheckWatches, &jute.CheckWatchesRequest{Path: "/t", Type: int32(jute.WatcherAny)}); f.Err() != jute.CodeNoWatcher {
		t.Fatalf("checkWatches after remove: %v, want NoWatcher", f.Err())
	}

	// multiRead mixes results and errors.
	f, _, err = rc.Call(jute.OpMultiRead, &rawclient.MultiRequest{Ops: []rawclient.Op{
		{Type: jute.OpGetData, Req: &jute.GetDataRequest{Path: "/t/a/b"}},
		{Type: jute.OpGetChildren, Req: &jute.GetChildrenRequest{Path: "/missing"}},
		{Type: jute.OpGetChildren, Req: &jute.GetChildrenRequest{Path: "/t"}},
	}})
	if err != nil || f.Err() != jute.CodeOK {
		t.Fatalf("multiRead: %v %v", f.Err(), err)
	}
	mr, ok := f.Record.(*rawclient.MultiResponse)
	if !ok || len(mr.Results) != 3 || mr.Results[1].Err != jute.CodeNoNode || mr.Results[0].Err != jute.CodeOK {
		t.Fatalf("multiRead results: %+v", f.Record)
	}
}

func rawConnect(t *testing.T, addr string, o rawclient.ConnectOptions) *rawclient.Client {
	t.Helper()
	rc, res, err := rawclient.Connect(addr, o, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.TimeOut == 0 {
		t.Fatalf("session refused: %+v", res.Response)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}
