package admin

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"

	"github.com/gokeeper/gokeeper/compat-tests/harness"
	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
)

// zkName is one of ZooKeeper's metric names, as
// testdata/zk/servermetrics.txt lists it (servermetrics.py extracted it
// from ZooKeeper's source).
type zkName struct {
	kind     string // counter, summary, summary_advanced, summary_set, ..., gauge, info
	class    string // the class that registers it
	releases string // "3.8,3.9" or "3.9"
}

func zkServerMetrics(t *testing.T) map[string]zkName {
	t.Helper()
	names := map[string]zkName{}
	sc := bufio.NewScanner(strings.NewReader(golden(t, "servermetrics.txt")))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("servermetrics.txt: bad line %q", l)
		}
		names[f[0]] = zkName{kind: f[1], class: f[2], releases: f[3]}
	}
	if len(names) < 150 {
		t.Fatalf("servermetrics.txt lists only %d names", len(names))
	}
	return names
}

// mntrBase returns the ZooKeeper name an mntr key prints ("zk_p99_readlatency"
// is readlatency's, "zk_avg_app_read_per_namespace" the summary set
// read_per_namespace's), or "" for a key that is none of them.
func mntrBase(key string, names map[string]zkName) string {
	k := strings.TrimPrefix(key, "zk_")
	if _, ok := names[k]; ok {
		return k
	}
	p := summaryPrefix.FindString(k)
	if p == "" {
		return ""
	}
	rest := k[len(p):]
	if n, ok := names[rest]; ok && strings.HasPrefix(n.kind, "summary") {
		return rest
	}
	for name, n := range names {
		if strings.HasPrefix(n.kind, "summary_set") && strings.HasSuffix(rest, "_"+name) {
			return name
		}
	}
	return ""
}

// notExportedDoc returns doc.go's "Not exported" section, its words
// separated by single spaces.
func notExportedDoc(t *testing.T) string {
	t.Helper()
	doc := readDoc(t)
	i := strings.Index(doc, "# Not exported")
	j := strings.Index(doc, "# JVM-only output elsewhere")
	if i < 0 || j < i {
		t.Fatal("doc.go has no \"# Not exported\" section before \"# JVM-only output elsewhere\"")
	}
	return doc[i:j]
}

// documented reports whether text names name as a word.
func documented(text, name string) bool {
	return regexp.MustCompile(`(^|[\s(])` + regexp.QuoteMeta(name) + `([\s,;.):]|$)`).MatchString(text)
}

// TestMetricTableMatchesZooKeeper checks metrics.go's tables against
// ZooKeeper: every counter and summary of its ServerMetrics is in
// zkMetrics with its kind, in the order ZooKeeper 3.8's mntr dumps them;
// every gauge is in zkGauges in the order of the three captures; and
// doc.go's "Not exported" list names exactly what gokeeper leaves out.
func TestMetricTableMatchesZooKeeper(t *testing.T) {
	names := zkServerMetrics(t)
	notExported := notExportedDoc(t)
	inTable := map[string]zkMetric{}
	for _, m := range zkMetrics {
		if _, dup := inTable[m.name]; dup {
			t.Errorf("%s is in zkMetrics twice", m.name)
		}
		inTable[m.name] = m
		want := "counter"
		switch {
		case !m.counter && m.level == metrics.Basic:
			want = "summary"
		case !m.counter:
			want = "summary_advanced"
		}
		if zn, ok := names[m.name]; !ok || zn.kind != want {
			t.Errorf("zkMetrics has %s as a %s; ZooKeeper has %q", m.name, want, zn.kind)
		}
		if doc := documented(notExported, m.name); doc == m.exported {
			t.Errorf("%s: exported %v, but doc.go's \"Not exported\" list names it: %v", m.name, m.exported, doc)
		}
	}
	exportedGauge := map[string]bool{}
	for _, g := range zkGauges {
		exportedGauge[g] = true
	}
	for name, zn := range names {
		switch zn.kind {
		case "counter", "summary", "summary_advanced":
			if _, ok := inTable[name]; !ok {
				t.Errorf("ZooKeeper's %s %s is not in zkMetrics", zn.kind, name)
			}
		case "gauge":
			if !exportedGauge[name] {
				t.Errorf("ZooKeeper's gauge %s is not in zkGauges", name)
			}
		case "info":
		default: // the sets: one value per key
			if !documented(notExported, name) {
				t.Errorf("ZooKeeper's %s %s is not in doc.go's \"Not exported\" list", zn.kind, name)
			}
		}
	}
	if len(zkGauges) != len(exportedGauge) {
		t.Errorf("zkGauges has duplicates")
	}
	// Order: the captures' keys, as metrics.go's tables order them.
	rank := map[string]int{}
	for i, g := range zkGauges {
		rank[g] = i
	}
	for i, m := range zkMetrics {
		rank[m.name] = len(zkGauges) + i
	}
	for _, capture := range []string{"mntr.txt", "mntr_leader.txt", "mntr_follower.txt"} {
		keys, _ := mntr(t, golden(t, "4lw/"+capture))
		var seq []string
		for _, k := range keys {
			if b := mntrBase(k, names); b != "" && !slices.Contains(seq, b) {
				if _, ok := rank[b]; ok {
					seq = append(seq, b)
				}
			}
		}
		if !slices.IsSortedFunc(seq, func(a, b string) int { return rank[a] - rank[b] }) {
			t.Errorf("%s: metrics.go's order differs from ZooKeeper's:\n%q", capture, seq)
		}
		if len(seq) < 100 {
			t.Errorf("%s: only %d names matched", capture, len(seq))
		}
	}
}

