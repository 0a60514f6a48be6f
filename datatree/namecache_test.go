package datatree

import (
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// TestChildNameCache checks that the cached names of a listed parent, held
// in a slice or (past smallChildren) a map, follow every create and
// delete, and that concurrent readers agree.
func TestChildNameCache(t *testing.T) {
	for _, n := range []int{cacheNamesFrom - 2, cacheNamesFrom + 10, 2 * smallChildren} {
		t.Run(strconv.Itoa(n), func(t *testing.T) { testChildNameCache(t, n) })
	}
}

func testChildNameCache(t *testing.T, n int) {
	tr := New(Options{})
	acl := jute.OpenACLUnsafe()
	zxid := int64(0)
	apply := func(typ jute.OpCode, rec jute.Record) {
		t.Helper()
		zxid++
		if r := tr.Apply(&jute.TxnHeader{Zxid: zxid, Type: int32(typ)}, rec); r.Err != jute.CodeOK {
			t.Fatalf("%v: %v", typ, r.Err)
		}
	}
	apply(jute.OpCreate, &jute.CreateTxn{Path: "/w", Acl: acl, ParentCVersion: -1})
	want := []string{}
	for i := range n {
		name := "c" + strconv.Itoa(i)
		apply(jute.OpCreate, &jute.CreateTxn{Path: "/w/" + name, Acl: acl, ParentCVersion: -1})
		want = append(want, name)
	}
	slices.Sort(want)
	check := func(step string) {
		t.Helper()
		got, st, code := tr.GetChildren("/w", 0)
		if code != jute.CodeOK || !slices.Equal(got, want) || int(st.NumChildren) != len(want) {
			t.Fatalf("%s: %d names (stat %d), want %d", step, len(got), st.NumChildren, len(want))
		}
	}
	check("after creates")
	check("cached")
	// An append by a caller must not write into the cache.
	got, _, _ := tr.GetChildren("/w", 0)
	_ = append(got, "zzz")
	check("after a caller's append")

	apply(jute.OpCreate, &jute.CreateTxn{Path: "/w/new", Acl: acl, ParentCVersion: -1})
	want = append(want, "new")
	slices.Sort(want)
	check("after one more create")

	apply(jute.OpDelete, &jute.DeleteTxn{Path: "/w/c7"})
	want = slices.DeleteFunc(want, func(s string) bool { return s == "c7" })
	check("after a delete")

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if got, _, _ := tr.GetChildren("/w", 0); len(got) != len(want) || !slices.IsSorted(got) {
					t.Errorf("concurrent read: %d names", len(got))
					return
				}
			}
		}()
	}
	wg.Wait()
}
