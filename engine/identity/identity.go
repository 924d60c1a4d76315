// Package identity names what peers share: channels, swarms, resources and
// the pieces resources are cut into.
//
// A swarm is the set of peers that watch the same channel with the same
// protocol version, token and piece length; its tracker info_hash is the first
// 20 bytes of the SHA-1 of its key. A resource (a progressive file, or one
// HLS/DASH segment) is named inside its swarm and identified together with its
// validators, so that peers never mix bytes of two versions of a resource.
package identity

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
)

// ProtocolVersion is the version of the peer protocol and of swarm keys.
// Peers of different versions never meet: it is part of the swarm key.
const ProtocolVersion = 1

// DefaultPieceLength is the default length of a piece in bytes (512 KiB).
const DefaultPieceLength = 512 * 1024

// PieceLengthUnit is the unit every piece length is a multiple of (16 KiB).
const PieceLengthUnit = 16 * 1024

// MaxPieceLength bounds the piece length (16 MiB).
const MaxPieceLength = 16 * 1024 * 1024

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("identity: invalid")

// ChannelID returns the default channel id of a media URL: the URL without its
// scheme, query string and fragment ("https://cdn.example.com/a.mp4?t=1" →
// "cdn.example.com/a.mp4").
func ChannelID(mediaURL string) (string, error) {
	u, err := url.Parse(mediaURL)
	if err != nil {
		return "", fmt.Errorf("%w: media URL %q: %v", ErrInvalid, mediaURL, err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%w: media URL %q is not an absolute http(s) URL", ErrInvalid, mediaURL)
	}
	return u.Host + u.EscapedPath(), nil
}

// ValidatePieceLength reports whether n is a usable piece length: a positive
// multiple of PieceLengthUnit no larger than MaxPieceLength.
func ValidatePieceLength(n int64) error {
	if n <= 0 || n%PieceLengthUnit != 0 || n > MaxPieceLength {
		return fmt.Errorf("%w: pieceLength %d must be a positive multiple of %d up to %d", ErrInvalid, n, PieceLengthUnit, MaxPieceLength)
	}
	return nil
}

// InfoHash is a swarm's 20-byte tracker identifier.
type InfoHash [20]byte

// String returns the hash in lowercase hex.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

// Swarm identifies one swarm.
type Swarm struct {
	// ChannelID is the channel the swarm shares (see ChannelID).
	ChannelID string
	// Token is the site's token ("" for none).
	Token string
	// PieceLength is the piece length every member uses.
	PieceLength int64
	// Key is the full swarm key: protocol version, token, channel id, piece length.
	Key string
	// InfoHash is the first 20 bytes of SHA-1(Key).
	InfoHash InfoHash
}

// NewSwarm builds the identity of a swarm. A custom channel id (custom true)
// requires a token, as in the established API.
func NewSwarm(token, channelID string, custom bool, pieceLength int64) (Swarm, error) {
	if channelID == "" {
		return Swarm{}, fmt.Errorf("%w: empty channel id", ErrInvalid)
	}
	if custom && token == "" {
		return Swarm{}, fmt.Errorf("%w: channelId requires a token", ErrInvalid)
	}
	if err := ValidatePieceLength(pieceLength); err != nil {
		return Swarm{}, err
	}
	// Length-prefix the variable parts so that no two tuples share a key.
	key := fmt.Sprintf("p2pmedia/%d/%d:%s/%d:%s/%d", ProtocolVersion, len(token), token, len(channelID), channelID, pieceLength)
	return Swarm{ChannelID: channelID, Token: token, PieceLength: pieceLength, Key: key, InfoHash: sha1.Sum([]byte(key))}, nil
}

// ResourceInfo holds what identifies one version of a resource: its size and
// the validators its origin gave for it.
type ResourceInfo struct {
	// Size is the resource's length in bytes.
	Size int64
	// ETag is the origin's entity tag, as sent ("" if none).
	ETag string
	// LastModified is the origin's Last-Modified header, as sent ("" if none).
	LastModified string
}

// Validate checks the limits peers enforce on resource info.
func (ri ResourceInfo) Validate() error {
	switch {
	case ri.Size < 0:
		return fmt.Errorf("%w: negative resource size %d", ErrInvalid, ri.Size)
	case len(ri.ETag) > MaxValidatorLen:
		return fmt.Errorf("%w: ETag longer than %d bytes", ErrInvalid, MaxValidatorLen)
	case len(ri.LastModified) > MaxValidatorLen:
		return fmt.Errorf("%w: Last-Modified longer than %d bytes", ErrInvalid, MaxValidatorLen)
	}
	return nil
}

// MaxValidatorLen bounds ETag and Last-Modified values.
const MaxValidatorLen = 256

// MaxNameLen bounds resource names.
const MaxNameLen = 256

// Version condenses the info into 64 bits. Two peers share bytes of a
// resource only when their versions are equal, so a resource whose size or
// validators differ is never mixed.
func (ri ResourceInfo) Version() uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ri.Size))
	h.Write(b[:])
	h.Write([]byte(strconv.Itoa(len(ri.ETag))))
	h.Write([]byte(ri.ETag))
	h.Write([]byte{0})
	h.Write([]byte(ri.LastModified))
	return h.Sum64()
}

