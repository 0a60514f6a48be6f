package server

import (
	"sync"
	"testing"
	"time"
)

// TestStatsMinUnderConcurrentRecords: whichever reply records first, the
// minimum is the smallest latency recorded since the last Reset.
func TestStatsMinUnderConcurrentRecords(t *testing.T) {
	var st Stats
	const writers = 8
	for round := range 2000 {
		st.Reset()
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start.Wait()
				st.record(time.Duration(writers-i) * time.Millisecond)
			}()
		}
		start.Done()
		wg.Wait()
		if minMs, _, maxMs := st.Latency(); minMs != 1 || maxMs != writers {
			t.Fatalf("round %d: min %v max %v, want 1 and %d", round, minMs, maxMs, writers)
		}
	}
}

// TestStatsResetDuringRecords: a Reset while replies record leaves
// counters that agree: while records are in flight the min and max are
// latencies that were recorded, and once they stop min, avg and max are
// exact.
func TestStatsResetDuringRecords(t *testing.T) {
	var st Stats
	for round := range 200 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						st.record(5 * time.Millisecond)
					}
				}
			}()
		}
		for range 10 {
			st.Reset()
			if minMs, _, maxMs := st.Latency(); maxMs != 0 && (minMs != 5 || maxMs != 5) {
				close(stop)
				wg.Wait()
				t.Fatalf("round %d, during records: min %v max %v, want 5 and 5", round, minMs, maxMs)
			}
		}
		close(stop)
		wg.Wait()
		st.record(5 * time.Millisecond)
		if minMs, avgMs, maxMs := st.Latency(); minMs != 5 || avgMs != 5 || maxMs != 5 {
			t.Fatalf("round %d, after records: min/avg/max %v/%v/%v, want 5/5/5", round, minMs, avgMs, maxMs)
		}
	}
}
