package tracker

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

// peer is one peer id's membership in one swarm, reached through conn.
type peer struct {
	id       trackermsg.ID
	conn     *conn
	swarm    *swarm
	complete bool
	lastSeen time.Time
	index    int // position in swarm.list
}

// swarm is the set of peers announcing one info hash.
type swarm struct {
	infoHash   trackermsg.ID
	peers      map[trackermsg.ID]*peer // by peer id
	list       []*peer                 // the same peers, for random sampling
	complete   int                     // peers with nothing left to download
	downloaded int                     // "completed" events seen
}

func newSwarm(ih trackermsg.ID) *swarm {
	return &swarm{infoHash: ih, peers: make(map[trackermsg.ID]*peer)}
}

func (sw *swarm) add(p *peer) {
	p.swarm = sw
	p.index = len(sw.list)
	sw.list = append(sw.list, p)
	sw.peers[p.id] = p
	if p.complete {
		sw.complete++
	}
}

func (sw *swarm) remove(p *peer) {
	last := len(sw.list) - 1
	sw.list[p.index] = sw.list[last]
	sw.list[p.index].index = p.index
	sw.list[last] = nil
	sw.list = sw.list[:last]
	delete(sw.peers, p.id)
	if p.complete {
		sw.complete--
	}
}

// file returns the swarm's scrape counts.
func (sw *swarm) file() trackermsg.ScrapeFile {
	return trackermsg.ScrapeFile{
		Complete:   sw.complete,
		Incomplete: len(sw.list) - sw.complete,
		Downloaded: sw.downloaded,
	}
}

