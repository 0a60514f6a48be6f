package bench

import (
	"math/rand/v2"
	"strconv"
	"sync/atomic"

	"github.com/gokeeper/gokeeper/jute"
)

// Workload names, as given to -workload.
const (
	WorkCreate      = "create"      // create fresh znodes, one parent per connection
	WorkSet         = "set"         // setData on random keys
	WorkGet         = "get"         // getData on random keys
	WorkExists      = "exists"      // exists on random keys
	WorkChildren1k  = "children1k"  // getChildren on a parent with 1,000 children
	WorkChildren10k = "children10k" // getChildren on a parent with 10,000 children
	WorkDelete      = "delete"      // delete znodes created before the timed phase
	WorkMulti       = "multi"       // multi of MultiSize setData ops on random keys
	WorkMix         = "mix"         // ReadPct% getData, the rest setData, on random keys
	WorkWatch       = "watch"       // watch fan-out: Conns sessions watch one znode
	WorkChurn       = "churn"       // session churn: connect + closeSession per op
	WorkPopulate    = "populate"    // create Ops znodes under PopulatePath(i)
)

// Workloads lists every workload name in the order the help text gives.
var Workloads = []string{
	WorkCreate, WorkSet, WorkGet, WorkExists, WorkChildren1k, WorkChildren10k,
	WorkDelete, WorkMulti, WorkMix, WorkWatch, WorkChurn, WorkPopulate,
}

// populateFanout is the number of parents the populate workload spreads
// its znodes over, so a million znodes make a two-level tree, not one wide
// list. NB: consecutive znodes go to different parents: creates in flight
// at the same time under one parent run 3-6x slower on both servers.
const populateFanout = 1000

// PopulatePath returns the path of the i-th znode the populate workload
// creates under root.
func PopulatePath(root string, i int64) string {
	return root + "/m/p" + strconv.FormatInt(i%populateFanout, 10) + "/n" + strconv.FormatInt(i, 10)
}

// runShared is the state the workers of one run share.
type runShared struct {
	cfg   *Config
	tag   string       // unique per run: keeps create/delete names fresh
	next  atomic.Int64 // next index for delete and populate
	limit int64        // delete/populate: indexes below limit exist
	value []byte
}

// worker generates the requests of one connection. It implements encoder;
// only the connection's sending goroutine uses it.
type worker struct {
	sh  *runShared
	idx int
	rng *rand.Rand
	seq int64
	cur int64 // delete/populate: the index ready claimed
	// prefixes built once per worker so encode only appends.
	keyPrefix   string // root/k/
	createDir   string // root/c/<tag>-<idx>/n
	deleteDir   string // root/d/<tag>/n
	widePath    string // root/w1k or root/w10k
	populateDir string // root/m/p
}

func newWorker(sh *runShared, idx int) *worker {
	root := sh.cfg.Root
	w := &worker{
		sh:          sh,
		idx:         idx,
		rng:         rand.New(rand.NewPCG(sh.cfg.Seed, uint64(idx)+1)),
		keyPrefix:   root + "/k/",
		createDir:   createParent(root, sh.tag, idx) + "/n",
		deleteDir:   root + "/d/" + sh.tag + "/n",
		populateDir: root + "/m/p",
	}
	switch sh.cfg.Workload {
	case WorkChildren1k:
		w.widePath = root + "/w1k"
	case WorkChildren10k:
		w.widePath = root + "/w10k"
	}
	return w
}

// createParent is the parent under which worker idx creates znodes.
func createParent(root, tag string, idx int) string {
	return root + "/c/" + tag + "-" + strconv.Itoa(idx)
}

// appendPath appends a jute ustring made of prefix and the decimal n.
func appendPath(b []byte, prefix string, n int64) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b = append(b, prefix...)
	b = strconv.AppendInt(b, n, 10)
	l := len(b) - at - 4
	b[at], b[at+1], b[at+2], b[at+3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
	return b
}

