package scenarios

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"

	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/jute"
)

func init() {
	register(aclPerms)
	register(aclSchemes)
}

// digestID returns the digest scheme id for user:password
// (user:base64(sha1(user:password))).
func digestID(user, pw string) string {
	sum := sha1.Sum([]byte(user + ":" + pw))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

var permNames = []struct {
	name string
	perm int32
}{
	{"none", 0},
	{"read", jute.PermRead},
	{"write", jute.PermWrite},
	{"create", jute.PermCreate},
	{"delete", jute.PermDelete},
	{"admin", jute.PermAdmin},
	{"all", jute.PermAll},
}

// aclOps are the operations checked against a node's ACL. Each gets the
// guarded node g (which has a child "g/c").
var aclOps = []struct {
	name string
	do   func(r *scenario.Run, c *scenario.Session)
}{
	{"getData", func(r *scenario.Run, c *scenario.Session) { c.GetData(r.P("g"), false) }},
	{"exists", func(r *scenario.Run, c *scenario.Session) { c.Exists(r.P("g"), true) }},
	{"getChildren", func(r *scenario.Run, c *scenario.Session) { c.GetChildren2(r.P("g"), false) }},
	{"setData", func(r *scenario.Run, c *scenario.Session) { c.SetData(r.P("g"), b("new"), -1) }},
	{"createChild", func(r *scenario.Run, c *scenario.Session) { c.Create(r.P("g/n"), nil, scenario.Open, 0) }},
	{"deleteChild", func(r *scenario.Run, c *scenario.Session) { c.Delete(r.P("g/c"), -1) }},
	{"getACL", func(r *scenario.Run, c *scenario.Session) { c.GetACL(r.P("g")) }},
	{"setACL", func(r *scenario.Run, c *scenario.Session) { c.SetACL(r.P("g"), scenario.Open, -1) }},
	{"deleteSelf", func(r *scenario.Run, c *scenario.Session) { c.Delete(r.P("g"), -1) }},
	{"addWatch", func(r *scenario.Run, c *scenario.Session) { c.AddWatch(r.P("g"), jute.AddWatchPersistent) }},
	{"multiRead", func(r *scenario.Run, c *scenario.Session) {
		c.MultiRead(getDataOp(r.P("g")), getChildrenOp(r.P("g")))
	}},
}

// aclPerms builds a node whose ACL grants world:anyone exactly one
// permission and tries every operation on it.
func aclPerms() []scenario.Scenario {
	var out []scenario.Scenario
	for _, p := range permNames {
		for _, op := range aclOps {
			p, op := p, op
			out = append(out, sc(fmt.Sprintf("acl/world-%s/%s", p.name, op.name), func(r *scenario.Run) {
				c := r.Connect()
				c.Create(r.P("g"), b("data"), scenario.Open, 0)
				c.Create(r.P("g/c"), nil, scenario.Open, 0)
				c.SetACL(r.P("g"), []jute.ACL{{Perms: p.perm, Id: jute.IDAnyone}}, -1)
				op.do(r, c)
				// Restore full access so cleanup-free runs stay comparable.
				c.SetACL(r.P("g"), scenario.Open, -1)
				c.Exists(r.P("g"), false)
			}))
		}
	}
	return out
}

// aclSchemes covers digest, ip, auth and super-less schemes, and invalid
// ACLs.
func aclSchemes() []scenario.Scenario {
	alice := digestID("alice", "secret")
	guarded := func(r *scenario.Run, acl []jute.ACL) (*scenario.Session, *scenario.Session) {
		owner := r.Connect()
		owner.Auth("digest", "alice:secret")
		owner.Create(r.P("g"), b("data"), acl, 0)
		other := r.Connect()
		return owner, other
	}
	return []scenario.Scenario{
		sc("acl/digest/owner-and-stranger", func(r *scenario.Run) {
			owner, other := guarded(r, []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "digest", Id: alice}}})
			owner.GetData(r.P("g"), false)
			other.GetData(r.P("g"), false)
			other.SetData(r.P("g"), b("x"), -1)
			other.Auth("digest", "alice:wrong")
			other.GetData(r.P("g"), false)
			other.Auth("digest", "alice:secret")
			other.GetData(r.P("g"), false)
			owner.GetACL(r.P("g"))
		}),
		sc("acl/digest/read-only-for-others", func(r *scenario.Run) {
			owner, other := guarded(r, []jute.ACL{
				{Perms: jute.PermAll, Id: jute.Id{Scheme: "digest", Id: alice}},
				{Perms: jute.PermRead, Id: jute.IDAnyone},
			})
			other.GetData(r.P("g"), false)
			other.SetData(r.P("g"), b("x"), -1)
			owner.SetData(r.P("g"), b("y"), -1)
			other.GetData(r.P("g"), false)
		}),
		sc("acl/auth-scheme/with-digest", func(r *scenario.Run) {
			c := r.Connect()
			c.Auth("digest", "alice:secret")
			c.Create(r.P("g"), nil, jute.CreatorAllACL(), 0)
			c.GetACL(r.P("g"))
			d := r.Connect()
			d.GetData(r.P("g"), false)
		}),
		sc("acl/auth-scheme/two-identities", func(r *scenario.Run) {
			c := r.Connect()
			c.Auth("digest", "alice:secret")
			c.Auth("digest", "bob:pw")
			c.Create(r.P("g"), nil, jute.CreatorAllACL(), 0)
			c.GetACL(r.P("g"))
		}),
		sc("acl/auth-scheme/without-auth", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), nil, jute.CreatorAllACL(), 0)
			c.Create(r.P("h"), nil, scenario.Open, 0)
			c.SetACL(r.P("h"), jute.CreatorAllACL(), -1)
		}),
		sc("acl/ip/loopback-allowed", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), b("d"), []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "ip", Id: "127.0.0.1"}}}, 0)
			c.GetData(r.P("g"), false)
			c.GetACL(r.P("g"))
		}),
		sc("acl/ip/cidr-allowed", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), b("d"), []jute.ACL{{Perms: jute.PermRead, Id: jute.Id{Scheme: "ip", Id: "127.0.0.0/8"}}}, 0)
			c.GetData(r.P("g"), false)
			c.SetData(r.P("g"), nil, -1)
		}),
		sc("acl/ip/other-denied", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), b("d"), []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "ip", Id: "10.1.2.3"}}}, 0)
			c.GetData(r.P("g"), false)
			c.GetACL(r.P("g"))
		}),
		sc("acl/ip/invalid", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), nil, []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "ip", Id: "not-an-ip"}}}, 0)
			c.Create(r.P("h"), nil, []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "ip", Id: "127.0.0.1/99"}}}, 0)
		}),
		sc("acl/invalid/unknown-scheme", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), nil, []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "nosuch", Id: "x"}}}, 0)
		}),
		sc("acl/invalid/world-not-anyone", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), nil, []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "world", Id: "someone"}}}, 0)
		}),
		sc("acl/invalid/digest-malformed", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), nil, []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "digest", Id: "nocolon"}}}, 0)
			c.Create(r.P("h"), nil, []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "digest", Id: "a:b:c"}}}, 0)
		}),
		sc("acl/invalid/perms-out-of-range", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), nil, []jute.ACL{{Perms: 0xff, Id: jute.IDAnyone}}, 0)
			c.GetACL(r.P("g"))
			c.Create(r.P("h"), nil, []jute.ACL{{Perms: -1, Id: jute.IDAnyone}}, 0)
			c.GetACL(r.P("h"))
		}),
		sc("acl/duplicate-entries", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), nil, []jute.ACL{{Perms: jute.PermRead, Id: jute.IDAnyone}, {Perms: jute.PermRead, Id: jute.IDAnyone}}, 0)
			c.GetACL(r.P("g"))
		}),
		sc("acl/auth/unknown-scheme", func(r *scenario.Run) {
			c := r.Connect()
			c.Auth("nosuch", "x")
			c.Exists(r.P(""), false)
		}),
		sc("acl/auth/ip-scheme", func(r *scenario.Run) {
			c := r.Connect()
			c.Auth("ip", "127.0.0.1")
			c.Exists(r.P(""), false)
		}),
		sc("acl/auth/digest-no-colon", func(r *scenario.Run) {
			c := r.Connect()
			c.Auth("digest", "justuser")
			c.Exists(r.P(""), false)
		}),
		sc("acl/auth/super-wrong-password", func(r *scenario.Run) {
			c := r.Connect()
			c.Auth("digest", "super:guess")
			c.Create(r.P("g"), nil, []jute.ACL{{Perms: 0, Id: jute.IDAnyone}}, 0)
			c.GetData(r.P("g"), false)
		}),
		sc("acl/parent-create-needs-create-perm", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("p"), nil, []jute.ACL{{Perms: jute.PermAll &^ jute.PermCreate, Id: jute.IDAnyone}}, 0)
			c.Create(r.P("p/x"), nil, scenario.Open, 0)
			c.Create(r.P("p/y"), nil, scenario.Open, jute.ModeEphemeral)
			c.SetACL(r.P("p"), scenario.Open, -1)
			c.Create(r.P("p/x"), nil, scenario.Open, 0)
		}),
		sc("acl/aversion", func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("g"), nil, scenario.Open, 0)
			for i := 0; i < 3; i++ {
				c.SetACL(r.P("g"), scenario.Open, int32(i))
			}
			c.SetACL(r.P("g"), scenario.Open, 0)
			c.GetACL(r.P("g"))
		}),
	}
}
