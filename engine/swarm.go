package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/trackerclient"
	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/engine/transport"
)

const (
	// offerTTL is how long an unanswered offer is kept (WebTorrent: 50 s).
	offerTTL = 50 * time.Second
	// connectTimeout bounds ICE + DTLS + SCTP set-up and the handshake.
	connectTimeout = 20 * time.Second
	// minAnnounceInterval and maxAnnounceInterval clamp the tracker's interval.
	minAnnounceInterval = 15 * time.Second
	maxAnnounceInterval = 5 * time.Minute
	// minRetry is the first delay of an announce after a failed connection.
	minRetry = 2 * time.Second
	// tick is the scheduler's period.
	tick = 50 * time.Millisecond
)

// Swarm is the set of peers sharing one channel, and the resources this peer
// reads in it.
type Swarm struct {
	e  *Engine
	id identity.Swarm

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	wg     sync.WaitGroup

	// mu guards everything below, including the state of every peer, resource
	// and piece of the swarm. No I/O is done while holding it.
	mu        sync.Mutex
	closed    bool
	p2p       bool
	p2pCtx    context.Context
	p2pCancel context.CancelFunc
	p2pSince  time.Time
	// heardHoldings: a peer finished announcing what it holds (wire.Ready)
	// since P2P started.
	heardHoldings bool
	// answered: a tracker answered an announce since P2P started; others
	// is the most peers besides this one that an answer counted.
	answered bool
	others   int
	// firstAnswer is closed when answered becomes true; replaced when
	// P2P starts again.
	firstAnswer chan struct{}
	// heard is closed and replaced whenever a peer announces a resource.
	heard chan struct{}
	// untrusted names the live resources whose info from peers proved
	// wrong at the origin: they are opened with a request of their own.
	untrusted  map[string]bool
	peers      map[trackermsg.ID]*peer
	connecting map[trackermsg.ID]*attempt
	offers     map[trackermsg.ID]*pendingOffer
	// bans are the ids and certificates of the peers banned from the
	// swarm, for its life (see Ban).
	bans    *banList
	started map[*tracker]bool
	// sent is the number of offers of the last announce to a tracker;
	// counted, how many peers besides this one its last answer counted.
	// An announce carries no more offers than that, since the tracker
	// relays each offer to a different peer.
	sent     map[*tracker]int
	counted  map[*tracker]int
	nextAnn  map[*tracker]time.Time
	interval time.Duration
	// retry is the delay of the announce after the last failed connection
	// (connectFailed).
	retry      time.Duration
	resources  map[string]*Resource
	http       transferEstimate
	httpActive int
	p2pActive  int
}

// attempt is a connection to a peer being set up.
type attempt struct {
	offered     bool               // this peer made the offer (else it answered one)
	cancel      context.CancelFunc // abandons the attempt
	fingerprint string             // of the remote's certificate, from its SDP
}

// startAttemptLocked records a connection attempt to id, whose SDP gave
// the certificate fingerprint fp, and returns the context it runs on.
func (s *Swarm) startAttemptLocked(id trackermsg.ID, fp string, offered bool) (context.Context, *attempt) {
	a := &attempt{offered: offered, fingerprint: fp}
	ctx, cancel := context.WithCancel(s.p2pCtx)
	a.cancel = cancel
	s.connecting[id] = a
	return ctx, a
}

type pendingOffer struct {
	offer   transport.Offer
	created time.Time
}

func newSwarm(e *Engine, id identity.Swarm) *Swarm {
	s := &Swarm{
		e: e, id: id,
		wake:        make(chan struct{}, 1),
		peers:       map[trackermsg.ID]*peer{},
		connecting:  map[trackermsg.ID]*attempt{},
		offers:      map[trackermsg.ID]*pendingOffer{},
		bans:        newBanList(maxBans),
		started:     map[*tracker]bool{},
		sent:        map[*tracker]int{},
		counted:     map[*tracker]int{},
		nextAnn:     map[*tracker]time.Time{},
		interval:    2 * time.Minute,
		resources:   map[string]*Resource{},
		heard:       make(chan struct{}),
		firstAnswer: make(chan struct{}),
		untrusted:   map[string]bool{},
		http:        transferEstimate{latency: 300 * time.Millisecond, rate: 2 << 20},
	}
	s.ctx, s.cancel = context.WithCancel(e.ctx)
	return s
}

// ID returns the swarm's identity.
func (s *Swarm) ID() identity.Swarm { return s.id }

func (s *Swarm) start(p2p bool) {
	s.wg.Add(1)
	go s.run()
	if p2p {
		s.setP2P(true)
	}
}

