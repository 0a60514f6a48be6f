package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

// gkEnsemble is gokeeper processes (and, in a mixed ensemble, Apache
// ZooKeeper ones) started from plain zoo.cfg files with server.N lines,
// on loopback: voters first, then observers.
type gkEnsemble struct {
	t        *testing.T
	dirs     []string
	cfgs     []string
	addrs    []string // client addresses, by myid-1
	procs    []*gkProc
	observer []bool
	zk       []bool   // member i is Apache ZooKeeper
	env      []string // added to every member's environment
	servers  []string // member i's own server.N line, by index
	// links are the proxies in front of the members' quorum ports, by
	// index, in an ensemble started with them (newMixedEnsemble).
	links []*linkProxy
}

func startEnsemble(t *testing.T, voters, observers int, env ...string) *gkEnsemble {
	t.Helper()
	return startMixedEnsemble(t, voters, observers, nil, nil, env...)
}

// startMixedEnsemble starts an ensemble whose members listed in zk (by
// index) are Apache ZooKeeper processes, with the zoo.cfg lines cfg added
// to every member's; env is added to the gokeeper members' environment,
// and the -D flags of its SERVER_JVMFLAGS to ZooKeeper's java command
// line, as zkServer.sh does.
func startMixedEnsemble(t *testing.T, voters, observers int, zk []int, cfg []string, env ...string) *gkEnsemble {
	t.Helper()
	return newMixedEnsemble(t, voters, observers, zk, func(int) []string { return cfg }, false, env...)
}

// newMixedEnsemble is startMixedEnsemble with the zoo.cfg lines of member
// i (by index) given by cfg(i); with proxied, every member reaches the
// others' quorum ports through a linkProxy (e.links, by index), which the
// test can cut.
func newMixedEnsemble(t *testing.T, voters, observers int, zk []int, cfg func(i int) []string, proxied bool, env ...string) *gkEnsemble {
	t.Helper()
	e := &gkEnsemble{t: t, env: env}
	n := voters + observers
	quorum, election := make([]int, n), make([]int, n)
	for i := range n {
		quorum[i], election[i] = freePort(t), freePort(t)
		if proxied {
			e.links = append(e.links, newLinkProxy(t, "127.0.0.1:"+strconv.Itoa(quorum[i])))
		}
	}
	// servers returns the server.N lines member self sees.
	servers := func(self int) []string {
		var lines []string
		for i := range n {
			qaddr := "127.0.0.1:" + strconv.Itoa(quorum[i])
			if proxied && i != self {
				qaddr = e.links[i].addr
			}
			line := fmt.Sprintf("server.%d=%s:%d", i+1, qaddr, election[i])
			if i >= voters {
				line += ":observer"
			}
			lines = append(lines, line)
		}
		return lines
	}
	for i := range n {
		e.servers = append(e.servers, servers(i)[i])
	}
	for i := 1; i <= n; i++ {
		dir := filepath.Join(t.TempDir(), "data")
		writeMyid(t, dir, i)
		port := freePort(t)
		// NB: snapshots every few txns, so that a restarted member's log
		// starts after zxid 0 and a wiped member needs a SNAP.
		extra := append([]string{"tickTime=200", "initLimit=10", "syncLimit=5", "snapCount=10", "snapSizeLimitInKb=1"}, servers(i-1)...)
		extra = append(extra, cfg(i-1)...)
		if i > voters {
			extra = append(extra, "peerType=observer")
		}
		e.observer = append(e.observer, i > voters)
		e.zk = append(e.zk, slices.Contains(zk, i-1))
		path := filepath.Join(t.TempDir(), "zoo.cfg")
		if err := os.WriteFile(path, []byte(gkZooCfg(dir, port, extra...)), 0o644); err != nil {
			t.Fatal(err)
		}
		e.dirs = append(e.dirs, dir)
		e.cfgs = append(e.cfgs, path)
		e.addrs = append(e.addrs, "127.0.0.1:"+strconv.Itoa(port))
		e.procs = append(e.procs, nil)
	}
	for i := range e.procs {
		e.start(i)
	}
	return e
}

// wipe kills member i, empties its data dir (but for myid) and starts it
// again: it has to be sent the leader's state.
func (e *gkEnsemble) wipe(i int) {
	e.t.Helper()
	e.procs[i].kill9()
	if err := os.RemoveAll(e.dirs[i]); err != nil {
		e.t.Fatal(err)
	}
	writeMyid(e.t, e.dirs[i], i+1)
	e.start(i)
}

