package main

import (
	"strings"
	"testing"
)

// TestSummarize: checks are leaf tests; a failed parent whose subtests
// passed is one failed check; each skip is listed with its reason; package
// lines and failure output come through.
func TestSummarize(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestB/x"}
{"Action":"pass","Package":"p","Test":"TestB/x"}
{"Action":"run","Package":"p","Test":"TestB/y"}
{"Action":"output","Package":"p","Test":"TestB/y","Output":"    b_test.go:9: no ZooKeeper: install it\n"}
{"Action":"output","Package":"p","Test":"TestB/y","Output":"--- SKIP: TestB/y (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestB/y"}
{"Action":"pass","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"run","Package":"p","Test":"TestC/z"}
{"Action":"pass","Package":"p","Test":"TestC/z"}
{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:3: after the subtests\n"}
{"Action":"fail","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}
{"Action":"fail","Package":"p"}
{"Action":"run","Package":"q","Test":"TestD"}
{"Action":"skip","Package":"q","Test":"TestD"}
{"Action":"output","Package":"q","Output":"ok  \tq\t0.1s\n"}
{"Action":"pass","Package":"q"}
`
	var out strings.Builder
	s, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if s.passed != 3 || s.failed != 1 || s.skipped != 2 || s.failedPkgs != 1 {
		t.Fatalf("counts %+v, want 3 passed (A, B/x, C/z), 1 failed (C), 2 skipped, 1 failed package", s)
	}
	want := []string{"p TestB/y: no ZooKeeper: install it", "q TestD: (no reason given)"}
	if strings.Join(s.skips, "|") != strings.Join(want, "|") {
		t.Fatalf("skips %q, want %q", s.skips, want)
	}
	for _, line := range []string{"c_test.go:3: after the subtests", "FAIL\tp\t0.1s", "ok  \tq\t0.1s"} {
		if !strings.Contains(out.String(), line) {
			t.Fatalf("output %q lacks %q", out.String(), line)
		}
	}
}
