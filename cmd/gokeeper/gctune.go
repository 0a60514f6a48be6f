package main

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The garbage collector's target heap growth (GOGC) is tuned to the live
// heap, which is mostly the znode tree: growth of at least gcMinHeadroom
// bytes and at least gcMinPercent of the live heap, never more than
// gcMaxPercent. A small tree collects at Go's default 100% (little memory
// either way, and fewer collections); a tree of 1M znodes (~220 MiB live)
// collects at 30%, so RSS stays near the tree. NB: what one collection
// costs grows with the live heap, what collecting more often costs grows
// with the garbage per request, which the write path keeps small.
const (
	gcMinHeadroom = 64 << 20
	gcMinPercent  = 25
	gcMaxPercent  = 100
)

// gcPercent returns the GOGC for a live heap of live bytes.
func gcPercent(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	return int(min(max(100*gcMinHeadroom/live, gcMinPercent), gcMaxPercent))
}

// tuneGC sets GOGC from the live heap now and then every interval, for
// the life of the process.
func tuneGC(interval time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := -1
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := gcPercent(sample[0].Value.Uint64()); p != last {
				debug.SetGCPercent(p)
				last = p
			}
		}
		time.Sleep(interval)
	}
}
