package server

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// benchSink is a Sink that checks every reply's code and body and signals
// it, without allocating per reply.
type benchSink struct {
	b        testing.TB
	wantBody []byte // when set, every reply body must equal it
	bodyLen  int    // when set (and wantBody is not), every body has this length
	got      chan struct{}
	closing  atomic.Bool // the server is being closed: Close is expected
}

func (s *benchSink) Reply(xid int32, zxid int64, code jute.Code, body []byte) {
	switch {
	case code != jute.CodeOK:
		s.b.Errorf("reply xid %d: %v", xid, code)
	case s.wantBody != nil && !bytes.Equal(body, s.wantBody):
		s.b.Errorf("reply xid %d: body %x, want %x", xid, body, s.wantBody)
	case s.bodyLen != 0 && len(body) != s.bodyLen:
		s.b.Errorf("reply xid %d: body of %d bytes, want %d", xid, len(body), s.bodyLen)
	}
	s.got <- struct{}{}
}
func (s *benchSink) Event(datatree.Event) {}
func (s *benchSink) Flush()               {}
func (s *benchSink) Close(reason string) {
	if !s.closing.Load() {
		s.b.Errorf("connection closed: %s", reason)
	}
}

// newBenchServer starts a server on an in-memory file system with a znode
// /bench holding 100 bytes, and attaches one session to sink.
func newBenchServer(b *testing.B, sink *benchSink) (*Server, *Client) {
	b.Helper()
	srv, err := newServer(testConfig("/data"), zerolog.Nop(), vfs.NewMem())
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	b.Cleanup(func() {
		sink.closing.Store(true)
		srv.Close()
	})
	c, _, err := srv.Connect(&jute.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, "127.0.0.1", sink)
	if err != nil || c == nil {
		b.Fatalf("connect: %v", err)
	}
	bodyLen, wantBody := sink.bodyLen, sink.wantBody
	sink.bodyLen, sink.wantBody = 0, nil
	send(c, 1, jute.OpCreate, &jute.CreateRequest{Path: "/bench", Data: benchData, Acl: jute.OpenACLUnsafe()})
	<-sink.got
	sink.bodyLen, sink.wantBody = bodyLen, wantBody
	return srv, c
}

var benchData = bytes.Repeat([]byte{'x'}, 100)

// BenchmarkSetData is one 100-byte setData at a time, from Client.Handle
// to its reply: decode, prep, log (in memory), apply, reply.
func BenchmarkSetData(b *testing.B) {
	benchSetData(b, 1)
}

// BenchmarkSetDataPipelined keeps 64 setData requests in flight, as a
// loaded client connection does, so prep and apply batches fill up.
func BenchmarkSetDataPipelined(b *testing.B) {
	benchSetData(b, 64)
}

func benchSetData(b *testing.B, depth int) {
	sink := &benchSink{b: b, bodyLen: 68, got: make(chan struct{}, depth)}
	_, c := newBenchServer(b, sink)
	body := (&jute.SetDataRequest{Path: "/bench", Data: benchData, Version: -1}).Encode(nil)
	var hdr jute.RequestHeader
	hdr.Type = int32(jute.OpSetData)
	b.ReportAllocs()
	b.ResetTimer()
	inFlight := 0
	for i := range b.N {
		if inFlight == depth {
			<-sink.got
			inFlight--
		}
		hdr.Xid = int32(i + 2)
		c.Handle(&hdr, body)
		inFlight++
	}
	for ; inFlight > 0; inFlight-- {
		<-sink.got
	}
}

// BenchmarkGetData is one getData of a 100-byte znode, from Client.Handle
// to its reply.
func BenchmarkGetData(b *testing.B) {
	sink := &benchSink{b: b, got: make(chan struct{}, 1)}
	srv, c := newBenchServer(b, sink)
	data, stat, code := srv.Tree().GetData("/bench", 0)
	if code != jute.CodeOK {
		b.Fatal(code)
	}
	sink.wantBody = (&jute.GetDataResponse{Data: data, Stat: stat}).Encode(nil)
	body := (&jute.GetDataRequest{Path: "/bench"}).Encode(nil)
	var hdr jute.RequestHeader
	hdr.Type = int32(jute.OpGetData)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		hdr.Xid = int32(i + 2)
		c.Handle(&hdr, body)
		<-sink.got
	}
}
