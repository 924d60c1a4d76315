// Package wire encodes and decodes the binary protocol peers speak over
// WebRTC data channels.
//
// One data-channel message carries exactly one wire message. Byte 0 is the
// message Type; integers are big-endian; strings are a uvarint length (in its
// shortest form) followed by that many bytes. A Piece message's payload runs
// to the end of the message.
//
// Decoding is strict: an unknown type, truncated input, trailing bytes, a
// length beyond a limit, a non-canonical uvarint, a version of 0, non-zero
// spare bits in a bitfield or an invalid name make Decode return an error
// wrapping ErrMalformed. Decode never allocates more than the input can back,
// so a hostile length costs nothing. Because encodings are canonical, a
// message that decodes re-encodes to the same bytes.
//
// Layouts (after the type byte):
//
//	Handshake  "P2PM" Version:u16 InfoHash:[20] PeerID:[20] MaxMessageSize:u32
//	Bitfield   Ref Size:i64 ETag:str LastModified:str PieceCount:u32 Bits:[ceil(PieceCount/8)]
//	Have       Ref Piece:u32
//	Request    ID:u32 Ref Piece:u32 Offset:u32
//	Piece      ID:u32 Offset:u32 Data:[rest]
//	Cancel     ID:u32
//	Reject     ID:u32 Reason:u8
//	Drop       Ref Piece:u32
//	Ready      (nothing)
//
// where Ref is a ResourceRef: Name:str Version:u64.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// Version is the protocol version a peer sends in its Handshake.
const Version uint16 = 2

// MinMessageSize is the smallest MaxMessageSize a Handshake may announce.
const MinMessageSize = 1024

// MaxPieceCount bounds the number of pieces of one resource, so a Bitfield
// is at most 128 KiB of bits.
const MaxPieceCount = 1 << 20

// PieceHeaderLen is the length of a Piece message without its payload (type,
// ID and Offset): a Piece sent to a peer that accepts messages of up to
// maxMessageSize bytes carries at most maxMessageSize - PieceHeaderLen bytes.
const PieceHeaderLen = 9

// handshakeMagic follows the type byte of a Handshake.
const handshakeMagic = "P2PM"

// handshakeLen is the length of an encoded Handshake.
const handshakeLen = 1 + len(handshakeMagic) + 2 + 20 + 20 + 4

// ErrMalformed is wrapped by every error of Decode and Append.
var ErrMalformed = errors.New("wire: malformed message")

// Type is the first byte of a wire message: what kind of message it is.
type Type uint8

// Message types.
const (
	TypeHandshake Type = 1
	TypeBitfield  Type = 2
	TypeHave      Type = 3
	TypeRequest   Type = 4
	TypePiece     Type = 5
	TypeCancel    Type = 6
	TypeReject    Type = 7
	TypeDrop      Type = 8
	TypeReady     Type = 9
)

