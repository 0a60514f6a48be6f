package admin

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/internal/loopport"
	"github.com/gokeeper/gokeeper/server"
)

// ensembleFixture is a gokeeper ensemble in process: each member a
// fixture (client port, admin, /metrics) with its data in its own dir.
type ensembleFixture struct {
	t       *testing.T
	servers []server.QuorumServer
	dirs    map[int64]string
	members map[int64]*fixture
	// mutate, if set, adjusts every member's config.
	mutate func(*server.Config)
}

// freeLoopbackPort returns a loopback port for a server the test starts
// (internal/loopport: below the ephemeral range, never handed out twice).
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	p, err := loopport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newEnsembleFixture configures members with the given roles
// ("participant" or "observer"), ids from 1; none is started.
func newEnsembleFixture(t *testing.T, roles ...string) *ensembleFixture {
	e := &ensembleFixture{t: t, dirs: map[int64]string{}, members: map[int64]*fixture{}}
	for i, role := range roles {
		id := int64(i + 1)
		line := fmt.Sprintf("127.0.0.1:%d:%d:%s", freeLoopbackPort(t), freeLoopbackPort(t), role)
		qs, err := server.ParseQuorumServer(id, line, false)
		if err != nil {
			t.Fatal(err)
		}
		e.servers = append(e.servers, qs)
		e.dirs[id] = t.TempDir()
	}
	return e
}

// start starts member id on its data dir. It snapshots every few txns,
// so that a member restarted later keeps its log from a snapshot on and
// a new member needs a SNAP.
func (e *ensembleFixture) start(id int64) *fixture {
	e.t.Helper()
	f := startFixtureIn(e.t, e.dirs[id], func(c *server.Config) {
		c.ServerID = id
		c.Servers = e.servers
		c.InitLimit, c.SyncLimit = 10, 5
		c.SnapCount, c.SnapSizeLimitInKb = 10, 1
		if e.mutate != nil {
			e.mutate(c)
		}
	}, nil)
	e.members[id] = f
	return f
}

func (e *ensembleFixture) stop(id int64) {
	e.members[id].stop()
	delete(e.members, id)
}

