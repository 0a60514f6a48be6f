package datatree

import (
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"unsafe"

	"github.com/gokeeper/gokeeper/jute"
)

// benchTree builds a tree of n znodes with 100-byte data, 1000 per parent
// under /b<i> (a typical wide-but-bounded layout), and returns it with the
// zxid used.
func benchTree(n int) (*Tree, int64) {
	tr := New(Options{})
	data := make([]byte, 100)
	acl := jute.OpenACLUnsafe()
	var zxid int64
	var path []byte
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			zxid++
			tr.Apply(&jute.TxnHeader{Zxid: zxid, Type: int32(jute.OpCreate)},
				&jute.CreateTxn{Path: "/b" + strconv.Itoa(i/1000), Data: data, Acl: acl, ParentCVersion: -1})
		}
		zxid++
		path = append(path[:0], "/b"...)
		path = strconv.AppendInt(path, int64(i/1000), 10)
		path = append(path, "/n"...)
		path = strconv.AppendInt(path, int64(i%1000), 10)
		tr.Apply(&jute.TxnHeader{Zxid: zxid, Time: zxid, Type: int32(jute.OpCreate)},
			&jute.CreateTxn{Path: string(path), Data: data, Acl: acl, ParentCVersion: -1})
	}
	return tr, zxid
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// memoryTreeZnodes is the size of BenchmarkTreeMemory's tree.
const memoryTreeZnodes = 1_000_000

// buildMemoryTree builds, through Apply as the server does, a tree of n
// znodes at /bench/m/p<i%parents>/n<i>, each with 100 bytes of data. Each
// create txn gets its own data slice, as a freshly decoded txn has.
func buildMemoryTree(n, parents int) *Tree {
	tr := New(Options{})
	acl := jute.OpenACLUnsafe()
	var zxid int64
	create := func(path string, data []byte) {
		zxid++
		r := tr.Apply(&jute.TxnHeader{Zxid: zxid, Time: zxid, Type: int32(jute.OpCreate)},
			&jute.CreateTxn{Path: path, Data: data, Acl: acl, ParentCVersion: -1})
		if r.Err != jute.CodeOK {
			panic(fmt.Sprintf("create %s: %v", path, r.Err))
		}
	}
	create("/bench", nil)
	create("/bench/m", nil)
	for p := 0; p < parents; p++ {
		create("/bench/m/p"+strconv.Itoa(p), make([]byte, 100))
	}
	var path []byte
	for i := 0; i < n; i++ {
		path = append(path[:0], "/bench/m/p"...)
		path = strconv.AppendInt(path, int64(i%parents), 10)
		path = append(path, "/n"...)
		path = strconv.AppendInt(path, int64(i), 10)
		create(string(path), make([]byte, 100))
	}
	return tr
}

// BenchmarkTreeMemory reports the live heap bytes per znode of a tree of
// 1M znodes with 100-byte data (100 of them are the data itself): 1000
// parents of 1000 children, or, for "wide", 100 parents of 10,000 (held in
// the sets for more than smallChildren). Run it with -benchtime=1x.
func BenchmarkTreeMemory(b *testing.B) {
	for _, bc := range []struct {
		name    string
		parents int
	}{{"1000x1000", 1000}, {"wide-100x10000", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				before := heapAlloc()
				tr := buildMemoryTree(memoryTreeZnodes, bc.parents)
				after := heapAlloc()
				b.ReportMetric(float64(after-before)/memoryTreeZnodes, "B/znode")
				if tr.NodeCount() < memoryTreeZnodes {
					b.Fatal("tree too small")
				}
				runtime.KeepAlive(tr)
			}
		})
	}
}

func BenchmarkCreate(b *testing.B) {
	tr := New(Options{})
	data := make([]byte, 100)
	acl := jute.OpenACLUnsafe()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%1000 == 0 {
			tr.Apply(&jute.TxnHeader{Zxid: int64(i), Type: int32(jute.OpCreate)},
				&jute.CreateTxn{Path: "/b" + strconv.Itoa(i/1000), Acl: acl, ParentCVersion: -1})
		}
		r := tr.Apply(&jute.TxnHeader{Zxid: int64(i), Type: int32(jute.OpCreate)},
			&jute.CreateTxn{Path: "/b" + strconv.Itoa(i/1000) + "/n" + strconv.Itoa(i%1000), Data: data, Acl: acl, ParentCVersion: -1})
		if r.Err != jute.CodeOK {
			b.Fatal(r.Err)
		}
	}
}

func benchPaths(n int) []string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("/b%d/n%d", i/1000, i%1000)
	}
	return ps
}

func BenchmarkGetData(b *testing.B) {
	const n = 100_000
	tr, _ := benchTree(n)
	ps := benchPaths(n)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, c := tr.GetData(ps[i%n], 0); c != jute.CodeOK {
				b.Fatal(c)
			}
			i += 7919
		}
	})
}