// String returns the type's name ("handshake", "piece", …), or "Type(n)"
// for an unknown type.
func (t Type) String() string {
	switch t {
	case TypeHandshake:
		return "handshake"
	case TypeBitfield:
		return "bitfield"
	case TypeHave:
		return "have"
	case TypeRequest:
		return "request"
	case TypePiece:
		return "piece"
	case TypeCancel:
		return "cancel"
	case TypeReject:
		return "reject"
	case TypeDrop:
		return "drop"
	case TypeReady:
		return "ready"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Message is one wire message. It is implemented by the pointer types of
// this package (*Handshake, *Bitfield, …).
type Message interface {
	// Type returns the message's type byte.
	Type() Type
}

// Handshake is the first message each side sends on a new channel.
type Handshake struct {
	// Version is the sender's protocol version (never 0).
	Version uint16
	// InfoHash is the swarm's info hash.
	InfoHash [20]byte
	// PeerID is the sender's tracker peer id.
	PeerID [20]byte
	// MaxMessageSize is the largest message the sender accepts, at least
	// MinMessageSize.
	MaxMessageSize uint32
}

// ResourceRef names one version of a resource within the swarm.
type ResourceRef struct {
	// Name is the resource's name: at most identity.MaxNameLen bytes, no
	// NUL (identity.ValidateName).
	Name string
	// Version is the resource's identity.ResourceInfo.Version.
	Version uint64
}

// Bitfield announces a resource's info and which of its pieces the sender
// holds.
type Bitfield struct {
	// Resource is the resource the bitfield is about.
	Resource ResourceRef
	// Size is the resource's size in bytes (≥ 0).
	Size int64
	// ETag and LastModified are the origin's validators, each at most
	// identity.MaxValidatorLen bytes.
	ETag, LastModified string
	// PieceCount is the number of pieces of the resource, at most
	// MaxPieceCount.
	PieceCount uint32
	// Bits holds one bit per piece, most significant bit first as in
	// BitTorrent; len(Bits) == ceil(PieceCount/8) and the spare bits of the
	// last byte are zero. Decode copies it out of the input.
	Bits []byte
}

// Have says the sender now holds a piece.
type Have struct {
	// Resource is the resource the piece belongs to.
	Resource ResourceRef
	// Piece is the piece index, below MaxPieceCount.
	Piece uint32
}

// Drop says the sender no longer holds a piece (it was evicted).
type Drop struct {
	// Resource is the resource the piece belongs to.
	Resource ResourceRef
	// Piece is the piece index, below MaxPieceCount.
	Piece uint32
}

// Request asks for the bytes [Offset, end of piece) of a piece. The answer
// is a series of Piece messages carrying ID, or a Reject.
type Request struct {
	// ID is chosen by the requester to match answers and cancels.
	ID uint32
	// Resource is the resource the piece belongs to.
	Resource ResourceRef
	// Piece is the piece index, below MaxPieceCount.
	Piece uint32
	// Offset is where in the piece to start, below identity.MaxPieceLength
	// (non-zero to resume a partial piece).
	Offset uint32
}

// Piece carries a chunk of a requested piece.
type Piece struct {
	// ID is the ID of the Request this answers.
	ID uint32
	// Offset is where the chunk starts within the piece.
	Offset uint32
	// Data is the chunk: never empty, and Offset+len(Data) is at most
	// identity.MaxPieceLength. On Decode, Data aliases the input buffer.
	Data []byte
}

// Cancel withdraws a Request.
type Cancel struct {
	// ID is the ID of the Request withdrawn.
	ID uint32
}

// RejectReason says why a Request was refused.
type RejectReason uint8

// Reasons for rejecting a request.
const (
	// RejectAbsent: the sender does not hold the piece (any more).
	RejectAbsent RejectReason = 1
	// RejectBusy: the sender is serving too much already.
	RejectBusy RejectReason = 2
	// RejectInvalid: the request made no sense (unknown resource or
	// version, offset beyond the piece).
	RejectInvalid RejectReason = 3
)

// String returns the reason's name ("absent", "busy", "invalid"), or
// "RejectReason(n)" for an unknown one.
func (r RejectReason) String() string {
	switch r {
	case RejectAbsent:
		return "absent"
	case RejectBusy:
		return "busy"
	case RejectInvalid:
		return "invalid"
	}
	return "RejectReason(" + strconv.Itoa(int(r)) + ")"
}

// Reject refuses a Request.
type Reject struct {
	// ID is the ID of the Request refused.
	ID uint32
	// Reason is why.
	Reason RejectReason
}

// Ready follows the Bitfields a peer sends right after the handshake: the
// receiver then knows everything the sender held when they connected, and
// that a resource it did not announce is not held there.
type Ready struct{}

// Type implements Message.
func (*Handshake) Type() Type { return TypeHandshake }

// Type implements Message.
func (*Bitfield) Type() Type { return TypeBitfield }

// Type implements Message.
func (*Have) Type() Type { return TypeHave }

// Type implements Message.
func (*Request) Type() Type { return TypeRequest }

// Type implements Message.
func (*Piece) Type() Type { return TypePiece }

// Type implements Message.
func (*Cancel) Type() Type { return TypeCancel }

// Type implements Message.
func (*Reject) Type() Type { return TypeReject }

// Type implements Message.
func (*Drop) Type() Type { return TypeDrop }

// Type implements Message.
func (*Ready) Type() Type { return TypeReady }

// malformed returns an error wrapping ErrMalformed.
func malformed(t Type, format string, args ...any) error {
	return fmt.Errorf("%w: %v: %s", ErrMalformed, t, fmt.Sprintf(format, args...))
}

// bitsLen is the number of bytes holding n bits.
func bitsLen(n uint32) int { return int((uint64(n) + 7) / 8) }

// spareMask returns the mask of the spare (unused) bits of the last byte of
// a bitfield of n bits.
func spareMask(n uint32) byte {
	if r := n % 8; r != 0 {
		return 0xFF >> r
	}
	return 0
}

// Append appends the encoding of m to dst and returns the extended slice. It
// returns dst unchanged and an error wrapping ErrMalformed if m violates the
// protocol's limits. It does not allocate when dst has enough capacity.
func Append(dst []byte, m Message) ([]byte, error) {
	if err := check(m); err != nil {
		return dst, err
	}
	switch m := m.(type) {
	case *Handshake:
		dst = append(dst, byte(TypeHandshake))
		dst = append(dst, handshakeMagic...)
		dst = binary.BigEndian.AppendUint16(dst, m.Version)
		dst = append(dst, m.InfoHash[:]...)
		dst = append(dst, m.PeerID[:]...)
		dst = binary.BigEndian.AppendUint32(dst, m.MaxMessageSize)
	case *Bitfield:
		dst = append(dst, byte(TypeBitfield))
		dst = appendRef(dst, m.Resource)
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.Size))
		dst = appendString(dst, m.ETag)
		dst = appendString(dst, m.LastModified)
		dst = binary.BigEndian.AppendUint32(dst, m.PieceCount)
		dst = append(dst, m.Bits...)
	case *Have:
		dst = append(dst, byte(TypeHave))
		dst = appendRef(dst, m.Resource)
		dst = binary.BigEndian.AppendUint32(dst, m.Piece)
	case *Drop:
		dst = append(dst, byte(TypeDrop))
		dst = appendRef(dst, m.Resource)
		dst = binary.BigEndian.AppendUint32(dst, m.Piece)
	case *Request:
		dst = append(dst, byte(TypeRequest))
		dst = binary.BigEndian.AppendUint32(dst, m.ID)
		dst = appendRef(dst, m.Resource)
		dst = binary.BigEndian.AppendUint32(dst, m.Piece)
		dst = binary.BigEndian.AppendUint32(dst, m.Offset)
	case *Piece:
		dst = append(dst, byte(TypePiece))
		dst = binary.BigEndian.AppendUint32(dst, m.ID)
		dst = binary.BigEndian.AppendUint32(dst, m.Offset)
		dst = append(dst, m.Data...)
	case *Cancel:
		dst = append(dst, byte(TypeCancel))
		dst = binary.BigEndian.AppendUint32(dst, m.ID)
	case *Reject:
		dst = append(dst, byte(TypeReject))
		dst = binary.BigEndian.AppendUint32(dst, m.ID)
		dst = append(dst, byte(m.Reason))
	case *Ready:
		dst = append(dst, byte(TypeReady))
	}
	return dst, nil
}