func (e *gkEnsemble) start(i int) {
	if !e.zk[i] {
		cmd := exec.Command(gokeeperBinary(e.t), "serve", "--config", e.cfgs[i], "--log-json")
		cmd.Env = append(os.Environ(), e.env...)
		e.procs[i] = spawnProc(e.t, cmd, e.cfgs[i])
		return
	}
	// NB: ZooKeeper 3.8.0 killed just after it created a txn log file,
	// before the file's header, cannot start again (FileHeader.deserialize:
	// EOFException); as an operator would, the empty file goes.
	logs, _ := filepath.Glob(filepath.Join(e.dirs[i], "version-2", "log.*"))
	for _, l := range logs {
		if st, err := os.Stat(l); err == nil && st.Size() == 0 {
			os.Remove(l)
		}
	}
	// NB: ZooKeeper logs through log4j to the console, which the test
	// shows if it fails; the directory of log4j.properties is on the
	// classpath.
	conf := filepath.Dir(e.cfgs[i])
	props := "log4j.rootLogger=INFO, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\n" +
		"log4j.appender.C.layout=org.apache.log4j.PatternLayout\nlog4j.appender.C.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n\n"
	if err := os.WriteFile(filepath.Join(conf, "log4j.properties"), []byte(props), 0o644); err != nil {
		e.t.Fatal(err)
	}
	// NB: Debian's zookeeper.jar does not list Netty's codec and
	// resolver, which the TLS port unification of sslQuorum needs (see
	// debianNettyClasspath).
	cp := append(slices.Clone(zkClasspath), "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar",
		"/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar", conf)
	args := []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
	for _, kv := range e.env {
		if flags, ok := strings.CutPrefix(kv, "SERVER_JVMFLAGS="); ok {
			args = append(args, strings.Fields(flags)...)
		}
	}
	args = append(args, "-cp", strings.Join(cp, ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", e.cfgs[i])
	cmd := exec.Command("java", args...)
	e.procs[i] = spawnProc(e.t, cmd, e.cfgs[i])
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

// leader waits until the running members serve: one leader, the other
// voters followers, the observers observers. It returns the leader's
// index.
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
			case "follower", "observer":
				ok = ok && (m == "observer") == e.observer[i]
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
	// NB: generous, for a JVM member on a loaded machine.
	deadline := time.After(40 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			c.Close()
			e.t.Fatalf("no session through %v within 40 s", addrs)
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
	e := startEnsemble(t, 3, 0)
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
	if _, err := w.Create("/kept", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	session := w.SessionID()
	e.procs[lead].kill9()
	newLead := e.leader()
	if newLead == lead {
		t.Fatalf("killed leader %d still leads", lead+1)
	}
	if !e.procs[newLead].hasLog(func(m map[string]any) bool {
		return m["message"] == "leader election finished" && m["state"] == "LEADING" && m["took"] != nil
	}) {
		t.Errorf("the new leader (member %d) did not log how long its election took", newLead+1)
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
	// The session and its ephemeral outlive the leader.
	if ok, st, err := w.Exists("/kept"); err != nil || !ok || st.EphemeralOwner != session || w.SessionID() != session {
		t.Fatalf("after failover: /kept exists=%v owner=%#x err=%v, session %#x now %#x", ok, st.EphemeralOwner, err, session, w.SessionID())
	}
	if err := w.Delete("/kept", -1); err != nil {
		t.Fatal(err)
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

	// A follower restarts while nothing is written: it serves everything
	// it had logged (converged compares zxids before it writes anything).
	restarted := (e.leader() + 1) % 3
	e.procs[restarted].kill9()
	e.start(restarted)
	e.leader()
	if got := e.converged("/"); !slices.Equal(got, want) {
		t.Fatalf("after follower %d restarted: children of / = %v, want %v", restarted+1, got, want)
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
	e.wipe(wiped)
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

// zxidOf returns member i's last zxid, from srvr.
func (e *gkEnsemble) zxidOf(i int) int64 {
	e.t.Helper()
	z, err := strconv.ParseInt(strings.TrimPrefix(e.zxid(i), "0x"), 16, 64)
	if err != nil {
		e.t.Fatalf("member %d's zxid %q: %v", i+1, e.zxid(i), err)
	}
	return z
}

// signal sends sig to member i; after SIGSTOP it waits until every
// thread of the process has stopped, so that the member reads nothing
// sent afterwards.
func (e *gkEnsemble) signal(i int, sig syscall.Signal) {
	e.t.Helper()
	pid := e.procs[i].cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		e.t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); sig == syscall.SIGSTOP; {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			// NB: the state follows the ")" that ends the command name.
			if i := bytes.LastIndexByte(b, ')'); err == nil && i >= 0 && i+2 < len(b) && b[i+2] != 'T' {
				stopped = false
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("member %d did not stop within 5 s of SIGSTOP", i+1)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestProcessEnsembleFive runs five voters and an observer: a write
// through a follower is read back through the observer after sync; an
// expired session is closed once, by the leader; a minority stops
// serving and serves again when the majority returns; and members that
// logged a proposal that never committed have it truncated when they
// rejoin a later epoch.
func TestProcessEnsembleFive(t *testing.T) {
	e := startEnsemble(t, 5, 1)
	lead := e.leader()
	const obs = 5
	var followers []int
	for i := 0; i < 5; i++ {
		if i != lead {
			followers = append(followers, i)
		}
	}
	acl := zk.WorldACL(zk.PermAll)

	// Read your writes across members: sync on the observer waits for the
	// txns committed before it.
	fc := e.connect(followers[0])
	oc := e.connect(obs)
	for i := 0; i < 30; i++ {
		p := fmt.Sprintf("/s%d", i)
		if _, err := fc.Create(p, []byte(strconv.Itoa(i)), 0, acl); err != nil {
			t.Fatalf("create %s through follower %d: %v", p, followers[0]+1, err)
		}
		if _, err := oc.Sync(p); err != nil {
			t.Fatalf("sync %s on the observer: %v", p, err)
		}
		if data, _, err := oc.Get(p); err != nil || string(data) != strconv.Itoa(i) {
			t.Fatalf("get %s on the observer after sync = %q, %v; want %q", p, data, err, strconv.Itoa(i))
		}
	}
	oc.Close()

	// A session whose client vanishes from a follower expires once: one
	// closeSession txn, from the leader.
	raw, res, err := rawclient.Connect(e.addrs[followers[1]], rawclient.ConnectOptions{TimeoutMs: 1000}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f, _, err := raw.Call(jute.OpCreate, &jute.CreateRequest{Path: "/exp", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)}); err != nil || f.Err() != 0 {
		t.Fatalf("create /exp: %v %v", err, f.Err())
	}
	e.converged("/")
	// NB: the sessions converged opened may still be closing.
	before := e.zxidOf(lead)
	for {
		time.Sleep(500 * time.Millisecond)
		if z := e.zxidOf(lead); z != before {
			before = z
			continue
		}
		break
	}
	_, _, gone, err := fc.ExistsW("/exp")
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	select {
	case ev := <-gone:
		if ev.Type != zk.EventNodeDeleted {
			t.Fatalf("watch on /exp: %+v, want NodeDeleted", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the ephemeral of a vanished session was still there after 20 s")
	}
	// NB: nothing else writes meanwhile; a second close would come soon.
	time.Sleep(time.Second)
	if after := e.zxidOf(lead); after != before+1 {
		t.Errorf("expiry took zxids %#x..%#x: want exactly one closeSession txn", before, after)
	}
	session := fmt.Sprintf("0x%x", res.Response.SessionId)
	for i, p := range e.procs {
		expired := p.hasLog(func(m map[string]any) bool {
			return m["message"] == "session expired" && m["session"] == session
		})
		if expired != (i == lead) {
			t.Errorf("member %d (leader %d) logged the expiry of %s: %v", i+1, lead+1, session, expired)
		}
	}

	// Three voters stop: the leader, one follower and the observer are a
	// minority and stop serving; when the three come back, all serve.
	stopped := followers[1:]
	for _, i := range stopped {
		e.signal(i, syscall.SIGSTOP)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, i := range []int{lead, followers[0], obs} {
		for {
			out, _ := fourLetterWord(e.addrs[i], "srvr", false, 2*time.Second)
			if strings.Contains(out, "not currently serving requests") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %d of a minority still answers srvr with %q", i+1, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, i := range stopped {
		e.signal(i, syscall.SIGCONT)
	}
	lead = e.leader()
	w := e.connect(lead)
	if _, err := w.Create("/back", nil, 0, acl); err != nil {
		t.Fatalf("write after the majority came back: %v", err)
	}
	w.Close()
	e.converged("/")

	// The leader and one follower log a proposal the other voters never
	// read (they are stopped, then killed), then die too. The three
	// others elect a leader of a later epoch; the two come back before it
	// wrote anything, and truncate the proposal (ZooKeeper sends a SNAP
	// instead once the new epoch has txns: a TRUNC must not cross one).
	var dead, alive []int
	for i := 0; i < 5; i++ {
		if i != lead && len(dead) < 3 {
			dead = append(dead, i)
		} else if i != lead {
			alive = append(alive, i)
		}
	}
	lc, _, err := rawclient.Connect(e.addrs[lead], rawclient.ConnectOptions{TimeoutMs: 4000}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range dead {
		e.signal(i, syscall.SIGSTOP)
	}
	if _, err := lc.Send(jute.OpCreate, &jute.CreateRequest{Path: "/uncommitted", Acl: jute.OpenACLUnsafe()}); err != nil {
		t.Fatal(err)
	}
	// NB: less than syncLimit, after which the leader would give up.
	time.Sleep(500 * time.Millisecond)
	for _, i := range dead {
		e.procs[i].kill9()
	}
	lc.Close()
	oldLead := lead
	e.procs[oldLead].kill9()
	e.procs[alive[0]].kill9()
	for _, i := range dead {
		e.start(i)
	}
	e.leader()
	e.start(oldLead)
	e.start(alive[0])
	lead = e.leader()
	w = e.connect(lead)
	if _, err := w.Create("/later", nil, 0, acl); err != nil {
		t.Fatalf("write in the new epoch: %v", err)
	}
	w.Close()
	kids := e.converged("/")
	if slices.Contains(kids, "uncommitted") || !slices.Contains(kids, "later") || !slices.Contains(kids, "back") {
		t.Fatalf("children of / after the truncation: %v; want later and back, not uncommitted", kids)
	}
	for _, i := range []int{oldLead, alive[0]} {
		if !e.procs[i].hasLog(func(m map[string]any) bool { return m["message"] == "truncated the txn log as the leader said" }) {
			t.Errorf("member %d, which logged an uncommitted proposal, was not truncated", i+1)
		}
	}
}

// requireZooKeeper skips a test when Apache ZooKeeper is not installed.
func requireZooKeeper(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("java not installed; skipping the test with Apache ZooKeeper (apt-get install zookeeper)")
	}
	for _, jar := range append(slices.Clone(zkClasspath), "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar") {
		if _, err := os.Stat(jar); err != nil {
			t.Skipf("%s missing; skipping the test with Apache ZooKeeper (apt-get install zookeeper)", jar)
		}
	}
}

// mntrValue returns a key of member i's mntr, waiting up to 20 s for a
// member that does not serve yet or answers slowly.
func (e *gkEnsemble) mntrValue(i int, key string) string {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, _ := fourLetterWord(e.addrs[i], "mntr", false, 5*time.Second)
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, key+"\t"); ok {
				return v
			}
		}
	}
	return ""
}

// TestProcessMixedEnsemble runs gokeeper members inside an Apache
// ZooKeeper 3.8 ensemble: two ZooKeeper voters, a gokeeper voter and a
// gokeeper observer. Whichever kind leads first, its death makes a member
// of the other kind lead, so both lead in turn; writes through every
// member converge, sync on the observer reads a write made through a
// ZooKeeper member, sessions and their ephemerals move between members
// of both kinds (REVALIDATE), restarted members catch up by DIFF and
// wiped ones by SNAP from a leader of the other kind, and members of
// both kinds have the same digest at the same zxid and count no digest
// mismatch, after txns of every kind made through each member.
func TestProcessMixedEnsemble(t *testing.T) {
	requireZooKeeper(t)
	e := startMixedEnsemble(t, 3, 1, []int{0, 1}, []string{"extendedTypesEnabled=true"})
	const gkVoter, gkObserver = 2, 3
	acl := zk.WorldACL(zk.PermAll)
	var want []string
	kind := func(i int) string {
		if e.zk[i] {
			return fmt.Sprintf("ZooKeeper member %d", i+1)
		}
		return fmt.Sprintf("gokeeper member %d", i+1)
	}
	leaders := map[bool]bool{}
	for round := 0; round < 2; round++ {
		lead := e.leader()
		leaders[e.zk[lead]] = true
		t.Logf("round %d: %s leads", round, kind(lead))

		// Writes through every member, ephemerals included, converge.
		for i := range e.procs {
			c := e.connect(i)
			p, err := c.Create(fmt.Sprintf("/r%d-m%d-", round, i+1), []byte(kind(i)), zk.FlagSequence, acl)
			if err != nil {
				t.Fatalf("create through %s: %v", kind(i), err)
			}
			want = append(want, strings.TrimPrefix(p, "/"))
			base := fmt.Sprintf("/r%d-ops%d", round, i+1)
			digestOps(t, c, base)
			want = append(want, base[1:])
			c.Close()
		}
		slices.Sort(want)
		if got := e.converged("/"); !slices.Equal(got, append(slices.Clone(want), "zookeeper")) {
			t.Fatalf("round %d: children of / = %v, want %v and zookeeper", round, got, want)
		}

		// Read your writes on the gokeeper observer after sync.
		zc := e.connect(0) // a ZooKeeper member
		oc := e.connect(gkObserver)
		for j := 0; j < 10; j++ {
			p := fmt.Sprintf("/r%d-sync%d", round, j)
			if _, err := zc.Create(p, []byte(p), 0, acl); err != nil {
				t.Fatalf("create %s: %v", p, err)
			}
			want = append(want, p[1:])
			if _, err := oc.Sync(p); err != nil {
				t.Fatalf("sync %s on the observer: %v", p, err)
			}
			if data, _, err := oc.Get(p); err != nil || string(data) != p {
				t.Fatalf("get %s on the observer after sync = %q, %v", p, data, err)
			}
		}
		zc.Close()
		oc.Close()
		slices.Sort(want)

		// A session and its ephemeral move between members of both kinds.
		for _, mv := range [][2]int{{gkVoter, 0}, {1, gkVoter}, {0, gkObserver}} {
			from, to := mv[0], mv[1]
			p := fmt.Sprintf("/r%d-moved-%d-%d", round, from+1, to+1)
			first, res, err := rawclient.Connect(e.addrs[from], rawclient.ConnectOptions{TimeoutMs: 4000}, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			f, _, err := first.Call(jute.OpCreate, &jute.CreateRequest{Path: p, Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)})
			if err != nil || f.Err() != 0 {
				t.Fatalf("create %s on %s: %v %v", p, kind(from), err, f.Err())
			}
			// NB: as a client does, the reconnect names the last zxid it
			// saw; a member that has not applied it yet refuses it, and
			// the client tries again.
			id, passwd := res.Response.SessionId, res.Response.Passwd
			var raw *rawclient.Client
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				raw, res, err = rawclient.Connect(e.addrs[to], rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: id, Passwd: passwd, LastZxidSeen: f.Header.Zxid}, 10*time.Second)
				if err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Fatalf("moving a session from %s to %s: %v", kind(from), kind(to), err)
			}
			if res.Response.TimeOut == 0 || res.Response.SessionId != id {
				t.Fatalf("%s refused the session 0x%x made on %s: %+v", kind(to), id, kind(from), res.Response)
			}
			f, _, err = raw.Call(jute.OpExists, &jute.ExistsRequest{Path: p})
			if err != nil || f.Err() != 0 {
				t.Fatalf("exists %s on %s after the move: %v %v", p, kind(to), err, f.Err())
			}
			if f, _, err := raw.CloseSession(); err != nil || f.Err() != 0 {
				t.Fatalf("closing the moved session on %s: %v %v", kind(to), err, f.Err())
			}
			raw.Close()
			first.Close()
		}

		// The leader dies: a member of the other kind leads, and the
		// dead one, restarted, catches up.
		e.procs[lead].kill9()
		next := e.leader()
		if e.zk[next] == e.zk[lead] {
			t.Fatalf("after %s died, %s leads: want the other kind", kind(lead), kind(next))
		}
		w := e.connect(next)
		p, err := w.Create(fmt.Sprintf("/r%d-after-", round), nil, zk.FlagSequence, acl)
		if err != nil {
			t.Fatalf("write after the failover to %s: %v", kind(next), err)
		}
		w.Close()
		want = append(want, p[1:])
		slices.Sort(want)
		e.start(lead)
		e.leader()

		// A wiped member of the other kind than the leader gets a SNAP.
		wiped := gkVoter
		if !e.zk[next] {
			wiped = 0
		}
		e.wipe(wiped)
		e.leader()
		if got := e.converged("/"); !slices.Equal(got, append(slices.Clone(want), "zookeeper")) {
			t.Fatalf("round %d, after %s was wiped: children of / = %v, want %v and zookeeper", round, kind(wiped), got, want)
		}
	}
	if !leaders[true] || !leaders[false] {
		t.Errorf("leaders were ZooKeeper=%v gokeeper=%v: want both", leaders[true], leaders[false])
	}
	// The digest logs (every 128th zxid) of both kinds agree: the trees
	// of ZooKeeper and gokeeper members have the same digest at the same
	// zxid.
	e.fillDigestLogs(e.leader())
	want = append(want, "digest-log")
	slices.Sort(want)
	if got := e.converged("/"); !slices.Equal(got, append(slices.Clone(want), "zookeeper")) {
		t.Fatalf("children of / = %v, want %v and zookeeper", got, want)
	}
	e.checkDigests(kind)
}

// fillDigestLogs writes, through member i, 260 sequential znodes under
// /digest-log: every member's digest log (every 128th zxid) gains an
// entry at least, so members can be compared zxid for zxid.
func (e *gkEnsemble) fillDigestLogs(i int) {
	e.t.Helper()
	c := e.connect(i)
	defer c.Close()
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/digest-log", nil, 0, acl); err != nil {
		e.t.Fatal(err)
	}
	for range 260 {
		if _, err := c.Create("/digest-log/n-", nil, zk.FlagSequence, acl); err != nil {
			e.t.Fatal(err)
		}
	}
}

// checkDigests checks that the members' digest logs (the hash word)
// agree at every zxid, that members of both kinds logged one zxid at
// least, and that every member that compares digests (all but a
// ZooKeeper leader, whose mntr may leave the key out) counts no mismatch.
func (e *gkEnsemble) checkDigests(kind func(int) string) {
	t := e.t
	t.Helper()
	const fromZK, fromGK = 1, 2
	digests := map[string]map[string]int{} // zxid -> digest -> fromZK|fromGK
	for i := range e.procs {
		out, _ := fourLetterWord(e.addrs[i], "hash", false, 5*time.Second)
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if z, d, ok := strings.Cut(l, ": "); ok {
				if digests[z] == nil {
					digests[z] = map[string]int{}
				}
				if e.zk[i] {
					digests[z][d] |= fromZK
				} else {
					digests[z][d] |= fromGK
				}
			}
		}
	}
	shared := 0
	for z, ds := range digests {
		if len(ds) != 1 {
			t.Errorf("zxid 0x%s: members differ on the digest: %v", z, ds)
		}
		for _, from := range ds {
			if from == fromZK|fromGK {
				shared++
			}
		}
	}
	if shared == 0 {
		t.Errorf("no zxid in the digest logs of members of both kinds: %v", digests)
	}
	checked := 0
	for i := range e.procs {
		if !e.zk[i] || e.mode(i) != "leader" {
			checked++
			if v := e.mntrValue(i, "zk_digest_mismatches_count"); v != "0" {
				t.Errorf("%s: zk_digest_mismatches_count %q, want 0", kind(i), v)
			}
		}
	}
	if checked < 3 {
		t.Errorf("digest mismatches checked on %d members", checked)
	}
}

// digestOps makes, through c, a txn of each kind whose digests the
// members compare: creates of every mode (sequential, ephemeral,
// container, TTL), setData, setACL, a multi, failed writes (error txns)
// and, when c closes, a closeSession that deletes ephemerals.
func digestOps(t *testing.T, c *zk.Conn, base string) {
	t.Helper()
	acl := zk.WorldACL(zk.PermAll)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
	}
	must(c.Create(base, []byte("base"), 0, acl))
	must(c.Create(base+"/seq-", nil, zk.FlagSequence, acl))
	must(c.Create(base+"/eph", []byte("e"), zk.FlagEphemeral, acl))
	must(c.Create(base+"/eph-seq-", nil, zk.FlagEphemeral|zk.FlagSequence, acl))
	must(c.CreateContainer(base+"/box", nil, zk.FlagContainer, acl))
	must(c.Create(base+"/box/item", []byte("i"), 0, acl))
	must(c.CreateTTL(base+"/ttl", []byte("t"), zk.FlagTTL, acl, time.Hour))
	must(c.Set(base, []byte("set"), -1))
	must(c.SetACL(base+"/ttl", zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermDelete), -1))
	must(c.Multi(&zk.CreateRequest{Path: base + "/m", Data: []byte("m"), Acl: acl},
		&zk.SetDataRequest{Path: base + "/m", Data: []byte("m2"), Version: -1},
		&zk.DeleteRequest{Path: base + "/box/item", Version: -1}))
	if _, err := c.Multi(&zk.CreateRequest{Path: base + "/m3", Acl: acl}, &zk.CreateRequest{Path: base + "/m", Acl: acl}); err == nil {
		t.Fatalf("%s: a multi creating an existing node succeeded", base)
	}
	if _, err := c.Create(base, nil, 0, acl); err != zk.ErrNodeExists {
		t.Fatalf("%s: create of an existing node: %v", base, err)
	}
	must(nil, c.Delete(base+"/m", -1))
}

// TestProcessRollingMigration migrates a running Apache ZooKeeper 3.8
// ensemble to gokeeper and back, as the README's migration steps say:
// one member at a time, each restarted as the other implementation with
// an empty data dir (it gets the leader's state by SNAP), the leader
// last, while a client keeps writing through the ensemble. No
// acknowledged write may be missing on any member at the end of each
// way, and the members must agree.
func TestProcessRollingMigration(t *testing.T) {
	requireZooKeeper(t)
	e := startMixedEnsemble(t, 3, 0, []int{0, 1, 2}, nil)
	e.leader()
	acl := zk.WorldACL(zk.PermAll)
	setup := e.connect(0)
	if _, err := setup.Create("/w", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	setup.Close()

	// The writer: sequential creates through the whole ensemble; what is
	// acknowledged must survive.
	w := startAckWriter(t, e.connect(0, 1, 2), "/w")
	migrate := func(toZooKeeper bool) {
		for {
			lead := e.leader()
			next := -1
			for i := range e.procs {
				if e.zk[i] != toZooKeeper && (next < 0 || next == lead) {
					next = i
				}
			}
			if next < 0 {
				return
			}
			e.zk[next] = toZooKeeper
			e.wipe(next)
		}
	}
	migrate(false)
	w.check(e, "ZooKeeper to gokeeper")
	for i := range e.procs {
		if e.zk[i] {
			t.Fatalf("member %d is still Apache ZooKeeper", i+1)
		}
	}
	migrate(true)
	w.close()
	w.check(e, "gokeeper back to ZooKeeper")
}

// TestProcessEnsembleReadOnly runs three members with readonlymode.enabled
// (from SERVER_JVMFLAGS, as zkServer.sh passes it): a member cut off from
// the other two serves reads to read-only clients, refuses writes and
// sync with NotReadOnly and clients that cannot be read-only with a
// closed connection, says "read-only" in srvr and isro; when the others
// come back it drops its read-only clients and serves the quorum again.
func TestProcessEnsembleReadOnly(t *testing.T) {
	e := startEnsemble(t, 3, 0, "SERVER_JVMFLAGS=-Dreadonlymode.enabled=true")
	lead := e.leader()
	c := e.connect(lead)
	if _, err := c.Create("/ro", []byte("before"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	e.converged("/")
	m := (lead + 1) % 3
	for i := range e.procs {
		if i != m {
			e.signal(i, syscall.SIGSTOP)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.mode(m) != "read-only" {
		if time.Now().After(deadline) {
			t.Fatalf("member %d cut off from the others: mode %q, want read-only", m+1, e.mode(m))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := fourLetterWordT(t, e.addrs[m], "isro"); got != "ro" {
		t.Errorf("isro = %q, want ro", got)
	}

	raw, res, err := rawclient.Connect(e.addrs[m], rawclient.ConnectOptions{TimeoutMs: 4000, ReadOnly: true}, 10*time.Second)
	if err != nil {
		t.Fatalf("read-only client refused: %v", err)
	}
	if res.Response.TimeOut == 0 || !res.Response.ReadOnly {
		t.Fatalf("connect response %+v: want a session, read-only", res.Response)
	}
	f, _, err := raw.Call(jute.OpGetData, &jute.GetDataRequest{Path: "/ro"})
	if err != nil || f.Err() != 0 {
		t.Fatalf("getData on the read-only member: %v %v", err, f.Err())
	}
	var gd jute.GetDataResponse
	if err := jute.Unmarshal(f.Body, &gd, len(f.Body)); err != nil || string(gd.Data) != "before" {
		t.Fatalf("getData /ro = %q, %v", gd.Data, err)
	}
	for _, w := range []struct {
		op  jute.OpCode
		req jute.Record
	}{
		{jute.OpCreate, &jute.CreateRequest{Path: "/x", Acl: jute.OpenACLUnsafe()}},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/ro", Data: []byte("y"), Version: -1}},
		{jute.OpSync, &jute.SyncRequest{Path: "/ro"}},
	} {
		f, _, err := raw.Call(w.op, w.req)
		if err != nil || f.Err() != jute.CodeNotReadOnly {
			t.Errorf("%v on the read-only member: %v %v, want NotReadOnly", w.op, err, f.Err())
		}
	}
	if rw, _, err := rawclient.Connect(e.addrs[m], rawclient.ConnectOptions{TimeoutMs: 4000}, 5*time.Second); err == nil {
		rw.Close()
		t.Error("a client that cannot be read-only got a session on the read-only member")
	}

	// The others come back: the read-only client is dropped, and the
	// member serves the quorum again.
	for i := range e.procs {
		if i != m {
			e.signal(i, syscall.SIGCONT)
		}
	}
	if _, closed := raw.WaitClosed(20 * time.Second); !closed {
		t.Error("the read-only client's connection outlived read-only mode")
	}
	e.leader()
	if got := fourLetterWordT(t, e.addrs[m], "isro"); got != "rw" {
		t.Errorf("isro after the quorum came back = %q, want rw", got)
	}
	c = e.connect(m)
	if _, err := c.Set("/ro", []byte("after"), -1); err != nil {
		t.Fatalf("write through member %d after read-only mode: %v", m+1, err)
	}
	c.Close()
}

// TestProcessEnsembleLocalSessions runs three members with
// localSessionsEnabled and localSessionsUpgradingEnabled: a new session
// is local to its member (no txn makes it, another member does not know
// it), its writes go through the leader all the same, its first
// ephemeral upgrades it to a global session that moves between members,
// and a local session whose client vanishes expires on its member
// without a txn.
func TestProcessEnsembleLocalSessions(t *testing.T) {
	e := startMixedEnsemble(t, 3, 0, nil, []string{"localSessionsEnabled=true", "localSessionsUpgradingEnabled=true"})
	lead := e.leader()
	f, other := (lead+1)%3, (lead+2)%3
	quiet := func() int64 {
		z := e.zxidOf(lead)
		for {
			time.Sleep(300 * time.Millisecond)
			n := e.zxidOf(lead)
			if n == z {
				return z
			}
			z = n
		}
	}
	before := quiet()
	raw, res, err := rawclient.Connect(e.addrs[f], rawclient.ConnectOptions{TimeoutMs: 4000}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	id, passwd := res.Response.SessionId, res.Response.Passwd
	if z := quiet(); z != before {
		t.Errorf("a local session took zxids %#x..%#x: want no txn", before, z)
	}
	if fr, _, err := raw.Call(jute.OpCreate, &jute.CreateRequest{Path: "/by-local", Acl: jute.OpenACLUnsafe()}); err != nil || fr.Err() != 0 {
		t.Fatalf("create through a local session: %v %v", err, fr.Err())
	}
	if moved, res2, err := rawclient.Connect(e.addrs[other], rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: id, Passwd: passwd}, 10*time.Second); err == nil {
		if res2.Response.TimeOut != 0 {
			t.Errorf("member %d took local session 0x%x of member %d: %+v", other+1, id, f+1, res2.Response)
		}
		moved.Close()
	}

	// The first ephemeral upgrades the session: now every member knows it.
	fr, _, err := raw.Call(jute.OpCreate, &jute.CreateRequest{Path: "/eph", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)})
	if err != nil || fr.Err() != 0 {
		t.Fatalf("ephemeral through a local session: %v %v", err, fr.Err())
	}
	if !e.procs[f].hasLog(func(m map[string]any) bool {
		return m["message"] == "local session upgraded to a global one" && m["session"] == fmt.Sprintf("0x%x", id)
	}) {
		t.Error("the ephemeral did not upgrade the local session")
	}
	raw.Close()
	var moved *rawclient.Client
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		moved, res, err = rawclient.Connect(e.addrs[other], rawclient.ConnectOptions{TimeoutMs: 4000, SessionID: id, Passwd: passwd, LastZxidSeen: fr.Header.Zxid}, 10*time.Second)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || res.Response.TimeOut == 0 {
		t.Fatalf("the upgraded session did not move to member %d: %v %+v", other+1, err, res)
	}
	fr, _, err = moved.Call(jute.OpExists, &jute.ExistsRequest{Path: "/eph"})
	var st jute.ExistsResponse
	if err != nil || fr.Err() != 0 || jute.Unmarshal(fr.Body, &st, len(fr.Body)) != nil || st.Stat.EphemeralOwner != id {
		t.Fatalf("exists /eph on member %d: %v %v owner %#x, want %#x", other+1, err, fr.Err(), st.Stat.EphemeralOwner, id)
	}
	moved.Close()

	// A local session whose client vanishes expires on its member alone.
	before = quiet()
	gone, res, err := rawclient.Connect(e.addrs[f], rawclient.ConnectOptions{TimeoutMs: 400}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	session := fmt.Sprintf("0x%x", res.Response.SessionId)
	if _, ok := e.procs[f].waitLog(10*time.Second, func(m map[string]any) bool {
		return m["message"] == "local session expired" && m["session"] == session
	}); !ok {
		t.Fatalf("local session %s did not expire on member %d", session, f+1)
	}
	if z := quiet(); z != before {
		t.Errorf("a local session's life took zxids %#x..%#x: want no txn", before, z)
	}
}

// ackWriter creates sequential znodes under a parent through a session on
// an ensemble, and remembers each create that was acknowledged.
type ackWriter struct {
	t      *testing.T
	parent string
	pause  sync.Mutex // held by check, so that the members can agree
	mu     sync.Mutex
	acked  []string
	stop   chan struct{}
	done   chan struct{}
}

func startAckWriter(t *testing.T, c *zk.Conn, parent string) *ackWriter {
	w := &ackWriter{t: t, parent: parent, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			w.pause.Lock()
			p, err := c.Create(parent+"/n-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
			w.pause.Unlock()
			if err == nil {
				w.mu.Lock()
				w.acked = append(w.acked, strings.TrimPrefix(p, parent+"/"))
				w.mu.Unlock()
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *ackWriter) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// check pauses the writer until the running members agree, then fails the
// test if an acknowledged create is missing from them.
func (w *ackWriter) check(e *gkEnsemble, what string) {
	w.t.Helper()
	w.pause.Lock()
	defer w.pause.Unlock()
	w.mu.Lock()
	want := slices.Clone(w.acked)
	w.mu.Unlock()
	kids := e.converged(w.parent)
	for _, a := range want {
		if _, found := slices.BinarySearch(kids, a); !found {
			w.t.Fatalf("%s: acknowledged write %s/%s is missing (%d acknowledged, %d on the members)", what, w.parent, a, len(want), len(kids))
		}
	}
	w.t.Logf("%s: %d writes acknowledged, none lost", what, len(want))
}
