package admin

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
)

// Version is what gokeeper reports where ZooKeeper reports its version.
// It leads with the ZooKeeper release whose protocol it speaks, because
// tools parse that prefix.
const Version = "3.8.0-gokeeper"

// BuildDate is printed after Version as ZooKeeper prints its build date
// ("3.8.0-gokeeper, built on 2026-01-02 15:04 UTC"); set it with
// -ldflags "-X github.com/gokeeper/gokeeper/admin.BuildDate=...". Left
// empty, the executable's modification time stands in for it.
var BuildDate = ""

// buildDate is BuildDate or the executable's modification time, in
// ZooKeeper's "yyyy-MM-dd HH:mm UTC" format.
var buildDate = sync.OnceValue(func() string {
	if BuildDate != "" {
		return BuildDate
	}
	t := time.Unix(0, 0)
	if exe, err := os.Executable(); err == nil {
		if info, err := os.Stat(exe); err == nil {
			t = info.ModTime()
		}
	}
	return t.UTC().Format("2006-01-02 15:04") + " UTC"
})

// FullVersion returns Version with its build date, ZooKeeper's
// Version.getFullVersion.
func FullVersion() string { return Version + ", built on " + buildDate() }

// DefaultSlowRequestThreshold is how long a request may take before it
// is logged as slow, unless slowRequestThresholdMs (zoo.cfg or
// -Dzookeeper.slowRequestThresholdMs) says otherwise.
const DefaultSlowRequestThreshold = 1000 * time.Millisecond

// Connections is the client port as the admin sees it; *wire.Listener
// implements it.
type Connections interface {
	// ConnectionCount returns the number of open connections.
	ConnectionCount() int
	// Connections returns each open connection's statistics.
	Connections() []wire.ConnectionInfo
	// ResetConnectionStats clears every connection's statistics.
	ResetConnectionStats()
	// SetRequestObserver installs the function told about every reply.
	SetRequestObserver(wire.RequestObserver)
	// Stats returns the port's statistics: outstanding_tls_handshake
	// (its counters are in the server's metrics registry too).
	Stats() *wire.ListenerStats
}

// Admin answers ZooKeeper's operator interfaces for one server: the
// four-letter words, the AdminServer commands and the metrics. Every
// interface reads the same values, so mntr, /commands/monitor and
// /metrics agree.
type Admin struct {
	srv   *server.Server
	conns Connections
	log   zerolog.Logger

	// ConfigPath is the zoo.cfg the server started from, for the
	// initial_configuration command; set it before serving.
	ConfigPath string

	// slowThreshold is the latency past which a request is logged.
	slowThreshold time.Duration
	// traceMask is ZooTrace's text trace level (gtmk/stmk); gokeeper keeps
	// it for compatibility, it selects nothing.
	traceMask atomic.Int64

	readLatency   *metrics.Summary // readlatency: reads and pings, ms
	updateLatency *metrics.Summary // updatelatency: writes, ms
	authFailed    atomic.Int64
	resp          metrics.BufferStats // client_response_stats

	// snapshotErrors and snapshotLimited count the snapshot command's
	// failures and refusals (snapshot_error_count,
	// snapshot_rate_limited_count).
	snapshotErrors, snapshotLimited *metrics.Counter
	// counters and summaries are the ServerMetrics gokeeper prints, in
	// ZooKeeper's order (metrics.go).
	counters  []*metrics.Counter
	summaries []*metrics.Summary

	snap struct {
		sync.Mutex
		last time.Time // when the snapshot command last ran
	}
}

// New returns the admin for srv, whose client port is conns, and starts
// observing the port's replies.
func New(srv *server.Server, conns Connections, log zerolog.Logger) *Admin {
	reg := srv.Metrics()
	a := &Admin{
		srv:             srv,
		conns:           conns,
		log:             log,
		slowThreshold:   slowRequestThreshold(srv.Config()),
		readLatency:     reg.Summary("readlatency", metrics.Advanced),
		updateLatency:   reg.Summary("updatelatency", metrics.Advanced),
		snapshotErrors:  reg.Counter("snapshot_error_count"),
		snapshotLimited: reg.Counter("snapshot_rate_limited_count"),
	}
	a.counters, a.summaries = exportedMetrics(reg)
	a.traceMask.Store(defaultTraceMask)
	conns.SetRequestObserver(a.observe)
	return a
}