// Resource is one named, versioned resource of a swarm.
type Resource struct {
	// Name identifies the resource inside its swarm ("" for a progressive
	// file; a media sequence number or segment number for HLS/DASH).
	Name string
	// Info holds its size and validators.
	Info ResourceInfo
}

// URLName returns the name, inside a swarm whose channel comes from URLs
// (ChannelID, which drops the scheme and the query), of the resource at
// mediaURL: base (a segment's name; "" for a file) + "@" + 16 hex digits of
// the SHA-256 of the URL without its scheme and fragment, query included.
// Two URLs of one channel that differ anywhere but in the scheme name two
// resources, so that streams whose URLs differ only in the query are never
// mixed, while http and https viewers of one URL still share.
func URLName(base, mediaURL string) string {
	u := mediaURL
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u = u[:i]
	}
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	sum := sha256.Sum256([]byte(u))
	return base + "@" + hex.EncodeToString(sum[:8])
}

// ValidateName checks a resource name against the protocol's limits.
func ValidateName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: resource name longer than %d bytes", ErrInvalid, MaxNameLen)
	}
	if strings.ContainsRune(name, 0) {
		return fmt.Errorf("%w: resource name contains NUL", ErrInvalid)
	}
	return nil
}

// PieceCount is the number of pieces of length l covering size bytes.
func PieceCount(size, l int64) int {
	if size <= 0 || l <= 0 {
		return 0
	}
	return int((size + l - 1) / l)
}

// PieceRange returns the byte range [start, end) of piece index of a resource
// of the given size cut into pieces of length l. ok is false for an index
// outside the resource.
func PieceRange(index int, size, l int64) (start, end int64, ok bool) {
	if index < 0 || index >= PieceCount(size, l) {
		return 0, 0, false
	}
	start = int64(index) * l
	end = start + l
	if end > size {
		end = size
	}
	return start, end, true
}

// PiecesSpanning returns the first and last piece indexes that hold bytes
// [start, end) of a resource. ok is false for an empty or out-of-bounds range.
func PiecesSpanning(start, end, size, l int64) (first, last int, ok bool) {
	if start < 0 || end > size || start >= end || l <= 0 {
		return 0, 0, false
	}
	return int(start / l), int((end - 1) / l), true
}

// PieceKey names one piece in a piece store.
type PieceKey struct {
	// Swarm is the swarm's info hash.
	Swarm InfoHash
	// Resource is the resource's name inside the swarm.
	Resource string
	// Version is the resource's ResourceInfo.Version.
	Version uint64
	// Index is the piece index.
	Index int
}

// String renders the key as a stable, URL-safe path, for stores that need
// string keys (Cache Storage).
func (k PieceKey) String() string {
	return fmt.Sprintf("%s/%s/%016x/%d", k.Swarm, url.PathEscape(k.Resource), k.Version, k.Index)
}
