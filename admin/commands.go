package admin

import (
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/wire"
)

// opAbbrev is the last-operation abbreviation ZooKeeper's
// FinalRequestProcessor records per op (cons' lop, last_operation).
var opAbbrev = map[jute.OpCode]string{
	jute.OpPing: "PING", jute.OpCreateSession: "SESS", jute.OpMulti: "MULT",
	jute.OpMultiRead: "MLTR", jute.OpCreate: "CREA", jute.OpCreate2: "CREA",
	jute.OpCreateTTL: "CREA", jute.OpCreateContainer: "CREA", jute.OpDelete: "DELE",
	jute.OpDeleteContainer: "DELE", jute.OpSetData: "SETD", jute.OpReconfig: "RECO",
	jute.OpSetACL: "SETA", jute.OpCloseSession: "CLOS", jute.OpSync: "SYNC",
	jute.OpCheck: "CHEC", jute.OpExists: "EXIS", jute.OpGetData: "GETD",
	jute.OpSetWatches: "SETW", jute.OpSetWatches2: "STW2", jute.OpAddWatch: "ADDW",
	jute.OpGetACL: "GETA", jute.OpGetChildren: "GETC", jute.OpGetChildren2: "GETC",
	jute.OpGetAllChildrenNumber: "GETACN", jute.OpCheckWatches: "CHKW",
	jute.OpRemoveWatches: "REMW", jute.OpWhoAmI: "HOMI", jute.OpGetEphemerals: "GETE",
	jute.OpAuth: "AUTH",
}

// authRequest is the permission a command needs on a znode, ZooKeeper
// 3.9's AuthRequest.
type authRequest struct {
	perm int32
	path string
}

// command is one AdminServer command, ZooKeeper's Command: its names
// (the primary name first, then aliases), whether it needs a running
// server, the auth it needs, and what it does.
type command struct {
	names          []string
	serverRequired bool
	auth           *authRequest
	run            func(a *Admin, args map[string]string) response
}

// response is a command's answer: the JSON object (which ends with
// "command" and "error", as ZooKeeper's CommandResponse.toMap), the HTTP
// status, extra headers and, for a streamed snapshot, a file to send
// instead of the JSON.
type response struct {
	body    object
	err     any // nil or a string
	status  int
	headers map[string]string
	file    string
}

// toMap returns the JSON object the AdminServer sends: the command's
// fields, then "command" and "error" unless the command set them.
func (r *response) toMap(name string) object {
	o := slices.Clone(r.body)
	if _, ok := o.get("command"); !ok {
		o.put("command", name)
	}
	if _, ok := o.get("error"); !ok {
		o.put("error", r.err)
	}
	return o
}

func ok(o object) response { return response{body: o, status: 200} }

