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
// latency summaries), so mntr, /commands/monitor and /metrics agree.
// The golden outputs of Apache ZooKeeper 3.8.0 are in testdata/zk,
// captured by testdata/capture.py; the tests compare gokeeper's answers
// with them structurally (keys, order, value types, line shapes).
//
// # mntr and /metrics
//
// gokeeper prints these ZooKeeper keys with the same meaning, measured:
// version, server_state, ephemerals_count, num_alive_connections,
// avg_latency, outstanding_requests, znode_count, global_sessions,
// last_client_response_size, packets_sent, packets_received,
// max_client_response_size, connection_drop_probability, watch_count,
// auth_failed_count, min_latency, max_file_descriptor_count,
// approximate_data_size, open_file_descriptor_count, local_sessions,
// uptime, max_latency, min_client_response_size, bytes_received_count,
// unsuccessful_handshake, connection_rejected, outstanding_tls_handshake,
// tls_handshake_exceeded (both of the secure client port), and the
// summaries updatelatency and
// readlatency (avg_, min_, max_, cnt_, sum_, p50_, p95_, p99_, p999_;
// on /metrics a summary with quantiles 0.5, 0.9 and 0.99).
// Some are constant because gokeeper lacks the feature they count:
// local_sessions (no local sessions), connection_drop_probability (no
// probabilistic load shedding), non_mtls_remote_conn_count and
// non_mtls_local_conn_count (ZooKeeper counts them only on a port that
// may be TLS; gokeeper does not count them yet). auth_failed_count counts
// failed auth packets, failed TLS handshakes, refused client
// certificates and failed SASL exchanges, as ZooKeeper does.
//
// Left out, because gokeeper has no such part, are the keys of
// ZooKeeper's ServerMetrics that count the internals of its request
// processor pipeline, its NIO/Netty layer, its quorum and its JVM:
//
//   - quorum and learners (meaningless for a standalone server; the
//     quorum package will add them): proposal_count, looking_count,
//     learner_proposal_received_count, learner_commit_received_count,
//     quit_leading_due_to_disloyal_voter, diff_count, snap_count,
//     commit_count, ensemble_auth_success, ensemble_auth_fail,
//     ensemble_auth_skip, skip_learner_request_to_next_processor_count,
//     proposal_process_time, leader_unavailable_time, follower_sync_time,
//     observer_sync_time, election_time, quorum_ack_latency,
//     commit_propagation_latency, propagation_latency, proposal_latency,
//     proposal_ack_creation_latency, om_commit_process_time_ms,
//     om_proposal_process_time_ms, inflight_snap_count,
//     inflight_diff_count, learner_request_processor_queue_size,
//     unavailable_time, requests_not_forwarded_to_commit_processor;
//   - the request processor pipeline (gokeeper has one write path, prep
//     -> log -> apply, and no commit processor or session queues):
//     prep_processor_request_queued, prep_processor_queue_size,
//     prep_processor_queue_time_ms, prep_process_time,
//     sync_processor_request_queued, sync_processor_queue_size,
//     sync_processor_batch_size, sync_processor_queue_time_ms,
//     sync_processor_queue_flush_time_ms,
//     sync_processor_queue_and_flush_time_ms, sync_process_time,
//     request_commit_queued, commit_process_time,
//     read_commit_proc_req_queued, write_commit_proc_req_queued,
//     commit_commit_proc_req_queued, read_commit_proc_issued,
//     write_commit_proc_issued, read_commitproc_time_ms,
//     write_commitproc_time_ms, local_write_committed_time_ms,
//     server_write_committed_time_ms, read_final_proc_time_ms,
//     write_final_proc_time_ms, write_batch_time_in_commit_processor,
//     concurrent_request_processing_in_commit_processor,
//     time_waiting_empty_pool_in_commit_processor_read_ms,
//     session_queues_drained, reads_issued_from_session_queue,
//     reads_after_write_in_session_queue, requests_in_session_queue,
//     pending_session_queue_size, outstanding_changes_queued,
//     outstanding_changes_removed, stale_requests, stale_requests_dropped,
//     stale_replies, stale_sessions_expired, close_session_prep_time,
//     request_throttle_wait_count, request_throttle_queue_time_ms,
//     throttled_ops, large_requests_rejected, digest_mismatches_count;
//   - the connection layer's internals: response_packet_cache_hits,
//     response_packet_cache_misses,
//     response_packet_get_children_cache_hits,
//     response_packet_get_children_cache_misses, response_bytes,
//     connection_request_count, connection_revalidate_count,
//     revalidate_count, connection_drop_count,
//     connection_token_deficit, sessionless_connections_expired,
//     cnxn_closed_without_zk_server_running, socket_closing_time,
//     netty_queued_buffer_capacity, insecure_admin_count;
//   - watch bookkeeping ZooKeeper does lazily and gokeeper does not:
//     watch_bytes, dead_watchers_queued, dead_watchers_cleared,
//     dead_watchers_cleaner_latency, add_dead_watcher_stall_time,
//     node_created_watch_count, node_deleted_watch_count,
//     node_changed_watch_count, node_children_watch_count;
//   - persistence timings, which the persistence package measures and
//     logs (fsync.warningthresholdms) but does not export yet: fsynctime,
//     snapshottime, dbinittime, startup_txns_load_time,
//     startup_txns_loaded, startup_snap_load_time,
//     unrecoverable_error_count;
//   - per-namespace accounting (zookeeper.metricsProvider namespaces):
//     app_read_per_namespace, app_write_per_namespace;
//   - the JVM: jvm_pause_time_ms. Its Go equivalents are printed under
//     their own names: go_goroutines, go_heap_alloc_bytes,
//     go_heap_sys_bytes, go_gc_cycles and go_gc_pause_total_ms (mntr
//     prints them as zk_go_*); /metrics exports the Go client's go_* and
//     process_* metrics instead of ZooKeeper's jvm_* ones.
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
//   - hash and /commands/hash are empty: gokeeper keeps no digest log.
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
