// Package metrics holds the counters and summaries gokeeper measures
// under the names of Apache ZooKeeper's ServerMetrics, so that mntr,
// /commands/monitor and /metrics print what ZooKeeper prints.
//
// It mirrors ZooKeeper's MetricsContext: every layer asks a Registry for
// the counters and summaries it records, by ZooKeeper's name, when it is
// built (persistence.Options.Metrics, peer.Config.Metrics, the server's
// own), and records into them as it works; package admin reads the
// registry and prints. A nil *Registry hands out metrics that belong to
// no registry, and every method of a nil *Counter or *Summary does
// nothing, so a layer built without a registry (as in its own tests)
// records nowhere at no cost.
//
// Every value has two readings: since the last Reset (what mntr prints,
// as ZooKeeper's DefaultMetricsProvider resets on srst) and since start
// (Prometheus's counters and summary counts, which must never go down,
// as ZooKeeper's PrometheusMetricsProvider never resets them).
//
// The package imports nothing of gokeeper's, so any layer may use it.
package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Level is how much a summary reports, ZooKeeper's DetailLevel.
type Level int

const (
	// Basic is ZooKeeper's AvgMinMaxCounter: avg, min, max, cnt and sum
	// (and the median on Prometheus).
	Basic Level = iota
	// Advanced is ZooKeeper's AvgMinMaxPercentileCounter: also p50, p95,
	// p99 and p999 (quantiles 0.5, 0.9 and 0.99 on Prometheus).
	Advanced
)

// WindowSize is how many recent values a summary keeps for its
// percentiles (ZooKeeper's AvgMinMaxPercentileCounter keeps a 1028-value
// reservoir).
const WindowSize = 1028

// Counter is ZooKeeper's SimpleCounter: a count that only goes up.
type Counter struct {
	name  string
	total atomic.Int64 // since start
	base  atomic.Int64 // total at the last Reset
}

// Name returns the counter's ZooKeeper name.
func (c *Counter) Name() string { return c.name }

// Add adds n.
func (c *Counter) Add(n int64) {
	if c != nil {
		c.total.Add(n)
	}
}

// Get returns the count since the last Reset (mntr's value).
func (c *Counter) Get() int64 {
	if c == nil {
		return 0
	}
	return c.total.Load() - c.base.Load()
}

// Total returns the count since start (Prometheus's value).
func (c *Counter) Total() int64 {
	if c == nil {
		return 0
	}
	return c.total.Load()
}

func (c *Counter) reset() { c.base.Store(c.total.Load()) }

// Summary is ZooKeeper's AvgMinMaxCounter and, at Advanced,
// AvgMinMaxPercentileCounter: the count, sum, min and max of the values
// added since the last Reset, and percentiles over the WindowSize most
// recent values (a sliding window where ZooKeeper samples uniformly; for
// steady load they agree). Values are milliseconds, bytes or counts, as
// ZooKeeper's are.
type Summary struct {
	name  string
	level Level

	mu struct {
		sync.Mutex
		count, sum         int64 // since the last Reset
		min, max           int64
		totalCnt, totalSum int64   // since start
		window             []int64 // ring of the latest values
		next               int
	}
}

// Name returns the summary's ZooKeeper name.
func (s *Summary) Name() string { return s.name }

// Level returns the summary's level.
func (s *Summary) Level() Level { return s.level }

// Add records one value.
func (s *Summary) Add(v int64) { s.AddN(v, 1) }

// AddN records n values equal to v, as n calls of Add would, under one
// hold of the lock: a stage that handles a batch records each request's
// value with it.
func (s *Summary) AddN(v int64, n int64) {
	if s == nil || n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(v, n)
}

func (s *Summary) addLocked(v, n int64) {
	if s.mu.count == 0 || v < s.mu.min {
		s.mu.min = v
	}
	if s.mu.count == 0 || v > s.mu.max {
		s.mu.max = v
	}
	s.mu.count += n
	s.mu.sum += v * n
	s.mu.totalCnt += n
	s.mu.totalSum += v * n
	for range min(n, WindowSize) {
		if len(s.mu.window) < WindowSize {
			s.mu.window = append(s.mu.window, v)
			continue
		}
		s.mu.window[s.mu.next] = v
		s.mu.next = (s.mu.next + 1) % WindowSize
	}
}

// AddAll records every value of vs under one hold of the lock: a stage
// that handles a batch collects its requests' values and records them
// once per batch.
func (s *Summary) AddAll(vs []int64) {
	if s == nil || len(vs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vs {
		s.addLocked(v, 1)
	}
}

func (s *Summary) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.count, s.mu.sum, s.mu.min, s.mu.max = 0, 0, 0, 0
	s.mu.window, s.mu.next = s.mu.window[:0], 0
}

