package datatree

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// TestConcurrentReadsDuringApply runs readers (with watches), a fuzzy Walk
// and stats calls in parallel with a writer; run it with -race. Readers
// check invariants that hold at every committed state: a node's data is
// the decimal of its mzxid, and its stat agrees with its data.
func TestConcurrentReadsDuringApply(t *testing.T) {
	tr := New(Options{})
	var b txnBuilder
	const keys = 16
	for i := 0; i < keys; i++ {
		p := fmt.Sprintf("/k%d", i)
		b.zxid++
		tr.Apply(&jute.TxnHeader{Zxid: b.zxid, Type: int32(jute.OpCreate)},
			&jute.CreateTxn{Path: p, Data: []byte(fmt.Sprint(b.zxid)), Acl: jute.OpenACLUnsafe(), ParentCVersion: -1})
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	var events, reads atomic.Int64
	var errs = make(chan error, 16)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			w := WatcherID(r + 1)
			for i := 0; !done.Load(); i++ {
				p := fmt.Sprintf("/k%d", i%keys)
				d, st, code := tr.GetData(p, w)
				if code == jute.CodeOK && (string(d) != fmt.Sprint(st.Mzxid) || int(st.DataLength) != len(d)) {
					errs <- fmt.Errorf("torn read of %s: %q %+v", p, d, st)
					return
				}
				kids, st, _ := tr.GetChildren(p, w)
				if int(st.NumChildren) != len(kids) {
					errs <- fmt.Errorf("children of %s: %v vs %d", p, kids, st.NumChildren)
					return
				}
				tr.Exists(p+"/c", w)
				reads.Add(1)
				tr.NodeCount()
				tr.WatchCount()
			}
		}(r)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			_ = tr.Walk(nil, func(n *SnapshotNode) error { return nil })
		}
	}()
	// Write until the readers have overlapped the writer for a while.
	for i := 0; i < 3000 || (reads.Load() < 2000 && i < 1_000_000); i++ {
		p := fmt.Sprintf("/k%d", i%keys)
		b.zxid++
		var r Result
		switch i % 3 {
		case 0:
			r = tr.Apply(&jute.TxnHeader{Zxid: b.zxid, Type: int32(jute.OpSetData)},
				&jute.SetDataTxn{Path: p, Data: []byte(fmt.Sprint(b.zxid)), Version: int32(i)})
		case 1:
			r = tr.Apply(&jute.TxnHeader{Zxid: b.zxid, Type: int32(jute.OpCreate)},
				&jute.CreateTxn{Path: p + "/c", Acl: jute.OpenACLUnsafe(), ParentCVersion: -1})
		case 2:
			r = tr.Apply(&jute.TxnHeader{Zxid: b.zxid, Type: int32(jute.OpDelete)}, &jute.DeleteTxn{Path: p + "/c"})
		}
		events.Add(int64(len(r.Events)))
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if events.Load() == 0 {
		t.Fatal("no watch fired: readers never overlapped the writer")
	}
}
