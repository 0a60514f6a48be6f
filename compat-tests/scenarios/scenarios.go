// Package scenarios is the catalogue of differential scenarios the compat
// suite runs against Apache ZooKeeper and gokeeper. Most scenarios are
// generated from tables (modes x ops, perms x ops, failing positions, ...)
// so that coverage grows cheaply; every scenario name is stable because
// DIVERGENCES.md refers to it.
package scenarios

import (
	"fmt"
	"sort"

	"github.com/gokeeper/gokeeper/compat-tests/scenario"
)

type family func() []scenario.Scenario

var families []family

func register(f family) { families = append(families, f) }

// All returns every scenario, sorted by name. It panics if two scenarios
// share a name, which is a bug in the catalogue.
func All() []scenario.Scenario {
	var out []scenario.Scenario
	seen := map[string]bool{}
	for _, f := range families {
		for _, sc := range f() {
			if seen[sc.Name] {
				panic(fmt.Sprintf("scenarios: duplicate scenario name %q", sc.Name))
			}
			seen[sc.Name] = true
			out = append(out, sc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sc is shorthand for a scenario literal.
func sc(name string, run func(r *scenario.Run)) scenario.Scenario {
	return scenario.Scenario{Name: name, Run: run}
}

func b(s string) []byte { return []byte(s) }
