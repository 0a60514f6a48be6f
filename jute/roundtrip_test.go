package jute

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// fillRandom sets every field reachable from v (a pointer to a record) to a
// random value. Buffers and vectors are nil, empty or filled with equal
// odds, and *string fields (ustring?) are nil, empty or a random string,
// so the round trip covers every null/empty distinction jute makes.
func fillRandom(rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.String { // ustring?
			switch rng.IntN(3) {
			case 0:
				v.SetZero()
			case 1:
				s := ""
				v.Set(reflect.ValueOf(&s))
			default:
				s := randString(rng)
				v.Set(reflect.ValueOf(&s))
			}
			return
		}
		fillRandom(rng, v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fillRandom(rng, v.Field(i))
		}
	case reflect.Int32:
		v.SetInt(int64(int32(rng.Uint32())))
	case reflect.Int64:
		v.SetInt(int64(rng.Uint64()))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 1)
	case reflect.String:
		v.SetString(randString(rng))
	case reflect.Slice:
		switch rng.IntN(3) {
		case 0:
			v.SetZero() // null
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // empty
		default:
			n := 1 + rng.IntN(4)
			if v.Type().Elem().Kind() == reflect.Uint8 {
				n = 1 + rng.IntN(40)
			}
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := 0; i < n; i++ {
				if e := s.Index(i); e.Kind() == reflect.Uint8 {
					e.SetUint(uint64(rng.Uint32()))
				} else {
					fillRandom(rng, e)
				}
			}
			v.Set(s)
		}
	default:
		panic("fillRandom: unexpected kind " + v.Kind().String())
	}
}

func randString(rng *rand.Rand) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz/-_0123456789é€"
	runes := []rune(alphabet)
	n := rng.IntN(12)
	if n == 0 {
		return ""
	}
	b := make([]rune, n)
	for i := range b {
		b[i] = runes[rng.IntN(len(runes))]
	}
	return string(b)
}

func TestRecordNames(t *testing.T) {
	names := RecordNames()
	if len(names) != 72 {
		t.Fatalf("RecordNames has %d records, want ZooKeeper's 72", len(names))
	}
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			t.Errorf("record %s listed twice", name)
		}
		seen[name] = true
		r := NewRecord(name)
		if r == nil {
			t.Errorf("NewRecord(%q) = nil", name)
			continue
		}
		if got := reflect.TypeOf(r).Elem().Name(); got != name {
			t.Errorf("NewRecord(%q) made a %s", name, got)
		}
	}
	if NewRecord("NoSuchRecord") != nil {
		t.Error("NewRecord of an unknown name is not nil")
	}
}

// TestRoundTripAllRecords fills each of the 72 records with random values,
// encodes it, checks the length against Size, decodes it back and
// re-encodes it.
func TestRoundTripAllRecords(t *testing.T) {
	const perRecord = 200
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range RecordNames() {
		t.Run(name, func(t *testing.T) {
			for i := 0; i < perRecord; i++ {
				r := NewRecord(name)
				fillRandom(rng, reflect.ValueOf(r))
				enc := r.Encode(nil)
				if len(enc) != r.Size() {
					t.Fatalf("%#v: encoded %d bytes, Size() = %d", r, len(enc), r.Size())
				}
				// Encode appends: a prefix must be kept as is.
				prefixed := r.Encode([]byte{0xAA, 0xBB})
				if !bytes.Equal(prefixed[:2], []byte{0xAA, 0xBB}) || !bytes.Equal(prefixed[2:], enc) {
					t.Fatalf("%#v: Encode does not append", r)
				}
				back := NewRecord(name)
				if err := Unmarshal(enc, back, 0); err != nil {
					t.Fatalf("%#v: Unmarshal(% x): %v", r, enc, err)
				}
				if !reflect.DeepEqual(r, back) {
					t.Fatalf("round trip changed the record:\n got %#v\nwant %#v", back, r)
				}
				if re := back.Encode(nil); !bytes.Equal(re, enc) {
					t.Fatalf("re-encoding differs:\n got % x\nwant % x", re, enc)
				}
			}
		})
	}
}

func strp(s string) *string { return &s }

