package engine

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// wholeCheck holds a resource whose bytes from peers are checked against a
// SegmentHasher's hashes of whole ranges of it, its units: one range
// [0, size) for a whole-file hash, one per segment for a file of byte-range
// segments. A piece from peers whose bytes all lie in units is held,
// unpublished, until every unit it overlaps is complete and matched; a
// piece with bytes that no unit covers (an init segment, say) comes from
// the origin only. Only the bytes that an open unit still needs are kept
// (see MaxSegmentHashSize). It is guarded by the swarm's mutex.
type wholeCheck struct {
	size, pieceLength int64
	// early: before the hashes came, pieces may come from peers and every
	// complete piece is kept, the units being unknown. Only a resource of
	// at most MaxSegmentHashSize is held so.
	early bool
	// ready: the hashes came, and ranges and state are set.
	ready bool
	// ranges are the units, sorted and disjoint; state, their states.
	ranges []piecehash.RangeHash
	state  []unitState
	// data holds the bytes of the complete pieces that an open unit needs,
	// by index: the origin's too, since the hashes cover them.
	data map[int][]byte
	// held are the complete pieces with bytes from peers, unpublished,
	// by index. They stay in their resource's pieces as srcFinishing, so
	// that the scheduler leaves them alone and readers wait on them.
	held map[int]*piece
	// closed: the check was given up (its hashes failed, or its resource
	// is gone). Its bytes are released, and its pieces are asked of peers
	// no more.
	closed bool
}

// unitState is where the check of one unit is.
type unitState int

const (
	// unitOpen: its pieces may come from peers; its bytes are kept.
	unitOpen unitState = iota
	// unitChecking: complete, being hashed (checkUnit).
	unitChecking
	// unitMatched: its bytes are the origin's. Its pieces are asked of
	// peers no more: a piece read again (its store copy was lost) has
	// nothing left to be checked with.
	unitMatched
	// unitClosed: not checked (too large, or some of its bytes were let
	// go): its pieces come from the origin only.
	unitClosed
)

func newWholeCheck(size, pieceLength int64) *wholeCheck {
	return &wholeCheck{
		size: size, pieceLength: pieceLength, early: size <= MaxSegmentHashSize,
		data: map[int][]byte{}, held: map[int]*piece{},
	}
}

// unitsOf returns the indexes [i, j) of the ranges, sorted and disjoint,
// that overlap bytes [start, end), and whether they cover every one of
// those bytes.
func unitsOf(ranges []piecehash.RangeHash, start, end int64) (i, j int, covered bool) {
	i = sort.Search(len(ranges), func(k int) bool { return ranges[k].End > start })
	j = i
	covered, at := true, start
	for j < len(ranges) && ranges[j].Start < end {
		if ranges[j].Start > at {
			covered = false
		}
		at = ranges[j].End
		j++
	}
	return i, j, covered && i < j && at >= end
}

// checkRanges checks that ranges are hashed ranges of a resource of size
// bytes: at least one, each non-empty and within [0, size), sorted and
// disjoint.
func checkRanges(ranges []piecehash.RangeHash, size int64) error {
	if len(ranges) == 0 {
		return fmt.Errorf("engine: no hashed range")
	}
	var at int64
	for _, rg := range ranges {
		if rg.Start < at || rg.End <= rg.Start || rg.End > size {
			return fmt.Errorf("engine: hashed range [%d, %d) is not of this %d-byte version, in order", rg.Start, rg.End, size)
		}
		at = rg.End
	}
	return nil
}

// pieces returns the first and last piece that unit u overlaps.
func (w *wholeCheck) pieces(u int) (first, last int) {
	return int(w.ranges[u].Start / w.pieceLength), int((w.ranges[u].End - 1) / w.pieceLength)
}

// unitsOfLocked returns the units that piece i overlaps, [a, b), and
// whether they cover all of it.
func (w *wholeCheck) unitsOfLocked(i int) (a, b int, covered bool) {
	start, end, _ := identity.PieceRange(i, w.size, w.pieceLength)
	return unitsOf(w.ranges, start, end)
}

