package persistence

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
)

// BenchmarkAppendFsync measures txn log throughput with fsync on the real
// disk, many appenders at once (as many client sessions writing): each
// appender assigns the next zxid, appends one txn and waits until it is
// durable.
func BenchmarkAppendFsync(b *testing.B) {
	for _, appenders := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			o := DefaultOptions(b.TempDir())
			o.FS = vfs.Default
			s := mustOpen(b, o)
			defer s.Close()
			entry := txnEntry(1)
			var mu sync.Mutex
			next := int64(1)
			work := make(chan struct{}, b.N)
			for i := 0; i < b.N; i++ {
				work <- struct{}{}
			}
			close(work)
			b.SetBytes(int64(len(entry.Data)))
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for a := 0; a < appenders; a++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					done := make(chan error, 1)
					data := append([]byte(nil), entry.Data...)
					for range work {
						mu.Lock()
						z := next
						next++
						e := Entry{Zxid: z, Data: append([]byte(nil), data...)}
						putZxid(e.Data, z)
						s.Append([]Entry{e}, func(err error) { done <- err })
						mu.Unlock()
						if err := <-done; err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			commits := s.commits.Load()
			b.ReportMetric(float64(b.N)/el.Seconds(), "txns/s")
			if commits > 0 {
				b.ReportMetric(float64(b.N)/float64(commits), "txns/sync")
			}
		})
	}
}

func putZxid(data []byte, z int64) {
	h := jute.TxnHeader{}
	d := jute.NewDecoder(data, 0)
	h.Decode(d)
	h.Zxid = z
	h.Encode(data[:0])
}

// BenchmarkSnapshot1M writes and loads a snapshot of 1M nodes with 100
// bytes of data each, on the real disk.
func BenchmarkSnapshot1M(b *testing.B) {
	const n = 1_000_000
	data := make([]byte, 100)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	acl := jute.OpenACLUnsafe()
	tree := func(acls func([][]jute.ACL) error, yield func(*Node) error) error {
		if err := acls([][]jute.ACL{acl}); err != nil {
			return err
		}
		nd := &Node{ACL: acl}
		for _, p := range []string{"", "/zookeeper", "/zookeeper/quota", "/bench"} {
			nd.Path, nd.Data = p, nil
			if err := yield(nd); err != nil {
				return err
			}
		}
		nd.Data = data
		buf := []byte("/bench/n")
		for i := 0; i < n; i++ {
			nd.Path = string(fmt.Appendf(buf[:8], "%07d", i))
			nd.Stat = jute.StatPersisted{Czxid: int64(i + 5), Mzxid: int64(i + 5), Ctime: int64(i), Mtime: int64(i), Pzxid: int64(i + 5)}
			if err := yield(nd); err != nil {
				return err
			}
		}
		return nil
	}
	o := DefaultOptions(b.TempDir())
	o.FS = vfs.Default
	s := mustOpen(b, o)
	defer s.Close()
	zxid := int64(0)
	b.Run("write", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			zxid++
			if err := s.WriteSnapshot(zxid, []Session{{ID: 1, Timeout: 30000}}, tree); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		fi, err := vfs.Default.Stat(s.snapPath(zxid))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size())/(1<<20), "MiB/snapshot")
		b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/snapshot")
	})
	b.Run("load", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			count := 0
			_, ok, err := s.LoadLatestSnapshot(func(Session) {}, func(*Node) error { count++; return nil })
			if err != nil || !ok || count != n+4 {
				b.Fatalf("load: ok=%v err=%v nodes=%d", ok, err, count)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/load")
	})
}
