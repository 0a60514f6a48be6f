package chaos

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// Options say what one history runs.
type Options struct {
	Target Target
	Bin    string // the gokeeper binary, built with the chaos tag
	Dir    string // the history's files; kept if it finds an anomaly
	Seed   uint64
	// Window is how long faults happen; the workload runs through it and
	// on after the heal until the ensemble takes writes again.
	Window time.Duration
	// Kinds limits the faults drawn (nil: all the target can have).
	Kinds []FaultKind
	// AtLeader aims every fault at whoever leads when it starts.
	AtLeader bool
	// Keep keeps the history's files even if it finds nothing.
	Keep bool
	// Members is the ensemble's size: 3 (default) or 5.
	Members int
}

// Result is what a history found.
type Result struct {
	Seed       uint64
	Schedule   []Fault
	Ops        int // client operations recorded
	Unknown    int // of them, writes with an unknown outcome
	StaleSyncs int // reads after sync that missed an earlier write (allowed)
	Anomalies  []string
	// Err is a failure of the harness (not of the system under test):
	// the ensemble did not start, say.
	Err error
	// Took is the history's wall time.
	Took time.Duration
}

// Line is the history's one-line summary.
func (r Result) Line(n int) string {
	var fs []string
	for _, f := range r.Schedule {
		fs = append(fs, f.String())
	}
	result := "ok"
	switch {
	case r.Err != nil:
		result = "error: " + r.Err.Error()
	case len(r.Anomalies) > 0:
		result = fmt.Sprintf("%d ANOMALIES: %s", len(r.Anomalies), r.Anomalies[0])
	}
	return fmt.Sprintf("history %d seed=%d faults=[%s] ops=%d unknown=%d stale-syncs=%d took=%.0fs result=%s",
		n, r.Seed, strings.Join(fs, " "), r.Ops, r.Unknown, r.StaleSyncs, r.Took.Seconds(), result)
}

// Run runs one history: start the ensemble, run the workloads under the
// seed's faults, heal, check. Its files stay in o.Dir when it finds an
// anomaly (anomalies.txt, timeline.txt, history.txt, register.html,
// each member's log), and are removed otherwise.
func Run(o Options) (res Result) {
	start := time.Now()
	res.Seed = o.Seed
	rnd := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	kinds := o.Kinds
	if len(kinds) == 0 {
		kinds = Kinds(o.Target)
	}
	if o.Members == 0 {
		o.Members = 3
	}
	res.Schedule = Schedule(rnd, o.Members, o.Window, kinds)
	if o.AtLeader {
		for i := range res.Schedule {
			res.Schedule[i].Who = 0
		}
	}
	defer func() { res.Took = time.Since(start) }()

	c, err := StartCluster(o.Target, o.Bin, o.Dir, o.Members)
	if err != nil {
		res.Err = err
		return res
	}
	keep := true
	defer func() {
		c.Stop()
		if !keep {
			os.RemoveAll(o.Dir)
		}
	}()
	if err := c.WaitServing(90 * time.Second); err != nil {
		res.Err = err
		return res
	}
	if err := setup(c); err != nil {
		res.Err = err
		return res
	}

	rec := &recorder{start: time.Now()}
	w := &workload{rec: rec, c: c, stop: make(chan struct{}), watchStop: make(chan struct{})}
	nm := &nemesis{c: c, rec: rec, rnd: rnd}
	w.run(o.Seed)
	nm.run(res.Schedule)
	sleepUntil(rec, o.Window)
	nm.healAll()
	healed := rec.now()

	var anomalies []string
	fail := func(format string, args ...any) { anomalies = append(anomalies, fmt.Sprintf(format, args...)) }
	if err := c.WaitServing(60 * time.Second); err != nil {
		fail("not serving 60 s after the faults healed: %v", err)
	} else if !w.wroteAfter(healed, 20*time.Second) {
		fail("no write acknowledged within 20 s of serving again after the faults healed")
	}
	close(w.stop)
	w.writers.Wait()
	nm.logf("writers stopped")

	final, finalErr := converge(c, rec, 60*time.Second)
	if finalErr != nil {
		fail("%v", finalErr)
	}
	items, err := readQueue(c)
	if err != nil && finalErr == nil {
		fail("cannot read the queue after the heal: %v", err)
	}
	if finalErr == nil {
		w.waitWatchers(final, 20*time.Second)
	}
	close(w.watchStop)
	w.watchers.Wait()
	nm.logf("watchers stopped")

	rec.mu.Lock()
	ops := slices.Concat(rec.mu.reg, final)
	res.Ops = len(ops) + len(rec.mu.queue) + 2*len(rec.mu.holds) + len(rec.mu.watches)
	for _, op := range ops {
		if op.Outcome == Unknown {
			res.Unknown++
		}
	}
	for _, op := range rec.mu.queue {
		if op.Outcome == Unknown {
			res.Unknown++
		}
	}
	lin, info := linearizable(ops, 2*time.Minute)
	switch lin {
	case porcupine.Illegal:
		fail("register history is not linearizable (writes and final reads; see register.html)")
	case porcupine.Unknown:
		fail("register history: porcupine could not decide within 2 minutes")
	}
	readAnomalies, stale := checkReads(ops)
	res.StaleSyncs = stale
	anomalies = append(anomalies, readAnomalies...)
	if finalErr == nil && err == nil {
		anomalies = append(anomalies, checkQueue(rec.mu.queue, items)...)
	}
	anomalies = append(anomalies, checkLocks(rec.mu.holds)...)
	if finalErr == nil {
		finalVersions := map[int]int32{}
		for _, op := range final {
			finalVersions[op.Key] = op.Version
		}
		latest := map[[2]int]int32{}
		w.latest.Range(func(k, v any) bool {
			latest[k.([2]int)] = v.(int32)
			return true
		})
		anomalies = append(anomalies, checkWatches(rec.mu.watches, finalVersions, latest)...)
	}
	for i := 1; i <= c.N; i++ {
		switch exits := c.Exits(i); {
		case len(exits) > 0 && c.LostPort(i):
			res.Err = fmt.Errorf("member n%d could not bind a port another process took while it was down", i)
		case len(exits) > 0 && !nm.disked:
			fail("member n%d exited by itself: %s", i, strings.Join(exits, "; "))
		}
	}
	res.Anomalies = anomalies
	keep = len(anomalies) > 0 || o.Keep
	if keep {
		save(o.Dir, res, nm, rec, ops, info)
	}
	rec.mu.Unlock()
	return res
}