// commands lists every command gokeeper serves, as ZooKeeper registers
// them in Commands' static block.
var commands = []*command{
	{names: []string{"connection_stat_reset", "crst"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		a.conns.ResetConnectionStats()
		return ok(nil)
	}},
	{names: []string{"configuration", "conf", "config"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		cfg := a.srv.Config()
		var o object
		o.put("client_port", int64(cfg.ClientPort))
		o.put("data_dir", absDir(cfg.DataDir))
		o.put("data_log_dir", absDir(cfg.EffectiveDataLogDir()))
		o.put("tick_time", int64(cfg.TickTime))
		o.put("max_client_cnxns", int64(cfg.MaxClientCnxns))
		o.put("min_session_timeout", int64(cfg.EffectiveMinSessionTimeout()))
		o.put("max_session_timeout", int64(cfg.EffectiveMaxSessionTimeout()))
		id := cfg.ServerID
		if id < 0 {
			id = 0
		}
		o.put("server_id", id)
		o.put("client_port_listen_backlog", int64(cfg.ClientPortListenBacklog))
		return ok(o)
	}},
	{names: []string{"connections", "cons"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		var o object
		o.put("connections", connectionObjects(a.conns.Connections(), false))
		o.put("secure_connections", []object{})
		return ok(o)
	}},
	{names: []string{"hash"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		var o object
		digests := []object{}
		for _, d := range a.srv.DigestLog() {
			var e object
			e.put("zxid", d.Zxid)
			e.put("digest", d.Digest)
			e.put("digest_version", int64(datatree.DigestVersion))
			digests = append(digests, e)
		}
		o.put("digests", digests)
		return ok(o)
	}},
	{names: []string{"dirs"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		d, l := a.srv.DirSizes()
		var o object
		o.put("datadir_size", d)
		o.put("logdir_size", l)
		return ok(o)
	}},
	{names: []string{"dump"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		buckets, _ := a.srv.SessionExpiries()
		var exp, eph object
		for _, e := range buckets {
			exp.put(strconv.FormatInt(e.Time.UnixMilli(), 10), e.Sessions)
		}
		ephs := a.srv.SessionEphemerals()
		for _, id := range slices.Sorted(maps.Keys(ephs)) {
			eph.put(strconv.FormatInt(id, 10), ephs[id])
		}
		var o object
		o.put("expiry_time_to_session_ids", exp)
		o.put("session_id_to_ephemeral_paths", eph)
		return ok(o)
	}},
	{names: []string{"environment", "env", "envi"}, run: func(a *Admin, _ map[string]string) response {
		return ok(environment())
	}},
	{names: []string{"get_trace_mask", "gtmk"}, run: func(a *Admin, _ map[string]string) response {
		var o object
		o.put("tracemask", a.traceMask.Load())
		return ok(o)
	}},
	{names: []string{"initial_configuration", "icfg"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		var o object
		o.put("initial_configuration", a.initialConfig())
		return ok(o)
	}},
	{names: []string{"is_read_only", "isro"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		var o object
		o.put("read_only", a.srv.ReadOnly())
		return ok(o)
	}},
	{names: []string{"last_snapshot", "lsnp"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		var o object
		if info, found := a.srv.LastSnapshot(); found {
			o.put("zxid", strconv.FormatUint(uint64(info.Zxid), 16))
			o.put("timestamp", info.ModTime.Unix())
		} else {
			o.put("zxid", strconv.FormatUint(uint64(0xffffffffffffffff), 16))
			o.put("timestamp", int64(-1))
		}
		return ok(o)
	}},
	{names: []string{"leader", "lead"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		// NB: a standalone server is not a QuorumZooKeeperServer.
		return response{status: 200, err: "server is not initialized", body: object{{"error", "server is not initialized"}}}
	}},
	{names: []string{"monitor", "mntr"}, run: func(a *Admin, _ map[string]string) response {
		return ok(a.monitor())
	}},
	{names: []string{"observer_connection_stat_reset", "orst"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		return ok(nil)
	}},
	{names: []string{"ruok"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		return ok(nil)
	}},
	{names: []string{"set_trace_mask", "stmk"}, run: func(a *Admin, args map[string]string) response {
		var o object
		v, found := args["traceMask"]
		if !found {
			o.put("error", "setTraceMask requires long traceMask argument")
			return ok(o)
		}
		mask, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			o.put("error", "setTraceMask requires long traceMask argument, got "+v)
			return ok(o)
		}
		a.traceMask.Store(mask)
		o.put("tracemask", mask)
		return ok(o)
	}},
	{names: []string{"snapshot", "snap"}, serverRequired: true, auth: &authRequest{perm: jute.PermAll, path: "/"}, run: (*Admin).snapshotCommand},
	{names: []string{"server_stats", "srvr"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		return ok(a.serverStats())
	}},
	{names: []string{"stats", "stat"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		o := a.serverStats()
		o.put("connections", connectionObjects(a.conns.Connections(), true))
		o.put("secure_connections", []object{})
		return ok(o)
	}},
	{names: []string{"stat_reset", "srst"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		a.resetServerStats()
		return ok(nil)
	}},
	{names: []string{"observers", "obsr"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		var o object
		o.put("synced_observers", int64(0))
		o.put("observers", []object{})
		return ok(o)
	}},
	{names: []string{"system_properties", "sysp"}, run: func(a *Admin, _ map[string]string) response {
		return ok(systemProperties(a))
	}},
	{names: []string{"voting_view"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		var o object
		o.put("current_config", object{})
		return ok(o)
	}},
	{names: []string{"watches", "wchc"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		ws := a.srv.WatchesBySession()
		var m object
		for _, id := range slices.Sorted(maps.Keys(ws)) {
			m.put(strconv.FormatInt(id, 10), ws[id])
		}
		var o object
		o.put("session_id_to_watched_paths", m)
		return ok(o)
	}},
	{names: []string{"watches_by_path", "wchp"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		ws := a.srv.WatchersByPath()
		var m object
		for _, p := range slices.Sorted(maps.Keys(ws)) {
			m.put(p, ws[p])
		}
		var o object
		o.put("path_to_session_ids", m)
		return ok(o)
	}},
	{names: []string{"watch_summary", "wchs"}, serverRequired: true, run: func(a *Admin, _ map[string]string) response {
		conns, paths, total := a.srv.Tree().WatchSummary()
		var o object
		o.put("num_connections", int64(conns))
		o.put("num_paths", int64(paths))
		o.put("num_total_watches", int64(total))
		return ok(o)
	}},
	{names: []string{"zabstate"}, run: func(a *Admin, _ map[string]string) response {
		var o object
		o.put("voting", false)
		o.put("zabstate", "")
		return ok(o)
	}},
}

