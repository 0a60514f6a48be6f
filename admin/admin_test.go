package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
	"github.com/gokeeper/gokeeper/wire/wiretest"
)

// fixture is a live gokeeper server in process: client port, admin, the
// AdminServer and the Prometheus endpoint, all on loopback.
type fixture struct {
	srv        *server.Server
	ln         *wire.Listener
	adm        *Admin
	addr       string // client port
	adminURL   string // http://host:port/commands
	metricsURL string // http://host:port/metrics
	stop       func() // stops it all; also run when the test ends
}

func startFixture(t *testing.T, mutate func(*server.Config)) *fixture {
	t.Helper()
	return startFixtureIn(t, "", mutate, nil)
}

// startFixtureIn starts a fixture with its data in dir (a new temp dir if
// empty) and the client port's options adjusted by mutateWire.
func startFixtureIn(t *testing.T, dir string, mutate func(*server.Config), mutateWire func(*wire.Options)) *fixture {
	t.Helper()
	ts := wiretest.Start(t, dir, mutate, mutateWire)
	srv, ln, cfg := ts.Server, ts.Listener, ts.Config
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	adm := New(srv, ln, log)
	ln.SetFourLetter(adm.FourLetter().Answer)
	ah, err := adm.ListenAdminServer("127.0.0.1:0", cfg.AdminCommandURL, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	go ah.Serve()
	mh, err := adm.ListenMetrics("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go mh.Serve()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ah.Close()
			mh.Close()
			ts.Stop()
		})
	}
	t.Cleanup(stop)
	return &fixture{srv: srv, ln: ln, adm: adm, addr: ln.Addr().String(),
		adminURL:   "http://" + ah.Addr().String() + cfg.AdminCommandURL,
		metricsURL: "http://" + mh.Addr().String() + "/metrics", stop: stop}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

func (f *fixture) connect(t *testing.T) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{f.addr}, 4*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatal("no session")
		}
	}
	t.Cleanup(c.Close)
	return c
}

// populate builds the state capture.py built in ZooKeeper: /app with
// data, /app/a, an ephemeral /app/eph, a data watch on /app, a child
// watch on /app and an exists watch on /app/a.
func (f *fixture) populate(t *testing.T) *zk.Conn {
	t.Helper()
	c := f.connect(t)
	acl := zk.WorldACL(zk.PermAll)
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create("/app", []byte("hello"), 0, acl))
	must(c.Create("/app/a", bytes.Repeat([]byte("x"), 10), 0, acl))
	must(c.Create("/app/eph", nil, zk.FlagEphemeral, acl))
	if _, _, _, err := c.GetW("/app"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.ChildrenW("/app"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.ExistsW("/app/a"); err != nil {
		t.Fatal(err)
	}
	return c
}

func fourLetter(t *testing.T, addr, word string) string {
	t.Helper()
	return wiretest.FourLetter(t, addr, word)
}

func golden(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "zk", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shapeRules turn a line of output into its shape: the parts that vary
// between runs and servers (dates, addresses, session ids, numbers)
// become placeholders.
var shapeRules = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`-\$\{mvngit\.commit\.id\}|-gokeeper`), "-<qualifier>"},
	{regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} [A-Z]+ \d{4}`), "<date>"},
	{regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`), "<addr>"},
	{regexp.MustCompile(`0x[0-9a-f]+`), "<hex>"},
	{regexp.MustCompile(`/app/eph|/app/a|/app`), "<path>"},
	{regexp.MustCompile(`\d+`), "<n>"},
}

func shapes(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, r := range shapeRules {
			l = r.re.ReplaceAllString(l, r.repl)
		}
		out = append(out, l)
	}
	return out
}

