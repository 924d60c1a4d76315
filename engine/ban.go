package engine

import (
	"container/list"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

// maxBans bounds the entries of a swarm's ban list (a peer id and a
// certificate fingerprint per banned peer); past it the least recently seen
// entry goes, so that a peer making fresh ids cannot grow the list.
const maxBans = 1024

// ErrBadPeerID is wrapped by the error of Ban for a peer id that is not 40
// hex digits.
var ErrBadPeerID = errors.New("engine: bad peer id")

// banKey is one banned identity of a peer: its id, or the fingerprint of
// the DTLS certificate its connections present.
type banKey struct {
	fingerprint bool
	v           string
}

// banList is a bounded set of banned keys with least-recently-used
// eviction: a hit refreshes an entry, so the peers that keep coming back are
// the last to be forgotten. It is guarded by the swarm's mutex.
type banList struct {
	max   int
	order *list.List // of banKey, most recent first
	at    map[banKey]*list.Element
}

func newBanList(max int) *banList {
	return &banList{max: max, order: list.New(), at: map[banKey]*list.Element{}}
}

// add bans k.
func (b *banList) add(k banKey) {
	if k.v == "" {
		return
	}
	if el, ok := b.at[k]; ok {
		b.order.MoveToFront(el)
		return
	}
	b.at[k] = b.order.PushFront(k)
	for b.order.Len() > b.max {
		el := b.order.Back()
		delete(b.at, b.order.Remove(el).(banKey))
	}
}

// has reports whether k is banned, refreshing it.
func (b *banList) has(k banKey) bool {
	el, ok := b.at[k]
	if ok {
		b.order.MoveToFront(el)
	}
	return ok
}

// len returns the number of entries.
func (b *banList) len() int { return b.order.Len() }

func idKey(id trackermsg.ID) banKey { return banKey{v: string(id[:])} }

func fingerprintKey(fp string) banKey { return banKey{fingerprint: true, v: fp} }

// bannedLocked reports whether a peer with id, whose connection presents
// the certificate fingerprint fp ("" when unknown), is banned.
func (s *Swarm) bannedLocked(id trackermsg.ID, fp string) bool {
	return s.bans.has(idKey(id)) || fp != "" && s.bans.has(fingerprintKey(fp))
}

// sdpFingerprint returns the first certificate fingerprint of an SDP
// ("sha-256 AB:CD:…", lowercased), or "" when it has none. Every DTLS
// connection offers one: a peer that makes a fresh id but keeps its
// certificate is still known by it.
func sdpFingerprint(sdp string) string {
	for line := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=fingerprint:"); ok {
			return strings.ToLower(strings.Join(strings.Fields(v), " "))
		}
	}
	return ""
}

// Ban closes the connection to the peer whose id is peerID (hex, as in
// PeerInfo.ID), if connected, and refuses that id, and the certificate its
// connection presented, for the rest of the swarm's life: no offer or answer
// from them is taken again. It raises a PEER_EXPT exception whose message
// names the peer and reason. Checks outside the peer protocol (a piece that
// failed its hash, say) call it; the swarm bans by itself the peers that
// break the protocol or the bounds of their state, or that collect too many
// strikes.
func (s *Swarm) Ban(peerID string, reason error) error {
	var id trackermsg.ID
	b, err := hex.DecodeString(peerID)
	if err != nil || len(b) != len(id) {
		return fmt.Errorf("%w: %q is not %d hex digits", ErrBadPeerID, peerID, 2*len(id))
	}
	copy(id[:], b)
	if reason == nil {
		reason = errors.New("banned by the caller")
	}
	s.mu.Lock()
	if p := s.peers[id]; p != nil {
		s.mu.Unlock()
		s.ban(p, reason)
		return nil
	}
	s.bans.add(idKey(id))
	if a := s.connecting[id]; a != nil {
		a.cancel()
		delete(s.connecting, id)
	}
	s.mu.Unlock()
	s.e.exception(CodePeer, fmt.Errorf("peer %s banned: %w", id, reason))
	return nil
}

// ban bans p (see Ban) for cause: its id and certificate go on the ban
// list, and, when it is still the swarm's peer under its id, it is detached,
// its connection closed and PEER_EXPT raised.
func (s *Swarm) ban(p *peer, cause error) {
	s.mu.Lock()
	cur := s.banLocked(p)
	s.mu.Unlock()
	p.conn.Close()
	if cur {
		s.banned(p, cause)
	}
}

// banLocked puts p's id and certificate on the ban list and detaches p, and
// reports whether p was the swarm's peer under its id; if so, the caller
// calls banned, without the lock, once it has closed p's connection.
func (s *Swarm) banLocked(p *peer) bool {
	s.bans.add(idKey(p.id))
	s.bans.add(fingerprintKey(p.fingerprint))
	p.closed = true
	cur, ok := s.peers[p.id]
	if ok && cur == p {
		s.detachPeerLocked(p, true)
		return true
	}
	return false
}

// banned reports the ban of p, detached by banLocked.
func (s *Swarm) banned(p *peer, cause error) {
	s.e.log.Debug("peer banned", "swarm", s.id.ChannelID, "peer", p.id, "err", cause)
	s.e.exception(CodePeer, fmt.Errorf("peer %s banned: %w", p.id, cause))
	s.e.peersChanged()
	s.kick()
}
