package scenarios

import (
	"fmt"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/jute"
)

func init() {
	register(createModes)
	register(basicOps)
	register(versionsAndErrors)
	register(sequential)
	register(unknownOps)
}

// createModes creates a node in every create mode (and invalid ones) with
// each create op code, then reads it back.
func createModes() []scenario.Scenario {
	var out []scenario.Scenario
	modes := []jute.CreateMode{0, 1, 2, 3, 4, 5, 6, 7, -1}
	for _, m := range modes {
		for _, op := range []string{"create", "create2", "createContainer", "createTTL"} {
			m, op := m, op
			out = append(out, sc(fmt.Sprintf("create-mode/%s/mode%d", op, m), func(r *scenario.Run) {
				c := r.Connect()
				var f rawclient.Frame
				switch op {
				case "create":
					f = c.Create(r.P("n"), b("d"), scenario.Open, m)
				case "create2":
					f = c.Create2(r.P("n"), b("d"), scenario.Open, m)
				case "createContainer":
					f = c.CreateContainer(r.P("n"), b("d"), m)
				case "createTTL":
					f = c.CreateTTL(r.P("n"), b("d"), m, 60000)
				}
				c.GetChildren2(r.P(""), false)
				if f.Err() == jute.CodeOK {
					if cr, ok := f.Record.(*jute.CreateResponse); ok {
						c.GetData(cr.Path, false)
					}
					if cr, ok := f.Record.(*jute.Create2Response); ok {
						c.GetData(cr.Path, false)
						c.Delete(cr.Path, 0)
					}
				}
			}))
		}
	}
	// TTL values at the edges.
	for _, ttl := range []int64{-1, 0, 3600000, 1 << 40, 1<<40 - 1} {
		for _, m := range []jute.CreateMode{jute.ModePersistentWithTTL, jute.ModePersistentSequentialWithTTL} {
			ttl, m := ttl, m
			out = append(out, sc(fmt.Sprintf("create-mode/ttl-value/%d/mode%d", ttl, m), func(r *scenario.Run) {
				c := r.Connect()
				f := c.CreateTTL(r.P("t"), b("x"), m, ttl)
				if cr, ok := f.Record.(*jute.Create2Response); ok {
					c.Exists(cr.Path, false)
					c.Delete(cr.Path, -1)
				}
			}))
		}
	}
	// A TTL given to a non-TTL create op, and a container with data.
	out = append(out, sc("create-mode/ephemeral-child-of-ephemeral", func(r *scenario.Run) {
		c := r.Connect()
		c.Create(r.P("e"), nil, scenario.Open, jute.ModeEphemeral)
		c.Create(r.P("e/x"), nil, scenario.Open, jute.ModePersistent)
		c.Create(r.P("e/y"), nil, scenario.Open, jute.ModeEphemeral)
		c.Create2(r.P("e/z"), nil, scenario.Open, jute.ModeEphemeralSequential)
		c.GetChildren2(r.P("e"), false)
	}))
	out = append(out, sc("create-mode/null-data-and-empty-data", func(r *scenario.Run) {
		c := r.Connect()
		c.Create(r.P("null"), nil, scenario.Open, 0)
		c.Create(r.P("empty"), []byte{}, scenario.Open, 0)
		c.GetData(r.P("null"), false)
		c.GetData(r.P("empty"), false)
		c.SetData(r.P("empty"), nil, -1)
		c.GetData(r.P("empty"), false)
	}))
	return out
}

