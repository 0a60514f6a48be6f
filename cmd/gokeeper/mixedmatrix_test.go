package main

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// linkProxy forwards the connections made to a member's quorum port.
// cut makes the connections open at that moment drop what they carry
// either way, as a link that went down without closing; later
// connections pass.
type linkProxy struct {
	ln     net.Listener
	addr   string
	target string

	mu    sync.Mutex
	conns []*atomic.Bool // per connection: cut
}

func newLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln, addr: ln.Addr().String(), target: target}
	t.Cleanup(func() { ln.Close() })
	go p.accept()
	return p
}

func (p *linkProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

// forward connects c to the target. NB: a learner retries a refused dial
// to its leader (5 times, 100 ms apart), which it cannot do once the proxy
// accepted it: the proxy retries for it, a little longer.
func (p *linkProxy) forward(c net.Conn) {
	var s net.Conn
	var err error
	for try := 0; try < 10; try++ {
		if s, err = net.Dial("tcp", p.target); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		c.Close() // the member is down; its peers dial again
		return
	}
	cut := new(atomic.Bool)
	p.mu.Lock()
	p.conns = append(p.conns, cut)
	p.mu.Unlock()
	go linkPump(c, s, cut)
	go linkPump(s, c, cut)
}

// linkPump copies src to dst until either fails, dropping what it reads
// once cut is set.
func linkPump(src, dst net.Conn, cut *atomic.Bool) {
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !cut.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *linkProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Store(true)
	}
}

