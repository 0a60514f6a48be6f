package scenarios

import (
	"fmt"

	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/jute"
)

func init() {
	register(oneShotWatches)
	register(persistentWatches)
	register(watchRemoval)
	register(setWatchesFamily)
}

// triggers are the changes that may fire a watch on /R/w (which exists
// with a child /R/w/c unless the trigger is "create").
var triggers = []struct {
	name string
	do   func(r *scenario.Run, c *scenario.Session)
}{
	{"setData", func(r *scenario.Run, c *scenario.Session) { c.SetData(r.P("w"), b("x"), -1) }},
	{"delete", func(r *scenario.Run, c *scenario.Session) {
		c.Delete(r.P("w/c"), -1)
		c.Delete(r.P("w"), -1)
	}},
	{"createChild", func(r *scenario.Run, c *scenario.Session) { c.Create(r.P("w/n"), nil, scenario.Open, 0) }},
	{"deleteChild", func(r *scenario.Run, c *scenario.Session) { c.Delete(r.P("w/c"), -1) }},
	{"setDataChild", func(r *scenario.Run, c *scenario.Session) { c.SetData(r.P("w/c"), b("x"), -1) }},
	{"createGrandchild", func(r *scenario.Run, c *scenario.Session) { c.Create(r.P("w/c/g"), nil, scenario.Open, 0) }},
	{"setACL", func(r *scenario.Run, c *scenario.Session) { c.SetACL(r.P("w"), scenario.Open, -1) }},
	{"createSibling", func(r *scenario.Run, c *scenario.Session) { c.Create(r.P("w2"), nil, scenario.Open, 0) }},
	{"twiceSetData", func(r *scenario.Run, c *scenario.Session) {
		c.SetData(r.P("w"), b("1"), -1)
		c.SetData(r.P("w"), b("2"), -1)
	}},
}

var watchSetters = []struct {
	name string
	do   func(r *scenario.Run, c *scenario.Session, p string)
}{
	{"exists", func(r *scenario.Run, c *scenario.Session, p string) { c.Exists(p, true) }},
	{"getData", func(r *scenario.Run, c *scenario.Session, p string) { c.GetData(p, true) }},
	{"getChildren", func(r *scenario.Run, c *scenario.Session, p string) { c.GetChildren(p, true) }},
	{"getChildren2", func(r *scenario.Run, c *scenario.Session, p string) { c.GetChildren2(p, true) }},
	{"persistent", func(r *scenario.Run, c *scenario.Session, p string) { c.AddWatch(p, jute.AddWatchPersistent) }},
	{"recursive", func(r *scenario.Run, c *scenario.Session, p string) {
		c.AddWatch(p, jute.AddWatchPersistentRecursive)
	}},
}

func watchTree(r *scenario.Run, c *scenario.Session) {
	c.Create(r.P("w"), b("0"), scenario.Open, 0)
	c.Create(r.P("w/c"), b("0"), scenario.Open, 0)
}

// oneShotWatches sets each kind of watch from a second session, applies
// each trigger, and records the exact events; then applies the trigger's
// effect again to show one-shot watches do not fire twice.
func oneShotWatches() []scenario.Scenario {
	var out []scenario.Scenario
	for _, ws := range watchSetters[:4] {
		for _, tr := range triggers {
			ws, tr := ws, tr
			out = append(out, sc(fmt.Sprintf("watch/oneshot/%s/%s", ws.name, tr.name), func(r *scenario.Run) {
				c := r.Connect()
				w := r.Connect()
				watchTree(r, c)
				ws.do(r, w, r.P("w"))
				tr.do(r, c)
				c.SetData(r.P("w"), b("again"), -1)
				c.Create(r.P("w/again"), nil, scenario.Open, 0)
			}))
		}
	}
	// Watches on a node that does not exist yet.
	for _, ws := range watchSetters[:3] {
		ws := ws
		out = append(out, sc(fmt.Sprintf("watch/oneshot/%s/on-missing-then-create", ws.name), func(r *scenario.Run) {
			c := r.Connect()
			w := r.Connect()
			ws.do(r, w, r.P("w"))
			c.Create(r.P("w"), nil, scenario.Open, 0)
			c.Delete(r.P("w"), -1)
		}))
	}
	out = append(out,
		sc("watch/oneshot/same-session-trigger", func(r *scenario.Run) {
			c := r.Connect()
			watchTree(r, c)
			c.GetData(r.P("w"), true)
			c.Exists(r.P("w"), true)
			c.GetChildren(r.P("w"), true)
			c.Delete(r.P("w/c"), -1)
			c.Delete(r.P("w"), -1)
		}),
		sc("watch/oneshot/ephemeral-owner-closes", func(r *scenario.Run) {
			c := r.Connect()
			w := r.Connect()
			c.Create(r.P("e"), nil, scenario.Open, jute.ModeEphemeral)
			w.Exists(r.P("e"), true)
			w.GetChildren(r.P(""), true)
			c.Close()
			w.Exists(r.P("e"), false)
		}),
		sc("watch/oneshot/multiple-sessions", func(r *scenario.Run) {
			c := r.Connect()
			w1 := r.Connect()
			w2 := r.Connect()
			watchTree(r, c)
			w1.GetData(r.P("w"), true)
			w2.GetData(r.P("w"), true)
			w2.Exists(r.P("w/c"), true)
			c.Multi(setDataOp(r.P("w"), -1), deleteOp(r.P("w/c"), -1))
		}),
	)
	return out
}

