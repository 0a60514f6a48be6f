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
	// AuthFailed counts clients refused by authentication outside auth
	// packets: a failed TLS handshake, an x509 certificate refused, a
	// failed SASL exchange (ZooKeeper's ServerStats.authFailedCount, which
	// also counts failed auth packets: package admin adds those).
	AuthFailed atomic.Int64

	// latency is the block replies record into since the last Reset,
	// which swaps in a fresh one: a record racing a Reset lands wholly in
	// the old block or wholly in the new.
	latency atomic.Pointer[latencyStats]
}

// latencyStats accumulates request latencies. NB: record updates count
// last, so a reader that sees count > 0 sees a min and a max set.
type latencyStats struct {
	count atomic.Int64
	total atomic.Int64 // ns
	min   atomic.Int64 // ns; math.MaxInt64 until the first record
	max   atomic.Int64 // ns
}

func newLatencyStats() *latencyStats {
	l := new(latencyStats)
	l.min.Store(math.MaxInt64)
	return l
}

// current returns the block to record into, making the first one.
func (st *Stats) current() *latencyStats {
	if l := st.latency.Load(); l != nil {
		return l
	}
	st.latency.CompareAndSwap(nil, newLatencyStats())
	return st.latency.Load()
}

func (st *Stats) record(d time.Duration) {
	st.PacketsSent.Add(1)
	l := st.current()
	ns := int64(d)
	l.total.Add(ns)
	for cur := l.min.Load(); ns < cur && !l.min.CompareAndSwap(cur, ns); cur = l.min.Load() {
	}
	for cur := l.max.Load(); ns > cur && !l.max.CompareAndSwap(cur, ns); cur = l.max.Load() {
	}
	l.count.Add(1)
}

// Latency returns the min, average and max request latency in ms, the
// way ZooKeeper prints them (0/0/0 before any request).
func (st *Stats) Latency() (minMs, avgMs float64, maxMs int64) {
	l := st.current()
	n := l.count.Load()
	if n == 0 {
		return 0, 0, 0
	}
	ms := func(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }
	avg := ms(l.total.Load()) / float64(n)
	return math.Floor(ms(l.min.Load())), math.Round(avg*10000) / 10000, int64(ms(l.max.Load()))
}

// Reset clears the counters (`srst`, `crst`).
func (st *Stats) Reset() {
	st.PacketsReceived.Store(0)
	st.PacketsSent.Store(0)
	st.latency.Store(newLatencyStats())
}
