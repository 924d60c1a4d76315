package hashsource

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// PeerTubeListName is the name of the list that a PeerTube server writes
// beside a live stream's playlists and segments. A VOD video's list has a
// UUID in front of it (its playlist's segmentsSha256Url names it).
const PeerTubeListName = "segments-sha256.json"

const (
	// maxPeerTubeLists bounds the lists a PeerTube source keeps; the least
	// recently used goes first. A list is at most
	// piecehash.MaxPeerTubeDocumentSize, a live one a few kilobytes.
	maxPeerTubeLists = 8
	// peerTubeRefetch is the least time between two fetches of one list. A
	// live stream's list gains a segment every few seconds, and a segment
	// that it does not name yet has it fetched again.
	peerTubeRefetch = time.Second
	// peerTubeRefetches bounds the fetches of a list made for a segment it
	// does not name: a list that still does not name it after them (a few
	// seconds) does not have it. An init segment is not listed, say.
	peerTubeRefetches = 3
)

// PeerTube gives the engine the hashes of PeerTube's segments-sha256.json,
// the list a PeerTube server publishes beside the HLS playlists of a video
// or live stream (docs/hashes.md, "PeerTube compatibility"): the SHA-256 of
// each whole segment file (live streams), or of each byte range of a
// fragmented MP4 (VOD, one file per resolution, which the engine shares as
// one resource). It is an engine.SegmentHasher: the engine asks it for a
// resource's hashed ranges and checks the bytes from peers of each range
// once it has all of them.
//
// A file is found by the last element of its URL's path
// (piecehash.SegmentName).
//
// Lists are cached by URL (the maxPeerTubeLists last used). A segment that
// the cached list does not name has it fetched again, since a live
// stream's list grows, but not sooner than peerTubeRefetch after the
// previous fetch: the caller waits for the list to name it, for up to
// peerTubeRefetches fetches or until its context ends. Concurrent callers
// share one fetch.
//
// A PeerTube is safe for concurrent use and must not be copied after its
// first use.
type PeerTube struct {
	// URL returns the URL of the list that has the hash of the segment at
	// mediaURL, "" for none. When nil, DefaultPeerTubeURL is used.
	URL func(mediaURL string) (string, error)
	// Get makes the requests.
	Get Getter

	mu    sync.Mutex
	lists map[string]*peerTubeFetch // by URL
}

// peerTubeFetch is one fetch of a list, finished once done is closed.
type peerTubeFetch struct {
	done chan struct{}
	list *piecehash.PeerTubeList // nil if it failed
	err  error
	// aborted: the fetch ended with its caller's context, which says
	// nothing of the list; the next caller fetches it again.
	aborted bool
	at      time.Time // when it started
	used    time.Time // when a caller last asked for it; guarded by mu
}

// DefaultPeerTubeURL returns the URL of the segments-sha256.json in the
// directory of the segment at mediaURL, where a PeerTube live stream has
// it, beside its playlists and segments. The segment URL's query is not
// kept. mediaURL must be an absolute http(s) URL.
func DefaultPeerTubeURL(mediaURL string) (string, error) {
	u, err := url.Parse(mediaURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%.200q is not an absolute http(s) URL", mediaURL)
	}
	return u.ResolveReference(&url.URL{Path: PeerTubeListName}).String(), nil
}

// PieceHashes implements engine.HashSource. PeerTube's lists have no piece
// hashes: it fails, and the engine asks SegmentHashes instead.
func (p *PeerTube) PieceHashes(ctx context.Context, mediaURL string, pieceLength int64) (*piecehash.List, error) {
	return nil, fmt.Errorf("%w: PeerTube lists have hashes of whole segments, not of pieces", ErrUnusable)
}

// SegmentHash returns the SHA-256 of the whole segment file at mediaURL,
// from its list; a file the list hashes by byte ranges is refused
// (ErrUnusable). While the list does not name the segment, it is fetched
// again, at most once per peerTubeRefetch and peerTubeRefetches times,
// until ctx ends.
func (p *PeerTube) SegmentHash(ctx context.Context, mediaURL string) (piecehash.Hash, error) {
	l, name, u, err := p.listFor(ctx, mediaURL)
	if err != nil {
		return piecehash.Hash{}, err
	}
	if h, ok := l.Lookup(name, 0, -1); ok {
		return h, nil
	}
	return piecehash.Hash{}, fmt.Errorf("%w: %s has hashes of byte ranges of %q, not of the whole file", ErrUnusable, u, name)
}