// persistentWatches adds persistent and persistent-recursive watches and
// applies each trigger twice.
func persistentWatches() []scenario.Scenario {
	var out []scenario.Scenario
	for _, ws := range watchSetters[4:] {
		for _, tr := range triggers {
			ws, tr := ws, tr
			out = append(out, sc(fmt.Sprintf("watch/%s/%s", ws.name, tr.name), func(r *scenario.Run) {
				c := r.Connect()
				w := r.Connect()
				watchTree(r, c)
				ws.do(r, w, r.P("w"))
				tr.do(r, c)
				c.Create(r.P("w"), nil, scenario.Open, 0)
				c.SetData(r.P("w"), b("again"), -1)
				c.Create(r.P("w/again"), nil, scenario.Open, 0)
				c.Create(r.P("w/again/deeper"), nil, scenario.Open, 0)
			}))
		}
	}
	out = append(out,
		// CVE-2024-23944 (ZOOKEEPER-4799, 3.8.4 and 3.9.2): events about
		// znodes the watcher may not READ (the parent, for a child change)
		// are not delivered. NB: Debian's 3.8.0 (3.8.0-11+deb12u2) carries
		// the fix, so the oracle checks this one.
		sc("watch/acl/unreadable-not-delivered", func(r *scenario.Run) {
			c := r.Connect()
			w := r.Connect()
			c.Auth("digest", "alice:secret")
			c.Create(r.P("s"), nil, jute.CreatorAllACL(), 0)
			w.AddWatch(r.P(""), jute.AddWatchPersistentRecursive)
			w.AddWatch(r.P("s"), jute.AddWatchPersistent)
			w.Exists(r.P("h"), true)
			w.GetChildren(r.P(""), true)
			c.Create(r.P("h"), nil, jute.CreatorAllACL(), 0)
			c.SetData(r.P("s"), b("x"), -1)
			c.Create(r.P("s/open"), nil, scenario.Open, 0)
			c.Delete(r.P("s/open"), -1)
			c.Delete(r.P("h"), -1)
			c.Delete(r.P("s"), -1)
		}),
		sc("watch/recursive/with-oneshot-on-same-node", func(r *scenario.Run) {
			c := r.Connect()
			w := r.Connect()
			watchTree(r, c)
			w.AddWatch(r.P("w"), jute.AddWatchPersistentRecursive)
			w.GetData(r.P("w/c"), true)
			w.GetChildren(r.P("w"), true)
			c.SetData(r.P("w/c"), nil, -1)
			c.Create(r.P("w/d"), nil, scenario.Open, 0)
		}),
		sc("watch/persistent/on-missing-node", func(r *scenario.Run) {
			c := r.Connect()
			w := r.Connect()
			w.AddWatch(r.P("p"), jute.AddWatchPersistent)
			c.Create(r.P("p"), nil, scenario.Open, 0)
			c.Delete(r.P("p"), -1)
			c.Create(r.P("p"), nil, scenario.Open, 0)
		}),
		sc("watch/addWatch/bad-mode", func(r *scenario.Run) {
			c := r.Connect()
			c.AddWatch(r.P(""), 2)
			c.AddWatch(r.P(""), -1)
			c.Exists(r.P(""), false)
		}),
		sc("watch/addWatch/bad-path", func(r *scenario.Run) {
			c := r.Connect()
			c.AddWatch(r.P("x/"), 0)
			c.AddWatch("", 1)
			c.Exists(r.P(""), false)
		}),
		sc("watch/recursive/root-of-scenario-ephemerals", func(r *scenario.Run) {
			c := r.Connect()
			w := r.Connect()
			w.AddWatch(r.P(""), jute.AddWatchPersistentRecursive)
			c.Create(r.P("e"), nil, scenario.Open, jute.ModeEphemeral)
			c.Create(r.P("s-"), nil, scenario.Open, jute.ModeEphemeralSequential)
			c.Close()
			w.GetChildren(r.P(""), false)
		}),
	)
	return out
}

