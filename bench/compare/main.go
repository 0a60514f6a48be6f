// Command compare is what `make bench` runs: it starts Apache ZooKeeper
// (Debian's 3.8 package) and gokeeper side by side, standalone, on free
// loopback ports, with forceSync on and their data on the same disk, runs
// the same workloads against each in alternation (ZooKeeper, gokeeper,
// ZooKeeper, gokeeper) through package bench, each round once both
// servers have gone idle, and prints one table. Then
// it measures memory (RSS after populating N znodes of 100 bytes; for
// ZooKeeper after a full GC) and the restart time with those znodes, and
// the memory an idle session costs (RSS with 10,000 and 50,000 sessions
// that send nothing, as many as the open-file limit allows).
//
//	go run ./bench/compare [-gokeeper bin/gokeeper] [-quick] [-profile dir] [-idle 10000,50000]
//
// BENCH_QUICK=1 selects the quick smoke-test settings.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gokeeper/gokeeper/bench"
	"github.com/gokeeper/gokeeper/internal/loopport"
	"github.com/gokeeper/gokeeper/jute"
)

// zkClasspath runs Debian's ZooKeeper with log4j logging (REFERENCE-ZK.md).
const zkClasspath = "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:" +
	"/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/servlet-api.jar"

// zkLog4j is ZooKeeper's log4j.properties: warnings and errors to the console.
const zkLog4j = "log4j.rootLogger=WARN, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n" +
	"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
	"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %m%n\n"

// options are the driver's settings.
type options struct {
	gokeeper  string
	dataDir   string
	xmx       string
	duration  time.Duration
	extraDur  time.Duration
	clients   []int
	depth     int
	rounds    int
	znodes    int64
	profile   string
	jsonOut   string
	skipMem   bool
	onlyMem   bool
	onlyIdle  bool
	workloads string
	idle      []int
	ensemble  bool
	failovers int
}

func main() {
	o := options{}
	quick := os.Getenv("BENCH_QUICK") == "1"
	flag.StringVar(&o.gokeeper, "gokeeper", "bin/gokeeper", "gokeeper binary built from this tree")
	flag.StringVar(&o.dataDir, "data", "", "parent of both servers' data dirs (default: a new temp dir, removed at the end)")
	flag.StringVar(&o.xmx, "xmx", "2g", "ZooKeeper's JVM maximum heap (-Xmx; -Xms is left to the JVM)")
	flag.BoolVar(&quick, "quick", quick, "quick smoke-test settings (also BENCH_QUICK=1)")
	flag.StringVar(&o.profile, "profile", os.Getenv("BENCH_PROFILE"), "write gokeeper pprof profiles of the first round of each main cell here")
	flag.StringVar(&o.jsonOut, "json", "bin/bench-results.jsonl", "append every run's JSON line here")
	flag.BoolVar(&o.skipMem, "skip-memory", false, "skip the memory and restart measurements")
	flag.BoolVar(&o.onlyMem, "only-memory", false, "only the memory measurements (znodes, idle sessions) and restart")
	flag.BoolVar(&o.onlyIdle, "only-idle", false, "only the idle-session memory measurement")
	idle := flag.String("idle", "10000,50000", "idle-session counts whose memory to measure (empty: none)")
	flag.StringVar(&o.workloads, "workloads", "", "comma-separated subset of the table's workloads (default: all)")
	flag.IntVar(&o.depth, "inflight", 4, "requests in flight per session")
	flag.BoolVar(&o.ensemble, "ensemble", false, "3-member ensembles of each instead of standalone servers (make bench-ensemble)")
	flag.IntVar(&o.failovers, "failovers", 0, "with -ensemble: leader kills measured per ensemble (default 8, 2 with -quick; negative: none)")
	flag.Parse()
	o.clients, o.duration, o.extraDur, o.rounds, o.znodes = []int{32, 128}, 5*time.Second, 3*time.Second, 2, 1_000_000
	if quick {
		o.clients, o.duration, o.extraDur, o.znodes = []int{32}, time.Second, time.Second, 100_000
		*idle = "2000"
	}
	if o.failovers == 0 {
		o.failovers = 8
		if quick {
			o.failovers = 2
		}
	}
	for _, f := range strings.Split(*idle, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench/compare: -idle: %q is not a session count\n", f)
			os.Exit(2)
		}
		o.idle = append(o.idle, n)
	}
	if err := run(&o); err != nil {
		fmt.Fprintf(os.Stderr, "bench/compare: %v\n", err)
		os.Exit(1)
	}
}

