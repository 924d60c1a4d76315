// Package hashsource gives the engine the publisher's piece hashes of a
// resource (a piecehash.List), from the piece-hash service or from static
// hash lists that "p2pmedia hash" wrote (docs/hashes.md), or the hash of a
// whole segment from the segments-sha256.json of a PeerTube server
// (PeerTube). The engine checks every byte that came from a peer against
// them.
//
// The package makes its requests through a Getter, so that the browser
// build uses fetch and the native one net/http (NewHTTPGetter).
package hashsource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// ErrUnusable is wrapped by the errors about a List that does not describe
// the resource asked for: another URL, piece length or range.
var ErrUnusable = errors.New("hashsource: hash list does not describe the resource")

// Getter makes a GET request for a JSON document and returns the status and
// at most max bytes of the body; a longer body is an error.
type Getter interface {
	Get(ctx context.Context, url string, max int) (status int, body []byte, err error)
}

// ServicePath is the path of the piece-hash service's endpoint, below its
// base URL.
const ServicePath = "/v1/pieces"

// ServiceURL returns the URL at which the piece-hash service whose base URL
// is base answers for mediaURL in pieces of pieceLength.
func ServiceURL(base, mediaURL string, pieceLength int64) string {
	return strings.TrimRight(base, "/") + ServicePath + "?url=" + url.QueryEscape(mediaURL) +
		"&pieceLength=" + strconv.FormatInt(pieceLength, 10)
}

// Service is the piece-hash service at Base.
type Service struct {
	// Base is the service's base URL (https://hashes.example.com).
	Base string
	// Get makes the requests.
	Get Getter
}

// PieceHashes asks the service for the hashes of mediaURL.
func (s *Service) PieceHashes(ctx context.Context, mediaURL string, pieceLength int64) (*piecehash.List, error) {
	return fetch(ctx, s.Get, ServiceURL(s.Base, mediaURL, pieceLength), mediaURL, pieceLength)
}

// Lists is a static hash list per media URL: the JSON documents that
// "p2pmedia hash" writes, served beside the media or anywhere else.
type Lists struct {
	// URL returns the URL of the list of a media URL, "" for none.
	URL func(mediaURL string) (string, error)
	// Get makes the requests.
	Get Getter
}

// ErrNoList is returned by Lists.PieceHashes for a media URL that has no
// list.
var ErrNoList = errors.New("hashsource: no hash list for this media")

// PieceHashes reads the list of mediaURL. A list of another piece length
// is unusable: the swarm's pieces are what peers exchange.
func (l *Lists) PieceHashes(ctx context.Context, mediaURL string, pieceLength int64) (*piecehash.List, error) {
	u, err := l.URL(mediaURL)
	if err != nil {
		return nil, fmt.Errorf("hashsource: hash list URL of %s: %w", mediaURL, err)
	}
	if u == "" {
		return nil, fmt.Errorf("%w: %s", ErrNoList, mediaURL)
	}
	return fetch(ctx, l.Get, u, mediaURL, pieceLength)
}

// fetch gets and decodes the List at u and checks that it describes the
// whole resource at mediaURL in pieces of pieceLength.
func fetch(ctx context.Context, g Getter, u, mediaURL string, pieceLength int64) (*piecehash.List, error) {
	status, body, err := g.Get(ctx, u, piecehash.MaxDocumentSize)
	if err != nil {
		return nil, fmt.Errorf("hashsource: get %s: %w", u, err)
	}
	l, err := piecehash.DecodeAnswer(status, body)
	if err != nil {
		return nil, fmt.Errorf("hashsource: %s: %w", u, err)
	}
	if err := Check(l, mediaURL, pieceLength); err != nil {
		return nil, fmt.Errorf("hashsource: %s: %w", u, err)
	}
	return l, nil
}

// Check reports whether l describes the whole resource at mediaURL in pieces
// of pieceLength. A list of a static file names the file by its path, so
// only the last path element of its URL has to match.
func Check(l *piecehash.List, mediaURL string, pieceLength int64) error {
	switch {
	case l.PieceLength != pieceLength:
		return fmt.Errorf("%w: pieces of %d bytes, want %d", ErrUnusable, l.PieceLength, pieceLength)
	case l.Start != 0 || l.End != l.Size:
		return fmt.Errorf("%w: bytes [%d, %d) of %d, want the whole resource", ErrUnusable, l.Start, l.End, l.Size)
	case l.URL != mediaURL && lastElement(l.URL) != lastElement(mediaURL):
		return fmt.Errorf("%w: it is for %.200q, want %.200q", ErrUnusable, l.URL, mediaURL)
	}
	return nil
}

// lastElement is the last element of a URL's path, without query or
// fragment.
func lastElement(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u[strings.LastIndexByte(u, '/')+1:]
}
