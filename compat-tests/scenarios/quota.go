package scenarios

import (
	"fmt"

	"github.com/gokeeper/gokeeper/compat-tests/scenario"
)

func init() { register(quotas) }

// quotas sets a quota the way zkCli's setquota does (limits and stats
// nodes under /zookeeper/quota) and checks the server's bookkeeping in the
// stats node as the tree under the quota root changes. Apache ZooKeeper
// 3.8 does not enforce quotas by default; it only counts.
func quotas() []scenario.Scenario {
	var out []scenario.Scenario
	for _, limits := range []string{"count=2,bytes=-1", "count=-1,bytes=10", "count=1,bytes=1"} {
		limits := limits
		out = append(out, sc(fmt.Sprintf("quota/%s", limits), func(r *scenario.Run) {
			c := r.Connect()
			c.Create(r.P("q"), b("12345"), scenario.Open, 0)
			qroot := "/zookeeper/quota" + r.Root
			c.Create(qroot, nil, scenario.Open, 0)
			c.Create(qroot+"/q", nil, scenario.Open, 0)
			c.Create(qroot+"/q/zookeeper_limits", b(limits), scenario.Open, 0)
			c.Create(qroot+"/q/zookeeper_stats", b("count=0,bytes=0"), scenario.Open, 0)
			c.GetData(qroot+"/q/zookeeper_stats", false)
			c.Create(r.P("q/a"), b("abc"), scenario.Open, 0)
			c.Create(r.P("q/b"), b("0123456789"), scenario.Open, 0)
			c.GetData(qroot+"/q/zookeeper_stats", false)
			c.SetData(r.P("q/a"), b("a"), -1)
			c.Delete(r.P("q/b"), -1)
			c.GetData(qroot+"/q/zookeeper_stats", false)
		}))
	}
	return out
}