// server is one running (or stopped) server under test.
type server struct {
	name    string // "zookeeper" or "gokeeper"
	dir     string // its own directory: zoo.cfg, data, log
	addr    string // 127.0.0.1:port
	pprof   string // gokeeper's pprof address, if profiling
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has been waited for
	started time.Time
	argv    []string
}

// newServers writes both servers' configuration under parent, with the
// lines of extra added to both zoo.cfg files.
func newServers(o *options, parent string, extra string) (zk, gk *server, err error) {
	zk, gk = &server{name: "zookeeper"}, &server{name: "gokeeper"}
	for _, s := range []*server{zk, gk} {
		s.dir = filepath.Join(parent, s.name)
		if err := os.MkdirAll(filepath.Join(s.dir, "data"), 0o755); err != nil {
			return nil, nil, err
		}
		port, err := loopport.Free()
		if err != nil {
			return nil, nil, err
		}
		s.addr = "127.0.0.1:" + strconv.Itoa(port)
		cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"forceSync=yes\nmaxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
			filepath.Join(s.dir, "data"), port) + extra
		if err := os.WriteFile(filepath.Join(s.dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
			return nil, nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(zk.dir, "log4j.properties"), []byte(zkLog4j), 0o644); err != nil {
		return nil, nil, err
	}
	// NB: no -Xms, so G1 may give heap back to the OS after the full GC
	// that precedes the RSS reading: the fairest RSS ZooKeeper can show.
	zk.argv = []string{"java", "-Xmx" + o.xmx, "-cp", zkClasspath + ":" + zk.dir,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(zk.dir, "zoo.cfg")}
	gk.argv = []string{o.gokeeper, "serve", "--config", filepath.Join(gk.dir, "zoo.cfg"), "--log-level", "warn"}
	if o.profile != "" {
		port, err := loopport.Free()
		if err != nil {
			return nil, nil, err
		}
		gk.pprof = "127.0.0.1:" + strconv.Itoa(port)
		gk.argv = append(gk.argv, "--pprof", gk.pprof)
	}
	return zk, gk, nil
}

// start launches the server and waits until it serves: ruok answers imok
// and an exists on probe ("/" if empty) succeeds. NB: ZooKeeper answers
// imok while it is still loading and refuses sessions then, so imok alone
// does not mean serving. It returns the time from launch to serving.
func (s *server) start(probe string) (time.Duration, error) {
	logf, err := os.OpenFile(filepath.Join(s.dir, "out.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	s.cmd = exec.Command(s.argv[0], s.argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return 0, err
	}
	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return 0, fmt.Errorf("%s exited during start; see %s", s.name, filepath.Join(s.dir, "out.log"))
		default:
		}
		if probe == "" {
			probe = "/"
		}
		if fourLetter(s.addr, "ruok") == "imok" && exists(s.addr, probe) {
			return time.Since(s.started), nil
		}
		time.Sleep(20 * time.Millisecond) // NB: polling a process we do not control
	}
	return 0, fmt.Errorf("%s did not serve within 5 minutes", s.name)
}

// stop sends SIGTERM and waits for the process to exit (SIGKILL after 60s).
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// cpuTicks returns the process's user+system CPU time in clock ticks.
func (s *server) cpuTicks() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// NB: the command name (field 2) may hold spaces; count from its ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat")
	}
	return u + k, nil
}