// check validates m against the protocol's limits. It is the single place
// both Append and Decode enforce them, so that whatever decodes also
// encodes.
func check(m Message) error {
	switch m := m.(type) {
	case *Handshake:
		if m == nil {
			break
		}
		if m.Version == 0 {
			return malformed(TypeHandshake, "version 0")
		}
		if m.MaxMessageSize < MinMessageSize {
			return malformed(TypeHandshake, "max message size %d below %d", m.MaxMessageSize, MinMessageSize)
		}
		return nil
	case *Bitfield:
		if m == nil {
			break
		}
		if err := checkRef(TypeBitfield, m.Resource); err != nil {
			return err
		}
		info := identity.ResourceInfo{Size: m.Size, ETag: m.ETag, LastModified: m.LastModified}
		if err := info.Validate(); err != nil {
			return malformed(TypeBitfield, "%v", err)
		}
		if m.PieceCount > MaxPieceCount {
			return malformed(TypeBitfield, "piece count %d above %d", m.PieceCount, MaxPieceCount)
		}
		if len(m.Bits) != bitsLen(m.PieceCount) {
			return malformed(TypeBitfield, "%d bytes of bits for %d pieces", len(m.Bits), m.PieceCount)
		}
		if n := len(m.Bits); n > 0 && m.Bits[n-1]&spareMask(m.PieceCount) != 0 {
			return malformed(TypeBitfield, "spare bits set")
		}
		return nil
	case *Have:
		if m == nil {
			break
		}
		return checkPiece(TypeHave, m.Resource, m.Piece)
	case *Drop:
		if m == nil {
			break
		}
		return checkPiece(TypeDrop, m.Resource, m.Piece)
	case *Request:
		if m == nil {
			break
		}
		if err := checkPiece(TypeRequest, m.Resource, m.Piece); err != nil {
			return err
		}
		if m.Offset >= identity.MaxPieceLength {
			return malformed(TypeRequest, "offset %d beyond the largest piece", m.Offset)
		}
		return nil
	case *Piece:
		if m == nil {
			break
		}
		if len(m.Data) == 0 {
			return malformed(TypePiece, "no data")
		}
		if uint64(m.Offset)+uint64(len(m.Data)) > identity.MaxPieceLength {
			return malformed(TypePiece, "%d bytes at offset %d run beyond the largest piece", len(m.Data), m.Offset)
		}
		return nil
	case *Cancel:
		if m == nil {
			break
		}
		return nil
	case *Ready:
		if m == nil {
			break
		}
		return nil
	case *Reject:
		if m == nil {
			break
		}
		switch m.Reason {
		case RejectAbsent, RejectBusy, RejectInvalid:
			return nil
		}
		return malformed(TypeReject, "unknown reason %d", m.Reason)
	case nil:
		return fmt.Errorf("%w: nil message", ErrMalformed)
	default:
		return fmt.Errorf("%w: unsupported message type %T", ErrMalformed, m)
	}
	return fmt.Errorf("%w: nil %T", ErrMalformed, m)
}

