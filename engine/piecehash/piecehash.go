// Package piecehash decodes, checks and encodes the hash lists that let a
// viewer believe bytes it got from a peer: the SHA-256 of every piece of a
// resource as the publisher's side computed it from the origin's bytes.
//
// A List is what the piece-hash service answers (GET /v1/pieces, see
// docs/hashes.md) and what "p2pmedia hash" writes for static hosting. A
// PeerTube list (DecodePeerTube) is the segments-sha256.json a PeerTube
// server publishes beside its HLS playlists.
//
// The package is plain Go without net/http: every viewer's engine downloads
// it in its WebAssembly binary.
package piecehash

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// FormatVersion is the version of the List JSON format; a document of any
// other version is refused.
const FormatVersion = 1

// Bounds of a List. A document past them is refused whole, so that a
// viewer never holds more than MaxDocumentSize bytes for one resource.
const (
	// MaxPieces bounds the number of pieces of a List: 65,536 pieces are a
	// 32 GiB resource at the default 512 KiB piece length.
	MaxPieces = 1 << 16
	// MaxSize bounds the size of the resource a List describes (1 TiB).
	MaxSize = 1 << 40
	// MaxURLLength bounds the url field.
	MaxURLLength = 4096
	// MaxDocumentSize bounds an encoded List: 67 bytes a piece ("<64 hex>",)
	// plus room for the other fields. Read no more than this of an answer.
	MaxDocumentSize = MaxPieces*67 + 16*1024
)

// ErrInvalid is wrapped by every error about a malformed or out-of-bounds
// document, of either format.
var ErrInvalid = errors.New("piecehash: invalid")

// ErrMismatch is wrapped by the errors of Verify: the bytes are not the
// ones the publisher hashed.
var ErrMismatch = errors.New("piecehash: hash mismatch")

// Hash is a SHA-256 digest.
type Hash [sha256.Size]byte

// String returns the digest in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler: lowercase hex.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(len(h)))
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler: exactly 64 hex
// digits, either case.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses exactly 64 hex digits (either case).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != hex.EncodedLen(len(h)) {
		return h, fmt.Errorf("%w: hash %.80q is %d characters, want %d hex digits", ErrInvalid, s, len(s), hex.EncodedLen(len(h)))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%w: hash %q is not hex", ErrInvalid, s)
	}
	return h, nil
}

// List holds the piece hashes of bytes [Start, End) of one version of a
// resource: piece k covers [Start+k·PieceLength, min(Start+(k+1)·PieceLength, End)).
// For a whole resource Start is 0 and End is Size; for a byte-range segment
// (HLS EXT-X-BYTERANGE, DASH indexRange/mediaRange) they bound the segment.
type List struct {
	// Version is FormatVersion.
	Version int `json:"version"`
	// URL is the media URL the hashes were asked for (not the URL a
	// redirect led to).
	URL string `json:"url"`
	// Size is the whole resource's length in bytes, as its origin gave it.
	Size int64 `json:"size"`
	// ETag is the origin's ETag header, as sent ("" if none).
	ETag string `json:"etag"`
	// LastModified is the origin's Last-Modified header, as sent ("" if none).
	LastModified string `json:"lastModified"`
	// Start is the first byte hashed.
	Start int64 `json:"start"`
	// End is the byte after the last one hashed (Size for the whole resource).
	End int64 `json:"end"`
	// PieceLength is the length of every piece but the last.
	PieceLength int64 `json:"pieceLength"`
	// Pieces holds the SHA-256 of each piece, in order.
	Pieces []Hash `json:"pieces"`
}

