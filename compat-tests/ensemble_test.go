package compat

import (
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/harness"
	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/compat-tests/scenarios"
)

// ensembleSize is how many members each ensemble has.
const ensembleSize = 3

// listed is a list of scenario name patterns (path.Match syntax), each
// with its reason.
type listed []struct{ pattern, reason string }

// reason returns the reason of the first entry whose pattern matches
// name, or "".
func (l listed) reason(name string) string {
	for _, e := range l {
		if ok, _ := path.Match(e.pattern, name); ok {
			return e.reason
		}
	}
	return ""
}

// ensembleExcluded lists the scenarios TestCompatEnsemble leaves out,
// each with why it cannot be compared on ensembles: each makes Apache
// ZooKeeper 3.8 itself misbehave or race when its sessions are on a
// follower.
var ensembleExcluded = listed{
	{"ops/unknown-op/16", "reconfig with an empty body: a ZooKeeper 3.8 follower throws a NullPointerException " +
		"serialising the leader's error reply (\"Destruction averted\") and never answers; standalone it answers"},
	{"versions/check/*", "a check outside a multi: ZooKeeper 3.8's leader proposes it as a txn of type check, which " +
		"its followers cannot apply (\"Unsupported Txn with type=13\"): they drop out and the ensemble re-elects " +
		"(ZOOKEEPER-2623, 3.9.3, refuses the op as gokeeper does)"},
	{"ephemeral/pipelined-close-then-create", "writes pipelined behind a closeSession: whether ZooKeeper writes their " +
		"SessionExpired replies before the close reaches the connection is a race, lost every few runs on a follower " +
		"(the close comes with the leader's commit; standalone it was seen once, under heavy load)"},
}

// zooKeeperOnLeader lists the scenarios whose ZooKeeper runs have their
// sessions on the leader; gokeeper's still run on its follower.
//
// NB: in ZooKeeper 3.8 the ChangeRecord a setACL leaves in the leader's
// outstanding changes keeps the old ACL (fixed upstream since:
// PrepRequestProcessor now sets nodeRecord.acl). A follower answers the
// setACL once it has applied the commit, which can be before the leader
// has, so the session's next write is checked against the old ACL on one
// run and the new one on the next. On the leader the answer comes after
// the leader's own apply, as standalone, so its transcript is what a
// follower without the race answers: gokeeper's follower must answer
// that.
var zooKeeperOnLeader = listed{
	{"acl/world-*/*", "a setACL, then writes checked against the ACL it set: ZooKeeper 3.8's stale ChangeRecord race on a follower"},
	{"acl/parent-create-needs-create-perm", "the same setACL race: a create checked against the parent's ACL just set"},
	{"ops/getACL-setACL", "the same setACL race: a setACL checked against the ACL just set"},
}

// ens is TestCompatEnsemble's state, read by TestMain's summary.
var ens struct {
	zk, gk     *harness.Ensemble
	zkErr      error
	gkErr      error
	ran        bool
	scenarios  int
	excluded   int
	zkOnLeader int
	zkRetried  int
	selfChecks int
	diverged   int
	allowed    int
	gkSkipped  int
	zkSecs     float64
	gkSecs     float64
	// took is TestCompatEnsemble's time, ensembles started and stopped.
	took time.Duration
}

// stopEnsembles stops both ensembles (from the signal handler, too).
func stopEnsembles() {
	ens.zk.Stop()
	ens.gk.Stop()
}

// ensembleMembers returns e's members, none when e is nil.
func ensembleMembers(e *harness.Ensemble) []*harness.Server {
	if e == nil {
		return nil
	}
	return e.Members
}

// ensembleTargets are the members of one ensemble a scenario's sessions
// connect to.
type ensembleTargets struct {
	follower, leader scenario.Target
	e                *harness.Ensemble
}

