package peer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/persistence"
	"github.com/gokeeper/gokeeper/quorum"
	"github.com/gokeeper/gokeeper/quorum/transport"
)

// memStorage is a member's durable state in memory: it survives a Peer's
// Close, as files survive a restart. Its state machine is the list of
// applied txns; its SNAP stream holds them as nodes "/t<zxid in hex>".
type memStorage struct {
	mu      sync.Mutex
	start   int64
	log     []quorum.Entry
	hs      quorum.HardState
	applied []quorum.Entry
	// appends counts Append calls; gate, if set, is received from before
	// an Append goes on (blocked says it waits).
	appends       int
	gate, blocked chan struct{}
	// failAppend makes Append fail, as a log whose fsync fails.
	failAppend bool
}

func (m *memStorage) StartZxid() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.start
}

func (m *memStorage) LastZxid() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.log) == 0 {
		return m.start
	}
	return m.log[len(m.log)-1].Zxid
}

func (m *memStorage) Entries(after, upTo int64) []quorum.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []quorum.Entry
	for _, e := range m.log {
		if e.Zxid > after && e.Zxid <= upTo {
			out = append(out, e)
		}
	}
	return out
}

func (m *memStorage) Append(entries []quorum.Entry) error {
	m.mu.Lock()
	gate, blocked := m.gate, m.blocked
	m.mu.Unlock()
	if gate != nil {
		blocked <- struct{}{}
		<-gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.appends++
	if m.failAppend {
		return errors.New("injected fsync failure")
	}
	for _, e := range entries {
		last := m.start
		if len(m.log) > 0 {
			last = m.log[len(m.log)-1].Zxid
		}
		if e.Zxid <= last {
			return fmt.Errorf("append %#x after %#x", e.Zxid, last)
		}
		m.log = append(m.log, quorum.Entry{Zxid: e.Zxid, Data: bytes.Clone(e.Data)})
	}
	return nil
}

func (m *memStorage) TruncateAfter(zxid int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.log) > 0 && m.log[len(m.log)-1].Zxid > zxid {
		m.log = m.log[:len(m.log)-1]
	}
	for len(m.applied) > 0 && m.applied[len(m.applied)-1].Zxid > zxid {
		m.applied = m.applied[:len(m.applied)-1]
	}
	return nil
}

