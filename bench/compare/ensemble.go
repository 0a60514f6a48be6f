package main

// The ensemble half of the driver (`make bench-ensemble`): a 3-member
// Apache ZooKeeper ensemble and a 3-member gokeeper ensemble side by side,
// clients spread over the members, then failover, catch-up and restart.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokeeper/gokeeper/bench"
	"github.com/gokeeper/gokeeper/internal/loopport"
	"github.com/gokeeper/gokeeper/jute"
)

// ensemble is three members of one kind.
type ensemble struct {
	name    string
	members []*server
}

func (e *ensemble) addrs() []string {
	var a []string
	for _, m := range e.members {
		a = append(a, m.addr)
	}
	return a
}

// newEnsembles writes the configuration of a ZooKeeper and a gokeeper
// ensemble of n members each under parent. Both use tickTime=2000,
// initLimit=10 and syncLimit=5 (ZooKeeper's sample zoo.cfg) and fsync.
func newEnsembles(o *options, parent string, n int) (zk, gk *ensemble, err error) {
	zk, gk = &ensemble{name: "zookeeper"}, &ensemble{name: "gokeeper"}
	for _, e := range []*ensemble{zk, gk} {
		var lines []string
		ports := make([]int, n)
		for i := range n {
			var p [3]int
			for j := range p {
				if p[j], err = loopport.Free(); err != nil {
					return nil, nil, err
				}
			}
			ports[i] = p[2]
			lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, p[0], p[1]))
		}
		for i := range n {
			s := &server{name: e.name, dir: filepath.Join(parent, e.name, strconv.Itoa(i+1))}
			data := filepath.Join(s.dir, "data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				return nil, nil, err
			}
			if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(i+1)+"\n"), 0o644); err != nil {
				return nil, nil, err
			}
			s.addr = "127.0.0.1:" + strconv.Itoa(ports[i])
			cfg := fmt.Sprintf("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
				"forceSync=yes\nmaxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n%s\n",
				data, ports[i], strings.Join(lines, "\n"))
			if err := os.WriteFile(filepath.Join(s.dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
				return nil, nil, err
			}
			if e == zk {
				if err := os.WriteFile(filepath.Join(s.dir, "log4j.properties"), []byte(zkLog4j), 0o644); err != nil {
					return nil, nil, err
				}
				s.argv = []string{"java", "-Xmx" + o.xmx, "-cp", zkClasspath + ":" + s.dir,
					"org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(s.dir, "zoo.cfg")}
			} else {
				s.argv = []string{o.gokeeper, "serve", "--config", filepath.Join(s.dir, "zoo.cfg"), "--log-level", "warn"}
				if o.profile != "" && i == 0 {
					port, err := loopport.Free()
					if err != nil {
						return nil, nil, err
					}
					s.pprof = "127.0.0.1:" + strconv.Itoa(port)
					s.argv = append(s.argv, "--pprof", s.pprof)
				}
			}
			e.members = append(e.members, s)
		}
	}
	return zk, gk, nil
}

// start launches every member at once (an ensemble needs a quorum to
// serve) and waits until each one serves.
func (e *ensemble) start() error {
	errs := make([]error, len(e.members))
	var wg sync.WaitGroup
	for i, m := range e.members {
		wg.Go(func() { _, errs[i] = m.start("") })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.stop()
			return err
		}
	}
	return nil
}

func (e *ensemble) stop() {
	var wg sync.WaitGroup
	for _, m := range e.members {
		wg.Go(m.stop)
	}
	wg.Wait()
}

