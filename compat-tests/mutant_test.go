package compat

import (
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/compat-tests/mutproxy"
	"github.com/gokeeper/gokeeper/compat-tests/scenario"
	"github.com/gokeeper/gokeeper/compat-tests/scenarios"
	"github.com/gokeeper/gokeeper/jute"
)

func scenarioByName(t *testing.T, name string) scenario.Scenario {
	t.Helper()
	for _, sc := range scenarios.All() {
		if sc.Name == name {
			return sc
		}
	}
	t.Fatalf("no scenario %q", name)
	return scenario.Scenario{}
}

// TestSuiteCatchesWrongServer points scenarios at a proxy in front of
// Apache ZooKeeper that rewrites one field, and checks that the diff
// reports each planted divergence (and nothing when the proxy is honest).
func TestSuiteCatchesWrongServer(t *testing.T) {
	requireZooKeeper(t)
	allowed, err := scenario.LoadAllowed("DIVERGENCES.md")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		mutate   mutproxy.Mutator
		scenario string
		// want are substrings the divergence must show on the wrong side.
		want []string
	}{
		{"honest", nil, "watch/oneshot/getData/setData", nil},
		{"honest-multi", nil, "multi/fail-at-2/badversion", nil},
		{"wrong-error-code", mutproxy.WrongErrorCode(jute.CodeNoNode, jute.CodeNoAuth), "errors/nonode-parent", []string{"NOAUTH"}},
		{"wrong-error-code-badversion", mutproxy.WrongErrorCode(jute.CodeBadVersion, jute.CodeNoNode), "versions/setData/v2", []string{"mutant:    c1 setData /R/n data=\"b\" v=2 -> NONODE"}},
		{"wrong-cversion", mutproxy.WrongCversion(1), "ops/stat-cversion-pzxid", []string{"zookeeper: c1 exists /R/p watch=false -> OK zxid=Z+0 stat{cz=Z+0 mz=Z+0 ct=T mt=T v=0 cv=0", "mutant:    c1 exists /R/p watch=false -> OK zxid=Z+0 stat{cz=Z+0 mz=Z+0 ct=T mt=T v=0 cv=1"}},
		{"wrong-cversion-children2", mutproxy.WrongCversion(-1), "sequential/mode2/after-deletes", []string{"cv="}},
		{"missing-data-event", mutproxy.DropEvents(jute.EventNodeDataChanged), "watch/oneshot/getData/setData", []string{"zookeeper: c2 event NodeDataChanged"}},
		{"missing-child-event", mutproxy.DropEvents(jute.EventNodeChildrenChanged), "watch/oneshot/getChildren/createChild", []string{"zookeeper: c2 event NodeChildrenChanged"}},
		{"missing-deleted-event", mutproxy.DropEvents(jute.EventNodeDeleted), "ephemeral/close-removes", []string{"zookeeper: c2 event NodeDeleted"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := scenarioByName(t, tc.scenario)
			p, err := mutproxy.Start(env.zk.Addr, tc.mutate)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			want := scenario.Execute(target(env.zk), sc, nextRoot())
			wrong := target(env.zk)
			wrong.Name, wrong.Addr = "mutant", p.Addr
			got := scenario.Execute(wrong, sc, nextRoot())
			d := scenario.Diff(want, got)
			if tc.mutate == nil {
				if d != nil {
					t.Fatalf("honest proxy reported a divergence:\n%s", d)
				}
				return
			}
			if d == nil {
				t.Fatalf("planted divergence not reported; transcript:\n%s", got)
			}
			if allowed.Reason(sc.Name) != "" {
				t.Fatalf("scenario %s is listed in DIVERGENCES.md, so the suite would not fail", sc.Name)
			}
			report := d.String()
			if !strings.Contains(report, "mutant:") || !strings.Contains(report, "first divergence at step") {
				t.Fatalf("report lacks target or step:\n%s", report)
			}
			for _, w := range tc.want {
				if !strings.Contains(report, w) {
					t.Errorf("report does not mention %q:\n%s", w, report)
				}
			}
			t.Logf("reported as expected:\n%s", report)
		})
	}
}
