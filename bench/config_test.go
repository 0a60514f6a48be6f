package bench

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Workload != WorkGet || c.Conns != 32 || c.Depth != 8 || c.Duration != 10*time.Second ||
				!slices.Equal(c.Servers, []string{"127.0.0.1:2181"}) {
				t.Errorf("defaults %+v", c)
			}
		}},
		{name: "all flags", args: []string{"-servers", "127.0.0.1:1, 127.0.0.1:2,", "-workload", "mix", "-conns", "128",
			"-inflight", "16", "-duration", "0", "-ops", "5000", "-value-size", "1024", "-keys", "7", "-read-pct", "75",
			"-multi-size", "3", "-root", "/x/y", "-progress", "1s", "-seed", "9", "-json"},
			check: func(t *testing.T, c Config) {
				want := Config{Servers: []string{"127.0.0.1:1", "127.0.0.1:2"}, Workload: WorkMix, Conns: 128, Depth: 16,
					Ops: 5000, ValueSize: 1024, Keys: 7, ReadPct: 75, MultiSize: 3, Root: "/x/y",
					Progress: time.Second, Seed: 9, JSON: true}
				if !slices.Equal(c.Servers, want.Servers) {
					t.Errorf("servers %q", c.Servers)
				}
				c.Servers, want.Servers = nil, nil
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			}},
		{name: "help", args: []string{"-h"}, wantErr: flag.ErrHelp},
		{name: "unknown flag", args: []string{"-bogus"}},
		{name: "stray argument", args: []string{"get"}, wantErr: ErrConfig},
		{name: "unknown workload", args: []string{"-workload", "scan"}, wantErr: ErrConfig},
		{name: "zero conns", args: []string{"-conns", "0"}, wantErr: ErrConfig},
		{name: "zero inflight", args: []string{"-inflight", "0"}, wantErr: ErrConfig},
		{name: "no end", args: []string{"-duration", "0"}, wantErr: ErrConfig},
		{name: "negative ops", args: []string{"-ops", "-1"}, wantErr: ErrConfig},
		{name: "read pct", args: []string{"-read-pct", "101"}, wantErr: ErrConfig},
		{name: "value too big", args: []string{"-value-size", "2000000"}, wantErr: ErrConfig},
		{name: "no keys", args: []string{"-keys", "0"}, wantErr: ErrConfig},
		{name: "multi size", args: []string{"-multi-size", "0"}, wantErr: ErrConfig},
		{name: "populate needs ops", args: []string{"-workload", "populate"}, wantErr: ErrConfig},
		{name: "relative root", args: []string{"-root", "bench"}, wantErr: ErrConfig},
		{name: "root slash", args: []string{"-root", "/"}, wantErr: ErrConfig},
		{name: "empty servers", args: []string{"-servers", " , "}, wantErr: ErrConfig},
		{name: "server without port", args: []string{"-servers", "localhost"}, wantErr: ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseFlags(tt.args, io.Discard)
			if tt.check != nil {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			if err == nil {
				t.Fatalf("no error for %q", tt.args)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestEncodeFrames decodes what each workload sends with jute's records,
// so the generator is held to the same wire format as the server.
func TestEncodeFrames(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ValueSize = 10
	cfg.Keys = 5
	cfg.MultiSize = 2
	for _, wl := range []string{WorkCreate, WorkPopulate, WorkDelete, WorkSet, WorkGet, WorkExists, WorkChildren1k, WorkChildren10k, WorkMix, WorkMulti} {
		t.Run(wl, func(t *testing.T) {
			c := cfg
			c.Workload = wl
			sh := &runShared{cfg: &c, tag: "t", value: make([]byte, 10), limit: 2000}
			w := newWorker(sh, 3)
			sh.next.Store(1234)
			if !w.ready() {
				t.Fatal("not ready")
			}
			op, b := w.encode(nil)
			var d jute.Decoder
			d.Reset(b, 0)
			var path string
			switch op {
			case jute.OpCreate:
				var r jute.CreateRequest
				r.Decode(&d)
				if len(r.Data) != 10 || len(r.Acl) != 1 || r.Acl[0].Id != jute.IDAnyone || r.Acl[0].Perms != jute.PermAll {
					t.Errorf("create %+v", r)
				}
				path = r.Path
			case jute.OpDelete:
				var r jute.DeleteRequest
				r.Decode(&d)
				path = r.Path
			case jute.OpSetData:
				var r jute.SetDataRequest
				r.Decode(&d)
				if len(r.Data) != 10 || r.Version != -1 {
					t.Errorf("setData %+v", r)
				}
				path = r.Path
			case jute.OpGetData:
				var r jute.GetDataRequest
				r.Decode(&d)
				path = r.Path
			case jute.OpExists:
				var r jute.ExistsRequest
				r.Decode(&d)
				path = r.Path
			case jute.OpGetChildren:
				var r jute.GetChildrenRequest
				r.Decode(&d)
				path = r.Path
			case jute.OpMulti:
				for range 2 {
					var h jute.MultiHeader
					var r jute.SetDataRequest
					h.Decode(&d)
					r.Decode(&d)
					if jute.OpCode(h.Type) != jute.OpSetData || h.Done || !strings.HasPrefix(r.Path, "/bench/k/") {
						t.Errorf("multi op %+v %+v", h, r)
					}
				}
				var end jute.MultiHeader
				end.Decode(&d)
				if end.Type != -1 || !end.Done {
					t.Errorf("multi end %+v", end)
				}
				path = "/bench/k/"
			default:
				t.Fatalf("op %v", op)
			}
			if d.Err() != nil || d.Remaining() != 0 {
				t.Fatalf("decode: %v, %d bytes left", d.Err(), d.Remaining())
			}
			want := map[string]string{
				WorkCreate: "/bench/c/t-3/n1", WorkPopulate: "/bench/m/p234/n1234", WorkDelete: "/bench/d/t/n1234",
				WorkChildren1k: "/bench/w1k", WorkChildren10k: "/bench/w10k",
			}[wl]
			if want == "" && !strings.HasPrefix(path, "/bench/k/") || want != "" && path != want {
				t.Errorf("path %q, want %q", path, want)
			}
			if wl == WorkPopulate && path != PopulatePath("/bench", 1234) {
				t.Errorf("populate path %q, PopulatePath says %q", path, PopulatePath("/bench", 1234))
			}
			buf := make([]byte, 0, 4096)
			if n := testing.AllocsPerRun(100, func() { w.ready(); w.encode(buf) }); n != 0 {
				t.Errorf("encode allocates %v times", n)
			}
		})
	}
}

func TestReadyEndsDeleteAndPopulate(t *testing.T) {
	c := DefaultConfig()
	c.Workload = WorkDelete
	sh := &runShared{cfg: &c, limit: 3}
	w1, w2 := newWorker(sh, 0), newWorker(sh, 1)
	got := 0
	for _, w := range []*worker{w1, w2, w1, w2, w1} {
		if w.ready() {
			got++
		}
	}
	if got != 3 {
		t.Fatalf("%d deletes claimed from a pool of 3", got)
	}
}

func TestResultFormats(t *testing.T) {
	cfg := DefaultConfig()
	r := newResult(&cfg, 2*time.Second)
	for i := int64(1); i <= 1000; i++ {
		r.Hist.Record(i * 1000)
	}
	r.Errors[jute.CodeNoNode.Error()] = 3
	r.finish()
	if r.Ops != 1000 || r.OpsPerSec != 500 || r.P50 < 500 || r.P50 > 505 || r.Max != 1000 {
		t.Fatalf("result %+v", r)
	}
	if s := r.String(); !strings.Contains(s, "500 ops/s") || !strings.Contains(s, "errors=3 (NoNode: 3)") {
		t.Errorf("text %q", s)
	}
	if j := r.JSON(); !strings.Contains(j, `"ops_per_sec":500`) || !strings.Contains(j, `"NoNode":3`) || strings.Contains(j, "\n") {
		t.Errorf("json %q", j)
	}
}
