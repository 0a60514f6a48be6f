package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/server"
)

// PrometheusAlias is gokeeper's short name for ZooKeeper's Prometheus
// metrics provider in metricsProvider.className.
const PrometheusAlias = "prometheus"

// PrometheusEnabled reports whether cfg asks for the Prometheus endpoint:
// metricsProvider.className is ZooKeeper's PrometheusMetricsProvider
// class or PrometheusAlias.
func PrometheusEnabled(cfg server.Config) bool {
	c := strings.TrimSpace(cfg.MetricsProviderClassName)
	return c == server.DefaultPrometheusProvider || strings.EqualFold(c, PrometheusAlias)
}

// The quantiles ZooKeeper's Prometheus provider publishes for a
// summary: the median for a basic one, 0.5, 0.9 and 0.99 for an advanced
// one (readlatency, updatelatency, the *_latency and *_time_ms ones).
var (
	basicQuantiles    = []float64{0.5}
	advancedQuantiles = []float64{0.5, 0.9, 0.99}
)

// zkCollector exports the admin's monitor values under ZooKeeper's
// metric names, as ZooKeeper 3.8's PrometheusMetricsProvider (Prometheus
// simpleclient 0.9) does: each gauge a gauge, each counter a counter
// under its own name (no _total), each summary a summary with its
// quantiles, _sum and _count. Counters and summaries count since start:
// srst does not reset them, as it does not ZooKeeper's. It is an
// unchecked collector: the set is computed per scrape.
type zkCollector struct{ a *Admin }

func (zkCollector) Describe(chan<- *prometheus.Desc) {}

func (c zkCollector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.a.monitorValues() {
		if v.kind == kindInfo {
			continue // NB: dumpMonitorValues's, mntr and monitor only
		}
		var f float64
		t := prometheus.GaugeValue
		switch x := v.val.(type) {
		case nil:
			// NB: a null gauge is 0 on ZooKeeper's endpoint.
		case int64:
			f = float64(x)
		case float64:
			f = x
		default:
			continue
		}
		if v.kind == kindCounter {
			t, f = prometheus.CounterValue, float64(v.total)
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(v.name, v.name, nil, nil), t, f)
	}
	for _, s := range c.a.summaries {
		v := s.Values()
		qs := basicQuantiles
		if s.Level() == metrics.Advanced {
			qs = advancedQuantiles
		}
		q := make(map[float64]float64, len(qs))
		for _, x := range qs {
			q[x] = float64(v.Quantile(x))
		}
		ch <- prometheus.MustNewConstSummary(prometheus.NewDesc(s.Name(), s.Name(), nil, nil),
			uint64(v.TotalCount), float64(v.TotalSum), q)
	}
}

// MetricsHandler returns the /metrics handler: ZooKeeper's metrics plus
// the Go runtime's and the process's (go_*, process_*), which stand in
// for the JVM metrics ZooKeeper exports with exportJvmInfo.
func (a *Admin) MetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(zkCollector{a},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// ListenMetrics binds the Prometheus endpoint on addr; it serves
// /metrics.
func (a *Admin) ListenMetrics(addr string) (*HTTPServer, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.MetricsHandler())
	return listenHTTP(addr, mux, 30*time.Second)
}
