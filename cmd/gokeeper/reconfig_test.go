package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// addMember starts a new gokeeper member as ZooKeeper's documentation
// has an operator join one: its zoo.cfg lists the running members and
// itself (server line with its client port, as reconfig wants it). It
// returns the member's index and its server.N line's value.
func (e *gkEnsemble) addMember(members []string, cfg ...string) (int, string) {
	e.t.Helper()
	i := len(e.procs)
	dir := filepath.Join(e.t.TempDir(), "data")
	writeMyid(e.t, dir, i+1)
	port := freePort(e.t)
	spec := fmt.Sprintf("127.0.0.1:%d:%d:participant;127.0.0.1:%d", freePort(e.t), freePort(e.t), port)
	extra := append([]string{"tickTime=200", "initLimit=10", "syncLimit=5", "snapCount=10", "snapSizeLimitInKb=1"}, members...)
	extra = append(extra, fmt.Sprintf("server.%d=%s", i+1, spec))
	extra = append(extra, cfg...)
	path := filepath.Join(e.t.TempDir(), "zoo.cfg")
	if err := os.WriteFile(path, []byte(gkZooCfg(dir, port, extra...)), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.dirs = append(e.dirs, dir)
	e.cfgs = append(e.cfgs, path)
	e.addrs = append(e.addrs, "127.0.0.1:"+strconv.Itoa(port))
	e.procs = append(e.procs, nil)
	e.observer = append(e.observer, false)
	e.zk = append(e.zk, false)
	e.start(i)
	return i, spec
}

// serverLines returns the server.N lines of the ensemble's first zoo.cfg,
// or of the dynamic config file it points at.
func (e *gkEnsemble) serverLines() []string {
	e.t.Helper()
	b, err := os.ReadFile(e.cfgs[0])
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if dyn, ok := strings.CutPrefix(l, "dynamicConfigFile="); ok {
			if b, err = os.ReadFile(dyn); err != nil {
				e.t.Fatal(err)
			}
			return strings.Split(string(b), "\n")
		}
		if strings.HasPrefix(l, "server.") {
			out = append(out, l)
		}
	}
	return out
}

