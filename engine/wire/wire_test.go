package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// cat concatenates byte slices and strings into one message.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case Type:
			b = append(b, byte(p))
		case int:
			b = append(b, byte(p))
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		default:
			panic("cat: unsupported part")
		}
	}
	return b
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// str encodes a string the way the protocol does.
func str(s string) []byte { return append(binary.AppendUvarint(nil, uint64(len(s))), s...) }

func seq(n int, start byte) [20]byte {
	var a [20]byte
	for i := range a {
		a[i] = start + byte(i)
	}
	return a
}

var (
	hashA  = seq(20, 0xA0)
	peerB  = seq(20, 0x10)
	ref    = ResourceRef{Name: "seg-42", Version: 0x0102030405060708}
	refEnc = cat(str("seg-42"), u64(0x0102030405060708))
	longN  = strings.Repeat("n", identity.MaxNameLen)
	longV  = strings.Repeat("v", identity.MaxValidatorLen)
)

// validCases lists one or more valid messages of every type with their exact
// encoding.
var validCases = []struct {
	name string
	msg  Message
	enc  []byte
}{
	{"handshake", &Handshake{Version: Version, InfoHash: hashA, PeerID: peerB, MaxMessageSize: 65535},
		cat(TypeHandshake, "P2PM", u16(Version), hashA[:], peerB[:], u32(65535))},
	{"handshake future version min size", &Handshake{Version: 0xFFFF, MaxMessageSize: MinMessageSize},
		cat(TypeHandshake, "P2PM", u16(0xFFFF), make([]byte, 40), u32(MinMessageSize))},
	{"bitfield", &Bitfield{Resource: ref, Size: 2_000_000, ETag: `"abc"`, LastModified: "Wed, 21 Oct 2015 07:28:00 GMT", PieceCount: 4, Bits: []byte{0b1010_0000}},
		cat(TypeBitfield, refEnc, u64(2_000_000), str(`"abc"`), str("Wed, 21 Oct 2015 07:28:00 GMT"), u32(4), 0b1010_0000)},
	{"bitfield empty resource", &Bitfield{Resource: ResourceRef{}, Size: 0},
		cat(TypeBitfield, str(""), u64(0), u64(0), str(""), str(""), u32(0))},
	{"bitfield full byte", &Bitfield{Resource: ref, Size: 8 << 19, PieceCount: 8, Bits: []byte{0xFF}},
		cat(TypeBitfield, refEnc, u64(8<<19), str(""), str(""), u32(8), 0xFF)},
	{"bitfield 9 pieces", &Bitfield{Resource: ref, Size: 9 << 19, PieceCount: 9, Bits: []byte{0x00, 0x80}},
		cat(TypeBitfield, refEnc, u64(9<<19), str(""), str(""), u32(9), 0x00, 0x80)},
	{"bitfield limits", &Bitfield{Resource: ResourceRef{Name: longN, Version: ^uint64(0)}, Size: 1<<63 - 1, ETag: longV, LastModified: longV, PieceCount: MaxPieceCount, Bits: make([]byte, MaxPieceCount/8)},
		cat(TypeBitfield, str(longN), u64(^uint64(0)), u64(1<<63-1), str(longV), str(longV), u32(MaxPieceCount), make([]byte, MaxPieceCount/8))},
	{"have", &Have{Resource: ref, Piece: 3},
		cat(TypeHave, refEnc, u32(3))},
	{"have last piece", &Have{Resource: ResourceRef{Name: "x"}, Piece: MaxPieceCount - 1},
		cat(TypeHave, str("x"), u64(0), u32(MaxPieceCount-1))},
	{"request", &Request{ID: 0xDEADBEEF, Resource: ref, Piece: 7, Offset: 16384},
		cat(TypeRequest, u32(0xDEADBEEF), refEnc, u32(7), u32(16384))},
	{"request last offset", &Request{ID: 1, Resource: ref, Offset: identity.MaxPieceLength - 1},
		cat(TypeRequest, u32(1), refEnc, u32(0), u32(identity.MaxPieceLength-1))},
	{"piece", &Piece{ID: 9, Offset: 32768, Data: []byte("hello")},
		cat(TypePiece, u32(9), u32(32768), "hello")},
	{"piece up to max piece length", &Piece{ID: 9, Offset: identity.MaxPieceLength - 1, Data: []byte{1}},
		cat(TypePiece, u32(9), u32(identity.MaxPieceLength-1), 1)},
	{"cancel", &Cancel{ID: 77},
		cat(TypeCancel, u32(77))},
	{"reject absent", &Reject{ID: 5, Reason: RejectAbsent}, cat(TypeReject, u32(5), 1)},
	{"reject busy", &Reject{ID: 5, Reason: RejectBusy}, cat(TypeReject, u32(5), 2)},
	{"reject invalid", &Reject{ID: 5, Reason: RejectInvalid}, cat(TypeReject, u32(5), 3)},
	{"drop", &Drop{Resource: ref, Piece: 0},
		cat(TypeDrop, refEnc, u32(0))},
	{"drop long name", &Drop{Resource: ResourceRef{Name: longN, Version: 1}, Piece: 1},
		cat(TypeDrop, str(longN), u64(1), u32(1))},
	{"ready", &Ready{}, cat(TypeReady)},
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Append(nil, tc.msg)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(got, tc.enc) {
				t.Fatalf("Append = %x\nwant     %x", got, tc.enc)
			}
			if Type(got[0]) != tc.msg.Type() {
				t.Fatalf("type byte %d, want %v", got[0], tc.msg.Type())
			}
			m, err := Decode(got)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(m, tc.msg) {
				t.Fatalf("Decode = %+v, want %+v", m, tc.msg)
			}
			// Appending to a non-empty dst keeps the prefix.
			prefixed, err := Append([]byte("xy"), tc.msg)
			if err != nil || !bytes.Equal(prefixed, append([]byte("xy"), tc.enc...)) {
				t.Fatalf("Append with prefix = %x, %v", prefixed, err)
			}
		})
	}
}

