// Package admin answers ZooKeeper's operator interfaces for a gokeeper
// server, in ZooKeeper 3.8's formats so that the tools built for
// ZooKeeper work unchanged:
//
//   - the four-letter words on the client port (FourLetter.Answer):
//     conf, cons, crst, dirs, dump, envi, gtmk, stmk, ruok, srst, srvr,
//     stat, wchc, wchp, wchs, mntr, isro, hash, honouring
//     4lw.commands.whitelist (srvr always allowed; a refused word gets
//     "<word> is not executed because it is not in the whitelist.");
//   - the AdminServer (Admin.AdminHandler, ListenAdminServer): the
//     commandURL lists the commands, commandURL/<name or alias> runs one
//     and answers JSON laid out as Jackson's pretty printer lays it out,
//     ending with "command" and "error";
//   - Prometheus (Admin.MetricsHandler, ListenMetrics) when
//     metricsProvider.className is ZooKeeper's PrometheusMetricsProvider
//     class or "prometheus".
//
// Every interface reads one set of values (Admin.monitorValues and the
// summaries), so mntr, /commands/monitor and /metrics agree.
// The golden outputs of Apache ZooKeeper 3.8.0 are in testdata/zk,
// captured by testdata/capture.py; the tests compare gokeeper's answers
// with them structurally (keys, order, value types, line shapes).
//
// # mntr and /metrics
//
// mntr, /commands/monitor and /metrics carry ZooKeeper's metrics under
// ZooKeeper's names, measured (metrics.go lists them, in ZooKeeper's
// order; internal/metrics holds the counters and summaries, which every
// layer records into):
//
//   - what ZooKeeper's dumpMonitorValues prints: version, server_state
//     (standalone, leader, follower, observer, read-only) and, in an
//     ensemble, peer_state ("leading - broadcast", "following -
//     synchronization - diff", "looking") and an observer's
//     observer_master_id;
//   - the gauges of ZooKeeperServer, and in an ensemble quorum_size;
//     on the leader learners, synced_followers, synced_observers,
//     synced_non_voting_followers (always 0: gokeeper has no
//     non-voting followers, which ZooKeeper's reconfig makes),
//     pending_syncs (learners' syncs waiting for the proposals before
//     them), leader_uptime and last_, min_ and max_proposal_size;
//     outstanding_tls_handshake of the secure client port;
//     local_sessions, the member's local sessions; auth_failed_count,
//     failed auth packets, TLS handshakes and SASL exchanges and refused
//     client certificates, as ZooKeeper counts them. Constant:
//     connection_drop_probability (no probabilistic load shedding),
//     non_mtls_remote_conn_count and non_mtls_local_conn_count (not
//     counted yet);
//   - every ServerMetrics counter and summary that has a meaning here,
//     counted where gokeeper does the same work: the client port
//     (bytes_received_count, response_bytes, watch_bytes,
//     connection_request_count, connection_revalidate_count,
//     connection_rejected, connection_drop_count, unsuccessful_handshake,
//     tls_handshake_exceeded, sessionless_connections_expired
//     (connections silent past the handshake or session timeout),
//     cnxn_closed_without_zk_server_running (ConnectRequests refused
//     while the member does not serve),
//     readlatency, updatelatency), the prep stage (prep_processor_*,
//     prep_process_time, close_session_prep_time,
//     outstanding_changes_queued and _removed), the txn log
//     (sync_processor_*, sync_process_time, fsynctime (a commit's write
//     and sync), snapshottime), applying (propagation_latency, the
//     node_*_watch_count summaries), sessions (stale_sessions_expired:
//     global sessions the leader expires, local ones any member does),
//     start (dbinittime, startup_snap_load_time, startup_txns_load_time,
//     startup_txns_loaded), failures (unrecoverable_error_count: the txn
//     log or the quorum state could not be made durable), the snapshot
//     command (snapshot_error_count, snapshot_rate_limited_count) and the
//     quorum (election_time, looking_count, unavailable_time,
//     leader_unavailable_time, follower_sync_time, observer_sync_time,
//     diff_count (DIFF and TRUNC, as ZooKeeper counts them), snap_count,
//     revalidate_count (learners' REVALIDATEs of reconnecting sessions),
//     proposal_count, commit_count, quorum_ack_latency,
//     proposal_ack_creation_latency, learner_proposal_received_count,
//     learner_commit_received_count, proposal_latency,
//     commit_propagation_latency). A member prints every one of them in
//     every mode, at zero where it does not apply, as ZooKeeper does.
//
// mntr prints a summary as avg_, min_, max_, cnt_ and sum_ and, for
// ZooKeeper's advanced ones, p50_, p95_, p99_ and p999_ (over the latest
// 1028 values); srst starts them and the counters over, as ZooKeeper's
// default metrics provider does. /metrics exports them as ZooKeeper's
// Prometheus provider (simpleclient 0.9) does: gauges as gauges,
// counters as counters under their own names (no _total), summaries
// with quantile 0.5 (advanced: 0.5, 0.9 and 0.99; over the same latest
// values, where ZooKeeper's client keeps ten minutes), _sum and _count.
// Counters and summary counts there never go down, as ZooKeeper's do
// not: srst leaves them alone. So the alert rules of ZooKeeper's
// monitoring guide (testdata/zk/alert-rules.yml) work unchanged, but for
// the JVM's.
//
// A stage that takes its queue as a batch records a queue size once per
// batch, with every request waiting (prep_processor_queue_size,
// sync_processor_queue_size), where ZooKeeper records one per request
// taken; times are per request, as ZooKeeper's.
//
// # Not exported
//
// These of ZooKeeper's metrics are not printed, because what they count
// does not exist in gokeeper:
//
//   - its request throttler (zookeeper.request_throttle_max_requests,
//     throttledOpWaitTime; gokeeper's globalOutstandingLimit stops
//     reading a connection instead) and its large-request limit
//     (largeRequestMaxBytes): throttled_ops, stale_requests,
//     stale_requests_dropped, stale_replies,
//     request_throttle_wait_count, request_throttle_queue_time_ms,
//     large_requests_rejected;
//   - its CommitProcessor and the session queues in it (gokeeper has
//     one write path, prep -> log -> apply, and answers reads in session
//     order without a commit stage): request_commit_queued,
//     commit_process_time, read_commit_proc_req_queued,
//     write_commit_proc_req_queued, commit_commit_proc_req_queued,
//     read_commit_proc_issued, write_commit_proc_issued,
//     read_commitproc_time_ms, write_commitproc_time_ms,
//     local_write_committed_time_ms, server_write_committed_time_ms,
//     read_final_proc_time_ms, write_final_proc_time_ms,
//     write_batch_time_in_commit_processor,
//     concurrent_request_processing_in_commit_processor,
//     time_waiting_empty_pool_in_commit_processor_read_ms,
//     session_queues_drained, reads_issued_from_session_queue,
//     reads_after_write_in_session_queue, requests_in_session_queue,
//     pending_session_queue_size, requests_not_forwarded_to_commit_processor,
//     skip_learner_request_to_next_processor_count, proposal_process_time
//     (the hand-over from prep to the proposal processor);
//   - its Java quorum internals: the learner handler's packet queue
//     (learner_handler_qp_size, learner_handler_qp_time_ms), the
//     follower's request processor queue
//     (learner_request_processor_queue_size; a follower forwards a write
//     as it arrives), the learner sync throttle (inflight_snap_count,
//     inflight_diff_count), the epoch wait that quits leading on a
//     disloyal voter
//     (quit_leading_due_to_disloyal_voter), the ObserverMaster
//     (om_proposal_process_time_ms, om_commit_process_time_ms), the
//     learner's socket close timing (socket_closing_time), ensemble
//     authentication (ensemble_auth_success, ensemble_auth_fail,
//     ensemble_auth_skip) and the per-follower ACK latency summary set
//     (ack_latency);
//   - its connection layer: the response cache (response_packet_cache_hits,
//     response_packet_cache_misses,
//     response_packet_get_children_cache_hits,
//     response_packet_get_children_cache_misses), the connection
//     throttle (connection_token_deficit), Netty
//     (netty_queued_buffer_capacity) and the AdminServer's port
//     unification (insecure_admin_count);
//   - watch bookkeeping ZooKeeper does lazily and gokeeper does at once
//     (a closed connection's watches are removed as it closes):
//     dead_watchers_queued, dead_watchers_cleared,
//     dead_watchers_cleaner_latency, add_dead_watcher_stall_time;
//   - ZooKeeper 3.9's restore command: restore_time,
//     restore_error_count, restore_rate_limited_count;
//   - per-namespace accounting, whose summary sets, gauge sets and
//     counter sets (one value per top-level znode) gokeeper does not keep
//     yet: read_per_namespace, write_per_namespace,
//     quota_count_limit_per_namespace, quota_bytes_limit_per_namespace,
//     quota_count_usage_per_namespace, quota_bytes_usage_per_namespace,
//     quota_exceeded_error_per_namespace;
//   - the JVM: jvm_pause_time_ms. Its Go equivalents are printed under
//     their own names: go_goroutines, go_heap_alloc_bytes,
//     go_heap_sys_bytes, go_gc_cycles and go_gc_pause_total_ms (mntr
//     prints them as zk_go_*, last); /metrics exports the Go client's
//     go_* and process_* metrics instead of ZooKeeper's jvm_* ones.
//
// # JVM-only output elsewhere
//
// envi and /commands/environment keep ZooKeeper's keys zookeeper.version,
// host.name, os.name, os.arch, os.version, user.name, user.home,
// user.dir, os.memory.free, os.memory.max and os.memory.total (the Go
// heap: idle bytes, the memory limit or bytes obtained from the OS, bytes
// obtained from the OS), and replace java.version, java.vendor,
// java.home, java.class.path, java.library.path, java.io.tmpdir and
// java.compiler by go.version, go.compiler, go.executable, go.maxprocs
// and os.tmpdir. system_properties lists the zoo.cfg keys gokeeper passed
// through as "zookeeper.<key>" and the environment above.
//
// # Other differences from ZooKeeper 3.8
//
//   - stmk over the client port answers nothing (the client port hands
//     only the word over, not the 8-byte mask after it); set the mask
//     with /commands/set_trace_mask?traceMask=N. The mask selects
//     nothing in gokeeper.
//   - snapshot is ZooKeeper 3.9's command (3.8 has none): it needs an
//     Authorization header ("digest user:password", or "ip") whose ids
//     have every permission on "/" (401 "Auth info is missing for the
//     command" / "Not authenticated", 403 "Not authorized"), runs at most
//     once per admin.rateLimiterIntervalInMS (429), and streams the
//     snapshot file unless streaming=false, with the last_zxid and
//     snapshot_size headers.
//   - dump's connection section groups connections by when they would
//     time out (last response plus the session timeout), where
//     ZooKeeper's NIO layer keeps its own expiry queue.
//   - leader, voting_view, zabstate and observers answer as a standalone
//     ZooKeeper does until the quorum arrives.
//
// A request slower than slowRequestThresholdMs (a gokeeper zoo.cfg key,
// default 1000; 0 turns it off) is logged as one Warn line "slow
// request" with op, session, xid, zxid, err and latency. zoo.cfg loading
// reports the key as unknown (it passes unknown keys through as system
// properties), but the admin reads it from there.
package admin
