package quorum

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

var (
	simSeeds = flag.String("seeds", "", "simulation seeds, e.g. 1-10000 or 7,42 (default: SIM_SEEDS, else 1-200)")
	simSteps = flag.Int("steps", 3000, "ticks of faults per seed; a quiet period follows")
	simTrace = flag.Bool("simtrace", false, "print the whole trace of each seed")
)

// memLog is the in-memory twin of the txn log: what a member persisted.
type memLog struct {
	start   int64
	entries []Entry
}

func (l *memLog) StartZxid() int64 { return l.start }

func (l *memLog) LastZxid() int64 {
	if len(l.entries) == 0 {
		return l.start
	}
	return l.entries[len(l.entries)-1].Zxid
}

func (l *memLog) Entries(after, upTo int64) []Entry {
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].Zxid > after })
	j := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].Zxid > upTo })
	if i >= j {
		return nil
	}
	return append([]Entry(nil), l.entries[i:j]...)
}

func (l *memLog) truncateAfter(z int64) {
	j := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].Zxid > z })
	l.entries = l.entries[:j]
}

// compact drops the txns up to z, which a snapshot holds.
func (l *memLog) compact(z int64) {
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].Zxid > z })
	l.entries = append([]Entry(nil), l.entries[i:]...)
	l.start = z
}

// simNode is one member: its durable state (epochs, log, snapshot), its
// state machine (the txns applied, in order) and its core while up.
type simNode struct {
	id          int64
	n           *Node
	incarnation int
	hs          HardState
	log         *memLog
	snapState   []Entry // the durable snapshot: txns applied when it was taken
	state       []Entry
	status      Status
	conf        Membership // the durable membership (the dynamic config file)
}

func (sn *simNode) stateZxid() int64 {
	if len(sn.state) == 0 {
		return 0
	}
	return sn.state[len(sn.state)-1].Zxid
}

// history is the member's state followed by its log's later txns.
func (sn *simNode) history() []Entry {
	h := append([]Entry(nil), sn.state...)
	return append(h, sn.log.Entries(max(sn.stateZxid(), sn.log.start), sn.log.LastZxid())...)
}

// simConn is a learner's TCP connection to its leader: FIFO and lossless
// until it dies; then what is in flight is lost.
type simConn struct {
	learner, leader int64
	lid, aid        uint64 // the learner's and the leader's ids for it
	dead            bool
	lastAt          [2]int64 // delivery times stay in order per direction
	// synced is set once the leader sent DIFF, TRUNC or SNAP on it.
	synced bool
}

type envelope struct {
	at, seq int64
	m       Message
	conn    *simConn
	// toLeader says which way a packet on conn goes.
	toLeader bool
	// disconnect, when set, tells m.To that connection m.Conn to m.From is
	// gone; incarnation is m.To's when it was sent.
	disconnect  bool
	incarnation int
}

type simStats struct {
	steps, delivered, dropped, crashes, tornCrashes, partitions, connBreaks, snapshots, proposals, elections, reconfigs, activations int
}

type sim struct {
	tb      testing.TB
	rng     *rand.Rand
	seed    int64
	cfg     Config
	ids     []int64
	nodes   map[int64]*simNode
	now     int64
	seq     int64
	queue   []*envelope
	conns   []*simConn
	accepts map[int64]uint64
	part    map[int64]int // partition side per member; nil: healed
	faults  bool
	// history is every txn any member applied, in order: each member's
	// state must be a prefix of it.
	history []Entry
	// leaders is the member established as leader of each epoch.
	leaders map[int64]int64
	trace   []string
	stats   simStats
	failed  string
	// mutant, when set, breaks the caller's side of the Ready contract on
	// purpose, to show that the invariants catch it (TestSimulationMutants).
	mutant string
	// reconfig has leaders propose membership changes now and then.
	reconfig bool
}

func newSim(tb testing.TB, seed int64, voters, observers int) *sim {
	return newSimOf(tb, seed, voters, observers, simReconfig(seed))
}

// newSimOf starts the members, with a spare and reconfigs if reconfig.
func newSimOf(tb testing.TB, seed int64, voters, observers int, reconfig bool) *sim {
	s := newSimNodes(tb, seed, voters, observers)
	if reconfig {
		s.addSpare()
	}
	for _, id := range s.ids {
		s.start(s.nodes[id])
	}
	return s
}