// BenchmarkGetDataWide reads the children of one parent of 10,000, which
// a childSet holds in its hash table (make bench's keys are laid out so).
func BenchmarkGetDataWide(b *testing.B) {
	const n = 10_000
	tr := New(Options{})
	acl := jute.OpenACLUnsafe()
	data := make([]byte, 100)
	tr.Apply(&jute.TxnHeader{Zxid: 1, Type: int32(jute.OpCreate)}, &jute.CreateTxn{Path: "/k", Acl: acl, ParentCVersion: -1})
	ps := make([]string, n)
	for i := range n {
		ps[i] = "/k/" + strconv.Itoa(i)
		tr.Apply(&jute.TxnHeader{Zxid: int64(i + 2), Type: int32(jute.OpCreate)}, &jute.CreateTxn{Path: ps[i], Data: data, Acl: acl, ParentCVersion: -1})
	}
	benchGetData(b, tr, ps)
}

// benchGetData reads the znodes at ps, one at a time, striding through
// them so that consecutive reads land far apart.
func benchGetData(b *testing.B, tr *Tree, ps []string) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, c := tr.GetData(ps[i%len(ps)], 0); c != jute.CodeOK {
			b.Fatal(c)
		}
		i += 7919
	}
}

// BenchmarkGetDataSequential reads nodes named as sequential znodes are
// ("lock-0000000123"), whose first 8 bytes tie across all siblings.
func BenchmarkGetDataSequential(b *testing.B) {
	tr := New(Options{})
	acl := jute.OpenACLUnsafe()
	data := make([]byte, 100)
	var ps []string
	zxid := int64(0)
	for p := range 100 {
		zxid++
		parent := "/q" + strconv.Itoa(p)
		tr.Apply(&jute.TxnHeader{Zxid: zxid, Type: int32(jute.OpCreate)}, &jute.CreateTxn{Path: parent, Acl: acl, ParentCVersion: -1})
		for i := range 1000 {
			zxid++
			path := fmt.Sprintf("%s/lock-%010d", parent, i)
			tr.Apply(&jute.TxnHeader{Zxid: zxid, Type: int32(jute.OpCreate)}, &jute.CreateTxn{Path: path, Data: data, Acl: acl, ParentCVersion: -1})
			ps = append(ps, path)
		}
	}
	benchGetData(b, tr, ps)
}

func BenchmarkSetData(b *testing.B) {
	const n = 100_000
	tr, zxid := benchTree(n)
	ps := benchPaths(n)
	data := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		zxid++
		if r := tr.Apply(&jute.TxnHeader{Zxid: zxid, Type: int32(jute.OpSetData)},
			&jute.SetDataTxn{Path: ps[i%n], Data: data, Version: int32(i)}); r.Err != jute.CodeOK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkGetChildren(b *testing.B) {
	const n = 100_000
	tr, _ := benchTree(n)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, c := tr.GetChildren("/b"+strconv.Itoa(i%100), 0); c != jute.CodeOK {
				b.Fatal(c)
			}
			i++
		}
	})
}

// TestNodeSize pins the znode struct to Go's 80-byte size class; a new
// field must earn its 16 bytes per znode.
func TestNodeSize(t *testing.T) {
	if s := unsafe.Sizeof(node{}); s != 80 {
		t.Fatalf("node is %d bytes, want 80", s)
	}
}

// TestChildSetOrder checks the keyed binary search against plain string
// order, across the switch to a map and back.
func TestChildSetOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var c childSet
	want := map[string]*node{}
	alpha := "ab-09z"
	for i := 0; i < 5000; i++ {
		l := rng.Intn(12) + 1
		b := make([]byte, l)
		for j := range b {
			b[j] = alpha[rng.Intn(len(alpha))]
		}
		name := string(b)
		if rng.Intn(3) == 0 {
			c.remove(name)
			delete(want, name)
		} else if c.get(name) == nil {
			n := newNode(name, nil)
			c.add(name, n)
			want[name] = n
		}
		if c.len() != len(want) {
			t.Fatalf("len %d, want %d", c.len(), len(want))
		}
	}
	names := c.names()
	if !slices.IsSorted(names) || len(names) != len(want) {
		t.Fatal("names not sorted or wrong count")
	}
	for name, n := range want {
		if c.get(name) != n {
			t.Fatalf("get(%q) wrong", name)
		}
	}
}

// BenchmarkGetChildrenWide lists a parent with 10,000 children (past
// smallChildren, so held in a map), as `gokeeper bench -workload
// children10k` does.
func BenchmarkGetChildrenWide(b *testing.B) {
	tr := New(Options{})
	acl := jute.OpenACLUnsafe()
	zxid := int64(1)
	tr.Apply(&jute.TxnHeader{Zxid: zxid, Type: int32(jute.OpCreate)}, &jute.CreateTxn{Path: "/w", Acl: acl, ParentCVersion: -1})
	for i := range 10000 {
		zxid++
		tr.Apply(&jute.TxnHeader{Zxid: zxid, Type: int32(jute.OpCreate)},
			&jute.CreateTxn{Path: "/w/child-" + strconv.Itoa(i), Acl: acl, ParentCVersion: -1})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if kids, _, c := tr.GetChildren("/w", 0); c != jute.CodeOK || len(kids) != 10000 {
			b.Fatal(c, len(kids))
		}
	}
}

// BenchmarkWalk1M walks a tree of 1M znodes (1,000 parents of 1,000), as
// every snapshot does while the server keeps serving.
func BenchmarkWalk1M(b *testing.B) {
	tr, _ := benchTree(1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := tr.Walk(func([][]jute.ACL) error { return nil }, func(*SnapshotNode) error { n++; return nil }); err != nil || n < 1_001_001 {
			b.Fatal(err, n)
		}
	}
}
