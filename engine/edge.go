package engine

import (
	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/engine/wire"
)

// FollowEdge handles a segment that the viewers reach together: r follows
// the segment named prev in its playlist, some connected peers hold prev,
// and none holds any of r yet. Those peers are at the swarm's edge with
// this one and ask for r within moments of each other, each too close to
// its deadline to wait for a peer that has not got it. So r is treated as
// a live segment (SetLive): the one peer elected among them (by the same
// hash of name and id as live segments) fetches it from the origin at
// once, and the others wait for it, falling back to HTTP when waiting
// longer would miss their deadline. It reports whether r was so marked.
func (r *Resource) FollowEdge(prev string) bool {
	s := r.s
	s.mu.Lock()
	pr := s.resources[prev]
	if pr == nil || r.live || r.gone || r.have.Count() > 0 {
		s.mu.Unlock()
		return false
	}
	var electors map[trackermsg.ID]bool
	for id, p := range s.peers {
		if p.holdsAny(r.ref) {
			s.mu.Unlock()
			return false // a peer has it already: take it from there
		}
		if p.holdsAny(pr.ref) {
			if electors == nil {
				electors = make(map[trackermsg.ID]bool)
			}
			electors[id] = true
		}
	}
	if electors != nil {
		r.live, r.electors = true, electors
	}
	s.mu.Unlock()
	s.kick()
	return electors != nil
}

// holdsAny reports whether the peer holds some piece of the resource ref.
func (p *peer) holdsAny(ref wire.ResourceRef) bool {
	rr, ok := p.remote[ref]
	return ok && rr.bits.Count() > 0
}
