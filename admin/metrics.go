package admin

import "github.com/gokeeper/gokeeper/internal/metrics"

// The order of what mntr and /commands/monitor print is ZooKeeper's:
// ZooKeeper's DefaultMetricsProvider dumps its gauges, then its
// counters, then its summaries, each from a ConcurrentHashMap, so the
// order is the maps', fixed for a given set of names. Tools that diff
// mntr output see the same order from gokeeper.

// zkGauges are the gauges ZooKeeper registers, in the order a 3.8
// leader's mntr dumps them (testdata/zk/4lw/mntr_leader.txt): a
// standalone server's and a follower's are this order less the gauges
// they lack (the map's table has 64 buckets for either set, so the
// shared names keep their places).
var zkGauges = []string{
	"ephemerals_count", "num_alive_connections", "avg_latency", "min_proposal_size",
	"outstanding_requests", "znode_count", "global_sessions", "non_mtls_remote_conn_count",
	"last_client_response_size", "packets_sent", "packets_received", "max_proposal_size",
	"max_client_response_size", "synced_followers", "connection_drop_probability", "watch_count",
	"synced_non_voting_followers", "synced_observers", "auth_failed_count", "min_latency",
	"max_file_descriptor_count", "approximate_data_size", "open_file_descriptor_count",
	"last_proposal_size", "pending_syncs", "leader_uptime", "local_sessions", "uptime",
	"max_latency", "outstanding_tls_handshake", "learners", "min_client_response_size",
	"non_mtls_local_conn_count", "quorum_size",
}

// zkMetric is one of ZooKeeper's ServerMetrics counters or summaries.
type zkMetric struct {
	name string
	// counter, or a summary at level.
	counter bool
	level   metrics.Level
	// exported: gokeeper measures it and prints it. The others are named
	// in doc.go with the reason they mean nothing here.
	exported bool
}

func counter(name string, exported bool) zkMetric {
	return zkMetric{name: name, counter: true, exported: exported}
}

func basic(name string, exported bool) zkMetric {
	return zkMetric{name: name, level: metrics.Basic, exported: exported}
}

func advanced(name string, exported bool) zkMetric {
	return zkMetric{name: name, level: metrics.Advanced, exported: exported}
}

// Whether a metric is exported, named for the table below.
const (
	yes = true
	no  = false
)

