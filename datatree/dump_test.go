package datatree

import (
	"fmt"
	"strings"
)

// dump renders the whole tree, stats and ACLs included, for comparisons.
func dump(t *Tree) string {
	var sb strings.Builder
	_ = t.Walk(func(n *SnapshotNode) error {
		fmt.Fprintf(&sb, "%q %q %v %+v\n", n.Path, n.Data, n.ACL, n.Stat)
		return nil
	})
	return sb.String()
}
