package engine

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

const (
	// liveFetchers is how many peers of a swarm fetch each live segment over
	// HTTP; the others take it from them.
	liveFetchers = 1
	// liveRecheck is how often a peer waiting to learn a live segment from
	// its peers checks whether it has become one of the segment's fetchers
	// (peers come and go while it waits).
	liveRecheck = 250 * time.Millisecond
	// holdingsWait bounds how long a peer that just connected is waited
	// for to announce its holdings before a live segment is fetched: a
	// peer that never does cannot hold up playback for longer.
	holdingsWait = 500 * time.Millisecond
	// maxUntrusted bounds the names remembered in Swarm.untrusted.
	maxUntrusted = 1024
)

// LiveResource returns the live segment called name, fetched from url, marked
// live (see SetLive). It opens the segment without a request of its own where
// it can, so that a live swarm costs the origin about one request per segment:
// the size and validators come from a peer that announced the segment or, for
// a peer elected to fetch it, from the origin's response to the segment's
// first piece, which becomes that piece. A peer that is not elected waits up
// to wait for a peer's announcement, then asks the origin as Resource does.
func (s *Swarm) LiveResource(ctx context.Context, name, url string, wait time.Duration) (*Resource, error) {
	if err := identity.ValidateName(name); err != nil {
		return nil, err
	}
	giveUp := time.NewTimer(wait)
	defer giveUp.Stop()
	recheck := time.NewTicker(liveRecheck)
	defer recheck.Stop()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if r, ok := s.resources[name]; ok && r.url == url && !r.gone {
			r.live = true
			s.mu.Unlock()
			return r, nil
		}
		untrusted := s.untrusted[name]
		info, announced := s.announcedLocked(name)
		elected := s.electedLocked(name, nil) && !s.holdingsDueLocked(time.Now())
		heard := s.heard
		s.mu.Unlock()
		_, whole := s.e.cfg.Hashes.(SegmentHasher)
		switch {
		case untrusted:
		case announced && s.e.cfg.Hashes != nil && !whole:
			// What peers announce is a hint: the publisher's hashes say
			// which version the origin has, and it is that one that is
			// read, from the peers that hold it.
			hctx, cancel := context.WithTimeout(ctx, s.e.cfg.HashTimeout)
			l, err := s.e.cfg.Hashes.PieceHashes(hctx, url, s.id.PieceLength)
			cancel()
			if err != nil {
				s.e.log.Warn("no hashes for an announced live segment: asking the origin", "url", url, "err", err)
				break
			}
			r, err := s.resourceWith(name, url, identity.ResourceInfo{Size: l.Size, ETag: l.ETag, LastModified: l.LastModified}, l)
			if err != nil {
				return nil, err
			}
			r.SetLive(true)
			s.kick()
			return r, nil
		case announced:
			// Without hashes, or with a hash of the whole segment, which
			// says nothing of its size or validators: the announced ones
			// are taken; with the hash, the check of the whole refuses
			// bytes that are not the origin's.
			r, err := s.resourceWithInfo(name, url, info)
			if err != nil {
				return nil, err
			}
			s.mu.Lock()
			r.live, r.fromPeer = true, true
			s.mu.Unlock()
			s.kick()
			return r, nil
		case elected:
			return s.openByFirstPiece(ctx, name, url)
		default:
			select {
			case <-heard:
				continue
			case <-recheck.C:
				continue
			case <-giveUp.C:
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
		r, err := s.Resource(ctx, name, url)
		if err != nil {
			return nil, err
		}
		r.SetLive(true)
		return r, nil
	}
}

// openByFirstPiece opens the live segment name by fetching its first piece
// from the origin: the response gives the segment's size and validators, and
// its body fills piece 0 as an HTTP download of the scheduler's own.
func (s *Swarm) openByFirstPiece(ctx context.Context, name, url string) (*Resource, error) {
	// The body outlives the caller's ctx: it is the piece's download, which
	// the swarm owns. ctx only bounds the wait for the response.
	fctx, cancel := context.WithCancel(s.ctx)
	detach := context.AfterFunc(ctx, cancel)
	info, body, err := s.e.cfg.Fetcher.Fetch(fctx, url, 0, s.id.PieceLength)
	if !detach() && err == nil {
		body.Close()
		err = context.Cause(ctx)
	}
	if err != nil {
		cancel()
		if ctx.Err() == nil {
			s.e.exception(CodeHTTP, fmt.Errorf("open %s: %w", url, err))
		}
		return nil, fmt.Errorf("engine: open %s: %w", url, err)
	}
	r, err := s.resourceWithInfo(name, url, info)
	if err != nil {
		body.Close()
		cancel()
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.live = true
	start, end, ok := identity.PieceRange(0, info.Size, s.id.PieceLength)
	pc := r.wantLocked(0, start, end)
	if !ok || s.closed || r.gone || r.have.Has(0) || pc.src != srcNone || pc.got > 0 {
		body.Close() // empty, or someone else is already at it
		cancel()
		if !ok || pc.src == srcNone && pc.waiters == 0 {
			delete(r.pieces, 0)
		}
		return r, nil
	}
	pc.prefetch, pc.origin, pc.deadline = true, true, time.Now()
	s.runHTTPLocked(pc, time.Now(), fctx, cancel, &openedBody{info: info, body: body})
	return r, nil
}

// announcedLocked returns the info of the resource called name that most of
// the connected peers announced.
func (s *Swarm) announcedLocked(name string) (identity.ResourceInfo, bool) {
	var best identity.ResourceInfo
	votes := map[identity.ResourceInfo]int{}
	for _, p := range s.peers {
		for ref, rr := range p.remote {
			if ref.Name != name {
				continue
			}
			votes[rr.info]++
			if votes[rr.info] > votes[best] {
				best = rr.info
			}
		}
	}
	return best, len(votes) > 0
}

// holdingsDueLocked reports whether the swarm has heard no peer's holdings
// yet (wire.Ready) while a connected peer that joined within holdingsWait
// may still announce them. A viewer elected to fetch a live segment waits
// for them, since that peer may hold the segment already. Once one peer's
// holdings are in, the swarm is running: peers that join later do not hold
// up the segments.
func (s *Swarm) holdingsDueLocked(now time.Time) bool {
	for _, p := range s.peers {
		if holdingsDue(s.heardHoldings, p.joined, now) {
			return true
		}
	}
	return false
}

// holdingsDue reports whether the holdings of a peer that joined at joined
// are still to be waited for at now, heard telling whether the swarm has
// heard any peer's holdings.
func holdingsDue(heard bool, joined, now time.Time) bool {
	return !heard && now.Sub(joined) < holdingsWait
}

// heardLocked wakes those waiting for peers' announcements.
func (s *Swarm) heardLocked() {
	close(s.heard)
	s.heard = make(chan struct{})
}

// untrustLocked makes later openings of the live resource name ask the
// origin: the info a peer gave for it proved wrong.
func (s *Swarm) untrustLocked(name string) {
	if len(s.untrusted) >= maxUntrusted {
		clear(s.untrusted)
	}
	s.untrusted[name] = true
}

// electedLocked reports whether this peer is one of those that fetch the live
// resource name over HTTP. Every peer ranks itself and the peers it knows by
// a hash of resource name and peer id, so that peers with the same view elect
// the same fetchers, and the load spreads evenly over the swarm segment by
// segment. With r, the segment as this peer opened it, a peer that announced
// another version of it is not counted: it will never fetch this one, and
// waiting for it (a poisoner that lies about sizes or validators) would hold
// every piece back to its deadline.
func (s *Swarm) electedLocked(name string, r *Resource) bool {
	mine := electionRank(s.e.self(), name)
	better := 0
	for id, p := range s.peers {
		if r != nil && p.holdsOtherVersionLocked(r) {
			continue
		}
		if electionRank(id, name) < mine {
			better++
		}
	}
	return better < liveFetchers
}

func electionRank(id [20]byte, name string) uint64 {
	h := sha1.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(id[:])
	var sum [sha1.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}
