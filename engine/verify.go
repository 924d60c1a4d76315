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
// the piece-hash service's and static lists'). A source that implements
// SegmentHasher too gives hashes of whole ranges of the resource instead.
type HashSource interface {
	PieceHashes(ctx context.Context, mediaURL string, pieceLength int64) (*piecehash.List, error)
}

// SegmentHasher is implemented by a HashSource whose hashes are of whole
// segments rather than of pieces: PeerTube's segments-sha256.json holds the
// SHA-256 of each segment file, or of each byte range of a file of
// byte-range segments (engine/hashsource.PeerTube). The engine asks such a
// source for SegmentHashes only, never for PieceHashes.
//
// A piece whose bytes all lie in hashed ranges may come from peers; one
// with bytes that no range covers (an init segment, say) comes from the
// origin only. Bytes from peers reach no reader, store or peer before each
// range they overlap is complete (every piece overlapping it is there) and
// matched; the pieces of a range wait for one another, so a range larger
// than MaxSegmentHashSize is not asked of peers at all.
type SegmentHasher interface {
	// SegmentHashes returns the hashed ranges of the resource at mediaURL,
	// of size bytes, sorted and disjoint: the one range [0, size) for a
	// hash of the whole resource.
	SegmentHashes(ctx context.Context, mediaURL string, size int64) ([]piecehash.RangeHash, error)
}

// MaxSegmentHashSize bounds the size of a range whose bytes from peers are
// checked against its hash (SegmentHasher): the pieces it overlaps are kept
// in memory until the check. A larger range comes from the origin only. So
// does a resource larger than this until its ranges are known.
const MaxSegmentHashSize = 32 << 20

// ErrBadPiece is wrapped by the error of a piece whose bytes from peers are
// not the publisher's: its hash did not match, or Validate refused it. The
// peers that sent it are banned.
var ErrBadPiece = errors.New("engine: piece from peers is not the origin's")

// hashes is what the hash source said of one version of a resource.
type hashes struct {
	done chan struct{} // closed once list, ranges or err is set
	list *piecehash.List
	// ranges are the hashed ranges of the resource, from a SegmentHasher
	// (the resource has a wholeCheck then).
	ranges []piecehash.RangeHash
	err    error
}

// came reports whether the hashes came (without error), without waiting.
func (h *hashes) came() bool {
	select {
	case <-h.done:
		return h.err == nil
	default:
		return false
	}
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

// acceptsPeersLocked reports whether piece i of r may be asked of peers:
// unless its hashes failed to come, or its resource is checked by ranges
// and the check does not take bytes for piece i (see
// wholeCheck.acceptsLocked).
// While the hashes are on their way peers are asked already, so that a piece
// wanted at once need not go to HTTP for want of them; what peers send waits
// for them before it is used (verifyPiece, wholeCheck).
func (r *Resource) acceptsPeersLocked(i int) bool {
	if r.hashes != nil && r.hashes.failed() {
		return false
	}
	return r.whole == nil || r.whole.acceptsLocked(i)
}

// errUnverifiable is the error of a piece from peers that cannot be checked
// because its resource's hashes did not come: the piece is fetched again
// from the origin, and its senders are not to blame.
var errUnverifiable = errors.New("engine: no hashes to check the piece with")

// newHashesLocked gives r, just created, the hashes of the engine's hash
// source, on their way. A resource that a SegmentHasher is to check by
// ranges gets a wholeCheck.
func (s *Swarm) newHashesLocked(r *Resource) {
	r.hashes = &hashes{done: make(chan struct{})}
	if _, ok := s.e.cfg.Hashes.(SegmentHasher); ok {
		r.whole = newWholeCheck(r.info.Size, s.id.PieceLength)
	}
	go s.fetchHashes(r)
}

// fetchHashes asks the hash source for r's hashes. If they do not come,
// r's pieces are never asked of peers.
func (s *Swarm) fetchHashes(r *Resource) {
	h := r.hashes
	ctx, cancel := context.WithTimeout(s.ctx, s.e.cfg.HashTimeout)
	defer cancel()
	t0 := time.Now()
	var err error
	if sh, ok := s.e.cfg.Hashes.(SegmentHasher); ok {
		h.ranges, err = sh.SegmentHashes(ctx, r.url, r.info.Size)
		if err == nil {
			err = checkRanges(h.ranges, r.info.Size)
		}
	} else {
		h.list, err = s.e.cfg.Hashes.PieceHashes(ctx, r.url, s.id.PieceLength)
		if err == nil {
			err = matchInfo(h.list, r.info, r.n)
		}
	}
	h.err = err
	close(h.done)
	s.e.log.Debug("hashes fetched", "url", r.url, "after", time.Since(t0), "err", err)
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
// origin's, errUnverifiable when the hashes did not come. A resource
// checked by ranges has no hash per piece: only Validate is asked here, and
// the piece then waits for the rest of its ranges (Swarm.hold).
//
// The wait ends at giveUp (hashGiveUp; zero: no end), so that a slow hash
// source leaves time to fetch the piece from the origin.
func (s *Swarm) verifyPiece(r *Resource, index int, data []byte, giveUp time.Time) error {
	if h := r.hashes; h != nil && r.whole == nil {
		if err := s.waitHashes(h, giveUp); err != nil {
			return fmt.Errorf("piece %d of %s: %w", index, r.url, err)
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

// waitHashes waits for h until giveUp (zero: no end), or the swarm's end. Hashes that came are used whatever the
// deadline: a select between them and a timer that fired would pick either.
// The error of a wait that ended first wraps errUnverifiable.
func (s *Swarm) waitHashes(h *hashes, giveUp time.Time) error {
	select {
	case <-h.done:
		return nil
	default:
	}
	var timeout <-chan time.Time
	if !giveUp.IsZero() {
		t := time.NewTimer(time.Until(giveUp))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-h.done:
		return nil
	case <-timeout:
		return fmt.Errorf("%w: due before its hashes came", errUnverifiable)
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// goSHA256 is the default Config.Digest.
func goSHA256(_ context.Context, data []byte) ([32]byte, error) {
	return sha256.Sum256(data), nil
}