// TestEncodeBytes checks encodings by hand against jute's layout.
func TestEncodeBytes(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want []byte
	}{
		{
			name: "Stat is 68 bytes of big-endian fields",
			rec: &Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7,
				EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 0x0102030405060708},
			want: []byte{
				0, 0, 0, 0, 0, 0, 0, 1, // czxid
				0, 0, 0, 0, 0, 0, 0, 2, // mzxid
				0, 0, 0, 0, 0, 0, 0, 3, // ctime
				0, 0, 0, 0, 0, 0, 0, 4, // mtime
				0, 0, 0, 5, // version
				0, 0, 0, 6, // cversion
				0, 0, 0, 7, // aversion
				0, 0, 0, 0, 0, 0, 0, 8, // ephemeralOwner
				0, 0, 0, 9, // dataLength
				0, 0, 0, 10, // numChildren
				1, 2, 3, 4, 5, 6, 7, 8, // pzxid
			},
		},
		{
			name: "null buffer is ff ff ff ff",
			rec:  &GetSASLRequest{Token: nil},
			want: []byte{0xff, 0xff, 0xff, 0xff},
		},
		{
			name: "empty buffer is a zero length",
			rec:  &GetSASLRequest{Token: []byte{}},
			want: []byte{0, 0, 0, 0},
		},
		{
			name: "negative int is two's complement",
			rec:  &RequestHeader{Xid: XidPing, Type: int32(OpPing)},
			want: []byte{0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11},
		},
		{
			name: "ReplyHeader",
			rec:  &ReplyHeader{Xid: 1, Zxid: MakeZxid(1, 2), Err: int32(CodeNoNode)},
			want: []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0x9b},
		},
		{
			name: "GetDataRequest with a ustring and a boolean",
			rec:  &GetDataRequest{Path: "/a", Watch: true},
			want: []byte{0, 0, 0, 2, '/', 'a', 1},
		},
		{
			name: "null vector is ff ff ff ff, empty vector a zero count",
			rec:  &SetWatches{RelativeZxid: 0, DataWatches: nil, ExistWatches: []string{}, ChildWatches: []string{"/x"}},
			want: []byte{
				0, 0, 0, 0, 0, 0, 0, 0,
				0xff, 0xff, 0xff, 0xff,
				0, 0, 0, 0,
				0, 0, 0, 1, 0, 0, 0, 2, '/', 'x',
			},
		},
		{
			name: "null ustring? is ff ff ff ff, empty is a zero length",
			rec:  &ReconfigRequest{JoiningServers: nil, LeavingServers: strp(""), NewMembers: strp("m"), CurConfigId: -1},
			want: []byte{
				0xff, 0xff, 0xff, 0xff,
				0, 0, 0, 0,
				0, 0, 0, 1, 'm',
				0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			},
		},
		{
			name: "CreateRequest with OPEN_ACL_UNSAFE",
			rec:  &CreateRequest{Path: "/n", Data: []byte("d"), Acl: OpenACLUnsafe(), Flags: int32(ModeEphemeral)},
			want: []byte{
				0, 0, 0, 2, '/', 'n',
				0, 0, 0, 1, 'd',
				0, 0, 0, 1, // one ACL
				0, 0, 0, 31, // perms ALL
				0, 0, 0, 5, 'w', 'o', 'r', 'l', 'd',
				0, 0, 0, 6, 'a', 'n', 'y', 'o', 'n', 'e',
				0, 0, 0, 1, // flags
			},
		},
		{
			name: "MultiHeader end marker",
			rec:  &MultiHeader{Type: -1, Done: true, Err: -1},
			want: []byte{0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rec.Encode(nil)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("Encode =\n% x\nwant\n% x", got, tt.want)
			}
			if tt.rec.Size() != len(tt.want) {
				t.Fatalf("Size() = %d, want %d", tt.rec.Size(), len(tt.want))
			}
			back := reflect.New(reflect.TypeOf(tt.rec).Elem()).Interface().(Record)
			if err := Unmarshal(tt.want, back, 0); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(back, tt.rec) {
				t.Fatalf("Unmarshal = %#v, want %#v", back, tt.rec)
			}
		})
	}
}

// newTestRand returns a deterministic source of random values for tests.
func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