// newSimNodes makes the members, with empty durable state, and starts
// none of them.
func newSimNodes(tb testing.TB, seed int64, voters, observers int) *sim {
	s := &sim{
		tb: tb, rng: rand.New(rand.NewSource(seed)), seed: seed,
		nodes: map[int64]*simNode{}, accepts: map[int64]uint64{}, leaders: map[int64]int64{},
	}
	s.cfg = Config{InitLimit: 20, SyncLimit: 10, PingInterval: 3, FinalizeWait: 2, MinNotifyInterval: 2, MaxNotifyInterval: 32}
	if seed%3 == 0 {
		// A learner a few txns behind gets a SNAP rather than a DIFF.
		s.cfg.MaxDiff = 1 + seed%7
	}
	for i := 1; i <= voters+observers; i++ {
		id := int64(i)
		if i <= voters {
			s.cfg.Voters = append(s.cfg.Voters, id)
		} else {
			s.cfg.Observers = append(s.cfg.Observers, id)
		}
		s.ids = append(s.ids, id)
		s.nodes[id] = &simNode{id: id, log: &memLog{}}
	}
	for _, id := range s.ids {
		s.nodes[id].conf = Membership{Voters: s.cfg.Voters, Observers: s.cfg.Observers}
	}
	return s
}

// addSpare adds a member outside the membership, configured as
// ZooKeeper's joining servers are: the ensemble's voters and itself. It
// follows without a vote until a reconfig adds it; leaders then propose
// reconfigs that add and remove voters.
func (s *sim) addSpare() {
	id := int64(len(s.ids) + 1)
	s.ids = append(s.ids, id)
	voters := append(append([]int64(nil), s.cfg.Voters...), id)
	s.nodes[id] = &simNode{id: id, log: &memLog{}, conf: Membership{Voters: voters, Observers: s.cfg.Observers}}
	s.reconfig = true
}

// simReconfig says which seeds run membership changes; the others keep
// the traces they had before reconfig existed.
func simReconfig(seed int64) bool { return seed%3 == 0 }

