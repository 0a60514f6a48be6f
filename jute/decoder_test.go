package jute

import (
	"errors"
	"math"
	"reflect"
	"runtime"
	"testing"
)

func be32(v int32) []byte { return AppendInt(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestDecoderLengths feeds every length-prefixed reader a table of length
// prefixes and checks which are accepted.
func TestDecoderLengths(t *testing.T) {
	payload := make([]byte, 16)
	tests := []struct {
		name    string
		input   []byte
		max     int
		wantErr error
		wantN   int // bytes consumed when no error
	}{
		{"null", be32(-1), 0, nil, 4},
		{"empty", be32(0), 0, nil, 4},
		{"exact", cat(be32(16), payload), 0, nil, 20},
		{"minus two", cat(be32(-2), payload), 0, ErrBadLength, 0},
		{"min int32", cat(be32(math.MinInt32), payload), 0, ErrBadLength, 0},
		{"above maxBuffer", cat(be32(17), payload, payload), 16, ErrBadLength, 0},
		{"at maxBuffer", cat(be32(16), payload), 16, nil, 20},
		{"above DefaultMaxBuffer", cat(be32(DefaultMaxBuffer+1), payload), 0, ErrBadLength, 0},
		{"more than is left", cat(be32(17), payload), 0, ErrBadLength, 0},
		{"max int32", cat(be32(math.MaxInt32), payload), math.MaxInt32, ErrBadLength, 0},
		{"no length", []byte{0, 0, 0}, 0, ErrShortBuffer, 0},
	}
	readers := []struct {
		name string
		read func(d *Decoder)
	}{
		{"Buffer", func(d *Decoder) { d.Buffer() }},
		{"String", func(d *Decoder) { _ = d.String() }},
		{"NullString", func(d *Decoder) { d.NullString() }},
		{"VectorLen", func(d *Decoder) {
			if n := d.VectorLen(1); n > 0 {
				d.take(n)
			}
		}},
	}
	for _, rd := range readers {
		for _, tt := range tests {
			t.Run(rd.name+"/"+tt.name, func(t *testing.T) {
				d := NewDecoder(tt.input, tt.max)
				rd.read(d)
				if !errors.Is(d.Err(), tt.wantErr) || (tt.wantErr == nil && d.Err() != nil) {
					t.Fatalf("err = %v, want %v", d.Err(), tt.wantErr)
				}
				if tt.wantErr == nil && d.Offset() != tt.wantN {
					t.Fatalf("consumed %d bytes, want %d", d.Offset(), tt.wantN)
				}
			})
		}
	}
}

func TestDecoderNullAndEmpty(t *testing.T) {
	d := NewDecoder(cat(be32(-1), be32(0), be32(-1), be32(0), be32(-1), be32(0)), 0)
	if b := d.Buffer(); b != nil {
		t.Errorf("null buffer = %#v, want nil", b)
	}
	if b := d.Buffer(); b == nil || len(b) != 0 {
		t.Errorf("empty buffer = %#v, want non-nil empty", b)
	}
	if s, null := d.NullString(); !null || s != "" {
		t.Errorf("null ustring = %q, %v", s, null)
	}
	if s, null := d.NullString(); null || s != "" {
		t.Errorf("empty ustring = %q, %v", s, null)
	}
	if n := d.VectorLen(4); n != -1 {
		t.Errorf("null vector count = %d, want -1", n)
	}
	if n := d.VectorLen(4); n != 0 {
		t.Errorf("empty vector count = %d, want 0", n)
	}
	if d.Err() != nil || d.Remaining() != 0 {
		t.Errorf("err %v, %d bytes left", d.Err(), d.Remaining())
	}
}

// TestDecoderVectorCountBound checks that a vector count is rejected when
// its elements could not fit in what is left, before anything is made.
func TestDecoderVectorCountBound(t *testing.T) {
	// Three ACLs need at least 36 bytes; 35 are left.
	in := cat(be32(3), make([]byte, 35))
	d := NewDecoder(in, 0)
	if n := d.VectorLen(12); n != 0 || !errors.Is(d.Err(), ErrBadLength) {
		t.Fatalf("VectorLen = %d, err %v; want 0, ErrBadLength", n, d.Err())
	}
	var r GetACLResponse
	if err := Unmarshal(in, &r, 0); !errors.Is(err, ErrBadLength) {
		t.Fatalf("Unmarshal GetACLResponse: %v, want ErrBadLength", err)
	}
}

func TestDecoderStickyError(t *testing.T) {
	d := NewDecoder([]byte{0, 0, 0, 1, 0, 0}, 0)
	if v := d.Int(); v != 1 {
		t.Fatalf("Int = %d", v)
	}
	if v := d.Long(); v != 0 || !errors.Is(d.Err(), ErrShortBuffer) {
		t.Fatalf("Long on 2 bytes = %d, err %v", v, d.Err())
	}
	first := d.Err()
	// Two bytes are still there, but every read after an error yields
	// zero values and keeps the first error.
	if v := d.Bool(); v {
		t.Error("Bool after an error = true")
	}
	if v := d.Int(); v != 0 {
		t.Errorf("Int after an error = %d", v)
	}
	if b := d.Buffer(); b != nil {
		t.Errorf("Buffer after an error = %v", b)
	}
	if d.Err() != first {
		t.Errorf("error changed from %v to %v", first, d.Err())
	}
	d.Reset([]byte{1}, 0)
	if !d.Bool() || d.Err() != nil {
		t.Errorf("Reset did not clear the error: %v", d.Err())
	}
}

// TestTruncatedRecords cuts a valid encoding of every record at every
// byte and checks that decoding fails with ErrShortBuffer or ErrBadLength
// (a length prefix that now claims more than is left), never panics, and
// never succeeds.
func TestTruncatedRecords(t *testing.T) {
	rng := newTestRand()
	for _, name := range RecordNames() {
		r := NewRecord(name)
		fillRandom(rng, reflect.ValueOf(r))
		enc := r.Encode(nil)
		for cut := 0; cut < len(enc); cut++ {
			err := Unmarshal(enc[:cut], NewRecord(name), 0)
			if !errors.Is(err, ErrShortBuffer) && !errors.Is(err, ErrBadLength) {
				t.Fatalf("%s cut at %d of %d: err = %v", name, cut, len(enc), err)
			}
		}
	}
}

func TestUnmarshalTrailingBytes(t *testing.T) {
	enc := (&RequestHeader{Xid: 1, Type: int32(OpGetData)}).Encode(nil)
	var h RequestHeader
	if err := Unmarshal(enc, &h, 0); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]byte{{0}, {1, 2, 3}, make([]byte, 100)} {
		err := Unmarshal(append(enc[:len(enc):len(enc)], extra...), &h, 0)
		if !errors.Is(err, ErrTrailingBytes) {
			t.Errorf("%d trailing bytes: err = %v, want ErrTrailingBytes", len(extra), err)
		}
	}
}

// TestHugeLengthAllocatesNothing is the regression test for a length
// prefix of 0x7fffffff in a 20-byte input: every length-prefixed decode
// fails at once with ErrBadLength and allocates nothing large, whatever
// the configured maximum.
func TestHugeLengthAllocatesNothing(t *testing.T) {
	in := cat(be32(0x7fffffff), make([]byte, 16))
	if len(in) != 20 {
		t.Fatalf("input is %d bytes", len(in))
	}
	records := []string{"GetSASLRequest", "GetChildrenResponse", "GetACLResponse", "WhoAmIResponse", "MultiTxn", "SyncRequest"}
	for _, max := range []int{0, math.MaxInt32} {
		for _, name := range records {
			r := NewRecord(name)
			if err := Unmarshal(in, r, max); !errors.Is(err, ErrBadLength) {
				t.Fatalf("%s (max %d): err = %v, want ErrBadLength", name, max, err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := 0; i < 10; i++ {
				_ = Unmarshal(in, r, max)
			}
			runtime.ReadMemStats(&after)
			// The error message is all a failed decode may allocate:
			// far less than a kilobyte, not the 2 GiB the length claims.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 10<<10 {
				t.Errorf("%s (max %d): 10 decodes allocated %d bytes", name, max, grew)
			}
			allocs := testing.AllocsPerRun(20, func() {
				var d Decoder
				d.Reset(in, max)
				r.Decode(&d)
			})
			// Only the wrapped error and its message may be allocated.
			if allocs > 8 {
				t.Errorf("%s (max %d): %.0f allocations per decode", name, max, allocs)
			}
		}
	}
}
