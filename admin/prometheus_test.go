package admin

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/gokeeper/gokeeper/server"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func TestPrometheusMetrics(t *testing.T) {
	f := startFixture(t, nil)
	f.populate(t)
	fams := scrape(t, f.metricsURL)
	checkPrometheusNames(t, fams)
	wantType := map[string]dto.MetricType{
		"znode_count": dto.MetricType_GAUGE, "watch_count": dto.MetricType_GAUGE,
		"ephemerals_count": dto.MetricType_GAUGE, "approximate_data_size": dto.MetricType_GAUGE,
		"num_alive_connections": dto.MetricType_GAUGE, "outstanding_requests": dto.MetricType_GAUGE,
		"avg_latency": dto.MetricType_GAUGE, "min_latency": dto.MetricType_GAUGE,
		"max_latency": dto.MetricType_GAUGE, "packets_received": dto.MetricType_GAUGE,
		"packets_sent": dto.MetricType_GAUGE, "uptime": dto.MetricType_GAUGE,
		"global_sessions": dto.MetricType_GAUGE, "open_file_descriptor_count": dto.MetricType_GAUGE,
		"max_file_descriptor_count": dto.MetricType_GAUGE, "auth_failed_count": dto.MetricType_GAUGE,
		"bytes_received_count":         dto.MetricType_COUNTER,
		"readlatency":                  dto.MetricType_SUMMARY,
		"updatelatency":                dto.MetricType_SUMMARY,
		"go_goroutines":                dto.MetricType_GAUGE,
		"go_memstats_heap_alloc_bytes": dto.MetricType_GAUGE,
		"process_open_fds":             dto.MetricType_GAUGE,
	}
	for name, typ := range wantType {
		fam, ok := fams[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if fam.GetType() != typ {
			t.Errorf("%s is %v, want %v", name, fam.GetType(), typ)
		}
	}
	if v := fams["znode_count"].GetMetric()[0].GetGauge().GetValue(); v != float64(f.srv.Tree().NodeCount()) || v != 8 {
		t.Errorf("znode_count %v", v)
	}
	if v := fams["ephemerals_count"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("ephemerals_count %v", v)
	}
	s := fams["readlatency"].GetMetric()[0].GetSummary()
	if s.GetSampleCount() < 3 || len(s.GetQuantile()) != len(advancedQuantiles) {
		t.Errorf("readlatency %v", s)
	}
	for i, q := range s.GetQuantile() {
		if q.GetQuantile() != advancedQuantiles[i] {
			t.Errorf("quantile %v, want %v", q.GetQuantile(), advancedQuantiles[i])
		}
	}
	// Counters move between scrapes.
	before := fams["packets_received"].GetMetric()[0].GetGauge().GetValue()
	c := f.connect(t)
	for range 5 {
		if _, _, err := c.Get("/app"); err != nil {
			t.Fatal(err)
		}
	}
	after := scrape(t, f.metricsURL)
	if v := after["packets_received"].GetMetric()[0].GetGauge().GetValue(); v < before+5 {
		t.Errorf("packets_received %v -> %v", before, v)
	}
	if v := after["num_alive_connections"].GetMetric()[0].GetGauge().GetValue(); v != 2 {
		t.Errorf("num_alive_connections %v", v)
	}
}

func TestPrometheusEnabled(t *testing.T) {
	for _, tt := range []struct {
		class string
		want  bool
	}{
		{server.DefaultPrometheusProvider, true},
		{"prometheus", true},
		{"org.apache.zookeeper.metrics.impl.DefaultMetricsProvider", false},
		{"", false},
	} {
		cfg := server.DefaultConfig()
		cfg.MetricsProviderClassName = tt.class
		if got := PrometheusEnabled(cfg); got != tt.want {
			t.Errorf("%q: %v", tt.class, got)
		}
	}
}

// checkPrometheusNames checks every family of a scrape against
// ZooKeeper's names (testdata/zk/servermetrics.txt) and the types
// ZooKeeper's Prometheus provider gives them: gauges, counters, and
// summaries with quantile 0.5 (0.5, 0.9 and 0.99 for an advanced one).
// The Go client's go_* and process_* families stand in for the JVM's.
func checkPrometheusNames(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	names := zkServerMetrics(t)
	for name, fam := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || name == "promhttp_metric_handler_errors_total" {
			continue
		}
		zn, ok := names[name]
		if !ok {
			t.Errorf("%s is not one of ZooKeeper's metric names", name)
			continue
		}
		var want dto.MetricType
		var quantiles []float64
		switch zn.kind {
		case "gauge":
			want = dto.MetricType_GAUGE
		case "counter":
			want = dto.MetricType_COUNTER
		case "summary":
			want, quantiles = dto.MetricType_SUMMARY, []float64{0.5}
		case "summary_advanced":
			want, quantiles = dto.MetricType_SUMMARY, []float64{0.5, 0.9, 0.99}
		default:
			t.Errorf("%s is a ZooKeeper %s, which gokeeper does not export", name, zn.kind)
			continue
		}
		if fam.GetType() != want {
			t.Errorf("%s is a %v, ZooKeeper's is a %v", name, fam.GetType(), want)
			continue
		}
		if len(fam.GetMetric()) != 1 || len(fam.GetMetric()[0].GetLabel()) != 0 {
			t.Errorf("%s: %d series, want one without labels", name, len(fam.GetMetric()))
			continue
		}
		if quantiles != nil {
			var got []float64
			for _, q := range fam.GetMetric()[0].GetSummary().GetQuantile() {
				got = append(got, q.GetQuantile())
			}
			if !slices.Equal(got, quantiles) {
				t.Errorf("%s has quantiles %v, ZooKeeper's %v", name, got, quantiles)
			}
		}
	}
}