// simMembership is the sim's reconfig txn: "reconfig voters=1,2 observers=3".
func simMembership(data []byte) *Membership {
	rest, ok := strings.CutPrefix(string(data), "reconfig ")
	if !ok {
		return nil
	}
	m := &Membership{Text: data}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		var ids []int64
		for _, x := range strings.Split(v, ",") {
			if id, err := strconv.ParseInt(x, 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
		if k == "voters" {
			m.Voters = ids
		} else {
			m.Observers = ids
		}
	}
	return m
}

func joinIDs(ids []int64) string {
	var b []string
	for _, id := range ids {
		b = append(b, strconv.FormatInt(id, 10))
	}
	return strings.Join(b, ",")
}

// proposeReconfig has an established leader add a member as a voter (an
// observer, or a member outside the membership), remove a voter (perhaps
// itself) or make it an observer, or both, keeping 3 to 5 voters, when no
// reconfig is pending and a quorum of the new voters is synced with it
// (ZooKeeper's RECONFIGINPROGRESS and NEWCONFIGNOQUORUM).
func (s *sim) proposeReconfig(sn *simNode, z int64) bool {
	if sn.n.ReconfigPending() {
		return false
	}
	cur := sn.n.Membership()
	var outside []int64
	for _, id := range s.ids {
		if !cur.isVoter(id) {
			outside = append(outside, id)
		}
	}
	voters := append([]int64(nil), cur.Voters...)
	if len(outside) > 0 && (len(voters) < 5 && s.rng.Intn(2) == 0 || len(voters) == 3) {
		voters = append(voters, outside[s.rng.Intn(len(outside))])
	}
	var observers []int64
	if len(voters) > 3 && s.rng.Intn(2) == 0 {
		i := s.rng.Intn(len(voters))
		if s.rng.Intn(2) == 0 {
			observers = append(observers, voters[i]) // demoted, not removed
		}
		voters = append(voters[:i:i], voters[i+1:]...)
	}
	sort.Slice(voters, func(i, j int) bool { return voters[i] < voters[j] })
	for _, o := range cur.Observers {
		if !contains(voters, o) && !contains(observers, o) {
			observers = append(observers, o)
		}
	}
	sort.Slice(observers, func(i, j int) bool { return observers[i] < observers[j] })
	if !QuorumSynced(sn.n.Synced(), voters) {
		return false
	}
	data := []byte(fmt.Sprintf("reconfig voters=%s observers=%s", joinIDs(voters), joinIDs(observers)))
	if err := sn.n.Propose(z, data); err != nil {
		return false
	}
	s.stats.reconfigs++
	s.logf("n%d proposes %#x: %s", sn.id, z, data)
	return true
}

func (s *sim) logf(format string, args ...any) {
	line := fmt.Sprintf("t=%d ", s.now) + fmt.Sprintf(format, args...)
	if *simTrace {
		fmt.Println(line)
	}
	s.trace = append(s.trace, line)
	if len(s.trace) > 400 {
		s.trace = s.trace[len(s.trace)-300:]
	}
}

func (s *sim) fail(format string, args ...any) {
	if s.failed == "" {
		s.failed = fmt.Sprintf("t=%d ", s.now) + fmt.Sprintf(format, args...)
		s.logf("VIOLATION: %s", s.failed)
	}
}

// start boots a member from its durable state.
func (s *sim) start(sn *simNode) {
	cfg := s.cfg
	cfg.ID = sn.id
	cfg.Voters, cfg.Observers, cfg.Version, cfg.ConfigText = sn.conf.Voters, sn.conf.Observers, sn.conf.Version, sn.conf.Text
	if s.reconfig {
		cfg.Reconfig = simMembership
	}
	id := sn.id
	cfg.Logf = func(format string, args ...any) { s.logf("n%d: "+format, append([]any{id}, args...)...) }
	sn.state = append([]Entry(nil), sn.snapState...)
	s.checkState(sn, 0)
	if s.mutant == "lose-log-tail" && len(sn.log.entries) > 0 && sn.log.LastZxid() > sn.stateZxid() {
		// The last txn was acknowledged but never reached the disk.
		sn.log.entries = sn.log.entries[:len(sn.log.entries)-1]
	}
	n, err := New(cfg, sn.log, sn.hs, sn.stateZxid())
	if err != nil {
		s.fail("n%d cannot start: %v", sn.id, err)
		return
	}
	sn.n = n
	sn.incarnation++
	s.handleReady(sn)
}

func (s *sim) link(a, b int64) bool { return s.part == nil || s.part[a] == s.part[b] }

func (s *sim) delay() int64 { return 1 + s.rng.Int63n(3) }

func (s *sim) enqueue(e *envelope) {
	s.seq++
	e.seq = s.seq
	s.queue = append(s.queue, e)
}

// route sends what a member's Ready says to send.
func (s *sim) route(from *simNode, m Message) {
	if m.Vote != nil {
		if !s.link(m.From, m.To) || (s.faults && s.rng.Intn(20) == 0) {
			s.stats.dropped++
			return
		}
		s.enqueue(&envelope{at: s.now + s.delay(), m: m})
		if s.faults && s.rng.Intn(20) == 0 {
			s.enqueue(&envelope{at: s.now + s.delay(), m: m})
		}
		return
	}
	toLeader := m.Conn&dialBit != 0
	c := s.findConn(m.From, m.Conn, toLeader)
	if c == nil && toLeader && (m.Type == jute.PacketFollowerInfo || m.Type == jute.PacketObserverInfo) {
		to := s.nodes[m.To]
		if to.n == nil || !s.link(m.From, m.To) {
			// The dial fails: the learner hears of it.
			s.enqueue(&envelope{at: s.now + s.delay(), m: Message{From: m.To, To: m.From, Conn: m.Conn}, disconnect: true, incarnation: from.incarnation})
			return
		}
		s.accepts[m.To]++
		c = &simConn{learner: m.From, leader: m.To, lid: m.Conn, aid: s.accepts[m.To]}
		s.conns = append(s.conns, c)
	}
	if c == nil || c.dead {
		s.stats.dropped++
		return
	}
	switch {
	case toLeader:
	case m.Type == jute.PacketDiff || m.Type == jute.PacketTrunc || m.Type == jute.PacketSnap:
		c.synced = true
	case !c.synced && m.Type != jute.PacketLeaderInfo:
		// ZooKeeper's learner takes nothing but DIFF, TRUNC or SNAP after
		// LEADERINFO: anything else (a PING) makes it exit (code 13).
		s.fail("n%d sent %v to learner n%d before its sync", m.From, m.Type, m.To)
	}
	dir := 0
	if toLeader {
		dir = 1
	}
	at := max(s.now+s.delay(), c.lastAt[dir])
	c.lastAt[dir] = at
	s.enqueue(&envelope{at: at, m: m, conn: c, toLeader: toLeader})
}

func (s *sim) findConn(from int64, id uint64, toLeader bool) *simConn {
	for _, c := range s.conns {
		if toLeader && c.learner == from && c.lid == id && !c.dead {
			return c
		}
		if !toLeader && c.leader == from && c.aid == id && !c.dead {
			return c
		}
	}
	return nil
}

// kill ends a connection; the ends named in notify hear of it.
func (s *sim) kill(c *simConn, notifyLearner, notifyLeader bool) {
	if c.dead {
		return
	}
	c.dead = true
	if notifyLearner {
		if sn := s.nodes[c.learner]; sn.n != nil {
			s.enqueue(&envelope{at: s.now + s.delay(), m: Message{From: c.leader, To: c.learner, Conn: c.lid}, disconnect: true, incarnation: sn.incarnation})
		}
	}
	if notifyLeader {
		if sn := s.nodes[c.leader]; sn.n != nil {
			s.enqueue(&envelope{at: s.now + s.delay(), m: Message{From: c.learner, To: c.leader, Conn: c.aid}, disconnect: true, incarnation: sn.incarnation})
		}
	}
	live := s.conns[:0]
	for _, x := range s.conns {
		if !x.dead {
			live = append(live, x)
		}
	}
	s.conns = live
}

// handleReady does what the member's Ready says, in the documented
// order, checking the invariants as it goes.
func (s *sim) handleReady(sn *simNode) {
	for sn.n != nil && sn.n.HasReady() && s.failed == "" {
		rd := sn.n.Ready()
		if s.faults && s.rng.Intn(400) == 0 {
			s.logf("n%d crashes before persisting its Ready", sn.id)
			s.crash(sn)
			return
		}
		if rd.Snapshot != nil {
			var st []Entry
			if err := decodeState(rd.Snapshot.Data, &st); err != nil {
				s.fail("n%d: bad snapshot: %v", sn.id, err)
				return
			}
			sn.snapState = st
			sn.state = append([]Entry(nil), st...)
			*sn.log = memLog{start: rd.Snapshot.Zxid}
			s.logf("n%d installs a snapshot at %#x (%d txns)", sn.id, rd.Snapshot.Zxid, len(st))
			s.checkState(sn, 0)
		}
		if s.mutant == "send-first-anywhere" && len(rd.Entries) > 0 && rd.HardState == nil && rd.Snapshot == nil && !rd.Truncate {
			// Any member's messages, a follower's ACKs included, may
			// leave before its log is durable.
			rd.SendFirst = true
		}
		if rd.SendFirst {
			// NB: a leader's proposals leave while its disk works; it may
			// die before its log is durable (as often as the mutant
			// above, which TestSimulationMutants shows is caught).
			for _, m := range rd.Messages {
				s.route(sn, m)
			}
			rd.Messages = nil
			// NB: the mutant's window (a follower's ACK before its log is
			// durable) needs more crashes in it to be caught in a few
			// seeds whatever the schedule.
			odds := 20
			if s.mutant == "send-first-anywhere" {
				odds = 4
			}
			if s.faults && s.rng.Intn(odds) == 0 {
				s.logf("n%d crashes after sending its proposals, before its log is durable", sn.id)
				s.stats.tornCrashes++
				s.crash(sn)
				return
			}
		}
		if s.mutant == "send-before-persist" && s.faults && len(rd.Entries) > 0 && s.rng.Intn(4) == 0 {
			// The acknowledgements leave, then the member dies before its
			// log is durable.
			for _, m := range rd.Messages {
				s.route(sn, m)
			}
			s.crash(sn)
			return
		}
		if rd.Truncate && s.mutant != "ignore-truncate" {
			if rd.TruncateAfter < sn.stateZxid() {
				s.fail("n%d truncated to %#x below its state %#x", sn.id, rd.TruncateAfter, sn.stateZxid())
			}
			s.logf("n%d truncates its log after %#x (was %#x)", sn.id, rd.TruncateAfter, sn.log.LastZxid())
			sn.log.truncateAfter(rd.TruncateAfter)
		}
		for _, e := range rd.Entries {
			if last := sn.log.LastZxid(); e.Zxid <= last {
				s.fail("n%d logs %#x after %#x", sn.id, e.Zxid, last)
				return
			}
			sn.log.entries = append(sn.log.entries, e)
		}
		if rd.HardState != nil && s.faults && s.rng.Intn(400) == 0 {
			s.logf("n%d crashes after its log, before its epochs", sn.id)
			s.stats.tornCrashes++
			s.crash(sn)
			return
		}
		if rd.HardState != nil && s.mutant == "forget-accepted-epoch" {
			rd.HardState.AcceptedEpoch = sn.hs.AcceptedEpoch
			rd.HardState.CurrentEpoch = min(rd.HardState.CurrentEpoch, sn.hs.AcceptedEpoch)
		}
		if rd.HardState != nil {
			old := sn.hs
			sn.hs = *rd.HardState
			if sn.hs.AcceptedEpoch < old.AcceptedEpoch || sn.hs.CurrentEpoch < old.CurrentEpoch {
				s.fail("n%d epochs went back: %+v -> %+v", sn.id, old, sn.hs)
			}
		}
		if rd.Membership != nil {
			if rd.Membership.Version < sn.conf.Version {
				s.fail("n%d activated membership %#x after %#x", sn.id, rd.Membership.Version, sn.conf.Version)
			}
			sn.conf = *rd.Membership
			s.stats.activations++
			s.logf("n%d activates membership %#x: voters %v observers %v", sn.id, sn.conf.Version, sn.conf.Voters, sn.conf.Observers)
		}
		if rd.CommitTo > sn.stateZxid() {
			s.apply(sn, rd.CommitTo)
		}
		if rd.Status != nil {
			s.onStatus(sn, *rd.Status)
		}
		s.checkEpochs(sn)
		for _, m := range rd.Messages {
			if m.Type == jute.PacketSnap && m.Vote == nil {
				m.Data = s.snapshotAt(sn, m.Zxid)
			}
			s.route(sn, m)
		}
		for _, c := range rd.Closes {
			for _, x := range s.conns {
				if (x.learner == sn.id && x.lid == c.Conn && x.leader == c.Peer) || (x.leader == sn.id && x.aid == c.Conn && x.learner == c.Peer) {
					s.kill(x, x.learner != sn.id, x.leader != sn.id)
					break
				}
			}
		}
		sn.n.Advance()
	}
}

// snapshotAt is the member's state up to zxid, for a SNAP it sends.
func (s *sim) snapshotAt(sn *simNode, zxid int64) []byte {
	var st []Entry
	for _, e := range sn.state {
		if e.Zxid <= zxid {
			st = append(st, e)
		}
	}
	if len(st) > 0 && st[len(st)-1].Zxid != zxid || len(st) == 0 && zxid != 0 {
		s.fail("n%d sends SNAP at %#x but its state is at %#x", sn.id, zxid, sn.stateZxid())
	}
	return encodeState(st)
}

// apply applies the log through zxid, checking each txn against the
// history every member applied.
func (s *sim) apply(sn *simNode, zxid int64) {
	es := sn.log.Entries(sn.stateZxid(), zxid)
	if len(es) == 0 || es[len(es)-1].Zxid != zxid {
		s.fail("n%d told to apply through %#x, its log (%#x, %#x] lacks it", sn.id, zxid, sn.log.start, sn.log.LastZxid())
		return
	}
	before := len(sn.state)
	sn.state = append(sn.state, es...)
	s.checkState(sn, before)
	s.checkMembership(sn, es)
}

// checkState checks the member's state from index i on against history:
// one must be a prefix of the other, in zxid order, without gaps.
func (s *sim) checkState(sn *simNode, i int) {
	for ; i < len(sn.state); i++ {
		e := sn.state[i]
		if i < len(s.history) {
			if h := s.history[i]; h.Zxid != e.Zxid || !bytes.Equal(h.Data, e.Data) {
				s.fail("n%d applied %#x (%s) as txn %d, others applied %#x (%s)", sn.id, e.Zxid, e.Data, i, h.Zxid, h.Data)
				return
			}
			continue
		}
		if i > 0 {
			p := s.history[i-1].Zxid
			if !(Epoch(e.Zxid) == Epoch(p) && e.Zxid == p+1) && !(Epoch(e.Zxid) > Epoch(p) && Counter(e.Zxid) == 1) {
				s.fail("n%d applied %#x after %#x: a gap", sn.id, e.Zxid, p)
				return
			}
		} else if Counter(e.Zxid) != 1 {
			s.fail("n%d applied %#x first", sn.id, e.Zxid)
			return
		}
		s.history = append(s.history, e)
	}
}

// checkMembership: a member that applies a reconfig txn runs with its
// membership (or a later one) from then on.
func (s *sim) checkMembership(sn *simNode, applied []Entry) {
	for _, e := range applied {
		if sn.conf.Version < e.Zxid && simMembership(e.Data) != nil {
			s.fail("n%d applied the reconfig %#x but its membership is %#x", sn.id, e.Zxid, sn.conf.Version)
		}
	}
}

// checkEpochs: acceptedEpoch >= currentEpoch >= epoch(last zxid) on disk,
// but for a learner in the middle of a sync, whose log may run ahead of
// currentEpoch until NEWLEADER.
func (s *sim) checkEpochs(sn *simNode) {
	hs := sn.hs
	if hs.AcceptedEpoch < hs.CurrentEpoch {
		s.fail("n%d acceptedEpoch %d < currentEpoch %d", sn.id, hs.AcceptedEpoch, hs.CurrentEpoch)
	}
	syncing := (sn.status.State == Following || sn.status.State == Observing) && !sn.status.Serving
	if !syncing && Epoch(sn.log.LastZxid()) > hs.CurrentEpoch {
		s.fail("n%d currentEpoch %d < epoch of its last zxid %#x", sn.id, hs.CurrentEpoch, sn.log.LastZxid())
	}
}

func (s *sim) onStatus(sn *simNode, st Status) {
	sn.status = st
	s.logf("n%d is %v leader=%d epoch=%d serving=%v %s (log %#x..%#x, state %#x, epochs %d/%d)", sn.id, st.State, st.Leader, st.Epoch, st.Serving, st.Why,
		sn.log.start, sn.log.LastZxid(), sn.stateZxid(), sn.hs.AcceptedEpoch, sn.hs.CurrentEpoch)
	if !st.Serving {
		return
	}
	switch st.State {
	case Leading:
		s.stats.elections++
		if l, ok := s.leaders[st.Epoch]; ok && l != sn.id {
			s.fail("epoch %d has two leaders: n%d and n%d", st.Epoch, l, sn.id)
		}
		s.leaders[st.Epoch] = sn.id
		for e := range s.leaders {
			if e > st.Epoch {
				s.fail("n%d leads epoch %d after epoch %d was led", sn.id, st.Epoch, e)
			}
		}
		if len(sn.state) < len(s.history) {
			s.fail("n%d leads epoch %d with %d txns, %d were committed", sn.id, st.Epoch, len(sn.state), len(s.history))
		}
		if c := sn.n.Membership(); !c.isVoter(sn.id) {
			s.fail("n%d leads epoch %d but is not a voter of its membership %#x %v", sn.id, st.Epoch, c.Version, c.Voters)
		}
	case Following, Observing:
		ld := s.nodes[st.Leader]
		if ld.n == nil || ld.status.State != Leading || ld.status.Epoch != st.Epoch {
			return
		}
		mine, theirs := sn.history(), ld.history()
		if len(mine) > len(theirs) {
			s.fail("n%d synced with %d txns, its leader n%d has %d", sn.id, len(mine), ld.id, len(theirs))
			return
		}
		for i := range mine {
			if mine[i].Zxid != theirs[i].Zxid {
				s.fail("n%d synced to a history that differs from leader n%d's at txn %d: %#x vs %#x", sn.id, ld.id, i, mine[i].Zxid, theirs[i].Zxid)
				return
			}
		}
	}
}

func (s *sim) crash(sn *simNode) {
	if sn.n == nil {
		return
	}
	s.stats.crashes++
	sn.n = nil
	sn.status = Status{}
	for _, c := range append([]*simConn(nil), s.conns...) {
		if c.learner == sn.id || c.leader == sn.id {
			s.kill(c, c.learner != sn.id, c.leader != sn.id)
		}
	}
}

// deliver hands out every envelope due by now, in order.
func (s *sim) deliver() {
	sort.Slice(s.queue, func(i, j int) bool {
		if s.queue[i].at != s.queue[j].at {
			return s.queue[i].at < s.queue[j].at
		}
		return s.queue[i].seq < s.queue[j].seq
	})
	n := 0
	for n < len(s.queue) && s.queue[n].at <= s.now {
		n++
	}
	due := s.queue[:n]
	s.queue = append([]*envelope(nil), s.queue[n:]...)
	for _, e := range due {
		if s.failed != "" {
			return
		}
		to := s.nodes[e.m.To]
		if to.n == nil {
			continue
		}
		switch {
		case e.disconnect:
			if e.incarnation == to.incarnation {
				to.n.Disconnected(e.m.From, e.m.Conn)
			}
		case e.conn != nil:
			if e.conn.dead {
				continue
			}
			m := e.m
			if e.toLeader {
				m.Conn = e.conn.aid
			} else {
				m.Conn = e.conn.lid
			}
			if *simTrace {
				s.logf("deliver %v", m)
			}
			if lr := to.n.ln; m.Type == jute.PacketPing && !e.toLeader && lr != nil && lr.conn == m.Conn && lr.phase != phaseBroadcast {
				// A ZooKeeper learner exits on a PING before UPTODATE.
				s.fail("n%d got a PING from its leader before UPTODATE", to.id)
				return
			}
			to.n.Step(m)
		default:
			if !s.link(e.m.From, e.m.To) {
				continue
			}
			to.n.Step(e.m)
		}
		s.stats.delivered++
		s.handleReady(to)
	}
}

// propose has an established leader propose a txn, now and then.
func (s *sim) propose() {
	for _, id := range s.ids {
		sn := s.nodes[id]
		if sn.n == nil || s.rng.Intn(3) != 0 {
			continue
		}
		z, ok := sn.n.NextZxid()
		if !ok {
			continue
		}
		if s.reconfig && s.rng.Intn(40) == 0 && s.proposeReconfig(sn, z) {
			s.handleReady(sn)
			continue
		}
		data := []byte(fmt.Sprintf("s%d-t%d-n%d", s.seed, s.now, id))
		if err := sn.n.Propose(z, data); err != nil {
			continue
		}
		s.stats.proposals++
		s.handleReady(sn)
	}
}

// inject picks faults at random.
func (s *sim) inject() {
	r := s.rng.Intn(1000)
	up := []*simNode{}
	down := []*simNode{}
	for _, id := range s.ids {
		if s.nodes[id].n != nil {
			up = append(up, s.nodes[id])
		} else {
			down = append(down, s.nodes[id])
		}
	}
	switch {
	case r < 6 && len(up) > 0:
		sn := up[s.rng.Intn(len(up))]
		s.logf("FAULT n%d crashes", sn.id)
		s.crash(sn)
	case r < 30 && len(down) > 0:
		sn := down[s.rng.Intn(len(down))]
		s.logf("FAULT n%d restarts", sn.id)
		s.start(sn)
	case r < 34 && s.part == nil:
		s.partition()
	case r < 50 && s.part != nil:
		s.logf("FAULT partition heals")
		s.part = nil
	case r < 55 && len(s.conns) > 0:
		c := s.conns[s.rng.Intn(len(s.conns))]
		s.stats.connBreaks++
		s.logf("FAULT connection n%d->n%d breaks", c.learner, c.leader)
		s.kill(c, true, true)
	case r < 75 && len(up) > 0:
		sn := up[s.rng.Intn(len(up))]
		if z := sn.stateZxid(); z > sn.log.start {
			s.stats.snapshots++
			sn.snapState = append([]Entry(nil), sn.state...)
			sn.log.compact(z)
		}
	}
}

// partition splits the members in two; connections across are cut, some
// with a reset both ends see, others silently.
func (s *sim) partition() {
	s.stats.partitions++
	s.part = map[int64]int{}
	var sides [2][]int64
	for _, id := range s.ids {
		side := s.rng.Intn(2)
		s.part[id] = side
		sides[side] = append(sides[side], id)
	}
	s.logf("FAULT partition %v | %v", sides[0], sides[1])
	for _, c := range append([]*simConn(nil), s.conns...) {
		if !s.link(c.learner, c.leader) {
			reset := s.rng.Intn(2) == 0
			s.kill(c, reset, reset)
		}
	}
}

func (s *sim) tickAll() {
	for _, id := range s.ids {
		if sn := s.nodes[id]; sn.n != nil && s.failed == "" {
			sn.n.Tick()
			s.handleReady(sn)
		}
	}
}

// run drives the members through steps ticks of faults, then heals
// everything and checks that the ensemble serves again: one leader, every
// member up to date with it, then a new txn applied everywhere.
func (s *sim) run(steps int) {
	s.faults = true
	for s.now = 1; s.now <= int64(steps) && s.failed == ""; s.now++ {
		s.inject()
		s.deliver()
		s.tickAll()
		s.propose()
	}
	s.stats.steps = steps
	if s.failed != "" {
		return
	}
	s.faults = false
	s.part = nil
	s.logf("QUIET: faults stop")
	for _, id := range s.ids {
		if s.nodes[id].n == nil {
			s.start(s.nodes[id])
		}
	}
	deadline := s.now + 2000
	var target int64
	for ; s.now < deadline && s.failed == ""; s.now++ {
		s.deliver()
		s.tickAll()
		if target != 0 && !s.allApplied(target) {
			// A txn proposed as the faults stopped may have been lost
			// with its leader: propose again under a new one.
			for _, id := range s.ids {
				if st := s.nodes[id].status; st.State == Leading && st.Serving && st.Epoch != Epoch(target) {
					target = 0
				}
			}
		}
		if target == 0 {
			for _, id := range s.ids {
				sn := s.nodes[id]
				if sn.n == nil {
					continue
				}
				if z, ok := sn.n.NextZxid(); ok && s.allServing(id) {
					if !s.allApplied(sn.stateZxid()) {
						// NB: the members serving under a leader apply
						// what it applied without a new txn to carry the
						// COMMIT (a restarted member must not serve its
						// snapshot only until the next write).
						continue
					}
					if err := sn.n.Propose(z, []byte(fmt.Sprintf("s%d-final", s.seed))); err == nil {
						target = z
						s.logf("QUIET: n%d proposes %#x", id, z)
						s.handleReady(sn)
					}
				}
			}
		} else if s.allApplied(target) {
			return
		}
	}
	if s.failed == "" {
		var b strings.Builder
		for _, id := range s.ids {
			sn := s.nodes[id]
			fmt.Fprintf(&b, " n%d:%v/serving=%v/applied=%#x", id, sn.status.State, sn.status.Serving, sn.stateZxid())
		}
		s.fail("no progress after faults stopped (target %#x):%s", target, b.String())
	}
}

// runSafely is run, with a panic of the core reported as a failure of
// the seed, with its trace.
func (s *sim) runSafely(steps int) {
	defer func() {
		if r := recover(); r != nil {
			s.fail("panic: %v\n%s", r, debug.Stack())
		}
	}()
	s.run(steps)
}

func (s *sim) allServing(leader int64) bool {
	for _, id := range s.ids {
		st := s.nodes[id].status
		if !st.Serving || (id != leader && st.Leader != leader) {
			return false
		}
	}
	return true
}

func (s *sim) allApplied(z int64) bool {
	for _, id := range s.ids {
		if s.nodes[id].stateZxid() < z {
			return false
		}
	}
	return true
}

// encodeState and decodeState carry a state in a SNAP: zxid and data
// per txn.
func encodeState(st []Entry) []byte {
	var b []byte
	for _, e := range st {
		b = strconv.AppendInt(b, e.Zxid, 16)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, string(e.Data))
		b = append(b, '\n')
	}
	return b
}