// appendPopulatePath appends PopulatePath(root, i) as a jute ustring.
func appendPopulatePath(b []byte, populateDir string, i int64) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b = append(b, populateDir...)
	b = strconv.AppendInt(b, i%populateFanout, 10)
	b = append(b, "/n"...)
	b = strconv.AppendInt(b, i, 10)
	l := len(b) - at - 4
	b[at], b[at+1], b[at+2], b[at+3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
	return b
}

// appendOpenACL appends the vector [world:anyone, all perms].
func appendOpenACL(b []byte) []byte {
	b = jute.AppendInt(b, 1)
	b = jute.AppendInt(b, jute.PermAll)
	b = jute.AppendString(b, "world")
	return jute.AppendString(b, "anyone")
}

// appendCreate appends a CreateRequest body for a persistent znode with
// the open ACL; the path is already appended.
func appendCreateTail(b, value []byte) []byte {
	b = jute.AppendBuffer(b, value)
	b = appendOpenACL(b)
	return jute.AppendInt(b, int32(jute.ModePersistent))
}

// ready reports whether the worker has another request to send. Delete
// and populate runs claim the next index here and end when they are used
// up; the other workloads never run out.
func (w *worker) ready() bool {
	switch w.sh.cfg.Workload {
	case WorkDelete, WorkPopulate:
		w.cur = w.sh.next.Add(1) - 1
		return w.cur < w.sh.limit
	}
	return true
}

// key returns a random key index.
func (w *worker) key() int64 { return int64(w.rng.IntN(w.sh.cfg.Keys)) }

// encode implements encoder: it appends the next request of the workload.
// Call it only after ready reported true.
func (w *worker) encode(b []byte) (jute.OpCode, []byte) {
	cfg := w.sh.cfg
	switch cfg.Workload {
	case WorkCreate:
		w.seq++
		b = appendPath(b, w.createDir, w.seq)
		return jute.OpCreate, appendCreateTail(b, w.sh.value)
	case WorkPopulate:
		b = appendPopulatePath(b, w.populateDir, w.cur)
		return jute.OpCreate, appendCreateTail(b, w.sh.value)
	case WorkDelete:
		b = appendPath(b, w.deleteDir, w.cur)
		return jute.OpDelete, jute.AppendInt(b, -1)
	case WorkSet:
		return w.appendSet(b)
	case WorkGet:
		return w.appendGet(b)
	case WorkExists:
		b = appendPath(b, w.keyPrefix, w.key())
		return jute.OpExists, jute.AppendBool(b, false)
	case WorkChildren1k, WorkChildren10k:
		b = jute.AppendString(b, w.widePath)
		return jute.OpGetChildren, jute.AppendBool(b, false)
	case WorkMix:
		if w.rng.IntN(100) < cfg.ReadPct {
			return w.appendGet(b)
		}
		return w.appendSet(b)
	case WorkMulti:
		for range cfg.MultiSize {
			b = jute.AppendInt(b, int32(jute.OpSetData))
			b = jute.AppendBool(b, false)
			b = jute.AppendInt(b, -1)
			b = appendPath(b, w.keyPrefix, w.key())
			b = jute.AppendBuffer(b, w.sh.value)
			b = jute.AppendInt(b, -1)
		}
		b = jute.AppendInt(b, -1)
		b = jute.AppendBool(b, true)
		b = jute.AppendInt(b, -1)
		return jute.OpMulti, b
	}
	b = jute.AppendString(b, "/")
	return jute.OpExists, jute.AppendBool(b, false)
}

func (w *worker) appendGet(b []byte) (jute.OpCode, []byte) {
	b = appendPath(b, w.keyPrefix, w.key())
	return jute.OpGetData, jute.AppendBool(b, false)
}

func (w *worker) appendSet(b []byte) (jute.OpCode, []byte) {
	b = appendPath(b, w.keyPrefix, w.key())
	b = jute.AppendBuffer(b, w.sh.value)
	return jute.OpSetData, jute.AppendInt(b, -1)
}
