package rawclient

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// fakeServer accepts one connection and runs serve on it.
func fakeServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func readFrameT(c net.Conn) []byte {
	var h [4]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return nil
	}
	b := make([]byte, binary.BigEndian.Uint32(h[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return nil
	}
	return b
}

func writeFrameT(c net.Conn, b []byte) {
	_, _ = c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...))
}

func reply(xid int32, zxid int64, err jute.Code, body jute.Record) []byte {
	h := jute.ReplyHeader{Xid: xid, Zxid: zxid, Err: int32(err)}
	b := h.Encode(nil)
	if body != nil {
		b = body.Encode(b)
	}
	return b
}

func TestEncodeConnectReadOnlyByte(t *testing.T) {
	with := EncodeConnect(ConnectOptions{TimeoutMs: 5000, ReadOnly: true})
	without := EncodeConnect(ConnectOptions{TimeoutMs: 5000, OmitReadOnly: true})
	if len(with) != len(without)+1 || with[len(with)-1] != 1 || !bytes.Equal(with[:len(without)], without) {
		t.Fatalf("with=%x without=%x", with, without)
	}
	var req jute.ConnectRequest
	if err := jute.Unmarshal(with, &req, 0); err != nil || req.TimeOut != 5000 || len(req.Passwd) != 16 || !req.ReadOnly {
		t.Fatalf("decoded %+v, %v", req, err)
	}
}

func TestDecodeConnectResponse(t *testing.T) {
	full := (&jute.ConnectResponse{TimeOut: 4000, SessionId: 9, Passwd: make([]byte, 16), ReadOnly: false}).Encode(nil)
	for _, tc := range []struct {
		name    string
		body    []byte
		present bool
		wantErr bool
	}{
		{"with-readonly", full, true, false},
		{"without-readonly", full[:len(full)-1], false, false},
		{"trailing", append(append([]byte(nil), full...), 0), false, true},
		{"short", full[:10], false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := DecodeConnectResponse(tc.body)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil || res.ReadOnlyPresent != tc.present || res.Response.SessionId != 9 || res.Response.TimeOut != 4000 {
				t.Fatalf("res=%+v err=%v", res, err)
			}
		})
	}
}

// TestPipelineEventsAndClose drives a scripted server: it answers two
// pipelined requests out of order of arrival of an event, then closes.
func TestPipelineEventsAndClose(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {
		if readFrameT(c) == nil {
			return
		}
		writeFrameT(c, (&jute.ConnectResponse{TimeOut: 4000, SessionId: 42, Passwd: make([]byte, 16)}).Encode(nil))
		r1, r2 := readFrameT(c), readFrameT(c)
		if r1 == nil || r2 == nil {
			return
		}
		xid1 := int32(binary.BigEndian.Uint32(r1))
		xid2 := int32(binary.BigEndian.Uint32(r2))
		writeFrameT(c, reply(xid1, 5, 0, &jute.CreateResponse{Path: "/a"}))
		writeFrameT(c, reply(-1, -1, 0, &jute.WatcherEvent{Type: int32(jute.EventNodeCreated), State: 3, Path: "/a"}))
		writeFrameT(c, reply(xid2, 5, jute.CodeNoNode, nil))
	})
	c, res, err := Connect(addr, ConnectOptions{TimeoutMs: 4000}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res.Response.SessionId != 42 || !res.ReadOnlyPresent {
		t.Fatalf("handshake %+v", res)
	}
	x1, _ := c.Send(jute.OpCreate, &jute.CreateRequest{Path: "/a", Acl: jute.OpenACLUnsafe()})
	x2, _ := c.Send(jute.OpGetData, &jute.GetDataRequest{Path: "/b"})
	if c.Pending() != 2 {
		t.Fatalf("pending = %d", c.Pending())
	}
	f2, ev, err := c.Wait(x2)
	if err != nil || f2.Err() != jute.CodeNoNode || len(ev) != 1 || ev[0].Event.Path != "/a" {
		t.Fatalf("wait x2: %+v %+v %v", f2, ev, err)
	}
	f1, _, err := c.Wait(x1)
	if err != nil || f1.Record.(*jute.CreateResponse).Path != "/a" || f1.Header.Zxid != 5 {
		t.Fatalf("wait x1: %+v %v", f1, err)
	}
	if n := len(c.Frames()); n != 3 {
		t.Fatalf("recorded %d frames, want 3", n)
	}
	_, closed := c.WaitClosed(2 * time.Second)
	if !closed {
		t.Fatal("close not reported")
	}
	if _, err := c.Send(jute.OpPing, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestReadDeadline(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {
		readFrameT(c)
		readFrameT(c) // never answers; returns when the client closes
	})
	c, err := Dial(addr, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Handshake(ConnectOptions{}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}
}

func TestMultiRoundTrip(t *testing.T) {
	req := &MultiRequest{Ops: []Op{
		{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: "/a", Acl: jute.OpenACLUnsafe()}},
		{Type: jute.OpCheck, Req: &jute.CheckVersionRequest{Path: "/a", Version: 3}},
	}}
	b := req.Encode(nil)
	if len(b) != req.Size() {
		t.Fatalf("size %d != len %d", req.Size(), len(b))
	}
	var back MultiRequest
	if err := jute.Unmarshal(b, &back, 0); err != nil || len(back.Ops) != 2 || back.Ops[1].Req.(*jute.CheckVersionRequest).Version != 3 {
		t.Fatalf("round trip %+v %v", back, err)
	}
	resp := &MultiResponse{Results: []OpResult{
		{Type: jute.OpCreate2, Record: &jute.Create2Response{Path: "/a"}},
		{Type: jute.OpError, Err: jute.CodeBadVersion},
		{Type: jute.OpDelete},
	}}
	rec, err := DecodeResponse(jute.OpMulti, resp.Encode(nil))
	m, _ := rec.(*MultiResponse)
	if err != nil || m == nil || len(m.Results) != 3 || m.Results[1].Err != jute.CodeBadVersion || m.Results[0].Record.(*jute.Create2Response).Path != "/a" {
		t.Fatalf("decoded %+v %v", rec, err)
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(int32(jute.OpMulti), (&MultiResponse{Results: []OpResult{{Type: jute.OpError, Err: -101}}}).Encode(nil))
	f.Add(int32(jute.OpGetData), (&jute.GetDataResponse{Data: []byte("x")}).Encode(nil))
	f.Add(int32(jute.OpCreate), []byte{0, 0, 0, 2, '/', 'a'})
	f.Fuzz(func(t *testing.T, op int32, body []byte) {
		rec, err := DecodeResponse(jute.OpCode(op), body)
		if err == nil && rec != nil && rec.Size() != len(body) {
			t.Fatalf("op %d: decoded %d bytes as a record of size %d", op, len(body), rec.Size())
		}
		_, _ = DecodeConnectResponse(body)
	})
}
