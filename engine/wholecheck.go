package engine

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"
)

// wholeCheck holds a resource whose bytes from peers are checked against
// the SHA-256 of the whole of it (a SegmentHasher's, see
// MaxSegmentHashSize) until the check: the bytes of every complete piece,
// and the pieces with bytes from peers, which nobody gets before the whole
// matched. It is guarded by the swarm's mutex.
type wholeCheck struct {
	// data holds the bytes of each complete piece, nil where it is
	// missing: the origin's too, since the hash covers them all.
	data [][]byte
	// complete counts the non-nil entries of data.
	complete int
	// held are the complete pieces with bytes from peers, unpublished,
	// by index. They stay in their resource's pieces as srcFinishing, so
	// that the scheduler leaves them alone and readers wait on them.
	held map[int]*piece
	// checking is set while the whole is being hashed (checkWhole).
	checking bool
	// closed: the resource matched, came whole from the origin, or the
	// check was given up. Its bytes are released, and its pieces are asked
	// of peers no more: a piece read again (its store copy was lost) has
	// nothing left to be checked with.
	closed bool
}

func newWholeCheck(n int) *wholeCheck {
	return &wholeCheck{data: make([][]byte, n), held: map[int]*piece{}}
}

// acceptsLocked reports whether piece i may come from peers: while the check
// is open and has no bytes of it. Bytes it has are from the origin or held,
// and a second copy from peers would not be the one hashed.
func (w *wholeCheck) acceptsLocked(i int) bool {
	return !w.closed && w.data[i] == nil
}

// keepLocked keeps data, the bytes of piece i, for the check and reports
// whether the resource is then complete.
func (w *wholeCheck) keepLocked(i int, data []byte) bool {
	if w.closed {
		return false
	}
	if w.data[i] == nil {
		w.complete++
	}
	w.data[i] = data
	return w.complete == len(w.data)
}

// forgetLocked drops the bytes of piece i, and the piece if held.
func (w *wholeCheck) forgetLocked(i int) {
	if w.data[i] != nil {
		w.data[i] = nil
		w.complete--
	}
	delete(w.held, i)
}

// closeLocked ends the check and releases its bytes.
func (w *wholeCheck) closeLocked() {
	w.closed = true
	w.data, w.held = nil, nil
}

// closeWholeLocked ends the check of r: no piece of it is needed for the
// check any more.
func (r *Resource) closeWholeLocked() {
	r.whole.closeLocked()
	for _, pc := range r.pieces {
		pc.needed = false
	}
}

// hold keeps pc, a complete piece of a resource checked whole that holds
// bytes from peers (data) and passed verifyPiece, unpublished until the
// whole is checked (wholeLocked, checkWhole). Its error wraps
// errUnverifiable when the check is over already.
func (s *Swarm) hold(pc *piece, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := pc.r.whole
	if w.closed {
		return fmt.Errorf("%w: piece %d of %s came after the check of the whole", errUnverifiable, pc.index, pc.r.url)
	}
	w.keepLocked(pc.index, data)
	w.held[pc.index] = pc
	s.kick()
	return nil
}

// wholeLocked moves the check of r, a resource checked whole, along. The
// scheduler calls it on each of its passes:
//
//   - once every piece is there, the whole is hashed (checkWhole) if some
//     came from peers; if none did, there is nothing to check;
//   - while pieces from peers are held, the missing ones are wanted, due by
//     the earliest deadline of the held ones, as a read of them would be;
//   - a held piece due within hashWaitMargin stops waiting and is fetched
//     again without its senders, who are not to blame (holdPolicy), so that
//     the wait for the rest, or for the hash, never costs its reader the
//     deadline;
//   - hashes that failed, or a resource partly there that nobody reads any
//     more, end the check, held pieces going back likewise.
func (s *Swarm) wholeLocked(r *Resource, now time.Time) {
	w := r.whole
	if w.closed || w.checking {
		return
	}
	h := r.hashes
	switch {
	case h.failed():
		s.unholdAllLocked(r, fmt.Errorf("%w: %s: %w", errUnverifiable, r.url, h.err))
		r.closeWholeLocked()
		return
	case w.complete == r.n && len(w.held) == 0:
		r.closeWholeLocked()
		return
	case w.complete == r.n && h.came():
		w.checking = true
		s.wg.Add(1)
		go s.checkWhole(r, slices.Clone(w.data))
		return
	case w.complete > 0 && now.Sub(r.lastUsed) > resourceIdle && !r.readLocked():
		// Its bytes are held in memory for nothing: let them go. The rest
		// of it, if read after all, comes from the origin.
		s.unholdAllLocked(r, fmt.Errorf("%w: %s was left unread before it was complete", errUnverifiable, r.url))
		r.closeWholeLocked()
		return
	}
	deadlines := make(map[int]time.Time, len(w.held))
	for i, pc := range w.held {
		deadlines[i] = pc.deadline
	}
	due, late := holdPolicy(deadlines, now)
	for _, i := range late {
		s.unholdLocked(w, w.held[i], fmt.Errorf("%w: piece %d of %s is due before its resource could be checked", errUnverifiable, i, r.url))
	}
	needed := len(w.held) > 0
	for i := range r.n {
		if w.data[i] != nil {
			continue
		}
		pc, ok := r.pieces[i]
		if !ok {
			if !needed {
				continue
			}
			start, end, _ := r.PieceRange(i)
			pc = r.wantLocked(i, start, end)
			pc.prefetch = true
		}
		pc.needed = needed
		if needed && !due.IsZero() && (pc.deadline.IsZero() || due.Before(pc.deadline)) {
			pc.deadline = due
		}
	}
}