func shapeSet(s string) []string {
	out := shapes(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// TestFourLetterWordsMatchZooKeeper runs every word against the live
// server in the state capture.py gave ZooKeeper and compares the output's
// structure with ZooKeeper's.
func TestFourLetterWordsMatchZooKeeper(t *testing.T) {
	f := startFixture(t, nil)
	f.populate(t)
	// Each word's comparison: "shapes" (every line's shape, in order),
	// "set" (the same set of line shapes; counts may differ), "keys"
	// (key=value / key: value lines, same keys in order).
	tests := []struct {
		word, how string
	}{
		{"ruok", "shapes"}, {"isro", "shapes"}, {"gtmk", "shapes"}, {"stmk", "shapes"},
		{"hash", "shapes"}, {"wchs", "shapes"}, {"wchc", "shapes"}, {"wchp", "shapes"},
		{"dirs", "shapes"}, {"srvr", "keys"}, {"stat", "set"}, {"cons", "set"},
		{"dump", "set"}, {"conf", "keys"}, {"crst", "shapes"}, {"srst", "shapes"},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			want := golden(t, "4lw/"+tt.word+".txt")
			got := fourLetter(t, f.addr, tt.word)
			switch tt.how {
			case "shapes":
				if g, w := shapes(got), shapes(want); !slices.Equal(g, w) {
					t.Fatalf("shape\n got %q\nwant %q", g, w)
				}
			case "set":
				if g, w := shapeSet(got), shapeSet(want); !slices.Equal(g, w) {
					t.Fatalf("line shapes\n got %q\nwant %q\nfull output:\n%s", g, w, got)
				}
			case "keys":
				gk, gv := keyValues(got)
				wk, wv := keyValues(want)
				if !slices.Equal(gk, wk) {
					t.Fatalf("keys\n got %q\nwant %q", gk, wk)
				}
				for i, k := range wk {
					if isNumeric(wv[i]) != isNumeric(gv[i]) {
						t.Errorf("%s = %q, ZooKeeper's %q", k, gv[i], wv[i])
					}
				}
			}
		})
	}
}

// keyValues splits "key=value" and "Key: value" lines.
func keyValues(s string) (keys, vals []string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		k, v, found := strings.Cut(l, "=")
		if i := strings.Index(l, ": "); i >= 0 && (!found || i < len(k)) {
			k, v = l[:i], l[i+2:]
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals
}

var numericRE = regexp.MustCompile(`^-?\d+(\.\d+)?$`)

func isNumeric(s string) bool { return numericRE.MatchString(s) }

func TestEnviKeys(t *testing.T) {
	f := startFixture(t, nil)
	got, _ := keyValues(fourLetter(t, f.addr, "envi"))
	want, _ := keyValues(golden(t, "4lw/envi.txt"))
	if got[0] != "Environment:" || want[0] != "Environment:" {
		t.Fatalf("first line %q", got[0])
	}
	// Every ZooKeeper key is printed unless it is a JVM one, which doc.go
	// names with its Go replacement.
	doc := readDoc(t)
	for _, k := range want[1:] {
		if strings.HasPrefix(k, "java.") {
			if !strings.Contains(doc, k) {
				t.Errorf("JVM key %s is neither printed nor documented", k)
			}
			continue
		}
		if !slices.Contains(got, k) {
			t.Errorf("missing key %s", k)
		}
	}
}

func TestWhitelist(t *testing.T) {
	tests := []struct {
		whitelist string
		allowed   []string
		refused   []string
	}{
		{"", []string{"srvr"}, []string{"ruok", "stat", "mntr", "cons", "conf"}},
		{"ruok, stat", []string{"srvr", "ruok", "stat"}, []string{"mntr", "envi"}},
		{"*", []string{"srvr", "ruok", "mntr", "wchs"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.whitelist, func(t *testing.T) {
			f := startFixture(t, func(c *server.Config) { c.FourLetterWordsWhitelist = tt.whitelist })
			for _, w := range tt.refused {
				got := fourLetter(t, f.addr, w)
				want := strings.Replace(golden(t, "4lw/refused_ruok.txt"), "ruok", w, 1)
				if got != want {
					t.Errorf("%s: %q, want %q", w, got, want)
				}
			}
			for _, w := range tt.allowed {
				if got := fourLetter(t, f.addr, w); strings.Contains(got, "whitelist") || got == "" {
					t.Errorf("%s refused: %q", w, got)
				}
			}
		})
	}
}

// mntr parses mntr output the way monitoring checks do: one
// "zk_key<TAB>value" per line.
func mntr(t *testing.T, out string) (keys []string, vals map[string]string) {
	t.Helper()
	vals = map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		parts := strings.Split(l, "\t")
		if len(parts) != 2 || !strings.HasPrefix(parts[0], "zk_") {
			t.Fatalf("mntr line %q is not zk_key<TAB>value", l)
		}
		keys = append(keys, parts[0])
		vals[parts[0]] = parts[1]
	}
	return keys, vals
}

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", "")), " ")
}

