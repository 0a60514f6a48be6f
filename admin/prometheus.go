package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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

// summaryQuantiles are the quantiles ZooKeeper 3.8's Prometheus provider
// publishes for an advanced summary (readlatency, updatelatency).
var summaryQuantiles = []float64{0.5, 0.9, 0.99}

// zkCollector exports the admin's monitor values under ZooKeeper's
// metric names: the gauges ZooKeeperServer.registerMetrics registers,
// the ServerMetrics counters gokeeper measures, and the latency
// summaries. It is an unchecked collector: the set is computed per
// scrape.
type zkCollector struct{ a *Admin }

func (zkCollector) Describe(chan<- *prometheus.Desc) {}

func (c zkCollector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.a.monitorValues() {
		if v.kind == kindInfo || strings.HasPrefix(v.name, "go_") {
			continue // NB: the Go collector exports the runtime's own go_* metrics
		}
		var f float64
		switch x := v.val.(type) {
		case int64:
			f = float64(x)
		case float64:
			f = x
		default:
			continue
		}
		t := prometheus.GaugeValue
		if v.kind == kindCounter {
			t = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(v.name, v.name, nil, nil), t, f)
	}
	for _, s := range c.a.summaries() {
		v := s.values()
		q := make(map[float64]float64, len(summaryQuantiles))
		for _, x := range summaryQuantiles {
			q[x] = float64(v.quantile(x))
		}
		ch <- prometheus.MustNewConstSummary(prometheus.NewDesc(s.name, s.name, nil, nil),
			uint64(v.count), float64(v.sum), q)
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