func (s *Swarm) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// setP2P starts or stops the swarm's peer network.
func (s *Swarm) setP2P(on bool) {
	s.mu.Lock()
	if s.closed || s.p2p == on {
		s.mu.Unlock()
		return
	}
	s.p2p = on
	var drop []*peer
	var offers []*pendingOffer
	if on {
		s.p2pCtx, s.p2pCancel = context.WithCancel(s.ctx)
		s.p2pSince, s.heardHoldings = time.Now(), false
		s.answered, s.others = false, 0
		s.firstAnswer = make(chan struct{})
	} else {
		s.p2pCancel()
		drop, offers = s.detachAllLocked()
	}
	s.mu.Unlock()
	for _, p := range drop {
		p.conn.Close()
	}
	for _, o := range offers {
		o.offer.Close()
	}
	if on {
		for _, t := range s.e.activeTrackers() {
			s.trackerUp(t)
		}
	} else {
		s.e.peersChanged()
	}
	s.kick()
}

// detachAllLocked forgets every peer and offer and returns them for closing.
func (s *Swarm) detachAllLocked() ([]*peer, []*pendingOffer) {
	var drop []*peer
	for _, p := range s.peers {
		s.detachPeerLocked(p, false)
		drop = append(drop, p)
	}
	var offers []*pendingOffer
	for id, o := range s.offers {
		offers = append(offers, o)
		delete(s.offers, id)
	}
	s.started = map[*tracker]bool{}
	s.sent = map[*tracker]int{}
	s.counted = map[*tracker]int{}
	s.nextAnn = map[*tracker]time.Time{}
	return drop, offers
}

// trackerUp announces to a tracker that just connected.
func (s *Swarm) trackerUp(t *tracker) {
	s.mu.Lock()
	if s.closed || !s.p2p {
		s.mu.Unlock()
		return
	}
	delete(s.started, t)
	delete(s.sent, t)
	delete(s.counted, t)
	s.nextAnn[t] = time.Now()
	s.mu.Unlock()
	s.kick()
}

// onResponse takes a tracker's answer to an announce: its interval, and
// how many peers the swarm has there (this one included). The first
// announce to a tracker carries no offers, so that this answer comes at
// once: when it counts other peers, the announce with offers follows
// right away; when it counts none, they will connect to this peer. The
// same holds when an answer counts more peers than the offers that went
// out: the swarm grew while they were made.
func (s *Swarm) onResponse(t *tracker, interval time.Duration, complete, incomplete int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if interval > 0 {
		s.interval = min(max(interval, minAnnounceInterval), maxAnnounceInterval)
	}
	if !s.p2p || !s.started[t] {
		return
	}
	others := max(complete+incomplete-1, 0)
	counted := others
	if complete < 0 || incomplete < 0 {
		// Not said: there may be some, as many as offers may go.
		others, counted = 1, s.e.cfg.MaxOffers
	}
	s.counted[t] = counted
	if !s.answered {
		close(s.firstAnswer)
	}
	s.answered, s.others = true, max(s.others, others)
	if s.offersWantedLocked(t) > s.sent[t] {
		s.nextAnn[t] = time.Now()
		s.kick()
	}
}

// offersWantedLocked is the number of offers an announce to t carries: one
// per peer the tracker counted, within MaxOffers and the connections that
// MaxPeers leaves.
func (s *Swarm) offersWantedLocked(t *tracker) int {
	want := s.e.cfg.MaxPeers - len(s.peers) - len(s.connecting)
	return max(min(s.e.cfg.MaxOffers, want, s.counted[t]), 0)
}

// announceDue starts the announces whose time has come.
func (s *Swarm) announceDueLocked(now time.Time) {
	if !s.p2p {
		return
	}
	for t, at := range s.nextAnn {
		if now.Before(at) {
			continue
		}
		s.nextAnn[t] = now.Add(s.interval)
		event, n := "", 0
		if !s.started[t] {
			// The first announce only asks how many peers there are
			// (onResponse): offers take a browser a few hundred ms.
			event = trackermsg.EventStarted
			s.started[t] = true
		} else {
			n = s.offersWantedLocked(t)
		}
		s.sent[t] = n
		ctx := s.p2pCtx
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.announce(ctx, t, event, n)
		}()
	}
}