// waitConfig waits until member i's /zookeeper/config (after a sync)
// holds version (-1: three members), and returns its text.
func (e *gkEnsemble) waitConfig(i int, version int64) string {
	e.t.Helper()
	c := e.connect(i)
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	var data []byte
	for time.Now().Before(deadline) {
		if _, err := c.Sync("/zookeeper/config"); err == nil {
			data, _, _ = c.Get("/zookeeper/config")
			if strings.HasSuffix(string(data), fmt.Sprintf("version=%x", version)) ||
				version == -1 && strings.Count(string(data), "server.") == 3 {
				return string(data)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("member %d's /zookeeper/config is %q, want version %x", i+1, data, version)
	return ""
}

// TestProcessReconfig grows a running 3-member gokeeper ensemble
// (reconfigEnabled) by a fourth member and then removes its leader with
// incremental reconfigs, while a client writes: every acknowledged write
// is on every member afterwards. Each reconfig answers the new config's
// stat, whose version is its zxid; /zookeeper/config and its data watch
// follow it. The
// removed leader hands over to a voter of the new membership; the added
// member's zoo.cfg points at zoo.cfg.dynamic.<version>, and it comes back
// in the new membership after a restart.
func TestProcessReconfig(t *testing.T) {
	// NB: kazoo's test superuser, super:test.
	cfg := []string{"reconfigEnabled=true", "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU="}
	e := startMixedEnsemble(t, 3, 0, nil, cfg)
	lead := e.leader()
	joiner, spec := e.addMember(e.serverLines(), cfg...)
	joinerLine := fmt.Sprintf("server.%d=%s", joiner+1, spec)

	// kazoo's TestReconfig: only the superuser may reconfig; an observer
	// that is not running can be added and removed; a fromConfig ahead of
	// the current version is BADVERSION; a joiner that is no server line
	// is BADARGUMENTS.
	observer := fmt.Sprintf("server.100=0.0.0.0:%d:%d:observer;0.0.0.0:%d", freePort(t), freePort(t), freePort(t))
	anon := e.connect(0, 1, 2)
	if _, err := anon.IncrementalReconfig([]string{observer}, nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("reconfig without the superuser: %v, want NOAUTH", err)
	}
	admin := e.connect(0, 1, 2)
	if err := admin.AddAuth("digest", []byte("super:test")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.IncrementalReconfig([]string{"some thing"}, nil, -1); !errors.Is(err, zk.ErrBadArguments) {
		t.Fatalf("reconfig joining %q: %v, want BADARGUMENTS", "some thing", err)
	}
	st, err := admin.IncrementalReconfig([]string{observer}, nil, -1)
	if err != nil {
		t.Fatalf("adding an observer: %v", err)
	}
	if text := e.waitConfig(0, st.Mzxid); !strings.Contains(text, observer) {
		t.Fatalf("config after adding an observer:\n%s", text)
	}
	if st, err = admin.IncrementalReconfig(nil, []string{"100"}, st.Mzxid); err != nil {
		t.Fatalf("removing the observer: %v", err)
	}
	if text := e.waitConfig(0, st.Mzxid); strings.Contains(text, "server.100") {
		t.Fatalf("config after removing the observer:\n%s", text)
	}
	if _, err := admin.IncrementalReconfig([]string{observer}, nil, st.Mzxid+1); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("reconfig from a version after the current one: %v, want BADVERSION", err)
	}

	data, st0, watch, err := admin.GetW("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create("/load", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	// The load: one client through the three first members writes until
	// stopped; what it was told succeeded must survive.
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, _, err := zk.Connect(e.addrs[:3], 4*time.Second, zk.WithLogger(gkNopLogger{}))
		if err != nil {
			return
		}
		defer c.Close()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			p, err := c.Create(fmt.Sprintf("/load/w%06d", n), []byte("x"), 0, zk.WorldACL(zk.PermAll))
			if err == nil {
				mu.Lock()
				acked = append(acked, strings.TrimPrefix(p, "/load/"))
				mu.Unlock()
			}
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	// waitAcked waits for more writes acknowledged than so far.
	waitAcked := func(more int) {
		n := count() + more
		deadline := time.Now().Add(30 * time.Second)
		for {
			if got := count(); got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d writes acknowledged within 30 s, want %d", count(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAcked(20)

	// NB: the joiner must be synced with the leader first
	// (NEWCONFIGNOQUORUM until then).
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err = admin.IncrementalReconfig([]string{joinerLine}, nil, -1)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("adding member %d: %v", joiner+1, err)
	}
	added := st.Mzxid
	select {
	case ev := <-watch:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/zookeeper/config" {
			t.Errorf("watch on /zookeeper/config got %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("no data watch event on /zookeeper/config after the reconfig")
	}
	text := e.waitConfig(joiner, added)
	if !strings.Contains(text, joinerLine) || strings.Count(text, "server.") != 4 || string(data) == text || st.Mzxid <= st0.Mzxid {
		t.Fatalf("after adding member %d /zookeeper/config is\n%s\nwas\n%s", joiner+1, text, data)
	}
	waitAcked(20)

	// Remove the leader: it hands over to a voter of the new membership.
	var removed int64
	st, err = admin.IncrementalReconfig(nil, []string{strconv.Itoa(lead + 1)}, added)
	switch {
	case err == nil:
		removed = st.Mzxid
		text = e.waitConfig(joiner, removed)
	case errors.Is(err, zk.ErrConnectionClosed):
		// NB: the client's member changed roles with the reconfig and
		// closed its connections (ZooKeeper's do too); the outcome is
		// read from the config.
		t.Logf("removing the leader: %v; reading the outcome", err)
		text = e.waitConfig(joiner, -1)
		removed, _ = strconv.ParseInt(text[strings.LastIndex(text, "version=")+len("version="):], 16, 64)
	default:
		t.Fatalf("removing the leader, member %d: %v", lead+1, err)
	}
	if strings.Contains(text, fmt.Sprintf("server.%d=", lead+1)) || strings.Count(text, "server.") != 3 {
		t.Fatalf("after removing member %d /zookeeper/config is\n%s", lead+1, text)
	}
	waitAcked(20)
	close(stop)
	<-done

	newLead := e.leader()
	if newLead == lead {
		t.Errorf("member %d still leads after it was removed", lead+1)
	}
	mu.Lock()
	want := slices.Clone(acked)
	mu.Unlock()
	got := e.converged("/load")
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			t.Fatalf("acknowledged write /load/%s is lost (%d acknowledged, %d on the members)", w, len(want), len(got))
		}
	}

	// conf prints the active membership.
	if out, err := fourLetterWord(e.addrs[joiner], "conf", false, 5*time.Second); err != nil ||
		!strings.Contains(out, joinerLine) || !strings.Contains(out, fmt.Sprintf("version=%x", removed)) {
		t.Errorf("member %d's conf after the reconfigs (%v):\n%s", joiner+1, err, out)
	}

	// The joiner's zoo.cfg points at the dynamic file of the last
	// membership; restarted, it serves in it.
	b, err := os.ReadFile(e.cfgs[joiner])
	if err != nil {
		t.Fatal(err)
	}
	dyn := e.cfgs[joiner] + ".dynamic." + strconv.FormatInt(removed, 16)
	if !strings.Contains(string(b), "dynamicConfigFile="+dyn) || strings.Contains(string(b), "server.") {
		t.Errorf("member %d's zoo.cfg after the reconfigs:\n%s", joiner+1, b)
	}
	e.procs[joiner].kill9()
	e.start(joiner)
	e.leader()
	if text := e.waitConfig(joiner, removed); !strings.Contains(text, joinerLine) {
		t.Errorf("restarted member %d has /zookeeper/config\n%s", joiner+1, text)
	}
	if kids := e.converged("/load"); len(kids) < len(want) {
		t.Errorf("restarted member %d: %d children of /load, want at least %d", joiner+1, len(kids), len(want))
	}
}

// TestProcessReconfigDisabled: without reconfigEnabled a reconfig is
// answered ZooKeeper's RECONFIGDISABLED (here on a standalone server,
// which checks it first).
func TestProcessReconfigDisabled(t *testing.T) {
	p := startGokeeperPort(t, t.TempDir(), freePort(t))
	c := gkConnect(t, p.Addr)
	defer c.Close()
	if _, err := c.IncrementalReconfig([]string{"server.2=127.0.0.1:2:3;4"}, nil, -1); !errors.Is(err, zk.ErrReconfigDisabled) {
		t.Fatalf("reconfig: %v, want %v", err, zk.ErrReconfigDisabled)
	}
}

// reconfig runs an incremental reconfig through c, retrying while the
// leader answers NEWCONFIGNOQUORUM (a joiner not yet synced). A reply
// that a role change cut off (connection closed) is not an error: the
// caller reads the outcome from the config. It returns the new config's
// version, or 0 when the reply was lost.
func reconfig(t *testing.T, c *zk.Conn, joining, leaving []string) int64 {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		st, err := c.IncrementalReconfig(joining, leaving, -1)
		switch {
		case err == nil:
			return st.Mzxid
		case errors.Is(err, zk.ErrConnectionClosed):
			t.Logf("reconfig %v %v: %v; reading the outcome", joining, leaving, err)
			return 0
		case time.Now().After(deadline):
			t.Fatalf("reconfig %v %v: %v", joining, leaving, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitConfigHas waits until member i's /zookeeper/config (after a sync)
// satisfies ok, and returns it.
func (e *gkEnsemble) waitConfigHas(i int, what string, ok func(string) bool) string {
	e.t.Helper()
	c := e.connectTimeout(4*time.Second, i)
	defer c.Close()
	var data []byte
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := c.Sync("/zookeeper/config"); err == nil {
			if data, _, _ = c.Get("/zookeeper/config"); ok(string(data)) {
				return string(data)
			}
		}
	}
	e.t.Fatalf("member %d's /zookeeper/config never %s:\n%s", i+1, what, data)
	return ""
}

// TestProcessMixedReconfig: in an ensemble of two gokeeper voters and an
// Apache ZooKeeper 3.8 voter that leads, a reconfig through ZooKeeper's
// leader adds a gokeeper member, which ZooKeeper's COMMITANDACTIVATE
// activates on the gokeeper members (their /zookeeper/config and their
// zoo.cfg's dynamic file); a second removes the ZooKeeper leader, which
// hands over to a gokeeper voter; a third, through that gokeeper leader,
// adds the ZooKeeper member back, and ZooKeeper applies it. Writes made
// along the way are on every member.
func TestProcessMixedReconfig(t *testing.T) {
	requireZooKeeper(t)
	cfg := []string{"reconfigEnabled=true", "skipACL=yes"}
	e := startMixedEnsemble(t, 3, 0, []int{2}, cfg)
	const zkm = 2
	for try := 0; ; try++ {
		lead := e.leader()
		if lead == zkm {
			break
		}
		if try == 3 {
			t.Fatalf("ZooKeeper member %d never led", zkm+1)
		}
		// NB: between the other two, with the same history, ZooKeeper's
		// higher sid wins; the gokeeper member comes back once it leads.
		e.procs[lead].kill9()
		if l := e.leader(); l != zkm {
			t.Logf("without member %d, member %d leads", lead+1, l+1)
		}
		e.start(lead)
	}
	zkLine := e.serverLines()[zkm] + ";" + e.addrs[zkm]
	joiner, spec := e.addMember(e.serverLines(), cfg...)
	joinerLine := fmt.Sprintf("server.%d=%s", joiner+1, spec)
	admin := e.connect(0, 1)
	if _, err := admin.Create("/mixed", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	v := reconfig(t, admin, []string{joinerLine}, nil)
	has4 := func(s string) bool { return strings.Contains(s, joinerLine) }
	for _, i := range []int{0, 1, zkm, joiner} {
		text := e.waitConfigHas(i, "adds member 4", has4)
		if v != 0 && !strings.HasSuffix(text, fmt.Sprintf("version=%x", v)) {
			t.Errorf("member %d has config\n%s\nwant version %x", i+1, text, v)
		}
	}
	for _, i := range []int{0, 1, joiner} {
		b, _ := os.ReadFile(e.cfgs[i])
		if !strings.Contains(string(b), "dynamicConfigFile="+e.cfgs[i]+".dynamic.") {
			t.Errorf("gokeeper member %d's zoo.cfg after ZooKeeper's reconfig:\n%s", i+1, b)
		}
	}
	if _, err := admin.Create("/mixed/a", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	reconfig(t, admin, nil, []string{strconv.Itoa(zkm + 1)})
	no3 := func(s string) bool { return has4(s) && !strings.Contains(s, fmt.Sprintf("server.%d=", zkm+1)) }
	for _, i := range []int{0, 1, joiner} {
		e.waitConfigHas(i, "removes member 3", no3)
	}
	if _, err := admin.Create("/mixed/b", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after the ZooKeeper leader was removed: %v", err)
	}

	reconfig(t, admin, []string{zkLine}, nil)
	back := func(s string) bool { return has4(s) && strings.Contains(s, fmt.Sprintf("server.%d=", zkm+1)) }
	for _, i := range []int{0, 1, joiner, zkm} {
		e.waitConfigHas(i, "adds member 3 back", back)
	}
	if _, err := admin.Create("/mixed/c", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if got := e.converged("/mixed"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("children of /mixed: %v", got)
	}
}

// TestProcessGoZookeeperReconfig runs go-zookeeper's own reconfig
// integration tests (TestIntegration_Reconfig and
// TestIntegration_IncrementalReconfig, zk_test.go v1.0.4) against a
// gokeeper ensemble started from zoo.cfg files with their super:test
// digest: a non-incremental reconfig that drops member 1 and one that
// brings every member back, then an incremental one that removes member
// 3 (a closed connection is fine there, as in their test) and one that
// adds a member 4 that is not running (members 1 and 2 are a quorum of
// the new voters).
func TestProcessGoZookeeperReconfig(t *testing.T) {
	cfg := []string{"reconfigEnabled=true", "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU="}
	e := startMixedEnsemble(t, 3, 0, nil, cfg)
	e.leader()
	var all []string
	for i, l := range e.serverLines() {
		all = append(all, l+";"+e.addrs[i]+"\n")
	}
	c := e.connect(0, 1, 2)
	if err := c.AddAuth("digest", []byte("super:test")); err != nil {
		t.Fatal(err)
	}
	// Their test notes the initial version: the first leader's epoch
	// (ZOOKEEPER-1783), 0x100000000 in a fresh ensemble.
	data, _, err := c.Get("/zookeeper/config")
	if err != nil {
		t.Fatalf("get config: %v", err)
	}
	version, err := strconv.ParseInt(string(data[strings.LastIndex(string(data), "version=")+len("version="):]), 16, 64)
	if err != nil || version == 0 || version&0xffffffff != 0 {
		t.Errorf("initial /zookeeper/config:\n%s\nwant the version of the leader's epoch", data)
	}
	if _, err := c.Reconfig(all[1:], -1); err != nil {
		t.Fatalf("reconfig to members 2 and 3: %v", err)
	}
	// NB: member 1 follows without a vote and must be synced again if it
	// led; their test has ZooKeeper's leader, member 3, keep leading.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.Reconfig(all, -1)
		if err == nil {
			break
		}
		// NB: go-zookeeper does not name NEWCONFIGNOQUORUM.
		if time.Now().After(deadline) {
			t.Fatalf("reconfig to every member: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.IncrementalReconfig(nil, []string{"3"}, -1); err != nil && !errors.Is(err, zk.ErrConnectionClosed) {
		t.Fatalf("removing member 3: %v", err)
	}
	c.Close()
	c = e.connect(0, 1)
	if err := c.AddAuth("digest", []byte("super:test")); err != nil {
		t.Fatal(err)
	}
	server := fmt.Sprintf("server.4=127.0.0.1:%d:%d;%d", freePort(t), freePort(t), freePort(t))
	if _, err := c.IncrementalReconfig([]string{server}, nil, -1); err != nil && !errors.Is(err, zk.ErrConnectionClosed) {
		t.Fatalf("adding member 4: %v", err)
	}
	text := e.waitConfigHas(0, "adds member 4", func(s string) bool { return strings.Contains(s, "server.4=") })
	if strings.Contains(text, "server.3=") {
		t.Errorf("config after removing 3 and adding 4:\n%s", text)
	}
}

// TestKazooReconfig runs kazoo's own TestReconfig (test_no_super_auth,
// test_add_remove_observer, test_bad_input) against a gokeeper ensemble
// started from zoo.cfg files with kazoo's super:test digest.
func TestKazooReconfig(t *testing.T) {
	cfg := []string{"reconfigEnabled=true", "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU="}
	e := startMixedEnsemble(t, 3, 0, nil, cfg)
	e.leader()
	runKazooSuite(t, e, "kazoo.tests.test_client", "TestReconfig", "test_no_super_auth", "test_add_remove_observer", "test_bad_input")
}