// takesLocked reports whether piece i may be held with bytes from peers:
// before the hashes came, if the resource is held early; after, if units
// cover it, all open.
func (w *wholeCheck) takesLocked(i int) bool {
	if w.closed {
		return false
	}
	if !w.ready {
		return w.early
	}
	a, b, covered := w.unitsOfLocked(i)
	if !covered {
		return false
	}
	for u := a; u < b; u++ {
		if w.state[u] != unitOpen {
			return false
		}
	}
	return true
}

// acceptsLocked reports whether piece i may come from peers: while the
// check takes it (takesLocked) and has no bytes of it. Bytes it has are from
// the origin or held, and a second copy from peers would not be the one
// hashed.
func (w *wholeCheck) acceptsLocked(i int) bool {
	return w.data[i] == nil && w.takesLocked(i)
}

// neededLocked reports whether the bytes of piece i are to be kept: before
// the hashes came, if the resource is held early; after, if an open unit
// overlaps it.
func (w *wholeCheck) neededLocked(i int) bool {
	if w.closed {
		return false
	}
	if !w.ready {
		return w.early
	}
	a, b, _ := w.unitsOfLocked(i)
	for u := a; u < b; u++ {
		if w.state[u] == unitOpen {
			return true
		}
	}
	return false
}

// keepLocked keeps data, the bytes of piece i, for the check if it needs
// them, and reports whether it does.
func (w *wholeCheck) keepLocked(i int, data []byte) bool {
	if !w.neededLocked(i) {
		return false
	}
	w.data[i] = data
	return true
}

// forgetLocked drops the bytes of piece i, and the piece if held.
func (w *wholeCheck) forgetLocked(i int) {
	delete(w.data, i)
	delete(w.held, i)
}