func TestPieceDataAliasesInput(t *testing.T) {
	b := cat(TypePiece, u32(1), u32(0), "abc")
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b[PieceHeaderLen] = 'X'
	if got := string(m.(*Piece).Data); got != "Xbc" {
		t.Fatalf("Data = %q after changing the input, want it to alias the input", got)
	}
	if len(b)-len(m.(*Piece).Data) != PieceHeaderLen {
		t.Fatalf("header is %d bytes, want PieceHeaderLen %d", len(b)-len(m.(*Piece).Data), PieceHeaderLen)
	}
}

func TestBitfieldBitsCopied(t *testing.T) {
	b := cat(TypeBitfield, refEnc, u64(100), str(""), str(""), u32(8), 0xF0)
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] = 0x0F
	if got := m.(*Bitfield).Bits[0]; got != 0xF0 {
		t.Fatalf("Bits[0] = %#x after changing the input, want a copy (0xf0)", got)
	}
}

func TestDecodeMalformed(t *testing.T) {
	nul := "a\x00b"
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"type 0", cat(0)},
		{"type 9", cat(9, u32(1))},
		{"type 255", cat(255)},
		{"handshake truncated", cat(TypeHandshake, "P2PM", u16(1), hashA[:], peerB[:], u16(0))},
		{"handshake trailing", cat(TypeHandshake, "P2PM", u16(1), hashA[:], peerB[:], u32(65535), 0)},
		{"handshake bad magic", cat(TypeHandshake, "P2PX", u16(1), hashA[:], peerB[:], u32(65535))},
		{"handshake version 0", cat(TypeHandshake, "P2PM", u16(0), hashA[:], peerB[:], u32(65535))},
		{"handshake small max size", cat(TypeHandshake, "P2PM", u16(1), hashA[:], peerB[:], u32(MinMessageSize-1))},
		{"handshake max size 0", cat(TypeHandshake, "P2PM", u16(1), hashA[:], peerB[:], u32(0))},
		{"handshake type only", cat(TypeHandshake)},
		{"bitfield type only", cat(TypeBitfield)},
		{"bitfield truncated name", cat(TypeBitfield, 5, "ab")},
		{"bitfield name too long", cat(TypeBitfield, str(longN+"n"), u64(1), u64(1), str(""), str(""), u32(0))},
		{"bitfield huge name length", cat(TypeBitfield, binary.AppendUvarint(nil, 1<<62), "x")},
		{"bitfield overflowing uvarint", cat(TypeBitfield, bytes.Repeat([]byte{0xFF}, 10), 0x01)},
		{"bitfield non-minimal uvarint", cat(TypeBitfield, 0x80, 0x00, u64(1), u64(1), str(""), str(""), u32(0))},
		{"bitfield name with NUL", cat(TypeBitfield, str(nul), u64(1), u64(1), str(""), str(""), u32(0))},
		{"bitfield negative size", cat(TypeBitfield, refEnc, u64(1<<63), str(""), str(""), u32(0))},
		{"bitfield etag too long", cat(TypeBitfield, refEnc, u64(1), str(longV+"v"), str(""), u32(0))},
		{"bitfield last-modified too long", cat(TypeBitfield, refEnc, u64(1), str(""), str(longV+"v"), u32(0))},
		{"bitfield too many pieces", cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u32(MaxPieceCount+1), make([]byte, MaxPieceCount/8+1))},
		{"bitfield piece count max uint32", cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u32(^uint32(0)))},
		{"bitfield truncated bits", cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u32(9), 0xFF)},
		{"bitfield truncated piece count", cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u16(0))},
		{"bitfield trailing", cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u32(8), 0xFF, 0x00)},
		{"bitfield trailing after empty", cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u32(0), 0x00)},
		{"bitfield spare bit", cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u32(4), 0b0000_1000)},
		{"bitfield last spare bit", cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u32(9), 0xFF, 0x01)},
		{"have truncated", cat(TypeHave, refEnc, u16(3))},
		{"have trailing", cat(TypeHave, refEnc, u32(3), 0)},
		{"have piece too large", cat(TypeHave, refEnc, u32(MaxPieceCount))},
		{"have name with NUL", cat(TypeHave, str(nul), u64(1), u32(1))},
		{"drop truncated", cat(TypeDrop, refEnc)},
		{"drop trailing", cat(TypeDrop, refEnc, u32(3), 0)},
		{"drop piece too large", cat(TypeDrop, refEnc, u32(^uint32(0)))},
		{"ready trailing", cat(TypeReady, 0)},
		{"request truncated", cat(TypeRequest, u32(1), refEnc, u32(1), u16(0))},
		{"request trailing", cat(TypeRequest, u32(1), refEnc, u32(1), u32(0), 0)},
		{"request offset beyond piece", cat(TypeRequest, u32(1), refEnc, u32(1), u32(identity.MaxPieceLength))},
		{"request piece too large", cat(TypeRequest, u32(1), refEnc, u32(MaxPieceCount), u32(0))},
		{"request name too long", cat(TypeRequest, u32(1), str(longN+"n"), u64(0), u32(1), u32(0))},
		{"piece no data", cat(TypePiece, u32(1), u32(0))},
		{"piece truncated header", cat(TypePiece, u32(1), u16(0))},
		{"piece beyond max piece length", cat(TypePiece, u32(1), u32(identity.MaxPieceLength-1), "ab")},
		{"cancel truncated", cat(TypeCancel, u16(1))},
		{"cancel trailing", cat(TypeCancel, u32(1), 0)},
		{"reject reason 0", cat(TypeReject, u32(1), 0)},
		{"reject reason 4", cat(TypeReject, u32(1), 4)},
		{"reject truncated", cat(TypeReject, u32(1))},
		{"reject trailing", cat(TypeReject, u32(1), 1, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.b)
			if err == nil {
				t.Fatalf("Decode(%x) = %+v, want an error", tc.b, m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%x) error %v does not wrap ErrMalformed", tc.b, err)
			}
			if m != nil {
				t.Fatalf("Decode returned message %+v with its error", m)
			}
			t.Logf("%v", err)
		})
	}
}

