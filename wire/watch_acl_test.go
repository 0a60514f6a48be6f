package wire_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

// TestWatchEventsNeedRead: a watch event reaches only a watcher that may
// READ the znode it is about (the parent, for NodeChildrenChanged), as in
// ZooKeeper 3.8.4 and 3.9.2 (CVE-2024-23944): a persistent-recursive
// watcher on "/" does not learn the paths of znodes it cannot read.
func TestWatchEventsNeedRead(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	watcher := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	owner := rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000})
	if f, _, err := owner.Auth("digest", []byte("owner:secret")); err != nil || f.Err() != jute.CodeOK {
		t.Fatalf("auth: %v %v", err, f.Err())
	}
	call := func(rc *rawclient.Client, op jute.OpCode, req jute.Record) {
		t.Helper()
		if f := mustCall(t, rc, op, req); f.Err() != jute.CodeOK {
			t.Fatalf("%v: %v", op, f.Err())
		}
	}
	call(owner, jute.OpCreate, &jute.CreateRequest{Path: "/secret", Acl: jute.CreatorAllACL()})
	call(watcher, jute.OpAddWatch, &jute.AddWatchRequest{Path: "/", Mode: jute.AddWatchPersistentRecursive})
	call(watcher, jute.OpAddWatch, &jute.AddWatchRequest{Path: "/secret", Mode: jute.AddWatchPersistent})
	if f := mustCall(t, watcher, jute.OpExists, &jute.ExistsRequest{Path: "/hidden", Watch: true}); f.Err() != jute.CodeNoNode {
		t.Fatalf("exists /hidden: %v", f.Err())
	}
	call(watcher, jute.OpGetChildren, &jute.GetChildrenRequest{Path: "/", Watch: true})

	open := jute.OpenACLUnsafe()
	call(owner, jute.OpCreate, &jute.CreateRequest{Path: "/hidden", Acl: jute.CreatorAllACL()})
	call(owner, jute.OpSetData, &jute.SetDataRequest{Path: "/secret", Data: []byte("x"), Version: -1})
	call(owner, jute.OpCreate, &jute.CreateRequest{Path: "/secret/open", Acl: open})
	call(owner, jute.OpDelete, &jute.DeleteRequest{Path: "/secret/open", Version: -1})
	call(owner, jute.OpDelete, &jute.DeleteRequest{Path: "/hidden", Version: -1})
	call(owner, jute.OpCreate, &jute.CreateRequest{Path: "/done", Acl: open})

	type event struct {
		typ  jute.EventType
		path string
	}
	var got []event
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(got, event{jute.EventNodeCreated, "/done"}) {
		if time.Now().After(deadline) {
			t.Fatalf("no event for /done within 5s; got %v", got)
		}
		f, err := watcher.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.IsEvent() {
			got = append(got, event{jute.EventType(f.Event.Type), f.Event.Path})
		}
	}
	// NB: /secret's own events, /hidden's and the children of /secret
	// changing are the ones the watcher cannot read; /secret/open it can.
	want := []event{
		{jute.EventNodeChildrenChanged, "/"}, // the child watch on "/", fired by /hidden
		{jute.EventNodeCreated, "/secret/open"},
		{jute.EventNodeDeleted, "/secret/open"},
		{jute.EventNodeCreated, "/done"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n%v\nwant\n%v", got, want)
	}
}