// defaultTraceMask is ZooTrace's default text trace level (306: client
// requests, client pings, server packets... as ZooKeeper prints it).
const defaultTraceMask = 306

func slowRequestThreshold(cfg server.Config) time.Duration {
	for _, k := range []string{"slowRequestThresholdMs", "zookeeper.slowRequestThresholdMs"} {
		if v, ok := cfg.SystemProperties[k]; ok {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	return DefaultSlowRequestThreshold
}

// observe is the client port's RequestObserver: it feeds the latency and
// response-size summaries, counts auth failures and logs slow requests.
func (a *Admin) observe(op jute.OpCode, session int64, xid int32, zxid int64, code jute.Code, latency time.Duration, size int) {
	ms := latency.Milliseconds()
	if op != jute.OpAuth {
		if server.IsWrite(op) {
			a.updateLatency.Add(ms)
		} else {
			a.readLatency.Add(ms)
		}
	} else if code == jute.CodeAuthFailed {
		a.authFailed.Add(1)
	}
	a.resp.Set(int64(size))
	if a.slowThreshold > 0 && latency >= a.slowThreshold { // NB: 0 turns the log off
		a.log.Warn().Str("op", op.String()).Str("session", hex(session)).Int32("xid", xid).
			Str("zxid", hex(zxid)).Int32("err", int32(code)).Dur("latency", latency).
			Dur("threshold", a.slowThreshold).Msg("slow request")
	}
}

// resetServerStats is ZooKeeper's ServerStats.reset (srst,
// /commands/stat_reset): packet counters, latencies, response sizes and,
// as ZooKeeper's default metrics provider resets them, every metric's
// reading in mntr (Prometheus's counters go on: they never go down).
func (a *Admin) resetServerStats() {
	a.srv.Stats.Reset()
	a.resp.Reset()
	a.srv.Metrics().Reset()
}

// serverState is the mode srvr/mntr report: standalone, leader,
// follower, observer (server.Server.Mode), or "" while an ensemble
// member does not serve. A server whose txn log failed serves reads
// only, and says "read-only" as ZooKeeper's ReadOnlyZooKeeperServer does.
func (a *Admin) serverState() string {
	if a.srv.ReadOnly() {
		return "read-only"
	}
	return a.srv.Mode()
}

// metricKind is how a value is exported to Prometheus.
type metricKind int

const (
	kindGauge metricKind = iota
	kindCounter
	kindInfo // a string: mntr and monitor only
)

// monitorValue is one value of ZooKeeper's dumpMonitorValues or of the
// metrics provider's dump, named without mntr's "zk_" prefix.
type monitorValue struct {
	name string
	kind metricKind
	// val is a string, int64 or float64; nil for a gauge that has no
	// value in this state, which mntr leaves out and Prometheus exports
	// as 0, as ZooKeeper's providers do with a null gauge.
	val any
	// total is a counter's count since start, for Prometheus.
	total int64
}

// monitorValues returns what mntr prints before the summaries, in
// ZooKeeper 3.8's order: dumpMonitorValues's strings, the gauges this
// member has (metrics.go's zkGauges), then the counters.
func (a *Admin) monitorValues() []monitorValue {
	s := a.srv
	out := []monitorValue{
		{name: "version", kind: kindInfo, val: FullVersion()},
		{name: "server_state", kind: kindInfo, val: a.serverState()},
	}
	gauges := a.gauges()
	qs, quorum := s.QuorumStats()
	if quorum {
		out = append(out, monitorValue{name: "peer_state", kind: kindInfo, val: qs.PeerState})
		if qs.ObserverMasterID != 0 {
			out = append(out, monitorValue{name: "observer_master_id", kind: kindInfo, val: qs.ObserverMasterID})
		}
		gauges["quorum_size"] = int64(qs.QuorumSize)
		switch {
		case qs.Leader != nil:
			l := qs.Leader
			gauges["learners"] = int64(l.Learners)
			gauges["synced_followers"] = int64(l.SyncedFollowers)
			// NB: gokeeper has no non-voting followers (ZooKeeper's come
			// from reconfig).
			gauges["synced_non_voting_followers"] = int64(0)
			gauges["synced_observers"] = int64(l.SyncedObservers)
			gauges["pending_syncs"] = int64(l.PendingSyncs)
			gauges["leader_uptime"] = l.Uptime.Milliseconds()
			gauges["last_proposal_size"] = l.LastProposalSize
			gauges["min_proposal_size"] = l.MinProposalSize
			gauges["max_proposal_size"] = l.MaxProposalSize
		case s.Mode() == "follower":
			// NB: a follower registers synced_observers for the observers
			// of its ObserverMaster, which gokeeper lacks: null, as
			// ZooKeeper's is without one.
			gauges["synced_observers"] = nil
		}
	}
	for _, name := range zkGauges {
		if v, ok := gauges[name]; ok {
			out = append(out, monitorValue{name: name, kind: kindGauge, val: v})
		}
	}
	for _, c := range a.counters {
		out = append(out, monitorValue{name: c.Name(), kind: kindCounter, val: c.Get(), total: c.Total()})
	}
	return out
}

// gauges returns the gauges every server has (ZooKeeperServer's
// registerMetrics), by name.
func (a *Admin) gauges() map[string]any {
	s := a.srv
	t := s.Tree()
	minL, avgL, maxL := s.Stats.Latency()
	open, maxFD := fileDescriptors()
	last, minR, maxR := a.resp.Get()
	return map[string]any{
		"ephemerals_count":            int64(t.EphemeralCount()),
		"num_alive_connections":       int64(a.conns.ConnectionCount()),
		"avg_latency":                 avgL,
		"outstanding_requests":        int64(s.OutstandingRequests()),
		"znode_count":                 int64(t.NodeCount()),
		"global_sessions":             int64(s.SessionCount()),
		"non_mtls_remote_conn_count":  int64(0),
		"last_client_response_size":   last,
		"packets_sent":                s.Stats.PacketsSent.Load(),
		"packets_received":            s.Stats.PacketsReceived.Load(),
		"max_client_response_size":    maxR,
		"connection_drop_probability": 0.0,
		"watch_count":                 int64(t.WatchCount()),
		"auth_failed_count":           a.authFailed.Load() + s.Stats.AuthFailed.Load(),
		"min_latency":                 int64(minL),
		"max_file_descriptor_count":   maxFD,
		"approximate_data_size":       t.ApproximateDataSize(),
		"open_file_descriptor_count":  open,
		"local_sessions":              int64(s.LocalSessionCount()),
		"uptime":                      s.Uptime().Milliseconds(),
		"max_latency":                 maxL,
		"outstanding_tls_handshake":   a.conns.Stats().OutstandingTLSHandshakes.Load(),
		"min_client_response_size":    minR,
		"non_mtls_local_conn_count":   int64(0),
	}
}

// runtimeValues are the Go runtime's equivalents of ZooKeeper's JVM
// values, which mntr prints last (doc.go); Prometheus gets the Go
// collector's own go_* metrics instead.
func runtimeValues() []monitorValue {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return []monitorValue{
		{name: "go_goroutines", kind: kindGauge, val: int64(runtime.NumGoroutine())},
		{name: "go_heap_alloc_bytes", kind: kindGauge, val: int64(ms.HeapAlloc)},
		{name: "go_heap_sys_bytes", kind: kindGauge, val: int64(ms.HeapSys)},
		{name: "go_gc_cycles", kind: kindCounter, val: int64(ms.NumGC)},
		{name: "go_gc_pause_total_ms", kind: kindCounter, val: int64(ms.PauseTotalNs / 1e6)},
	}
}

// monitor returns the monitor command's values as one object: what mntr
// prints (without "zk_") and /commands/monitor returns.
func (a *Admin) monitor() object {
	var o object
	for _, v := range a.monitorValues() {
		if v.val != nil {
			o.put(v.name, v.val)
		}
	}
	for _, s := range a.summaries {
		dumpSummary(&o, s)
	}
	for _, v := range runtimeValues() {
		o.put(v.name, v.val)
	}
	return o
}

// fileDescriptors returns the process's open and maximum file
// descriptors, as ZooKeeper's UnixOperatingSystemMXBean reports them.
func fileDescriptors() (open, max int64) {
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = int64(len(ents))
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		max = int64(lim.Cur)
	}
	return open, max
}

func hex(v int64) string { return "0x" + strconv.FormatUint(uint64(v), 16) }
