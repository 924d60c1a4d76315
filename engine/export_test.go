package engine

import "github.com/p2pmedia/p2pmedia/engine/trackermsg"

// HoldSwarm locks s, as its own work does, and returns the unlock: while
// held, no message of a peer is handled, and they wait in its receive queue.
func HoldSwarm(s *Swarm) (release func()) {
	s.mu.Lock()
	return s.mu.Unlock
}

// IsBanned reports whether the peer id (raw bytes) is on s's ban list.
func IsBanned(s *Swarm, id [20]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bans.at[idKey(trackermsg.ID(id))] != nil
}

// PeerRate returns the rate estimate of the connected peer id, whether it
// was measured, and whether the peer is connected.
func PeerRate(s *Swarm, id [20]byte) (rate float64, measured, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[trackermsg.ID(id)]
	if p == nil {
		return 0, false, false
	}
	return p.rate, p.rated, true
}