// basicOps exercises every read and write op once on a small tree.
func basicOps() []scenario.Scenario {
	tree := func(r *scenario.Run, c *scenario.Session) {
		c.Create(r.P("a"), b("A"), scenario.Open, 0)
		c.Create(r.P("a/b"), b("B"), scenario.Open, 0)
		c.Create(r.P("a/c"), nil, scenario.Open, 0)
		c.Create(r.P("a/b/d"), b("D"), scenario.Open, 0)
	}
	return []scenario.Scenario{
		sc("ops/exists", func(r *scenario.Run) {
			c := r.Connect()
			tree(r, c)
			c.Exists(r.P("a"), false)
			c.Exists(r.P("a/b/d"), false)
			c.Exists(r.P("nope"), false)
		}),
		sc("ops/getData-setData", func(r *scenario.Run) {
			c := r.Connect()
			tree(r, c)
			c.GetData(r.P("a"), false)
			c.SetData(r.P("a"), b("A2"), 0)
			c.SetData(r.P("a"), b("A3"), 1)
			c.GetData(r.P("a"), false)
			c.GetData(r.P("nope"), false)
		}),
		sc("ops/getChildren", func(r *scenario.Run) {
			c := r.Connect()
			tree(r, c)
			c.GetChildren(r.P("a"), false)
			c.GetChildren(r.P("a/c"), false)
			c.GetChildren(r.P("nope"), false)
			c.GetChildren2(r.P("a"), false)
			c.GetChildren2(r.P("a/b/d"), false)
			c.GetChildren2(r.P("nope"), false)
		}),
		sc("ops/delete-tree", func(r *scenario.Run) {
			c := r.Connect()
			tree(r, c)
			c.Delete(r.P("a"), -1)
			c.Delete(r.P("a/b"), -1)
			c.Delete(r.P("a/b/d"), -1)
			c.Delete(r.P("a/b"), -1)
			c.GetChildren2(r.P("a"), false)
			c.Delete(r.P("a/c"), 0)
			c.Delete(r.P("a"), 0)
			c.Exists(r.P("a"), false)
			c.Delete(r.P("a"), -1)
		}),
		sc("ops/sync", func(r *scenario.Run) {
			c := r.Connect()
			tree(r, c)
			c.Sync(r.P("a"))
			c.Sync(r.P("nope"))
			c.Sync("/")
			c.Sync("")
			c.Sync("bad")
		}),
		sc("ops/getAllChildrenNumber", func(r *scenario.Run) {
			c := r.Connect()
			tree(r, c)
			c.GetAllChildrenNumber(r.P("a"))
			c.GetAllChildrenNumber(r.P("a/b"))
			c.GetAllChildrenNumber(r.P("a/c"))
			c.GetAllChildrenNumber(r.P("nope"))
		}),
		sc("ops/getEphemerals", func(r *scenario.Run) {
			c := r.Connect()
			d := r.Connect()
			tree(r, c)
			c.Create(r.P("a/e1"), nil, scenario.Open, jute.ModeEphemeral)
			c.Create(r.P("a/b/e2"), nil, scenario.Open, jute.ModeEphemeral)
			c.Create(r.P("e3"), nil, scenario.Open, jute.ModeEphemeralSequential)
			d.Create(r.P("a/e4"), nil, scenario.Open, jute.ModeEphemeral)
			c.GetEphemerals(r.P(""))
			c.GetEphemerals(r.P("a"))
			c.GetEphemerals(r.P("a/b"))
			c.GetEphemerals(r.P("zzz"))
			d.GetEphemerals(r.P("a/"))
		}),
		sc("ops/whoAmI", func(r *scenario.Run) {
			c := r.Connect()
			c.WhoAmI()
			c.Auth("digest", "alice:secret")
			c.WhoAmI()
			c.Auth("digest", "bob:pw")
			c.WhoAmI()
		}),
		sc("ops/getACL-setACL", func(r *scenario.Run) {
			c := r.Connect()
			tree(r, c)
			c.GetACL(r.P("a"))
			c.SetACL(r.P("a"), jute.ReadACLUnsafe(), 0)
			c.GetACL(r.P("a"))
			c.SetACL(r.P("a"), scenario.Open, 0)
			c.SetACL(r.P("a"), scenario.Open, -1)
			c.GetACL(r.P("a"))
			c.GetACL(r.P("nope"))
			c.SetACL(r.P("nope"), scenario.Open, -1)
		}),
		sc("ops/stat-cversion-pzxid", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("p"), nil, scenario.Open, 0)
			c.Exists(r.P("p"), false)
			c.Create(r.P("p/x"), nil, scenario.Open, 0)
			c.Exists(r.P("p"), false)
			c.SetData(r.P("p/x"), b("1"), -1)
			c.Exists(r.P("p"), false)
			c.Delete(r.P("p/x"), -1)
			c.Exists(r.P("p"), false)
			c.Create(r.P("p/x"), nil, scenario.Open, jute.ModeEphemeral)
			c.Exists(r.P("p"), false)
			c.SetACL(r.P("p"), scenario.Open, -1)
			c.Exists(r.P("p"), false)
		}),
		sc("ops/pipeline", func(r *scenario.Run) {
			c := r.Connect()
			var ops []rawclient.Op
			for i := 0; i < 20; i++ {
				ops = append(ops, rawclient.Op{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: r.P(fmt.Sprintf("n%02d", i)), Acl: scenario.Open}})
				ops = append(ops, rawclient.Op{Type: jute.OpExists, Req: &jute.ExistsRequest{Path: r.P(fmt.Sprintf("n%02d", i))}})
			}
			ops = append(ops, rawclient.Op{Type: jute.OpGetChildren2, Req: &jute.GetChildren2Request{Path: r.P("")}})
			c.Pipeline(ops)
		}),
		sc("ops/pipeline-mixed-errors", func(r *scenario.Run) {
			c := r.Connect()
			c.Pipeline([]rawclient.Op{
				{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: r.P("x"), Acl: scenario.Open}},
				{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: r.P("x"), Acl: scenario.Open}},
				{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: r.P("x"), Data: b("1"), Version: 5}},
				{Type: jute.OpGetData, Req: &jute.GetDataRequest{Path: r.P("x"), Watch: true}},
				{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: r.P("x"), Data: b("2"), Version: 0}},
				{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: r.P("y"), Version: -1}},
				{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: r.P("x"), Version: -1}},
			})
		}),
		sc("ops/two-sessions-see-each-other", func(r *scenario.Run) {
			c := r.Connect()
			d := r.Connect()
			c.Create(r.P("a"), b("1"), scenario.Open, 0)
			d.GetData(r.P("a"), false)
			d.SetData(r.P("a"), b("2"), 0)
			c.GetData(r.P("a"), false)
			c.Close()
			d.GetData(r.P("a"), false)
		}),
	}
}

