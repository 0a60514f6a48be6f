// Package quorum is ZooKeeper's ensemble protocol as a pure state machine:
// Fast Leader Election and ZAB (discovery, sync, broadcast) for leaders,
// followers and observers, with no sockets, no clock, no goroutines and
// no randomness. A Node takes messages (Step), lost connections
// (Disconnected) and ticks (Tick); what it wants done comes out of Ready,
// in the spirit of etcd's raft:
//
//	for {
//	    select {
//	    case m := <-recv:        node.Step(m)
//	    case <-ticker.C:         node.Tick()
//	    }
//	    for node.HasReady() {
//	        rd := node.Ready()
//	        install rd.Snapshot; truncate after rd.TruncateAfter; append rd.Entries;
//	        persist rd.HardState (acceptedEpoch, currentEpoch)   // durable first
//	        apply the log through rd.CommitTo
//	        send rd.Messages; close rd.Closes                    // then talk
//	        node.Advance()
//	    }
//	}
//
// Because messages leave only after what came before them is durable, a
// follower's ACK follows its fsync, ACKEPOCH follows acceptedEpoch, and
// the NEWLEADER ACK follows the synced txns and currentEpoch
// (ZOOKEEPER-3911, -4785). The core reads the log through the Log
// interface and never writes it.
//
// # Messages
//
// Election notifications (Message.Vote) travel as datagrams may: lost,
// repeated, reordered; a looking member resends its vote. Quorum packets
// (Message.Type, ZooKeeper's QuorumPacket types) travel on a learner's
// connection to its leader, which is FIFO and lossless until it breaks
// (Message.Conn names it; Disconnected ends it). The caller turns both
// into ZooKeeper's bytes.
//
// # Roles
//
//	LOOKING    election.go  notifications, votes compared on (epoch, zxid, id),
//	                        a quorum then FinalizeWait ticks without a better vote;
//	                        a member joining a running ensemble follows a quorum
//	                        of FOLLOWING/LEADING votes (outofelection)
//	LEADING    leader.go    FOLLOWERINFO quorum -> new epoch (acceptedEpoch),
//	                        LEADERINFO; ACKEPOCH quorum (a learner ahead of the
//	                        leader is refused) -> currentEpoch; each learner
//	                        DIFF/TRUNC/SNAP + txns + NEWLEADER; NEWLEADER ACK
//	                        quorum -> established: history committed, UPTODATE,
//	                        then PROPOSAL / ACK quorum / COMMIT (INFORM to observers)
//	FOLLOWING  learner.go   the learner's side of each step; txns are applied
//	OBSERVING               only once committed and only after UPTODATE
//
// # What the state holds
//
// A member's state (the data tree above) holds only committed txns: a
// restarted member restores its last snapshot and tells New its zxid; the
// logged txns after it are applied once a leader says they are part of the
// history (COMMIT, or UPTODATE for txns of earlier epochs). So TRUNC never
// cuts below the state, and a SNAP replaces both state and log.
//
// # Membership
//
// The membership is data (Membership: voters, observers, version). A
// member starts with its last activated one (Config); Config.Reconfig
// tells which logged txns are reconfigs. From the moment a reconfig txn
// is logged until it commits, every quorum (votes of a new leader,
// discovery, sync, commits, the leader's live followers) must be a quorum
// of the active membership and of the new one, as ZooKeeper's proposals
// carry both verifiers. A reconfig activates where it commits: the leader
// sends COMMITANDACTIVATE (INFORMANDACTIVATE to observers) naming the
// leader of the new membership (itself if it still votes), and Ready
// carries the membership for the caller to persist. A leader left out,
// and learners whose leader or role changed, hand over to the designated
// leader without an election (ZooKeeper's reconfigFlag); its discovery
// still needs a quorum of the new membership. Members outside the
// membership follow without a vote, as ZooKeeper's do: that is how a new
// member syncs before a reconfig adds it. NEWLEADER and election
// notifications carry the sender's active membership, which a member
// that missed the activation adopts. With reconfig on, a leader gives the
// static membership (version 0) its NEWLEADER zxid as version, activated
// when it establishes (ZOOKEEPER-1783).
//
// # Simulation
//
// sim_test.go drives 3 or 5 voters (and sometimes an observer) from a seed
// through message loss, duplication and delay, connection breaks,
// partitions, crashes (some in the middle of persisting a Ready) and
// restarts, and checks after every step: one established leader per epoch
// and epochs that only grow; acceptedEpoch >= currentEpoch >= epoch of the
// last logged zxid (but for a learner mid-sync); every member's state a
// prefix of one history, in zxid order without gaps; a new leader holding
// every txn ever applied; a synced learner's log a prefix of its leader's;
// nothing but LEADERINFO reaches a learner before its DIFF, TRUNC or SNAP
// (ZooKeeper's learner exits on anything else).
// Then the faults stop and the ensemble must elect a leader and apply a
// new txn everywhere. Every third seed adds a spare member and has
// leaders propose reconfigs that add and remove voters (the leader
// included) under the same faults; a member that applied a reconfig must
// run its membership, and a leader must vote in its own.
// `make sim SEEDS=1-10000`; a failing seed prints its
// last events and replays with -seeds=N -simtrace.
package quorum
