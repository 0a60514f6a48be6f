package scenario

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

func TestNormalizerZxid(t *testing.T) {
	n := NewNormalizer("/r", time.Now())
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {-1, "-1"}, {0x100000005, "Z+0"}, {0x100000007, "Z+2"}, {0x100000003, "Z-2"}, {0x200000000, "Z+4294967291"},
	} {
		if got := n.Zxid(tc.in); got != tc.want {
			t.Errorf("Zxid(%#x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizerSessionsAndPaths(t *testing.T) {
	n := NewNormalizer("/compat-1-r", time.Now())
	if got := []string{n.Session(77), n.Session(0), n.Session(5), n.Session(77)}; strings.Join(got, ",") != "s1,0,s2,s1" {
		t.Errorf("sessions = %v", got)
	}
	if got := n.Path("/compat-1-r/a"); got != "/R/a" {
		t.Errorf("Path = %q", got)
	}
	if got := n.Path("/compat-1-r/a\x00"); got != `"/R/a\x00"` {
		t.Errorf("Path with NUL = %q", got)
	}
	if got := n.Paths([]string{"/compat-1-r/b", "/compat-1-r/a"}); got != "[/R/a,/R/b]" {
		t.Errorf("Paths = %q", got)
	}
}

func TestNormalizerTime(t *testing.T) {
	start := time.Now()
	n := NewNormalizer("", start)
	now := start.UnixMilli()
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {now, "T"}, {now + 1000, "T"}, {1, "T!1"}, {now + 10*3600*1000, "T!" + strconv.FormatInt(now+10*3600*1000, 10)},
	} {
		if got := n.Time(tc.in); got != tc.want {
			t.Errorf("Time(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
	st := &jute.Stat{Ctime: now, Mtime: now - 1}
	if got := n.Stat(st); !strings.Contains(got, "mt=T!<ctime") {
		t.Errorf("Stat with mtime < ctime = %q", got)
	}
}

func TestNormalizerFrames(t *testing.T) {
	n := NewNormalizer("/r", time.Now())
	f := rawclient.Frame{Header: jute.ReplyHeader{Xid: 1, Zxid: 10, Err: int32(jute.CodeNoNode)}}
	if got := n.Frame(&f); got != "NONODE zxid=Z+0" {
		t.Errorf("error frame = %q", got)
	}
	f = rawclient.Frame{Header: jute.ReplyHeader{Xid: -1, Zxid: -1}, Event: &jute.WatcherEvent{Type: 3, State: 3, Path: "/r/x"}}
	if got := n.Frame(&f); got != "event NodeDataChanged SyncConnected /R/x" {
		t.Errorf("event frame = %q", got)
	}
	m := &rawclient.MultiResponse{Results: []rawclient.OpResult{
		{Type: jute.OpCreate, Record: &jute.CreateResponse{Path: "/r/a"}},
		{Type: jute.OpError, Err: jute.CodeBadVersion},
	}}
	if got := n.Record(m); got != "results=[create path=/R/a; error:BADVERSION]" {
		t.Errorf("multi = %q", got)
	}
}

func tr(target string, lines ...string) *Transcript {
	t := &Transcript{Scenario: "s", Target: target}
	for i, l := range lines {
		t.Entries = append(t.Entries, Entry{Step: i + 1, Text: l})
	}
	return t
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		a, b      *Transcript
		wantIndex int
		wantGot   string
	}{
		{"equal", tr("zk", "a", "b"), tr("gk", "a", "b"), -1, ""},
		{"changed", tr("zk", "a", "b", "c"), tr("gk", "a", "x", "c"), 1, "x"},
		{"shorter", tr("zk", "a", "b"), tr("gk", "a"), 1, "<end>"},
		{"longer", tr("zk", "a"), tr("gk", "a", "extra"), 1, "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Diff(tc.a, tc.b)
			if tc.wantIndex < 0 {
				if d != nil {
					t.Fatalf("unexpected divergence %s", d)
				}
				return
			}
			if d == nil || d.Index != tc.wantIndex || d.Got != tc.wantGot || d.Step != tc.wantIndex+1 {
				t.Fatalf("Diff = %+v, want index %d got %q", d, tc.wantIndex, tc.wantGot)
			}
			if !strings.Contains(d.String(), "gk:") {
				t.Errorf("report lacks target name: %s", d)
			}
		})
	}
}

func TestParseAllowed(t *testing.T) {
	a, err := ParseAllowed("# title\n\ntext `x`\n- `4lw/envi`: JVM properties\n* `admin/*` — no AdminServer yet\n")
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 2 || a.Reason("4lw/envi") != "JVM properties" || a.Reason("admin/conf") != "no AdminServer yet" || a.Reason("4lw/mntr") != "" {
		t.Fatalf("parsed %+v", a)
	}
	if _, err := ParseAllowed("- `x`:   \n"); err == nil {
		t.Fatal("entry without a reason accepted")
	}
	if _, err := ParseAllowed("- `[`: bad\n"); err == nil {
		t.Fatal("bad pattern accepted")
	}
}

func TestFourLetterShape(t *testing.T) {
	out := "Zookeeper version: 3.8.0-abc, built on x\nClients:\n /127.0.0.1:5555[1](queued=0)\n /127.0.0.1:5556[0](queued=0)\n\nLatency min/avg/max: 0/0.1/3\nMode: standalone\nNode count: 12\n"
	if got := FourLetterShape("stat", out); got != "[Clients|<client>|Latency min/avg/max|Mode|Node count]" {
		t.Errorf("stat shape = %q", got)
	}
	mntr := "zk_version\t3.8.0\nzk_avg_latency\t0\nzk_avg_compat-1-r_write_per_namespace\t1\nzk_p50_x\t1\nzk_p99_x\t2\n"
	if got := FourLetterShape("mntr", mntr); got != "[zk_avg_latency|zk_p#_x]" {
		t.Errorf("mntr shape = %q", got)
	}
	if got := FourLetterShape("ruok", "imok"); got != `"imok"` {
		t.Errorf("ruok shape = %q", got)
	}
}

func TestJSONShape(t *testing.T) {
	v := map[string]any{"version": "3.8", "a": 1.0, "b": []any{1.0}, "c": map[string]any{"d": nil, "e": "x", "f": true}}
	if got := JSONShape(v); got != "{a:num,b:list,c:{d:null,e:str,f:bool}}" {
		t.Errorf("JSONShape = %q", got)
	}
}

func TestNormalizerDataAliases(t *testing.T) {
	cfg := func(q1, e1, q2, e2 int) []byte {
		return []byte("server.1=127.0.0.1:" + strconv.Itoa(q1) + ":" + strconv.Itoa(e1) + ":participant\n" +
			"server.2=127.0.0.1:" + strconv.Itoa(q2) + ":" + strconv.Itoa(e2) + ":participant\nversion=0")
	}
	a := NewNormalizer("", time.Now())
	a.aliases = strings.NewReplacer("127.0.0.1:41001:41002", "M1", "127.0.0.1:41003:41004", "M2")
	b := NewNormalizer("", time.Now())
	b.aliases = strings.NewReplacer("127.0.0.1:5001:5002", "M1", "127.0.0.1:5003:5004", "M2")
	da, db := a.Data(cfg(41001, 41002, 41003, 41004)), b.Data(cfg(5001, 5002, 5003, 5004))
	if da != db || !strings.Contains(da, "server.1=M1:participant") {
		t.Errorf("config data on two ensembles: %s and %s", da, db)
	}
	if got := NewNormalizer("", time.Now()).Data(cfg(5001, 5002, 5003, 5004)); got == db {
		t.Errorf("data without aliases was rewritten: %s", got)
	}
}

func TestExecuteRecordsPanic(t *testing.T) {
	// NB: nothing listens on port 1: every connect fails at once.
	tg := Target{Name: "nowhere", Addr: "127.0.0.1:1", IOTimeout: time.Second}
	tr := Execute(tg, Scenario{Name: "nil-session", Run: func(r *Run) {
		c := r.Connect()
		c.Exists(r.P(""), false)
	}}, "/compat-0-r")
	last := tr.Entries[len(tr.Entries)-1].Text
	if !strings.HasPrefix(last, "! scenario aborted: ") || !strings.Contains(tr.String(), "c1 connect") {
		t.Errorf("transcript of a scenario that panics:\n%s", tr)
	}
}