// versionsAndErrors covers version checks and the error codes a client
// can trigger with ordinary requests.
func versionsAndErrors() []scenario.Scenario {
	var out []scenario.Scenario
	for _, v := range []int32{-2, -1, 0, 1, 2, 1 << 30} {
		v := v
		out = append(out, sc(fmt.Sprintf("versions/setData/v%d", v), func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("n"), nil, scenario.Open, 0)
			c.SetData(r.P("n"), b("a"), -1)
			c.SetData(r.P("n"), b("b"), v)
			c.Exists(r.P("n"), false)
		}))
		out = append(out, sc(fmt.Sprintf("versions/delete/v%d", v), func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("n"), nil, scenario.Open, 0)
			c.SetData(r.P("n"), b("a"), -1)
			c.Delete(r.P("n"), v)
			c.Exists(r.P("n"), false)
		}))
		out = append(out, sc(fmt.Sprintf("versions/setACL/v%d", v), func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("n"), nil, scenario.Open, 0)
			c.SetACL(r.P("n"), scenario.Open, -1)
			c.SetACL(r.P("n"), scenario.Open, v)
			c.GetACL(r.P("n"))
		}))
		out = append(out, sc(fmt.Sprintf("versions/check/v%d", v), func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("n"), nil, scenario.Open, 0)
			c.SetData(r.P("n"), b("a"), -1)
			c.Check(r.P("n"), v)
			c.Multi(rawclient.Op{Type: jute.OpCheck, Req: &jute.CheckVersionRequest{Path: r.P("n"), Version: v}})
		}))
	}
	out = append(out,
		sc("errors/nonode-parent", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("a/b"), nil, scenario.Open, 0)
			c.Create2(r.P("a/b"), nil, scenario.Open, 0)
			c.SetData(r.P("a/b"), nil, -1)
			c.Delete(r.P("a/b"), -1)
			c.GetACL(r.P("a/b"))
			c.GetChildren(r.P("a/b"), false)
		}),
		sc("errors/nodeexists", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("a"), nil, scenario.Open, 0)
			c.Create(r.P("a"), nil, scenario.Open, 0)
			c.Create2(r.P("a"), nil, scenario.Open, jute.ModeEphemeral)
			c.CreateContainer(r.P("a"), nil, jute.ModeContainer)
			c.CreateTTL(r.P("a"), nil, jute.ModePersistentWithTTL, 1000)
		}),
		sc("errors/notempty", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("a"), nil, scenario.Open, 0)
			c.Create(r.P("a/b"), nil, scenario.Open, 0)
			c.Delete(r.P("a"), -1)
			c.Delete(r.P("a"), 0)
			c.Delete(r.P("a"), 7)
		}),
		sc("errors/nochildrenforephemerals", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("e"), nil, scenario.Open, jute.ModeEphemeral)
			c.Create(r.P("e/c"), nil, scenario.Open, 0)
			c.Create(r.P("e/c"), nil, scenario.Open, jute.ModeEphemeral)
			c.Create(r.P("e/c"), nil, scenario.Open, jute.ModePersistentSequential)
			c.CreateContainer(r.P("e/c"), nil, jute.ModeContainer)
			c.CreateTTL(r.P("e/c"), nil, jute.ModePersistentWithTTL, 1000)
		}),
		sc("errors/invalid-acl-empty", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("a"), nil, []jute.ACL{}, 0)
			c.Create(r.P("b"), nil, nil, 0)
			c.Create(r.P("c"), nil, scenario.Open, 0)
			c.SetACL(r.P("c"), []jute.ACL{}, -1)
			c.GetACL(r.P("c"))
		}),
		sc("errors/sequential-data-too", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("a-"), b("x"), scenario.Open, jute.ModePersistentSequential)
			c.Create(r.P("a-"), b("x"), scenario.Open, jute.ModePersistentSequential)
			c.GetChildren2(r.P(""), false)
		}),
	)
	return out
}

