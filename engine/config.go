// Package engine is the P2P media swarm: it joins the viewers of the same
// media through WebTorrent trackers, exchanges pieces with them over reliable
// data channels, and fetches from the origin over HTTP what peers cannot
// deliver in time, so that playback is never worse than plain HTTP.
//
// The package is plain Go with no syscall/js: it runs natively (tests, tools)
// and in the browser compiled to WebAssembly. Everything that differs between
// the two (HTTP, the piece store, the WebRTC connection factory) is an
// interface of this package.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/transport"
)

// Fetcher is the engine's HTTP client for the origin.
type Fetcher interface {
	// Stat returns the size and validators of the resource at url.
	Stat(ctx context.Context, url string) (identity.ResourceInfo, error)
	// Fetch returns bytes [start, end) of the resource at url, with the
	// resource's info as the response described it.
	Fetch(ctx context.Context, url string, start, end int64) (identity.ResourceInfo, io.ReadCloser, error)
}

// Store holds the pieces this peer has, for its own playback and for upload.
type Store interface {
	// Get returns a stored piece; an error when absent. Callers must not
	// modify the returned slice.
	Get(ctx context.Context, key identity.PieceKey) ([]byte, error)
	// Put stores a piece, taking ownership of data.
	Put(ctx context.Context, key identity.PieceKey, data []byte) error
	// Delete removes a piece; deleting an absent piece is not an error.
	Delete(ctx context.Context, key identity.PieceKey) error
	// OnEvict registers fn to be told of pieces the store drops to make room.
	OnEvict(fn func(identity.PieceKey))
}

// Validator checks a piece that came from peers before it is used or
// shared; a non-nil error rejects the piece, and bans the peer that sent it.
type Validator func(p PieceRef, data []byte) error

// PieceRef says which piece of which resource a Validator checks.
type PieceRef struct {
	// URL is the resource's media URL.
	URL string
	// Resource is its name in the swarm and its version.
	Resource identity.Resource
	// Index is the piece's index; [Start, End) its bytes in the resource.
	Index      int
	Start, End int64
}

