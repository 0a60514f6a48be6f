// Command chaos runs the fault-injection suite: histories of client
// operations against a 3-member ensemble under network, process and disk
// faults, each checked (see chaos/README.md).
//
//	CHAOS_RUNS    histories to run (default 1)
//	CHAOS_SEED    the first history's seed (default: from the clock); the
//	              next ones use seed+1, seed+2, ...
//	CHAOS_TARGET  gokeeper (default) or zookeeper (Apache ZooKeeper 3.8)
//	CHAOS_OUT     where failing histories are kept (default bin/chaos-histories)
//	CHAOS_WINDOW  how long each history's faults last (default 12s)
//	CHAOS_KEEP    1 keeps every history's files, not only failing ones
//	CHAOS_MEMBERS the ensemble's size, 3 (default) or 5
//	CHAOS_FAULTS  the fault kinds to draw from, comma-separated (default:
//	              all the target can have): partition, bridge, oneway,
//	              delay, drop, kill9, pause, disk
//
// With -selftest it runs up to CHAOS_RUNS histories against a gokeeper
// built with the chaosbroken tag, faults aimed at the leader, and
// succeeds only if one of them finds an anomaly.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gokeeper/gokeeper/chaos"
)

func main() {
	bin := flag.String("gokeeper", "bin/gokeeper-chaos", "the gokeeper binary, built with -tags chaos")
	selftest := flag.Bool("selftest", false, "require an anomaly: the binary is a chaosbroken build")
	flag.Parse()

	runs := envInt("CHAOS_RUNS", 1)
	members := envInt("CHAOS_MEMBERS", 3)
	if members != 3 && members != 5 {
		fatalf("CHAOS_MEMBERS=%d: want 3 or 5", members)
	}
	seed := uint64(time.Now().UnixNano() % 1_000_000_000)
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			fatalf("CHAOS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	target := chaos.Target(envString("CHAOS_TARGET", string(chaos.Gokeeper)))
	if target != chaos.Gokeeper && target != chaos.ZooKeeper {
		fatalf("CHAOS_TARGET=%q: want gokeeper or zookeeper", target)
	}
	window, err := time.ParseDuration(envString("CHAOS_WINDOW", "12s"))
	if err != nil || window < 5*time.Second {
		fatalf("CHAOS_WINDOW=%q: want a duration of at least 5s", os.Getenv("CHAOS_WINDOW"))
	}
	out, err := filepath.Abs(envString("CHAOS_OUT", "bin/chaos-histories"))
	if err != nil {
		fatalf("%v", err)
	}
	if *selftest && target != chaos.Gokeeper {
		fatalf("-selftest runs against gokeeper only")
	}
	if target == chaos.Gokeeper {
		if *bin, err = filepath.Abs(*bin); err != nil {
			fatalf("%v", err)
		}
		if _, err := os.Stat(*bin); err != nil {
			fatalf("gokeeper binary: %v (make chaos builds it)", err)
		}
	}

	var kinds []chaos.FaultKind
	if s := os.Getenv("CHAOS_FAULTS"); s != "" {
		for _, k := range strings.Split(s, ",") {
			if !slices.Contains(chaos.Kinds(chaos.Gokeeper), chaos.FaultKind(k)) {
				fatalf("CHAOS_FAULTS: unknown fault %q", k)
			}
			kinds = append(kinds, chaos.FaultKind(k))
		}
	}

	histories, ops, anomalies, errs := 0, 0, 0, 0
	for i := 0; i < runs; i++ {
		s := seed + uint64(i)
		o := chaos.Options{Target: target, Bin: *bin, Seed: s, Window: window, Members: members,
			Kinds: kinds,
			Dir:   filepath.Join(out, fmt.Sprintf("%s-seed-%d", target, s)), Keep: os.Getenv("CHAOS_KEEP") == "1"}
		if *selftest {
			o.Dir = filepath.Join(out, fmt.Sprintf("selftest-seed-%d", s))
			o.Kinds, o.AtLeader = []chaos.FaultKind{chaos.Partition}, true
		}
		os.RemoveAll(o.Dir)
		r := chaos.Run(o)
		histories++
		ops += r.Ops
		if r.Err != nil {
			errs++
		}
		anomalies += len(r.Anomalies)
		line := r.Line(i + 1)
		if len(r.Anomalies) > 0 {
			line += " (kept in " + o.Dir + ")"
		}
		fmt.Println(line)
		if *selftest && len(r.Anomalies) > 0 {
			break
		}
	}
	fmt.Printf("chaos: %d histories, %d operations, %d anomalies\n", histories, ops, anomalies)
	switch {
	case *selftest && anomalies == 0:
		fmt.Printf("chaos: self-test FAILED: %d histories against the broken build found no anomaly\n", histories)
		os.Exit(1)
	case *selftest:
		fmt.Printf("chaos: self-test passed: the broken build was caught in history %d\n", histories)
	case anomalies > 0 || errs > 0:
		os.Exit(1)
	}
}

func envString(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	s := os.Getenv(k)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		fatalf("%s=%q: want a positive number", k, s)
	}
	return v
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "chaos: "+format+"\n", args...)
	os.Exit(2)
}