// quiesce waits (up to quiesceMax) until every server is idle: below
// quiesceBusy of a core over quiesceWindow; it returns how long it waited.
// NB: a round must not measure the other server's leftovers from its own
// round (ZooKeeper's snapshot thread and JIT, gokeeper's snapshots and
// Pebble compactions), which otherwise land on whichever server runs next.
func quiesce(servers ...*server) time.Duration {
	const (
		quiesceWindow = 300 * time.Millisecond
		quiesceBusy   = 0.10
		quiesceMax    = 5 * time.Second
	)
	start := time.Now()
	for time.Since(start) < quiesceMax {
		before := make([]int64, len(servers))
		for i, s := range servers {
			before[i], _ = s.cpuTicks()
		}
		time.Sleep(quiesceWindow) // NB: sampling processes we do not control
		idle := true
		for i, s := range servers {
			after, err := s.cpuTicks()
			// /proc counts in ticks of 1/100 s.
			if err == nil && float64(after-before[i])/100 > quiesceBusy*quiesceWindow.Seconds() {
				idle = false
			}
		}
		if idle {
			break
		}
	}
	return time.Since(start)
}

// rssKiB reads the process's resident set size from /proc.
func (s *server) rssKiB() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

func fourLetter(addr, word string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte(word))
	b, _ := io.ReadAll(c)
	return string(b)
}

func exists(addr, path string) bool {
	c, err := bench.Dial(addr, 1, nil)
	if err != nil {
		return false
	}
	defer c.Close()
	r, err := c.Call(jute.OpExists, func(b []byte) []byte {
		b = jute.AppendString(b, path)
		return jute.AppendBool(b, false)
	})
	return err == nil && r.Err == jute.CodeOK
}

// cell is one row of the table.
type cell struct {
	workload string // bench workload
	label    string // table label
	clients  int
	readPct  int
	dur      time.Duration
	ops      int64
	profile  bool
	res      [2][]*bench.Result // [zk, gk] per round
}

