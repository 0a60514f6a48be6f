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
	// Stats returns the port-wide counters.
	Stats() *wire.ListenerStats
	// SetRequestObserver installs the function told about every reply.
	SetRequestObserver(wire.RequestObserver)
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

	readLatency   *summary // readlatency: reads and pings, ms
	updateLatency *summary // updatelatency: writes, ms
	authFailed    atomic.Int64

	resp struct {
		sync.Mutex
		last, min, max int64 // client_response_stats; -1 before any
	}

	snap struct {
		sync.Mutex
		last time.Time // when the snapshot command last ran
	}
}

// New returns the admin for srv, whose client port is conns, and starts
// observing the port's replies.
func New(srv *server.Server, conns Connections, log zerolog.Logger) *Admin {
	a := &Admin{
		srv:           srv,
		conns:         conns,
		log:           log,
		slowThreshold: slowRequestThreshold(srv.Config()),
		readLatency:   newSummary("readlatency", true),
		updateLatency: newSummary("updatelatency", true),
	}
	a.traceMask.Store(defaultTraceMask)
	a.resetResponseStats()
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
			a.updateLatency.add(ms)
		} else {
			a.readLatency.add(ms)
		}
	} else if code == jute.CodeAuthFailed {
		a.authFailed.Add(1)
	}
	a.resp.Lock()
	a.resp.last = int64(size)
	if a.resp.min < 0 || int64(size) < a.resp.min {
		a.resp.min = int64(size)
	}
	a.resp.max = max(a.resp.max, int64(size))
	a.resp.Unlock()
	if a.slowThreshold > 0 && latency >= a.slowThreshold { // NB: 0 turns the log off
		a.log.Warn().Str("op", op.String()).Str("session", hex(session)).Int32("xid", xid).
			Str("zxid", hex(zxid)).Int32("err", int32(code)).Dur("latency", latency).
			Dur("threshold", a.slowThreshold).Msg("slow request")
	}
}

func (a *Admin) resetResponseStats() {
	a.resp.Lock()
	a.resp.last, a.resp.min, a.resp.max = -1, -1, -1
	a.resp.Unlock()
}

func (a *Admin) responseStats() (last, min, max int64) {
	a.resp.Lock()
	defer a.resp.Unlock()
	return a.resp.last, a.resp.min, a.resp.max
}

// resetServerStats is ZooKeeper's ServerStats.reset (srst,
// /commands/stat_reset): packet counters, latencies and response sizes.
func (a *Admin) resetServerStats() {
	a.srv.Stats.Reset()
	a.resetResponseStats()
}

// serverState is the mode srvr/mntr report. A standalone server is the
// only kind package server runs today; the quorum will fill in leader,
// follower and observer. A server whose txn log failed serves reads
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

// monitorValue is one value of ZooKeeper's dumpMonitorValues plus the
// metrics provider's dump, named without mntr's "zk_" prefix.
type monitorValue struct {
	name string
	kind metricKind
	val  any // string, int64 or float64
}

// monitorValues returns every value mntr prints, in ZooKeeper 3.8's order
// for the keys it shares with ZooKeeper, then gokeeper's Go runtime
// values; the latency summaries are appended by the callers that print
// them (see summaries).
func (a *Admin) monitorValues() []monitorValue {
	s := a.srv
	t := s.Tree()
	minL, avgL, maxL := s.Stats.Latency()
	open, maxFD := fileDescriptors()
	last, minR, maxR := a.responseStats()
	ls := a.conns.Stats()
	conns := int64(a.conns.ConnectionCount())
	g := func(name string, v any) monitorValue { return monitorValue{name, kindGauge, v} }
	c := func(name string, v int64) monitorValue { return monitorValue{name, kindCounter, v} }
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return []monitorValue{
		{"version", kindInfo, FullVersion()},
		{"server_state", kindInfo, a.serverState()},
		g("ephemerals_count", int64(t.EphemeralCount())),
		g("num_alive_connections", conns),
		g("avg_latency", avgL),
		g("outstanding_requests", int64(s.OutstandingRequests())),
		g("znode_count", int64(t.NodeCount())),
		g("global_sessions", int64(s.SessionCount())),
		g("non_mtls_remote_conn_count", int64(0)),
		g("last_client_response_size", last),
		g("packets_sent", s.Stats.PacketsSent.Load()),
		g("packets_received", s.Stats.PacketsReceived.Load()),
		g("max_client_response_size", maxR),
		g("connection_drop_probability", 0.0),
		g("watch_count", int64(t.WatchCount())),
		g("auth_failed_count", a.authFailed.Load()+s.Stats.AuthFailed.Load()),
		g("min_latency", int64(minL)),
		g("max_file_descriptor_count", maxFD),
		g("approximate_data_size", t.ApproximateDataSize()),
		g("open_file_descriptor_count", open),
		g("local_sessions", int64(0)),
		g("uptime", s.Uptime().Milliseconds()),
		g("max_latency", maxL),
		g("outstanding_tls_handshake", ls.OutstandingTLSHandshakes.Load()),
		g("min_client_response_size", minR),
		g("non_mtls_local_conn_count", int64(0)),
		c("connection_rejected", ls.ConnectionRejected.Load()),
		c("bytes_received_count", ls.BytesReceived.Load()),
		c("unsuccessful_handshake", ls.UnsuccessfulHandshakes.Load()),
		c("tls_handshake_exceeded", ls.TLSHandshakeExceeded.Load()),
		// Go runtime equivalents of ZooKeeper's JVM values (see doc.go).
		g("go_goroutines", int64(runtime.NumGoroutine())),
		g("go_heap_alloc_bytes", int64(ms.HeapAlloc)),
		g("go_heap_sys_bytes", int64(ms.HeapSys)),
		c("go_gc_cycles", int64(ms.NumGC)),
		c("go_gc_pause_total_ms", int64(ms.PauseTotalNs/1e6)),
	}
}

// summaries are the latency summaries, in ZooKeeper's dump order.
func (a *Admin) summaries() []*summary { return []*summary{a.updateLatency, a.readLatency} }

// monitor returns the monitor command's values as one object: what mntr
// prints (without "zk_") and /commands/monitor returns.
func (a *Admin) monitor() object {
	var o object
	for _, v := range a.monitorValues() {
		o.put(v.name, v.val)
	}
	for _, s := range a.summaries() {
		s.dump(&o)
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