// Config configures an Engine. The zero value of every optional field picks
// the documented default.
type Config struct {
	// Fetcher fetches from the origin (required).
	Fetcher Fetcher
	// Store holds pieces (required).
	Store Store
	// Connector creates peer connections; nil runs HTTP only.
	Connector transport.Connector
	// P2PDisabled starts the engine with P2P off (see Engine.SetP2PEnabled).
	P2PDisabled bool
	// Announce lists the WebTorrent tracker URLs (ws:// or wss://); empty runs
	// HTTP only.
	Announce []string
	// Token is the site's token; required for a custom channel id.
	Token string
	// PieceLength is the piece length in bytes (default 512 KiB); a positive
	// multiple of 16 KiB.
	PieceLength int64
	// MaxPeers bounds the connected peers of each swarm (default 20).
	MaxPeers int
	// MaxOffers is the number of offers per announce (default 5, at most 10).
	MaxOffers int
	// MinBufferCount is the number of pieces ahead of the playhead that are
	// always fetched over HTTP when missing, whatever peers hold (default 0).
	MinBufferCount int
	// HTTPWindow: a missing piece due within this time is fetched over HTTP
	// unless a peer can deliver it safely sooner (default 4 s).
	HTTPWindow time.Duration
	// PrefetchWindow: pieces due within this time are fetched from peers ahead
	// of need (default 30 s).
	PrefetchWindow time.Duration
	// P2PStallTimeout: a peer download that receives nothing for this long is
	// abandoned (default 2 s).
	P2PStallTimeout time.Duration
	// MaxP2PDownloads bounds concurrent piece downloads from peers (default 6).
	MaxP2PDownloads int
	// MaxHTTPDownloads bounds concurrent HTTP piece downloads (default 3).
	MaxHTTPDownloads int
	// Validate optionally checks every piece from a peer: a site's own
	// scheme, besides or instead of Hashes.
	Validate Validator
	// Hashes gives the publisher's piece hashes (engine/hashsource), or
	// the hashes of whole ranges of resources when it is a SegmentHasher.
	// With it no byte from a peer is used before its piece (or each range
	// it overlaps) matched its hash; without it (and without Validate) bytes from peers
	// are unverified.
	Hashes HashSource
	// Digest computes the SHA-256 that a piece from peers is checked with
	// (default: crypto/sha256). The browser build passes WebCrypto's, which
	// hashes natively and off the page's thread; an error fails the piece.
	Digest func(ctx context.Context, data []byte) ([32]byte, error)
	// HashTimeout bounds the wait for a resource's hashes (default 10 s);
	// until they come, its pieces come over HTTP.
	HashTimeout time.Duration
	// PeerID is this peer's 20-byte id; zero picks a random one.
	PeerID [20]byte
	// Logger receives structured logs (default: discarded).
	Logger *slog.Logger
	// OnEvent receives events (see Event); it runs on the engine's event
	// goroutine, one event at a time, and must not block for long.
	OnEvent func(Event)
	// StatsInterval is how often a stats event is emitted while bytes move
	// (default 1 s).
	StatsInterval time.Duration
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("engine: invalid config")

func (c *Config) setDefaults() error {
	if c.Fetcher == nil {
		return fmt.Errorf("%w: Fetcher is required", ErrConfig)
	}
	if c.Store == nil {
		return fmt.Errorf("%w: Store is required", ErrConfig)
	}
	if c.PieceLength == 0 {
		c.PieceLength = identity.DefaultPieceLength
	}
	if err := identity.ValidatePieceLength(c.PieceLength); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	type intOpt struct {
		name string
		v    *int
		def  int
		max  int
	}
	for _, o := range []intOpt{
		{"MaxPeers", &c.MaxPeers, 20, 200},
		{"MaxOffers", &c.MaxOffers, 5, 10},
		{"MaxP2PDownloads", &c.MaxP2PDownloads, 6, 64},
		{"MaxHTTPDownloads", &c.MaxHTTPDownloads, 3, 16},
	} {
		if *o.v < 0 || *o.v > o.max {
			return fmt.Errorf("%w: %s %d out of range [0, %d]", ErrConfig, o.name, *o.v, o.max)
		}
		if *o.v == 0 {
			*o.v = o.def
		}
	}
	if c.MinBufferCount < 0 {
		return fmt.Errorf("%w: MinBufferCount %d is negative", ErrConfig, c.MinBufferCount)
	}
	type durOpt struct {
		name string
		v    *time.Duration
		def  time.Duration
	}
	for _, o := range []durOpt{
		{"HTTPWindow", &c.HTTPWindow, 4 * time.Second},
		{"PrefetchWindow", &c.PrefetchWindow, 30 * time.Second},
		{"P2PStallTimeout", &c.P2PStallTimeout, 2 * time.Second},
		{"StatsInterval", &c.StatsInterval, time.Second},
		{"HashTimeout", &c.HashTimeout, 10 * time.Second},
	} {
		if *o.v < 0 {
			return fmt.Errorf("%w: %s %v is negative", ErrConfig, o.name, *o.v)
		}
		if *o.v == 0 {
			*o.v = o.def
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Digest == nil {
		c.Digest = goSHA256
	}
	return nil
}

// recvSlack is the room a peer's receive queue keeps, beyond the pieces
// asked of the peer, for its control messages (bitfields, haves, requests).
const recvSlack = 2 << 20

// PeerRecvQueue is the cap on bytes received from one peer and not yet read
// (rtc.Config.MaxRecvQueue) that suits an engine with the given piece
// length (0: the default): the pieces the engine asks one peer for at a
// time, plus room for control messages. An honest peer never sends more
// ahead of the engine's reader; one that does is at fault and banned.
func PeerRecvQueue(pieceLength int64) int {
	if pieceLength <= 0 {
		pieceLength = identity.DefaultPieceLength
	}
	return maxPerPeer*int(pieceLength) + recvSlack
}
