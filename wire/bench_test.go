package wire_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/wire/wiretest"
)

// BenchmarkWireGetData sends getData requests for a 100-byte znode over
// loopback TCP, 16 at a time, and reads the replies into one reused
// buffer: the allocations are the server's (connection, request, reply).
func BenchmarkWireGetData(b *testing.B) {
	benchWire(b, jute.OpGetData, &jute.GetDataRequest{Path: "/bench"}, 4+16+4+100+68)
}

// BenchmarkWireSetData is BenchmarkWireGetData for 100-byte setData
// requests (the log is on disk, without fsync).
func BenchmarkWireSetData(b *testing.B) {
	benchWire(b, jute.OpSetData, &jute.SetDataRequest{Path: "/bench", Data: bytes.Repeat([]byte{'y'}, 100), Version: -1}, 4+16+68)
}

func benchWire(b *testing.B, op jute.OpCode, req jute.Record, replyLen int) {
	const depth = 16
	ts := wiretest.Start(b, "", nil, nil)
	setup, _, err := rawclient.Connect(ts.Addr, rawclient.ConnectOptions{TimeoutMs: 30000}, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer setup.Close()
	f, _, err := setup.Call(jute.OpCreate, &jute.CreateRequest{Path: "/bench", Data: bytes.Repeat([]byte{'x'}, 100), Acl: jute.OpenACLUnsafe()})
	if err != nil || f.Err() != jute.CodeOK {
		b.Fatalf("create /bench: %v %v", err, f.Err())
	}

	nc, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Minute))
	if _, err := nc.Write(benchFrame(rawclient.EncodeConnect(rawclient.ConnectOptions{TimeoutMs: 30000}))); err != nil {
		b.Fatal(err)
	}
	var lenBuf [4]byte
	if _, err := io.ReadFull(nc, lenBuf[:]); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(nc, make([]byte, binary.BigEndian.Uint32(lenBuf[:]))); err != nil {
		b.Fatal(err)
	}

	var out []byte
	for i := range depth {
		body := (&jute.RequestHeader{Xid: int32(i + 1), Type: int32(op)}).Encode(nil)
		out = append(out, benchFrame(req.Encode(body))...)
	}
	in := make([]byte, depth*replyLen)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += depth {
		if _, err := nc.Write(out); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, in); err != nil {
			b.Fatal(err)
		}
		for i := range depth {
			r := in[i*replyLen:]
			if n := int(binary.BigEndian.Uint32(r)); n != replyLen-4 {
				b.Fatalf("reply %d: frame of %d bytes, want %d", i, n, replyLen-4)
			}
			if xid, code := int32(binary.BigEndian.Uint32(r[4:])), int32(binary.BigEndian.Uint32(r[16:])); xid != int32(i+1) || code != 0 {
				b.Fatalf("reply %d: xid %d code %d", i, xid, code)
			}
		}
	}
}

func benchFrame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}