// newEnsembleTargets picks e's leader and its follower with the lowest
// myid.
//
// NB: all of a scenario's sessions go to one member, a follower. Its
// transcript is then as deterministic as on a standalone server (the
// ZooKeeper self-check proves it): the follower answers a session's
// requests in order, applies each committed txn (and fires its watches)
// before it answers the write that made it, and Run.Sync's pings reach
// the same follower, so every event is recorded at the same step on every
// run. Sessions spread over several members would see a txn applied on
// their member at different moments, and an event could land before or
// after another session's reply. A follower rather than the leader makes
// every write go the learner's way: REQUEST to the leader (with the
// session's auth), PROPOSAL, ACK, COMMIT back, the reply from the
// follower; and sessions and their expiry are the leader's while the
// client talks to the follower only.
func newEnsembleTargets(e *harness.Ensemble) (ensembleTargets, error) {
	f, l := e.Follower(), e.Leader()
	if f == nil || l == nil {
		return ensembleTargets{}, fmt.Errorf("%s ensemble has no follower or no leader: modes %q", e.Name, e.Modes())
	}
	tf, tl := target(f), target(l)
	tf.Name = e.Name + "-ensemble-follower"
	tl.Name = e.Name + "-ensemble-leader"
	// NB: three JVMs (or three gokeepers) answer more slowly than one
	// when the machine is busy: pings and handshakes of a ZooKeeper
	// ensemble were seen to stall past 5 s on 2 shared cores. Replies get
	// 15 s; a connection the server leaves open still costs 5 s.
	for _, tg := range []*scenario.Target{&tf, &tl} {
		tg.IOTimeout, tg.CloseWait = 15*time.Second, 5*time.Second
	}
	// NB: /zookeeper/config lists every member's quorum and election
	// ports, which differ between the two ensembles: each becomes M<myid>.
	for i, m := range e.Ports {
		alias := []string{fmt.Sprintf("127.0.0.1:%d:%d", m.Quorum, m.Election), fmt.Sprintf("M%d", i+1)}
		tf.Aliases = append(tf.Aliases, alias...)
		tl.Aliases = append(tl.Aliases, alias...)
	}
	return ensembleTargets{follower: tf, leader: tl, e: e}, nil
}