// commandByName maps every name and alias to its command.
var commandByName = func() map[string]*command {
	m := map[string]*command{}
	for _, c := range commands {
		for _, n := range c.names {
			m[n] = c
		}
	}
	return m
}()

// CommandNames returns the primary names of the AdminServer commands,
// sorted, as /commands lists them.
func CommandNames() []string {
	out := make([]string, 0, len(commands))
	for _, c := range commands {
		out = append(out, c.names[0])
	}
	slices.Sort(out)
	return out
}

// Run runs the AdminServer command name (a primary name or an alias)
// with the query arguments args and returns the JSON ZooKeeper sends
// and the HTTP status. Commands that need auth are refused here: use
// the AdminServer, which checks the Authorization header.
func (a *Admin) Run(name string, args map[string]string) ([]byte, int) {
	r, primary := a.run(name, args, nil)
	return marshalJackson(r.toMap(primary)), r.status
}

// authorizer checks a command's authRequest; nil means no credentials
// were given.
type authorizer func(req *authRequest) (status int, msg string)

// run is Commands.runCommand: unknown commands, a server that is not
// running and failed auth all answer with ZooKeeper's error texts.
func (a *Admin) run(name string, args map[string]string, auth authorizer) (response, string) {
	c := commandByName[name]
	if c == nil {
		return response{status: 200, err: "Unknown command: " + name}, name
	}
	primary := c.names[0]
	if c.serverRequired && !a.srv.IsRunning() {
		return response{status: 200, err: "This ZooKeeper instance is not currently serving requests"}, primary
	}
	if c.auth != nil {
		if auth == nil {
			return response{status: 401, err: "Auth info is missing for the command"}, primary
		}
		if status, msg := auth(c.auth); status != 200 {
			return response{status: status, err: msg}, primary
		}
	}
	r := c.run(a, args)
	if v, found := r.body.get("error"); found {
		r.err = v
	}
	return r, primary
}

// serverStats is SrvrCommand's answer.
func (a *Admin) serverStats() object {
	s := a.srv
	minL, avgL, maxL := s.Stats.Latency()
	d, l := s.DirSizes()
	last, minR, maxR := a.resp.Get()
	resp := object{{"last_buffer_size", last}, {"min_buffer_size", minR}, {"max_buffer_size", maxR}}
	var st object
	st.put("packets_sent", s.Stats.PacketsSent.Load())
	st.put("packets_received", s.Stats.PacketsReceived.Load())
	st.put("fsync_threshold_exceed_count", int64(0))
	st.put("client_response_stats", resp)
	st.put("data_dir_size", d)
	st.put("log_dir_size", l)
	st.put("provider_null", false)
	st.put("server_state", a.serverState())
	st.put("last_processed_zxid", s.LastZxid())
	st.put("outstanding_requests", int64(s.OutstandingRequests()))
	st.put("avg_latency", avgL)
	st.put("max_latency", maxL)
	st.put("min_latency", int64(minL))
	st.put("num_alive_client_connections", int64(a.conns.ConnectionCount()))
	st.put("auth_failed_count", a.authFailed.Load()+a.srv.Stats.AuthFailed.Load())
	st.put("non_mtlsremote_conn_count", int64(0))
	st.put("non_mtlslocal_conn_count", int64(0))
	st.put("uptime", s.Uptime().Milliseconds())
	var o object
	o.put("version", FullVersion())
	o.put("read_only", s.ReadOnly())
	o.put("server_stats", st)
	o.put("client_response", resp)
	o.put("node_count", int64(s.Tree().NodeCount()))
	return o
}

// connectionObjects is ServerCnxn.getConnectionInfo for each connection.
func connectionObjects(cs []wire.ConnectionInfo, brief bool) []object {
	out := make([]object, 0, len(cs))
	for _, c := range cs {
		var o object
		o.put("remote_socket_address", c.RemoteAddr)
		o.put("interest_ops", int64(interestOps(c)))
		o.put("outstanding_requests", c.Queued)
		o.put("packets_received", c.PacketsReceived)
		o.put("packets_sent", c.PacketsSent)
		if !brief {
			o.put("session_id", c.SessionID)
			o.put("last_operation", lastOperation(c))
			o.put("established", c.Established.UnixMilli())
			o.put("session_timeout", int64(c.SessionTimeout))
			o.put("last_cxid", int64(c.LastCxid))
			o.put("last_zxid", c.LastZxid)
			o.put("last_response_time", elapsedMs(c.LastResponse))
			o.put("last_latency", c.LastLatency)
			o.put("min_latency", c.MinLatency)
			o.put("avg_latency", c.AvgLatency)
			o.put("max_latency", c.MaxLatency)
		}
		out = append(out, o)
	}
	return out
}