func run(o *options) error {
	ncpu := runtimeCPUs()
	parent := o.dataDir
	if parent == "" {
		d, err := os.MkdirTemp("", "gokeeper-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		parent = d
	}
	var jsonl io.Writer = io.Discard
	if o.jsonOut != "" {
		os.MkdirAll(filepath.Dir(o.jsonOut), 0o755)
		f, err := os.OpenFile(o.jsonOut, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		jsonl = f
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}
	if o.ensemble {
		fmt.Printf("make bench-ensemble: 3-member Apache ZooKeeper 3.8 ensemble (Debian, java -Xmx%s per member) vs 3-member gokeeper ensemble (%s), forceSync=yes,\n", o.xmx, o.gokeeper)
		fmt.Printf("all on loopback, data dirs under %s (same disk); %d CPU cores shared by six servers and the load generator.\n", parent, ncpu)
		fmt.Printf("clients = sessions spread round robin over the members, each with %d requests in flight; %d alternating rounds per cell; 100-byte values.\n\n", o.depth, o.rounds)
		return runEnsembleBench(o, parent, jsonl)
	}
	fmt.Printf("make bench: Apache ZooKeeper 3.8 (Debian, java -Xmx%s) vs gokeeper (%s), standalone, forceSync=yes,\n", o.xmx, o.gokeeper)
	fmt.Printf("data dirs under %s (same disk); %d CPU cores shared by both servers and the load generator.\n", parent, ncpu)
	fmt.Printf("clients = sessions, each with %d requests in flight; %d alternating rounds (ZK, gk, ZK, gk, ...) per cell, each once both servers are idle; 100-byte values.\n\n", o.depth, o.rounds)

	var cells []*cell
	if !o.onlyMem && !o.onlyIdle {
		var err error
		cells, err = runTable(o, parent, jsonl)
		if err != nil {
			return err
		}
		printTable(cells)
	}
	if !o.skipMem {
		if !o.onlyIdle {
			if err := runMemory(o, filepath.Join(parent, "mem"), jsonl); err != nil {
				return err
			}
		}
		if err := runIdle(o, filepath.Join(parent, "idle"), jsonl); err != nil {
			return err
		}
	}
	return nil
}

func runtimeCPUs() int {
	out, err := exec.Command("nproc").Output()
	if n, err2 := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && err2 == nil {
		return n
	}
	return -1
}

func wanted(o *options, name string) bool {
	if o.workloads == "" {
		return true
	}
	for _, w := range strings.Split(o.workloads, ",") {
		if strings.TrimSpace(w) == name {
			return true
		}
	}
	return false
}

func runTable(o *options, parent string, jsonl io.Writer) ([]*cell, error) {
	zk, gk, err := newServers(o, filepath.Join(parent, "table"), "")
	if err != nil {
		return nil, err
	}
	for _, s := range []*server{zk, gk} {
		d, err := s.start("")
		if err != nil {
			zk.stop()
			gk.stop()
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "%s serving on %s after %v\n", s.name, s.addr, d.Round(time.Millisecond))
		defer s.stop()
	}

	var cells []*cell
	for _, n := range o.clients {
		for _, w := range []struct {
			wl, label string
			pct       int
		}{{bench.WorkGet, "get", 0}, {bench.WorkSet, "set", 0}, {bench.WorkCreate, "create", 0}, {bench.WorkMix, "mix 90/10", 90}} {
			if wanted(o, w.wl) {
				cells = append(cells, &cell{workload: w.wl, label: w.label, clients: n, readPct: w.pct, dur: o.duration, profile: o.profile != ""})
			}
		}
	}
	extra := o.clients[0]
	deletes := int64(20000)
	if o.extraDur < 2*time.Second {
		deletes = 5000
	}
	for _, c := range []*cell{
		{workload: bench.WorkExists, label: "exists"},
		{workload: bench.WorkChildren1k, label: "getChildren 1k"},
		{workload: bench.WorkChildren10k, label: "getChildren 10k"},
		{workload: bench.WorkMulti, label: "multi (5 setData)"},
		{workload: bench.WorkDelete, label: "delete", ops: deletes},
		{workload: bench.WorkWatch, label: "watch fan-out", clients: 100},
		{workload: bench.WorkChurn, label: "session churn", clients: 16},
	} {
		if !wanted(o, c.workload) {
			continue
		}
		if c.clients == 0 {
			c.clients = extra
		}
		c.dur = o.extraDur
		cells = append(cells, c)
	}

	// Warm both: JIT for ZooKeeper, caches and heap growth for both.
	fmt.Fprintln(os.Stderr, "warming up")
	for _, s := range []*server{zk, gk} {
		for _, wl := range []string{bench.WorkMix, bench.WorkCreate} {
			cfg := benchConfig(o, s, &cell{workload: wl, clients: 32, readPct: 90, dur: o.extraDur})
			if _, err := bench.Run(cfg, nil); err != nil {
				return nil, fmt.Errorf("warm-up %s on %s: %w", wl, s.name, err)
			}
		}
	}
	for _, c := range cells {
		for r := range o.rounds {
			for i, s := range []*server{zk, gk} {
				cfg := benchConfig(o, s, c)
				if waited := quiesce(zk, gk); waited > time.Second {
					fmt.Fprintf(os.Stderr, "  (waited %v for both servers to go idle)\n", waited.Round(100*time.Millisecond))
				}
				pprof := ""
				if c.profile && r == 0 && s == gk {
					pprof = s.pprof
				}
				runRound(c, i, s.name, cfg, pprof, filepath.Join(o.profile, fmt.Sprintf("%s-%d", c.workload, c.clients)), "", jsonl)
			}
		}
	}
	return cells, nil
}

// runRound runs one round of c with cfg against the server (or ensemble)
// name, profiling it into prefix.* when pprof (its pprof address) is set,
// and records the result in c.res[i] and as a JSON line (tag is added to
// it, as "key":value,).
func runRound(c *cell, i int, name string, cfg bench.Config, pprof, prefix, tag string, jsonl io.Writer) {
	var prof *profiler
	if pprof != "" {
		prof = startProfile(pprof, prefix, c.dur)
	}
	res, err := bench.Run(cfg, nil)
	if prof != nil {
		prof.finish()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "  %-9s %s: %v\n", name, c.label, err)
		return
	}
	fmt.Fprintf(os.Stderr, "  %-9s %s\n", name, res)
	fmt.Fprintf(jsonl, "{\"server\":%q,%s%s\n", name, tag, strings.TrimPrefix(res.JSON(), "{"))
	c.res[i] = append(c.res[i], res)
}

func benchConfig(o *options, s *server, c *cell) bench.Config {
	cfg := bench.DefaultConfig()
	cfg.Servers = []string{s.addr}
	cfg.Workload = c.workload
	cfg.Conns = c.clients
	cfg.Depth = o.depth
	cfg.Duration = c.dur
	cfg.Ops = c.ops
	cfg.ReadPct = c.readPct
	cfg.Progress = 0
	switch c.workload {
	case bench.WorkChurn, bench.WorkWatch:
		cfg.Depth = 1
	case bench.WorkDelete:
		cfg.Duration = 0
	}
	return cfg
}

// summary averages a cell's rounds for one server: mean ops/s, mean p99
// (µs), total errors; ok is false when no round succeeded.
func summary(rs []*bench.Result) (opsPerSec, p99 float64, errs int64, ok bool) {
	if len(rs) == 0 {
		return 0, 0, 0, false
	}
	for _, r := range rs {
		opsPerSec += r.OpsPerSec
		p99 += r.P99
		errs += r.ErrorCount()
	}
	n := float64(len(rs))
	return opsPerSec / n, p99 / n, errs, true
}

func printTable(cells []*cell) {
	fmt.Printf("%-18s %7s | %12s %10s | %12s %10s | %9s %9s\n", "workload", "clients", "ZK ops/s", "ZK p99", "gk ops/s", "gk p99", "ops gk/ZK", "p99 gk/ZK")
	fmt.Println(strings.Repeat("-", 101))
	for _, c := range cells {
		zo, zp, ze, zok := summary(c.res[0])
		go_, gp, ge, gok := summary(c.res[1])
		col := func(ok bool, ops, p99 float64) string {
			if !ok {
				return fmt.Sprintf("%12s %10s", "failed", "-")
			}
			return fmt.Sprintf("%12.0f %10s", ops, fmtUs(p99))
		}
		ratio, pratio := "-", "-"
		if zok && gok && zo > 0 {
			ratio = fmt.Sprintf("%.2fx", go_/zo)
		}
		if zok && gok && zp > 0 {
			pratio = fmt.Sprintf("%.2f", gp/zp)
		}
		line := fmt.Sprintf("%-18s %7d | %s | %s | %9s %9s", c.label, c.clients, col(zok, zo, zp), col(gok, go_, gp), ratio, pratio)
		if ze+ge > 0 {
			line += fmt.Sprintf("  errors ZK=%d gk=%d", ze, ge)
		}
		fmt.Println(line)
	}
	fmt.Println("(watch fan-out: ops = rounds of setData -> all notifications, p99 = time to the last one; session churn: ops = connect+close)")
	fmt.Println()
}

func fmtUs(us float64) string {
	switch {
	case math.IsNaN(us):
		return "-"
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	}
	return fmt.Sprintf("%.0fus", us)
}

// runMemory populates fresh servers one at a time with o.znodes znodes of
// 100 bytes, reports RSS (ZooKeeper after jcmd GC.run) and the time a
// restart takes to serve the last znode.
func runMemory(o *options, parent string, jsonl io.Writer) error {
	zk, gk, err := newServers(o, parent, "")
	if err != nil {
		return err
	}
	last := bench.PopulatePath("/bench", o.znodes-1)
	type row struct {
		name          string
		populate      *bench.Result
		rss, rssAfter int64
		restart       time.Duration
		heapNote      string
	}
	var rows []row
	for _, s := range []*server{zk, gk} {
		if _, err := s.start(""); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: populating %d znodes\n", s.name, o.znodes)
		cfg := bench.DefaultConfig()
		cfg.Servers = []string{s.addr}
		cfg.Workload = bench.WorkPopulate
		cfg.Conns = 32
		cfg.Depth = 16
		cfg.Ops = o.znodes
		cfg.Duration = 0
		cfg.Progress = 10 * time.Second
		res, err := bench.Run(cfg, os.Stderr)
		if err != nil {
			s.stop()
			return fmt.Errorf("populate %s: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", s.name, res)
		fmt.Fprintf(jsonl, "{\"server\":%q,%s\n", s.name, strings.TrimPrefix(res.JSON(), "{"))
		r := row{name: s.name, populate: res}
		if s == zk {
			out, err := exec.Command("jcmd", strconv.Itoa(s.cmd.Process.Pid), "GC.run").CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "jcmd GC.run: %v: %s\n", err, out)
			}
			r.heapNote = heapUsed(s.cmd.Process.Pid)
		}
		if r.rss, err = s.rssKiB(); err != nil {
			return err
		}
		s.stop()
		if r.restart, err = s.start(last); err != nil {
			return fmt.Errorf("restart %s: %w", s.name, err)
		}
		r.rssAfter, _ = s.rssKiB()
		s.stop()
		rows = append(rows, r)
	}
	fmt.Printf("memory and restart with %d znodes of 100 bytes (/bench/m/p<i%%1000>/n<i>), populated by 32 sessions x 16 in flight:\n", o.znodes)
	fmt.Printf("%-10s | %12s | %14s | %16s | %14s\n", "server", "populate/s", "RSS populated", "restart to serve", "RSS restarted")
	fmt.Println(strings.Repeat("-", 80))
	for _, r := range rows {
		fmt.Printf("%-10s | %12.0f | %11.0f MiB | %16s | %10.0f MiB", r.name, r.populate.OpsPerSec, float64(r.rss)/1024,
			r.restart.Round(time.Millisecond), float64(r.rssAfter)/1024)
		if r.heapNote != "" {
			fmt.Printf("   (after jcmd GC.run; -Xmx%s; %s)", o.xmx, r.heapNote)
		}
		fmt.Println()
	}
	if len(rows) == 2 && rows[0].rss > 0 && rows[0].restart > 0 {
		fmt.Printf("ratios gokeeper/ZooKeeper: RSS %.2f, restart %.2f\n", float64(rows[1].rss)/float64(rows[0].rss),
			rows[1].restart.Seconds()/rows[0].restart.Seconds())
	}
	fmt.Println("(restart = from process start to ruok -> imok and an exists on the last znode succeeding)")
	return nil
}

