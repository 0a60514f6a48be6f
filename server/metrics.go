package server

import (
	"time"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/quorum"
	"github.com/gokeeper/gokeeper/quorum/peer"
)

// serverMetrics are the ZooKeeper metrics the server's own stages
// measure; the store and the quorum peer record theirs in the same
// registry (Server.Metrics). Times are in milliseconds, as ZooKeeper's.
type serverMetrics struct {
	// The prep stage (ZooKeeper's PrepRequestProcessor): writes queued
	// for it, how many wait each time it takes its queue (it takes up to
	// prepBatch at once), how long each waited, and how long each took
	// to prepare (closeSessions, which collect the session's ephemerals,
	// also on their own).
	prepQueued           *metrics.Counter // prep_processor_request_queued
	prepQueueSize        *metrics.Summary // prep_processor_queue_size
	prepQueueTime        *metrics.Summary // prep_processor_queue_time_ms
	prepProcessTime      *metrics.Summary // prep_process_time
	closeSessionPrepTime *metrics.Summary // close_session_prep_time

	// propagation_latency: from a txn's creation on the leader (its
	// header's time) to its application here, every member.
	propagationLatency *metrics.Summary
	// commit_propagation_latency: the same, on a learner, for txns it
	// learns are committed (ZooKeeper's FollowerZooKeeperServer.commit).
	commitPropagationLatency *metrics.Summary

	// The watchers each triggered watch reached, by event type (ZooKeeper
	// records the size of each WatchManager.triggerWatch).
	nodeCreatedWatch  *metrics.Summary // node_created_watch_count
	nodeDeletedWatch  *metrics.Summary // node_deleted_watch_count
	nodeChangedWatch  *metrics.Summary // node_changed_watch_count
	nodeChildrenWatch *metrics.Summary // node_children_watch_count

	staleSessionsExpired *metrics.Counter // stale_sessions_expired: sessions a tracker expired (global or local)
	connectionRequests   *metrics.Counter // connection_request_count: ConnectRequests handled
	connectionRevalidate *metrics.Counter // connection_revalidate_count: reconnects to a session
	// cnxn_closed_without_zk_server_running: ConnectRequests refused
	// because this member was not serving (electing, syncing).
	closedNotServing *metrics.Counter
	// unrecoverable_error_count: the txn log failed (the server then
	// serves reads only, as ZooKeeper's critical threads stop it).
	unrecoverable *metrics.Counter
	// digest_mismatches_count: applied txns whose TxnDigest differs
	// from the tree's digest after them (DataTree.compareDigest).
	digestMismatches *metrics.Counter

	// Start: the state loaded (snapshot and log), the snapshot, the log
	// replayed after it and how many txns that was.
	dbInitTime    *metrics.Summary // dbinittime
	snapLoadTime  *metrics.Summary // startup_snap_load_time
	txnsLoadTime  *metrics.Summary // startup_txns_load_time
	txnsLoaded    *metrics.Summary // startup_txns_loaded
	changesQueued *metrics.Counter // outstanding_changes_queued
	changesGone   *metrics.Counter // outstanding_changes_removed
}

func newServerMetrics(r *metrics.Registry) serverMetrics {
	return serverMetrics{
		prepQueued:               r.Counter("prep_processor_request_queued"),
		prepQueueSize:            r.Summary("prep_processor_queue_size", metrics.Basic),
		prepQueueTime:            r.Summary("prep_processor_queue_time_ms", metrics.Advanced),
		prepProcessTime:          r.Summary("prep_process_time", metrics.Basic),
		closeSessionPrepTime:     r.Summary("close_session_prep_time", metrics.Advanced),
		propagationLatency:       r.Summary("propagation_latency", metrics.Advanced),
		commitPropagationLatency: r.Summary("commit_propagation_latency", metrics.Advanced),
		nodeCreatedWatch:         r.Summary("node_created_watch_count", metrics.Basic),
		nodeDeletedWatch:         r.Summary("node_deleted_watch_count", metrics.Basic),
		nodeChangedWatch:         r.Summary("node_changed_watch_count", metrics.Basic),
		nodeChildrenWatch:        r.Summary("node_children_watch_count", metrics.Basic),
		staleSessionsExpired:     r.Counter("stale_sessions_expired"),
		connectionRequests:       r.Counter("connection_request_count"),
		connectionRevalidate:     r.Counter("connection_revalidate_count"),
		closedNotServing:         r.Counter("cnxn_closed_without_zk_server_running"),
		unrecoverable:            r.Counter("unrecoverable_error_count"),
		digestMismatches:         r.Counter("digest_mismatches_count"),
		dbInitTime:               r.Summary("dbinittime", metrics.Basic),
		snapLoadTime:             r.Summary("startup_snap_load_time", metrics.Basic),
		txnsLoadTime:             r.Summary("startup_txns_load_time", metrics.Basic),
		txnsLoaded:               r.Summary("startup_txns_loaded", metrics.Basic),
		changesQueued:            r.Counter("outstanding_changes_queued"),
		changesGone:              r.Counter("outstanding_changes_removed"),
	}
}

