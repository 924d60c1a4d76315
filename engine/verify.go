package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

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

// failed reports whether the hashes did not come (err set), without waiting.
func (h *hashes) failed() bool {
	select {
	case <-h.done:
		return h.err != nil
	default:
		return false
	}
}

// acceptsPeers reports whether pieces of r may be asked of peers: unless
// its hashes failed to come. While they are on their way peers are asked
// already, so that a piece wanted at once need not go to HTTP for want of
// them; what peers send waits for them before it is used (verifyPiece).
func (r *Resource) acceptsPeers() bool {
	return r.hashes == nil || !r.hashes.failed()
}

// errUnverifiable is the error of a piece from peers that cannot be checked
// because its resource's hashes did not come: the piece is fetched again
// from the origin, and its senders are not to blame.
var errUnverifiable = errors.New("engine: no hashes to check the piece with")

// hashWaitMargin is the time before a piece's deadline at which a piece from
// peers stops waiting for its hashes and is fetched from the origin.
const hashWaitMargin = time.Second

// fetchHashes asks the hash source for r's hashes. If they do not come,
// r's pieces are never asked of peers.
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
// against the publisher's hash, waiting for the hashes if need be, and the
// Validate hook. An error wraps ErrBadPiece when the bytes are not the
// origin's, errUnverifiable when the hashes did not come.
//
// The wait ends a little before the piece's deadline,
// so that a slow hash source leaves time to fetch the piece from the origin.
func (s *Swarm) verifyPiece(r *Resource, index int, data []byte, deadline time.Time) error {
	if h := r.hashes; h != nil {
		var timeout <-chan time.Time
		if !deadline.IsZero() {
			t := time.NewTimer(time.Until(deadline.Add(-hashWaitMargin)))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-h.done:
		case <-timeout:
			return fmt.Errorf("%w: piece %d of %s is due before its hashes came", errUnverifiable, index, r.url)
		case <-s.ctx.Done():
			return fmt.Errorf("piece %d of %s: %w", index, r.url, s.ctx.Err())
		}
		if h.err != nil {
			return fmt.Errorf("%w: piece %d of %s: %w", errUnverifiable, index, r.url, h.err)
		}
		sum, err := s.e.cfg.Digest(s.ctx, data)
		if err != nil {
			return fmt.Errorf("%w: piece %d of %s: %w", errUnverifiable, index, r.url, err)
		}
		if sum != h.list.Pieces[index] {
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

// goSHA256 is the default Config.Digest.
func goSHA256(_ context.Context, data []byte) ([32]byte, error) {
	return sha256.Sum256(data), nil
}