// TestDecodeEveryTruncation checks that every proper prefix of every valid
// message is rejected.
func TestDecodeEveryTruncation(t *testing.T) {
	for _, tc := range validCases {
		if len(tc.enc) > 4096 {
			continue
		}
		for n := 0; n < len(tc.enc); n++ {
			if _, err := Decode(tc.enc[:n]); !errors.Is(err, ErrMalformed) {
				// A Piece prefix still holding data is itself a valid Piece.
				if tc.msg.Type() == TypePiece && n > PieceHeaderLen {
					continue
				}
				t.Fatalf("%s: Decode of %d-byte prefix: err = %v, want ErrMalformed", tc.name, n, err)
			}
		}
	}
}

// TestDecodeBoundedAllocation checks that a length field claiming more than
// the input holds allocates nothing in proportion to the claim (128 KiB of
// bits, 2^40 bytes of name). The bound leaves room for the error value and
// for the race detector's bookkeeping.
func TestDecodeBoundedAllocation(t *testing.T) {
	claims := [][]byte{
		cat(TypeBitfield, refEnc, u64(1), str(""), str(""), u32(MaxPieceCount), 0xFF),
		cat(TypeBitfield, binary.AppendUvarint(nil, 1<<40)),
	}
	for _, b := range claims {
		least := ^uint64(0)
		for range 5 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%x): err = %v, want ErrMalformed", b, err)
			}
			runtime.ReadMemStats(&after)
			least = min(least, after.TotalAlloc-before.TotalAlloc)
		}
		if least > 32*1024 {
			t.Fatalf("Decode(%x) allocated %d bytes for a %d-byte input", b, least, len(b))
		}
	}
}