// holdPolicy decides, at now, for the pieces held for a whole check whose
// deadlines are given by index (zero: none), which are late: due within
// hashWaitMargin, they stop waiting and are fetched again. due is the
// earliest deadline of the others (zero if none has one), by which the rest
// of the resource is wanted. late is in increasing order.
func holdPolicy(deadlines map[int]time.Time, now time.Time) (due time.Time, late []int) {
	for _, i := range slices.Sorted(maps.Keys(deadlines)) {
		d := deadlines[i]
		switch {
		case d.IsZero():
		case !now.Before(d.Add(-hashWaitMargin)):
			late = append(late, i)
		case due.IsZero() || d.Before(due):
			due = d
		}
	}
	return due, late
}

// readLocked reports whether a reader waits for a piece of r.
func (r *Resource) readLocked() bool {
	for _, pc := range r.pieces {
		if pc.waiters > 0 {
			return true
		}
	}
	return false
}

// unholdLocked hands pc, held by w, back to the scheduler without its
// bytes, which could not be checked (err): it is fetched again without its
// senders, who are not to blame.
func (s *Swarm) unholdLocked(w *wholeCheck, pc *piece, err error) {
	w.forgetLocked(pc.index)
	restartLocked(pc, pc.contributors)
	if s.ctx.Err() == nil {
		s.e.log.Debug("piece from peers not checked", "err", err)
	}
}

// unholdAllLocked hands every piece r's check holds back (unholdLocked).
func (s *Swarm) unholdAllLocked(r *Resource, err error) {
	for _, pc := range r.whole.held {
		s.unholdLocked(r.whole, pc, err)
	}
}

// checkWhole hashes parts, the bytes of every piece of r in order, and
// compares the sum with the publisher's hash of r. On a match the held
// pieces are published; on a mismatch they are fetched again without the
// peers that sent them, which are blamed as for a bad piece (blameLocked):
// one sender of all the bytes from peers is banned, several are struck.
func (s *Swarm) checkWhole(r *Resource, parts [][]byte) {
	defer s.wg.Done()
	sum, err := s.e.cfg.Digest(s.ctx, bytes.Join(parts, nil))
	s.mu.Lock()
	w := r.whole
	w.checking = false
	if w.closed || r.gone || s.closed {
		s.mu.Unlock()
		return
	}
	type heldPiece struct {
		pc      *piece
		senders map[*peer]bool
	}
	var held []heldPiece
	for _, i := range slices.Sorted(maps.Keys(w.held)) {
		held = append(held, heldPiece{w.held[i], w.held[i].contributors})
	}
	switch {
	case err != nil:
		s.unholdAllLocked(r, fmt.Errorf("%w: %s: %w", errUnverifiable, r.url, err))
		s.mu.Unlock()
	case sum != r.hashes.sum:
		senders := map[*peer]bool{}
		for _, h := range held {
			maps.Copy(senders, h.senders)
			w.forgetLocked(h.pc.index)
			restartLocked(h.pc, h.senders)
		}
		ban := s.blameLocked(senders)
		s.mu.Unlock()
		err := fmt.Errorf("%w: %s does not match the publisher's hash of the whole of it", ErrBadPiece, r.url)
		s.e.log.Debug("resource failed verification", "pieces", len(held), "peers", len(senders), "err", err)
		if ban != nil {
			s.ban(ban, err)
		}
	default:
		r.closeWholeLocked()
		s.mu.Unlock()
		for _, h := range held {
			s.publishPiece(h.pc, parts[h.pc.index], h.senders)
		}
	}
	s.kick()
}