// SegmentHashes implements engine.SegmentHasher: the hashed ranges of the
// file at mediaURL, of size bytes, from its list. A whole-file hash is the
// one range [0, size); a VOD file's are its byte ranges, sorted and
// disjoint, as the list has them (the engine checks them against size).
// The list is fetched as for SegmentHash.
func (p *PeerTube) SegmentHashes(ctx context.Context, mediaURL string, size int64) ([]piecehash.RangeHash, error) {
	l, name, _, err := p.listFor(ctx, mediaURL)
	if err != nil {
		return nil, err
	}
	if h, ok := l.Lookup(name, 0, -1); ok {
		return []piecehash.RangeHash{{Start: 0, End: size, Hash: h}}, nil
	}
	return l.Ranges(name), nil
}

// listFor returns the list that names the file at mediaURL, the file's
// name in it and the list's URL u, fetching the list again while it does
// not name the file (see SegmentHash).
func (p *PeerTube) listFor(ctx context.Context, mediaURL string) (l *piecehash.PeerTubeList, name, u string, err error) {
	name, err = piecehash.SegmentName(mediaURL)
	if err != nil {
		return nil, "", "", fmt.Errorf("hashsource: %w", err)
	}
	listURL := p.URL
	if listURL == nil {
		listURL = DefaultPeerTubeURL
	}
	u, err = listURL(mediaURL)
	if err != nil {
		return nil, "", "", fmt.Errorf("hashsource: PeerTube list URL of %s: %w", mediaURL, err)
	}
	if u == "" {
		return nil, "", "", fmt.Errorf("%w: %s", ErrNoList, mediaURL)
	}
	var seen *peerTubeFetch
	for tries := 0; ; tries++ {
		f, err := p.list(ctx, u, seen)
		if err != nil {
			if seen != nil {
				return nil, "", "", fmt.Errorf("hashsource: %s does not name %q: %w", u, name, err)
			}
			return nil, "", "", err
		}
		if f.list.Contains(name) {
			return f.list, name, u, nil
		}
		if tries == peerTubeRefetches {
			return nil, "", "", fmt.Errorf("%w: %s does not name %q", ErrNoList, u, name)
		}
		seen = f // not listed yet: wait for a newer list
	}
}

// list returns a finished, successful fetch of the list at u other than
// seen (nil: any), or the error of one that failed less than
// peerTubeRefetch ago. It fetches the list when it has none to give: at
// once the first time, and otherwise once peerTubeRefetch has passed since
// the previous fetch started.
func (p *PeerTube) list(ctx context.Context, u string, seen *peerTubeFetch) (*peerTubeFetch, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		now := time.Now()
		p.mu.Lock()
		f := p.lists[u]
		var wait time.Duration
		if f != nil {
			f.used = now
			select {
			case <-f.done:
				next := f.at.Add(peerTubeRefetch).Sub(now)
				switch {
				case f.aborted:
					f = nil
				case f == seen || f.err != nil && next <= 0:
					if next > 0 {
						wait = next
					} else {
						f = nil
					}
				case f.err != nil:
					p.mu.Unlock()
					return nil, f.err
				default:
					p.mu.Unlock()
					return f, nil
				}
			default: // under way: wait for it below
			}
		}
		if f == nil {
			f = &peerTubeFetch{done: make(chan struct{}), at: now, used: now}
			p.putLocked(u, f)
			p.mu.Unlock()
			f.list, f.err = p.fetch(ctx, u)
			f.aborted = f.err != nil && ctx.Err() != nil
			close(f.done)
			continue
		}
		p.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
			continue
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// putLocked caches f as the fetch of the list at u, making room for it.
func (p *PeerTube) putLocked(u string, f *peerTubeFetch) {
	if p.lists == nil {
		p.lists = make(map[string]*peerTubeFetch)
	}
	if _, ok := p.lists[u]; !ok && len(p.lists) >= maxPeerTubeLists {
		var oldest string
		for k, g := range p.lists {
			if oldest == "" || g.used.Before(p.lists[oldest].used) {
				oldest = k
			}
		}
		delete(p.lists, oldest)
	}
	p.lists[u] = f
}

// fetch gets and decodes the list at u.
func (p *PeerTube) fetch(ctx context.Context, u string) (*piecehash.PeerTubeList, error) {
	status, body, err := p.Get.Get(ctx, u, piecehash.MaxPeerTubeDocumentSize)
	if err != nil {
		return nil, fmt.Errorf("hashsource: get %s: %w", u, err)
	}
	if status != 200 {
		return nil, fmt.Errorf("hashsource: %s answered %d", u, status)
	}
	l, err := piecehash.DecodePeerTube(body)
	if err != nil {
		return nil, fmt.Errorf("hashsource: %s: %w", u, err)
	}
	return l, nil
}