// sequential checks sequence numbering, which follows the parent's
// cversion, including after deletes and in mixed modes.
func sequential() []scenario.Scenario {
	var out []scenario.Scenario
	for _, m := range []jute.CreateMode{jute.ModePersistentSequential, jute.ModeEphemeralSequential} {
		m := m
		out = append(out,
			sc(fmt.Sprintf("sequential/mode%d/after-deletes", m), func(r *scenario.Run) {
				c := r.Connect()
				c.Create(r.P("q"), nil, scenario.Open, 0)
				for i := 0; i < 3; i++ {
					c.Create(r.P("q/n-"), nil, scenario.Open, m)
				}
				c.Delete(r.P("q/n-0000000001"), -1)
				c.Create(r.P("q/n-"), nil, scenario.Open, m)
				c.Create(r.P("q/plain"), nil, scenario.Open, 0)
				c.Delete(r.P("q/plain"), -1)
				c.Create2(r.P("q/n-"), nil, scenario.Open, m)
				c.GetChildren2(r.P("q"), false)
			}),
			sc(fmt.Sprintf("sequential/mode%d/empty-suffix", m), func(r *scenario.Run) {
				c := r.Connect()
				c.Create(r.P("q"), nil, scenario.Open, 0)
				c.Create(r.P("q/"), nil, scenario.Open, m)
				c.Create(r.P("q/"), nil, scenario.Open, m)
				c.GetChildren(r.P("q"), false)
			}),
			sc(fmt.Sprintf("sequential/mode%d/collision-with-existing", m), func(r *scenario.Run) {
				c := r.Connect()
				c.Create(r.P("q"), nil, scenario.Open, 0)
				c.Create(r.P("q/x0000000001"), nil, scenario.Open, 0)
				c.Create(r.P("q/x"), nil, scenario.Open, m)
				c.Create(r.P("q/x"), nil, scenario.Open, m)
				c.GetChildren(r.P("q"), false)
			}),
			sc(fmt.Sprintf("sequential/mode%d/in-multi", m), func(r *scenario.Run) {
				c := r.Connect()
				c.Create(r.P("q"), nil, scenario.Open, 0)
				c.Multi(
					rawclient.Op{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: r.P("q/m-"), Acl: scenario.Open, Flags: int32(m)}},
					rawclient.Op{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: r.P("q/m-"), Acl: scenario.Open, Flags: int32(m)}},
					rawclient.Op{Type: jute.OpCreate2, Req: &jute.CreateRequest{Path: r.P("q/m-"), Acl: scenario.Open, Flags: int32(m)}},
				)
				c.GetChildren2(r.P("q"), false)
			}),
		)
	}
	out = append(out, sc("sequential/ttl-sequential", func(r *scenario.Run) {
		c := r.Connect()
		c.Create(r.P("q"), nil, scenario.Open, 0)
		c.CreateTTL(r.P("q/t-"), nil, jute.ModePersistentSequentialWithTTL, 60000)
		c.CreateTTL(r.P("q/t-"), nil, jute.ModePersistentSequentialWithTTL, 60000)
		c.GetChildren2(r.P("q"), false)
	}))
	return out
}

