package admin

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/gokeeper/gokeeper/server"
)

// zkMetricNames returns the metric names ZooKeeper 3.8 publishes, taken
// from the captured mntr: its keys without "zk_", summaries under their
// base name (the Prometheus provider exports the same metrics mntr
// dumps).
func zkMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	keys, _ := mntr(t, golden(t, "4lw/mntr.txt"))
	all := map[string]bool{}
	for _, k := range keys {
		all[strings.TrimPrefix(k, "zk_")] = true
	}
	names := map[string]bool{}
	for k := range all {
		if k == "version" || k == "server_state" {
			continue // strings: mntr only
		}
		if base := summaryPrefix.ReplaceAllString(k, ""); base != k && all["cnt_"+base] {
			names[base] = true // a summary's avg_/min_/... key
			continue
		}
		names[k] = true
	}
	return names
}

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
	zkNames := zkMetricNames(t)
	for name := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		if !zkNames[name] {
			t.Errorf("%s is not one of ZooKeeper's metric names", name)
		}
	}
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
	if s.GetSampleCount() < 3 || len(s.GetQuantile()) != len(summaryQuantiles) {
		t.Errorf("readlatency %v", s)
	}
	for i, q := range s.GetQuantile() {
		if q.GetQuantile() != summaryQuantiles[i] {
			t.Errorf("quantile %v, want %v", q.GetQuantile(), summaryQuantiles[i])
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