// summaryBase strips a summary key's avg_/min_/.../p999_ prefix.
var summaryPrefix = regexp.MustCompile(`^(avg|min|max|cnt|sum|p50|p95|p99|p999)_`)

func TestMntrMatchesZooKeeper(t *testing.T) {
	f := startFixture(t, nil)
	f.populate(t)
	gotKeys, got := mntr(t, fourLetter(t, f.addr, "mntr"))
	wantKeys, want := mntr(t, golden(t, "4lw/mntr.txt"))
	checkMntrAgainst(t, "ZooKeeper 3.8.0 standalone", gotKeys, got, wantKeys, want)
	if got["zk_server_state"] != "standalone" || !strings.HasPrefix(got["zk_version"], "3.8.0-gokeeper, built on ") {
		t.Errorf("version %q state %q", got["zk_version"], got["zk_server_state"])
	}
}

// checkMntrAgainst compares gokeeper's mntr with ZooKeeper's: the keys
// they share come in ZooKeeper's order with values of the same kind
// (integer or float); each ZooKeeper key gokeeper lacks is named in
// doc.go's "Not exported" list; each key gokeeper adds is another of
// ZooKeeper's names (testdata/zk/servermetrics.txt: one of 3.9's) or a Go
// runtime value that doc.go names.
func checkMntrAgainst(t *testing.T, what string, gotKeys []string, got map[string]string, wantKeys []string, want map[string]string) {
	t.Helper()
	names := zkServerMetrics(t)
	doc, notExported := readDoc(t), notExportedDoc(t)
	var shared []string
	for _, k := range wantKeys {
		g, ok := got[k]
		if !ok {
			if base := mntrBase(k, names); base == "" || !documented(notExported, base) {
				t.Errorf("%s: %s is neither printed nor listed as not exported in doc.go", what, k)
			}
			continue
		}
		shared = append(shared, k)
		w := want[k]
		if k == "zk_version" || k == "zk_server_state" || k == "zk_peer_state" {
			continue
		}
		if !isNumeric(g) {
			t.Errorf("%s: %s = %q is not numeric (ZooKeeper's %q)", what, k, g, w)
		}
		if strings.Contains(w, ".") != strings.Contains(g, ".") {
			t.Errorf("%s: %s = %q, ZooKeeper prints %q", what, k, g, w)
		}
	}
	if len(shared) < 30 {
		t.Errorf("%s: only %d keys shared with ZooKeeper", what, len(shared))
	}
	var order []string
	for _, k := range gotKeys {
		if _, ok := want[k]; ok {
			order = append(order, k)
			continue
		}
		switch {
		case strings.HasPrefix(k, "zk_go_"):
			if !strings.Contains(doc, strings.TrimPrefix(k, "zk_")) {
				t.Errorf("%s: Go runtime value %s is not documented", what, k)
			}
		case mntrBase(k, names) == "":
			t.Errorf("%s: %s is not one of ZooKeeper's names", what, k)
		}
	}
	if !slices.Equal(order, shared) {
		t.Errorf("%s: order\n got %q\nwant %q", what, order, shared)
	}
}

