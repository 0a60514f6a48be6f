package quorum

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/gokeeper/gokeeper/jute"
)

// Errors returned by Node.Propose.
var (
	// ErrNotLeader: the node is not an established leader.
	ErrNotLeader = errors.New("quorum: not the established leader")
	// ErrZxidOrder: the zxid given is not the next one of this epoch.
	ErrZxidOrder = errors.New("quorum: zxid is not the next of this epoch")
)

// PeerState is a member's role, numbered as ZooKeeper's ServerState is in
// election notifications.
type PeerState int32

// The roles.
const (
	Looking   PeerState = 0
	Following PeerState = 1
	Leading   PeerState = 2
	Observing PeerState = 3
)

func (s PeerState) String() string {
	switch s {
	case Looking:
		return "LOOKING"
	case Following:
		return "FOLLOWING"
	case Leading:
		return "LEADING"
	case Observing:
		return "OBSERVING"
	}
	return fmt.Sprintf("PeerState(%d)", int32(s))
}

// Epoch returns the epoch a zxid carries: its high 32 bits.
func Epoch(zxid int64) int64 { return zxid >> 32 }

// Counter returns a zxid's counter within its epoch: its low 32 bits.
func Counter(zxid int64) int64 { return zxid & 0xffffffff }

// Zxid makes the zxid of counter c in epoch e.
func Zxid(e, c int64) int64 { return e<<32 | c }

// maxCounter is the last counter of an epoch; a leader that reaches it
// gives up leadership so that the next epoch starts over (ZOOKEEPER-1277).
const maxCounter = math.MaxUint32

// Config is one member's view of the ensemble and its timing. Every
// duration is counted in ticks of the caller's clock (Node.Tick).
type Config struct {
	// ID is this member's myid.
	ID int64
	// Voters are the participants' ids; Observers the observers': the
	// member's last activated membership (its dynamic config). ID need
	// not be in either: a member left out of the ensemble (or not yet
	// added) follows as a non-voting follower, as ZooKeeper's does.
	Voters, Observers []int64
	// Version is that membership's version: the zxid of the reconfig txn
	// that made it, or of the NEWLEADER of the leader that versioned the
	// static config (ZOOKEEPER-1783); 0 for the static config.
	Version int64
	// Reconfig, if set, tells which logged txns are reconfigs: it returns
	// the membership a txn's data makes, or nil for any other txn. The
	// core counts a logged reconfig's membership alongside the active one
	// (a quorum of each) until it commits, then activates it.
	Reconfig func(data []byte) *Membership
	// InitLimit bounds each discovery and sync phase, and how long a
	// learner may stay silent while it syncs (ZooKeeper's initLimit).
	InitLimit int
	// SyncLimit is how long a learner in broadcast may stay silent before
	// the leader stops counting it, and how long a learner waits for its
	// leader (ZooKeeper's syncLimit).
	SyncLimit int
	// PingInterval is how often the leader pings its learners (tickTime/2).
	PingInterval int
	// FinalizeWait is how long an election that reached a quorum waits for
	// a better vote before it decides (ZooKeeper: 200 ms).
	FinalizeWait int
	// MinNotifyInterval and MaxNotifyInterval bound the resend interval of
	// a looking member's vote; it doubles each time nothing decides
	// (ZooKeeper: 200 ms to 60 s).
	MinNotifyInterval, MaxNotifyInterval int
	// MaxDiff is how many txns behind a learner may be and still be
	// synced by DIFF; one further behind gets a SNAP (0: no limit).
	// ZooKeeper sends a SNAP once the txns to send outweigh a third of
	// the snapshot (snapshotSizeFactor); a count keeps the core free of
	// sizes.
	MaxDiff int64
	// ConfigText is the caller's text of that membership (its Text),
	// which NEWLEADER and notifications carry.
	ConfigText []byte
	// Logf, if set, is told of events that are not status changes (a
	// learner dropped, a sync mode chosen).
	Logf func(format string, args ...any)
}

// Validate reports a config the core cannot run with.
func (c Config) Validate() error {
	if c.InitLimit <= 0 || c.SyncLimit <= 0 || c.PingInterval <= 0 || c.FinalizeWait <= 0 ||
		c.MinNotifyInterval <= 0 || c.MaxNotifyInterval < c.MinNotifyInterval {
		return fmt.Errorf("quorum: every limit and interval must be positive: %+v", c)
	}
	if len(c.Voters) == 0 {
		return fmt.Errorf("quorum: no voters")
	}
	return nil
}

// Membership is one configuration of the ensemble: who votes, who
// observes, and its version (Config.Version). Text is the caller's rendering of it (the
// config text of /zookeeper/config), which the core carries in NEWLEADER
// and in election notifications but never reads.
type Membership struct {
	Version           int64
	Voters, Observers []int64
	Text              []byte
}

func (m *Membership) isVoter(id int64) bool    { return contains(m.Voters, id) }
func (m *Membership) isObserver(id int64) bool { return contains(m.Observers, id) }

// quorum reports whether the ids in set are a majority of the voters.
func (m *Membership) quorum(set map[int64]bool) bool {
	n := 0
	for _, v := range m.Voters {
		if set[v] {
			n++
		}
	}
	return n > len(m.Voters)/2
}

