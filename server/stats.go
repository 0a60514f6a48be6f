package server

import (
	"math"
	"sync/atomic"
	"time"
)

// Stats are the server-wide counters that `srvr`, `stat` and `mntr`
// report. Latencies are from a request's arrival to its reply being
// queued, as ZooKeeper's ServerStats measures them. NB: all atomic: every
// reply records here, so no lock.
type Stats struct {
	PacketsReceived atomic.Int64
	PacketsSent     atomic.Int64

	count atomic.Int64
	total atomic.Int64 // ns
	min   atomic.Int64 // ns; valid once count > 0
	max   atomic.Int64 // ns
}

func (st *Stats) record(d time.Duration) {
	st.PacketsSent.Add(1)
	ns := int64(d)
	if st.count.Add(1) == 1 {
		st.min.Store(ns)
	}
	st.total.Add(ns)
	for cur := st.min.Load(); ns < cur && !st.min.CompareAndSwap(cur, ns); cur = st.min.Load() {
	}
	for cur := st.max.Load(); ns > cur && !st.max.CompareAndSwap(cur, ns); cur = st.max.Load() {
	}
}

// Latency returns the min, average and max request latency in ms, the
// way ZooKeeper prints them (0/0/0 before any request).
func (st *Stats) Latency() (minMs, avgMs float64, maxMs int64) {
	n := st.count.Load()
	if n == 0 {
		return 0, 0, 0
	}
	ms := func(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }
	avg := ms(st.total.Load()) / float64(n)
	return math.Floor(ms(st.min.Load())), math.Round(avg*10000) / 10000, int64(ms(st.max.Load()))
}

// Reset clears the counters (`srst`, `crst`).
func (st *Stats) Reset() {
	st.PacketsReceived.Store(0)
	st.PacketsSent.Store(0)
	st.count.Store(0)
	st.total.Store(0)
	st.min.Store(0)
	st.max.Store(0)
}