// Metrics returns the registry the server, its store and its quorum peer
// record ZooKeeper's metrics in.
func (s *Server) Metrics() *metrics.Registry { return s.metrics }

// watchesFired records, per watch triggered by one txn, how many
// watchers it reached. A trigger's events are consecutive in evs (one
// path, one type); the ACL check that may keep an event from its
// watcher comes after, as in ZooKeeper, which counts before it checks.
func (m *serverMetrics) watchesFired(evs []datatree.Event) {
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].Type == evs[i].Type && evs[j].Path == evs[i].Path {
			j++
		}
		var sum *metrics.Summary
		switch evs[i].Type {
		case jute.EventNodeCreated:
			sum = m.nodeCreatedWatch
		case jute.EventNodeDeleted:
			sum = m.nodeDeletedWatch
		case jute.EventNodeDataChanged:
			sum = m.nodeChangedWatch
		case jute.EventNodeChildrenChanged:
			sum = m.nodeChildrenWatch
		}
		sum.Add(int64(j - i))
		i = j
	}
}

// latencyMs is the time from a txn's creation (its header's wall-clock
// time, set by the member that prepared it) to now, or -1 when the
// clocks disagree (ZooKeeper drops negative latencies too).
func latencyMs(nowMs, txnTime int64) int64 {
	if d := nowMs - txnTime; d >= 0 {
		return d
	}
	return -1
}

// addLatency records a non-negative latency.
func addLatency(s *metrics.Summary, ms int64) {
	if ms >= 0 {
		s.Add(ms)
	}
}

// msSince returns the milliseconds from start to end on the sinceStart
// clock.
func msSince(start, end time.Duration) int64 { return (end - start).Milliseconds() }

// QuorumStats is what mntr reports of an ensemble member besides the
// metrics: ZooKeeper's QuorumZooKeeperServer, LeaderZooKeeperServer and
// ObserverZooKeeperServer values.
type QuorumStats struct {
	// PeerState is zk_peer_state ("following - broadcast").
	PeerState string
	// QuorumSize is the number of voting members (quorum_size).
	QuorumSize int
	// Leader holds the leader's gauges; nil unless this member is the
	// serving leader.
	Leader *peer.LeaderStats
	// ObserverMasterID is the member an observer learns from
	// (observer_master_id); 0 unless this member observes.
	ObserverMasterID int64
}

// QuorumStats returns the member's quorum values; ok is false on a
// standalone server.
func (s *Server) QuorumStats() (QuorumStats, bool) {
	if s.ens == nil {
		return QuorumStats{}, false
	}
	qs := QuorumStats{PeerState: s.ens.peer.DetailedState(), QuorumSize: len(s.cfg.Voters())}
	if ls, ok := s.ens.peer.LeaderStats(); ok {
		qs.Leader = &ls
	}
	if st := s.ens.status(); st.State == quorum.Observing && st.Serving {
		qs.ObserverMasterID = st.Leader
	}
	return qs, true
}

// LocalSessionCount returns the number of this member's local sessions
// (localSessionsEnabled, read-only mode): ZooKeeper's local_sessions.
func (s *Server) LocalSessionCount() int {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.smu.local.count()
}
