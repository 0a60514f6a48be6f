package server

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/harness"
	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

// TestPrepCodesAgainstZooKeeper replays prepCodeCases against Apache
// ZooKeeper 3.8, whenever it is installed (make test in CI; with
// GOKEEPER_COMPAT=1 a missing ZooKeeper fails the test): each case on a fresh copy of
// setupTree's nodes, comparing the reply code with the table. Cases that
// need ids the real server cannot give a client here (ip 10.x, super),
// server-internal ops, TTL without extended types, and a top-level check
// (which Apache ZooKeeper answers by dropping the connection) are skipped.
func TestPrepCodesAgainstZooKeeper(t *testing.T) {
	if err := harness.ZooKeeperInstalled(); err != nil && os.Getenv("GOKEEPER_COMPAT") == "" {
		t.Skipf("no comparison with ZooKeeper: %v", err)
	}
	srv, err := harness.StartZooKeeper(t.TempDir(), harness.DefaultSettings(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	dial := func() *rawclient.Client {
		for i := 0; i < 100; i++ {
			c, _, err := rawclient.Connect(srv.Addr, rawclient.ConnectOptions{TimeoutMs: 20000}, 5*time.Second)
			if err == nil {
				return c
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("no connect")
		return nil
	}
	c1 := dial()
	c2 := dial()
	if f, _, err := c2.Auth("digest", []byte("user:pw")); err != nil || f.Err() != 0 {
		t.Fatal(err)
	}
	call := func(c *rawclient.Client, r *Request) jute.Code {
		f, _, err := c.CallBytes(r.Op, r.Body)
		if err != nil {
			t.Fatalf("%v: %v", r.Op, err)
		}
		return f.Err()
	}
	mustc := func(c *rawclient.Client, r *Request) {
		if code := call(c, r); code != 0 {
			t.Fatalf("setup %v: %v", r.Op, code)
		}
	}
	setup := func() {
		mustc(c1, createReq("/a", "a", openACL, jute.ModePersistent))
		mustc(c1, createReq("/a/b", "", openACL, jute.ModePersistent))
		mustc(c1, createReq("/eph", "", openACL, jute.ModeEphemeral))
		mustc(c1, createReq("/ro", "", []jute.ACL{acl(jute.PermRead, "world", "anyone")}, jute.ModePersistent))
		mustc(c1, createReq("/wonly", "", []jute.ACL{acl(jute.PermWrite, "world", "anyone")}, jute.ModePersistent))
		mustc(c1, createReq("/nocreate", "", openACL, jute.ModePersistent))
		mustc(c1, createReq("/nocreate/c", "", openACL, jute.ModePersistent))
		mustc(c1, setACLReq("/nocreate", []jute.ACL{acl(jute.PermAll&^jute.PermCreate, "world", "anyone")}, -1))
		mustc(c1, createReq("/nodelete", "", []jute.ACL{acl(jute.PermAll&^jute.PermDelete, "world", "anyone")}, jute.ModePersistent))
		mustc(c1, createReq("/nodelete/c", "", openACL, jute.ModePersistent))
		mustc(c1, createReq("/digest", "", []jute.ACL{acl(jute.PermAll, "digest", DigestOf("user:pw"))}, jute.ModePersistent))
		mustc(c1, createReq("/ip", "", []jute.ACL{acl(jute.PermAll, "ip", "10.0.0.0/8")}, jute.ModePersistent))
		mustc(c1, req(jute.OpCreateContainer, &jute.CreateRequest{Path: "/ctr", Acl: openACL, Flags: int32(jute.ModeContainer)}))
	}
	var wipe func(p string)
	wipe = func(p string) {
		call(c2, setACLReq(p, openACL, -1))
		f, _, err := c2.Call(jute.OpGetChildren, &jute.GetChildrenRequest{Path: p})
		if err == nil && f.Err() == 0 {
			for _, k := range f.Record.(*jute.GetChildrenResponse).Children {
				if p == "/" && k == "zookeeper" {
					continue
				}
				wipe(strings.TrimSuffix(p, "/") + "/" + k)
			}
		}
		if p != "/" {
			call(c2, deleteReq(p, -1))
		}
	}
	compared := 0
	for _, tc := range prepCodeCases() {
		skip := false
		for _, id := range tc.r.Auth {
			if id != digestID {
				skip = true
			}
		}
		n := tc.name
		if skip || strings.HasPrefix(n, "createSession") || strings.HasPrefix(n, "closeSession") ||
			strings.HasPrefix(n, "deleteContainer") || n == "read op" || n == "oversized path" || strings.HasPrefix(n, "check") ||
			(!tc.extended && strings.Contains(n, "ttl")) || n == "ttl op without ttl mode" {
			continue
		}
		setup()
		c := c1
		if len(tc.r.Auth) > 0 {
			c = c2
		}
		got := call(c, tc.r)
		if got != tc.want {
			t.Errorf("%s: Apache ZooKeeper answers %v (%d), table says %v", n, got, got, tc.want)
		}
		compared++
		wipe("/")
		call(c1, deleteReq("/zookeeper/x", -1))
	}
	t.Logf("%d cases agree with Apache ZooKeeper", compared)
	if compared < 50 {
		t.Fatalf("only %d cases compared", compared)
	}
}
