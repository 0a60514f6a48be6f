package bench_test

import (
	"io"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/bench"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/wire/wiretest"
)

// startServer runs a gokeeper server in process on a loopback port and
// returns its address.
func startServer(t *testing.T) string {
	t.Helper()
	return wiretest.Start(t, "", nil, nil).Addr
}

// TestSmoke runs every workload briefly against an in-process gokeeper and
// checks that each did work and met no errors.
func TestSmoke(t *testing.T) {
	addr := startServer(t)
	for _, wl := range bench.Workloads {
		t.Run(wl, func(t *testing.T) {
			cfg := bench.DefaultConfig()
			cfg.Servers = []string{addr}
			cfg.Workload = wl
			cfg.Conns = 4
			cfg.Depth = 4
			cfg.Keys = 100
			cfg.Duration = 150 * time.Millisecond
			cfg.Progress = 0
			switch wl {
			case bench.WorkPopulate, bench.WorkDelete:
				cfg.Ops = 1500
				cfg.Duration = 0 // NB: all of them, however slow the machine
			case bench.WorkChildren10k:
				cfg.Duration = 50 * time.Millisecond
			}
			res, err := bench.Run(cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops == 0 || res.OpsPerSec <= 0 || res.P99 <= 0 || res.Max < res.P50 {
				t.Fatalf("no work measured: %s", res)
			}
			if res.ErrorCount() != 0 {
				t.Fatalf("errors: %s", res)
			}
			switch wl {
			case bench.WorkPopulate, bench.WorkDelete:
				if res.Ops != 1500 {
					t.Fatalf("%s did %d ops, want 1500", wl, res.Ops)
				}
			case bench.WorkWatch:
				if res.Notifications != res.Ops*int64(cfg.Conns) {
					t.Fatalf("%d rounds of %d watchers gave %d notifications", res.Ops, cfg.Conns, res.Notifications)
				}
			}
			t.Log(res)
		})
	}
	// The populate run left its last znode where PopulatePath says.
	c, err := bench.Dial(addr, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Call(jute.OpExists, func(b []byte) []byte {
		b = jute.AppendString(b, bench.PopulatePath("/bench", 1499))
		return jute.AppendBool(b, false)
	})
	if err != nil || r.Err != jute.CodeOK {
		t.Fatalf("exists %s: %v %v", bench.PopulatePath("/bench", 1499), err, r.Err)
	}
}

// TestOpBudget checks that -ops bounds a run exactly.
func TestOpBudget(t *testing.T) {
	addr := startServer(t)
	cfg := bench.DefaultConfig()
	cfg.Servers = []string{addr, addr}
	cfg.Workload = bench.WorkMix
	cfg.Conns = 3
	cfg.Keys = 10
	cfg.Duration = 0
	cfg.Ops = 777
	res, err := bench.Run(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 777 || res.ErrorCount() != 0 {
		t.Fatalf("%s", res)
	}
}