func (m *memStorage) InstallSnapshot(zxid int64, snap []byte) error {
	var state []quorum.Entry
	err := persistence.ReadSnapStream(bytes.NewReader(snap), 0, nil, func(n *persistence.Node) error {
		if !strings.HasPrefix(n.Path, "/t") {
			return nil
		}
		z, err := strconv.ParseInt(n.Path[2:], 16, 64)
		state = append(state, quorum.Entry{Zxid: z, Data: n.Data})
		return err
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.start, m.log, m.applied = zxid, nil, state
	return nil
}

func (m *memStorage) WriteEpochs(hs quorum.HardState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hs = hs
	return nil
}

func (m *memStorage) Apply(zxid int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.start
	if len(m.applied) > 0 {
		at = max(at, m.applied[len(m.applied)-1].Zxid)
	}
	for _, e := range m.log {
		if e.Zxid > at && e.Zxid <= zxid {
			m.applied = append(m.applied, e)
		}
	}
	return nil
}

func (m *memStorage) WriteSnapshot(w io.Writer, zxid int64) error {
	m.mu.Lock()
	state := append([]quorum.Entry(nil), m.applied...)
	m.mu.Unlock()
	open := []jute.ACL{{Perms: 31, Id: jute.Id{Scheme: "world", Id: "anyone"}}}
	return persistence.WriteSnapStream(w, nil, func(acls func([][]jute.ACL) error, node func(*persistence.Node) error) error {
		if err := acls([][]jute.ACL{open}); err != nil {
			return err
		}
		if err := node(&persistence.Node{Path: "", ACL: open}); err != nil {
			return err
		}
		for _, e := range state {
			if e.Zxid > zxid {
				break
			}
			if err := node(&persistence.Node{Path: fmt.Sprintf("/t%x", e.Zxid), Data: e.Data, ACL: open}); err != nil {
				return err
			}
		}
		return nil
	})
}

// compact drops the log through the state's zxid, as a snapshot and a
// purge would.
func (m *memStorage) compact() {
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.applied[len(m.applied)-1].Zxid
	for len(m.log) > 0 && m.log[0].Zxid <= at {
		m.log = m.log[1:]
	}
	m.start = at
}

// state returns the applied txns' zxids and the state's zxid.
func (m *memStorage) state() (zxids []int64, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.applied {
		zxids = append(zxids, e.Zxid)
	}
	at = m.start
	if len(m.applied) > 0 {
		at = max(at, m.applied[len(m.applied)-1].Zxid)
	}
	return zxids, at
}

// cluster is n members on loopback, each with its election Manager, its
// quorum listener and its memStorage.
type cluster struct {
	t        *testing.T
	servers  []Server
	election map[int64][]string
	storage  map[int64]*memStorage
	peers    map[int64]*Peer
	elector  map[int64]*transport.Manager
	quorumLn map[int64]net.Listener
	requests chan string
	// synced gets, for each SYNC a member received, the zxids it had
	// applied then.
	synced  chan []int64
	metrics map[int64]*metrics.Registry
	// elSec and qSec secure each member's election and quorum
	// connections (nil: plaintext).
	elSec, qSec map[int64]*transport.Security
	// maxDiff is the members' quorum.Config.MaxDiff.
	maxDiff int64
	// log, if set, gets the members' logs.
	log io.Writer
}

func newCluster(t *testing.T, n int) *cluster {
	return newSecureCluster(t, n, nil, nil, nil)
}

func newSecureCluster(t *testing.T, n int, elSec, qSec map[int64]*transport.Security, log io.Writer) *cluster {
	c := &cluster{
		elSec: elSec, qSec: qSec, log: log,
		t: t, election: map[int64][]string{}, storage: map[int64]*memStorage{},
		peers: map[int64]*Peer{}, elector: map[int64]*transport.Manager{},
		quorumLn: map[int64]net.Listener{}, requests: make(chan string, 16),
		synced:  make(chan []int64, 16),
		metrics: map[int64]*metrics.Registry{},
	}
	for id := int64(1); id <= int64(n); id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.quorumLn[id] = ln
		c.servers = append(c.servers, Server{ID: id, QuorumAddr: ln.Addr().String()})
		c.storage[id] = &memStorage{}
		c.metrics[id] = metrics.NewRegistry()
		// NB: election ports are picked now and kept across restarts.
		el, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.election[id] = []string{el.Addr().String()}
		el.Close()
	}
	for id := int64(1); id <= int64(n); id++ {
		c.start(id)
	}
	t.Cleanup(func() {
		for id := range c.peers {
			c.stop(id)
		}
	})
	return c
}

func (c *cluster) start(id int64) {
	c.t.Helper()
	tc := transport.DefaultConfig()
	tc.MyID, tc.ListenAddr, tc.Peers = id, c.election[id][0], c.election
	tc.BindRetryInterval = 50 * time.Millisecond
	tc.Security = c.elSec[id]
	m, err := transport.New(tc)
	if err != nil {
		c.t.Fatal(err)
	}
	ln := c.quorumLn[id]
	if ln == nil {
		if ln, err = net.Listen("tcp", c.servers[id-1].QuorumAddr); err != nil {
			c.t.Fatal(err)
		}
	}
	delete(c.quorumLn, id)
	st := c.storage[id]
	_, applied := st.state()
	cfg := Config{
		ID: id, Servers: c.servers, Listener: ln, Tick: 10 * time.Millisecond,
		Security: c.qSec[id],
		Core: quorum.Config{
			InitLimit: 100, SyncLimit: 50, PingInterval: 5, FinalizeWait: 5,
			MinNotifyInterval: 5, MaxNotifyInterval: 100, ConfigText: []byte("version=0"), MaxDiff: c.maxDiff,
		},
		MaxBuffer: 1 << 20,
		OnRequest: func(from int64, data []byte, _ []jute.Id) { c.requests <- fmt.Sprintf("%d:%s", from, data) },
		OnSync: func() {
			// NB: what was handed to Apply is applied at once here.
			got, _ := st.state()
			c.synced <- got
		},
		Logger:  zerolog.Nop(),
		Metrics: c.metrics[id],
	}
	if c.log != nil {
		cfg.Logger = zerolog.New(c.log).With().Int64("member", id).Logger()
	}
	p, err := New(cfg, st, m, st.hs, applied)
	if err != nil {
		c.t.Fatal(err)
	}
	c.peers[id], c.elector[id] = p, m
}

func (c *cluster) stop(id int64) {
	if p := c.peers[id]; p != nil {
		p.Close()
		c.elector[id].Close()
		delete(c.peers, id)
	}
}

// leader waits until one running member is an established leader and
// every other running member serves as its follower.
func (c *cluster) leader() (int64, quorum.Status) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var lead int64
		var ls quorum.Status
		ok := true
		for id, p := range c.peers {
			st := p.Status()
			switch {
			case st.State == quorum.Leading && st.Serving:
				lead, ls = id, st
			case st.State == quorum.Following && st.Serving:
			default:
				ok = false
			}
		}
		if ok && lead != 0 {
			for _, p := range c.peers {
				if p.Status().Leader != lead {
					ok = false
				}
			}
			if ok {
				return lead, ls
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for id, p := range c.peers {
		c.t.Logf("member %d: %+v", id, p.Status())
	}
	c.t.Fatal("no leader served by every running member within 20 s")
	return 0, quorum.Status{}
}

// propose has the leader commit txns counter first.. of its epoch.
func (c *cluster) propose(lead int64, epoch int64, first, n int) []int64 {
	c.t.Helper()
	var entries []quorum.Entry
	var zxids []int64
	for i := 0; i < n; i++ {
		z := quorum.Zxid(epoch, int64(first+i))
		entries = append(entries, quorum.Entry{Zxid: z, Data: []byte(fmt.Sprintf("txn %#x", z))})
		zxids = append(zxids, z)
	}
	done := make(chan error, 1)
	c.peers[lead].Propose(entries, func(err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			c.t.Fatalf("propose on %d: %v", lead, err)
		}
	case <-time.After(10 * time.Second):
		c.t.Fatal("proposal not committed within 10 s")
	}
	return zxids
}

// converged waits until every running member applied exactly want.
func (c *cluster) converged(want []int64) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		bad := ""
		for id := range c.peers {
			got, _ := c.storage[id].state()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				bad = fmt.Sprintf("member %d applied %x, want %x", id, got, want)
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal(bad)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPeerEnsemble runs three peers over loopback TCP: they elect a
// leader, replicate its txns, elect another when it stops, catch a
// restarted member up by DIFF and a wiped one by SNAP, and carry
// REQUEST packets from a follower to the leader.
func TestPeerEnsemble(t *testing.T) {
	c := newCluster(t, 3)
	lead, st := c.leader()
	if st.Epoch < 1 {
		t.Fatalf("leader %d established epoch %d", lead, st.Epoch)
	}
	want := c.propose(lead, st.Epoch, 1, 5)
	c.converged(want)

	// A follower forwards a request to its leader.
	var follower int64
	for id := range c.peers {
		if id != lead {
			follower = id
		}
	}
	if err := c.peers[follower].Forward([]byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-c.requests:
		if w := fmt.Sprintf("%d:hello", follower); got != w {
			t.Fatalf("leader got request %q, want %q", got, w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("forwarded request never reached the leader")
	}
	if err := c.peers[lead].Forward([]byte("x"), nil); err == nil {
		t.Fatal("a leader forwarded a request")
	}

	// A sync proposed right behind txns reaches the follower after their
	// COMMITs: it has applied them when its SYNC arrives.
	var more []quorum.Entry
	for i := int64(6); i <= 8; i++ {
		z := quorum.Zxid(st.Epoch, i)
		more = append(more, quorum.Entry{Zxid: z, Data: []byte("txn")})
		want = append(want, z)
	}
	c.peers[lead].Propose(more, func(error) {})
	syncDone := make(chan error, 1)
	c.peers[lead].Sync(follower, func(err error) { syncDone <- err })
	select {
	case got := <-c.synced:
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("follower had applied %x when its SYNC arrived, want %x", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the follower never got its SYNC")
	}
	if err := <-syncDone; err != nil {
		t.Fatalf("leader's sync: %v", err)
	}
	c.peers[follower].Sync(0, func(err error) { syncDone <- err })
	if err := <-syncDone; err != ErrNotLeader {
		t.Fatalf("sync on a follower: %v, want ErrNotLeader", err)
	}

	// The leader stops: the other two elect a new one in a later epoch,
	// and keep everything committed.
	c.stop(lead)
	lead2, st2 := c.leader()
	if lead2 == lead || st2.Epoch <= st.Epoch {
		t.Fatalf("after stopping %d (epoch %d): leader %d epoch %d", lead, st.Epoch, lead2, st2.Epoch)
	}
	want = append(want, c.propose(lead2, st2.Epoch, 1, 3)...)
	c.converged(want)

	// The old leader restarts behind: it catches up (DIFF) and follows.
	c.start(lead)
	if l, _ := c.leader(); l != lead2 {
		t.Fatalf("leader %d after a follower restarted, want %d", l, lead2)
	}
	c.converged(want)

	// A member whose state is wiped gets the leader's snapshot.
	var wiped int64
	for id := range c.peers {
		if id != lead2 {
			wiped = id
		}
	}
	c.stop(wiped)
	c.storage[wiped] = &memStorage{}
	want = append(want, c.propose(lead2, st2.Epoch, 4, 2)...)
	c.storage[lead2].compact()
	c.start(wiped)
	c.leader()
	c.converged(want)
	if start := c.storage[wiped].StartZxid(); start == 0 {
		t.Fatalf("wiped member %d caught up without a snapshot (log starts at 0)", wiped)
	}
	want = append(want, c.propose(lead2, st2.Epoch, 6, 1)...)
	c.converged(want)
}

// TestPeerGroupCommit: proposals that queue while the leader's log is
// busy are logged together, by one Append (one fsync), not one each.
func TestPeerGroupCommit(t *testing.T) {
	c := newCluster(t, 3)
	lead, st := c.leader()
	m := c.storage[lead]
	m.mu.Lock()
	m.gate, m.blocked = make(chan struct{}), make(chan struct{}, 1)
	m.appends = 0
	gate, blocked := m.gate, m.blocked
	m.mu.Unlock()
	const n = 50
	done := make(chan error, n)
	propose := func(i int64) {
		z := quorum.Zxid(st.Epoch, i)
		c.peers[lead].Propose([]quorum.Entry{{Zxid: z, Data: []byte("txn")}}, func(err error) { done <- err })
	}
	propose(1)
	<-blocked // the leader's loop is in the first Append
	for i := int64(2); i <= n; i++ {
		propose(i)
	}
	m.mu.Lock()
	m.gate = nil
	m.mu.Unlock()
	close(gate)
	for range n {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("proposals not committed within 10 s")
		}
	}
	m.mu.Lock()
	appends := m.appends
	m.mu.Unlock()
	if appends > 2 {
		t.Fatalf("the leader logged %d proposals in %d appends, want 2: the first, then all that queued behind it", n, appends)
	}
}

// TestPeerSnapWhenFarBehind: a wiped member more than MaxDiff txns behind
// an established leader gets its snapshot even though the leader's log
// still holds every txn; without MaxDiff it gets them all by DIFF.
func TestPeerSnapWhenFarBehind(t *testing.T) {
	for _, maxDiff := range []int64{0, 5} {
		c := newCluster(t, 3)
		c.maxDiff = maxDiff
		for id := int64(1); id <= 3; id++ {
			c.stop(id)
			c.start(id)
		}
		lead, st := c.leader()
		var wiped int64
		for id := range c.peers {
			if id != lead {
				wiped = id
			}
		}
		want := c.propose(lead, st.Epoch, 1, 3)
		c.converged(want)
		c.stop(wiped)
		c.storage[wiped] = &memStorage{}
		want = append(want, c.propose(lead, st.Epoch, 4, 10)...)
		c.start(wiped)
		c.leader()
		c.converged(want)
		if snap := c.storage[wiped].StartZxid() != 0; snap != (maxDiff > 0) {
			t.Errorf("MaxDiff %d: a member 13 txns behind caught up by snapshot %v, want %v", maxDiff, snap, maxDiff > 0)
		}
		for id := range c.peers {
			c.stop(id)
		}
	}
}

// TestPeerStopsWhenItsLogFails: a leader whose log cannot take a
// proposal fails the proposal, stops saying it leads (srvr and mntr read
// its status) and drops its followers at once, which elect another
// leader and keep what was committed.
func TestPeerStopsWhenItsLogFails(t *testing.T) {
	c := newCluster(t, 3)
	lead, st := c.leader()
	committed := c.propose(lead, st.Epoch, 1, 3)
	c.storage[lead].mu.Lock()
	c.storage[lead].failAppend = true
	c.storage[lead].mu.Unlock()
	done := make(chan error, 1)
	z := quorum.Zxid(st.Epoch, 4)
	c.peers[lead].Propose([]quorum.Entry{{Zxid: z, Data: []byte("lost?")}}, func(err error) { done <- err })
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a proposal the leader could not log was acknowledged")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the proposal the leader could not log was not answered within 10 s")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		failed := c.peers[lead].Status()
		var newLead int64
		for id, p := range c.peers {
			if s := p.Status(); id != lead && s.State == quorum.Leading && s.Serving {
				newLead = id
			}
		}
		if failed.State == quorum.Looking && !failed.Serving && strings.Contains(failed.Why, "stopped") && newLead != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after its log failed, the old leader's status is %+v and no other member leads", failed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.stop(lead)
	// NB: the txn the failed leader sent its followers first may commit
	// in the next epoch, or not; what was committed before stays.
	for id := range c.peers {
		got, _ := c.storage[id].state()
		if len(got) < len(committed) || fmt.Sprint(got[:len(committed)]) != fmt.Sprint(committed) {
			t.Fatalf("member %d applied %x, want %x first", id, got, committed)
		}
	}
}
