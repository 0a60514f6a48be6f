package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistIndexBounds(t *testing.T) {
	values := []int64{0, 1, 2, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, 1<<40 + 17, math.MaxInt64}
	for _, v := range values {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, outside [0,%d)", v, i, histBuckets)
		}
		lo, hi := histBounds(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d with bounds [%d,%d]", v, i, lo, hi)
		}
		// Relative width: exact below histSub, under 1/histHalf above.
		if v >= histSub && float64(hi-lo+1)/float64(lo) > 1.0/histHalf+1e-9 {
			t.Errorf("bucket %d [%d,%d] wider than 1/%d of its values", i, lo, hi, histHalf)
		}
	}
	// Buckets tile the value range: each starts right after the previous.
	for i := 1; i < histIndex(math.MaxInt64); i++ {
		_, prevHi := histBounds(i - 1)
		lo, _ := histBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values []int64
		q      float64
		want   int64 // exact answer; the histogram may overstate by < 1/histHalf
	}{
		{"single", []int64{42}, 0.5, 42},
		{"small exact", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5, 5},
		{"p100 is max", []int64{10, 20, 3000000}, 1, 3000000},
		{"p0 is min", []int64{700, 800, 900}, 0, 700},
		{"p99 of 1..1000us", seq(1000, 1000), 0.99, 990000},
		{"p99.9 of 1..10000us", seq(10000, 1000), 0.999, 9990000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range shuffled(tt.values) {
				h.Record(v)
			}
			got := h.Quantile(tt.q)
			if got < tt.want || float64(got-tt.want) > float64(tt.want)/histHalf {
				t.Errorf("Quantile(%v) = %d, want %d (+<%.1f%%)", tt.q, got, tt.want, 100.0/histHalf)
			}
			if h.Count() != uint64(len(tt.values)) || h.Max() != slices.Max(tt.values) || h.Min() != slices.Min(tt.values) {
				t.Errorf("count/min/max = %d/%d/%d", h.Count(), h.Min(), h.Max())
			}
		})
	}
}

func TestHistEmptyMergeReset(t *testing.T) {
	var a, b Histogram
	if a.Quantile(0.99) != 0 || a.Max() != 0 || a.Mean() != 0 {
		t.Fatal("empty histogram reports non-zero")
	}
	for i := int64(1); i <= 100; i++ {
		a.Record(i * 1000)
		b.Record(i * 1000000)
	}
	a.Record(-5) // negative counts as 0
	a.Merge(&b)
	if a.Count() != 201 || a.Min() != 0 || a.Max() != 100000000 {
		t.Fatalf("merged count/min/max = %d/%d/%d", a.Count(), a.Min(), a.Max())
	}
	// 101 values at or below 100us, so the median is in the first batch.
	if q := a.Quantile(0.5); q > 101000 {
		t.Fatalf("merged median %d", q)
	}
	wantMean := (5050.0*1000 + 5050.0*1000000) / 201
	if m := a.Mean(); math.Abs(m-wantMean) > 1 {
		t.Fatalf("mean %v, want %v", m, wantMean)
	}
	a.Reset()
	if a.Count() != 0 || a.Quantile(0.5) != 0 {
		t.Fatal("Reset left values")
	}
}

func TestHistRecordAllocatesNothing(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(1, 2))
	if n := testing.AllocsPerRun(1000, func() { h.Record(rng.Int64N(1 << 40)) }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
}

func BenchmarkHistRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(int64(i) * 7919)
	}
}

// seq returns step, 2*step, ..., n*step.
func seq(n int, step int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i+1) * step
	}
	return out
}

func shuffled(v []int64) []int64 {
	out := slices.Clone(v)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
