package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/wire/wiretest"
)

func TestBenchCmd(t *testing.T) {
	addr := wiretest.Start(t, "", nil, nil).Addr

	tests := []struct {
		name    string
		args    []string
		rc      int
		checkFn func(t *testing.T, stdout string)
	}{
		{name: "help", args: []string{"-h"}, rc: 0},
		{name: "bad workload", args: []string{"-workload", "scan"}, rc: 2},
		{name: "text", args: []string{"-servers", addr, "-workload", "get", "-conns", "2", "-ops", "300", "-duration", "0", "-keys", "10"},
			checkFn: func(t *testing.T, out string) {
				if !strings.HasPrefix(out, "get ") || !strings.Contains(out, "ops=300 ") || !strings.Contains(out, "errors=0") {
					t.Errorf("output %q", out)
				}
			}},
		{name: "json", args: []string{"-servers", addr, "-workload", "set", "-conns", "2", "-ops", "200", "-duration", "0", "-keys", "10", "-json"},
			checkFn: func(t *testing.T, out string) {
				var r struct {
					Workload string  `json:"workload"`
					Ops      int64   `json:"ops"`
					P99      float64 `json:"p99_us"`
				}
				if strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &r) != nil || r.Workload != "set" || r.Ops != 200 || r.P99 <= 0 {
					t.Errorf("output %q parsed as %+v", out, r)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if rc := benchCmd(tt.args, &stdout, &stderr); rc != tt.rc {
				t.Fatalf("rc %d, want %d; stderr %s", rc, tt.rc, stderr.String())
			}
			if tt.checkFn != nil {
				tt.checkFn(t, stdout.String())
			}
		})
	}
}