// announce sends an announce with n offers: the pool's, at hand or being
// made, and fresh ones for the rest. They go in one announce: a tracker
// relays the offers of one announce to as many different peers, while
// those of two announces may reach one peer twice and another never.
func (s *Swarm) announce(ctx context.Context, t *tracker, event string, n int) {
	offers := s.pooledOffers(ctx, n)
	s.sendAnnounce(ctx, t, event, append(offers, s.makeOffers(ctx, n-len(offers))...))
}

// sendAnnounce sends one announce with offers, and reports whether it went.
func (s *Swarm) sendAnnounce(ctx context.Context, t *tracker, event string, offers []trackermsg.Offer) bool {
	c := t.c.Load()
	if c == nil {
		s.dropOffers(offers)
		return false
	}
	st := s.e.Stats()
	a := trackerclient.Announce{
		InfoHash:   trackermsg.ID(s.id.InfoHash),
		Event:      event,
		NumWant:    len(offers),
		Uploaded:   st.P2PUploaded,
		Downloaded: st.P2PDownloaded + st.HTTPDownloaded,
		Left:       -1,
		Offers:     offers,
	}
	err := c.Announce(ctx, a)
	if err == nil {
		s.e.log.Debug("announced", "swarm", s.id.ChannelID, "event", event, "offers", len(offers))
		return true
	}
	s.dropOffers(offers)
	s.mu.Lock()
	if event != "" {
		delete(s.started, t)
	}
	if s.p2p {
		s.nextAnn[t] = time.Now().Add(2 * time.Second)
	}
	s.mu.Unlock()
	if ctx.Err() == nil {
		s.e.log.Debug("announce failed", "tracker", t.url, "err", err)
	}
	return false
}

// dropOffers forgets offers that did not go out, and closes them.
func (s *Swarm) dropOffers(offers []trackermsg.Offer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range offers {
		if po, ok := s.offers[o.OfferID]; ok {
			delete(s.offers, o.OfferID)
			po.offer.Close()
		}
	}
}

// pooledOffers takes up to n offers from the engine's pool, waiting for
// those it is making, and records them as pending.
func (s *Swarm) pooledOffers(ctx context.Context, n int) []trackermsg.Offer {
	var out []trackermsg.Offer
	for _, o := range s.e.pool.take(ctx, n) {
		if m, ok := s.pendingOffer(o); ok {
			out = append(out, m)
		}
	}
	return out
}