// wroteAfter waits up to d for a write acknowledged after t.
func (w *workload) wroteAfter(t, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		w.rec.mu.Lock()
		ok := slices.ContainsFunc(w.rec.mu.reg, func(op RegOp) bool { return op.write() && op.Outcome == OK && op.Call > t })
		w.rec.mu.Unlock()
		if ok {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// waitWatchers waits up to d for every watcher to have heard of the final
// version of every key.
func (w *workload) waitWatchers(final []RegOp, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		done := true
		for _, op := range final {
			for watcher := range 2 {
				v, ok := w.latest.Load([2]int{watcher, op.Key})
				if !ok || v.(int32) != op.Version {
					done = false
				}
			}
		}
		if done {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// converge waits until every member has the same zxid, node count and
// tree (a digest read through each member), and returns the registers as
// read through each member then, as final reads.
func converge(c *Cluster, rec *recorder, d time.Duration) ([]RegOp, error) {
	deadline := time.Now().Add(d)
	conns := make([]*zk.Conn, c.N)
	for i := range conns {
		conn, err := connect([]string{c.ClientAddr(i + 1)}, nil)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		conns[i] = conn
	}
	var why string
	for time.Now().Before(deadline) {
		sts := make([]Status, c.N)
		same := true
		for i := range sts {
			st, err := c.Srvr(i + 1)
			sts[i] = st
			same = same && err == nil && st.Zxid == sts[0].Zxid && st.NodeCount == sts[0].NodeCount
		}
		if !same {
			why = fmt.Sprintf("members at zxid/node count %s", statuses(sts))
			time.Sleep(200 * time.Millisecond)
			continue
		}
		digests := make([]string, c.N)
		var final []RegOp
		var err error
		for i, conn := range conns {
			if digests[i], err = digest(conn); err != nil {
				break
			}
			for k := 0; k < keys; k++ {
				// NB: numbered after the register clients (0..N), for porcupine's
				// visualisation's rows.
				op := RegOp{Client: c.N + 1 + i, Kind: FinalRead, Key: k, Call: rec.now(), Session: conn.SessionID()}
				var data []byte
				var st *zk.Stat
				if data, st, err = conn.Get(regPath(k)); err != nil {
					break
				}
				op.Return, op.Outcome, op.Version, op.Mzxid = rec.now(), OK, st.Version, st.Mzxid
				fmt.Sscan(string(data), &op.Value)
				final = append(final, op)
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			why = fmt.Sprintf("reading the tree: %v", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		// NB: a session expiring meanwhile changes the tree: the digests
		// count only if no member moved while they were read.
		moved := false
		for i := range sts {
			st, err := c.Srvr(i + 1)
			moved = moved || err != nil || st.Zxid != sts[i].Zxid
		}
		if moved {
			continue
		}
		if slices.ContainsFunc(digests, func(d string) bool { return d != digests[0] }) {
			return nil, fmt.Errorf("members at zxid %#x hold different trees: digests %v", sts[0].Zxid, digests)
		}
		return final, nil
	}
	return nil, fmt.Errorf("members did not converge within %v after the heal: %s", d, why)
}

func statuses(sts []Status) string {
	var s []string
	for i, st := range sts {
		s = append(s, fmt.Sprintf("n%d %#x/%d", i+1, st.Zxid, st.NodeCount))
	}
	return strings.Join(s, ", ")
}

// digest hashes the tree under / (but /zookeeper) as read through conn:
// each node's path, data and stat.
func digest(conn *zk.Conn) (string, error) {
	h := sha256.New()
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := conn.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		fmt.Fprintf(h, "%s\x00%q\x00%d %d %d %#x %#x %#x %d\n", p, data, st.Version, st.Cversion, st.Aversion, st.Czxid, st.Mzxid, st.EphemeralOwner, st.NumChildren)
		kids, _, err := conn.Children(p)
		if err != nil {
			return fmt.Errorf("children of %s: %w", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			child := strings.TrimSuffix(p, "/") + "/" + k
			if child == "/zookeeper" {
				continue
			}
			if err := walk(child); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("/"); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// readQueue reads the queue's items through member 1.
func readQueue(c *Cluster) ([]QueueItem, error) {
	conn, err := connect([]string{c.ClientAddr(1)}, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	kids, _, err := conn.Children(queuePath)
	if err != nil {
		return nil, err
	}
	var items []QueueItem
	for _, k := range kids {
		data, st, err := conn.Get(queuePath + "/" + k)
		if err != nil {
			return nil, err
		}
		it := QueueItem{Name: k, Czxid: st.Czxid}
		if _, err := fmt.Sscan(string(data), &it.ID); err != nil {
			return nil, fmt.Errorf("queue item %s holds %q", k, data)
		}
		items = append(items, it)
	}
	return items, nil
}

// save writes what a failing history needs to be understood.
func save(dir string, res Result, nm *nemesis, rec *recorder, ops []RegOp, info porcupine.LinearizationInfo) {
	write := func(name, text string) {
		_ = os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	var fs []string
	for _, f := range res.Schedule {
		fs = append(fs, f.String())
	}
	write("anomalies.txt", fmt.Sprintf("seed %d (replay: CHAOS_SEED=%d CHAOS_RUNS=1)\nfaults %s\n\n%s\n",
		res.Seed, res.Seed, strings.Join(fs, " "), strings.Join(res.Anomalies, "\n")))
	write("timeline.txt", nm.String()+"\n")
	var b strings.Builder
	sorted := append([]RegOp(nil), ops...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
	b.WriteString("# register operations, by call time\n")
	for _, op := range sorted {
		b.WriteString(op.String() + "\n")
	}
	b.WriteString("\n# queue creates\n")
	for _, op := range rec.mu.queue {
		fmt.Fprintf(&b, "c%d item %d %s %s\n", op.Client, op.ID, op.Outcome, op.Path)
	}
	b.WriteString("\n# lock holds\n")
	for _, h := range rec.mu.holds {
		fmt.Fprintf(&b, "c%d session %#x %v-%v\n", h.Client, h.Session, h.From, h.To)
	}
	b.WriteString("\n# watches set\n")
	for _, o := range rec.mu.watches {
		fmt.Fprintf(&b, "w%d r%d session %#x version %d mzxid %#x fired %v at %v\n", o.Watcher, o.Key, o.Session, o.Version, o.Mzxid, o.Fired, o.At)
	}
	write("history.txt", b.String())
	if err := porcupine.VisualizePath(registerModel, info, filepath.Join(dir, "register.html")); err != nil {
		write("register.html.error", err.Error())
	}
}