// unknownOps sends op codes a client should not or cannot use.
func unknownOps() []scenario.Scenario {
	var out []scenario.Scenario
	for _, op := range []jute.OpCode{0, 10, 16, 20, 23, 99, 102, 108, 1000, -2} {
		op := op
		out = append(out, sc(fmt.Sprintf("ops/unknown-op/%d", op), func(r *scenario.Run) {
			c := r.Connect()
			c.Raw(op, nil)
			c.Exists(r.P(""), false)
		}))
	}
	out = append(out,
		sc("ops/truncated-body", func(r *scenario.Run) {
			c := r.Connect()
			c.Raw(jute.OpCreate, []byte{0, 0, 0, 10, '/'})
			c.ExpectClosed()
		}),
		sc("ops/reconfig-disabled", func(r *scenario.Run) {
			c := r.Connect()
			joining := "server.2=127.0.0.1:1:2:participant;127.0.0.1:3"
			req := &jute.ReconfigRequest{JoiningServers: &joining, CurConfigId: -1}
			c.Raw(jute.OpReconfig, req.Encode(nil))
		}),
		sc("ops/duplicate-xid", func(r *scenario.Run) {
			c := r.Connect()
			body := (&jute.ExistsRequest{Path: r.P("")}).Encode(nil)
			c.RawHeader(jute.RequestHeader{Xid: 7, Type: int32(jute.OpExists)}, body)
			c.RawHeader(jute.RequestHeader{Xid: 7, Type: int32(jute.OpExists)}, body)
			c.RawHeader(jute.RequestHeader{Xid: 0, Type: int32(jute.OpExists)}, body)
		}),
		sc("ops/getData-root-zookeeper", func(r *scenario.Run) {
			c := r.Connect()
			c.GetData("/zookeeper", false)
			c.GetChildren("/zookeeper", false)
			c.GetACL("/zookeeper")
			c.GetData("/zookeeper/config", false)
		}),
	)
	return out
}
