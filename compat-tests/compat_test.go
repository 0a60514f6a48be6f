// Package compat is the differential test suite: it runs every scenario of
// package scenarios against Apache ZooKeeper (twice, to prove that the
// normalisation removes all run-to-run noise) and against gokeeper, and
// fails on any divergence that DIVERGENCES.md does not list.
//
// The suite is heavy, so it runs only with GOKEEPER_COMPAT=1 (make compat).
// GOKEEPER_COMPAT_SEEDS selects the fuzz seeds ("1,5,10-20"), and
// GOKEEPER_COMPAT_SUMMARY names a file that receives the summary line.
package compat

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/harness"
	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/compat-tests/scenarios"
)

var runFilter = flag.String("compat.run", "", "only run scenarios whose name contains this substring")

// env is the suite's shared state, set up once by TestMain.
var env struct {
	enabled    bool
	zk         *harness.Server
	zkErr      error
	gk         *harness.Server
	gkErr      error
	gkBin      string // the gokeeper binary TestMain built, or ""
	gkBuildErr error
	settings   harness.Settings
	roots      atomic.Int64
	scenarios  atomic.Int64
	diverged   atomic.Int64
	allowed    atomic.Int64
	gkSkipped  atomic.Int64
	selfChecks atomic.Int64
}

func TestMain(m *testing.M) {
	flag.Parse()
	env.enabled = os.Getenv("GOKEEPER_COMPAT") != ""
	if !env.enabled {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "gokeeper-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env.settings = harness.DefaultSettings()
	env.zk, env.zkErr = harness.StartZooKeeper(dir, env.settings, 60*time.Second)
	if bin, err := harness.BuildGokeeper(moduleRoot(), dir); err != nil {
		env.gkErr, env.gkBuildErr = err, err
	} else {
		env.gkBin = bin
		env.gk, env.gkErr = harness.StartGokeeper(bin, dir, env.settings, 15*time.Second)
	}
	// Stop the servers on SIGINT/SIGTERM too (Ctrl-C, CI cancellation);
	// Pdeathsig covers a crash of the test binary.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; ok {
			env.zk.Stop()
			env.gk.Stop()
			stopEnsembles()
			os.Exit(1)
		}
	}()
	code := m.Run()
	signal.Stop(sigs)
	env.zk.Stop()
	env.gk.Stop()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Printf("compat: server logs kept in %s\n", dir)
	}
	gk := "gokeeper: ran"
	if env.gkErr != nil {
		gk = "gokeeper: SKIPPED (" + firstLine(env.gkErr.Error()) + ")"
	}
	summary := fmt.Sprintf("compat summary (standalone ZooKeeper and gokeeper): scenarios run=%d, zookeeper self-check identical=%d, divergences=%d (unlisted=%d, allowed by DIVERGENCES.md=%d), gokeeper skipped=%d; %s\n",
		env.scenarios.Load(), env.selfChecks.Load(), env.diverged.Load(), env.diverged.Load()-env.allowed.Load(),
		env.allowed.Load(), env.gkSkipped.Load(), gk)
	if ens.ran {
		summary += ensembleSummary()
	}
	fmt.Print(summary)
	if f := os.Getenv("GOKEEPER_COMPAT_SUMMARY"); f != "" {
		_ = os.WriteFile(f, []byte(summary), 0o644)
	}
	os.Exit(code)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func moduleRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func target(srv *harness.Server) scenario.Target {
	return scenario.Target{
		Name:                srv.Name,
		Addr:                srv.Addr,
		AdminAddr:           srv.AdminAddr,
		MinSessionTimeoutMs: int32(env.settings.MinSessionTimeoutMs),
		MaxSessionTimeoutMs: int32(env.settings.MaxSessionTimeoutMs),
	}
}

func nextRoot() string { return fmt.Sprintf("/compat-%d-r", env.roots.Add(1)) }

func requireZooKeeper(t *testing.T) {
	t.Helper()
	if !env.enabled {
		t.Skip("set GOKEEPER_COMPAT=1 (make compat) to run the differential suite")
	}
	if env.zkErr != nil {
		t.Fatalf("Apache ZooKeeper did not start: %v", env.zkErr)
	}
}

func selected() []scenario.Scenario {
	var out []scenario.Scenario
	for _, sc := range scenarios.All() {
		if *runFilter == "" || strings.Contains(sc.Name, *runFilter) {
			out = append(out, sc)
		}
	}
	return out
}

// TestCompat runs every scenario on Apache ZooKeeper twice (the runs must
// agree exactly after normalisation) and on gokeeper, and fails on any
// divergence not listed in DIVERGENCES.md.
func TestCompat(t *testing.T) {
	requireZooKeeper(t)
	allowed, err := scenario.LoadAllowed("DIVERGENCES.md")
	if err != nil {
		t.Fatalf("DIVERGENCES.md: %v", err)
	}
	if env.gkErr != nil {
		t.Logf("gokeeper side SKIPPED: %v", env.gkErr)
	}
	for _, sc := range selected() {
		t.Run(sc.Name, func(t *testing.T) {
			env.scenarios.Add(1)
			zk := target(env.zk)
			first := scenario.Execute(zk, sc, nextRoot())
			second := scenario.Execute(zk, sc, nextRoot())
			if d := scenario.Diff(first, second); d != nil {
				t.Fatalf("Apache ZooKeeper disagrees with itself (normalisation or scenario is not deterministic):\n%s\nfull transcript:\n%s", d, first)
			}
			env.selfChecks.Add(1)
			if testing.Verbose() {
				t.Logf("transcript:\n%s", first)
			}
			if env.gkErr != nil {
				env.gkSkipped.Add(1)
				return
			}
			got := scenario.Execute(target(env.gk), sc, nextRoot())
			if d := scenario.Diff(first, got); d != nil {
				env.diverged.Add(1)
				if reason := allowed.Reason(sc.Name); reason != "" {
					env.allowed.Add(1)
					t.Logf("allowed divergence (%s):\n%s", reason, d)
					return
				}
				t.Errorf("unlisted divergence:\n%s", d)
			}
		})
	}
}