// mntrOf returns a server's mntr as a map.
func mntrOf(t *testing.T, addr string) map[string]string {
	t.Helper()
	_, vals := mntr(t, fourLetter(t, addr, "mntr"))
	return vals
}

// mntrNum returns an mntr value as a number (0 when absent).
func mntrNum(t *testing.T, vals map[string]string, key string) float64 {
	t.Helper()
	v, ok := vals["zk_"+key]
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("zk_%s = %q: %v", key, v, err)
	}
	return f
}

// moveCheck asserts how metrics moved between two mntr readings and
// notes each name asserted.
type moveCheck struct {
	t       *testing.T
	checked map[string]bool
}

// grew asserts that a counter, or a summary's count, grew by at least n.
func (c *moveCheck) grew(before, after map[string]string, name string, n float64) {
	c.t.Helper()
	key := name
	if _, ok := after["zk_cnt_"+name]; ok {
		key = "cnt_" + name
	}
	b, a := mntrNum(c.t, before, key), mntrNum(c.t, after, key)
	if _, ok := after["zk_"+key]; !ok {
		c.t.Errorf("%s is not in mntr", name)
	} else if a < b+n {
		c.t.Errorf("%s: %v -> %v, want it to grow by at least %v", key, b, a, n)
	}
	c.checked[name] = true
}

// ensembleOnly are the metrics that only an ensemble member moves;
// TestEnsembleMetrics asserts that each does. elsewhere names the test
// that moves each metric a healthy server cannot.
var (
	ensembleOnly = []string{
		"proposal_count", "commit_count", "diff_count", "snap_count", "looking_count", "revalidate_count",
		"learner_proposal_received_count", "learner_commit_received_count",
		"cnxn_closed_without_zk_server_running",
		"election_time", "unavailable_time", "leader_unavailable_time", "follower_sync_time",
		"observer_sync_time", "quorum_ack_latency", "proposal_ack_creation_latency",
		"proposal_latency", "commit_propagation_latency",
	}
	elsewhere = map[string]string{
		"unrecoverable_error_count": "server's TestLogFailureStopsWritesKeepsReads (a txn log that cannot sync)",
		"tls_handshake_exceeded":    "wire's TestTLSHandshakeLimitCounted (a secure client port)",
		"digest_mismatches_count":   "server's TestDigestMismatchCounted (a txn whose digest is not the tree's)",
	}
)

