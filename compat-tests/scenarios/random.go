package scenarios

import (
	"fmt"
	"math/rand"
	"strings"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/jute"
)

// RandomOp is one generated step of a randomized scenario. Ops never depend
// on replies, so both servers receive exactly the same requests.
type RandomOp struct {
	// Session is the index of the session (0..RandomSessions-1) that sends
	// the op.
	Session int
	// Kind names the op: create, delete, setData, exists, getData,
	// getChildren, multi, addWatch, removeWatches, close.
	Kind string
	// Path is relative to the scenario root.
	Path string
	// Path2 is a second path (multi).
	Path2 string
	// Mode is a create mode or addWatch mode.
	Mode int32
	// Version is the expected version (-1 for any).
	Version int32
	// Watch sets a watch on reads.
	Watch bool
}

// String renders the op as one line of a reproduction.
func (o RandomOp) String() string {
	return fmt.Sprintf("c%d %s %s %s mode=%d v=%d watch=%v", o.Session+1, o.Kind, o.Path, o.Path2, o.Mode, o.Version, o.Watch)
}

// RandomSessions is how many sessions a randomized scenario uses.
const RandomSessions = 3

var randomPaths = []string{"a", "a/b", "a/b/c", "b", "b/x", "c"}

// GenerateOps returns n ops drawn deterministically from seed.
func GenerateOps(seed int64, n int) []RandomOp {
	rng := rand.New(rand.NewSource(seed))
	kinds := []string{"create", "create", "create", "delete", "delete", "setData", "setData", "exists", "getData",
		"getChildren", "multi", "addWatch", "removeWatches", "close"}
	ops := make([]RandomOp, n)
	for i := range ops {
		o := RandomOp{
			Session: rng.Intn(RandomSessions),
			Kind:    kinds[rng.Intn(len(kinds))],
			Path:    randomPaths[rng.Intn(len(randomPaths))],
			Path2:   randomPaths[rng.Intn(len(randomPaths))],
			Version: int32(rng.Intn(4)) - 1,
			Watch:   rng.Intn(2) == 0,
		}
		switch o.Kind {
		case "create":
			o.Mode = int32(rng.Intn(4))
		case "addWatch":
			o.Mode = int32(rng.Intn(2))
		case "removeWatches":
			o.Mode = int32(1 + rng.Intn(3))
		case "multi":
			o.Mode = int32(rng.Intn(3))
		}
		if o.Kind == "close" && rng.Intn(3) != 0 {
			o.Kind = "exists"
		}
		// NB: the oracle is ZooKeeper 3.8; keep out of what 3.9 changed on
		// purpose (DIVERGENCES.md): watcher types 4/5 (ZOOKEEPER-4472),
		// standard and persistent watches of one session on one path
		// (ZOOKEEPER-4466) and removing persistent watches by type
		// (ZOOKEEPER-4471). Only session 1 adds persistent watches, and it
		// sets no one-shot watches and removes none.
		switch {
		case o.Kind == "addWatch":
			o.Session = 0
		case o.Session == 0 && o.Kind == "removeWatches":
			o.Kind = "exists"
		}
		if o.Session == 0 {
			o.Watch = false
		}
		ops[i] = o
	}
	return ops
}

// RandomScenario returns a scenario that replays ops. A session that was
// closed is replaced by a new one on its next op.
func RandomScenario(name string, ops []RandomOp) scenario.Scenario {
	return scenario.Scenario{Name: name, Run: func(r *scenario.Run) {
		var sessions [RandomSessions]*scenario.Session
		get := func(i int) *scenario.Session {
			if sessions[i] == nil || sessions[i].Dead() {
				sessions[i] = r.Connect()
			}
			return sessions[i]
		}
		for i := range sessions {
			get(i)
		}
		for _, o := range ops {
			c := get(o.Session)
			p := r.P(o.Path)
			switch o.Kind {
			case "create":
				c.Create(p, []byte("r"), scenario.Open, jute.CreateMode(o.Mode))
			case "delete":
				c.Delete(p, o.Version)
			case "setData":
				c.SetData(p, []byte(strings.Repeat("d", int(o.Version)+2)), o.Version)
			case "exists":
				c.Exists(p, o.Watch)
			case "getData":
				c.GetData(p, o.Watch)
			case "getChildren":
				c.GetChildren2(p, o.Watch)
			case "addWatch":
				c.AddWatch(p, o.Mode)
			case "removeWatches":
				c.RemoveWatches(p, jute.WatcherType(o.Mode))
			case "multi":
				q := r.P(o.Path2)
				ops := []rawclient.Op{createOp(p, 0), setDataOp(q, o.Version), deleteOp(q, -1)}
				c.Multi(ops[:2+int(o.Mode)%2]...)
			case "close":
				c.Close()
			}
		}
	}}
}