func decodeState(b []byte, st *[]Entry) error {
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		z, q, ok := strings.Cut(line, " ")
		if !ok {
			return fmt.Errorf("line %q", line)
		}
		zxid, err := strconv.ParseInt(z, 16, 64)
		if err != nil {
			return err
		}
		d, err := strconv.Unquote(q)
		if err != nil {
			return err
		}
		*st = append(*st, Entry{Zxid: zxid, Data: []byte(d)})
	}
	return nil
}

// parseSeeds reads "1-100,7".
func parseSeeds(spec string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil {
				return nil, err
			}
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}

// simShape is the ensemble a seed runs: 3 or 5 voters, sometimes with an
// observer.
func simShape(seed int64) (voters, observers int) {
	voters = 3 + 2*int(seed%2)
	observers = int(seed/2) % 2
	return
}

// TestSimulation runs the seeded simulation; a failing seed prints its
// trace and is replayed with -seeds=N -simtrace.
func TestSimulation(t *testing.T) {
	spec := *simSeeds
	if spec == "" {
		spec = os.Getenv("SIM_SEEDS")
	}
	if spec == "" {
		spec = "1-200"
	}
	seeds, err := parseSeeds(spec)
	if err != nil {
		t.Fatalf("seeds %q: %v", spec, err)
	}
	start := time.Now()
	var total simStats
	failures := 0
	for _, seed := range seeds {
		v, o := simShape(seed)
		s := newSim(t, seed, v, o)
		s.runSafely(*simSteps)
		st := s.stats
		total.steps += st.steps
		total.delivered += st.delivered
		total.dropped += st.dropped
		total.crashes += st.crashes
		total.tornCrashes += st.tornCrashes
		total.partitions += st.partitions
		total.connBreaks += st.connBreaks
		total.snapshots += st.snapshots
		total.proposals += st.proposals
		total.elections += st.elections
		total.reconfigs += st.reconfigs
		total.activations += st.activations
		if s.failed != "" {
			failures++
			t.Errorf("seed %d (%d voters, %d observers): %s\nlast events:\n%s\nreplay: go test ./quorum -run TestSimulation -seeds=%d -simtrace",
				seed, v, o, s.failed, strings.Join(s.trace[max(0, len(s.trace)-80):], "\n"), seed)
			if failures >= 3 {
				break
			}
		}
	}
	t.Logf("simulation: %d seeds, %d failed, %d ticks, %d messages delivered, %d dropped, %d crashes (%d torn), %d partitions, %d connection breaks, %d snapshots, %d proposals, %d leaders established, %d reconfigs proposed, %d activated, %v",
		len(seeds), failures, total.steps, total.delivered, total.dropped, total.crashes, total.tornCrashes, total.partitions, total.connBreaks, total.snapshots, total.proposals, total.elections, total.reconfigs, total.activations, time.Since(start).Round(time.Millisecond))
}