// mode is what srvr says the member is ("leader", "follower"), or "".
func mode(addr string) string {
	for _, line := range strings.Split(fourLetter(addr, "srvr"), "\n") {
		if v, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// leader returns the index of the member that says it leads, or -1.
func (e *ensemble) leader() int {
	for i, m := range e.members {
		if m.cmd != nil && mode(m.addr) == "leader" {
			return i
		}
	}
	return -1
}

// runEnsembleBench is `make bench-ensemble`.
func runEnsembleBench(o *options, parent string, jsonl io.Writer) error {
	zk, gk, err := newEnsembles(o, filepath.Join(parent, "ensemble"), 3)
	if err != nil {
		return err
	}
	for _, e := range []*ensemble{zk, gk} {
		if err := e.start(); err != nil {
			zk.stop()
			return fmt.Errorf("%s ensemble: %w", e.name, err)
		}
		defer e.stop()
		fmt.Fprintf(os.Stderr, "%s ensemble serving on %s\n", e.name, strings.Join(e.addrs(), ","))
	}
	all := append(slices.Clone(zk.members), gk.members...)

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
	fmt.Fprintln(os.Stderr, "warming up")
	for _, e := range []*ensemble{zk, gk} {
		for _, wl := range []string{bench.WorkMix, bench.WorkCreate} {
			cfg := ensembleConfig(o, e, &cell{workload: wl, clients: 32, readPct: 90, dur: o.extraDur})
			if _, err := bench.Run(cfg, nil); err != nil {
				return fmt.Errorf("warm-up %s on %s: %w", wl, e.name, err)
			}
		}
	}
	for _, c := range cells {
		for r := range o.rounds {
			for i, e := range []*ensemble{zk, gk} {
				if waited := quiesce(all...); waited > time.Second {
					fmt.Fprintf(os.Stderr, "  (waited %v for the members to go idle)\n", waited.Round(100*time.Millisecond))
				}
				pprof := ""
				if c.profile && r == 0 && e == gk {
					pprof = e.members[0].pprof
				}
				runRound(c, i, e.name, ensembleConfig(o, e, c), pprof,
					filepath.Join(o.profile, fmt.Sprintf("ensemble-%s-%d", c.workload, c.clients)), `"ensemble":3,`, jsonl)
			}
		}
	}
	printTable(cells)

	if o.failovers > 0 {
		var rows [2]failoverStats
		for i, e := range []*ensemble{zk, gk} {
			for r := range o.failovers {
				f, err := failover(e)
				if err != nil {
					return fmt.Errorf("%s failover round %d: %w", e.name, r+1, err)
				}
				fmt.Fprintf(os.Stderr, "  %-9s failover %d: %s\n", e.name, r+1, f)
				rows[i].add(f)
			}
		}
		printFailover(rows)
	}
	return runCatchUp(o, zk, gk, jsonl)
}

// runCatchUp populates both ensembles with o.znodes znodes, then times a
// follower's restart (SIGTERM, start, serving the last znode) and its
// catch-up from an empty data dir (a SNAP from the leader).
func runCatchUp(o *options, zk, gk *ensemble, jsonl io.Writer) error {
	last := bench.PopulatePath("/bench", o.znodes-1)
	type row struct{ restart, catchUp time.Duration }
	var rows [2]row
	for i, e := range []*ensemble{zk, gk} {
		fmt.Fprintf(os.Stderr, "%s: populating %d znodes\n", e.name, o.znodes)
		cfg := bench.DefaultConfig()
		cfg.Servers = e.addrs()
		cfg.Workload = bench.WorkPopulate
		cfg.Conns, cfg.Depth, cfg.Ops, cfg.Duration, cfg.Progress = 32, 16, o.znodes, 0, 10*time.Second
		res, err := bench.Run(cfg, os.Stderr)
		if err != nil {
			return fmt.Errorf("populate %s: %w", e.name, err)
		}
		fmt.Fprintf(jsonl, "{\"server\":%q,\"ensemble\":3,%s\n", e.name, strings.TrimPrefix(res.JSON(), "{"))
		f := (e.leader() + 1) % len(e.members)
		m := e.members[f]
		m.stop()
		if rows[i].restart, err = m.start(last); err != nil {
			return fmt.Errorf("%s restart: %w", e.name, err)
		}
		m.stop()
		data := filepath.Join(m.dir, "data")
		entries, err := os.ReadDir(data)
		if err != nil {
			return err
		}
		for _, de := range entries {
			if de.Name() != "myid" {
				if err := os.RemoveAll(filepath.Join(data, de.Name())); err != nil {
					return err
				}
			}
		}
		if rows[i].catchUp, err = m.start(last); err != nil {
			return fmt.Errorf("%s catch-up: %w", e.name, err)
		}
		fmt.Fprintf(os.Stderr, "  %-9s follower restart %v, catch-up from empty %v\n", e.name,
			rows[i].restart.Round(time.Millisecond), rows[i].catchUp.Round(time.Millisecond))
	}
	fmt.Printf("a follower of an ensemble holding %d znodes: from process start to serving the last znode\n", o.znodes)
	fmt.Printf("%-28s | %10s | %10s | %8s\n", "", "ZooKeeper", "gokeeper", "gk/ZK")
	fmt.Println(strings.Repeat("-", 66))
	for _, r := range []struct {
		label  string
		zk, gk time.Duration
	}{
		{"restart (SIGTERM, start)", rows[0].restart, rows[1].restart},
		{"catch-up from empty (SNAP)", rows[0].catchUp, rows[1].catchUp},
	} {
		fmt.Printf("%-28s | %10v | %10v | %8.2f\n", r.label, r.zk.Round(time.Millisecond), r.gk.Round(time.Millisecond), r.gk.Seconds()/r.zk.Seconds())
	}
	fmt.Println()
	return nil
}

func ensembleConfig(o *options, e *ensemble, c *cell) bench.Config {
	cfg := bench.DefaultConfig()
	cfg.Servers = e.addrs()
	cfg.Workload = c.workload
	cfg.Conns = c.clients
	cfg.Depth = o.depth
	cfg.Duration = c.dur
	cfg.ReadPct = c.readPct
	cfg.Progress = 0
	return cfg
}

// failoverTimes is one failover, each duration from the leader's SIGKILL.
type failoverTimes struct {
	elected time.Duration // a survivor says it leads
	write   time.Duration // the first write after the kill is acknowledged
	rejoin  time.Duration // the restarted member follows again
}

func (f failoverTimes) String() string {
	return fmt.Sprintf("elected %v, first write %v, killed member back %v",
		f.elected.Round(time.Millisecond), f.write.Round(time.Millisecond), f.rejoin.Round(time.Millisecond))
}

// failover kills e's leader with SIGKILL while writers keep writing
// through every member, and measures the times of failoverTimes. The
// killed member is restarted as soon as a new leader acknowledged a write.
func failover(e *ensemble) (failoverTimes, error) {
	var f failoverTimes
	old := e.leader()
	if old < 0 {
		return f, fmt.Errorf("no leader")
	}
	var survivors []string
	for i, m := range e.members {
		if i != old {
			survivors = append(survivors, m.addr)
		}
	}
	// Steady load: one writer per survivor, each a fresh session when its
	// connection fails; acked records when each write was acknowledged.
	var killed atomic.Int64 // unix nanos of the kill, 0 before
	var firstAck atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, addr := range survivors {
		wg.Go(func() { steadyWriter(addr, fmt.Sprintf("/failover-%d", w), &killed, &firstAck, stop) })
	}
	time.Sleep(500 * time.Millisecond) // NB: let the writers reach a steady pace
	m := e.members[old]
	at := time.Now()
	killed.Store(at.UnixNano())
	m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
	defer func() { close(stop); wg.Wait() }()

	deadline := at.Add(2 * time.Minute)
	for f.elected == 0 && time.Now().Before(deadline) {
		for _, a := range survivors {
			if mode(a) == "leader" {
				f.elected = time.Since(at)
				break
			}
		}
		time.Sleep(2 * time.Millisecond) // NB: polling processes we do not control
	}
	for firstAck.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if f.elected == 0 || firstAck.Load() == 0 {
		return f, fmt.Errorf("no leader or no write within 2 minutes of the kill")
	}
	f.write = time.Duration(firstAck.Load() - at.UnixNano())
	if _, err := m.start(""); err != nil {
		return f, err
	}
	for time.Now().Before(deadline) {
		if mode(m.addr) == "follower" {
			f.rejoin = time.Since(at)
			return f, nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return f, fmt.Errorf("the killed member did not follow within 2 minutes")
}

// steadyWriter sets path's data over and over through addr, reconnecting
// after an error; the first write acknowledged after killed is set is
// stored in firstAck (unix nanos).
func steadyWriter(addr, path string, killed, firstAck *atomic.Int64, stop <-chan struct{}) {
	var c *bench.Conn
	defer func() {
		if c != nil {
			c.Abort()
		}
	}()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if c == nil {
			var err error
			if c, err = bench.Dial(addr, 1, nil); err != nil {
				c = nil
				time.Sleep(time.Millisecond)
				continue
			}
			c.Call(jute.OpCreate, func(b []byte) []byte {
				b = jute.AppendString(b, path)
				b = jute.AppendBuffer(b, nil)
				b = jute.AppendInt(b, 1)
				b = jute.AppendInt(b, jute.PermAll)
				b = jute.AppendString(b, "world")
				b = jute.AppendString(b, "anyone")
				return jute.AppendInt(b, 0)
			})
		}
		sent := time.Now().UnixNano()
		r, err := c.Call(jute.OpSetData, func(b []byte) []byte {
			b = jute.AppendString(b, path)
			b = jute.AppendBuffer(b, []byte("x"))
			return jute.AppendInt(b, -1)
		})
		if err != nil {
			c.Abort()
			c = nil
			continue
		}
		// NB: a write sent before the kill proves nothing about the new leader.
		if k := killed.Load(); r.Err == jute.CodeOK && k != 0 && sent > k {
			firstAck.CompareAndSwap(0, time.Now().UnixNano())
		}
	}
}

type failoverStats struct{ elected, write, rejoin []time.Duration }

func (s *failoverStats) add(f failoverTimes) {
	s.elected = append(s.elected, f.elected)
	s.write = append(s.write, f.write)
	s.rejoin = append(s.rejoin, f.rejoin)
}

func medianMax(d []time.Duration) (med, mx time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}

func printFailover(rows [2]failoverStats) {
	fmt.Printf("failover: SIGKILL of the leader under steady writes through the survivors, %d rounds each; times from the kill (median / max)\n", len(rows[0].write))
	fmt.Printf("%-24s | %21s | %21s | %10s\n", "", "ZooKeeper", "gokeeper", "median gk/ZK")
	fmt.Println(strings.Repeat("-", 86))
	for _, r := range []struct {
		label string
		pick  func(*failoverStats) []time.Duration
	}{
		{"leader elected", func(s *failoverStats) []time.Duration { return s.elected }},
		{"first write acked", func(s *failoverStats) []time.Duration { return s.write }},
		{"killed member following", func(s *failoverStats) []time.Duration { return s.rejoin }},
	} {
		zm, zx := medianMax(r.pick(&rows[0]))
		gm, gx := medianMax(r.pick(&rows[1]))
		fmt.Printf("%-24s | %9v / %9v | %9v / %9v | %10.2f\n", r.label, zm.Round(time.Millisecond), zx.Round(time.Millisecond),
			gm.Round(time.Millisecond), gx.Round(time.Millisecond), gm.Seconds()/zm.Seconds())
	}
	fmt.Println()
}