// TestCompatEnsemble runs every scenario and the fuzz seeds (but the few
// ensembleExcluded) with their sessions on a follower of a three-member
// Apache ZooKeeper ensemble twice (the runs must agree exactly) and on a
// follower of a three-member gokeeper ensemble, and fails on any
// divergence that DIVERGENCES.md does not list, either under the
// scenario's own name or as "ensemble/<name>" for divergences of
// ensembles alone.
func TestCompatEnsemble(t *testing.T) {
	requireZooKeeper(t)
	allowed, err := scenario.LoadAllowed("DIVERGENCES.md")
	if err != nil {
		t.Fatalf("DIVERGENCES.md: %v", err)
	}
	ens.ran = true
	began := time.Now()
	dir, err := os.MkdirTemp("", "gokeeper-compat-ensemble-")
	if err != nil {
		t.Fatal(err)
	}
	// NB: the members do not fsync: the run compares answers, not
	// durability (the crash tests cover that), and six members syncing on
	// one shared disk stalled ZooKeeper's commits for seconds.
	settings := env.settings
	settings.ForceSync = false
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		ens.zk, ens.zkErr = harness.StartZooKeeperEnsemble(dir, settings, ensembleSize, 60*time.Second)
	}()
	go func() {
		defer wg.Done()
		if env.gkBuildErr != nil {
			ens.gkErr = env.gkBuildErr
			return
		}
		ens.gk, ens.gkErr = harness.StartGokeeperEnsemble(env.gkBin, dir, settings, ensembleSize, 30*time.Second)
	}()
	wg.Wait()
	t.Cleanup(func() {
		stopEnsembles()
		for _, e := range []*harness.Ensemble{ens.zk, ens.gk} {
			for _, m := range ensembleMembers(e) {
				if !m.Exited() {
					t.Errorf("%s still runs after Stop", m.Name)
				}
			}
		}
		ens.took = time.Since(began)
		if t.Failed() {
			t.Logf("ensemble logs kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	})
	if ens.zkErr != nil {
		t.Fatalf("Apache ZooKeeper ensemble did not start: %v", ens.zkErr)
	}
	zk, err := newEnsembleTargets(ens.zk)
	if err != nil {
		t.Fatal(err)
	}
	var gk ensembleTargets
	if ens.gkErr == nil {
		gk, ens.gkErr = newEnsembleTargets(ens.gk)
	}
	if ens.gkErr != nil {
		t.Logf("gokeeper ensemble side SKIPPED: %v", ens.gkErr)
	}
	c := ensembleComparison{zk: zk, gk: gk, allowed: allowed}
	for _, sc := range selected() {
		c.run(t, sc)
	}
	// The seeded random op sequences TestCompatFuzz runs standalone:
	// several sessions, watches and multis.
	for _, seed := range fuzzSeeds(t) {
		name := fmt.Sprintf("fuzz/seed-%d", seed)
		if *runFilter == "" || strings.Contains(name, *runFilter) {
			c.run(t, scenarios.RandomScenario(name, scenarios.GenerateOps(seed, fuzzOps)))
		}
	}
}

// ensembleComparison runs scenarios on both ensembles and compares them.
type ensembleComparison struct {
	zk, gk  ensembleTargets
	allowed *scenario.Allowed
}

// run runs sc (unless ensembleExcluded lists it) as a subtest: twice on
// the ZooKeeper ensemble, which must agree, and alongside once on
// gokeeper's follower, which must agree too unless DIVERGENCES.md lists
// sc.
func (c ensembleComparison) run(t *testing.T, sc scenario.Scenario) {
	if ensembleExcluded.reason(sc.Name) != "" {
		ens.excluded++
		return
	}
	zk := c.zk.follower
	if zooKeeperOnLeader.reason(sc.Name) != "" {
		zk = c.zk.leader
		ens.zkOnLeader++
	}
	t.Run(sc.Name, func(t *testing.T) {
		ens.scenarios++
		// NB: gokeeper's run goes alongside ZooKeeper's two: each
		// ensemble still runs one scenario at a time, and the runs
		// spend most of their time waiting for replies.
		var got *scenario.Transcript
		gkDone := make(chan struct{})
		go func() {
			defer close(gkDone)
			if ens.gkErr == nil {
				start := time.Now()
				got = scenario.Execute(c.gk.follower, sc, nextRoot())
				ens.gkSecs += time.Since(start).Seconds()
			}
		}()
		first, d := zkTwice(zk, sc)
		if d != nil && zkStalled(d) {
			ens.zkRetried++
			t.Logf("ZooKeeper stalled and lost the session in one run; running the scenario on it twice more:\n%s", d.d)
			first, d = zkTwice(zk, sc)
		}
		<-gkDone
		if d != nil {
			t.Fatalf("the Apache ZooKeeper ensemble disagrees with itself (not deterministic on an ensemble: "+
				"list it in ensembleExcluded or zooKeeperOnLeader with the reason; runs took %v and %v):\n%s\nfull transcript:\n%s",
				d.a.took.Round(time.Millisecond), d.b.took.Round(time.Millisecond), d.d, first)
		}
		ens.selfChecks++
		if testing.Verbose() {
			t.Logf("transcript on %s:\n%s", zk.Name, first)
		}
		if got == nil {
			ens.gkSkipped++
			return
		}
		dg := scenario.Diff(first, got)
		if dg == nil {
			return
		}
		ens.diverged++
		reason := c.allowed.Reason("ensemble/" + sc.Name)
		if reason == "" {
			reason = c.allowed.Reason(sc.Name)
		}
		if reason != "" {
			ens.allowed++
			t.Logf("allowed divergence (%s):\n%s", reason, dg)
			return
		}
		t.Errorf("unlisted divergence (members' modes now: zookeeper %q, gokeeper %q):\n%s\ngokeeper transcript:\n%s",
			c.zk.e.Modes(), c.gk.e.Modes(), dg, got)
	})
}

// zkRun is one timed run of a scenario on ZooKeeper.
type zkRun struct {
	tr   *scenario.Transcript
	took time.Duration
}

// zkDiff is the first divergence between two ZooKeeper runs.
type zkDiff struct {
	d    *scenario.Divergence
	a, b zkRun
}

// zkTwice runs sc on zk twice and returns the first transcript and how
// the second differs from it, or nil.
func zkTwice(zk scenario.Target, sc scenario.Scenario) (*scenario.Transcript, *zkDiff) {
	run := func() zkRun {
		start := time.Now()
		tr := scenario.Execute(zk, sc, nextRoot())
		took := time.Since(start)
		ens.zkSecs += took.Seconds()
		return zkRun{tr, took}
	}
	a, b := run(), run()
	if d := scenario.Diff(a.tr, b.tr); d != nil {
		return a.tr, &zkDiff{d: d, a: a, b: b}
	}
	return a.tr, nil
}

// zkStalled reports whether two ZooKeeper runs differ because one stalled:
// it took at least 5 s longer, and where the runs part its session has
// lost its connection (or its code got no session at all).
//
// NB: on a machine whose cores are busy with other work, a ZooKeeper
// ensemble was seen to leave a session unanswered for 5-10 s, once until
// the session expired; the same scenario agreed with itself on a rerun. A
// scenario that is itself nondeterministic differs without such a stall
// and still fails.
func zkStalled(d *zkDiff) bool {
	slow, fast := d.a, d.b
	line := d.d.Want
	if d.b.took > d.a.took {
		slow, fast, line = d.b, d.a, d.d.Got
	}
	lost := strings.HasSuffix(line, "! closed") || strings.HasSuffix(line, "! timeout") || strings.HasPrefix(line, "! scenario aborted")
	return lost && slow.took-fast.took >= 5*time.Second
}

// ensembleSummary is the summary line of TestCompatEnsemble.
func ensembleSummary() string {
	gk := "gokeeper ensemble: ran"
	if ens.gkErr != nil {
		gk = "gokeeper ensemble: SKIPPED (" + firstLine(ens.gkErr.Error()) + ")"
	}
	return fmt.Sprintf("compat ensemble summary (%d-member ZooKeeper and gokeeper ensembles, sessions on a follower; "+
		"ZooKeeper's on its leader for %d): scenarios run=%d (excluded on ensembles=%d), zookeeper ensemble self-check identical=%d (rerun after a stall=%d), "+
		"divergences=%d (unlisted=%d, allowed by DIVERGENCES.md=%d), gokeeper skipped=%d; %s; took %.0fs (zookeeper x2 %.0fs, gokeeper alongside %.0fs)\n",
		ensembleSize, ens.zkOnLeader, ens.scenarios, ens.excluded, ens.selfChecks, ens.zkRetried,
		ens.diverged, ens.diverged-ens.allowed, ens.allowed, ens.gkSkipped, gk, ens.took.Seconds(), ens.zkSecs, ens.gkSecs)
}

// TestEnsembleListsMatchScenarios checks that every pattern of
// ensembleExcluded and zooKeeperOnLeader names scenarios of the catalogue
// and gives a reason, so that neither list outlives what it was for.
func TestEnsembleListsMatchScenarios(t *testing.T) {
	for name, l := range map[string]listed{"ensembleExcluded": ensembleExcluded, "zooKeeperOnLeader": zooKeeperOnLeader} {
		for _, e := range l {
			n := 0
			for _, sc := range scenarios.All() {
				if ok, _ := path.Match(e.pattern, sc.Name); ok {
					n++
				}
			}
			if n == 0 || e.reason == "" {
				t.Errorf("%s: %q matches %d scenarios, reason %q", name, e.pattern, n, e.reason)
			}
		}
	}
}

// TestZkStalled checks when a ZooKeeper self-check failure counts as a
// stall worth a rerun: only when the slower run lost its session there.
func TestZkStalled(t *testing.T) {
	run := func(s float64) zkRun { return zkRun{took: time.Duration(s * float64(time.Second))} }
	const ok, lost = "c1 getData /R -> OK zxid=Z+1", "c1 getData /R -> ! closed"
	for _, tc := range []struct {
		name      string
		want, got string
		ta, tb    float64
		wantRerun bool
	}{
		{"second run stalled and lost its session", ok, lost, 0.1, 10.4, true},
		{"first run stalled and timed out", "c1 exists /R -> ! timeout", ok, 15.2, 0.2, true},
		{"a scenario that aborted after a slow connect", "! scenario aborted: nil pointer", ok, 5.3, 0.1, true},
		{"a fast race between a reply and a close", lost, "c1 xid+1 create SESSIONEXPIRED zxid=Z+2", 0.1, 0.1, false},
		{"slow, but the answers differ", ok, "c1 getData /R -> NONODE zxid=Z+1", 0.1, 6, false},
		{"the fast run is the one without its session", lost, ok, 0.1, 6, false},
	} {
		d := &zkDiff{d: &scenario.Divergence{Want: tc.want, Got: tc.got}, a: run(tc.ta), b: run(tc.tb)}
		if got := zkStalled(d); got != tc.wantRerun {
			t.Errorf("%s: zkStalled = %v, want %v", tc.name, got, tc.wantRerun)
		}
	}
}