// TestMetricsMoveUnderLoad drives a standalone server with a real client
// over TCP, and raw connections for what a well-behaved client never
// does, and checks that every metric gokeeper exports moved (those only
// an ensemble moves are TestEnsembleMetrics's). A restart on the same
// data then checks the start-up metrics, and the snapshot command its
// own.
func TestMetricsMoveUnderLoad(t *testing.T) {
	dir := t.TempDir()
	wireOpts := func(o *wire.Options) {
		o.HandshakeTimeout = 300 * time.Millisecond
		o.MaxClientCnxns = 10
	}
	f := startFixtureIn(t, dir, nil, wireOpts)
	mc := &moveCheck{t: t, checked: map[string]bool{}}
	before := mntrOf(t, f.addr)

	// A client's writes, reads and watches of every kind.
	c := f.connect(t)
	acl := zk.WorldACL(zk.PermAll)
	mustCreate := func(path string, data []byte) {
		t.Helper()
		if _, err := c.Create(path, data, 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	waitEvent := func(ch <-chan zk.Event, want zk.EventType) {
		t.Helper()
		select {
		case ev := <-ch:
			if ev.Type != want {
				t.Fatalf("event %v, want %v", ev.Type, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %v event", want)
		}
	}
	_, _, created, err := c.ExistsW("/w")
	if err != nil {
		t.Fatal(err)
	}
	mustCreate("/w", []byte("0"))
	waitEvent(created, zk.EventNodeCreated)
	_, _, changed, err := c.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/w", []byte("1"), -1); err != nil {
		t.Fatal(err)
	}
	waitEvent(changed, zk.EventNodeDataChanged)
	_, _, children, err := c.ChildrenW("/w")
	if err != nil {
		t.Fatal(err)
	}
	mustCreate("/w/c", nil)
	waitEvent(children, zk.EventNodeChildrenChanged)
	_, _, deleted, err := c.GetW("/w/c")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/w/c", -1); err != nil {
		t.Fatal(err)
	}
	waitEvent(deleted, zk.EventNodeDeleted)
	const writes = 40
	for i := range writes {
		mustCreate(fmt.Sprintf("/n%d", i), []byte("0123456789"))
		if _, _, err := c.Get(fmt.Sprintf("/n%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	// A session dropped by its client without closeSession, revalidated
	// on a new connection, dropped again and left to expire.
	rc, res, err := rawclient.Connect(f.addr, rawclient.ConnectOptions{TimeoutMs: 400}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	rc2, res2, err := rawclient.Connect(f.addr, rawclient.ConnectOptions{TimeoutMs: 400,
		SessionID: res.Response.SessionId, Passwd: res.Response.Passwd}, 5*time.Second)
	if err != nil || res2.Response.SessionId != res.Response.SessionId {
		t.Fatalf("reconnect: %v %+v", err, res2)
	}
	rc2.Close()
	// A connection that never sends its ConnectRequest, and one that
	// sends a malformed one.
	silent, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection silent past the handshake timeout got an answer")
	}
	silent.Close()
	bad, err := rawclient.Dial(f.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.WriteFrame([]byte{0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	bad.WaitClosed(5 * time.Second)
	bad.Close()
	// Connections past maxClientCnxns (10, the client's included); each
	// held one a session, so that none times out meanwhile.
	var held []*rawclient.Client
	for range 12 {
		rc, _, err := rawclient.Connect(f.addr, rawclient.ConnectOptions{TimeoutMs: 4000}, 5*time.Second)
		if err != nil {
			continue // NB: refused
		}
		held = append(held, rc)
	}
	// NB: connections just closed may still count against the limit.
	if len(held) > 9 || len(held) == 0 {
		t.Fatalf("%d connections from one address besides the client's, maxClientCnxns is 10", len(held))
	}
	for _, rc := range held {
		rc.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.ln.ConnectionCount() > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after closing all but the client's", f.ln.ConnectionCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The session's expiry, then the client's own close (closeSession).
	deadline = time.Now().Add(10 * time.Second)
	for mntrNum(t, mntrOf(t, f.addr), "stale_sessions_expired") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the dropped session did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Close()
	deadline = time.Now().Add(10 * time.Second)
	for mntrNum(t, mntrOf(t, f.addr), "cnt_close_session_prep_time") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the client's closeSession was not prepared")
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := mntrOf(t, f.addr)

	// The txns: the creates, the set and the delete above, two sessions
	// and their closes.
	txns := float64(writes + 2 + 1 + 1 + 2 + 2)
	for _, m := range []struct {
		name string
		n    float64
	}{
		{"bytes_received_count", 1000}, {"response_bytes", 1000}, {"watch_bytes", 4 * 16},
		{"connection_request_count", 3 + float64(len(held))}, {"connection_revalidate_count", 1},
		{"connection_drop_count", 2}, {"sessionless_connections_expired", 1},
		{"unsuccessful_handshake", 1}, {"connection_rejected", 1}, {"stale_sessions_expired", 1},
		{"prep_processor_request_queued", txns}, {"sync_processor_request_queued", txns},
		{"outstanding_changes_queued", writes}, {"outstanding_changes_removed", writes},
		{"readlatency", writes}, {"updatelatency", writes},
		{"prep_processor_queue_size", 1}, {"prep_processor_queue_time_ms", txns},
		{"prep_process_time", txns}, {"close_session_prep_time", 2},
		{"sync_processor_queue_size", 1}, {"sync_processor_batch_size", 1},
		{"sync_processor_queue_time_ms", txns}, {"sync_process_time", txns},
		{"sync_processor_queue_flush_time_ms", 1}, {"sync_processor_queue_and_flush_time_ms", txns},
		{"fsynctime", 1}, {"propagation_latency", txns},
		{"node_created_watch_count", 1}, {"node_changed_watch_count", 1},
		{"node_children_watch_count", 1}, {"node_deleted_watch_count", 1},
	} {
		mc.grew(before, after, m.name, m.n)
	}
	// A batch's size adds up to the txns logged.
	if b, a := mntrNum(t, before, "sum_sync_processor_batch_size"), mntrNum(t, after, "sum_sync_processor_batch_size"); a-b != mntrNum(t, after, "sync_processor_request_queued")-mntrNum(t, before, "sync_processor_request_queued") {
		t.Errorf("sync_processor_batch_size adds up to %v txns, %v were logged", a-b,
			mntrNum(t, after, "sync_processor_request_queued")-mntrNum(t, before, "sync_processor_request_queued"))
	}
	// Each watch reached one watcher.
	for _, w := range []string{"node_created", "node_changed", "node_children", "node_deleted"} {
		if v := mntrNum(t, after, "max_"+w+"_watch_count"); v != 1 {
			t.Errorf("max_%s_watch_count %v, want 1", w, v)
		}
	}
	lastZxid := f.srv.LastZxid()
	f.stop()

	// A restart replays the log: every txn, none from a snapshot.
	f = startFixtureIn(t, dir, nil, wireOpts)
	started := mntrOf(t, f.addr)
	for _, name := range []string{"dbinittime", "startup_snap_load_time", "startup_txns_load_time", "startup_txns_loaded"} {
		if n := mntrNum(t, started, "cnt_"+name); n != 1 {
			t.Errorf("%s counted %v starts, want 1", name, n)
		}
		mc.checked[name] = true
	}
	if n := mntrNum(t, started, "sum_startup_txns_loaded"); n != float64(lastZxid&0xffffffff) {
		t.Errorf("startup_txns_loaded %v, want the %d txns logged", n, lastZxid&0xffffffff)
	}

	// The snapshot command: a snapshot, a refusal by the rate limiter,
	// and a failure.
	snapshot := func() int {
		status, _, _ := httpGet(t, f.adminURL+"/snapshot?streaming=false", map[string]string{"Authorization": "ip"})
		return status
	}
	if s := snapshot(); s != 200 {
		t.Fatalf("snapshot command: %d", s)
	}
	if s := snapshot(); s != 429 {
		t.Fatalf("second snapshot command: %d, want 429", s)
	}
	snaps := filepath.Join(dir, "snapshots")
	if err := os.Rename(snaps, snaps+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snaps, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.adm.snap.Lock()
	f.adm.snap.last = time.Time{} // NB: past the rate limiter
	f.adm.snap.Unlock()
	if s := snapshot(); s != 500 {
		t.Fatalf("snapshot command with no snapshot directory: %d, want 500", s)
	}
	os.Remove(snaps)
	if err := os.Rename(snaps+".moved", snaps); err != nil {
		t.Fatal(err)
	}
	snapped := mntrOf(t, f.addr)
	mc.grew(started, snapped, "snapshottime", 1)
	mc.grew(started, snapped, "snapshot_rate_limited_count", 1)
	mc.grew(started, snapped, "snapshot_error_count", 1)

	// Every exported metric was asserted here, or is moved by the
	// ensemble test or another test.
	for _, m := range zkMetrics {
		if !m.exported || mc.checked[m.name] || slices.Contains(ensembleOnly, m.name) || elsewhere[m.name] != "" {
			continue
		}
		t.Errorf("%s is exported but no test checks that it moves", m.name)
	}
	// What the server records is all exported: a metric recorded under a
	// name missing from zkMetrics would be measured and never printed.
	checkRegistryExported(t, f.srv)
}

// checkRegistryExported checks that every metric in srv's registry is
// one zkMetrics exports, of the same kind.
func checkRegistryExported(t *testing.T, srv *server.Server) {
	t.Helper()
	exported := map[string]zkMetric{}
	for _, m := range zkMetrics {
		if m.exported {
			exported[m.name] = m
		}
	}
	for _, c := range srv.Metrics().Counters() {
		if m, ok := exported[c.Name()]; !ok || !m.counter {
			t.Errorf("counter %s is recorded but not exported as a counter", c.Name())
		}
	}
	for _, s := range srv.Metrics().Summaries() {
		if m, ok := exported[s.Name()]; !ok || m.counter || m.level != s.Level() {
			t.Errorf("summary %s is recorded but not exported at its level", s.Name())
		}
	}
}

// TestPrometheusCountsNeverGoDown: srst starts mntr's counters and
// summaries over, as ZooKeeper's default provider does, but /metrics
// keeps counting, as ZooKeeper's Prometheus provider does, so that
// rate() and increase() see no reset.
func TestPrometheusCountsNeverGoDown(t *testing.T) {
	f := startFixture(t, nil)
	c := f.connect(t)
	for i := range 5 {
		if _, err := c.Create(fmt.Sprintf("/p%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	first := scrape(t, f.metricsURL)
	if got := fourLetter(t, f.addr, "srst"); got != "Server stats reset.\n" {
		t.Fatalf("srst = %q", got)
	}
	vals := mntrOf(t, f.addr)
	if n := mntrNum(t, vals, "cnt_updatelatency"); n != 0 {
		t.Errorf("mntr's cnt_updatelatency %v after srst, want 0", n)
	}
	if n := mntrNum(t, vals, "sync_processor_request_queued"); n != 0 {
		t.Errorf("mntr's sync_processor_request_queued %v after srst, want 0", n)
	}
	second := scrape(t, f.metricsURL)
	for name, fam := range first {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		m1, m2 := fam.GetMetric()[0], second[name].GetMetric()[0]
		switch fam.GetType() {
		case dto.MetricType_COUNTER:
			if m2.GetCounter().GetValue() < m1.GetCounter().GetValue() {
				t.Errorf("counter %s went down after srst: %v -> %v", name, m1.GetCounter().GetValue(), m2.GetCounter().GetValue())
			}
		case dto.MetricType_SUMMARY:
			if m2.GetSummary().GetSampleCount() < m1.GetSummary().GetSampleCount() || m2.GetSummary().GetSampleSum() < m1.GetSummary().GetSampleSum() {
				t.Errorf("summary %s went down after srst", name)
			}
		}
	}
	if v := first["updatelatency"].GetMetric()[0].GetSummary().GetSampleCount(); v < 5 {
		t.Errorf("updatelatency_count %d after 5 writes", v)
	}
	if v := second["sync_processor_request_queued"].GetMetric()[0].GetCounter().GetValue(); v < 5 {
		t.Errorf("sync_processor_request_queued %v on /metrics after srst, want the 5 writes still counted", v)
	}
}

// TestAlertRules checks that every metric the alert rules of ZooKeeper's
// monitoring guide name (testdata/zk/alert-rules.yml, unchanged) is on
// gokeeper's /metrics, with the suffix the rule uses: a gauge as is, a
// summary's _sum and _count. The JVM's metrics are the exception doc.go
// names (the Go runtime's stand in), and up is Prometheus's own.
func TestAlertRules(t *testing.T) {
	f := startFixture(t, nil)
	c := f.connect(t)
	if _, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if status, _, b := httpGet(t, f.adminURL+"/snapshot?streaming=false", map[string]string{"Authorization": "ip"}); status != 200 {
		t.Fatalf("snapshot: %d %s", status, b)
	}
	status, _, body := httpGet(t, f.metricsURL, nil)
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	// The exposition's samples by name (labels dropped).
	samples := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, rest, _ := strings.Cut(l, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			if j := strings.LastIndexByte(l, ' '); j >= 0 {
				rest = l[j+1:]
			}
		}
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			t.Fatalf("sample %q: %v", l, err)
		}
		samples[name] = v
	}
	ident := regexp.MustCompile(`[a-zA-Z_][a-zA-Z0-9_]*`)
	keywords := map[string]bool{"rate": true, "increase": true, "area": true, "heap": true}
	rules := 0
	for _, l := range strings.Split(golden(t, "alert-rules.yml"), "\n") {
		expr, ok := strings.CutPrefix(strings.TrimSpace(l), "expr:")
		if !ok {
			continue
		}
		rules++
		expr = regexp.MustCompile(`\[[^]]*\]|"[^"]*"|#.*$`).ReplaceAllString(expr, "")
		for _, name := range ident.FindAllString(expr, -1) {
			switch {
			case keywords[name]:
			case name == "up":
			case strings.HasPrefix(name, "jvm_"):
				if !strings.Contains(readDoc(t), "jvm_* ones") {
					t.Errorf("rule metric %s: doc.go does not say what stands in for the JVM's", name)
				}
			default:
				if _, ok := samples[name]; !ok {
					t.Errorf("rule %q: %s is not on /metrics", strings.TrimSpace(expr), name)
				}
			}
		}
	}
	if rules != 11 {
		t.Fatalf("%d rules read, want the guide's 11", rules)
	}
	// The values the rules compare are measured.
	if samples["znode_count"] < 6 || samples["num_alive_connections"] < 1 || samples["approximate_data_size"] < 1 ||
		samples["open_file_descriptor_count"] < 5 || samples["fsynctime_count"] < 1 || samples["snapshottime_count"] < 1 {
		t.Errorf("rule metrics not measured: znode_count %v num_alive_connections %v approximate_data_size %v open_file_descriptor_count %v fsynctime_count %v snapshottime_count %v",
			samples["znode_count"], samples["num_alive_connections"], samples["approximate_data_size"],
			samples["open_file_descriptor_count"], samples["fsynctime_count"], samples["snapshottime_count"])
	}
}

// TestMntrAgainstLiveZooKeeper compares gokeeper's mntr with a running
// Apache ZooKeeper's (Debian's 3.8), where it is installed: the same
// keys in the same order, but for the ones doc.go says gokeeper leaves
// out and the ones it adds.
func TestMntrAgainstLiveZooKeeper(t *testing.T) {
	if err := harness.ZooKeeperInstalled(); err != nil {
		t.Skipf("Apache ZooKeeper is not installed (apt-get install zookeeper): %v", err)
	}
	// NB: a loaded machine's ports are busy: ZooKeeper gets three tries
	// to bind its own.
	var zs *harness.Server
	var err error
	for try := 0; zs == nil; try++ {
		if zs, err = harness.StartZooKeeper(t.TempDir(), harness.DefaultSettings(), 60*time.Second); err != nil && try == 2 {
			t.Fatal(err)
		}
	}
	t.Cleanup(zs.Stop)
	zc, zev, err := zk.Connect([]string{zs.Addr}, 10*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	deadline := time.After(30 * time.Second)
	for zc.State() != zk.StateHasSession {
		select {
		case <-zev:
		case <-deadline:
			t.Fatalf("no session with ZooKeeper at %s: %s", zs.Addr, zs.LogTail(2000))
		}
	}
	f := startFixture(t, nil)
	gc := f.connect(t)
	for _, c := range []*zk.Conn{zc, gc} {
		for i := range 3 {
			if _, err := c.Create(fmt.Sprintf("/live%d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantKeys, want := mntr(t, fourLetter(t, zs.Addr, "mntr"))
	gotKeys, got := mntr(t, fourLetter(t, f.addr, "mntr"))
	checkMntrAgainst(t, "live ZooKeeper", gotKeys, got, wantKeys, want)
	if n := mntrNum(t, want, "sync_processor_request_queued"); n < 3 {
		t.Errorf("live ZooKeeper logged %v txns, want at least 3: is it the server the test wrote to?", n)
	}
}
