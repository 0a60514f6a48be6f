package rawclient

import (
	"fmt"

	"github.com/gokeeper/gokeeper/jute"
)

// Op is one operation of a multi or multiRead request: its op code and its
// request record (CreateRequest, CreateTTLRequest, DeleteRequest,
// SetDataRequest, CheckVersionRequest, GetChildrenRequest or
// GetDataRequest).
type Op struct {
	Type jute.OpCode
	Req  jute.Record
}

// MultiRequest is the body of a multi (op 14) or multiRead (op 22)
// request: a MultiHeader and record per op, then a MultiHeader with
// done set.
type MultiRequest struct {
	Ops []Op
}

// Size returns the length of the encoding.
func (m *MultiRequest) Size() int {
	n := 9
	for _, op := range m.Ops {
		n += 9
		if op.Req != nil {
			n += op.Req.Size()
		}
	}
	return n
}

// Encode appends the jute encoding to b.
func (m *MultiRequest) Encode(b []byte) []byte {
	for _, op := range m.Ops {
		h := jute.MultiHeader{Type: int32(op.Type), Done: false, Err: -1}
		b = h.Encode(b)
		if op.Req != nil {
			b = op.Req.Encode(b)
		}
	}
	end := jute.MultiHeader{Type: -1, Done: true, Err: -1}
	return end.Encode(b)
}

// Decode is not needed by the client; it decodes only the headers.
func (m *MultiRequest) Decode(d *jute.Decoder) {
	for d.Err() == nil {
		var h jute.MultiHeader
		h.Decode(d)
		if h.Done {
			return
		}
		rec := newRequestRecord(jute.OpCode(h.Type))
		if rec == nil {
			return
		}
		rec.Decode(d)
		m.Ops = append(m.Ops, Op{Type: jute.OpCode(h.Type), Req: rec})
	}
}

// OpResult is one result of a multi or multiRead reply. Type is the op
// code of the result (-1 for an error result); Err is the error of an
// error result; Record is the decoded result body, if the op has one.
type OpResult struct {
	Type   jute.OpCode
	Err    jute.Code
	Record jute.Record
}

// MultiResponse is the body of a multi or multiRead reply.
type MultiResponse struct {
	Results []OpResult
}

// Size returns the length of the encoding.
func (m *MultiResponse) Size() int { return len(m.Encode(nil)) }

// Encode appends the jute encoding to b.
func (m *MultiResponse) Encode(b []byte) []byte {
	for _, r := range m.Results {
		h := jute.MultiHeader{Type: int32(r.Type), Done: false, Err: int32(r.Err)}
		b = h.Encode(b)
		if r.Type == jute.OpError {
			e := jute.ErrorResponse{Err: int32(r.Err)}
			b = e.Encode(b)
		} else if r.Record != nil {
			b = r.Record.Encode(b)
		}
	}
	end := jute.MultiHeader{Type: -1, Done: true, Err: -1}
	return end.Encode(b)
}

// Decode reads the results until the done header.
func (m *MultiResponse) Decode(d *jute.Decoder) {
	for d.Err() == nil {
		var h jute.MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		r := OpResult{Type: jute.OpCode(h.Type), Err: jute.Code(h.Err)}
		switch r.Type {
		case jute.OpError:
			var e jute.ErrorResponse
			e.Decode(d)
			r.Err = jute.Code(e.Err)
		default:
			r.Record = newResponseRecord(r.Type)
			if r.Record != nil {
				r.Record.Decode(d)
			}
		}
		m.Results = append(m.Results, r)
	}
}

// EmptyResponse stands for a reply with no body (delete, check,
// closeSession, removeWatches, ...).
type EmptyResponse struct{}

// Size returns 0.
func (EmptyResponse) Size() int { return 0 }

// Encode appends nothing.
func (EmptyResponse) Encode(b []byte) []byte { return b }

// Decode reads nothing.
func (EmptyResponse) Decode(*jute.Decoder) {}

// DecodeResponse decodes the body of a successful reply to op. Ops
// without a known body yield EmptyResponse when the body is empty and an
// error otherwise.
func DecodeResponse(op jute.OpCode, body []byte) (jute.Record, error) {
	rec := newResponseRecord(op)
	if rec == nil {
		rec = EmptyResponse{}
	}
	if err := jute.Unmarshal(body, rec, MaxFrame); err != nil {
		return rec, fmt.Errorf("rawclient: decode %v reply: %w", op, err)
	}
	return rec, nil
}

func newResponseRecord(op jute.OpCode) jute.Record {
	switch op {
	case jute.OpCreate, jute.OpCreateContainer:
		return new(jute.CreateResponse)
	case jute.OpCreate2, jute.OpCreateTTL:
		return new(jute.Create2Response)
	case jute.OpExists:
		return new(jute.ExistsResponse)
	case jute.OpGetData:
		return new(jute.GetDataResponse)
	case jute.OpSetData:
		return new(jute.SetDataResponse)
	case jute.OpGetACL:
		return new(jute.GetACLResponse)
	case jute.OpSetACL:
		return new(jute.SetACLResponse)
	case jute.OpGetChildren:
		return new(jute.GetChildrenResponse)
	case jute.OpGetChildren2:
		return new(jute.GetChildren2Response)
	case jute.OpSync:
		return new(jute.SyncResponse)
	case jute.OpMulti, jute.OpMultiRead:
		return new(MultiResponse)
	case jute.OpGetEphemerals:
		return new(jute.GetEphemeralsResponse)
	case jute.OpGetAllChildrenNumber:
		return new(jute.GetAllChildrenNumberResponse)
	case jute.OpWhoAmI:
		return new(jute.WhoAmIResponse)
	case jute.OpReconfig:
		return new(jute.GetDataResponse)
	}
	return nil
}

func newRequestRecord(op jute.OpCode) jute.Record {
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
		return new(jute.CreateRequest)
	case jute.OpCreateTTL:
		return new(jute.CreateTTLRequest)
	case jute.OpDelete, jute.OpDeleteContainer:
		return new(jute.DeleteRequest)
	case jute.OpSetData:
		return new(jute.SetDataRequest)
	case jute.OpCheck:
		return new(jute.CheckVersionRequest)
	case jute.OpGetChildren:
		return new(jute.GetChildrenRequest)
	case jute.OpGetData:
		return new(jute.GetDataRequest)
	}
	return nil
}
