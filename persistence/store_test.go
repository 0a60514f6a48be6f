package persistence

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/rs/zerolog"
)

func TestAppendReplayReopen(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	want := txnEntries(1, 100)
	for i := 0; i < 100; i += 10 {
		if err := appendWait(t, s, want[i:i+10]); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if got := s.LastZxid(); got != 100 {
		t.Fatalf("LastZxid = %d, want 100", got)
	}
	checkEntries(t, replayAll(t, s, 0), want)
	checkEntries(t, replayAll(t, s, 50), want[50:])
	checkEntries(t, replayAll(t, s, 100), nil)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = mustOpen(t, testOptions(fs))
	defer s.Close()
	if got := s.LastZxid(); got != 100 {
		t.Fatalf("after reopen LastZxid = %d, want 100", got)
	}
	checkEntries(t, replayAll(t, s, 0), want)
	// The log continues where it stopped.
	if err := appendWait(t, s, txnEntries(101, 101)); err != nil {
		t.Fatalf("append after reopen: %v", err)
	}
}

func TestAppendChecks(t *testing.T) {
	mismatch := txnEntry(3)
	mismatch.Zxid = 4
	newEpoch := jute.MakeZxid(2, 1)
	tests := []struct {
		name    string
		entries []Entry
		want    error
	}{
		{"next", txnEntries(3, 4), nil},
		{"new epoch any counter", []Entry{txnEntry(newEpoch + 7)}, nil},
		{"not increasing", txnEntries(2, 2), ErrZxidOrder},
		{"gap in epoch", txnEntries(4, 4), ErrZxidOrder},
		{"gap inside the call", []Entry{txnEntry(3), txnEntry(5)}, ErrZxidOrder},
		{"header zxid differs", []Entry{mismatch}, ErrBadEntry},
		{"short", []Entry{{Zxid: 3, Data: []byte{1, 2, 3}}}, ErrBadEntry},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, testOptions(vfs.NewMem()))
			defer s.Close()
			if err := appendWait(t, s, txnEntries(1, 2)); err != nil {
				t.Fatal(err)
			}
			err := appendWait(t, s, tt.entries)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("append: %v, want %v", err, tt.want)
			}
			wantLast := int64(2)
			if err == nil && len(tt.entries) > 0 {
				wantLast = tt.entries[len(tt.entries)-1].Zxid
			}
			if got := s.LastZxid(); got != wantLast {
				t.Fatalf("LastZxid = 0x%x, want 0x%x", got, wantLast)
			}
			// A refused call leaves the store usable.
			if err := appendWait(t, s, []Entry{txnEntry(wantLast + 1)}); err != nil {
				t.Fatalf("append after: %v", err)
			}
		})
	}
}

// TestGroupCommit holds the first WAL sync while 200 more appends queue up
// and checks that they all share very few syncs.
func TestGroupCommit(t *testing.T) {
	fs := &countingFS{FS: vfs.NewMem()}
	s := mustOpen(t, testOptions(fs))
	defer s.Close()
	gate, held := make(chan struct{}), make(chan struct{})
	fs.mu.Lock()
	fs.gate, fs.held = gate, held
	fs.mu.Unlock()
	before := fs.syncs.Load()

	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex // serializes zxid assignment and Append, as the server does
	next := int64(1)
	errs := make(chan error, n+1)
	appendOne := func() {
		mu.Lock()
		z := next
		next++
		wg.Add(1)
		s.Append([]Entry{txnEntry(z)}, func(err error) {
			if err != nil {
				errs <- err
			}
			wg.Done()
		})
		mu.Unlock()
	}
	appendOne()
	<-held // the first commit is inside its sync
	var callers sync.WaitGroup
	for i := 0; i < n; i++ {
		callers.Add(1)
		go func() { defer callers.Done(); appendOne() }()
	}
	callers.Wait()
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	syncs := fs.syncs.Load() - before
	if syncs < 1 || syncs > 3 {
		t.Fatalf("%d appends used %d WAL syncs, want 1..3", n+1, syncs)
	}
	if got := s.LastZxid(); got != n+1 {
		t.Fatalf("LastZxid = %d, want %d", got, n+1)
	}
	t.Logf("%d appends, %d syncs", n+1, syncs)
}

