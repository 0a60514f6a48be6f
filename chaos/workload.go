package chaos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// The znodes the workloads use.
const (
	root      = "/chaos"
	queuePath = root + "/queue"
	lockPath  = root + "/lock"
	keys      = 3 // registers /chaos/r0.. r2
)

func regPath(k int) string { return fmt.Sprintf("%s/r%d", root, k) }

var acl = zk.WorldACL(zk.PermAll)

// nopLogger silences go-zookeeper.
type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

// recorder collects what every client saw, with times on one clock.
type recorder struct {
	start time.Time
	mu    struct {
		sync.Mutex
		reg     []RegOp
		queue   []QueueOp
		holds   []Hold
		watches []WatchObs
	}
}

func (r *recorder) now() time.Duration { return time.Since(r.start) }

func (r *recorder) reg(op RegOp) {
	r.mu.Lock()
	r.mu.reg = append(r.mu.reg, op)
	r.mu.Unlock()
}

// workload runs the writing clients until stop is closed, the watchers
// until watchStop is.
type workload struct {
	rec       *recorder
	c         *Cluster
	stop      chan struct{}
	watchStop chan struct{}
	writers   sync.WaitGroup
	watchers  sync.WaitGroup
	nextID    atomic.Int64 // unique values and queue ids
	// latest holds each watcher's last view of each key: [watcher, key].
	latest sync.Map
}

// connect opens a session to addrs; its events go to onEvent (may be nil).
func connect(addrs []string, onEvent func(zk.Event)) (*zk.Conn, error) {
	if onEvent == nil {
		onEvent = func(zk.Event) {}
	}
	conn, _, err := zk.Connect(addrs, SessionTimeout, zk.WithLogger(nopLogger{}), zk.WithEventCallback(onEvent))
	return conn, err
}

// setup creates the workloads' znodes through any member.
func setup(c *Cluster) error {
	conn, err := connect(c.ClientAddrs(), nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	paths := []string{root, queuePath}
	for k := 0; k < keys; k++ {
		paths = append(paths, regPath(k))
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range paths {
		for {
			_, err := conn.Create(p, []byte("0"), 0, acl)
			if err == nil || errors.Is(err, zk.ErrNodeExists) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("chaos: setup: create %s: %w", p, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func (w *workload) stopped() bool { return closed(w.stop) }

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// pause waits up to d, less if the workload stops.
func (w *workload) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.stop:
	case <-t.C:
	}
}

// run starts every client: a register client pinned to each member and
// one that may use any, two queue producers, three lock contenders and
// two watchers.
func (w *workload) run(seed uint64) {
	all := w.c.ClientAddrs()
	id := 0
	next := func() int { id++; return id - 1 }
	for i := 1; i <= w.c.N; i++ {
		client := next()
		spawn(&w.writers, func() { w.register(client, []string{w.c.ClientAddr(i)}, seed+uint64(client)) })
	}
	client := next()
	spawn(&w.writers, func() { w.register(client, all, seed+uint64(client)) })
	for range 2 {
		client := next()
		spawn(&w.writers, func() { w.queue(client, all) })
	}
	for range 3 {
		client := next()
		spawn(&w.writers, func() { w.lock(client, all, seed+uint64(client)) })
	}
	for i := range 2 {
		spawn(&w.watchers, func() { w.watch(i, all) })
	}
}

func spawn(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}

// closeWhenStopped closes conn once stop is closed, failing its requests
// under way (their outcome is then unknown).
func closeWhenStopped(stop chan struct{}, conn *zk.Conn) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-stop:
		case <-done:
		}
		conn.Close()
	}()
	return func() { close(done) }
}

// register runs reads, syncs then reads, sets and CASes on the registers.
func (w *workload) register(client int, addrs []string, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, 7))
	conn, err := connect(addrs, nil)
	if err != nil {
		return
	}
	defer closeWhenStopped(w.stop, conn)()
	seen := make([]int32, keys) // the last version this client saw of each key
	for !w.stopped() {
		key := rnd.IntN(keys)
		p := regPath(key)
		op := RegOp{Client: client, Key: key, Session: conn.SessionID(), Call: w.rec.now()}
		var st *zk.Stat
		switch x := rnd.IntN(100); {
		case x < 30:
			op.Kind = Read
		case x < 50:
			op.Kind = SyncRead
		case x < 80:
			op.Kind, op.Expect = CAS, seen[key]
		default:
			op.Kind = Set
		}
		if op.write() {
			op.Value = w.nextID.Add(1)
			version := int32(-1)
			if op.Kind == CAS {
				version = op.Expect
			}
			st, err = conn.Set(p, []byte(itoa(op.Value)), version)
			switch {
			case err == nil:
				op.Outcome = OK
			case errors.Is(err, zk.ErrBadVersion):
				op.Outcome = BadVersion
			default:
				op.Outcome = Unknown
			}
		} else {
			if op.Kind == SyncRead {
				_, err = conn.Sync(p)
			}
			var data []byte
			if err == nil {
				data, st, err = conn.Get(p)
			}
			if err != nil {
				w.pause(time.Duration(rnd.IntN(20)) * time.Millisecond)
				continue
			}
			op.Outcome = OK
			op.Value, err = strconv.ParseInt(string(data), 10, 64)
			if err != nil {
				op.Value = -1
			}
		}
		op.Return = w.rec.now()
		if conn.SessionID() != op.Session {
			op.Session = 0
		}
		if st != nil && op.Outcome == OK {
			op.Version, op.Mzxid = st.Version, st.Mzxid
			seen[key] = max(seen[key], st.Version)
		}
		if op.Outcome == BadVersion || rnd.IntN(4) == 0 {
			// NB: a CAS that lost, or now and then, learns the version
			// again: CASes mostly expect the latest one.
			if _, st, err := conn.Get(p); err == nil {
				seen[key] = st.Version
			}
		}
		w.rec.reg(op)
		w.pause(time.Duration(rnd.IntN(10)) * time.Millisecond)
	}
}