// TestSimulationMutants shows that the simulation's invariants can fail:
// each mutant breaks what the caller of the core must do (persist before
// sending, persist the epochs, truncate when told, keep what it synced),
// and some seed must catch it, each run as long as TestSimulation's (the
// send-first mutant needs the longer runs: at 1500 ticks its first
// catching seed went from 666 to past 1300 as the traces changed).
func TestSimulationMutants(t *testing.T) {
	for _, mutant := range []string{"send-before-persist", "send-first-anywhere", "forget-accepted-epoch", "ignore-truncate", "lose-log-tail"} {
		t.Run(mutant, func(t *testing.T) {
			for seed := int64(1); seed <= 1000; seed++ {
				v, o := simShape(seed)
				// NB: the mutants break the Ready contract, which
				// membership changes do not touch: their seeds run as
				// before reconfig existed.
				s := newSimOf(t, seed, v, o, false)
				s.mutant = mutant
				// NB: twice a seed's usual run: a mutant's window needs a
				// crash to fall in it, and longer runs find one in fewer
				// seeds (send-first-anywhere took seed 744 of 1000 at 1500
				// ticks, 210 at 3000; the whole test a quarter of the time).
				s.runSafely(3000)
				if s.failed != "" {
					t.Logf("seed %d caught it: %s", seed, firstLine(s.failed))
					return
				}
			}
			t.Errorf("no seed in 1-1000 caught the mutant %q", mutant)
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestSimulationNamedSeeds replays the seeds that found bugs.
func TestSimulationNamedSeeds(t *testing.T) {
	for _, c := range []struct {
		seed int64
		what string
	}{
		{1, "a leader's SNAP sent only the snapshot when its log object was replaced (harness), and map order made runs differ"},
		{1628, "a txn proposed as faults stopped was lost with its leader; the quiet phase must propose again"},
		{1888, "a voter that accepted an epoch of a failed discovery could never follow the established leader of a lower epoch"},
	} {
		v, o := simShape(c.seed)
		s := newSim(t, c.seed, v, o)
		s.runSafely(*simSteps)
		if s.failed != "" {
			t.Errorf("seed %d (%s): %s\n%s", c.seed, c.what, s.failed, strings.Join(s.trace[max(0, len(s.trace)-60):], "\n"))
		}
	}
}
