package server

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the server-wide counters that `srvr`, `stat` and `mntr`
// report. Latencies are from a request's arrival to its reply being
// queued, as ZooKeeper's ServerStats measures them.
type Stats struct {
	PacketsReceived atomic.Int64
	PacketsSent     atomic.Int64

	mu struct {
		sync.Mutex
		count int64
		total time.Duration
		min   time.Duration
		max   time.Duration
	}
}

func (st *Stats) record(d time.Duration) {
	st.PacketsSent.Add(1)
	st.mu.Lock()
	if st.mu.count == 0 || d < st.mu.min {
		st.mu.min = d
	}
	if d > st.mu.max {
		st.mu.max = d
	}
	st.mu.count++
	st.mu.total += d
	st.mu.Unlock()
}

// Latency returns the min, average and max request latency in ms, the
// way ZooKeeper prints them (0/0/0 before any request).
func (st *Stats) Latency() (minMs, avgMs float64, maxMs int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mu.count == 0 {
		return 0, 0, 0
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	avg := ms(st.mu.total) / float64(st.mu.count)
	return math.Floor(ms(st.mu.min)), math.Round(avg*10000) / 10000, int64(ms(st.mu.max))
}

// Reset clears the counters (`srst`, `crst`).
func (st *Stats) Reset() {
	st.PacketsReceived.Store(0)
	st.PacketsSent.Store(0)
	st.mu.Lock()
	st.mu.count, st.mu.total, st.mu.min, st.mu.max = 0, 0, 0, 0
	st.mu.Unlock()
}
