package admin

import (
	"math"
	"slices"
	"sync"
)

// reservoirSize is how many recent samples a summary keeps for its
// percentiles (ZooKeeper's AvgMinMaxPercentileCounter keeps a 1028-sample
// reservoir).
const reservoirSize = 1028

// summary is ZooKeeper's AvgMinMaxCounter, and with percentiles its
// AvgMinMaxPercentileCounter: count, sum, min and max of the values added
// since the last reset, and percentiles over the most recent
// reservoirSize values (a sliding window where ZooKeeper samples
// uniformly; for steady load they agree).
type summary struct {
	name        string
	percentiles bool // an "advanced" summary: mntr prints p50..p999

	mu struct {
		sync.Mutex
		count, sum int64
		min, max   int64
		window     []int64 // ring buffer of the latest samples
		next       int
	}
}

func newSummary(name string, percentiles bool) *summary {
	return &summary{name: name, percentiles: percentiles}
}

// add records one value.
func (s *summary) add(v int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.count == 0 || v < s.mu.min {
		s.mu.min = v
	}
	if s.mu.count == 0 || v > s.mu.max {
		s.mu.max = v
	}
	s.mu.count++
	s.mu.sum += v
	if !s.percentiles {
		return
	}
	if len(s.mu.window) < reservoirSize {
		s.mu.window = append(s.mu.window, v)
		return
	}
	s.mu.window[s.mu.next] = v
	s.mu.next = (s.mu.next + 1) % reservoirSize
}

// reset forgets every value (srst).
func (s *summary) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.count, s.mu.sum, s.mu.min, s.mu.max = 0, 0, 0, 0
	s.mu.window, s.mu.next = s.mu.window[:0], 0
}

// summaryValues is a summary at one moment.
type summaryValues struct {
	count, sum, min, max int64
	avg                  float64
	sorted               []int64 // the window, sorted (percentile summaries)
}

func (s *summary) values() summaryValues {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := summaryValues{count: s.mu.count, sum: s.mu.sum, min: s.mu.min, max: s.mu.max}
	if v.count > 0 {
		// NB: ZooKeeper's getAvg is total/count as a double, rounded to
		// four places by BigDecimal in the dump.
		v.avg = math.Round(float64(v.sum)/float64(v.count)*10000) / 10000
	}
	if s.percentiles {
		v.sorted = slices.Clone(s.mu.window)
		slices.Sort(v.sorted)
	}
	return v
}

// quantile returns the value below which a fraction q of the window lies
// (nearest rank, as Dropwizard's Snapshot.getValue), 0 for no samples.
func (v summaryValues) quantile(q float64) int64 {
	n := len(v.sorted)
	if n == 0 {
		return 0
	}
	pos := q * float64(n+1)
	switch {
	case pos < 1:
		return v.sorted[0]
	case pos >= float64(n):
		return v.sorted[n-1]
	}
	lower := v.sorted[int(pos)-1]
	upper := v.sorted[int(pos)]
	return lower + int64(math.Round((pos-math.Floor(pos))*float64(upper-lower)))
}

// dump appends the summary as ZooKeeper's metrics dump names it:
// avg_, min_, max_, cnt_, sum_ and, with percentiles, p50_, p95_, p99_,
// p999_ followed by the summary's name.
func (s *summary) dump(o *object) {
	v := s.values()
	o.put("avg_"+s.name, v.avg)
	o.put("min_"+s.name, v.min)
	o.put("max_"+s.name, v.max)
	o.put("cnt_"+s.name, v.count)
	o.put("sum_"+s.name, v.sum)
	if s.percentiles {
		o.put("p50_"+s.name, v.quantile(0.5))
		o.put("p95_"+s.name, v.quantile(0.95))
		o.put("p99_"+s.name, v.quantile(0.99))
		o.put("p999_"+s.name, v.quantile(0.999))
	}
}
