package admin

import "github.com/gokeeper/gokeeper/internal/metrics"

// dumpSummary appends a summary as ZooKeeper's metrics dump names it:
// avg_, min_, max_, cnt_, sum_ and, for an advanced one, p50_, p95_,
// p99_, p999_ followed by the summary's name; the values are since the
// last srst.
func dumpSummary(o *object, s *metrics.Summary) {
	v := s.Values()
	name := s.Name()
	o.put("avg_"+name, v.Avg)
	o.put("min_"+name, v.Min)
	o.put("max_"+name, v.Max)
	o.put("cnt_"+name, v.Count)
	o.put("sum_"+name, v.Sum)
	if s.Level() == metrics.Advanced {
		o.put("p50_"+name, v.Quantile(0.5))
		o.put("p95_"+name, v.Quantile(0.95))
		o.put("p99_"+name, v.Quantile(0.99))
		o.put("p999_"+name, v.Quantile(0.999))
	}
}