// makeOffers creates n offers in parallel and records them as pending.
func (s *Swarm) makeOffers(ctx context.Context, n int) []trackermsg.Offer {
	conn := s.e.cfg.Connector
	if n <= 0 || conn == nil {
		return nil
	}
	results := make(chan transport.Offer, n)
	for range n {
		go func() {
			octx, cancel := context.WithTimeout(ctx, connectTimeout)
			defer cancel()
			o, err := conn.Offer(octx)
			if err != nil {
				if ctx.Err() == nil {
					s.e.exception(CodeSignal, fmt.Errorf("create offer: %w", err))
				}
				o = nil
			}
			results <- o
		}()
	}
	var out []trackermsg.Offer
	for range n {
		if o := <-results; o != nil {
			if m, ok := s.pendingOffer(o); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// pendingOffer records o as an offer waiting for its answer, under a fresh
// offer id; it closes o and reports false when P2P is off.
func (s *Swarm) pendingOffer(o transport.Offer) (trackermsg.Offer, bool) {
	var id trackermsg.ID
	for i := range id {
		id[i] = byte(rand.Uint32())
	}
	s.mu.Lock()
	if !s.p2p || s.closed {
		s.mu.Unlock()
		o.Close()
		return trackermsg.Offer{}, false
	}
	s.offers[id] = &pendingOffer{offer: o, created: time.Now()}
	s.mu.Unlock()
	return trackermsg.Offer{Offer: trackermsg.SDP{Type: "offer", SDP: o.SDP()}, OfferID: id}, true
}

// canConnectLocked reports whether a new connection to id, whose SDP gave
// the certificate fingerprint fp, is wanted.
func (s *Swarm) canConnectLocked(id trackermsg.ID, fp string) bool {
	if !s.p2p || s.closed || id == s.e.self() || s.connecting[id] != nil {
		return false
	}
	if _, ok := s.peers[id]; ok {
		return false
	}
	if s.bannedLocked(id, fp) {
		s.e.log.Debug("refused a banned peer", "swarm", s.id.ChannelID, "peer", id)
		return false
	}
	return len(s.peers)+len(s.connecting) < s.e.cfg.MaxPeers
}

// onOffer answers an offer relayed by a tracker.
func (s *Swarm) onOffer(t *tracker, from, offerID trackermsg.ID, sdp string) {
	fp := sdpFingerprint(sdp)
	s.mu.Lock()
	if !s.canConnectLocked(from, fp) {
		s.mu.Unlock()
		return
	}
	ctx, att := s.startAttemptLocked(from, fp, false)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer att.cancel()
		conn, err := s.answer(ctx, t, from, offerID, sdp)
		if err != nil {
			s.connectFailed(ctx, from, att, fmt.Errorf("answer peer %s: %w", from, err))
			return
		}
		s.addPeer(ctx, conn, from, from, att)
	}()
}

func (s *Swarm) answer(ctx context.Context, t *tracker, from, offerID trackermsg.ID, sdp string) (transport.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	a, err := s.e.cfg.Connector.Answer(ctx, sdp)
	if err != nil {
		return nil, err
	}
	c := t.c.Load()
	if c == nil {
		a.Close()
		return nil, fmt.Errorf("tracker %s gone", t.url)
	}
	if err := c.Answer(ctx, trackermsg.ID(s.id.InfoHash), from, offerID, a.SDP()); err != nil {
		a.Close()
		return nil, fmt.Errorf("send answer: %w", err)
	}
	conn, err := a.Wait(ctx)
	if err != nil {
		a.Close()
		return nil, err
	}
	return conn, nil
}

// onAnswer completes one of our offers.
func (s *Swarm) onAnswer(from, offerID trackermsg.ID, sdp string) {
	fp := sdpFingerprint(sdp)
	s.mu.Lock()
	po, ok := s.offers[offerID]
	if ok {
		delete(s.offers, offerID)
	}
	me := s.e.self()
	if a := s.connecting[from]; ok && a != nil && !a.offered && bytes.Compare(me[:], from[:]) < 0 {
		// Each offered to the other and answered the other's offer: both
		// keep the connection the smaller id offered, this one (the other
		// side refuses the answer to its own offer, below). Two connections
		// would be wasted work, and where one UDP socket serves every
		// connection (an ICE UDP mux), they would break each other.
		a.cancel()
		delete(s.connecting, from)
	}
	if !ok || !s.canConnectLocked(from, fp) {
		s.mu.Unlock()
		if ok {
			po.offer.Close()
		}
		return
	}
	ctx, att := s.startAttemptLocked(from, fp, true)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer att.cancel()
		actx, cancel := context.WithTimeout(ctx, connectTimeout)
		conn, err := po.offer.Accept(actx, sdp)
		cancel()
		if err != nil {
			po.offer.Close()
			s.connectFailed(ctx, from, att, fmt.Errorf("connect peer %s: %w", from, err))
			return
		}
		s.addPeer(ctx, conn, from, s.e.self(), att)
	}()
}

// connectFailed ends the failed connection attempt a to id, which ran on
// ctx. Unless the attempt was called off, err is raised as a SIGNAL_EXPT
// and the next announce comes sooner: a failed ICE or handshake must not
// keep two peers apart until the tracker's interval. The delay doubles with
// each failure in a row, from minRetry up to the interval, and starts over
// once a peer connects.
func (s *Swarm) connectFailed(ctx context.Context, id trackermsg.ID, a *attempt, err error) {
	s.mu.Lock()
	s.connectDoneLocked(id, a)
	failed := ctx.Err() == nil
	if failed && s.p2p {
		s.retry = min(max(2*s.retry, minRetry), s.interval)
		at := time.Now().Add(s.retry)
		for t, next := range s.nextAnn {
			if at.Before(next) {
				s.nextAnn[t] = at
			}
		}
	}
	s.mu.Unlock()
	if failed {
		s.e.exception(CodeSignal, err)
	}
}

func (s *Swarm) connectDoneLocked(id trackermsg.ID, a *attempt) {
	if s.connecting[id] == a {
		delete(s.connecting, id)
	}
}

// addPeer runs the handshake on a new connection and registers the peer.
// offerer is the id of the side that made the offer: when two connections to
// the same peer race, both sides keep the one offered by the smaller id.
func (s *Swarm) addPeer(ctx context.Context, conn transport.Conn, remote, offerer trackermsg.ID, a *attempt) {
	p, err := handshake(ctx, s, conn, remote)
	if err != nil {
		conn.Close()
		s.connectFailed(ctx, remote, a, fmt.Errorf("handshake with %s: %w", remote, err))
		return
	}
	p.offerer, p.fingerprint = offerer, a.fingerprint
	s.mu.Lock()
	s.connectDoneLocked(remote, a)
	s.retry = 0
	if !s.p2p || s.closed || s.bannedLocked(remote, p.fingerprint) { // banned while connecting
		s.mu.Unlock()
		conn.Close()
		return
	}
	if old, ok := s.peers[remote]; ok {
		if bytes.Compare(offerer[:], old.offerer[:]) >= 0 {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.detachPeerLocked(old, false)
		defer old.conn.Close()
	} else if len(s.peers) >= s.e.cfg.MaxPeers {
		s.mu.Unlock()
		conn.Close()
		return
	}
	p.joined = time.Now()
	s.peers[remote] = p
	p.sendBitfieldsLocked()
	s.mu.Unlock()
	s.e.log.Debug("peer connected", "swarm", s.id.ChannelID, "peer", remote)
	p.start()
	s.e.peersChanged()
	s.kick()
}

// dropPeer closes a peer and forgets it; cause is logged. A fault of the
// peer (cause blames it) bans it.
func (s *Swarm) dropPeer(p *peer, cause error, fault bool) {
	if fault {
		s.ban(p, cause)
		return
	}
	s.mu.Lock()
	cur, ok := s.peers[p.id]
	if ok && cur == p {
		s.detachPeerLocked(p, false)
	}
	s.mu.Unlock()
	p.conn.Close()
	if ok && cur == p {
		s.e.log.Debug("peer dropped", "peer", p.id, "err", cause)
		s.e.peersChanged()
		s.kick()
	}
}

// detachPeerLocked removes p from the swarm and hands its downloads back to
// the scheduler, keeping the bytes they received unless discard is set (a
// banned peer's bytes would fail their pieces, and blame whoever completed
// them).
func (s *Swarm) detachPeerLocked(p *peer, discard bool) {
	delete(s.peers, p.id)
	p.closed = true
	for id, pc := range p.downloads {
		delete(p.downloads, id)
		if pc.peer == p {
			s.p2pStoppedLocked(pc)
			if discard && pc.src == srcNone && pc.contributors[p] {
				restartLocked(pc, map[*peer]bool{p: true})
			}
		}
	}
	p.signalWriter()
	p.cancel()
}

func (s *Swarm) peerInfos() []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PeerInfo, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, PeerInfo{ID: p.id.String(), Swarm: s.id.ChannelID, Downloaded: p.downloaded, Uploaded: p.uploaded})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PeerCount returns the number of connected peers.
func (s *Swarm) PeerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.peers)
}