// queue appends items to the queue with sequential creates.
func (w *workload) queue(client int, addrs []string) {
	conn, err := connect(addrs, nil)
	if err != nil {
		return
	}
	defer closeWhenStopped(w.stop, conn)()
	for !w.stopped() {
		op := QueueOp{Client: client, ID: w.nextID.Add(1)}
		path, err := conn.Create(queuePath+"/item-", []byte(itoa(op.ID)), zk.FlagSequence, acl)
		op.Outcome, op.Path = OK, path
		if err != nil {
			op.Outcome = Unknown
		}
		w.rec.mu.Lock()
		w.rec.mu.queue = append(w.rec.mu.queue, op)
		w.rec.mu.Unlock()
		w.pause(20 * time.Millisecond)
	}
}

// lock contends for the ephemeral lock: create it, hold it a moment,
// delete it. A client that loses its connection, or does not know
// whether its create or delete happened, gives up its session.
func (w *workload) lock(client int, addrs []string, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, 11))
	for !w.stopped() {
		var lost atomic.Int64 // when the session was first disconnected; 0: never
		conn, err := connect(addrs, func(ev zk.Event) {
			if ev.Type == zk.EventSession && (ev.State == zk.StateDisconnected || ev.State == zk.StateExpired) {
				lost.CompareAndSwap(0, int64(w.rec.now()))
			}
		})
		if err != nil {
			return
		}
		stopClose := closeWhenStopped(w.stop, conn)
		w.lockSession(client, conn, &lost, rnd)
		stopClose()
		conn.Close()
	}
}

func (w *workload) lockSession(client int, conn *zk.Conn, lost *atomic.Int64, rnd *rand.Rand) {
	// NB: wait for the session, so that lost counts from a connection.
	for conn.State() != zk.StateHasSession {
		if w.stopped() || lost.Load() != 0 {
			return
		}
		w.pause(10 * time.Millisecond)
	}
	lost.Store(0)
	for !w.stopped() && lost.Load() == 0 {
		session := conn.SessionID()
		_, err := conn.Create(lockPath, nil, zk.FlagEphemeral, acl)
		if errors.Is(err, zk.ErrNodeExists) {
			w.pause(time.Duration(5+rnd.IntN(20)) * time.Millisecond)
			continue
		}
		if err != nil {
			return
		}
		h := Hold{Client: client, Session: session, From: w.rec.now()}
		w.pause(time.Duration(20+rnd.IntN(100)) * time.Millisecond)
		// NB: the belief ends at the release, the first disconnection or a
		// third of the session timeout after the create's answer,
		// whichever is first: the client's last message before it reached
		// the leader's session tracker no earlier than one ping interval
		// (a third of the timeout) before, so the session cannot expire
		// before two thirds of the timeout after the answer, however the
		// member the client talks to stalls.
		h.To = min(w.rec.now(), h.From+SessionTimeout/3)
		if l := time.Duration(lost.Load()); l != 0 && l < h.To {
			h.To = l
		}
		w.rec.mu.Lock()
		w.rec.mu.holds = append(w.rec.mu.holds, h)
		w.rec.mu.Unlock()
		if lost.Load() != 0 || conn.Delete(lockPath, -1) != nil {
			return
		}
		w.pause(time.Duration(rnd.IntN(30)) * time.Millisecond)
	}
}

// watch keeps a data watch on every register and records each version it
// reads when it sets one.
func (w *workload) watch(watcher int, addrs []string) {
	conn, err := connect(addrs, nil)
	if err != nil {
		return
	}
	defer closeWhenStopped(w.watchStop, conn)()
	var wg sync.WaitGroup
	for k := 0; k < keys; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fired := false
			for !closed(w.watchStop) {
				session := conn.SessionID()
				_, st, ch, err := conn.GetW(regPath(k))
				if err != nil {
					fired = false
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if conn.SessionID() != session {
					session = 0
				}
				o := WatchObs{Watcher: watcher, Key: k, Session: session, Version: st.Version, Mzxid: st.Mzxid, Fired: fired, At: w.rec.now()}
				w.rec.mu.Lock()
				w.rec.mu.watches = append(w.rec.mu.watches, o)
				w.rec.mu.Unlock()
				w.latest.Store([2]int{watcher, k}, st.Version)
				select {
				case ev := <-ch:
					fired = ev.Type == zk.EventNodeDataChanged
				case <-w.watchStop:
					return
				}
			}
		}()
	}
	wg.Wait()
}