func TestAppendInvalid(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
	}{
		{"nil", nil},
		{"nil handshake", (*Handshake)(nil)},
		{"nil bitfield", (*Bitfield)(nil)},
		{"nil have", (*Have)(nil)},
		{"nil request", (*Request)(nil)},
		{"nil piece", (*Piece)(nil)},
		{"nil cancel", (*Cancel)(nil)},
		{"nil reject", (*Reject)(nil)},
		{"nil drop", (*Drop)(nil)},
		{"nil ready", (*Ready)(nil)},
		{"foreign message", foreign{}},
		{"handshake version 0", &Handshake{MaxMessageSize: 65535}},
		{"handshake small max size", &Handshake{Version: 1, MaxMessageSize: MinMessageSize - 1}},
		{"bitfield negative size", &Bitfield{Size: -1}},
		{"bitfield long name", &Bitfield{Resource: ResourceRef{Name: longN + "n"}}},
		{"bitfield NUL name", &Bitfield{Resource: ResourceRef{Name: "\x00"}}},
		{"bitfield long etag", &Bitfield{ETag: longV + "v"}},
		{"bitfield long last-modified", &Bitfield{LastModified: longV + "v"}},
		{"bitfield too many pieces", &Bitfield{PieceCount: MaxPieceCount + 1, Bits: make([]byte, MaxPieceCount/8+1)}},
		{"bitfield short bits", &Bitfield{PieceCount: 9, Bits: []byte{0}}},
		{"bitfield long bits", &Bitfield{PieceCount: 8, Bits: []byte{0, 0}}},
		{"bitfield bits without pieces", &Bitfield{Bits: []byte{0}}},
		{"bitfield spare bits", &Bitfield{PieceCount: 7, Bits: []byte{0x01}}},
		{"have piece too large", &Have{Resource: ref, Piece: MaxPieceCount}},
		{"have NUL name", &Have{Resource: ResourceRef{Name: "\x00"}}},
		{"drop piece too large", &Drop{Resource: ref, Piece: MaxPieceCount}},
		{"request offset too large", &Request{Resource: ref, Offset: identity.MaxPieceLength}},
		{"request long name", &Request{Resource: ResourceRef{Name: longN + "n"}}},
		{"piece empty", &Piece{ID: 1}},
		{"piece beyond max piece length", &Piece{Offset: identity.MaxPieceLength, Data: []byte{1}}},
		{"reject reason 0", &Reject{ID: 1}},
		{"reject reason 4", &Reject{ID: 1, Reason: 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := Append(dst, tc.msg)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Append: err = %v, want ErrMalformed", err)
			}
			if string(got) != "keep" {
				t.Fatalf("Append returned %q with its error, want dst unchanged", got)
			}
		})
	}
}

// foreign is a Message this package does not know.
type foreign struct{}

func (foreign) Type() Type { return TypeCancel }

func TestAppendAllocationFree(t *testing.T) {
	dst := make([]byte, 0, 256*1024)
	for _, tc := range validCases {
		allocs := testing.AllocsPerRun(10, func() {
			if _, err := Append(dst[:0], tc.msg); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Append allocated %v times with enough capacity", tc.name, allocs)
		}
	}
}

func TestTypeString(t *testing.T) {
	want := map[Type]string{
		TypeHandshake: "handshake", TypeBitfield: "bitfield", TypeHave: "have", TypeRequest: "request",
		TypePiece: "piece", TypeCancel: "cancel", TypeReject: "reject", TypeDrop: "drop", TypeReady: "ready", 0: "Type(0)", 200: "Type(200)",
	}
	for ty, s := range want {
		if got := ty.String(); got != s {
			t.Errorf("Type(%d).String() = %q, want %q", uint8(ty), got, s)
		}
	}
	reasons := map[RejectReason]string{RejectAbsent: "absent", RejectBusy: "busy", RejectInvalid: "invalid", 9: "RejectReason(9)"}
	for r, s := range reasons {
		if got := r.String(); got != s {
			t.Errorf("RejectReason(%d).String() = %q, want %q", uint8(r), got, s)
		}
	}
}