// TestProcessMixedMatrix runs the ensemble gokeeper, gokeeper, ZooKeeper
// with a ZooKeeper observer (the mirror of TestProcessMixedEnsemble's)
// through the failures a migration meets, each leader's successor of the
// other kind:
//
//   - a voter is down, a write commits, and the leader's quorum links
//     are cut so that it logs a proposal no one else sees; it is killed,
//     the voters left elect the one with the committed write (a member of
//     the other kind), and the old leader, restarted, is TRUNCed by it;
//   - the same again from the new leader, so members of both kinds
//     TRUNC and are TRUNCed;
//   - a member of each kind is wiped and caught up by SNAP from the
//     leader (of the other kind for one of them; TestProcessMixedEnsemble
//     has SNAPs both ways).
//
// A writer records every write acknowledged; in the end each member on
// its own has every one and none of the lost ones, all members have the
// same zxid, znode count and digest at the same zxid, and no member that
// compares digests counts a mismatch. It runs under make compat
// (GOKEEPER_COMPAT=1).
func TestProcessMixedMatrix(t *testing.T) {
	if os.Getenv("GOKEEPER_COMPAT") == "" {
		t.Skip("a long mixed-ensemble run: make compat runs it (GOKEEPER_COMPAT=1)")
	}
	requireZooKeeper(t)
	const gk0, gk1, zkVoter, zkObserver = 0, 1, 2, 3
	e := newMixedEnsemble(t, 3, 1, []int{zkVoter, zkObserver}, func(int) []string { return []string{"extendedTypesEnabled=true"} }, true)
	kind := func(i int) string {
		if e.zk[i] {
			return fmt.Sprintf("ZooKeeper member %d", i+1)
		}
		return fmt.Sprintf("gokeeper member %d", i+1)
	}
	acl := zk.WorldACL(zk.PermAll)
	var acked, lost []string
	// write creates path through member i and records it if acknowledged.
	write := func(i int, path string) {
		t.Helper()
		c := e.connect(i)
		defer c.Close()
		if _, err := c.Create(path, []byte(path), 0, acl); err != nil {
			t.Fatalf("create %s through %s: %v", path, kind(i), err)
		}
		acked = append(acked, path)
	}
	truncMarker := func(i int) string {
		if e.zk[i] {
			return "Truncating log to get in sync with the leader"
		}
		return "truncated the txn log as the leader said"
	}

	lead := e.leader()
	for round := 0; round < 2; round++ {
		// The successor is a voter of the other kind; the third voter
		// misses the committed write, so that the successor wins.
		var next, third int
		switch lead {
		case zkVoter:
			next, third = gk0, gk1
		case gk0:
			next, third = zkVoter, gk1
		default:
			next, third = zkVoter, gk0
		}
		t.Logf("round %d: %s leads; %s will", round, kind(lead), kind(next))
		for i := range e.procs {
			write(i, fmt.Sprintf("/r%d-before-m%d", round, i+1))
		}
		e.procs[third].kill9()
		write(lead, fmt.Sprintf("/r%d-committed", round))

		// NB: the session first: creating it takes a quorum too.
		lc := e.connect(lead)
		e.links[lead].cut()
		lostPath := fmt.Sprintf("/r%d-lost", round)
		created := make(chan error, 1)
		go func() { _, err := lc.Create(lostPath, nil, 0, acl); created <- err }()
		// NB: nothing outside the leader shows that it logged the
		// proposal; it does so as soon as it has the request, and gives
		// up leading (closing its clients) once its learners stay silent.
		select {
		case err := <-created:
			if err == nil {
				t.Fatalf("create %s acknowledged by a leader without its quorum", lostPath)
			}
		case <-time.After(time.Second):
		}
		e.procs[lead].kill9()
		go lc.Close()
		lost = append(lost, lostPath[1:])

		e.start(third)
		if got := e.leaderAmong(next, third); got != next {
			t.Fatalf("round %d: %s leads, want %s (it has the committed write)", round, kind(got), kind(next))
		}
		// NB: at once, before the new leader logs a txn of its own (a
		// session of the dead leader's expiring): ZooKeeper answers a
		// zxid beyond its last with TRUNC, but one of an older epoch
		// than its first logged txn after it with SNAP.
		e.start(lead)
		if got := e.leader(); got != next {
			t.Fatalf("round %d: after %s rejoined, %s leads", round, kind(lead), kind(got))
		}
		if !e.waitOutput(lead, truncMarker(lead), 20*time.Second) {
			t.Errorf("round %d: %s rejoined without being truncated (no %q in its log)", round, kind(lead), truncMarker(lead))
		}
		for i := range e.procs {
			write(i, fmt.Sprintf("/r%d-after-m%d", round, i+1))
		}
		lead = next
	}

	// A member of each kind, wiped, is sent a SNAP by the leader, which
	// is of the other kind for one of them.
	otherGK := gk0
	if lead == gk0 {
		otherGK = gk1
	}
	for _, wiped := range []int{zkObserver, otherGK} {
		e.wipe(wiped)
		e.leader()
		write(wiped, fmt.Sprintf("/after-wipe-m%d", wiped+1))
	}

	e.fillDigestLogs(lead)
	e.converged("/")

	// Each member on its own: every acknowledged write, no lost one, and
	// the same znode count.
	counts := map[string]bool{}
	for i := range e.procs {
		counts[e.mntrValue(i, "zk_znode_count")] = true
		c := e.connectTimeout(10*time.Second, i)
		for _, p := range acked {
			if ok, _, err := c.Exists(p); err != nil || !ok {
				t.Errorf("%s: acknowledged %s missing (%v)", kind(i), p, err)
			}
		}
		kids, _, err := c.Children("/")
		if err != nil {
			t.Fatalf("%s: %v", kind(i), err)
		}
		for _, p := range lost {
			if slices.Contains(kids, p) {
				t.Errorf("%s: the lost write /%s survived", kind(i), p)
			}
		}
		c.Close()
	}
	if len(counts) != 1 || counts[""] {
		t.Errorf("the members' zk_znode_count differ: %v", counts)
	}
	e.checkDigests(kind)
}

// leaderAmong waits until one of the members listed leads and the others
// follow, and returns it.
func (e *gkEnsemble) leaderAmong(members ...int) int {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		lead, followers := -1, 0
		for _, i := range members {
			switch e.mode(i) {
			case "leader":
				lead = i
			case "follower":
				followers++
			}
		}
		if lead >= 0 && followers == len(members)-1 {
			return lead
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("no leader among members %v within 30 s", members)
	return -1
}

// waitOutput waits up to timeout for member i's output to contain s.
func (e *gkEnsemble) waitOutput(i int, s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(e.procs[i].log.String(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
