package scenarios

import (
	"fmt"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/jute"
)

func init() {
	register(multiFamily)
	register(multiReadFamily)
}

func createOp(p string, mode jute.CreateMode) rawclient.Op {
	return rawclient.Op{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: p, Data: []byte("m"), Acl: scenario.Open, Flags: int32(mode)}}
}

func create2Op(p string) rawclient.Op {
	return rawclient.Op{Type: jute.OpCreate2, Req: &jute.CreateRequest{Path: p, Acl: scenario.Open}}
}

func deleteOp(p string, v int32) rawclient.Op {
	return rawclient.Op{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: p, Version: v}}
}

func setDataOp(p string, v int32) rawclient.Op {
	return rawclient.Op{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: p, Data: []byte("s"), Version: v}}
}

func checkOp(p string, v int32) rawclient.Op {
	return rawclient.Op{Type: jute.OpCheck, Req: &jute.CheckVersionRequest{Path: p, Version: v}}
}

func getDataOp(p string) rawclient.Op {
	return rawclient.Op{Type: jute.OpGetData, Req: &jute.GetDataRequest{Path: p}}
}

func getChildrenOp(p string) rawclient.Op {
	return rawclient.Op{Type: jute.OpGetChildren, Req: &jute.GetChildrenRequest{Path: p}}
}

// multiFamily builds a four-op multi and makes it fail at each position in
// several ways, plus successful and odd multis.
func multiFamily() []scenario.Scenario {
	var out []scenario.Scenario
	good := func(r *scenario.Run) []rawclient.Op {
		return []rawclient.Op{
			createOp(r.P("a/new"), 0),
			setDataOp(r.P("a"), 0),
			checkOp(r.P("b"), 0),
			deleteOp(r.P("b/c"), -1),
		}
	}
	failures := []struct {
		name string
		op   func(r *scenario.Run) rawclient.Op
	}{
		{"nonode", func(r *scenario.Run) rawclient.Op { return setDataOp(r.P("missing"), -1) }},
		{"badversion", func(r *scenario.Run) rawclient.Op { return checkOp(r.P("a"), 42) }},
		{"nodeexists", func(r *scenario.Run) rawclient.Op { return createOp(r.P("b"), 0) }},
		{"notempty", func(r *scenario.Run) rawclient.Op { return deleteOp(r.P("b"), -1) }},
		{"badpath", func(r *scenario.Run) rawclient.Op { return createOp(r.P("x/"), 0) }},
		{"noauth", func(r *scenario.Run) rawclient.Op { return setDataOp(r.P("locked"), -1) }},
	}
	setup := func(r *scenario.Run, c *scenario.Session) {
		c.Create(r.P("a"), nil, scenario.Open, 0)
		c.Create(r.P("b"), nil, scenario.Open, 0)
		c.Create(r.P("b/c"), nil, scenario.Open, 0)
		c.Create(r.P("locked"), nil, jute.ReadACLUnsafe(), 0)
	}
	after := func(r *scenario.Run, c *scenario.Session) {
		c.GetChildren2(r.P("a"), false)
		c.GetChildren2(r.P("b"), false)
		c.Exists(r.P("a"), false)
	}
	for pos := 0; pos < 4; pos++ {
		for _, f := range failures {
			pos, f := pos, f
			out = append(out, sc(fmt.Sprintf("multi/fail-at-%d/%s", pos, f.name), func(r *scenario.Run) {
				c := r.Connect()
				setup(r, c)
				ops := good(r)
				ops[pos] = f.op(r)
				c.Multi(ops...)
				after(r, c)
			}))
		}
	}
	out = append(out,
		sc("multi/success", func(r *scenario.Run) {
			c := r.Connect()
			setup(r, c)
			c.Multi(good(r)...)
			after(r, c)
		}),
		sc("multi/empty", func(r *scenario.Run) {
			c := r.Connect()
			c.Multi()
			c.Exists(r.P(""), false)
		}),
		sc("multi/create2-and-seq", func(r *scenario.Run) {
			c := r.Connect()
			c.Multi(create2Op(r.P("x")), createOp(r.P("x/s-"), jute.ModePersistentSequential), createOp(r.P("e"), jute.ModeEphemeral))
			c.GetChildren2(r.P("x"), false)
		}),
		sc("multi/create-then-delete-same", func(r *scenario.Run) {
			c := r.Connect()
			c.Multi(createOp(r.P("x"), 0), deleteOp(r.P("x"), 0))
			c.Exists(r.P("x"), false)
			c.Exists(r.P(""), false)
		}),
		sc("multi/check-only", func(r *scenario.Run) {
			c := r.Connect()
			c.Multi(checkOp(r.P(""), 0), checkOp(r.P(""), -1))
			c.Multi(checkOp(r.P(""), 3))
		}),
		sc("multi/setData-twice-versions", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("a"), nil, scenario.Open, 0)
			c.Multi(setDataOp(r.P("a"), 0), setDataOp(r.P("a"), 1), checkOp(r.P("a"), 2))
			c.Multi(setDataOp(r.P("a"), 2), setDataOp(r.P("a"), 2))
			c.Exists(r.P("a"), false)
		}),
		sc("multi/watches-fire-once", func(r *scenario.Run) {
			c := r.Connect()
			w := r.Connect()
			c.Create(r.P("a"), nil, scenario.Open, 0)
			w.GetData(r.P("a"), true)
			w.GetChildren(r.P("a"), true)
			c.Multi(setDataOp(r.P("a"), -1), createOp(r.P("a/k"), 0), setDataOp(r.P("a"), -1))
		}),
		sc("multi/failed-fires-nothing", func(r *scenario.Run) {
			c := r.Connect()
			w := r.Connect()
			c.Create(r.P("a"), nil, scenario.Open, 0)
			w.GetData(r.P("a"), true)
			c.Multi(setDataOp(r.P("a"), -1), checkOp(r.P("a"), 99))
			c.SetData(r.P("a"), nil, -1)
		}),
		sc("multi/read-op-inside-write-multi", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("a"), nil, scenario.Open, 0)
			c.Multi(setDataOp(r.P("a"), -1), getDataOp(r.P("a")))
			c.Exists(r.P("a"), false)
		}),
		sc("multi/ttl-and-container", func(r *scenario.Run) {
			c := r.Connect()
			c.Multi(
				createOp(r.P("k"), jute.ModeContainer),
				rawclient.Op{Type: jute.OpCreateTTL, Req: &jute.CreateTTLRequest{Path: r.P("t"), Acl: scenario.Open, Flags: int32(jute.ModePersistentWithTTL), Ttl: 3600000}},
			)
			c.Exists(r.P("k"), false)
			c.Exists(r.P("t"), false)
		}),
		sc("multi/ephemeral-under-ephemeral", func(r *scenario.Run) {
			c := r.Connect()
			c.Multi(createOp(r.P("e"), jute.ModeEphemeral), createOp(r.P("e/x"), 0))
			c.Exists(r.P("e"), false)
		}),
	)
	return out
}