func TestDoneOrder(t *testing.T) {
	s := mustOpen(t, testOptions(vfs.NewMem()))
	defer s.Close()
	const callers, per = 8, 100
	var mu sync.Mutex
	next := int64(1)
	var order []int64
	var orderMu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				done := make(chan struct{})
				mu.Lock()
				z := next
				next += 2
				s.Append(txnEntries(z, z+1), func(err error) {
					if err != nil {
						t.Errorf("append 0x%x: %v", z, err)
					}
					orderMu.Lock()
					order = append(order, z)
					orderMu.Unlock()
					close(done)
				})
				mu.Unlock()
				if i%10 == 0 {
					<-done
				}
			}
		}()
	}
	wg.Wait()
	// Close runs every queued callback before it returns.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(order) != callers*per {
		t.Fatalf("%d callbacks, want %d", len(order), callers*per)
	}
	for i := 1; i < len(order); i++ {
		if order[i] != order[i-1]+2 {
			t.Fatalf("callback %d for zxid %d after %d", i, order[i], order[i-1])
		}
	}
}

func TestAppendAfterClose(t *testing.T) {
	s := mustOpen(t, testOptions(vfs.NewMem()))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := appendWait(t, s, txnEntries(1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
}

// TestCrashLosesOnlyUnsynced writes synced entries, then unsynced ones
// (ForceSync off), then crashes (drops everything not synced): a reopen
// recovers exactly the synced prefix, and the log goes on from there.
func TestCrashLosesOnlyUnsynced(t *testing.T) {
	fs := vfs.NewStrictMem()
	s := mustOpen(t, testOptions(fs))
	if err := appendWait(t, s, txnEntries(1, 20)); err != nil {
		t.Fatal(err)
	}
	s.opts.ForceSync = false
	for z := int64(21); z <= 30; z++ {
		if err := appendWait(t, s, txnEntries(z, z)); err != nil {
			t.Fatal(err)
		}
	}
	fs.SetIgnoreSyncs(true)
	_ = s.Close()
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)

	s = mustOpen(t, testOptions(fs))
	defer s.Close()
	if got := s.LastZxid(); got != 20 {
		t.Fatalf("after crash LastZxid = %d, want 20", got)
	}
	checkEntries(t, replayAll(t, s, 0), txnEntries(1, 20))
	if err := appendWait(t, s, txnEntries(21, 21)); err != nil {
		t.Fatalf("append after recovery: %v", err)
	}
}

// TestTornWALTail cuts bytes off the end of the WAL, as a crash in the middle
// of a write leaves it: the entries before the torn record survive.
func TestTornWALTail(t *testing.T) {
	for _, cut := range []int{1, 7, 30} {
		fs := vfs.NewStrictMem()
		s := mustOpen(t, testOptions(fs))
		for z := int64(1); z <= 10; z++ {
			if err := appendWait(t, s, txnEntries(z, z)); err != nil {
				t.Fatal(err)
			}
		}
		// Crash: the WAL ends right after the last synced record, without
		// the trailer a clean Close writes.
		fs.SetIgnoreSyncs(true)
		_ = s.Close()
		fs.ResetToSyncedState()
		fs.SetIgnoreSyncs(false)
		wal := newestWAL(t, fs, "/data/txnlog")
		data := readFile(t, fs, wal)
		writeFile(t, fs, wal, data[:len(data)-cut])

		var sink logSink
		o := testOptions(fs)
		o.Logger = zerolog.New(&sink)
		s = mustOpen(t, o)
		if !sink.contains("torn record") {
			t.Fatalf("cut %d: no log line for the torn tail: %v", cut, sink.lines)
		}
		got := replayAll(t, s, 0)
		// The last record (zxid 10) is torn; everything before it is intact.
		checkEntries(t, got, txnEntries(1, 9))
		if s.LastZxid() != 9 {
			t.Fatalf("cut %d: LastZxid = %d, want 9", cut, s.LastZxid())
		}
		if err := appendWait(t, s, txnEntries(10, 10)); err != nil {
			t.Fatalf("cut %d: append after recovery: %v", cut, err)
		}
		_ = s.Close()
	}
}

// TestCorruptLogStopsOpen writes bad entries underneath the store: Open
// refuses with ErrCorrupt and leaves every file as it was.
func TestCorruptLogStopsOpen(t *testing.T) {
	tests := []struct {
		name  string
		write func(b *pebble.Batch)
	}{
		{"bad checksum", func(b *pebble.Batch) {
			v := appendLogValue(nil, txnEntry(6))
			v[len(v)-1] ^= 0xff
			_ = b.Set(logKey(6), v, nil)
		}},
		{"gap", func(b *pebble.Batch) {
			_ = b.Set(logKey(7), appendLogValue(nil, txnEntry(7)), nil)
		}},
		{"header zxid", func(b *pebble.Batch) {
			e := txnEntry(6)
			e.Zxid = 5
			_ = b.Set(logKey(6), appendLogValue(nil, Entry{Zxid: 6, Data: txnEntry(5).Data}), nil)
		}},
		{"bad key", func(b *pebble.Batch) {
			_ = b.Set([]byte("x123"), []byte("junk"), nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := mustOpen(t, testOptions(fs))
			if err := appendWait(t, s, txnEntries(1, 5)); err != nil {
				t.Fatal(err)
			}
			b := s.db.NewBatch()
			tt.write(b)
			if err := b.Commit(pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			before := fs.String()
			_, err := Open(testOptions(fs))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
			if after := fs.String(); after != before {
				t.Fatalf("failed Open changed the files:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}

func TestGapCoveredBySnapshot(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	if err := appendWait(t, s, txnEntries(1, 5)); err != nil {
		t.Fatal(err)
	}
	// A follower that receives a snapshot at zxid 9 continues at 10.
	if err := s.WriteSnapshot(9, nil, testTree(3)); err != nil {
		t.Fatal(err)
	}
	if err := appendWait(t, s, txnEntries(10, 12)); err != nil {
		t.Fatalf("append after snapshot: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, testOptions(fs))
	defer s.Close()
	checkEntries(t, replayAll(t, s, 9), txnEntries(10, 12))
}

// TestFaultInjection fails the k-th write or sync of the WAL for every k
// along the commit path: nothing un-synced is acknowledged, every later
// Append fails with ErrLogFailed, and a reopen after a crash recovers
// exactly the acknowledged entries.
func TestFaultInjection(t *testing.T) {
	for k := int64(1); k <= 12; k++ {
		strict := vfs.NewStrictMem()
		ffs := &faultFS{FS: strict, failAt: k}
		o := testOptions(ffs)
		o.Logger = zerolog.Nop()
		s := mustOpen(t, o)
		ffs.armed.Store(true)
		var acked []Entry
		var failErr error
		for z := int64(1); z <= 20; z++ {
			es := txnEntries(z, z)
			if err := appendWait(t, s, es); err != nil {
				failErr = err
				break
			}
			acked = append(acked, es...)
		}
		if failErr == nil {
			t.Fatalf("k=%d: no append failed", k)
		}
		if !errors.Is(failErr, ErrLogFailed) || !errors.Is(failErr, errInjected) {
			t.Fatalf("k=%d: append error %v, want ErrLogFailed wrapping the injected error", k, failErr)
		}
		next := int64(len(acked) + 2)
		if err := appendWait(t, s, txnEntries(next, next)); !errors.Is(err, ErrLogFailed) {
			t.Fatalf("k=%d: later append: %v, want ErrLogFailed", k, err)
		}
		if got := s.LastZxid(); got != int64(len(acked)) {
			t.Fatalf("k=%d: LastZxid = %d, want %d", k, got, len(acked))
		}
		checkEntries(t, replayAll(t, s, 0), acked)
		strict.SetIgnoreSyncs(true)
		_ = s.Close()
		strict.ResetToSyncedState()
		strict.SetIgnoreSyncs(false)

		s = mustOpen(t, testOptions(strict))
		checkEntries(t, replayAll(t, s, 0), acked)
		if err := appendWait(t, s, []Entry{txnEntry(int64(len(acked) + 1))}); err != nil {
			t.Fatalf("k=%d: append after recovery: %v", k, err)
		}
		_ = s.Close()
		t.Logf("k=%d: %d acknowledged before the failure", k, len(acked))
	}
}

// walWithRecords crashes a store after n single-entry commits and returns
// the FS and the newest WAL's path and bytes.
func walWithRecords(t *testing.T, n int64) (*vfs.MemFS, string, []byte) {
	t.Helper()
	fs := vfs.NewStrictMem()
	s := mustOpen(t, testOptions(fs))
	for z := int64(1); z <= n; z++ {
		if err := appendWait(t, s, txnEntries(z, z)); err != nil {
			t.Fatal(err)
		}
	}
	fs.SetIgnoreSyncs(true)
	_ = s.Close()
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)
	wal := newestWAL(t, fs, "/data/txnlog")
	return fs, wal, readFile(t, fs, wal)
}

// TestCorruptWALMiddleStopsOpen flips a byte inside an early WAL record:
// Pebble alone would stop replay there and drop the acknowledged entries
// after it; Open must refuse instead, and change nothing.
func TestCorruptWALMiddleStopsOpen(t *testing.T) {
	fs, wal, data := walWithRecords(t, 10)
	data[len(data)/3] ^= 0x10
	writeFile(t, fs, wal, data)
	before := fs.String()
	_, err := Open(testOptions(fs))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
	if after := fs.String(); after != before {
		t.Fatalf("failed Open changed the files:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// TestCorruptWALLastRecordIsCut flips a byte in the last record: it cannot be
// told from a torn write, so it is cut like one.
func TestCorruptWALLastRecordIsCut(t *testing.T) {
	fs, wal, data := walWithRecords(t, 10)
	data[len(data)-5] ^= 0x10
	writeFile(t, fs, wal, data)
	s := mustOpen(t, testOptions(fs))
	defer s.Close()
	checkEntries(t, replayAll(t, s, 0), txnEntries(1, 9))
}

func TestTruncateAfter(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	if err := appendWait(t, s, txnEntries(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.TruncateAfter(6); err != nil {
		t.Fatal(err)
	}
	if got := s.LastZxid(); got != 6 {
		t.Fatalf("LastZxid after truncate = %d, want 6", got)
	}
	checkEntries(t, replayAll(t, s, 0), txnEntries(1, 6))
	// The log continues at 7 (the new leader's txns).
	if err := appendWait(t, s, txnEntries(7, 8)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = mustOpen(t, testOptions(fs))
	defer s.Close()
	checkEntries(t, replayAll(t, s, 0), txnEntries(1, 8))
}

func TestReplayAfterClose(t *testing.T) {
	s := mustOpen(t, testOptions(vfs.NewMem()))
	if err := appendWait(t, s, txnEntries(1, 1)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if err := s.Replay(0, func(Entry) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Replay after Close: %v, want ErrClosed", err)
	}
}

func TestFsyncWarning(t *testing.T) {
	tests := []struct {
		threshold time.Duration
		want      bool
	}{
		{time.Nanosecond, true}, // every commit is slower than 1ns
		{0, false},              // disabled
		{time.Hour, false},
	}
	for _, tt := range tests {
		var sink logSink
		o := testOptions(vfs.NewMem())
		o.Logger = zerolog.New(&sink)
		o.FsyncWarningThreshold = tt.threshold
		o.SyncThreadName = "SyncThread:3"
		s := mustOpen(t, o)
		if err := appendWait(t, s, txnEntries(1, 1)); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		got := sink.contains("fsync-ing the write ahead log in SyncThread:3 took ") &&
			sink.contains("which will adversely effect operation latency")
		if got != tt.want {
			t.Fatalf("threshold %v: warning logged %v, want %v (%v)", tt.threshold, got, tt.want, sink.lines)
		}
	}
}

// TestWALRotationFailure fails the creation of the next WAL when a small
// memtable fills up. Pebble panics inside the commit; the store turns that
// into ErrLogFailed, refuses later writes, and a restart recovers exactly
// the acknowledged entries.
func TestWALRotationFailure(t *testing.T) {
	strict := vfs.NewStrictMem()
	ffs := &faultFS{FS: strict, failCreate: true, failAt: 1 << 62}
	o := testOptions(ffs)
	o.memTableSize = 64 << 10
	s := mustOpen(t, o)
	ffs.armed.Store(true)
	var acked []Entry
	var failErr error
	for z := int64(1); z <= 10000 && failErr == nil; z++ {
		es := txnEntries(z, z)
		if failErr = appendWait(t, s, es); failErr == nil {
			acked = append(acked, es...)
		}
	}
	if !errors.Is(failErr, ErrLogFailed) || !errors.Is(failErr, errInjected) {
		t.Fatalf("after %d entries: append error %v, want ErrLogFailed wrapping the injected error", len(acked), failErr)
	}
	next := int64(len(acked) + 1)
	if err := appendWait(t, s, txnEntries(next, next)); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("later append: %v, want ErrLogFailed", err)
	}
	if err := s.Replay(0, func(Entry) error { return nil }); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("Replay on a wedged log: %v, want ErrLogFailed", err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("Close of a wedged log reported no error")
	}
	// Crash: the wedged Pebble still holds its lock in this process, so
	// recover from a copy of what was synced.
	strict.ResetToSyncedState()
	fresh := vfs.NewMem()
	if _, err := vfs.Clone(strict, fresh, "/data", "/data"); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Remove("/data/txnlog/LOCK"); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, testOptions(fresh))
	defer s.Close()
	checkEntries(t, replayAll(t, s, 0), acked)
	t.Logf("%d entries acknowledged before the WAL rotation failed", len(acked))
}