func mntrInt(t *testing.T, vals map[string]string, k string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(vals[k], 10, 64)
	if err != nil {
		t.Fatalf("%s = %q: %v", k, vals[k], err)
	}
	return v
}

// TestMntrCountersMove checks that mntr's values are measured: they
// change as the server is used.
func TestMntrCountersMove(t *testing.T) {
	f := startFixture(t, nil)
	_, before := mntr(t, fourLetter(t, f.addr, "mntr"))
	if n := mntrInt(t, before, "zk_znode_count"); n != 5 {
		t.Errorf("fresh znode_count %d, ZooKeeper's is 5", n)
	}
	if n := mntrInt(t, before, "zk_num_alive_connections"); n != 1 {
		t.Errorf("num_alive_connections %d with only the mntr connection", n)
	}
	c := f.connect(t)
	c2 := f.connect(t)
	acl := zk.WorldACL(zk.PermAll)
	for i := range 10 {
		if _, err := c.Create(fmt.Sprintf("/n%d", i), []byte("0123456789"), 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c2.Create("/e", nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, _, err := c.Get("/n1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := c.GetW("/n2"); err != nil {
		t.Fatal(err)
	}
	_, after := mntr(t, fourLetter(t, f.addr, "mntr"))
	checks := []struct {
		key  string
		want func(b, a int64) bool
		what string
	}{
		{"zk_znode_count", func(b, a int64) bool { return a == b+11 }, "+11 after 11 creates"},
		{"zk_num_alive_connections", func(b, a int64) bool { return a == b+2 }, "+2 after 2 connects"},
		{"zk_ephemerals_count", func(b, a int64) bool { return a == b+1 }, "+1"},
		{"zk_watch_count", func(b, a int64) bool { return a == b+1 }, "+1 after getW"},
		{"zk_global_sessions", func(b, a int64) bool { return a == b+2 }, "+2"},
		{"zk_approximate_data_size", func(b, a int64) bool { return a == b+10*(3+10)+2 }, "+ path and data lengths"},
		{"zk_packets_received", func(b, a int64) bool { return a >= b+32 }, ">= +32"},
		{"zk_packets_sent", func(b, a int64) bool { return a >= b+32 }, ">= +32"},
		{"zk_cnt_readlatency", func(b, a int64) bool { return a >= b+21 }, ">= +21 reads"},
		{"zk_cnt_updatelatency", func(b, a int64) bool { return a >= b+11 }, ">= +11 writes"},
		{"zk_bytes_received_count", func(b, a int64) bool { return a > b+300 }, "grows"},
		{"zk_last_client_response_size", func(b, a int64) bool { return b == -1 && a > 0 }, "-1, then a size"},
		{"zk_uptime", func(b, a int64) bool { return a >= b }, "grows"},
		{"zk_open_file_descriptor_count", func(b, a int64) bool { return a >= b+2 }, "+2 sockets"},
	}
	for _, c := range checks {
		b, a := mntrInt(t, before, c.key), mntrInt(t, after, c.key)
		if !c.want(b, a) {
			t.Errorf("%s: %d -> %d, want %s", c.key, b, a, c.what)
		}
	}
	if after["zk_avg_readlatency"] == "" || !strings.Contains(after["zk_avg_latency"], ".") {
		t.Errorf("avg latencies %q %q", after["zk_avg_readlatency"], after["zk_avg_latency"])
	}
	// srst resets the server's counters.
	if got := fourLetter(t, f.addr, "srst"); got != "Server stats reset.\n" {
		t.Fatalf("srst = %q", got)
	}
	_, reset := mntr(t, fourLetter(t, f.addr, "mntr"))
	if n := mntrInt(t, reset, "zk_packets_received"); n > 2 {
		t.Errorf("packets_received %d after srst", n)
	}
}

// jsonShape is a JSON value's structure: objects keep their keys in
// order.
type jsonShape struct {
	kind  string // object, array, string, number, float, bool, null
	keys  []string
	vals  []*jsonShape
	elems []*jsonShape
}

func parseShape(t *testing.T, b []byte) *jsonShape {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	s, err := readShape(d)
	if err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return s
}

func readShape(d *json.Decoder) (*jsonShape, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			s := &jsonShape{kind: "object"}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				val, err := readShape(d)
				if err != nil {
					return nil, err
				}
				s.keys, s.vals = append(s.keys, k.(string)), append(s.vals, val)
			}
			_, err := d.Token()
			return s, err
		case '[':
			s := &jsonShape{kind: "array"}
			for d.More() {
				e, err := readShape(d)
				if err != nil {
					return nil, err
				}
				s.elems = append(s.elems, e)
			}
			_, err := d.Token()
			return s, err
		}
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			return &jsonShape{kind: "float"}, nil
		}
		return &jsonShape{kind: "number"}, nil
	case string:
		return &jsonShape{kind: "string"}, nil
	case bool:
		return &jsonShape{kind: "bool"}, nil
	case nil:
		return &jsonShape{kind: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// dataKeyed are objects whose keys are data (session ids, paths, times):
// only their values' shapes are compared.
var dataKeyed = map[string]bool{
	"expiry_time_to_session_ids": true, "session_id_to_ephemeral_paths": true,
	"session_id_to_watched_paths": true, "path_to_session_ids": true,
}

// compareShape reports where got's structure differs from want's: the
// same keys in the same order, the same value kinds; arrays compare
// their first elements when both have one.
func compareShape(path string, got, want *jsonShape) []string {
	if got.kind != want.kind {
		return []string{fmt.Sprintf("%s: %s, ZooKeeper has %s", path, got.kind, want.kind)}
	}
	var diffs []string
	switch got.kind {
	case "object":
		if dataKeyed[strings.TrimPrefix(path, ".")] {
			if len(got.vals) > 0 && len(want.vals) > 0 {
				diffs = append(diffs, compareShape(path+".*", got.vals[0], want.vals[0])...)
			}
			return diffs
		}
		if !slices.Equal(got.keys, want.keys) {
			return []string{fmt.Sprintf("%s: keys\n got %q\nwant %q", path, got.keys, want.keys)}
		}
		for i := range got.keys {
			diffs = append(diffs, compareShape(path+"."+got.keys[i], got.vals[i], want.vals[i])...)
		}
	case "array":
		if len(got.elems) > 0 && len(want.elems) > 0 {
			diffs = append(diffs, compareShape(path+"[0]", got.elems[0], want.elems[0])...)
		}
	}
	return diffs
}

// sharedKeys returns the object a with only the keys b also has.
func sharedKeys(a, b *jsonShape) *jsonShape {
	out := &jsonShape{kind: a.kind}
	for i, k := range a.keys {
		if slices.Contains(b.keys, k) {
			out.keys, out.vals = append(out.keys, k), append(out.vals, a.vals[i])
		}
	}
	return out
}

func httpGet(t *testing.T, url string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestAdminCommandsMatchZooKeeper fetches every command ZooKeeper 3.8
// answered in capture.py and compares the JSON's structure and status.
func TestAdminCommandsMatchZooKeeper(t *testing.T) {
	f := startFixture(t, nil)
	f.populate(t)
	ents, err := os.ReadDir("testdata/zk/commands")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		name, isJSON := strings.CutSuffix(e.Name(), ".json")
		if !isJSON || name == "snapshot" { // NB: 3.8 has no snapshot command; see TestSnapshotCommandAuth
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			want := []byte(golden(t, "commands/"+name+".json"))
			wantStatus, _ := strconv.Atoi(strings.TrimSpace(golden(t, "commands/"+name+".status")))
			query := ""
			if name == "set_trace_mask" {
				query = "?traceMask=306"
			}
			status, hdr, got := httpGet(t, f.adminURL+"/"+name+query, nil)
			if status != wantStatus {
				t.Errorf("status %d, ZooKeeper's %d", status, wantStatus)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			gs, ws := parseShape(t, got), parseShape(t, want)
			if name == "environment" || name == "system_properties" {
				// JVM keys are replaced (doc.go); the envelope must match.
				if gs.kind != "object" || gs.keys[len(gs.keys)-2] != "command" || gs.keys[len(gs.keys)-1] != "error" {
					t.Errorf("keys %q", gs.keys)
				}
				return
			}
			if name == "monitor" || name == "mntr" {
				// The shared keys in ZooKeeper's order with the same kinds;
				// TestMntrMatchesZooKeeper checks the rest is documented.
				gs, ws = sharedKeys(gs, ws), sharedKeys(ws, gs)
				if len(gs.keys) < 30 {
					t.Errorf("only %d keys shared", len(gs.keys))
				}
			}
			for _, d := range compareShape("", gs, ws) {
				t.Error(d)
			}
			if t.Failed() {
				t.Logf("gokeeper:\n%s", got)
			}
		})
	}
	if n < 25 {
		t.Fatalf("only %d golden commands", n)
	}
}

// TestJacksonLayout re-renders ZooKeeper's JSON with marshalJackson and
// expects the same bytes: the layout, not just the structure, matches.
func TestJacksonLayout(t *testing.T) {
	for _, name := range []string{"connections", "dump", "watches_by_path", "server_stats", "stats",
		"leader", "voting_view", "observers", "initial_configuration", "monitor", "hash", "dirs"} {
		t.Run(name, func(t *testing.T) {
			want := golden(t, "commands/"+name+".json")
			d := json.NewDecoder(strings.NewReader(want))
			d.UseNumber()
			v, err := readValue(d)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(marshalJackson(v)); got != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// readValue decodes JSON into the values marshalJackson renders.
func readValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			o := object{}
			for d.More() {
				k, _ := d.Token()
				val, err := readValue(d)
				if err != nil {
					return nil, err
				}
				o.put(k.(string), val)
			}
			_, err := d.Token()
			return o, err
		}
		var a []any
		for d.More() {
			e, err := readValue(d)
			if err != nil {
				return nil, err
			}
			a = append(a, e)
		}
		_, err := d.Token()
		if a == nil {
			a = []any{}
		}
		return a, err
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			return v.Float64()
		}
		return v.Int64()
	}
	return tok, nil
}

func TestCommandListAndAliases(t *testing.T) {
	f := startFixture(t, nil)
	_, _, got := httpGet(t, f.adminURL, nil)
	linkRE := regexp.MustCompile(`<a href="/commands/(\w+)">(\w+)</a>`)
	names := func(b string) []string {
		var out []string
		for _, m := range linkRE.FindAllStringSubmatch(b, -1) {
			out = append(out, m[1])
		}
		return out
	}
	gotNames, wantNames := names(string(got)), names(golden(t, "commands/index.html"))
	extra := slices.DeleteFunc(slices.Clone(gotNames), func(n string) bool { return slices.Contains(wantNames, n) })
	if !slices.IsSorted(gotNames) || !slices.Equal(extra, []string{"snapshot"}) {
		t.Errorf("listing %q, ZooKeeper's %q", gotNames, wantNames)
	}
	for _, n := range wantNames {
		if !slices.Contains(gotNames, n) {
			t.Errorf("%s missing from the listing", n)
		}
	}
	// Aliases answer under the primary name.
	for alias, primary := range map[string]string{"mntr": "monitor", "conf": "configuration", "config": "configuration",
		"cons": "connections", "wchc": "watches", "wchp": "watches_by_path", "wchs": "watch_summary",
		"srvr": "server_stats", "stat": "stats", "envi": "environment", "isro": "is_read_only",
		"gtmk": "get_trace_mask", "lsnp": "last_snapshot", "icfg": "initial_configuration"} {
		_, _, b := httpGet(t, f.adminURL+"/"+alias, nil)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || m["command"] != primary || m["error"] != nil {
			t.Errorf("%s: %s", alias, b)
		}
	}
	// ZooKeeper's answer to an unknown command (golden no_such_command).
	status, _, b := httpGet(t, f.adminURL+"/no_such_command", nil)
	if want := golden(t, "commands/no_such_command.json"); status != 200 || string(b) != want {
		t.Errorf("unknown command: %d %s", status, b)
	}
	// set_trace_mask takes effect and is validated like ZooKeeper's.
	_, _, b = httpGet(t, f.adminURL+"/set_trace_mask?traceMask=12", nil)
	if !strings.Contains(string(b), `"tracemask" : 12`) || fourLetter(t, f.addr, "gtmk") != "12" {
		t.Errorf("set_trace_mask: %s", b)
	}
	_, _, b = httpGet(t, f.adminURL+"/set_trace_mask?traceMask=x", nil)
	if !strings.Contains(string(b), `"error" : "setTraceMask requires long traceMask argument, got x"`) {
		t.Errorf("bad mask: %s", b)
	}
	// Unknown paths outside the command URL are 404s.
	if status, _, _ := httpGet(t, strings.TrimSuffix(f.adminURL, "/commands")+"/other", nil); status != 404 {
		t.Errorf("/other: %d", status)
	}
}

// TestSnapshotCommandAuth checks ZooKeeper 3.9's auth for the snapshot
// command: missing, wrong and insufficient credentials, then success and
// the rate limit.
func TestSnapshotCommandAuth(t *testing.T) {
	f := startFixture(t, nil)
	c := f.connect(t)
	if err := c.AddAuth("digest", []byte("admin:secret")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetACL("/", zk.DigestACL(zk.PermAll, "admin", "secret"), -1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		auth       string
		status     int
		err        string
		wantStream bool
	}{
		{"", 401, "Auth info is missing for the command", false},
		{"nosuchscheme x", 401, "Not authenticated", false},
		{"digest a b c", 401, "Not authenticated", false},
		{"digest other:pw", 403, "Not authorized", false},
		{"digest admin:secret", 200, "", true},
		{"digest admin:secret", 429, "", false},
	}
	for _, tt := range tests {
		h := map[string]string{}
		if tt.auth != "" {
			h["Authorization"] = tt.auth
		}
		status, hdr, b := httpGet(t, f.adminURL+"/snapshot", h)
		if status != tt.status {
			t.Fatalf("%q: status %d, want %d (%s)", tt.auth, status, tt.status, b)
		}
		if tt.wantStream {
			size, _ := strconv.Atoi(hdr.Get("snapshot_size"))
			if size == 0 || size != len(b) || !strings.HasPrefix(hdr.Get("last_zxid"), "0x") {
				t.Fatalf("streamed %d bytes, headers %v", len(b), hdr)
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || m["command"] != "snapshot" {
			t.Fatalf("%q: %s", tt.auth, b)
		}
		if tt.err != "" && m["error"] != tt.err {
			t.Errorf("%q: error %v, want %q", tt.auth, m["error"], tt.err)
		}
	}
	// last_snapshot now reports it.
	_, _, b := httpGet(t, f.adminURL+"/last_snapshot", nil)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["zxid"] == "ffffffffffffffff" || m["timestamp"].(float64) <= 0 {
		t.Errorf("last_snapshot %s", b)
	}
}

func TestConnectionStats(t *testing.T) {
	f := startFixture(t, nil)
	c := f.connect(t)
	for range 5 {
		if _, _, err := c.Exists("/"); err != nil {
			t.Fatal(err)
		}
	}
	cons := f.ln.Connections()
	var sess *wire.ConnectionInfo
	for i := range cons {
		if cons[i].HasSession {
			sess = &cons[i]
		}
	}
	if sess == nil || sess.SessionID != c.SessionID() {
		t.Fatalf("no session connection in %+v", cons)
	}
	if sess.PacketsReceived < 6 || sess.PacketsSent < 6 || lastOperation(*sess) != "EXIS" || sess.LastCxid < 5 {
		t.Errorf("stats %+v (lop %s)", *sess, lastOperation(*sess))
	}
	if got := fourLetter(t, f.addr, "crst"); got != "Connection stats reset.\n" {
		t.Fatal(got)
	}
	for _, ci := range f.ln.Connections() {
		if ci.HasSession && (ci.PacketsReceived != 0 || ci.LastOpSet || ci.LastCxid != -1) {
			t.Errorf("after crst: %+v", ci)
		}
	}
}

func TestSlowRequestLog(t *testing.T) {
	var buf bytes.Buffer
	f := startFixture(t, func(c *server.Config) {
		c.SystemProperties = map[string]string{"slowRequestThresholdMs": "50"}
	})
	a := New(f.srv, f.ln, zerolog.New(&buf))
	a.observe(4, 0x1234, 7, 9, 0, 10*time.Millisecond, 20)
	if buf.Len() != 0 {
		t.Fatalf("fast request logged: %s", buf.String())
	}
	a.observe(4, 0x1234, 7, 9, 0, 60*time.Millisecond, 20)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %q", err, buf.String())
	}
	if line["message"] != "slow request" || line["op"] != "getData" || line["session"] != "0x1234" || line["xid"] != 7.0 {
		t.Errorf("log line %v", line)
	}
}

func TestJavaDouble(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{{0, "0.0"}, {181.5, "181.5"}, {3, "3.0"}, {0.1234, "0.1234"}, {1e7, "1.0E7"}, {1.5e-4, "1.5E-4"}} {
		if got := javaDouble(tt.in); got != tt.want {
			t.Errorf("javaDouble(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDigestLog: the hash word and the hash command list the tree's
// digest at every zxid that is a multiple of 128, as ZooKeeper's digest
// log does ("<hex zxid>: <digest>" lines; digests objects with zxid,
// digest and digest_version). Writes stop at such a zxid, so the newest
// entry is the tree's digest now.
func TestDigestLog(t *testing.T) {
	f := startFixture(t, nil)
	c := f.connect(t)
	for i := 0; i == 0 || f.srv.Tree().LastZxid()%256 != 0; i++ {
		if i == 1000 {
			t.Fatalf("zxid 0x%x after %d creates", f.srv.Tree().LastZxid(), i)
		}
		if _, err := c.Create(fmt.Sprintf("/h%d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	last := f.srv.Tree().LastZxid()
	lines := strings.Split(strings.TrimSpace(fourLetter(t, f.addr, "hash")), "\n")
	want := []string{fmt.Sprintf("%x: ", last-128), fmt.Sprintf("%x: %d", last, f.srv.Tree().Digest())}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], want[0]) || lines[1] != want[1] {
		t.Fatalf("hash = %q, want %q", lines, want)
	}
	_, body := httpGetJSON(t, f.adminURL+"/hash")
	ds, _ := body["digests"].([]any)
	if len(ds) != 2 {
		t.Fatalf("hash command digests = %v, want 2", body["digests"])
	}
	for i, d := range ds {
		e, _ := d.(map[string]any)
		z, _ := e["zxid"].(float64)
		dg, _ := e["digest"].(float64)
		if e["digest_version"] != float64(2) || lines[i] != fmt.Sprintf("%x: %d", int64(z), int64(dg)) {
			t.Errorf("hash command entry %v, hash word line %q", e, lines[i])
		}
	}
}

func httpGetJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	status, _, b := httpGet(t, url, nil)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v: %s", url, err, b)
	}
	return status, m
}
