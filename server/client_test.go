package server

import (
	"bytes"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// copyingSink keeps a copy of every reply, as Sink.Reply requires.
type copyingSink struct {
	xids   []int32
	codes  []jute.Code
	bodies [][]byte
}

func (s *copyingSink) Reply(xid int32, zxid int64, code jute.Code, body []byte) {
	s.xids = append(s.xids, xid)
	s.codes = append(s.codes, code)
	s.bodies = append(s.bodies, bytes.Clone(body))
	clear(body) // NB: the server may reuse body once Reply returns
}
func (s *copyingSink) Event(datatree.Event) {}
func (s *copyingSink) Flush()               {}
func (s *copyingSink) Close(string)         {}

// TestClientCompleteInOrder: writes that complete out of order (as a
// write refused at shutdown can) are answered in request order, each
// with its own body, and replies encoded into the reused buffer are not
// disturbed by the ones after them.
func TestClientCompleteInOrder(t *testing.T) {
	srv, err := newServer(testConfig("/data"), zerolog.Nop(), vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sink := &copyingSink{}
	c := &Client{s: srv, sink: sink}
	slots := []*slot{{xid: 1}, {xid: 2}, {xid: 3}}
	for _, sl := range slots {
		srv.inFlight <- struct{}{}
		c.mu.Lock()
		c.enqueueLocked(sl)
		c.mu.Unlock()
	}
	stat := func(v int32) jute.Stat { return jute.Stat{Version: v, Mzxid: int64(v)} }
	// The second and third complete first: nothing may be sent yet.
	c.complete(slots[1], 12, jute.OpSetData, &datatree.Result{Stat: stat(2)})
	c.complete(slots[2], 13, jute.OpCreate, &datatree.Result{Err: jute.CodeNodeExists})
	if len(sink.xids) != 0 {
		t.Fatalf("replies %v sent before the first request was answered", sink.xids)
	}
	c.complete(slots[0], 11, jute.OpSetData, &datatree.Result{Stat: stat(1)})
	if want := []int32{1, 2, 3}; !slices.Equal(sink.xids, want) {
		t.Fatalf("replies for xids %v, want %v", sink.xids, want)
	}
	for i, v := range []int32{1, 2} {
		want := (&jute.SetDataResponse{Stat: stat(v)}).Encode(nil)
		if sink.codes[i] != jute.CodeOK || !bytes.Equal(sink.bodies[i], want) {
			t.Errorf("reply %d: %v %x, want OK %x", i, sink.codes[i], sink.bodies[i], want)
		}
	}
	if sink.codes[2] != jute.CodeNodeExists || len(sink.bodies[2]) != 0 {
		t.Errorf("reply 2: %v %x, want NodeExists and no body", sink.codes[2], sink.bodies[2])
	}
	if n := len(srv.inFlight); n != 0 {
		t.Fatalf("%d in-flight tokens left", n)
	}
}

// TestSlotQueue drives the ring against a slice: pushes and pops in
// uneven runs wrap the ring and grow it with slots queued.
func TestSlotQueue(t *testing.T) {
	var q slotQueue
	var model []*slot
	next := int32(0)
	check := func() {
		t.Helper()
		if q.len() != len(model) {
			t.Fatalf("len %d, want %d", q.len(), len(model))
		}
		if len(model) > 0 && q.front() != model[0] {
			t.Fatalf("front xid %d, want %d", q.front().xid, model[0].xid)
		}
	}
	for round, run := range []struct{ push, pop int }{{5, 3}, {6, 7}, {3, 0}, {9, 4}, {20, 15}, {40, 10}, {1, 36}} {
		for range run.push {
			next++
			sl := &slot{xid: next}
			q.push(sl)
			model = append(model, sl)
			check()
		}
		for range run.pop {
			q.pop()
			model = model[1:]
			check()
		}
		if round == 3 {
			for q.len() > 0 {
				q.pop()
				model = model[1:]
			}
			check()
		}
	}
	if len(q.ring) != 64 {
		t.Fatalf("ring of %d slots, want 64 (at most 45 were queued)", len(q.ring))
	}
	for _, sl := range q.ring {
		if sl != nil {
			t.Fatalf("an empty queue still holds slot %d", sl.xid)
		}
	}
}
