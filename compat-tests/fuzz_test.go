package compat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/compat-tests/scenarios"
)

// ciSeeds are the seeds every `make compat` runs.
var ciSeeds = []int64{1, 2, 3, 4, 5, 6, 7, 8}

// fuzzOps is the length of each generated op sequence.
const fuzzOps = 60

func fuzzSeeds(t *testing.T) []int64 {
	s := os.Getenv("GOKEEPER_COMPAT_SEEDS")
	if s == "" {
		return ciSeeds
	}
	var out []int64
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if lo, hi, ok := strings.Cut(f, "-"); ok {
			a, err1 := strconv.ParseInt(lo, 10, 64)
			b, err2 := strconv.ParseInt(hi, 10, 64)
			if err1 != nil || err2 != nil || b < a {
				t.Fatalf("bad seed range %q", f)
			}
			for v := a; v <= b; v++ {
				out = append(out, v)
			}
			continue
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("bad seed %q", f)
		}
		out = append(out, v)
	}
	return out
}

// diverges runs ops on both targets and returns the first divergence.
func diverges(want, got scenario.Target, name string, ops []scenarios.RandomOp) *scenario.Divergence {
	sc := scenarios.RandomScenario(name, ops)
	return scenario.Diff(scenario.Execute(want, sc, nextRoot()), scenario.Execute(got, sc, nextRoot()))
}

// shrink returns a shorter op sequence that still diverges: first the
// prefix up to the divergent step, then greedily without single ops.
func shrink(want, got scenario.Target, name string, ops []scenarios.RandomOp, budget int) []scenarios.RandomOp {
	for lo, hi := 1, len(ops); lo < hi && budget > 0; budget-- {
		mid := (lo + hi) / 2
		if diverges(want, got, name, ops[:mid]) != nil {
			hi = mid
			ops = ops[:mid]
		} else {
			lo = mid + 1
		}
	}
	for i := len(ops) - 1; i >= 0 && budget > 0; i-- {
		budget--
		cand := append(append([]scenarios.RandomOp(nil), ops[:i]...), ops[i+1:]...)
		if len(cand) > 0 && diverges(want, got, name, cand) != nil {
			ops = cand
		}
	}
	return ops
}

// TestCompatFuzz runs seeded random op sequences (several sessions,
// watches, multis, failures) on Apache ZooKeeper twice and on gokeeper. A
// divergence is reported with its seed and a shrunk reproduction.
func TestCompatFuzz(t *testing.T) {
	requireZooKeeper(t)
	zk := target(env.zk)
	for _, seed := range fuzzSeeds(t) {
		name := fmt.Sprintf("fuzz/seed-%d", seed)
		t.Run(name, func(t *testing.T) {
			env.scenarios.Add(1)
			ops := scenarios.GenerateOps(seed, fuzzOps)
			if d := diverges(zk, zk, name, ops); d != nil {
				t.Fatalf("Apache ZooKeeper disagrees with itself on seed %d:\n%s", seed, d)
			}
			env.selfChecks.Add(1)
			if env.gkErr != nil {
				env.gkSkipped.Add(1)
				return
			}
			gk := target(env.gk)
			d := diverges(zk, gk, name, ops)
			if d == nil {
				return
			}
			env.diverged.Add(1)
			small := shrink(zk, gk, name, ops, 40)
			var repro strings.Builder
			for _, o := range small {
				fmt.Fprintf(&repro, "    %s\n", o)
			}
			if d2 := diverges(zk, gk, name, small); d2 != nil {
				d = d2
			}
			t.Errorf("seed %d diverges (rerun: make compat-fuzz SEEDS=%d); minimal reproduction (%d of %d ops):\n%s%s",
				seed, seed, len(small), len(ops), repro.String(), d)
		})
	}
}
