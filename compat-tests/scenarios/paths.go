package scenarios

import (
	"fmt"
	"strings"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/jute"
)

func init() {
	register(pathValidation)
	register(zookeeperNode)
}

// pathCase is a path, possibly relative to the scenario root (rooted
// paths start with "/" after the root is prepended; absolute ones are
// marked abs).
type pathCase struct {
	name string
	rel  string
	abs  bool
}

var pathCases = []pathCase{
	{"empty", "", true},
	{"no-leading-slash", "x", true},
	{"trailing-slash", "x/", false},
	{"double-slash", "/x", false},
	{"double-slash-middle", "x//y", false},
	{"dot", ".", false},
	{"dotdot", "..", false},
	{"dot-segment", "./x", false},
	{"dotdot-segment", "x/../y", false},
	{"dot-prefix-name", ".x", false},
	{"dotdot-prefix-name", "..x", false},
	{"three-dots", "...", false},
	{"nul", "x\x00y", false},
	{"control-01", "x\x01", false},
	{"control-1f", "x\x1f", false},
	{"del-7f", "x\x7f", false},
	{"c1-control-0085", "x\u0085", false},
	{"c1-control-009f", "x\u009f", false},
	{"nbsp-00a0", "x\u00a0", false},
	{"unicode-cjk", "日本語", false},
	{"unicode-latin", "café", false},
	{"private-use-e000", "x\ue000", false},
	{"private-use-f8ff", "x\uf8ff", false},
	{"cjk-compat-f900", "x\uf900", false},
	{"specials-fff0", "x\ufff0", false},
	{"bom-feff", "x\ufeff", false},
	{"emoji-astral", "x\U0001F600", false},
	{"invalid-utf8", "x\xff", false},
	{"space", "a b", false},
	{"long-1000", strings.Repeat("p", 1000), false},
	{"long-64k", strings.Repeat("q", 65536), false},
	{"slash-only", "/", true},
	{"root-double", "//", true},
	{"zookeeper-child", "/zookeeper/x", true},
	{"zookeeper-quota-child", "/zookeeper/quota/x", true},
	{"zookeeper-prefix-name", "zookeeperx", false},
}

// unsafeOutsideRoot reports whether op on pc could succeed outside the
// scenario root and so change state that later scenarios see.
func unsafeOutsideRoot(pc pathCase, op string) bool {
	if !pc.abs {
		return false
	}
	switch {
	case pc.rel == "/" && (op == "write" || op == "create-seq"):
		return true
	case strings.HasPrefix(pc.rel, "/zookeeper/") && op != "read":
		return true
	}
	return false
}

func (pc pathCase) path(r *scenario.Run) string {
	if pc.abs {
		return pc.rel
	}
	return r.P(pc.rel)
}

// pathValidation sends each odd path to each op that takes a path.
func pathValidation() []scenario.Scenario {
	var out []scenario.Scenario
	ops := []struct {
		name string
		do   func(c *scenario.Session, p string)
	}{
		{"create", func(c *scenario.Session, p string) { c.Create(p, nil, scenario.Open, 0) }},
		{"create-seq", func(c *scenario.Session, p string) { c.Create(p, nil, scenario.Open, jute.ModePersistentSequential) }},
		{"read", func(c *scenario.Session, p string) {
			c.Exists(p, false)
			c.GetData(p, false)
			c.GetChildren(p, false)
		}},
		{"write", func(c *scenario.Session, p string) {
			c.SetData(p, b("x"), -1)
			c.Delete(p, -1)
		}},
	}
	for _, pc := range pathCases {
		for _, op := range ops {
			pc, op := pc, op
			if unsafeOutsideRoot(pc, op.name) {
				continue
			}
			out = append(out, sc(fmt.Sprintf("paths/%s/%s", op.name, pc.name), func(r *scenario.Run) {
				c := r.Connect()
				c.Create(r.P("x"), nil, scenario.Open, 0)
				// Reads outside the root see state other scenarios change.
				c.CodeOnly = pc.abs
				op.do(c, pc.path(r))
				c.CodeOnly = false
				// The session must survive a bad path.
				c.Exists(r.P("x"), false)
			}))
		}
	}
	out = append(out, sc("paths/multi-bad-path", func(r *scenario.Run) {
		c := r.Connect()
		c.Multi(
			rawclient.Op{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: r.P("ok"), Acl: scenario.Open}},
			rawclient.Op{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: r.P("bad/"), Acl: scenario.Open}},
		)
		c.Exists(r.P("ok"), false)
	}))
	return out
}

// zookeeperNode pokes at /zookeeper, which ZooKeeper protects.
func zookeeperNode() []scenario.Scenario {
	return []scenario.Scenario{
		sc("zookeeper-node/create-exists", func(r *scenario.Run) {
			c := r.Connect()
			c.Create("/zookeeper", nil, scenario.Open, 0)
			c.Create("/zookeeper/config", nil, scenario.Open, 0)
		}),
		sc("zookeeper-node/delete", func(r *scenario.Run) {
			c := r.Connect()
			c.Delete("/zookeeper", -1)
			c.Delete("/zookeeper/config", -1)
			c.Delete("/zookeeper/quota", -1)
			c.GetChildren("/zookeeper", false)
		}),
		sc("zookeeper-node/setData", func(r *scenario.Run) {
			c := r.Connect()
			c.SetData("/zookeeper", b("x"), 5)
			c.SetData("/zookeeper/config", b("x"), 5)
		}),
		sc("zookeeper-node/getACL", func(r *scenario.Run) {
			c := r.Connect()
			c.GetACL("/zookeeper")
			c.GetACL("/zookeeper/config")
			c.CodeOnly = true
			c.GetACL("/")
		}),
		sc("zookeeper-node/delete-root", func(r *scenario.Run) {
			c := r.Connect()
			c.Delete("/", -1)
			c.Delete("/", 5)
			c.Create("/", nil, scenario.Open, 0)
		}),
	}
}