// ackedByQuorum returns the highest zxid that a majority of m's voters
// acknowledged, given each member's highest acknowledged zxid; 0 if none.
func (m *Membership) ackedByQuorum(acked map[int64]int64) int64 {
	var zs []int64
	for _, v := range m.Voters {
		if z, ok := acked[v]; ok {
			zs = append(zs, z)
		}
	}
	need := len(m.Voters)/2 + 1
	if len(zs) < need {
		return 0
	}
	sort.Slice(zs, func(i, j int) bool { return zs[i] > zs[j] })
	return zs[need-1]
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// Entry is one logged txn: its zxid and the bytes of the txn (TxnHeader,
// txn record, TxnDigest) that the core carries but never reads.
type Entry struct {
	Zxid int64
	Data []byte
}

// Log is the txn log as the core reads it. The caller writes it, as
// Ready says, before it calls Advance; the core never writes it.
type Log interface {
	// StartZxid is the zxid up to which history lives only in the state
	// (a snapshot): every txn after it is in the log. 0 for a full log.
	StartZxid() int64
	// LastZxid is the zxid of the last logged txn, or StartZxid.
	LastZxid() int64
	// Entries returns the logged txns with after < zxid <= upTo, in
	// order. after is at least StartZxid.
	Entries(after, upTo int64) []Entry
}

// Vote is an election notification's vote: the candidate (Leader) with its
// last zxid and epoch, the sender's state and its election round.
type Vote struct {
	State         PeerState
	Leader        int64
	Zxid          int64
	ElectionEpoch int64
	PeerEpoch     int64
	// Config is the sender's active membership (the notification's config
	// text); a looking member adopts a newer one, as ZooKeeper's does.
	Config *Membership
}

// Message is what members send each other: an election notification
// (Vote non-nil) or a quorum packet (Type, Zxid, Data) on a learner's
// connection to its leader.
type Message struct {
	From, To int64
	// Conn names the learner connection a quorum packet travels on. A
	// learner numbers the connections it dials with the top bit set; the
	// caller numbers the connections its leader accepts below it. A
	// packet from a connection the receiver does not know is dropped, and
	// so is one sent on a connection that was closed.
	Conn uint64
	Vote *Vote
	Type jute.PacketType
	Zxid int64
	// Epoch is ACKEPOCH's current epoch (-1: already accepted).
	Epoch int64
	// Designated is the leader that COMMITANDACTIVATE and
	// INFORMANDACTIVATE name for the new membership.
	Designated int64
	// Config is NEWLEADER's membership: the leader's active one.
	Config *Membership
	// Data is the txn of PROPOSAL and INFORM, the config of NEWLEADER and,
	// for SNAP, the snapshot: the core leaves it empty on a leader's SNAP
	// and the caller puts in the state at Zxid.
	Data []byte
}

// dialBit marks the connections a learner dials.
const dialBit = uint64(1) << 63

func (m Message) String() string {
	if m.Vote != nil {
		v := m.Vote
		return fmt.Sprintf("%d->%d vote{%v leader=%d zxid=%#x round=%d epoch=%d}", m.From, m.To, v.State, v.Leader, v.Zxid, v.ElectionEpoch, v.PeerEpoch)
	}
	return fmt.Sprintf("%d->%d c%x %v zxid=%#x epoch=%d len=%d", m.From, m.To, m.Conn&^dialBit, m.Type, m.Zxid, m.Epoch, len(m.Data))
}

// HardState is what a member must persist: ZooKeeper's acceptedEpoch and
// currentEpoch files.
type HardState struct {
	AcceptedEpoch, CurrentEpoch int64
}

// Snapshot is state received from a leader (SNAP): it replaces the
// member's state and log.
type Snapshot struct {
	Zxid int64
	Data []byte
}

// ConnRef names a connection to close.
type ConnRef struct {
	Peer int64
	Conn uint64
}

// Status is what the member is doing, for operators and the server.
type Status struct {
	State PeerState
	// Leader is the member led or followed (0 while looking).
	Leader int64
	// Epoch is the epoch being led or followed.
	Epoch int64
	// Serving is true once the member serves clients: an established
	// leader, or a learner that received UPTODATE.
	Serving bool
	// Why says why the member last started looking.
	Why string
}

// Ready is what a step produced. The caller handles it in this order:
// install Snapshot, truncate the log after TruncateAfter (when Truncate),
// append Entries, persist HardState; only then send Messages and close
// Closes; then apply the log's txns up to CommitTo; then call Advance.
// When SendFirst is set, Messages may be sent before Entries are
// persisted instead: they are an established leader's proposals and
// commits, which do not depend on its own log being durable (its own
// acknowledgement counts only at Advance), so its disk and its
// followers' work at the same time, as ZooKeeper's leader does.
type Ready struct {
	SendFirst     bool
	Snapshot      *Snapshot
	Truncate      bool
	TruncateAfter int64
	Entries       []Entry
	HardState     *HardState
	Messages      []Message
	Closes        []ConnRef
	// Membership, when set, is a membership that became active (its
	// reconfig txn committed, or a leader told it): the caller persists it
	// (the dynamic config file) before it applies CommitTo, and starts a
	// restarted member with it.
	Membership *Membership
	// CommitTo, when above the state's zxid, is how far to apply.
	CommitTo int64
	// Status is set when the status changed.
	Status *Status
}

// Empty reports whether there is nothing to do.
func (r *Ready) Empty() bool {
	return r.Snapshot == nil && !r.Truncate && len(r.Entries) == 0 && r.HardState == nil && r.Membership == nil &&
		len(r.Messages) == 0 && len(r.Closes) == 0 && r.CommitTo == 0 && r.Status == nil
}
