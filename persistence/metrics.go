package persistence

import (
	"time"

	"github.com/gokeeper/gokeeper/internal/metrics"
)

// storeMetrics are the ZooKeeper metrics the store measures. The log's
// commit goroutine is ZooKeeper's SyncRequestProcessor: Append is its
// queue, a commit (one Pebble batch, one sync) its flush. Times are in
// milliseconds, as ZooKeeper's are.
type storeMetrics struct {
	// fsynctime: each commit's write and sync of the log (ZooKeeper times
	// the fsync of its log file).
	fsyncTime *metrics.Summary
	// snapshottime: each snapshot written.
	snapshotTime *metrics.Summary
	// sync_processor_request_queued: txns appended.
	requestQueued *metrics.Counter
	// sync_processor_queue_size: the txns waiting, each time the commit
	// goroutine takes the queue (it takes all of it).
	queueSize *metrics.Summary
	// sync_processor_batch_size: txns per commit, that is per sync.
	batchSize *metrics.Summary
	// sync_processor_queue_time_ms: per txn, from Append to being taken.
	queueTime *metrics.Summary
	// sync_process_time: per txn, from being taken to being in the batch.
	processTime *metrics.Summary
	// sync_processor_queue_flush_time_ms: each commit's write and sync.
	flushTime *metrics.Summary
	// sync_processor_queue_and_flush_time_ms: per txn, from Append to
	// durable.
	queueAndFlushTime *metrics.Summary
}

func newStoreMetrics(r *metrics.Registry) storeMetrics {
	return storeMetrics{
		fsyncTime:         r.Summary("fsynctime", metrics.Basic),
		snapshotTime:      r.Summary("snapshottime", metrics.Basic),
		requestQueued:     r.Counter("sync_processor_request_queued"),
		queueSize:         r.Summary("sync_processor_queue_size", metrics.Basic),
		batchSize:         r.Summary("sync_processor_batch_size", metrics.Basic),
		queueTime:         r.Summary("sync_processor_queue_time_ms", metrics.Advanced),
		processTime:       r.Summary("sync_process_time", metrics.Basic),
		flushTime:         r.Summary("sync_processor_queue_flush_time_ms", metrics.Advanced),
		queueAndFlushTime: r.Summary("sync_processor_queue_and_flush_time_ms", metrics.Advanced),
	}
}

// taken records the appends the commit goroutine just took.
func (m *storeMetrics) taken(reqs []*appendReq) {
	now := time.Now()
	n := 0
	for _, r := range reqs {
		if r.truncate || r.err != nil {
			continue
		}
		n += len(r.entries)
		m.queueTime.AddN(now.Sub(r.queued).Milliseconds(), int64(len(r.entries)))
	}
	if n > 0 {
		m.queueSize.Add(int64(n))
	}
}

// batched records the txns of reqs put in a batch since taken.
func (m *storeMetrics) batched(reqs []*appendReq, taken time.Time) {
	ms := time.Since(taken).Milliseconds()
	for _, r := range reqs {
		if r.err == nil {
			m.processTime.AddN(ms, int64(len(r.entries)))
		}
	}
}

// flushed records a commit of n txns that made reqs durable.
func (m *storeMetrics) flushed(reqs []*appendReq, n int) {
	m.batchSize.Add(int64(n))
	now := time.Now()
	for _, r := range reqs {
		if r.err == nil {
			m.queueAndFlushTime.AddN(now.Sub(r.queued).Milliseconds(), int64(len(r.entries)))
		}
	}
}
