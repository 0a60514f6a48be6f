package mutproxy

import (
	"encoding/binary"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

func TestMutators(t *testing.T) {
	stat := (&jute.ExistsResponse{Stat: jute.Stat{Cversion: 4, Version: 9}}).Encode(nil)
	r := &Reply{Op: jute.OpExists, Body: stat}
	if !WrongCversion(2)(r) {
		t.Fatal("dropped")
	}
	var got jute.ExistsResponse
	if err := jute.Unmarshal(r.Body, &got, 0); err != nil || got.Stat.Cversion != 6 || got.Stat.Version != 9 {
		t.Fatalf("cversion mutation: %+v %v", got, err)
	}
	if binary.BigEndian.Uint32(stat[cversionOffset:]) != 4 {
		t.Fatal("mutator changed the original body")
	}
	e := &Reply{Op: jute.OpGetData, Header: jute.ReplyHeader{Err: int32(jute.CodeNoNode)}}
	WrongErrorCode(jute.CodeNoNode, jute.CodeNoAuth)(e)
	if jute.Code(e.Header.Err) != jute.CodeNoAuth {
		t.Fatalf("error code = %d", e.Header.Err)
	}
	ev := &Reply{Op: jute.OpNotification, Body: (&jute.WatcherEvent{Type: int32(jute.EventNodeDeleted), State: 3, Path: "/a"}).Encode(nil)}
	if DropEvents(jute.EventNodeDeleted)(ev) || !DropEvents(jute.EventNodeCreated)(ev) {
		t.Fatal("event filter wrong")
	}
}
