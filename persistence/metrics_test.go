package persistence

import (
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
)

// TestStoreMetrics: every txn appended is counted once in each of the
// sync stage's per-txn metrics, every commit once in fsynctime and
// sync_processor_batch_size (whose values add up to the txns), and every
// snapshot in snapshottime.
func TestStoreMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	o := testOptions(vfs.NewMem())
	o.Metrics = reg
	s := mustOpen(t, o)
	defer s.Close()
	// Appends from several goroutines at once share commits.
	const appenders, per = 8, 25
	var mu sync.Mutex
	next := int64(0)
	var wg sync.WaitGroup
	for range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				mu.Lock()
				next++
				done := make(chan error, 1)
				s.Append([]Entry{txnEntry(next)}, func(err error) { done <- err })
				mu.Unlock()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	// A refused append counts nowhere.
	if err := appendWait(t, s, []Entry{txnEntry(next + 5)}); err == nil {
		t.Fatal("an append with a gap was accepted")
	}
	const txns = appenders * per
	commits := s.commits.Load()
	sum := func(name string, l metrics.Level) metrics.Values { return reg.Summary(name, l).Values() }
	if got := reg.Counter("sync_processor_request_queued").Get(); got != txns {
		t.Errorf("sync_processor_request_queued %d, want %d", got, txns)
	}
	for _, name := range []string{"sync_processor_queue_time_ms", "sync_processor_queue_and_flush_time_ms"} {
		if v := sum(name, metrics.Advanced); v.Count != txns {
			t.Errorf("%s counted %d txns, want %d", name, v.Count, txns)
		}
	}
	if v := sum("sync_process_time", metrics.Basic); v.Count != txns {
		t.Errorf("sync_process_time counted %d txns, want %d", v.Count, txns)
	}
	if v := sum("sync_processor_batch_size", metrics.Basic); v.Count != commits || v.Sum != txns || v.Min < 1 {
		t.Errorf("sync_processor_batch_size %+v, want %d commits adding up to %d txns", v, commits, txns)
	}
	if v := sum("fsynctime", metrics.Basic); v.Count != commits {
		t.Errorf("fsynctime counted %d, want a value per commit (%d)", v.Count, commits)
	}
	if v := sum("sync_processor_queue_flush_time_ms", metrics.Advanced); v.Count != commits {
		t.Errorf("sync_processor_queue_flush_time_ms counted %d, want %d", v.Count, commits)
	}
	if v := sum("sync_processor_queue_size", metrics.Basic); v.Sum != txns || v.Count < 1 || v.Count > commits {
		t.Errorf("sync_processor_queue_size %+v: the txns taken must add up to %d", v, txns)
	}
	if v := sum("snapshottime", metrics.Basic); v.Count != 0 {
		t.Fatalf("snapshottime %+v before any snapshot", v)
	}
	if err := s.WriteSnapshot(jute.MakeZxid(0, txns), nil, testTree(50)); err != nil {
		t.Fatal(err)
	}
	if v := sum("snapshottime", metrics.Basic); v.Count != 1 {
		t.Errorf("snapshottime counted %d snapshots, want 1", v.Count)
	}
}
