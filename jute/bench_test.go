package jute

import "testing"

// benchRecords are the records on the hot path of every client request:
// the two headers, the most common read reply, the most common write
// request, and Stat, which most replies carry.
func benchRecords() []struct {
	name string
	rec  Record
	new  func() Record
} {
	stat := Stat{
		Czxid: MakeZxid(3, 100), Mzxid: MakeZxid(3, 200), Ctime: 1700000000000, Mtime: 1700000001000,
		Version: 4, Cversion: 2, Aversion: 0, EphemeralOwner: 0x10000136def0000, DataLength: 128,
		NumChildren: 2, Pzxid: MakeZxid(3, 150),
	}
	data := make([]byte, 128)
	for i := range data {
		data[i] = byte(i)
	}
	return []struct {
		name string
		rec  Record
		new  func() Record
	}{
		{"RequestHeader", &RequestHeader{Xid: 42, Type: int32(OpGetData)}, func() Record { return new(RequestHeader) }},
		{"ReplyHeader", &ReplyHeader{Xid: 42, Zxid: MakeZxid(3, 200), Err: 0}, func() Record { return new(ReplyHeader) }},
		{"GetDataResponse", &GetDataResponse{Data: data, Stat: stat}, func() Record { return new(GetDataResponse) }},
		{"CreateRequest", &CreateRequest{
			Path: "/services/payments/instances/member-0000000042", Data: data,
			Acl: OpenACLUnsafe(), Flags: int32(ModeEphemeralSequential),
		}, func() Record { return new(CreateRequest) }},
		{"Stat", &stat, func() Record { return new(Stat) }},
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, br := range benchRecords() {
		b.Run(br.name, func(b *testing.B) {
			buf := make([]byte, 0, br.rec.Size())
			b.SetBytes(int64(br.rec.Size()))
			b.ReportAllocs()
			for b.Loop() {
				buf = br.rec.Encode(buf[:0])
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, br := range benchRecords() {
		b.Run(br.name, func(b *testing.B) {
			enc := br.rec.Encode(nil)
			r := br.new()
			var d Decoder
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				d.Reset(enc, 0)
				r.Decode(&d)
				if d.Err() != nil {
					b.Fatal(d.Err())
				}
			}
		})
	}
}

// TestEncodeZeroAllocs checks that encoding the hot-path records into a
// reused buffer with room to spare allocates nothing.
func TestEncodeZeroAllocs(t *testing.T) {
	for _, br := range benchRecords() {
		buf := make([]byte, 0, br.rec.Size())
		allocs := testing.AllocsPerRun(100, func() {
			buf = br.rec.Encode(buf[:0])
		})
		if allocs != 0 {
			t.Errorf("%s: Encode into a reused buffer made %.1f allocations, want 0", br.name, allocs)
		}
		if len(buf) != br.rec.Size() {
			t.Errorf("%s: encoded %d bytes, Size() = %d", br.name, len(buf), br.rec.Size())
		}
	}
}

// TestDecodeFixedRecordsZeroAllocs checks that the fixed-size records
// decode into a reused record without allocating.
func TestDecodeFixedRecordsZeroAllocs(t *testing.T) {
	for _, br := range benchRecords() {
		switch br.name {
		case "RequestHeader", "ReplyHeader", "Stat":
		default:
			continue
		}
		enc := br.rec.Encode(nil)
		r := br.new()
		var d Decoder
		allocs := testing.AllocsPerRun(100, func() {
			d.Reset(enc, 0)
			r.Decode(&d)
		})
		if allocs != 0 || d.Err() != nil {
			t.Errorf("%s: decode made %.1f allocations (err %v), want 0", br.name, allocs, d.Err())
		}
	}
}

// BenchmarkEncodeNil encodes into a nil buffer, as a server does when it
// builds a reply body or a txn from scratch: one allocation is the floor.
func BenchmarkEncodeNil(b *testing.B) {
	for _, br := range benchRecords() {
		b.Run(br.name, func(b *testing.B) {
			b.SetBytes(int64(br.rec.Size()))
			b.ReportAllocs()
			for b.Loop() {
				if len(br.rec.Encode(nil)) != br.rec.Size() {
					b.Fatal("size mismatch")
				}
			}
		})
	}
}
