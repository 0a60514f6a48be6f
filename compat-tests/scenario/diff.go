package scenario

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
)

// Divergence is the first difference between two transcripts of one
// scenario.
type Divergence struct {
	Scenario string
	// Index is the entry index where the transcripts first differ.
	Index int
	// Step is the step that produced the differing entry.
	Step int
	// Want and Got are the differing lines ("<end>" when one transcript
	// is shorter).
	Want, Got string
	// WantTarget and GotTarget name the servers.
	WantTarget, GotTarget string
	// Context holds the entries both transcripts share just before the
	// divergence.
	Context []Entry
}

// String renders the divergence for a test failure.
func (d *Divergence) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s: first divergence at step %d (entry %d)\n", d.Scenario, d.Step, d.Index)
	for _, e := range d.Context {
		fmt.Fprintf(&b, "    %3d %s\n", e.Step, e.Text)
	}
	fmt.Fprintf(&b, "  %-10s %s\n", d.WantTarget+":", d.Want)
	fmt.Fprintf(&b, "  %-10s %s\n", d.GotTarget+":", d.Got)
	return b.String()
}

// Diff compares two transcripts of the same scenario and returns the first
// divergence, or nil when they are identical.
func Diff(want, got *Transcript) *Divergence {
	n := len(want.Entries)
	if len(got.Entries) > n {
		n = len(got.Entries)
	}
	for i := 0; i < n; i++ {
		var w, g Entry
		w.Text, g.Text = "<end>", "<end>"
		if i < len(want.Entries) {
			w = want.Entries[i]
		}
		if i < len(got.Entries) {
			g = got.Entries[i]
		}
		if w.Text == g.Text {
			continue
		}
		step := w.Step
		if i >= len(want.Entries) {
			step = g.Step
		}
		lo := i - 3
		if lo < 0 {
			lo = 0
		}
		return &Divergence{
			Scenario: want.Scenario, Index: i, Step: step, Want: w.Text, Got: g.Text,
			WantTarget: want.Target, GotTarget: got.Target,
			Context: append([]Entry(nil), want.Entries[lo:i]...),
		}
	}
	return nil
}

// Allowed lists the divergences kept on purpose: scenario name patterns
// (path.Match syntax) with their reasons.
type Allowed struct {
	patterns []string
	reasons  []string
}

var allowedLine = regexp.MustCompile("^\\s*[-*]\\s+`([^`]+)`\\s*[:—-]?\\s*(.*)$")

// ParseAllowed reads DIVERGENCES.md: every list item that starts with a
// back-quoted scenario name (or pattern) declares an allowed divergence;
// the rest of the item is its reason, which must not be empty.
func ParseAllowed(text string) (*Allowed, error) {
	a := &Allowed{}
	sc := bufio.NewScanner(strings.NewReader(text))
	line := 0
	for sc.Scan() {
		line++
		m := allowedLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if _, err := path.Match(m[1], ""); err != nil {
			return nil, fmt.Errorf("scenario: DIVERGENCES.md line %d: bad pattern %q: %w", line, m[1], err)
		}
		if strings.TrimSpace(m[2]) == "" {
			return nil, fmt.Errorf("scenario: DIVERGENCES.md line %d: %q has no reason", line, m[1])
		}
		a.patterns = append(a.patterns, m[1])
		a.reasons = append(a.reasons, strings.TrimSpace(m[2]))
	}
	return a, sc.Err()
}

// LoadAllowed reads and parses the DIVERGENCES.md file at file.
func LoadAllowed(file string) (*Allowed, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseAllowed(string(b))
}

// Reason returns why divergences of scenario are allowed, or "" if they
// are not.
func (a *Allowed) Reason(scenario string) string {
	if a == nil {
		return ""
	}
	for i, p := range a.patterns {
		if ok, _ := path.Match(p, scenario); ok {
			return a.reasons[i]
		}
	}
	return ""
}

// Len returns the number of entries.
func (a *Allowed) Len() int {
	if a == nil {
		return 0
	}
	return len(a.patterns)
}
