package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// gkEnsemble is three gokeeper processes started from plain zoo.cfg files
// with server.N lines, on loopback.
type gkEnsemble struct {
	t     *testing.T
	dirs  []string
	cfgs  []string
	addrs []string // client addresses, by myid-1
	procs []*gkProc
}

func startEnsemble(t *testing.T, n int) *gkEnsemble {
	t.Helper()
	e := &gkEnsemble{t: t}
	var servers []string
	for i := 1; i <= n; i++ {
		servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i, freePort(t), freePort(t)))
	}
	for i := 1; i <= n; i++ {
		dir := filepath.Join(t.TempDir(), "data")
		writeMyid(t, dir, i)
		port := freePort(t)
		// NB: snapshots every few txns, so that a restarted member's log
		// starts after zxid 0 and a wiped member needs a SNAP.
		extra := append([]string{"tickTime=200", "initLimit=10", "syncLimit=5", "snapCount=10", "snapSizeLimitInKb=1"}, servers...)
		cfg := filepath.Join(t.TempDir(), "zoo.cfg")
		if err := os.WriteFile(cfg, []byte(gkZooCfg(dir, port, extra...)), 0o644); err != nil {
			t.Fatal(err)
		}
		e.dirs = append(e.dirs, dir)
		e.cfgs = append(e.cfgs, cfg)
		e.addrs = append(e.addrs, "127.0.0.1:"+strconv.Itoa(port))
		e.procs = append(e.procs, nil)
	}
	for i := range e.procs {
		e.start(i)
	}
	return e
}

func (e *gkEnsemble) start(i int) {
	e.procs[i] = spawnGokeeper(e.t, e.cfgs[i])
}

// mode returns what srvr says member i is, or "" when it does not serve.
func (e *gkEnsemble) mode(i int) string {
	out, err := fourLetterWord(e.addrs[i], "srvr", false, 2*time.Second)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(l, "Mode: "); ok {
			return m
		}
	}
	return ""
}

// zxid returns what srvr says member i's last zxid is.
func (e *gkEnsemble) zxid(i int) string {
	out, _ := fourLetterWord(e.addrs[i], "srvr", false, 2*time.Second)
	for _, l := range strings.Split(out, "\n") {
		if z, ok := strings.CutPrefix(l, "Zxid: "); ok {
			return z
		}
	}
	return ""
}

// leader waits until the running members serve: one leader, the rest
// followers. It returns the leader's index.
func (e *gkEnsemble) leader() int {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var modes []string
	for time.Now().Before(deadline) {
		modes = modes[:0]
		lead, ok := -1, true
		for i, p := range e.procs {
			if p == nil || !p.running() {
				modes = append(modes, "down")
				continue
			}
			m := e.mode(i)
			modes = append(modes, m)
			switch m {
			case "leader":
				if lead >= 0 {
					ok = false
				}
				lead = i
			case "follower":
			default:
				ok = false
			}
		}
		if ok && lead >= 0 {
			return lead
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("no serving leader within 30 s: modes %v", modes)
	return -1
}

// connect opens a session through the members listed.
func (e *gkEnsemble) connect(members ...int) *zk.Conn {
	e.t.Helper()
	return e.connectTimeout(4*time.Second, members...)
}

func (e *gkEnsemble) connectTimeout(timeout time.Duration, members ...int) *zk.Conn {
	e.t.Helper()
	var addrs []string
	for _, i := range members {
		addrs = append(addrs, e.addrs[i])
	}
	c, ev, err := zk.Connect(addrs, timeout, zk.WithLogger(gkNopLogger{}))
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			c.Close()
			e.t.Fatalf("no session through %v within 20 s", addrs)
		}
	}
	e.t.Cleanup(c.Close)
	return c
}

