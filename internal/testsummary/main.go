// Command testsummary reads `go test -json` on stdin and prints what a
// plain `go test` prints (one line per package, the output of what
// failed), then one summary line counting the checks that passed, failed
// and were skipped, and each skipped check with the reason it gave. It
// exits 1 if anything failed. make test runs it.
//
// A check is a test without subtests, or a subtest without subtests of
// its own: a test whose subtests ran counts through them, except a failed
// test whose subtests all passed, which counts as one failed check.
//
//	go test -json ./... | go run ./internal/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// test is what was seen of one test or subtest.
type test struct {
	pkg, name string
	action    string // pass, fail or skip; "" while it runs
	output    []string
	hasKids   bool
	kidFailed bool
}

// summary is what a stream of events added up to.
type summary struct {
	passed, failed, skipped int
	skips                   []string // "pkg Test: reason"
	failedPkgs              int
}

func main() {
	s, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	s.print(os.Stdout)
	if s.failed > 0 || s.failedPkgs > 0 {
		os.Exit(1)
	}
}

// summarize reads the events in r, writes to w what go test would print
// without -json, and returns the counts.
func summarize(r io.Reader, w io.Writer) (*summary, error) {
	tests := map[string]*test{}
	var order []*test
	pkgOut := map[string][]string{}
	s := &summary{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintln(w, string(line)) // NB: not an event: build output
			continue
		}
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				pkgOut[ev.Package] = append(pkgOut[ev.Package], ev.Output)
			case "pass", "skip":
				for _, o := range pkgOut[ev.Package] {
					if strings.HasPrefix(o, "ok") || strings.HasPrefix(o, "?") {
						fmt.Fprint(w, o)
					}
				}
				delete(pkgOut, ev.Package)
			case "fail":
				s.failedPkgs++
				for _, o := range pkgOut[ev.Package] {
					if o != "PASS\n" {
						fmt.Fprint(w, o)
					}
				}
				delete(pkgOut, ev.Package)
			}
			continue
		}
		key := ev.Package + " " + ev.Test
		t := tests[key]
		if t == nil {
			t = &test{pkg: ev.Package, name: ev.Test}
			tests[key] = t
			order = append(order, t)
			if i := strings.LastIndex(ev.Test, "/"); i >= 0 {
				if p := tests[ev.Package+" "+ev.Test[:i]]; p != nil {
					p.hasKids = true
				}
			}
		}
		switch ev.Action {
		case "output":
			t.output = append(t.output, ev.Output)
		case "pass", "fail", "skip":
			t.action = ev.Action
			if ev.Action == "fail" {
				for _, o := range t.output {
					if !strings.HasPrefix(o, "=== ") {
						fmt.Fprint(w, o)
					}
				}
				if i := strings.LastIndex(ev.Test, "/"); i >= 0 {
					if p := tests[ev.Package+" "+ev.Test[:i]]; p != nil {
						p.kidFailed = true
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, t := range order {
		if t.hasKids && !(t.action == "fail" && !t.kidFailed) {
			continue
		}
		switch t.action {
		case "pass":
			s.passed++
		case "fail":
			s.failed++
		case "skip":
			s.skipped++
			s.skips = append(s.skips, fmt.Sprintf("%s %s: %s", t.pkg, t.name, skipReason(t.output)))
		}
	}
	sort.Strings(s.skips)
	return s, nil
}

// skipReason returns what a skipped test logged last before its SKIP
// line: the message of its t.Skip.
func skipReason(output []string) string {
	reason := "(no reason given)"
	for _, o := range output {
		o = strings.TrimSpace(o)
		if o == "" || strings.HasPrefix(o, "=== ") || strings.HasPrefix(o, "--- ") {
			continue
		}
		// NB: the message follows "file_test.go:NN: ".
		if i := strings.Index(o, ".go:"); i >= 0 {
			if j := strings.Index(o[i+4:], ": "); j >= 0 {
				o = o[i+4+j+2:]
			}
		}
		reason = o
	}
	return reason
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "tests: %d checks passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	for _, k := range s.skips {
		fmt.Fprintf(w, "  skipped %s\n", k)
	}
}
