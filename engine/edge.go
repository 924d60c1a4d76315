package engine

import "github.com/p2pmedia/p2pmedia/engine/wire"

// FollowEdge handles a segment that the viewers reach together, one behind
// the other: r follows the segment named prev in its playlist, this peer
// took prev from its peers, some of them hold prev, and none holds any of r
// yet. The peer ahead, which gave it prev, is then fetching r from the
// origin or about to; this one asks for r within moments of it, close
// enough to its deadline that it would otherwise fetch r from the origin
// too. So this peer waits for them (as for a live segment it is not
// elected for), falling back to HTTP when waiting longer would miss its
// deadline. The peer ahead, which fetched prev from the origin itself, does
// not wait. It reports whether r waits.
func (r *Resource) FollowEdge(prev string) bool {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.resources[prev]
	if pr == nil || pr.p2pPieces == 0 || r.gone || r.have.Count() > 0 {
		return false
	}
	ahead := false
	for _, p := range s.peers {
		if p.holdsAny(r.ref) {
			return false // a peer has it already: take it from there
		}
		ahead = ahead || p.holdsAny(pr.ref)
	}
	r.edgeWait = ahead
	return ahead
}

// holdsAny reports whether the peer holds some piece of the resource ref.
func (p *peer) holdsAny(ref wire.ResourceRef) bool {
	rr, ok := p.remote[ref]
	return ok && rr.bits.Count() > 0
}
