package jute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer: the largest buffer
// or string (and the largest client packet) a peer may send, 0xfffff bytes.
const DefaultMaxBuffer = 0xfffff

// Decoding errors. Every error a Decoder or Unmarshal returns wraps one
// of these.
var (
	// ErrShortBuffer means the input ended before the record did.
	ErrShortBuffer = errors.New("jute: short buffer")
	// ErrBadLength means a length prefix is negative (other than the -1
	// that marks null), larger than the configured maximum, or larger than
	// what is left of the input.
	ErrBadLength = errors.New("jute: bad length")
	// ErrTrailingBytes means Unmarshal decoded the record before the end of
	// its input.
	ErrTrailingBytes = errors.New("jute: trailing bytes after record")
)

// Record is implemented by every generated ZooKeeper record.
type Record interface {
	// Size returns the exact number of bytes Encode appends.
	Size() int
	// Encode appends the record's jute encoding to b and returns the
	// extended slice. It allocates only when b lacks capacity.
	Encode(b []byte) []byte
	// Decode reads the record from d. Errors are sticky in d: check
	// d.Err() after decoding.
	Decode(d *Decoder)
}

// Decoder reads jute primitives from a byte slice. The first error sticks:
// every later read returns a zero value, so generated code needs no error
// checks between fields. A Decoder never panics and never allocates more
// than the input could hold.
type Decoder struct {
	buf []byte
	off int
	max int
	err error
}

// NewDecoder returns a Decoder over b that rejects buffers, strings and
// vectors longer than maxBuffer (DefaultMaxBuffer if maxBuffer <= 0).
func NewDecoder(b []byte, maxBuffer int) *Decoder {
	d := &Decoder{}
	d.Reset(b, maxBuffer)
	return d
}

// Reset makes d read b from the start, forgetting any error.
func (d *Decoder) Reset(b []byte, maxBuffer int) {
	if maxBuffer <= 0 {
		maxBuffer = DefaultMaxBuffer
	}
	*d = Decoder{buf: b, max: maxBuffer}
}

// Err returns the first error the decoder met, or nil.
func (d *Decoder) Err() error { return d.err }

// Offset returns how many bytes have been consumed.
func (d *Decoder) Offset() int { return d.off }

// Remaining returns the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Rest returns the unread bytes without consuming them.
func (d *Decoder) Rest() []byte { return d.buf[d.off:] }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.buf)-d.off {
		d.fail(fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrShortBuffer, n, d.off, len(d.buf)-d.off))
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

// Int reads a jute int: 4 bytes, big-endian.
func (d *Decoder) Int() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// Long reads a jute long: 8 bytes, big-endian.
func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// Bool reads a jute boolean: one byte, non-zero meaning true.
func (d *Decoder) Bool() bool {
	b := d.take(1)
	if b == nil {
		return false
	}
	return b[0] != 0
}

// length reads a length prefix and checks it: -1 (null) is returned as is;
// any other negative value, a value above the maximum, or a value whose
// elements (of at least minElem bytes each) cannot fit in what is left of
// the input is an error.
func (d *Decoder) length(minElem int) int {
	n := int(d.Int())
	if d.err != nil || n == -1 {
		return n
	}
	switch {
	case n < 0:
		d.fail(fmt.Errorf("%w: %d at offset %d", ErrBadLength, n, d.off-4))
	case n > d.max:
		d.fail(fmt.Errorf("%w: %d exceeds maximum %d at offset %d", ErrBadLength, n, d.max, d.off-4))
	case minElem > 0 && n > (len(d.buf)-d.off)/minElem:
		d.fail(fmt.Errorf("%w: %d elements of at least %d bytes at offset %d, %d bytes left",
			ErrBadLength, n, minElem, d.off-4, len(d.buf)-d.off))
	default:
		return n
	}
	return 0
}

// Buffer reads a jute buffer. A length of -1 yields nil; a length of 0
// yields an empty, non-nil slice. The result is a copy.
func (d *Decoder) Buffer() []byte {
	n := d.length(1)
	if d.err != nil || n == -1 {
		return nil
	}
	b := d.take(n)
	if b == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

// String reads a jute ustring. Null (-1) and empty both yield "";
// use NullString where the difference matters.
func (d *Decoder) String() string {
	s, _ := d.NullString()
	return s
}

// NullString reads a jute ustring and reports whether it was null.
func (d *Decoder) NullString() (s string, null bool) {
	n := d.length(1)
	if d.err != nil {
		return "", false
	}
	if n == -1 {
		return "", true
	}
	return string(d.take(n)), false
}

// VectorLen reads a vector's element count. It returns -1 for a null
// vector. minElem is the smallest encoding of one element, used to reject
// counts the input cannot hold before anything is allocated.
func (d *Decoder) VectorLen(minElem int) int {
	return d.length(minElem)
}

// grow returns b with room for n more bytes. Generated Encode methods
// call it first, so encoding into a short or nil buffer allocates once
// instead of once per field that overflows (GetDataResponse into nil: 3
// allocations, Stat: 5).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	return slices.Grow(b, n)
}

// AppendInt appends a jute int.
func AppendInt(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }

// AppendLong appends a jute long.
func AppendLong(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// AppendBool appends a jute boolean.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendBuffer appends a jute buffer; nil is written as null (-1).
func AppendBuffer(b []byte, v []byte) []byte {
	if v == nil {
		return AppendInt(b, -1)
	}
	return append(AppendInt(b, int32(len(v))), v...)
}

// AppendString appends a jute ustring (never null).
func AppendString(b []byte, v string) []byte {
	return append(AppendInt(b, int32(len(v))), v...)
}

// AppendNullString appends a jute ustring, or null (-1) when null is set.
func AppendNullString(b []byte, v string, null bool) []byte {
	if null {
		return AppendInt(b, -1)
	}
	return AppendString(b, v)
}

// AppendVectorLen appends a vector's element count; nil vectors are
// written as null (-1) by the generated code.
func AppendVectorLen(b []byte, n int) []byte {
	if n > math.MaxInt32 {
		n = math.MaxInt32
	}
	return AppendInt(b, int32(n))
}

// Unmarshal decodes r from all of b. Trailing bytes are an error.
func Unmarshal(b []byte, r Record, maxBuffer int) error {
	var d Decoder
	d.Reset(b, maxBuffer)
	r.Decode(&d)
	if d.err != nil {
		return d.err
	}
	if d.Remaining() != 0 {
		return fmt.Errorf("%w: %d bytes at offset %d", ErrTrailingBytes, d.Remaining(), d.Offset())
	}
	return nil
}

// NewRecord returns an empty record of the given schema name (for example
// "CreateRequest"), or nil if there is none.
func NewRecord(name string) Record {
	for _, f := range recordFactories {
		if f.name == name {
			return f.new()
		}
	}
	return nil
}

// RecordNames lists every record of the schema, in schema order.
func RecordNames() []string {
	names := make([]string, len(recordFactories))
	for i, f := range recordFactories {
		names[i] = f.name
	}
	return names
}

func (d *Decoder) stringPtr() *string {
	s, null := d.NullString()
	if null || d.err != nil {
		return nil
	}
	return &s
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return AppendInt(b, -1)
	}
	return AppendString(b, *s)
}

func nullStringLen(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

func stringsLen(v []string) int {
	n := 4 * len(v)
	for _, s := range v {
		n += len(s)
	}
	return n
}
