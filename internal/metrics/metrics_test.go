package metrics

import (
	"slices"
	"sync"
	"testing"
)

func TestSummaryValuesAndQuantiles(t *testing.T) {
	s := NewRegistry().Summary("x", Advanced)
	for i := int64(1); i <= 100; i++ {
		s.Add(i)
	}
	v := s.Values()
	if v.Count != 100 || v.Sum != 5050 || v.Min != 1 || v.Max != 100 || v.Avg != 50.5 {
		t.Fatalf("values %+v", v)
	}
	if q := v.Quantile(0.5); q < 50 || q > 51 {
		t.Errorf("p50 %d", q)
	}
	if q := v.Quantile(0.99); q < 99 {
		t.Errorf("p99 %d", q)
	}
	for range WindowSize {
		s.Add(1000)
	}
	if q := s.Values().Quantile(0.5); q != 1000 {
		t.Errorf("window did not slide: p50 %d", q)
	}
}

// TestResetKeepsTotals: a Reset (srst) starts mntr's readings over while
// Prometheus's since-start readings go on, so its counters never go down.
func TestResetKeepsTotals(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c")
	s := r.Summary("s", Basic)
	c.Add(3)
	s.AddN(7, 2)
	r.Reset()
	if c.Get() != 0 || c.Total() != 3 {
		t.Errorf("counter after reset: get %d total %d", c.Get(), c.Total())
	}
	if v := s.Values(); v.Count != 0 || v.Sum != 0 || v.TotalCount != 2 || v.TotalSum != 14 || v.Quantile(0.5) != 0 {
		t.Errorf("summary after reset: %+v", v)
	}
	c.Add(1)
	s.Add(5)
	if v := s.Values(); c.Get() != 1 || c.Total() != 4 || v.Min != 5 || v.Max != 5 || v.TotalCount != 3 {
		t.Errorf("after reset and more: counter %d/%d summary %+v", c.Get(), c.Total(), v)
	}
}

func TestAddNIsNAdds(t *testing.T) {
	a, b := NewRegistry().Summary("a", Advanced), NewRegistry().Summary("b", Advanced)
	for _, x := range []struct{ v, n int64 }{{3, 4}, {9, 1}, {1, 2}, {4, 0}} {
		a.AddN(x.v, x.n)
		for range x.n {
			b.Add(x.v)
		}
	}
	va, vb := a.Values(), b.Values()
	if va.Count != vb.Count || va.Sum != vb.Sum || va.Min != vb.Min || va.Max != vb.Max || va.Quantile(0.5) != vb.Quantile(0.5) {
		t.Fatalf("AddN %+v, Adds %+v", va, vb)
	}
}

func TestAddAllIsAdds(t *testing.T) {
	a, b := NewRegistry().Summary("a", Advanced), NewRegistry().Summary("b", Advanced)
	vs := []int64{5, 1, 9, 9, 0, 3}
	a.AddAll(vs)
	a.AddAll(nil)
	for _, v := range vs {
		b.Add(v)
	}
	va, vb := a.Values(), b.Values()
	if va.Count != 6 || va.Count != vb.Count || va.Sum != vb.Sum || va.Min != vb.Min || va.Max != vb.Max || !slices.Equal(va.Sorted, vb.Sorted) {
		t.Fatalf("AddAll %+v, Adds %+v", va, vb)
	}
}

func TestRegistrySharesByName(t *testing.T) {
	r := NewRegistry()
	if r.Counter("x") != r.Counter("x") || r.Summary("y", Basic) != r.Summary("y", Basic) {
		t.Fatal("the same name gave two metrics")
	}
	for _, f := range []func(){
		func() { r.Summary("y", Advanced) },
		func() { r.Summary("x", Basic) },
		func() { r.Counter("y") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a name asked for as another kind did not panic")
				}
			}()
			f()
		}()
	}
	if n := len(r.Counters()) + len(r.Summaries()); n != 2 {
		t.Fatalf("%d metrics registered, want 2", n)
	}
}

func TestNilIsInert(t *testing.T) {
	var r *Registry
	c, s := r.Counter("c"), r.Summary("s", Basic)
	c.Add(1)
	s.Add(1)
	if c.Get() != 1 || s.Values().Count != 1 {
		t.Fatal("metrics of a nil registry do not count")
	}
	var nc *Counter
	var ns *Summary
	nc.Add(1)
	ns.Add(1)
	if nc.Get() != 0 || ns.Values().Count != 0 {
		t.Fatal("nil metrics counted")
	}
}

func TestConcurrentAdds(t *testing.T) {
	r := NewRegistry()
	c, s := r.Counter("c"), r.Summary("s", Advanced)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				c.Add(1)
				s.Add(int64(g*1000 + i))
				if i == 500 && g == 0 {
					r.Reset()
				}
			}
		}()
	}
	wg.Wait()
	if c.Total() != 8000 || s.Values().TotalCount != 8000 {
		t.Fatalf("totals %d %d, want 8000", c.Total(), s.Values().TotalCount)
	}
}

func TestBufferStats(t *testing.T) {
	var b BufferStats
	if l, lo, hi := b.Get(); l != -1 || lo != -1 || hi != -1 {
		t.Fatalf("empty: %d %d %d", l, lo, hi)
	}
	for _, v := range []int64{40, 10, 90, 30} {
		b.Set(v)
	}
	if l, lo, hi := b.Get(); l != 30 || lo != 10 || hi != 90 {
		t.Fatalf("got %d %d %d, want 30 10 90", l, lo, hi)
	}
	b.Reset()
	if l, _, _ := b.Get(); l != -1 {
		t.Fatalf("after reset last %d", l)
	}
}

// The cost a stage pays per value it records.
func BenchmarkCounterAdd(b *testing.B) {
	c := NewRegistry().Counter("c")
	for range b.N {
		c.Add(1)
	}
}

func BenchmarkSummaryAdd(b *testing.B) {
	s := NewRegistry().Summary("s", Advanced)
	for i := range b.N {
		s.Add(int64(i & 7))
	}
}

func BenchmarkSummaryAddParallel(b *testing.B) {
	s := NewRegistry().Summary("s", Advanced)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Add(3)
		}
	})
}