// Decode parses and validates a List document (see Validate). It ignores
// fields it does not know, so that a later version may add some.
func Decode(data []byte) (*List, error) {
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("%w: document of %d bytes exceeds %d", ErrInvalid, len(data), MaxDocumentSize)
	}
	// Pieces is decoded by hand below: json would accept a null entry.
	var raw struct {
		List
		Pieces []json.RawMessage `json:"pieces"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if raw.Pieces == nil {
		return nil, fmt.Errorf("%w: no pieces array", ErrInvalid)
	}
	l := raw.List
	if len(raw.Pieces) > MaxPieces {
		return nil, fmt.Errorf("%w: %d pieces exceed %d", ErrInvalid, len(raw.Pieces), MaxPieces)
	}
	l.Pieces = make([]Hash, len(raw.Pieces))
	for i, p := range raw.Pieces {
		var s string
		if len(p) == 0 || p[0] != '"' || json.Unmarshal(p, &s) != nil {
			return nil, fmt.Errorf("%w: piece %d: want a hex string, got %.80s", ErrInvalid, i, p)
		}
		h, err := ParseHash(s)
		if err != nil {
			return nil, fmt.Errorf("piece %d: %w", i, err)
		}
		l.Pieces[i] = h
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Encode validates l and returns its JSON document, as the service answers it.
func (l *List) Encode() ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if l.Pieces == nil {
		// An empty resource has an empty array, never null.
		c := *l
		c.Pieces = []Hash{}
		l = &c
	}
	return json.Marshal(l)
}

// Validate checks the bounds and the consistency of l: the version, a URL,
// a piece length the engine can use (identity.ValidatePieceLength), a size
// within MaxSize, 0 ≤ Start ≤ End ≤ Size, validators within
// identity.MaxValidatorLen, and exactly ceil((End−Start)/PieceLength) pieces.
func (l *List) Validate() error {
	switch {
	case l.Version != FormatVersion:
		return fmt.Errorf("%w: version %d, want %d", ErrInvalid, l.Version, FormatVersion)
	case l.URL == "":
		return fmt.Errorf("%w: no url", ErrInvalid)
	case len(l.URL) > MaxURLLength:
		return fmt.Errorf("%w: url longer than %d bytes", ErrInvalid, MaxURLLength)
	case l.Size < 0 || l.Size > MaxSize:
		return fmt.Errorf("%w: size %d outside [0, %d]", ErrInvalid, l.Size, int64(MaxSize))
	case l.Start < 0 || l.End < l.Start || l.End > l.Size:
		return fmt.Errorf("%w: range [%d, %d) is not within the %d-byte resource", ErrInvalid, l.Start, l.End, l.Size)
	}
	if err := identity.ValidatePieceLength(l.PieceLength); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	info := identity.ResourceInfo{Size: l.Size, ETag: l.ETag, LastModified: l.LastModified}
	if err := info.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	want := identity.PieceCount(l.End-l.Start, l.PieceLength)
	if want > MaxPieces {
		return fmt.Errorf("%w: %d bytes in pieces of %d make %d pieces, more than %d", ErrInvalid, l.End-l.Start, l.PieceLength, want, MaxPieces)
	}
	if len(l.Pieces) != want {
		return fmt.Errorf("%w: %d pieces, want %d for %d bytes in pieces of %d", ErrInvalid, len(l.Pieces), want, l.End-l.Start, l.PieceLength)
	}
	return nil
}

// Info returns the size and validators of the resource the list is of, to
// compare with the version the engine has of it.
func (l *List) Info() identity.ResourceInfo {
	return identity.ResourceInfo{Size: l.Size, ETag: l.ETag, LastModified: l.LastModified}
}

// PieceRange returns the byte range [start, end) of piece index, in the
// resource's own offsets; ok is false for an index outside the list.
func (l *List) PieceRange(index int) (start, end int64, ok bool) {
	s, e, ok := identity.PieceRange(index, l.End-l.Start, l.PieceLength)
	return l.Start + s, l.Start + e, ok
}

// Verify reports whether data is piece index of the list: of the piece's
// length and with its hash. Its errors wrap ErrMismatch for bytes that
// differ and ErrInvalid for an index outside the list.
func (l *List) Verify(index int, data []byte) error {
	start, end, ok := l.PieceRange(index)
	if !ok {
		return fmt.Errorf("%w: piece %d of %d", ErrInvalid, index, len(l.Pieces))
	}
	if int64(len(data)) != end-start {
		return fmt.Errorf("%w: piece %d has %d bytes, want %d", ErrMismatch, index, len(data), end-start)
	}
	if sha256.Sum256(data) != l.Pieces[index] {
		return fmt.Errorf("%w: piece %d of %s", ErrMismatch, index, l.URL)
	}
	return nil
}

// Sum reads exactly n bytes from r and returns the SHA-256 of each piece of
// pieceLength bytes (the last may be shorter). It fails with
// io.ErrUnexpectedEOF when r ends early. pieceLength must be positive.
func Sum(r io.Reader, n, pieceLength int64) ([]Hash, error) {
	if pieceLength <= 0 {
		return nil, fmt.Errorf("%w: pieceLength %d", ErrInvalid, pieceLength)
	}
	s := NewSummer(pieceLength)
	copied, err := io.Copy(s, io.LimitReader(r, n))
	if err != nil {
		return nil, err
	}
	if copied < n {
		return nil, io.ErrUnexpectedEOF
	}
	return s.Sums(), nil
}

// Summer hashes a stream piece by piece: write the bytes in order, in any
// chunks, then call Sums.
type Summer struct {
	pieceLength int64
	filled      int64 // bytes of the current piece written so far
	cur         hashState
	sums        []Hash
}

// hashState is what Summer needs of a hash.Hash.
type hashState interface {
	io.Writer
	Sum([]byte) []byte
	Reset()
}

// NewSummer returns a Summer for pieces of pieceLength bytes (positive).
func NewSummer(pieceLength int64) *Summer {
	return &Summer{pieceLength: pieceLength, cur: sha256.New()}
}

// Write implements io.Writer; it never fails.
func (s *Summer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(int64(len(p)), s.pieceLength-s.filled)
		s.cur.Write(p[:take])
		s.filled += take
		p = p[take:]
		if s.filled == s.pieceLength {
			s.finish()
		}
	}
	return n, nil
}

func (s *Summer) finish() {
	var h Hash
	s.cur.Sum(h[:0])
	s.sums = append(s.sums, h)
	s.cur.Reset()
	s.filled = 0
}

// Written returns the number of bytes written so far.
func (s *Summer) Written() int64 {
	return int64(len(s.sums))*s.pieceLength + s.filled
}

// Sums ends the stream and returns the hash of every piece, the last one
// (shorter) included. The Summer must not be written to afterwards.
func (s *Summer) Sums() []Hash {
	if s.filled > 0 {
		s.finish()
	}
	if s.sums == nil {
		return []Hash{}
	}
	return s.sums
}
