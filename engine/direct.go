package engine

import (
	"context"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
)

const (
	// MaxDirect bounds the bytes one DirectSpan hands to its caller (at
	// least one piece): the rest of a long file comes through the scheduler
	// again, which looks for peers anew.
	MaxDirect = 1 << 20
	// directStall is how long a piece handed to a caller may go without a
	// byte before the scheduler takes it back.
	directStall = 2 * time.Second
)

// DirectSpan lets the caller fetch bytes [start, end) of the resource from
// the origin itself when no peer can give them: P2P is off, or the trackers
// said this peer is alone and no connection is being set up. A response
// that the caller streams straight from the origin to the player starts
// sooner than one assembled from pieces. It returns the end of the bytes
// handed over: end, or with partial set possibly less (a piece boundary
// past start, at most MaxDirect further); start when none are (the
// scheduler serves them). The caller gives what it fetched to Write, or
// what it does not fetch to Release; until then (see directStall) the
// scheduler neither fetches the whole pieces in there nor asks peers for
// them.
func (r *Resource) DirectSpan(start, end int64, partial bool) int64 {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	end = min(end, r.info.Size)
	if s.closed || r.gone || start < 0 || start >= end || !s.aloneLocked() {
		return start
	}
	span, limit := start, byterange.PieceSpanEnd(start, r.info.Size, s.id.PieceLength, MaxDirect)
	for i := int(start / s.id.PieceLength); i < r.n && span < end; i++ {
		_, pend, _ := r.PieceRange(i)
		if pend > limit {
			break
		}
		if r.comingLocked(i) {
			break
		}
		span = min(pend, end)
	}
	if span == start || span < end && !partial {
		return start
	}
	now := time.Now()
	r.eachWholePiece(start, span, func(i int, pstart, pend int64) {
		pc := r.wantLocked(i, pstart, pend)
		pc.src, pc.lastByte = srcDirect, now
	})
	r.lastUsed = now
	return span
}

// Claim readies the resource to take, through Write, bytes [start, end)
// that the caller fetched from the origin before asking (a response the
// service worker gave the player straight from the origin, whose bytes are
// then read back from the browser's HTTP cache). Unlike DirectSpan it holds
// whether or not the swarm is alone: the bytes were downloaded already.
// Each whole piece in there that is neither held nor on its way waits for
// them as a DirectSpan piece does (see directStall); the others ignore them.
func (r *Resource) Claim(start, end int64) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || r.gone {
		return
	}
	now := time.Now()
	r.eachWholePiece(start, min(end, r.info.Size), func(i int, pstart, pend int64) {
		if pc := r.pieces[i]; pc != nil && pc.src == srcDirect {
			pc.lastByte = now // handed over by DirectSpan: the bytes come now
			return
		}
		if r.comingLocked(i) {
			return
		}
		pc := r.wantLocked(i, pstart, pend)
		pc.src, pc.lastByte = srcDirect, now
	})
}

// comingLocked reports whether piece i is ours already, or on its way.
func (r *Resource) comingLocked(i int) bool {
	pc := r.pieces[i]
	return r.have.Has(i) || pc != nil && (pc.src != srcNone || pc.got > 0)
}

// Release gives the scheduler back the bytes [start, end) that DirectSpan
// handed over and the caller will not fetch.
func (r *Resource) Release(start, end int64) {
	s := r.s
	s.mu.Lock()
	r.eachWholePiece(start, end, func(i int, _, _ int64) {
		if pc := r.pieces[i]; pc != nil && pc.src == srcDirect {
			s.releaseDirectLocked(pc)
		}
	})
	s.mu.Unlock()
	s.kick()
}

// eachWholePiece calls fn for every piece that lies wholly in [start, end).
func (r *Resource) eachWholePiece(start, end int64, fn func(i int, pstart, pend int64)) {
	l := r.s.id.PieceLength
	for i := int((max(start, 0) + l - 1) / l); i < r.n; i++ {
		pstart, pend, _ := r.PieceRange(i)
		if pend > end {
			return
		}
		fn(i, pstart, pend)
	}
}

// Alone reports whether no peer can give the swarm anything soon (see
// DirectSpan), waiting until a tracker has answered, unless P2P is off, or
// ctx ends (false then). A viewer that will play the resource at once may
// take its first bytes from the origin without asking again.
func (r *Resource) Alone(ctx context.Context) bool {
	s := r.s
	s.mu.Lock()
	answer, known := s.firstAnswer, !s.p2p || s.answered
	s.mu.Unlock()
	if !known {
		select {
		case <-answer:
		case <-ctx.Done():
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && !r.gone && s.aloneLocked()
}

// aloneLocked reports whether no peer can give this swarm anything soon:
// P2P is off, or a tracker answered, counted nobody else, and no peer is
// connected or connecting.
func (s *Swarm) aloneLocked() bool {
	if !s.p2p {
		return true
	}
	return s.answered && s.others == 0 && len(s.peers) == 0 && len(s.connecting) == 0
}

// Write takes bytes [offset, offset+len(data)) of the resource that the
// caller fetched from the origin after DirectSpan or Claim, in order. They count as
// HTTP downloads; the pieces of the span they complete are served to their
// readers, stored and announced to peers, as if the scheduler had fetched
// them. Bytes outside the span are only counted.
func (r *Resource) Write(offset int64, data []byte) {
	s := r.s
	s.e.cnt.http.Add(int64(len(data)))
	var full []*piece
	s.mu.Lock()
	now := time.Now()
	for len(data) > 0 && offset >= 0 && offset < r.info.Size {
		i := int(offset / s.id.PieceLength)
		start, end, _ := r.PieceRange(i)
		k := int(min(int64(len(data)), end-offset))
		pc := r.pieces[i]
		if pc != nil && pc.src == srcDirect {
			if int64(pc.got) != offset-start {
				s.releaseDirectLocked(pc) // a gap: it cannot complete
			} else {
				if pc.buf == nil {
					pc.buf = make([]byte, pc.size())
				}
				pc.got += copy(pc.buf[pc.got:], data[:k])
				pc.lastByte = now
				if pc.got == pc.size() {
					pc.src = srcFinishing
					full = append(full, pc)
				}
			}
		}
		offset += int64(k)
		data = data[k:]
	}
	s.mu.Unlock()
	for _, pc := range full {
		s.finishPiece(pc)
	}
}

// releaseDirectLocked gives a piece whose direct bytes stopped coming back
// to the scheduler: a reader's piece continues over HTTP or from a peer
// from the bytes received; one nobody wants is dropped.
func (s *Swarm) releaseDirectLocked(pc *piece) {
	pc.src = srcNone
	if pc.waiters == 0 && !pc.prefetch {
		pc.got, pc.buf = 0, nil
	}
}