// watchRemoval covers checkWatches and removeWatches for every watcher
// type against each kind of registered watch.
func watchRemoval() []scenario.Scenario {
	var out []scenario.Scenario
	types := []jute.WatcherType{jute.WatcherChildren, jute.WatcherData, jute.WatcherAny, jute.WatcherPersistent, jute.WatcherPersistentRecursive, 0, 9}
	for _, ws := range append(watchSetters, struct {
		name string
		do   func(r *scenario.Run, c *scenario.Session, p string)
	}{"none", func(*scenario.Run, *scenario.Session, string) {}}) {
		for _, t := range types {
			ws, t := ws, t
			out = append(out, sc(fmt.Sprintf("watch/remove/%s/type%d", ws.name, t), func(r *scenario.Run) {
				c := r.Connect()
				w := r.Connect()
				watchTree(r, c)
				ws.do(r, w, r.P("w"))
				w.CheckWatches(r.P("w"), t)
				w.RemoveWatches(r.P("w"), t)
				w.CheckWatches(r.P("w"), t)
				c.SetData(r.P("w"), b("x"), -1)
				c.Create(r.P("w/n"), nil, scenario.Open, 0)
			}))
		}
	}
	out = append(out, sc("watch/remove/missing-node", func(r *scenario.Run) {
		c := r.Connect()
		c.RemoveWatches(r.P("nope"), jute.WatcherAny)
		c.CheckWatches(r.P("nope"), jute.WatcherAny)
		c.RemoveWatches(r.P("bad/"), jute.WatcherAny)
	}))
	return out
}

// setWatchesFamily drops a watching session's connection, changes the
// tree while it is away, reconnects with the old session and re-arms its
// watches with setWatches or setWatches2 at a chosen relative zxid.
func setWatchesFamily() []scenario.Scenario {
	var out []scenario.Scenario
	changes := []struct {
		name string
		do   func(r *scenario.Run, c *scenario.Session)
	}{
		{"none", func(*scenario.Run, *scenario.Session) {}},
		{"setData", func(r *scenario.Run, c *scenario.Session) { c.SetData(r.P("w"), b("missed"), -1) }},
		{"delete", func(r *scenario.Run, c *scenario.Session) {
			c.Delete(r.P("w/c"), -1)
			c.Delete(r.P("w"), -1)
		}},
		{"createChild", func(r *scenario.Run, c *scenario.Session) { c.Create(r.P("w/n"), nil, scenario.Open, 0) }},
		{"createMissing", func(r *scenario.Run, c *scenario.Session) { c.Create(r.P("m"), nil, scenario.Open, 0) }},
	}
	rels := []struct {
		name string
		rel  func(w *scenario.Session) int64
	}{
		{"last-seen", func(w *scenario.Session) int64 { return w.LastZxid() }},
		{"zero", func(*scenario.Session) int64 { return 0 }},
	}
	for _, ch := range changes {
		for _, rel := range rels {
			for _, v := range []int{1, 2} {
				ch, rel, v := ch, rel, v
				out = append(out, sc(fmt.Sprintf("setWatches%s/%s/rel-%s", map[int]string{1: "", 2: "2"}[v], ch.name, rel.name), func(r *scenario.Run) {
					c := r.Connect()
					w := r.Connect()
					watchTree(r, c)
					w.Exists(r.P("w"), false)
					z := rel.rel(w)
					w.Drop()
					ch.do(r, c)
					w2 := r.Reconnect(w)
					if w2 == nil {
						return
					}
					data := []string{r.P("w")}
					exist := []string{r.P("m")}
					child := []string{r.P("w")}
					if v == 1 {
						w2.SetWatches(z, data, exist, child)
					} else {
						w2.SetWatches2(z, data, exist, child, []string{r.P("w/c")}, []string{r.P("")})
					}
					c.SetData(r.P("w/c"), b("after"), -1)
					c.Create(r.P("m"), nil, scenario.Open, 0)
					c.SetData(r.P("w"), b("after"), -1)
				}))
			}
		}
	}
	out = append(out,
		sc("setWatches/future-zxid", func(r *scenario.Run) {
			c := r.Connect()
			watchTree(r, c)
			c.SetWatches(c.LastZxid()+1000, []string{r.P("w")}, nil, nil)
			c.SetData(r.P("w"), nil, -1)
		}),
		sc("setWatches/same-connection-duplicate", func(r *scenario.Run) {
			c := r.Connect()
			watchTree(r, c)
			c.GetData(r.P("w"), true)
			c.SetWatches(-1, []string{r.P("w"), r.P("w")}, nil, nil)
			c.SetData(r.P("w"), nil, -1)
			c.SetData(r.P("w"), nil, -1)
		}),
		sc("setWatches/empty-lists", func(r *scenario.Run) {
			c := r.Connect()
			c.SetWatches(-1, nil, nil, nil)
			c.SetWatches2(-1, []string{}, []string{}, []string{}, []string{}, []string{})
			c.Exists(r.P(""), false)
		}),
	)
	return out
}