// heapUsed asks the JVM for its heap occupancy (jcmd GC.heap_info).
func heapUsed(pid int) string {
	out, err := exec.Command("jcmd", strconv.Itoa(pid), "GC.heap_info").Output()
	if err != nil {
		return "heap info unavailable"
	}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "total") && strings.Contains(line, "used") {
			return "heap " + line
		}
	}
	return "heap info unparsed"
}

// profiler collects gokeeper's CPU, allocs, mutex and block profiles over
// the duration of one run (the latter three as deltas: ?seconds=N).
type profiler struct {
	errs chan error
}

var profileKinds = []string{"profile", "allocs", "mutex", "block"}

func startProfile(addr, prefix string, d time.Duration) *profiler {
	p := &profiler{errs: make(chan error, len(profileKinds))}
	secs := strconv.Itoa(max(int(d.Seconds()), 1))
	for _, kind := range profileKinds {
		name := kind
		if kind == "profile" {
			name = "cpu"
		}
		go func() {
			p.errs <- fetch("http://"+addr+"/debug/pprof/"+kind+"?seconds="+secs, prefix+"."+name+".pprof")
		}()
	}
	return p
}

func (p *profiler) finish() {
	for range profileKinds {
		if err := <-p.errs; err != nil {
			fmt.Fprintf(os.Stderr, "profile: %v\n", err)
		}
	}
}

func fetch(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
