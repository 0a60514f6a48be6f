package scenarios

import (
	"reflect"
	"strings"
	"testing"
)

func TestCatalogue(t *testing.T) {
	all := All()
	if len(all) < 250 {
		t.Fatalf("only %d scenarios, want at least 250", len(all))
	}
	families := map[string]int{}
	for _, sc := range all {
		if sc.Run == nil || sc.Name == "" || strings.ContainsAny(sc.Name, " `") {
			t.Errorf("bad scenario %q", sc.Name)
		}
		families[strings.SplitN(sc.Name, "/", 2)[0]]++
	}
	for _, f := range []string{"create-mode", "paths", "acl", "multi", "multiRead", "watch", "setWatches", "setWatches2",
		"handshake", "ephemeral", "maxbuffer", "container", "ttl", "4lw", "admin", "versions", "errors", "sequential", "ops"} {
		if families[f] == 0 {
			t.Errorf("no scenario in family %q", f)
		}
	}
}

func TestGenerateOpsDeterministic(t *testing.T) {
	a, b := GenerateOps(7, 50), GenerateOps(7, 50)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different ops")
	}
	if reflect.DeepEqual(a, GenerateOps(8, 50)) {
		t.Fatal("different seeds, same ops")
	}
	kinds := map[string]bool{}
	for _, o := range GenerateOps(1, 500) {
		kinds[o.Kind] = true
		if o.Session < 0 || o.Session >= RandomSessions {
			t.Fatalf("session %d out of range", o.Session)
		}
	}
	if len(kinds) < 10 {
		t.Fatalf("only kinds %v", kinds)
	}
}