// checkRef validates a resource reference.
func checkRef(t Type, r ResourceRef) error {
	if err := identity.ValidateName(r.Name); err != nil {
		return malformed(t, "%v", err)
	}
	return nil
}

// checkPiece validates a resource reference and a piece index.
func checkPiece(t Type, r ResourceRef, piece uint32) error {
	if err := checkRef(t, r); err != nil {
		return err
	}
	if piece >= MaxPieceCount {
		return malformed(t, "piece index %d not below %d", piece, MaxPieceCount)
	}
	return nil
}

// appendString appends s with its uvarint length.
func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendRef appends a resource reference.
func appendRef(dst []byte, r ResourceRef) []byte {
	dst = appendString(dst, r.Name)
	return binary.BigEndian.AppendUint64(dst, r.Version)
}

// Decode decodes one wire message. The returned message is one of this
// package's pointer types; a *Piece's Data aliases b, everything else is
// copied. Any error wraps ErrMalformed.
func Decode(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	d := decoder{t: Type(b[0]), b: b[1:]}
	var m Message
	switch d.t {
	case TypeHandshake:
		if len(b) != handshakeLen {
			return nil, malformed(d.t, "%d bytes, want %d", len(b), handshakeLen)
		}
		if string(d.bytes(len(handshakeMagic))) != handshakeMagic {
			return nil, malformed(d.t, "bad magic")
		}
		h := &Handshake{Version: d.uint16()}
		copy(h.InfoHash[:], d.bytes(20))
		copy(h.PeerID[:], d.bytes(20))
		h.MaxMessageSize = d.uint32()
		m = h
	case TypeBitfield:
		bf := &Bitfield{Resource: d.ref(), Size: int64(d.uint64())}
		bf.ETag = d.string(identity.MaxValidatorLen)
		bf.LastModified = d.string(identity.MaxValidatorLen)
		bf.PieceCount = d.uint32()
		if d.err == nil && bf.PieceCount > MaxPieceCount {
			return nil, malformed(d.t, "piece count %d above %d", bf.PieceCount, MaxPieceCount)
		}
		if n := bitsLen(bf.PieceCount); n > 0 {
			if bits := d.bytes(n); bits != nil {
				bf.Bits = append([]byte(nil), bits...)
			}
		}
		m = bf
	case TypeHave:
		m = &Have{Resource: d.ref(), Piece: d.uint32()}
	case TypeDrop:
		m = &Drop{Resource: d.ref(), Piece: d.uint32()}
	case TypeRequest:
		r := &Request{ID: d.uint32()}
		r.Resource = d.ref()
		r.Piece = d.uint32()
		r.Offset = d.uint32()
		m = r
	case TypePiece:
		p := &Piece{ID: d.uint32(), Offset: d.uint32()}
		if d.err == nil && len(d.b) > 0 {
			p.Data = d.b[:len(d.b):len(d.b)]
			d.b = nil
		}
		m = p
	case TypeCancel:
		m = &Cancel{ID: d.uint32()}
	case TypeReject:
		m = &Reject{ID: d.uint32(), Reason: RejectReason(d.byte())}
	case TypeReady:
		m = &Ready{}
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrMalformed, b[0])
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, malformed(d.t, "%d trailing bytes", len(d.b))
	}
	if err := check(m); err != nil {
		return nil, err
	}
	return m, nil
}

// decoder reads fields off a message. After the first error every read
// returns a zero value and err keeps that first error.
type decoder struct {
	t   Type
	b   []byte
	err error
}

// bytes consumes n bytes and returns them (aliasing the input), or nil if
// fewer remain.
func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = malformed(d.t, "truncated")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) uint16() uint16 {
	if v := d.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	if v := d.bytes(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) uint64() uint64 {
	if v := d.bytes(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// string reads a uvarint-prefixed string of at most limit bytes. The length
// is checked against limit and the input before anything is allocated.
func (d *decoder) string(limit int) string {
	if d.err != nil {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	switch {
	case k == 0:
		d.err = malformed(d.t, "truncated")
		return ""
	case k < 0:
		d.err = malformed(d.t, "string length overflows")
		return ""
	case k > 1 && d.b[k-1] == 0:
		d.err = malformed(d.t, "string length not in shortest form")
		return ""
	case n > uint64(limit):
		d.err = malformed(d.t, "string of %d bytes exceeds %d", n, limit)
		return ""
	}
	d.b = d.b[k:]
	return string(d.bytes(int(n)))
}

// ref reads a ResourceRef.
func (d *decoder) ref() ResourceRef {
	return ResourceRef{Name: d.string(identity.MaxNameLen), Version: d.uint64()}
}