// sample returns up to n distinct peers chosen at random, never self.
func (sw *swarm) sample(n int, self *peer) []*peer {
	m := len(sw.list) // candidates: list indices [0, m) except self.index
	skip := -1
	if self != nil && self.swarm == sw {
		m--
		skip = self.index
	}
	if n > m {
		n = m
	}
	if n <= 0 {
		return nil
	}
	pick := func(i int) *peer {
		if skip >= 0 && i >= skip {
			i++
		}
		return sw.list[i]
	}
	out := make([]*peer, 0, n)
	if n == m {
		for i := range m {
			out = append(out, pick(i))
		}
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	// Floyd's algorithm: n distinct indices out of m in O(n).
	chosen := make(map[int]bool, n)
	for j := m - n; j < m; j++ {
		t := rand.IntN(j + 1)
		if chosen[t] {
			t = j
		}
		chosen[t] = true
		out = append(out, pick(t))
	}
	return out
}

// delivery is a message for another connection, sent once s.mu is released.
type delivery struct {
	to  *conn
	msg *trackermsg.Message
}

// reasonAnswerNotMember refuses an answer from outside the swarm: relaying it
// would let anyone speak for a member.
const reasonAnswerNotMember = "answer from a connection that has not announced in this swarm"

// reasonTooFast starts the failure reason of an announce beyond the
// connection's rate.
const reasonTooFast = "announcing too fast"

// handle processes one message from c. It returns an error when c must be
// closed for misbehaving.
func (s *Server) handle(c *conn, data []byte) error {
	m, err := trackermsg.Decode(data)
	if err != nil {
		return s.reject(c, data, err)
	}
	switch m.Kind() {
	case trackermsg.KindAnnounce:
		return s.announce(c, m)
	case trackermsg.KindAnswer:
		if m.ToPeerID == nil {
			return s.reject(c, data, errors.New("answer without to_peer_id"))
		}
		s.answer(c, m)
	case trackermsg.KindScrape:
		s.scrape(c, m)
	default:
		return s.reject(c, data, errors.New("unexpected message from a client"))
	}
	return nil
}

// reject answers a malformed or unexpected message with a failure reason. It
// returns an error once c has sent more than MaxBadMessages of them.
func (s *Server) reject(c *conn, data []byte, reason error) error {
	c.bad++
	s.badMessages.Add(1)
	f := &trackermsg.Message{FailureReason: reason.Error()}
	f.Action, f.InfoHash = guessContext(data)
	c.log.Debug("rejected message", "reason", reason, "bad_messages", c.bad)
	c.send(f)
	if c.bad > s.cfg.MaxBadMessages {
		return errTooManyBad
	}
	return nil
}

// refuse answers an announce or answer of swarm ih with a failure reason.
func (c *conn) refuse(ih trackermsg.ID, reason string) {
	c.send(&trackermsg.Message{Action: trackermsg.ActionAnnounce, InfoHash: &ih, FailureReason: reason})
}

// guessContext recovers, as far as possible, the action and info hash of a
// message Decode rejected, so that the failure reply names them.
func guessContext(data []byte) (string, *trackermsg.ID) {
	var v struct {
		Action   json.RawMessage `json:"action"`
		InfoHash json.RawMessage `json:"info_hash"`
	}
	if json.Unmarshal(data, &v) != nil {
		return "", nil
	}
	var action string
	if json.Unmarshal(v.Action, &action) != nil || (action != trackermsg.ActionAnnounce && action != trackermsg.ActionScrape) {
		action = ""
	}
	var id trackermsg.ID
	if len(v.InfoHash) == 0 || json.Unmarshal(v.InfoHash, &id) != nil {
		return action, nil
	}
	return action, &id
}

// announce joins, updates or leaves a swarm, answers with the swarm's counts
// and relays the announce's offers to other peers of the swarm. An announce
// beyond c's rate, or under a peer id another connection holds in the
// swarm, is refused with a failure reason and changes nothing. It returns an
// error when c must be closed for announcing too fast for too long.
func (s *Server) announce(c *conn, m *trackermsg.Message) error {
	ih, pid := *m.InfoHash, *m.PeerID
	var out []delivery

	if now := s.now(); !c.announces.allow(now) {
		s.limited.Add(1)
		// "stopped" only ever frees what c holds: refusing it would leave a
		// peer that is gone in the swarm until it expires. It still counts
		// against the refusals, so a flood of them ends the connection.
		if m.Event != trackermsg.EventStopped {
			c.log.Debug("announce refused: too fast", "info_hash", ih.String())
			c.refuse(ih, fmt.Sprintf("%s (at most %d at once and %g per second)", reasonTooFast, s.cfg.AnnounceBurst, s.cfg.AnnounceRate))
		}
		if !c.refusals.allow(now) {
			return errAnnouncesFast
		}
		if m.Event != trackermsg.EventStopped {
			return nil
		}
	}

	s.mu.Lock()
	own := c.peers[ih]
	if m.Event == trackermsg.EventStopped {
		if own != nil && own.id == pid {
			s.removePeerLocked(own)
		}
		resp := s.responseLocked(ih)
		s.mu.Unlock()
		c.log.Debug("peer stopped", "info_hash", ih.String(), "peer_id", pid.String())
		c.send(resp)
		return nil
	}
	if sw := s.swarms[ih]; sw != nil {
		if holder := sw.peers[pid]; holder != nil && holder.conn != c {
			// The id is another connection's until it leaves. If that one
			// is gone without closing, the probe finds out and frees it.
			holder.conn.probeLocked()
			s.mu.Unlock()
			s.peerIDsRefused.Add(1)
			c.log.Debug("announce refused: peer id held by another connection", "info_hash", ih.String(), "peer_id", pid.String())
			c.refuse(ih, trackermsg.ReasonPeerIDInUse)
			return nil
		}
	}
	if own != nil && own.id != pid {
		// The connection announces under a new peer id: the old one leaves.
		s.removePeerLocked(own)
		own = nil
	}
	p := own
	if p == nil {
		if len(c.peers) >= s.cfg.MaxSwarmsPerConn {
			s.mu.Unlock()
			c.refuse(ih, fmt.Sprintf("too many swarms on one connection (at most %d)", s.cfg.MaxSwarmsPerConn))
			return nil
		}
		sw := s.swarms[ih]
		if sw == nil {
			sw = newSwarm(ih)
			s.swarms[ih] = sw
		}
		p = &peer{id: pid, conn: c}
		sw.add(p)
		c.peers[ih] = p
		s.numPeers++
		c.log.Debug("peer joined", "info_hash", ih.String(), "peer_id", pid.String())
	}
	sw := p.swarm
	p.lastSeen = time.Now()
	if !p.complete && (m.Event == trackermsg.EventCompleted || (m.Left != nil && *m.Left == 0)) {
		p.complete = true
		sw.complete++
		if m.Event == trackermsg.EventCompleted {
			sw.downloaded++
		}
	}
	resp := s.responseLocked(ih)
	if len(m.Offers) > 0 {
		n := min(len(m.Offers), s.cfg.MaxOffersRelayed)
		if m.NumWant != nil {
			n = min(n, *m.NumWant)
		}
		for i, to := range sw.sample(n, p) {
			o := m.Offers[i]
			out = append(out, delivery{to: to.conn, msg: &trackermsg.Message{
				Action:   trackermsg.ActionAnnounce,
				InfoHash: &ih,
				PeerID:   &pid,
				OfferID:  &o.OfferID,
				Offer:    &o.Offer,
			}})
		}
	}
	s.mu.Unlock()

	// The offers are queued before the response goes: a peer that has its
	// response knows that its offers are on their way, ahead of anything
	// their recipients are sent next.
	for _, d := range out {
		if d.to.send(d.msg) {
			s.offersRelayed.Add(1)
		}
	}
	c.send(resp)
	return nil
}

// responseLocked returns the announce response for swarm ih.
func (s *Server) responseLocked(ih trackermsg.ID) *trackermsg.Message {
	var f trackermsg.ScrapeFile
	if sw := s.swarms[ih]; sw != nil {
		f = sw.file()
	}
	interval := s.interval
	return &trackermsg.Message{
		Action:     trackermsg.ActionAnnounce,
		InfoHash:   &ih,
		Interval:   &interval,
		Complete:   &f.Complete,
		Incomplete: &f.Incomplete,
	}
}

// answer routes an answer to the peer that made the offer. Only a member of
// the swarm answers, and always under the peer id it announced there; an
// answer from a connection outside the swarm is refused with a failure
// reason. An answer to a peer that is not in the swarm is dropped.
func (s *Server) answer(c *conn, m *trackermsg.Message) {
	ih, from := *m.InfoHash, *m.PeerID
	var to *conn
	s.mu.Lock()
	own := c.peers[ih]
	if own != nil {
		// Speak for the peer this connection announced, whatever it
		// claims: the id is never taken from the message.
		from = own.id
		own.lastSeen = time.Now()
		if p := own.swarm.peers[*m.ToPeerID]; p != nil && p.conn != c {
			to = p.conn
		}
	}
	s.mu.Unlock()

	if own == nil {
		s.answersRefused.Add(1)
		c.log.Debug("answer refused: not from a member of the swarm", "info_hash", ih.String(), "peer_id", from.String())
		c.refuse(ih, reasonAnswerNotMember)
		return
	}
	if to == nil {
		s.answersDropped.Add(1)
		c.log.Debug("answer to a peer not in the swarm dropped", "info_hash", ih.String(), "to_peer_id", m.ToPeerID.String())
		return
	}
	if to.send(&trackermsg.Message{
		Action:   trackermsg.ActionAnnounce,
		InfoHash: &ih,
		PeerID:   &from,
		OfferID:  m.OfferID,
		Answer:   m.Answer,
	}) {
		s.answersRelayed.Add(1)
	}
}

// scrape reports the counts of the listed swarms, or of all swarms (at most
// maxScrapeAll) when none is listed. Unknown swarms report zeros.
func (s *Server) scrape(c *conn, m *trackermsg.Message) {
	files := make(map[string]trackermsg.ScrapeFile)
	s.mu.Lock()
	if len(m.InfoHashes) == 0 {
		for ih, sw := range s.swarms {
			if len(files) == maxScrapeAll {
				break
			}
			files[ih.BinaryString()] = sw.file()
		}
	} else {
		for _, ih := range m.InfoHashes {
			var f trackermsg.ScrapeFile
			if sw := s.swarms[ih]; sw != nil {
				f = sw.file()
			}
			files[ih.BinaryString()] = f
		}
	}
	s.mu.Unlock()
	c.send(&trackermsg.Message{Action: trackermsg.ActionScrape, Files: files})
}

// unregister removes c and all its peers.
func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range c.peers {
		s.removePeerLocked(p)
	}
	delete(s.conns, c)
}

// removePeerLocked takes p out of its swarm and its connection, and deletes
// the swarm once empty.
func (s *Server) removePeerLocked(p *peer) {
	sw := p.swarm
	sw.remove(p)
	if p.conn.peers[sw.infoHash] == p {
		delete(p.conn.peers, sw.infoHash)
	}
	s.numPeers--
	if len(sw.list) == 0 {
		delete(s.swarms, sw.infoHash)
	}
}