// zkMetrics are ZooKeeper's ServerMetrics counters and summaries, in the
// order ZooKeeper 3.8's mntr dumps them (testdata/zk/4lw/mntr.txt), then
// those 3.9 added. Its summary sets (one summary per key) are not here:
// doc.go names them.
var zkMetrics = []zkMetric{
	counter("proposal_count", yes),
	counter("watch_bytes", yes),
	counter("outstanding_changes_removed", yes),
	counter("throttled_ops", no),
	counter("stale_requests_dropped", no),
	counter("large_requests_rejected", no),
	counter("insecure_admin_count", no),
	counter("connection_rejected", yes),
	counter("cnxn_closed_without_zk_server_running", yes),
	counter("sessionless_connections_expired", yes),
	counter("looking_count", yes),
	counter("dead_watchers_queued", no),
	counter("stale_requests", no),
	counter("connection_drop_count", yes),
	counter("learner_proposal_received_count", yes),
	counter("digest_mismatches_count", yes),
	counter("dead_watchers_cleared", no),
	counter("response_packet_cache_hits", no),
	counter("bytes_received_count", yes),
	counter("add_dead_watcher_stall_time", no),
	counter("request_throttle_wait_count", no),
	counter("requests_not_forwarded_to_commit_processor", no),
	counter("response_packet_cache_misses", no),
	counter("ensemble_auth_success", no),
	counter("prep_processor_request_queued", yes),
	counter("learner_commit_received_count", yes),
	counter("stale_replies", no),
	counter("connection_request_count", yes),
	counter("response_bytes", yes),
	counter("ensemble_auth_fail", no),
	counter("diff_count", yes),
	counter("response_packet_get_children_cache_misses", no),
	counter("connection_revalidate_count", yes),
	counter("quit_leading_due_to_disloyal_voter", no),
	counter("snap_count", yes),
	counter("unrecoverable_error_count", yes),
	counter("unsuccessful_handshake", yes),
	counter("commit_count", yes),
	counter("stale_sessions_expired", yes),
	counter("response_packet_get_children_cache_hits", no),
	counter("sync_processor_request_queued", yes),
	counter("outstanding_changes_queued", yes),
	counter("request_commit_queued", no),
	counter("ensemble_auth_skip", no),
	counter("skip_learner_request_to_next_processor_count", no),
	counter("tls_handshake_exceeded", yes),
	counter("revalidate_count", yes),
	// ZooKeeper 3.9's, for its snapshot and restore commands.
	counter("snapshot_error_count", yes),
	counter("snapshot_rate_limited_count", yes),
	counter("restore_error_count", no),
	counter("restore_rate_limited_count", no),

	basic("socket_closing_time", no),
	basic("proposal_process_time", no),
	basic("leader_unavailable_time", yes),
	basic("node_created_watch_count", yes),
	basic("session_queues_drained", no),
	basic("write_commit_proc_req_queued", no),
	basic("connection_token_deficit", no),
	basic("read_commit_proc_req_queued", no),
	basic("node_deleted_watch_count", yes),
	basic("startup_txns_load_time", yes),
	basic("sync_processor_queue_size", yes),
	basic("follower_sync_time", yes),
	basic("prep_processor_queue_size", yes),
	basic("fsynctime", yes),
	basic("inflight_snap_count", no),
	basic("reads_issued_from_session_queue", no),
	basic("learner_request_processor_queue_size", no),
	basic("snapshottime", yes),
	basic("unavailable_time", yes),
	basic("startup_txns_loaded", yes),
	basic("reads_after_write_in_session_queue", no),
	basic("requests_in_session_queue", no),
	basic("write_commit_proc_issued", no),
	basic("prep_process_time", yes),
	basic("pending_session_queue_size", no),
	basic("time_waiting_empty_pool_in_commit_processor_read_ms", no),
	basic("commit_process_time", no),
	basic("dbinittime", yes),
	basic("inflight_diff_count", no),
	basic("netty_queued_buffer_capacity", no),
	basic("election_time", yes),
	basic("commit_commit_proc_req_queued", no),
	basic("sync_processor_batch_size", yes),
	basic("node_children_watch_count", yes),
	basic("write_batch_time_in_commit_processor", no),
	basic("read_commit_proc_issued", no),
	basic("concurrent_request_processing_in_commit_processor", no),
	basic("observer_sync_time", yes),
	basic("node_changed_watch_count", yes),
	basic("sync_process_time", yes),
	basic("startup_snap_load_time", yes),
	advanced("prep_processor_queue_time_ms", yes),
	advanced("jvm_pause_time_ms", no),
	advanced("close_session_prep_time", yes),
	advanced("read_commitproc_time_ms", no),
	advanced("updatelatency", yes),
	advanced("local_write_committed_time_ms", no),
	advanced("request_throttle_queue_time_ms", no),
	advanced("readlatency", yes),
	advanced("quorum_ack_latency", yes),
	advanced("om_commit_process_time_ms", no),
	advanced("read_final_proc_time_ms", no),
	advanced("commit_propagation_latency", yes),
	advanced("dead_watchers_cleaner_latency", no),
	advanced("write_final_proc_time_ms", no),
	advanced("proposal_ack_creation_latency", yes),
	advanced("proposal_latency", yes),
	advanced("om_proposal_process_time_ms", no),
	advanced("sync_processor_queue_and_flush_time_ms", yes),
	advanced("propagation_latency", yes),
	advanced("server_write_committed_time_ms", no),
	advanced("sync_processor_queue_time_ms", yes),
	advanced("sync_processor_queue_flush_time_ms", yes),
	advanced("write_commitproc_time_ms", no),
	// ZooKeeper 3.9's, for its restore command.
	basic("restore_time", no),
}

// exportedMetrics are the counters and summaries of zkMetrics that
// gokeeper prints, in order, as they are registered in reg (made there
// if no layer records them in this mode: a standalone server prints
// election_time at zero, as ZooKeeper does).
func exportedMetrics(reg *metrics.Registry) (counters []*metrics.Counter, summaries []*metrics.Summary) {
	for _, m := range zkMetrics {
		switch {
		case !m.exported:
		case m.counter:
			counters = append(counters, reg.Counter(m.name))
		default:
			summaries = append(summaries, reg.Summary(m.name, m.level))
		}
	}
	return counters, summaries
}
