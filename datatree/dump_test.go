package datatree

import (
	"fmt"
	"slices"
	"strings"
)

// dump renders the whole tree, stats and ACLs included, for comparisons:
// parents before children, siblings by name, whatever order Walk took.
func dump(t *Tree) string {
	type line struct{ path, text string }
	var lines []line
	_ = t.Walk(nil, func(n *SnapshotNode) error {
		lines = append(lines, line{n.Path, fmt.Sprintf("%q %q %v %+v\n", n.Path, n.Data, n.ACL, n.Stat)})
		return nil
	})
	slices.SortFunc(lines, func(a, b line) int {
		return slices.Compare(strings.Split(a.path, "/"), strings.Split(b.path, "/"))
	})
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(l.text)
	}
	return sb.String()
}