// run is the swarm's scheduler and housekeeping loop.
func (s *Swarm) run() {
	defer s.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		now := time.Now()
		s.mu.Lock()
		s.expireLocked(now)
		s.collectLocked(now)
		s.announceDueLocked(now)
		s.scheduleLocked(now)
		s.mu.Unlock()
	}
}

func (s *Swarm) expireLocked(now time.Time) {
	for id, o := range s.offers {
		if now.Sub(o.created) > offerTTL {
			delete(s.offers, id)
			go o.offer.Close()
		}
	}
}

// resourceIdle is how long a resource this peer holds nothing of stays known
// after its last use.
const resourceIdle = time.Minute

// collectLocked forgets idle resources this peer holds no piece of (live
// segments that left the window, files played long ago), so that the swarm's
// memory stays bounded on long sessions.
func (s *Swarm) collectLocked(now time.Time) {
	for name, r := range s.resources {
		if len(r.pieces) == 0 && r.rate == 0 && now.Sub(r.lastUsed) > resourceIdle && r.have.Count() == 0 {
			delete(s.resources, name)
			for _, p := range s.peers {
				delete(p.announced, r.ref)
			}
		}
	}
}

// close leaves the swarm.
func (s *Swarm) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	wasP2P := s.p2p
	drop, offers := s.detachAllLocked()
	s.closed = true
	s.p2p = false
	for _, r := range s.resources {
		r.failAllLocked(ErrClosed)
	}
	s.mu.Unlock()
	if wasP2P {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		for _, t := range s.e.activeTrackers() {
			if c := t.c.Load(); c != nil {
				c.Announce(ctx, trackerclient.Announce{InfoHash: trackermsg.ID(s.id.InfoHash), Event: trackermsg.EventStopped, Left: -1})
			}
		}
		cancel()
	}
	for _, p := range drop {
		p.conn.Close()
	}
	for _, o := range offers {
		o.offer.Close()
	}
	s.cancel()
	s.wg.Wait()
}

// PeerHolds reports whether some connected peer announced piece i of r.
func (s *Swarm) PeerHolds(r *Resource, i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.peers {
		if p.holds(r.ref, i) {
			return true
		}
	}
	return false
}
