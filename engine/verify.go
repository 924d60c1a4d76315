package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// HashSource gives the publisher's SHA-256 of every piece of the whole
// resource at a media URL, in pieces of pieceLength (engine/hashsource has
// the piece-hash service's and static lists').
type HashSource interface {
	PieceHashes(ctx context.Context, mediaURL string, pieceLength int64) (*piecehash.List, error)
}

// ErrBadPiece is wrapped by the error of a piece whose bytes from peers are
// not the publisher's: its hash did not match, or Validate refused it. The
// peers that sent it are banned.
var ErrBadPiece = errors.New("engine: piece from peers is not the origin's")

// hashes is what the hash source said of one version of a resource.
type hashes struct {
	done chan struct{} // closed once list or err is set
	list *piecehash.List
	err  error
}

// ready reports whether the hashes came (ok) or failed (err set).
func (h *hashes) ready() (ok bool, err error) {
	select {
	case <-h.done:
		return h.err == nil, h.err
	default:
		return false, nil
	}
}

// acceptsPeers reports whether pieces of r may be asked of peers now: without
// a hash source always; with one, once its hashes came.
func (r *Resource) acceptsPeers() bool {
	if r.hashes == nil {
		return true
	}
	ok, _ := r.hashes.ready()
	return ok
}

// fetchHashes asks the hash source for r's hashes. Until they come, r's
// pieces are not asked of peers; if they do not come, never.
func (s *Swarm) fetchHashes(r *Resource) {
	h := r.hashes
	ctx, cancel := context.WithTimeout(s.ctx, s.e.cfg.HashTimeout)
	defer cancel()
	l, err := s.e.cfg.Hashes.PieceHashes(ctx, r.url, s.id.PieceLength)
	if err == nil {
		err = matchInfo(l, r.info, r.n)
	}
	h.list, h.err = l, err
	close(h.done)
	if err != nil {
		if s.ctx.Err() == nil {
			s.e.log.Warn("no hashes: pieces come from the origin only", "url", r.url, "err", err)
		}
		return
	}
	s.kick()
}

// matchInfo checks that l describes the version info of a resource of n
// pieces: the origin's size and, where both have one, ETag and
// Last-Modified. A version peers announced is a hint that this confirms.
func matchInfo(l *piecehash.List, info identity.ResourceInfo, n int) error {
	switch {
	case l.Size != info.Size || len(l.Pieces) != n:
		return fmt.Errorf("engine: hashes are of a %d-byte version, not of this %d-byte one", l.Size, info.Size)
	case l.ETag != "" && info.ETag != "" && l.ETag != info.ETag:
		return fmt.Errorf("engine: hashes are of the version with ETag %q, not %q", l.ETag, info.ETag)
	case l.LastModified != "" && info.LastModified != "" && l.LastModified != info.LastModified:
		return fmt.Errorf("engine: hashes are of the version of %s, not %s", l.LastModified, info.LastModified)
	}
	return nil
}

// verifyPiece checks a complete piece of r that holds bytes from peers
// against the publisher's hash and the Validate hook. An error wraps
// ErrBadPiece when the bytes are not the origin's.
func (s *Swarm) verifyPiece(r *Resource, index int, data []byte) error {
	if h := r.hashes; h != nil {
		ok, err := h.ready()
		switch {
		case err != nil:
			return fmt.Errorf("%w: piece %d of %s cannot be checked: %w", ErrBadPiece, index, r.url, err)
		case !ok:
			// Peers are asked only once the hashes came.
			return fmt.Errorf("%w: piece %d of %s came before its hashes", ErrBadPiece, index, r.url)
		}
		if sha256.Sum256(data) != h.list.Pieces[index] {
			return fmt.Errorf("%w: piece %d of %s does not match the publisher's hash", ErrBadPiece, index, r.url)
		}
	}
	if s.e.cfg.Validate != nil {
		start, end, _ := r.PieceRange(index)
		ref := PieceRef{URL: r.url, Resource: identity.Resource{Name: r.name, Info: r.info}, Index: index, Start: start, End: end}
		if err := s.e.cfg.Validate(ref, data); err != nil {
			return fmt.Errorf("%w: piece %d of %s refused by Validate: %w", ErrBadPiece, index, r.url, err)
		}
	}
	return nil
}