// Values is a summary at one moment.
type Values struct {
	// Count, Sum, Min and Max are since the last Reset (0 before any
	// value); Avg is Sum/Count rounded to four places, as ZooKeeper's
	// dump rounds it.
	Count, Sum, Min, Max int64
	Avg                  float64
	// TotalCount and TotalSum are since start.
	TotalCount, TotalSum int64
	// Sorted is the window, sorted.
	Sorted []int64
}

// Values returns the summary's values now.
func (s *Summary) Values() Values {
	if s == nil {
		return Values{}
	}
	s.mu.Lock()
	v := Values{Count: s.mu.count, Sum: s.mu.sum, Min: s.mu.min, Max: s.mu.max,
		TotalCount: s.mu.totalCnt, TotalSum: s.mu.totalSum, Sorted: slices.Clone(s.mu.window)}
	s.mu.Unlock()
	if v.Count > 0 {
		// NB: ZooKeeper's getAvg is total/count as a double, rounded to
		// four places by BigDecimal in the dump.
		v.Avg = math.Round(float64(v.Sum)/float64(v.Count)*10000) / 10000
	}
	slices.Sort(v.Sorted)
	return v
}

// Quantile returns the value below which a fraction q of the window lies
// (interpolated between nearest ranks, as Dropwizard's Snapshot.getValue,
// which ZooKeeper's percentiles come from), 0 for an empty window.
func (v Values) Quantile(q float64) int64 {
	n := len(v.Sorted)
	if n == 0 {
		return 0
	}
	pos := q * float64(n+1)
	switch {
	case pos < 1:
		return v.Sorted[0]
	case pos >= float64(n):
		return v.Sorted[n-1]
	}
	lower := v.Sorted[int(pos)-1]
	upper := v.Sorted[int(pos)]
	return lower + int64(math.Round((pos-math.Floor(pos))*float64(upper-lower)))
}

// Registry is the set of named metrics one server records into,
// ZooKeeper's root MetricsContext. Its methods are safe for concurrent use.
type Registry struct {
	mu        sync.Mutex
	counters  map[string]*Counter
	summaries map[string]*Summary
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{counters: map[string]*Counter{}, summaries: map[string]*Summary{}}
}

// Counter returns the counter named name, making it on first use. A nil
// registry returns a counter of its own.
func (r *Registry) Counter(name string) *Counter {
	if r == nil {
		return &Counter{name: name}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.summaries[name]; ok {
		panic(fmt.Sprintf("metrics: %s is already a summary", name))
	}
	c := r.counters[name]
	if c == nil {
		c = &Counter{name: name}
		r.counters[name] = c
	}
	return c
}

// Summary returns the summary named name at level, making it on first
// use. Asking for a name at two levels, or for a counter's name, panics,
// as ZooKeeper's getSummary throws. A nil registry returns a summary of
// its own.
func (r *Registry) Summary(name string, level Level) *Summary {
	if r == nil {
		return &Summary{name: name, level: level}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.counters[name]; ok {
		panic(fmt.Sprintf("metrics: %s is already a counter", name))
	}
	s := r.summaries[name]
	if s == nil {
		s = &Summary{name: name, level: level}
		r.summaries[name] = s
	} else if s.level != level {
		panic(fmt.Sprintf("metrics: summary %s registered at level %d, asked for %d", name, s.level, level))
	}
	return s
}

// Counters returns the registered counters, by name.
func (r *Registry) Counters() []*Counter {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Counter, 0, len(r.counters))
	for _, c := range r.counters {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Summaries returns the registered summaries, by name.
func (r *Registry) Summaries() []*Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Summary, 0, len(r.summaries))
	for _, s := range r.summaries {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Reset starts every metric's since-reset reading over (srst); the
// since-start readings go on.
func (r *Registry) Reset() {
	for _, c := range r.Counters() {
		c.reset()
	}
	for _, s := range r.Summaries() {
		s.reset()
	}
}

// BufferStats is ZooKeeper's BufferStats: the last, smallest and largest
// of a series of sizes, -1 before the first (client_response_stats, the
// leader's proposal sizes).
type BufferStats struct {
	mu struct {
		sync.Mutex
		set            bool
		last, min, max int64
	}
}

// Set records one size.
func (b *BufferStats) Set(size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.mu.set {
		b.mu.set, b.mu.min, b.mu.max = true, size, size
	}
	b.mu.last = size
	b.mu.min = min(b.mu.min, size)
	b.mu.max = max(b.mu.max, size)
}

// Get returns the last, smallest and largest size, each -1 before any.
func (b *BufferStats) Get() (last, smallest, largest int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.mu.set {
		return -1, -1, -1
	}
	return b.mu.last, b.mu.min, b.mu.max
}

// Reset forgets every size.
func (b *BufferStats) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.set = false
}