// serving waits until the running members serve in the roles given
// (want: id -> "leader", "follower" or "observer").
func (e *ensembleFixture) serving(want map[int64]string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[int64]string{}
		ok := true
		for id, role := range want {
			got[id] = e.members[id].srv.Mode()
			ok = ok && got[id] == role
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("members serve as %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// roles waits until the voters among ids serve, one leading, and
// returns the leader's and a follower's ids.
func (e *ensembleFixture) roles(ids ...int64) (leader, follower int64) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		leader, follower = 0, 0
		for _, id := range ids {
			switch e.members[id].srv.Mode() {
			case "leader":
				leader = id
			case "follower":
				follower = id
			}
		}
		if leader != 0 && follower != 0 {
			return leader, follower
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no leader and follower among %v", ids)
	return 0, 0
}

// TestEnsembleMetrics runs an ensemble of two voters and an observer in
// process and checks the quorum's metrics where ZooKeeper prints them:
// each moves, the leader's gauges and zk_peer_state say what the members
// do, and each member's mntr has the keys of ZooKeeper's (captured from a
// real 3.8 ensemble by testdata/capture_ensemble.py) in their order.
func TestEnsembleMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an ensemble, restarts it and loses its quorum")
	}
	e := newEnsembleFixture(t, "participant", "participant", "observer")
	moved := map[string]bool{}

	// Phase 1: the two voters elect, sync by DIFF and take writes through
	// the follower.
	e.start(1)
	e.start(2)
	lead, fol := e.roles(1, 2)
	c := e.members[fol].connect(t)
	const writes = 30
	for i := range writes {
		if _, err := c.Create(fmt.Sprintf("/e%d", i), []byte("twenty bytes of data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	// A session moves to a new connection to the follower, which asks the
	// leader whether it is live (REVALIDATE).
	rc, res, err := rawclient.Connect(e.members[fol].addr, rawclient.ConnectOptions{TimeoutMs: 4000}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	rc, res2, err := rawclient.Connect(e.members[fol].addr, rawclient.ConnectOptions{TimeoutMs: 4000,
		SessionID: res.Response.SessionId, Passwd: res.Response.Passwd}, 5*time.Second)
	if err != nil || res2.Response.SessionId != res.Response.SessionId {
		t.Fatalf("reconnect through the follower: %v %+v", err, res2)
	}
	if _, _, err := rc.CloseSession(); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	// NB: the follower applies a txn when it learns of its commit, which
	// may come after the client's reply from... itself: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for e.members[fol].srv.LastZxid() != e.members[lead].srv.LastZxid() || mntrNum(t, mntrOf(t, e.members[lead].addr), "cnt_snapshottime") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the follower did not catch up, or the leader took no snapshot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	lm, fm := mntrOf(t, e.members[lead].addr), mntrOf(t, e.members[fol].addr)
	want := func(vals map[string]string, who, key string, ok func(float64) bool, what string) {
		t.Helper()
		if _, found := vals["zk_"+key]; !found {
			t.Errorf("%s: zk_%s missing", who, key)
			return
		}
		if v := mntrNum(t, vals, key); !ok(v) {
			t.Errorf("%s: zk_%s = %v, want %s", who, key, v, what)
		}
	}
	atLeast := func(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
	is := func(n float64) func(float64) bool { return func(v float64) bool { return v == n } }
	if lm["zk_server_state"] != "leader" || lm["zk_peer_state"] != "leading - broadcast" {
		t.Errorf("leader: server_state %q peer_state %q", lm["zk_server_state"], lm["zk_peer_state"])
	}
	if fm["zk_server_state"] != "follower" || fm["zk_peer_state"] != "following - broadcast" {
		t.Errorf("follower: server_state %q peer_state %q", fm["zk_server_state"], fm["zk_peer_state"])
	}
	// The leader's gauges.
	want(lm, "leader", "learners", is(1), "1")
	want(lm, "leader", "synced_followers", is(1), "1")
	want(lm, "leader", "synced_observers", is(0), "0")
	want(lm, "leader", "synced_non_voting_followers", is(0), "0")
	want(lm, "leader", "pending_syncs", is(0), "0")
	want(lm, "leader", "quorum_size", is(2), "the 2 voters")
	want(lm, "leader", "leader_uptime", atLeast(1), "> 0")
	want(lm, "leader", "min_proposal_size", atLeast(30), "a txn's size")
	if last, lo, hi := mntrNum(t, lm, "last_proposal_size"), mntrNum(t, lm, "min_proposal_size"), mntrNum(t, lm, "max_proposal_size"); last < lo || last > hi {
		t.Errorf("proposal sizes: last %v outside min %v max %v", last, lo, hi)
	}
	want(fm, "follower", "quorum_size", is(2), "2")
	for _, k := range []string{"learners", "synced_followers", "synced_observers", "leader_uptime", "last_proposal_size"} {
		if _, ok := fm["zk_"+k]; ok {
			t.Errorf("follower prints the leader's gauge %s", k)
		}
	}
	// The quorum's counters and summaries: writes+4 txns (two sessions'
	// create and close).
	txns := float64(writes + 4)
	for _, m := range []struct {
		vals     map[string]string
		who, key string
		n        float64
	}{
		{lm, "leader", "proposal_count", txns}, {lm, "leader", "commit_count", txns},
		{lm, "leader", "diff_count", 1}, {lm, "leader", "looking_count", 1},
		{lm, "leader", "revalidate_count", 1},
		{lm, "leader", "cnt_election_time", 1}, {lm, "leader", "cnt_unavailable_time", 1},
		{lm, "leader", "cnt_leader_unavailable_time", 1}, {lm, "leader", "cnt_quorum_ack_latency", txns},
		{lm, "leader", "cnt_proposal_ack_creation_latency", txns}, {lm, "leader", "cnt_propagation_latency", txns},
		{fm, "follower", "learner_proposal_received_count", txns}, {fm, "follower", "learner_commit_received_count", txns},
		{fm, "follower", "cnt_proposal_latency", txns}, {fm, "follower", "cnt_commit_propagation_latency", txns},
		{fm, "follower", "cnt_follower_sync_time", 1}, {fm, "follower", "cnt_election_time", 1},
		{fm, "follower", "cnt_unavailable_time", 1}, {fm, "follower", "cnt_proposal_ack_creation_latency", txns},
		{fm, "follower", "looking_count", 1}, {fm, "follower", "cnt_propagation_latency", txns},
	} {
		want(m.vals, m.who, m.key, atLeast(m.n), fmt.Sprintf(">= %v", m.n))
		moved[strip(m.key)] = true
	}
	// What only the other role measures stays at zero.
	want(fm, "follower", "proposal_count", is(0), "0 on a follower")
	want(fm, "follower", "cnt_leader_unavailable_time", is(0), "0 on a follower")
	want(lm, "leader", "learner_proposal_received_count", is(0), "0 on the leader")
	want(lm, "leader", "cnt_commit_propagation_latency", is(0), "0 on the leader")
	// mntr's keys, their order and kinds are ZooKeeper's.
	for _, m := range []struct {
		who, capture string
		f            *fixture
	}{{"leader", "mntr_leader.txt", e.members[lead]}, {"follower", "mntr_follower.txt", e.members[fol]}} {
		gotKeys, got := mntr(t, fourLetter(t, m.f.addr, "mntr"))
		wantKeys, wantVals := mntr(t, golden(t, "4lw/"+m.capture))
		checkMntrAgainst(t, "ZooKeeper 3.8.0 "+m.who, gotKeys, got, wantKeys, wantVals)
		checkRegistryExported(t, m.f.srv)
	}
	fams := scrape(t, e.members[lead].metricsURL)
	checkPrometheusNames(t, fams)
	if n := fams["election_time"].GetMetric()[0].GetSummary().GetSampleCount(); n < 1 {
		t.Errorf("election_time_count %d on the leader's /metrics: the guide's election alert would not fire", n)
	}

	// Phase 2: both voters restart from their snapshots and a new
	// observer joins: it needs a SNAP.
	e.stop(1)
	e.stop(2)
	e.start(1)
	e.start(2)
	e.start(3)
	lead, fol = e.roles(1, 2)
	e.serving(map[int64]string{lead: "leader", fol: "follower", 3: "observer"})
	oc := e.members[3].connect(t)
	for i := range 5 {
		if _, err := oc.Create(fmt.Sprintf("/o%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	oc.Close()
	deadline = time.Now().Add(10 * time.Second)
	for e.members[3].srv.LastZxid() != e.members[lead].srv.LastZxid() {
		if time.Now().After(deadline) {
			t.Fatal("the observer did not catch up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	lm, om := mntrOf(t, e.members[lead].addr), mntrOf(t, e.members[3].addr)
	want(lm, "leader", "snap_count", atLeast(1), "the observer's SNAP")
	want(lm, "leader", "learners", is(2), "2")
	want(lm, "leader", "synced_observers", is(1), "1")
	want(om, "observer", "cnt_observer_sync_time", is(1), "1")
	want(om, "observer", "learner_commit_received_count", atLeast(5), ">= 5 INFORMs")
	want(om, "observer", "cnt_commit_propagation_latency", atLeast(5), ">= 5")
	want(om, "observer", "learner_proposal_received_count", is(0), "0: an observer gets INFORMs")
	want(om, "observer", "cnt_election_time", is(0), "0: ZooKeeper times followers' and leaders' elections")
	moved["snap_count"], moved["observer_sync_time"] = true, true
	if om["zk_server_state"] != "observer" || om["zk_peer_state"] != "observing - broadcast" || om["zk_observer_master_id"] != strconv.FormatInt(lead, 10) {
		t.Errorf("observer: server_state %q peer_state %q observer_master_id %q (leader %d)",
			om["zk_server_state"], om["zk_peer_state"], om["zk_observer_master_id"], lead)
	}
	gotKeys, got := mntr(t, fourLetter(t, e.members[3].addr, "mntr"))
	wantKeys, wantVals := mntr(t, golden(t, "4lw/mntr_follower.txt"))
	checkMntrAgainst(t, "an observer against ZooKeeper 3.8.0's follower", gotKeys, got, wantKeys, wantVals)
	checkPrometheusNames(t, scrape(t, e.members[3].metricsURL))

	// Phase 3: the leader goes; the other voter has no quorum and refuses
	// clients.
	e.stop(lead)
	rest := e.members[fol]
	deadline = time.Now().Add(10 * time.Second)
	for rest.srv.Mode() != "" {
		if time.Now().After(deadline) {
			t.Fatal("a voter without its quorum still serves")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := fourLetter(t, rest.addr, "mntr"); out != "This ZooKeeper instance is not currently serving requests\n" {
		t.Errorf("mntr on a member without quorum: %q", out)
	}
	if rc, _, err := rawclient.Connect(rest.addr, rawclient.ConnectOptions{TimeoutMs: 4000}, 5*time.Second); err == nil {
		rc.Close()
	}
	fams = scrape(t, rest.metricsURL)
	if v := fams["cnxn_closed_without_zk_server_running"].GetMetric()[0].GetCounter().GetValue(); v < 1 {
		t.Errorf("cnxn_closed_without_zk_server_running %v after a refused ConnectRequest", v)
	}
	if v := fams["looking_count"].GetMetric()[0].GetCounter().GetValue(); v < 2 {
		t.Errorf("looking_count %v after the leader left, want 2 or more", v)
	}
	moved["cnxn_closed_without_zk_server_running"] = true
	for _, name := range ensembleOnly {
		if !moved[name] {
			t.Errorf("%s is ensemble-only but this test does not check that it moves", name)
		}
	}
}

// strip returns the metric name of an mntr key ("cnt_x" is x's).
func strip(key string) string {
	if p := summaryPrefix.FindString(key); p != "" {
		return key[len(p):]
	}
	return key
}

// TestLocalSessionMetrics: a member with localSessionsEnabled counts its
// local sessions in local_sessions (global_sessions, the ensemble's, does
// not), and one it expires in stale_sessions_expired.
func TestLocalSessionMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an ensemble")
	}
	e := newEnsembleFixture(t, "participant", "participant")
	e.mutate = func(c *server.Config) { c.LocalSessionsEnabled = true }
	e.start(1)
	e.start(2)
	_, fol := e.roles(1, 2)
	m := e.members[fol]
	before := mntrOf(t, m.addr)
	rc, res, err := rawclient.Connect(m.addr, rawclient.ConnectOptions{TimeoutMs: 400}, 5*time.Second)
	if err != nil || res.Response.TimeOut == 0 {
		t.Fatalf("connect: %v %+v", err, res)
	}
	during := mntrOf(t, m.addr)
	if n := mntrNum(t, during, "local_sessions"); n != 1 {
		t.Errorf("local_sessions %v with one local session", n)
	}
	if b, d := mntrNum(t, before, "global_sessions"), mntrNum(t, during, "global_sessions"); d != b {
		t.Errorf("global_sessions %v -> %v for a local session", b, d)
	}
	// Dropped without closeSession, the session times out on its member.
	rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := mntrOf(t, m.addr)
		if mntrNum(t, after, "local_sessions") == 0 && mntrNum(t, after, "stale_sessions_expired") >= mntrNum(t, before, "stale_sessions_expired")+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dropped local session did not expire: local_sessions %v, stale_sessions_expired %v",
				mntrNum(t, after, "local_sessions"), mntrNum(t, after, "stale_sessions_expired"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