// converged waits until every running member reports the same last
// zxid, then returns the children of path on each, which must agree.
func (e *gkEnsemble) converged(path string) []string {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var zxids []string
	for {
		zxids = zxids[:0]
		for i, p := range e.procs {
			if p != nil && p.running() {
				zxids = append(zxids, e.zxid(i))
			}
		}
		if zxids[0] != "" && !slices.ContainsFunc(zxids, func(z string) bool { return z != zxids[0] }) {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("members did not reach the same zxid within 20 s: %v", zxids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var want []string
	for i, p := range e.procs {
		if p == nil || !p.running() {
			continue
		}
		c := e.connect(i)
		kids, _, err := c.Children(path)
		c.Close()
		if err != nil {
			e.t.Fatalf("children of %s on member %d: %v", path, i+1, err)
		}
		slices.Sort(kids)
		if want != nil && !slices.Equal(kids, want) {
			e.t.Fatalf("at zxid %s member %d has children %v, another member %v", zxids[0], i+1, kids, want)
		}
		want = kids
	}
	return want
}

// TestProcessEnsemble runs three gokeeper processes as an ensemble from
// plain zoo.cfg files: they elect a leader, a write through any member is
// seen on every member, sessions and ephemerals work through followers,
// and when the leader is killed the other two elect a new one, keep every
// acknowledged write and take new ones; the killed member catches up when
// it restarts.
func TestProcessEnsemble(t *testing.T) {
	e := startEnsemble(t, 3)
	lead := e.leader()
	follower := (lead + 1) % 3

	// Writes through every member, the leader included.
	var acked []string
	for i := range e.procs {
		c := e.connect(i)
		for j := 0; j < 5; j++ {
			p, err := c.Create(fmt.Sprintf("/m%d-", i+1), []byte("x"), zk.FlagSequence, zk.WorldACL(zk.PermAll))
			if err != nil {
				t.Fatalf("create through member %d: %v", i+1, err)
			}
			acked = append(acked, strings.TrimPrefix(p, "/"))
		}
		c.Close()
	}
	slices.Sort(acked)
	acked = append(acked, "zookeeper")
	slices.Sort(acked)
	if got := e.converged("/"); !slices.Equal(got, acked) {
		t.Fatalf("children of / = %v, want %v", got, acked)
	}

	// An ephemeral made through a follower is on the leader, and goes
	// everywhere when its session closes.
	c := e.connectTimeout(2*time.Second, follower)
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	lc := e.connect(lead)
	if _, err := lc.Sync("/eph"); err != nil {
		t.Fatal(err)
	}
	if ok, st, err := lc.Exists("/eph"); err != nil || !ok || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("ephemeral on the leader: exists=%v owner=%#x err=%v, want owner %#x", ok, st.EphemeralOwner, err, c.SessionID())
	}
	// The session outlives its timeout (2 s) while its client talks to
	// the follower only: the follower's pings carry it to the leader,
	// which alone expires sessions.
	time.Sleep(3 * time.Second)
	if ok, _, err := lc.Exists("/eph"); err != nil || !ok {
		t.Fatalf("ephemeral of a live session on a follower is gone after its timeout: exists=%v err=%v", ok, err)
	}
	c.Close()
	if got := e.converged("/"); !slices.Equal(got, acked) {
		t.Fatalf("after the ephemeral's session closed: children of / = %v, want %v", got, acked)
	}
	lc.Close()

	// The leader dies: the others elect a new leader, which has every
	// acknowledged write and takes new ones from a client that moves.
	w := e.connect(follower, (lead+2)%3)
	e.procs[lead].kill9()
	newLead := e.leader()
	if newLead == lead {
		t.Fatalf("killed leader %d still leads", lead+1)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := w.Create("/after", []byte("y"), 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write acknowledged within 20 s of the leader's death: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := append(slices.Clone(acked), "after")
	slices.Sort(want)
	if got := e.converged("/"); !slices.Equal(got, want) {
		t.Fatalf("after failover: children of / = %v, want %v", got, want)
	}

	// The old leader restarts and catches up.
	e.start(lead)
	e.leader()
	if got := e.converged("/"); !slices.Equal(got, want) {
		t.Fatalf("after the old leader restarted: children of / = %v, want %v", got, want)
	}
	if data, _, err := w.Get("/after"); err != nil || string(data) != "y" {
		t.Fatalf("get /after = %q, %v", data, err)
	}

	// Every member restarts (its log now starts at a snapshot), then one
	// loses its data dir: it gets the leader's state by SNAP.
	for i := range e.procs {
		e.procs[i].kill9()
		e.start(i)
		e.leader()
	}
	lead = e.leader()
	wiped := (lead + 1) % 3
	e.procs[wiped].kill9()
	if err := os.RemoveAll(e.dirs[wiped]); err != nil {
		t.Fatal(err)
	}
	writeMyid(t, e.dirs[wiped], wiped+1)
	e.start(wiped)
	e.leader()
	if got := e.converged("/"); !slices.Equal(got, want) {
		t.Fatalf("after member %d was wiped: children of / = %v, want %v", wiped+1, got, want)
	}
	if !e.procs[lead].hasLog(func(m map[string]any) bool {
		msg, _ := m["message"].(string)
		return strings.Contains(msg, "by SNAP")
	}) {
		t.Errorf("leader (member %d) did not sync the wiped member by SNAP", lead+1)
	}
}