// snapshotCommand is ZooKeeper 3.9's snapshot command: take a snapshot
// now, at most once per admin.rateLimiterIntervalInMS (default 5 min),
// and stream it unless streaming=false. The last_zxid and snapshot_size
// headers say what was taken.
func (a *Admin) snapshotCommand(args map[string]string) response {
	interval := 5 * time.Minute
	if v, found := a.srv.Config().SystemProperties["admin.rateLimiterIntervalInMS"]; found {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
			interval = time.Duration(ms) * time.Millisecond
		}
	}
	a.snap.Lock()
	if !a.snap.last.IsZero() && time.Since(a.snap.last) < interval {
		a.snap.Unlock()
		a.snapshotLimited.Add(1)
		return response{status: 429}
	}
	a.snap.last = time.Now()
	a.snap.Unlock()
	zxid, err := a.srv.TakeSnapshot()
	if err != nil {
		a.snapshotErrors.Add(1)
		a.log.Warn().Err(err).Msg("snapshot command failed")
		return response{status: 500}
	}
	info, err := a.srv.SnapshotFile(zxid)
	if err != nil || info.Size == 0 {
		a.snapshotErrors.Add(1)
		a.log.Warn().Err(err).Str("zxid", hex(zxid)).Msg("snapshot command: no snapshot file")
		return response{status: 500}
	}
	r := response{status: 200, headers: map[string]string{
		"last_zxid":     hex(zxid),
		"snapshot_size": strconv.FormatInt(info.Size, 10),
	}}
	if streaming, err := strconv.ParseBool(args["streaming"]); err != nil || streaming {
		r.file = info.Path
	}
	return r
}

// initialConfig is the configuration file the server started from (the
// initial_configuration command); without one, the effective settings.
func (a *Admin) initialConfig() string {
	if a.ConfigPath != "" {
		if b, err := os.ReadFile(a.ConfigPath); err == nil {
			return string(b)
		}
	}
	var b strings.Builder
	a.srv.Config().WriteConf(&b, a.confRuntime())
	return b.String()
}

func absDir(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// environment is ZooKeeper's Environment.list with the JVM's entries
// replaced by the Go runtime's (see doc.go): zookeeper.version, host.name,
// go.*, os.*, user.*, os.memory.*.
func environment() object {
	var o object
	o.put("zookeeper.version", FullVersion())
	host, _ := os.Hostname()
	o.put("host.name", host)
	o.put("go.version", runtime.Version())
	o.put("go.compiler", runtime.Compiler)
	exe, _ := os.Executable()
	o.put("go.executable", exe)
	o.put("go.maxprocs", strconv.Itoa(runtime.GOMAXPROCS(0)))
	o.put("os.tmpdir", os.TempDir())
	o.put("os.name", osName())
	o.put("os.arch", runtime.GOARCH)
	o.put("os.version", kernelRelease())
	name, home := "<NA>", "<NA>"
	if u, err := user.Current(); err == nil {
		name, home = u.Username, u.HomeDir
	}
	o.put("user.name", name)
	o.put("user.home", home)
	wd, _ := os.Getwd()
	o.put("user.dir", wd)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mb := func(n uint64) string { return strconv.FormatUint(n/(1<<20), 10) + "MB" }
	o.put("os.memory.free", mb(ms.HeapIdle-ms.HeapReleased))
	max := uint64(ms.Sys)
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < 1<<62 {
		max = uint64(lim)
	}
	o.put("os.memory.max", mb(max))
	o.put("os.memory.total", mb(ms.Sys))
	return o
}

// osName is Java's os.name for the platforms Go runs on.
func osName() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "Mac OS X"
	case "windows":
		return "Windows"
	case "freebsd":
		return "FreeBSD"
	}
	return runtime.GOOS
}

func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "<NA>"
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// systemProperties is the system_properties command: gokeeper has no JVM
// properties; it reports the zoo.cfg keys it passed through as
// "zookeeper.<key>" (what ZooKeeper turns them into) plus the
// environment, sorted by name as ZooKeeper sorts them.
func systemProperties(a *Admin) object {
	props := map[string]string{}
	for k, v := range a.srv.Config().SystemProperties {
		if !strings.HasPrefix(k, "zookeeper.") {
			k = "zookeeper." + k
		}
		props[k] = v
	}
	for _, f := range environment() {
		props[f.key] = f.val.(string)
	}
	var o object
	for _, k := range slices.Sorted(maps.Keys(props)) {
		o.put(k, props[k])
	}
	return o
}
