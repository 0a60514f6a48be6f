package server

import (
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// TestOpsDecodeKnown: every request record the server makes to decode a
// client's request is one opsDecodeKnown decodes (Read relies on it, and
// answers MarshallingError for any other), and it decodes it as the
// record's own Decode does.
func TestOpsDecodeKnown(t *testing.T) {
	for op := range clientOps {
		for _, r := range []jute.Record{readNewRequest(op), prepNewRequest(op)} {
			if r == nil {
				continue
			}
			body := r.Encode(nil)
			var d jute.Decoder
			d.Reset(body, 0)
			if !opsDecodeKnown(&d, r) {
				t.Errorf("%v: opsDecodeKnown does not know %T", op, r)
				continue
			}
			if d.Err() != nil || d.Remaining() != 0 {
				t.Errorf("%v: %T decoded with error %v, %d bytes left", op, r, d.Err(), d.Remaining())
			}
		}
	}
	var d jute.Decoder
	d.Reset([]byte{0, 0, 0, 0}, 0)
	if opsDecodeKnown(&d, &jute.ErrorResponse{}) || d.Offset() != 0 {
		t.Fatal("opsDecodeKnown decoded a record the server never decodes from a client")
	}
}
