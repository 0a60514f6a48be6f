package bench

import (
	"math"
	"math/bits"
)

// Histogram layout: values below histSub are counted exactly; above that,
// every power of two is split into histHalf equal buckets, so a recorded
// value is known to within 1/histHalf (0.8%) of itself, from 1ns to
// 2^63ns, in a fixed array. Recording is an index computation and an
// increment: no allocation, no lock.
const (
	histSubBits = 8
	histSub     = 1 << histSubBits // exact buckets for 0..histSub-1
	histHalf    = histSub / 2      // buckets per power of two above that
	histBuckets = histSub + (64-histSubBits)*histHalf
)

// Histogram is an HDR-style log-linear latency histogram of non-negative
// int64 values (nanoseconds here). The zero value is empty and ready to
// use. A Histogram is not safe for concurrent use: give each goroutine its
// own and Merge them.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

// histIndex returns the bucket that holds v (v >= 0).
func histIndex(v int64) int {
	u := uint64(v)
	if u < histSub {
		return int(u)
	}
	shift := bits.Len64(u) - histSubBits // >= 1
	mant := u >> uint(shift)             // in [histHalf, histSub)
	return histSub + (shift-1)*histHalf + int(mant-histHalf)
}

// histBounds returns the smallest and largest values bucket i holds.
func histBounds(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	k := i - histSub
	shift := uint(k/histHalf + 1)
	mant := uint64(k%histHalf + histHalf)
	lo64 := mant << shift
	hi64 := (mant+1)<<shift - 1
	if hi64 > math.MaxInt64 {
		hi64 = math.MaxInt64
	}
	return int64(lo64), int64(hi64)
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Min returns the smallest recorded value, or 0 when empty.
func (h *Histogram) Min() int64 { return h.min }

// Max returns the largest recorded value, exactly, or 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the mean of the recorded values, or 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns a value v such that at least a fraction q of the
// recorded values are <= v, reported as the upper bound of v's bucket
// (clipped to the recorded maximum), so it overstates by less than 0.8%.
// q is clamped to [0, 1]; an empty histogram yields 0.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := histBounds(i)
			return min(max(hi, h.min), h.max)
		}
	}
	return h.max
}