// releaseLocked drops the bytes of the pieces in [first, last] that no open
// unit needs any more.
func (w *wholeCheck) releaseLocked(first, last int) {
	for k := first; k <= last; k++ {
		if _, ok := w.data[k]; ok && !w.neededLocked(k) {
			delete(w.data, k)
		}
	}
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

// hold keeps pc, a complete piece of a resource checked by ranges that holds
// bytes from peers (data) and passed verifyPiece, unpublished until its
// units are checked (wholeLocked, checkUnit). Its error wraps
// errUnverifiable when the check no longer takes it.
func (s *Swarm) hold(pc *piece, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := pc.r.whole
	if !w.takesLocked(pc.index) {
		return fmt.Errorf("%w: piece %d of %s came when its bytes could no longer be checked", errUnverifiable, pc.index, pc.r.url)
	}
	w.data[pc.index] = data
	w.held[pc.index] = pc
	s.kick()
	return nil
}

// wholeLocked moves the check of r, a resource checked by ranges, along. The
// scheduler calls it on each of its passes:
//
//   - once the hashes came, the units are set up (readyLocked);
//   - once every piece a unit overlaps is there, the unit is hashed
//     (checkUnit) if some came from peers; if none did, there is nothing
//     to check;
//   - while pieces from peers of a unit are held, its missing ones are
//     wanted, due by the earliest give-up time of the held ones;
//   - a held piece at its give-up time (hashGiveUp) stops waiting and is fetched
//     again without its senders, who are not to blame (holdPolicy), so that
//     the wait for the rest, or for the hash, never costs its reader the
//     deadline;
//   - hashes that failed end the check, and a resource partly there that
//     nobody reads any more lets its kept bytes go (their units come from
//     the origin only), held pieces going back likewise.
func (s *Swarm) wholeLocked(r *Resource, now time.Time) {
	w := r.whole
	if w.closed {
		return
	}
	h := r.hashes
	switch {
	case h.failed():
		s.unholdAllLocked(r, fmt.Errorf("%w: %s: %w", errUnverifiable, r.url, h.err))
		r.closeWholeLocked()
		return
	case !w.ready && h.came():
		s.readyLocked(r)
	}
	if len(w.data) > 0 && now.Sub(r.lastUsed) > resourceIdle && !r.readLocked() {
		// Its bytes are held in memory for nothing: let them go. The rest
		// of their units, if read after all, comes from the origin.
		s.unholdAllLocked(r, fmt.Errorf("%w: %s was left unread before it was checked", errUnverifiable, r.url))
		for k := range w.data {
			if w.ready {
				a, b, _ := w.unitsOfLocked(k)
				for u := a; u < b; u++ {
					if w.state[u] == unitOpen {
						w.state[u] = unitClosed
					}
				}
			}
			delete(w.data, k)
		}
		return
	}
	// Held pieces that give up are fetched again together: each waits only
	// while HTTP could still fetch them all in time.
	heldBytes := 0
	for _, pc := range w.held {
		heldBytes += pc.size()
	}
	giveUps := make(map[int]time.Time, len(w.held))
	for i, pc := range w.held {
		giveUps[i] = hashGiveUp(pc.deadline, s.http.time(heldBytes))
	}
	_, late := holdPolicy(giveUps, now)
	for _, i := range late {
		s.unholdLocked(w, w.held[i], fmt.Errorf("%w: piece %d of %s is due before it could be checked", errUnverifiable, i, r.url))
	}
	if !w.ready {
		return
	}
	for _, pc := range r.pieces {
		pc.needed = false
	}
	units := map[int]bool{}
	for k := range w.data {
		a, b, _ := w.unitsOfLocked(k)
		for u := a; u < b; u++ {
			units[u] = true
		}
	}
	for _, u := range slices.Sorted(maps.Keys(units)) {
		if w.state[u] != unitOpen {
			continue
		}
		first, last := w.pieces(u)
		complete := true
		held := map[int]time.Time{}
		for k := first; k <= last; k++ {
			if w.data[k] == nil {
				complete = false
			}
			if _, ok := w.held[k]; ok {
				held[k] = giveUps[k]
			}
		}
		switch {
		case complete && len(held) == 0:
			w.state[u] = unitMatched // all from the origin
			w.releaseLocked(first, last)
		case complete:
			w.state[u] = unitChecking
			parts := make([][]byte, 0, last-first+1)
			for k := first; k <= last; k++ {
				parts = append(parts, w.data[k])
			}
			s.wg.Add(1)
			go s.checkUnit(r, u, parts, w.ranges[u].Start-int64(first)*w.pieceLength)
		case len(held) > 0:
			due, _ := holdPolicy(held, now)
			for k := first; k <= last; k++ {
				if w.data[k] != nil {
					continue
				}
				pc, ok := r.pieces[k]
				if !ok {
					start, end, _ := r.PieceRange(k)
					pc = r.wantLocked(k, start, end)
					pc.prefetch = true
				}
				pc.needed = true
				if !due.IsZero() && (pc.deadline.IsZero() || due.Before(pc.deadline)) {
					pc.deadline = due
				}
			}
		}
	}
}

// readyLocked sets up the units of r's check once its hashes came. A unit
// larger than MaxSegmentHashSize, or one with a piece there whose bytes
// were not kept, is closed: its pieces come from the origin only. Held
// pieces the check no longer takes go back (unholdLocked), and bytes that
// no open unit needs are let go.
func (s *Swarm) readyLocked(r *Resource) {
	w := r.whole
	w.ready, w.ranges = true, r.hashes.ranges
	w.state = make([]unitState, len(w.ranges))
	large := 0
	for u, rg := range w.ranges {
		if rg.End-rg.Start > MaxSegmentHashSize {
			w.state[u] = unitClosed
			large++
			continue
		}
		first, last := w.pieces(u)
		for k := first; k <= last; k++ {
			if pc, ok := r.pieces[k]; w.data[k] == nil && (r.have.Has(k) || ok && pc.finished) {
				w.state[u] = unitClosed
				break
			}
		}
	}
	if large > 0 {
		s.e.log.Warn("too large to check whole: pieces come from the origin only", "url", r.url, "ranges", large, "max", MaxSegmentHashSize)
	}
	for k, pc := range w.held {
		if !w.takesLocked(k) {
			s.unholdLocked(w, pc, fmt.Errorf("%w: piece %d of %s has bytes its hashes do not check", errUnverifiable, k, r.url))
		}
	}
	for k := range w.data {
		if !w.neededLocked(k) {
			delete(w.data, k)
		}
	}
}

// holdPolicy decides, at now, for the pieces held for a check whose
// give-up times (hashGiveUp) are given by index (zero: none), which are
// late: at or past it, they stop waiting and are fetched again. due is the
// earliest give-up time of the others (zero if none has one), by which the
// rest of their units is wanted. late is in increasing order.
func holdPolicy(giveUps map[int]time.Time, now time.Time) (due time.Time, late []int) {
	for _, i := range slices.Sorted(maps.Keys(giveUps)) {
		d := giveUps[i]
		switch {
		case d.IsZero():
		case !now.Before(d):
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

// refetchLocked hands pc, held by w, back to the scheduler without its
// bytes, to be fetched again without contributors. It gets a new buffer:
// its bytes may be being hashed (checkUnit).
func refetchLocked(w *wholeCheck, pc *piece, contributors map[*peer]bool) {
	w.forgetLocked(pc.index)
	restartLocked(pc, contributors)
	pc.buf = nil
}

// unholdLocked hands pc, held by w, back to the scheduler without its
// bytes, which could not be checked (err): it is fetched again without its
// senders, who are not to blame.
func (s *Swarm) unholdLocked(w *wholeCheck, pc *piece, err error) {
	refetchLocked(w, pc, pc.contributors)
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

// checkUnit hashes the bytes of unit u of r, which start at offset off of
// parts, the bytes of the pieces it overlaps in order, and compares the sum
// with the publisher's hash of it. On a match the held pieces whose units
// all matched are published; on a mismatch the held pieces of u are
// fetched again without the peers that sent them, which are blamed as for
// a bad piece (blameLocked): one sender of all the bytes from peers is
// banned, several are struck.
func (s *Swarm) checkUnit(r *Resource, u int, parts [][]byte, off int64) {
	defer s.wg.Done()
	w := r.whole
	rg := w.ranges[u]
	sum, err := s.e.cfg.Digest(s.ctx, bytes.Join(parts, nil)[off:off+rg.End-rg.Start])
	s.mu.Lock()
	if w.closed || r.gone || s.closed || w.state[u] != unitChecking {
		s.mu.Unlock()
		return
	}
	first, last := w.pieces(u)
	var held []*piece
	for k := first; k <= last; k++ {
		if pc, ok := w.held[k]; ok {
			held = append(held, pc)
		}
	}
	switch {
	case err != nil:
		w.state[u] = unitOpen
		for _, pc := range held {
			s.unholdLocked(w, pc, fmt.Errorf("%w: bytes [%d, %d) of %s: %w", errUnverifiable, rg.Start, rg.End, r.url, err))
		}
		s.mu.Unlock()
	case sum != rg.Hash:
		w.state[u] = unitOpen
		senders := map[*peer]bool{}
		for _, pc := range held {
			contributors := pc.contributors
			maps.Copy(senders, contributors)
			refetchLocked(w, pc, contributors)
		}
		ban := s.blameLocked(senders)
		s.mu.Unlock()
		err := fmt.Errorf("%w: bytes [%d, %d) of %s do not match the publisher's hash of them", ErrBadPiece, rg.Start, rg.End, r.url)
		s.e.log.Debug("range failed verification", "pieces", len(held), "peers", len(senders), "err", err)
		if ban != nil {
			s.ban(ban, err)
		}
	default:
		w.state[u] = unitMatched
		type ready struct {
			pc      *piece
			data    []byte
			senders map[*peer]bool
		}
		var publish []ready
	pieces:
		for _, pc := range held {
			a, b, _ := w.unitsOfLocked(pc.index)
			for v := a; v < b; v++ {
				if w.state[v] != unitMatched {
					continue pieces // waits for its other units
				}
			}
			publish = append(publish, ready{pc, w.data[pc.index], pc.contributors})
			delete(w.held, pc.index)
		}
		w.releaseLocked(first, last)
		s.mu.Unlock()
		for _, p := range publish {
			s.publishPiece(p.pc, p.data, p.senders)
		}
	}
	s.kick()
}