// multiReadFamily mixes getData and getChildren with errors at each
// position.
func multiReadFamily() []scenario.Scenario {
	var out []scenario.Scenario
	for pos := 0; pos < 3; pos++ {
		for _, kind := range []string{"getData-nonode", "getChildren-nonode", "getData-noauth", "getChildren-noauth"} {
			pos, kind := pos, kind
			out = append(out, sc(fmt.Sprintf("multiRead/err-at-%d/%s", pos, kind), func(r *scenario.Run) {
				c := r.Connect()
				c.Create(r.P("a"), b("A"), scenario.Open, 0)
				c.Create(r.P("a/x"), nil, scenario.Open, 0)
				c.Create(r.P("locked"), b("L"), []jute.ACL{{Perms: jute.PermWrite, Id: jute.IDAnyone}}, 0)
				ops := []rawclient.Op{getDataOp(r.P("a")), getChildrenOp(r.P("a")), getDataOp(r.P("a/x"))}
				switch kind {
				case "getData-nonode":
					ops[pos] = getDataOp(r.P("missing"))
				case "getChildren-nonode":
					ops[pos] = getChildrenOp(r.P("missing"))
				case "getData-noauth":
					ops[pos] = getDataOp(r.P("locked"))
				case "getChildren-noauth":
					ops[pos] = getChildrenOp(r.P("locked"))
				}
				c.MultiRead(ops...)
			}))
		}
	}
	out = append(out,
		sc("multiRead/empty", func(r *scenario.Run) {
			c := r.Connect()
			c.MultiRead()
		}),
		sc("multiRead/write-op-inside", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("a"), nil, scenario.Open, 0)
			c.MultiRead(getDataOp(r.P("a")), setDataOp(r.P("a"), -1))
			c.Exists(r.P("a"), false)
		}),
		sc("multiRead/bad-path", func(r *scenario.Run) {
			c := r.Connect()
			c.MultiRead(getDataOp(r.P("a/")), getChildrenOp("nope"))
			c.Exists(r.P(""), false)
		}),
	)
	return out
}
