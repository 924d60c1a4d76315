package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/wire"
)

const (
	// switchMargin is kept between the moment a late peer download moves to
	// HTTP and the deadline, on top of HTTP's estimated time.
	switchMargin = 250 * time.Millisecond
	// maxPerPeer bounds concurrent downloads from one peer.
	maxPerPeer = 3
	// httpRetries is how many times a piece's HTTP fetch is tried.
	httpRetries = 3
	// defaultPeerRate is assumed for a peer not yet measured (bytes/s).
	defaultPeerRate = 1 << 20
	// discoveryWindow is how long after joining, while no peer has announced
	// any holdings yet, HTTP waits for peers until the latest comfortable moment.
	discoveryWindow = 3 * time.Second
	// discoveryReserve is the slack kept when waiting for peers at start-up.
	discoveryReserve = 500 * time.Millisecond
	// readChunk is how much of an HTTP body is read between progress updates.
	readChunk = 32 * 1024
)

// transferEstimate is a running estimate of a source's latency and rate.
// It starts from a prior guess, which its first measurement replaces: one
// real sample (the origin's answer to the size probe, say) tells more
// than the guess.
type transferEstimate struct {
	latency time.Duration
	rate    float64 // bytes per second
	// timed and rated report whether latency and rate were measured.
	timed, rated bool
}

// time estimates how long n bytes take.
func (t transferEstimate) time(n int) time.Duration {
	return t.latency + time.Duration(float64(n)/t.rate*float64(time.Second))
}

// observe takes a transfer of n bytes whose first byte came after latency
// and the rest in d.
func (t *transferEstimate) observe(latency time.Duration, n int, d time.Duration) {
	const a = 0.3
	if t.timed {
		t.latency = time.Duration((1-a)*float64(t.latency) + a*float64(latency))
	} else {
		t.latency, t.timed = latency, true
	}
	if d > 10*time.Millisecond && n >= 16*1024 {
		r := float64(n) / d.Seconds()
		if t.rated {
			t.rate = (1-a)*t.rate + a*r
		} else {
			t.rate, t.rated = r, true
		}
	}
}

// scheduleLocked decides, for every wanted piece in deadline order, where it
// comes from. Pieces due within the HTTP window go to HTTP unless a peer that
// holds them can deliver safely sooner; pieces further ahead come from peers
// only. A peer download that would miss its deadline moves to HTTP, keeping
// the bytes already received.
func (s *Swarm) scheduleLocked(now time.Time) {
	if s.closed {
		return
	}
	var want []*piece
	for _, r := range s.resources {
		if r.gone {
			continue
		}
		s.prefetchLocked(r, now)
		if r.whole != nil {
			s.wholeLocked(r, now)
		}
		for i, pc := range r.pieces {
			if pc.waiters == 0 && !pc.prefetch && !pc.origin && pc.src == srcNone && pc.got == 0 {
				delete(r.pieces, i) // abandoned by its readers
				continue
			}
			if pc.src != srcFinishing {
				want = append(want, pc)
			}
		}
	}
	sort.Slice(want, func(i, j int) bool {
		a, b := want[i], want[j]
		if a.deadline.IsZero() != b.deadline.IsZero() {
			return !a.deadline.IsZero()
		}
		if !a.deadline.Equal(b.deadline) {
			return a.deadline.Before(b.deadline)
		}
		if a.r != b.r {
			return a.r.name < b.r.name
		}
		return a.index < b.index
	})
	for _, pc := range want {
		s.schedulePieceLocked(pc, now)
	}
}

// prefetchLocked adds the pieces ahead of a resource's playhead, within the
// prefetch window, as prefetch wants with deadlines; and drops prefetch wants
// that fell behind or out of the window.
func (s *Swarm) prefetchLocked(r *Resource, now time.Time) {
	cfg := &s.e.cfg
	if r.live && r.have.Count() < r.n && s.electedLocked(r.name, r) {
		// Elected for this live segment: fetch it from the origin now, for
		// the swarm, before anyone asks.
		for i := range r.n {
			if r.have.Has(i) || s.heldLocked(r, i, nil) {
				continue // ours, or a peer's to give
			}
			if _, ok := r.pieces[i]; !ok {
				start, end, _ := identity.PieceRange(i, r.info.Size, s.id.PieceLength)
				pc := r.wantLocked(i, start, end)
				pc.prefetch, pc.origin, pc.deadline = true, true, now
			}
		}
	}
	if r.rate <= 0 {
		for i, pc := range r.pieces {
			if pc.prefetch && !pc.origin && !pc.needed && pc.waiters == 0 && pc.src == srcNone {
				delete(r.pieces, i)
			}
		}
		return
	}
	pos := r.playhead + int64(r.rate*now.Sub(r.headAt).Seconds())
	l := s.id.PieceLength
	first := int(min(max(pos, 0), r.info.Size) / l)
	for i, pc := range r.pieces {
		if pc.prefetch && !pc.origin && !pc.needed && pc.waiters == 0 && pc.src == srcNone && i < first {
			delete(r.pieces, i)
		}
	}
	for i := first; i < r.n; i++ {
		start, end, _ := identity.PieceRange(i, r.info.Size, l)
		due := time.Duration(float64(max(start-pos, 0)) / r.rate * float64(time.Second))
		inMin := i-first < cfg.MinBufferCount
		if due > cfg.PrefetchWindow && !inMin {
			break
		}
		deadline := now.Add(due)
		pc, ok := r.pieces[i]
		if !ok {
			if r.have.Has(i) {
				continue
			}
			if !s.p2p && !inMin {
				continue
			}
			pc = r.wantLocked(i, start, end)
			pc.prefetch = true
		}
		if pc.waiters == 0 {
			// A consumer's own deadline wins over the extrapolated playhead.
			pc.deadline = deadline
		}
	}
}

// inMinBufferLocked reports whether piece i is within MinBufferCount pieces
// of the playhead.
func (s *Swarm) inMinBufferLocked(pc *piece, now time.Time) bool {
	r := pc.r
	if s.e.cfg.MinBufferCount == 0 || r.rate <= 0 {
		return false
	}
	pos := r.playhead + int64(r.rate*now.Sub(r.headAt).Seconds())
	first := int(max(pos, 0) / s.id.PieceLength)
	return pc.index >= first && pc.index-first < s.e.cfg.MinBufferCount
}

func (s *Swarm) schedulePieceLocked(pc *piece, now time.Time) {
	switch pc.src {
	case srcHTTP, srcFinishing:
		return
	case srcDirect:
		if now.Sub(pc.lastByte) <= directStall {
			return
		}
		s.e.log.Debug("direct download stalled: back to the scheduler", "piece", pc.index)
		s.releaseDirectLocked(pc)
	case srcP2P:
		p := pc.peer
		remaining := pc.size() - pc.got
		v := judgeDownload(downloadState{
			started: pc.started, lastByte: pc.lastByte, deadline: pc.deadline,
			progress: pc.got - pc.startGot, remaining: remaining,
			urgent:   pc.waiters > 0 || s.inMinBufferLocked(pc, now),
			httpTime: s.http.time(remaining), peerRate: p.rate,
		}, now, s.e.cfg.P2PStallTimeout)
		if v == keepDownload {
			return
		}
		s.e.log.Debug("peer download ended", "peer", p.id, "piece", pc.index, "verdict", v,
			"got", pc.got-pc.startGot, "after", now.Sub(pc.started), "deadline", pc.deadline.Sub(now))
		s.abortP2PLocked(pc, v != handOver)
		if v != handOver {
			p.strikeLocked(v.String())
		}
	}
	if now.Before(pc.notBefore) {
		return
	}
	timeLeft := pc.deadline.Sub(now)
	urgent := pc.origin || !pc.deadline.IsZero() && timeLeft <= s.e.cfg.HTTPWindow && (pc.waiters > 0 || pc.needed || s.inMinBufferLocked(pc, now))
	if urgent && !pc.origin && (s.discoveringLocked(now) || pc.r.live && !s.electedLocked(pc.r.name, pc.r) || pc.r.edgeWait) {
		// Peers may connect any moment, or the peer elected for this live
		// segment, or the one ahead at the swarm's edge, will have it soon:
		// wait for them while HTTP can still make the deadline comfortably;
		// when the trackers said that others are there, or a connection is
		// being set up, to the last safe moment.
		reserve := discoveryReserve
		if s.othersExpectedLocked() {
			reserve = 0
		}
		urgent = timeLeft <= s.http.time(pc.size()-pc.got)+switchMargin+reserve
	}
	forceHTTP := s.inMinBufferLocked(pc, now)
	if s.p2p && !forceHTTP && s.p2pActive < s.e.cfg.MaxP2PDownloads {
		if p := s.bestPeerLocked(pc); p != nil {
			// Safe: the peer is expected in time with HTTP's time to
			// spare, or at least in time while HTTP could still take over
			// (a late peer download moves to HTTP, keeping its bytes).
			remaining := pc.size() - pc.got
			done, httpTime := now.Add(p.estimate(remaining, now, nil)), s.http.time(remaining)
			safe := !urgent || done.Before(pc.deadline.Add(-httpTime-switchMargin)) ||
				timeLeft > httpTime+switchMargin && done.Before(pc.deadline.Add(-switchMargin))
			if safe {
				s.startP2PLocked(pc, p, now)
				return
			}
		}
	}
	if urgent && s.httpActive < s.e.cfg.MaxHTTPDownloads {
		s.startHTTPLocked(pc, now)
	}
}

// discoveringLocked reports whether the swarm is still looking for its first
// peers: it joined recently, no peer has told it what it holds yet, and
// the trackers have not said that it is alone (then nobody can give it
// anything before it fetches it: it goes to HTTP at once).
func (s *Swarm) discoveringLocked(now time.Time) bool {
	if !s.p2p || s.heardHoldings || now.Sub(s.p2pSince) >= discoveryWindow {
		return false
	}
	return !s.answered || s.others > 0 || len(s.peers)+len(s.connecting) > 0
}

// othersExpectedLocked reports whether peers should show up soon: a
// tracker counted other peers, or a connection is being set up.
func (s *Swarm) othersExpectedLocked() bool {
	return s.answered && s.others > 0 || len(s.connecting) > 0
}

// heldLocked reports whether a connected peer holds piece i of r, leaving
// out those in excluded.
func (s *Swarm) heldLocked(r *Resource, i int, excluded map[*peer]bool) bool {
	for _, p := range s.peers {
		if !excluded[p] && p.holds(r.ref, i) {
			return true
		}
	}
	return false
}

// bestPeerLocked picks the peer to ask for pc: one that holds it, has a free
// slot and has not failed it; the fastest, least busy first.
func (s *Swarm) bestPeerLocked(pc *piece) *peer {
	if !pc.r.acceptsPeersLocked(pc.index) {
		return nil
	}
	var best *peer
	var bestScore float64
	for _, p := range s.peers {
		if pc.excluded[p] || len(p.downloads) >= peerSlots(p.strikes) || !p.holds(pc.r.ref, pc.index) {
			continue
		}
		score := p.rate / float64(1+len(p.downloads))
		score *= 1 + 0.1*rand.Float64()
		if best == nil || score > bestScore {
			best, bestScore = p, score
		}
	}
	return best
}

func (s *Swarm) startP2PLocked(pc *piece, p *peer, now time.Time) {
	if pc.buf == nil {
		pc.buf = make([]byte, pc.size())
	}
	p.nextID++
	id := p.nextID
	p.downloads[id] = pc
	pc.src, pc.peer, pc.reqID = srcP2P, p, id
	pc.started, pc.lastByte, pc.startGot = now, now, pc.got
	s.p2pActive++
	p.queueLocked(&wire.Request{ID: id, Resource: pc.r.ref, Piece: uint32(pc.index), Offset: uint32(pc.got)})
}

// abortP2PLocked cancels pc's peer download, keeping its bytes; with exclude
// the peer is not asked for this piece again. The download's progress
// updates the peer's rate estimate.
func (s *Swarm) abortP2PLocked(pc *piece, exclude bool) {
	p := pc.peer
	if p == nil {
		return
	}
	delete(p.downloads, pc.reqID)
	p.rate, p.rated = peerRateAfter(p.rate, p.rated, pc.got-pc.startGot, time.Since(pc.started), false)
	p.cancelledLocked(pc.reqID, pc.size()-pc.got)
	if !p.closed {
		p.queueLocked(&wire.Cancel{ID: pc.reqID})
	}
	if exclude {
		if pc.excluded == nil {
			pc.excluded = map[*peer]bool{}
		}
		pc.excluded[p] = true
	}
	s.p2pStoppedLocked(pc)
}

// p2pStoppedLocked returns pc to the scheduler after its peer download ended.
func (s *Swarm) p2pStoppedLocked(pc *piece) {
	if pc.src != srcP2P {
		return
	}
	pc.src, pc.peer = srcNone, nil
	s.p2pActive--
	s.kick()
}

// stopLocked stops whatever transfer pc has under way.
func (s *Swarm) stopLocked(pc *piece) {
	switch pc.src {
	case srcP2P:
		s.abortP2PLocked(pc, false)
	case srcHTTP:
		pc.httpCancel()
	}
}

func (s *Swarm) startHTTPLocked(pc *piece, now time.Time) {
	ctx, cancel := context.WithCancel(s.ctx)
	s.runHTTPLocked(pc, now, ctx, cancel, nil)
}

// openedBody is an origin response already open for a piece.
type openedBody struct {
	info identity.ResourceInfo
	body io.ReadCloser
}

// runHTTPLocked downloads pc from the origin on ctx, which cancel ends, from
// the response opened when not nil, else with a request of its own.
func (s *Swarm) runHTTPLocked(pc *piece, now time.Time, ctx context.Context, cancel context.CancelFunc, opened *openedBody) {
	if pc.buf == nil {
		pc.buf = make([]byte, pc.size())
	}
	pc.src, pc.httpCancel, pc.started = srcHTTP, cancel, now
	s.httpActive++
	from := pc.got
	buf := pc.buf
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		err := s.fetchHTTP(ctx, pc, buf, from, opened)
		s.mu.Lock()
		s.httpActive--
		if err == nil {
			s.mu.Unlock()
			s.finishPiece(pc)
			return
		}
		pc.src = srcNone
		if s.closed || pc.r.gone {
			s.mu.Unlock()
			return
		}
		if errors.Is(err, ErrChanged) {
			if pc.r.fromPeer {
				s.untrustLocked(pc.r.name)
			}
			pc.r.goneLocked(err)
			s.mu.Unlock()
			s.e.exception(CodeHTTP, err)
			return
		}
		pc.httpFails++
		if pc.httpFails >= httpRetries {
			pc.r.finishLocked(pc, nil, err)
			s.mu.Unlock()
			s.e.exception(CodeHTTP, err)
			return
		}
		pc.notBefore = time.Now().Add(time.Duration(pc.httpFails) * 200 * time.Millisecond)
		s.mu.Unlock()
		s.kick()
	}()
}

// fetchHTTP fills buf[from:] from the origin, publishing progress in pc.got,
// reading the response opened when not nil.
func (s *Swarm) fetchHTTP(ctx context.Context, pc *piece, buf []byte, from int, opened *openedBody) error {
	r := pc.r
	t0 := time.Now()
	var info identity.ResourceInfo
	var body io.ReadCloser
	var err error
	if opened != nil {
		info, body = opened.info, opened.body
	} else if info, body, err = s.e.cfg.Fetcher.Fetch(ctx, r.url, pc.start+int64(from), pc.end); err != nil {
		return fmt.Errorf("engine: fetch %s piece %d: %w", r.url, pc.index, err)
	}
	defer body.Close()
	if err := r.Changed(info); err != nil {
		return err
	}
	var first time.Duration
	n := from
	for n < len(buf) {
		k, err := io.ReadFull(body, buf[n:min(n+readChunk, len(buf))])
		if k > 0 {
			if first == 0 {
				first = time.Since(t0)
			}
			n += k
			s.e.cnt.http.Add(int64(k))
			s.mu.Lock()
			pc.got = n
			s.mu.Unlock()
		}
		if err != nil {
			return fmt.Errorf("engine: read %s piece %d: %w", r.url, pc.index, err)
		}
	}
	s.mu.Lock()
	s.http.observe(first, n-from, time.Since(t0)-first)
	s.mu.Unlock()
	return nil
}

// finishPiece verifies a complete piece that holds bytes from peers, stores
// it and publishes it. A piece that fails verification starts over without
// the peers that sent it (rejectPiece). A piece from peers of a resource
// checked by ranges waits, unpublished, for the rest of them (hold).
func (s *Swarm) finishPiece(pc *piece) {
	r := pc.r
	s.mu.Lock()
	pc.src = srcFinishing
	data := pc.buf
	contributors := pc.contributors
	giveUp := hashGiveUp(pc.deadline, s.http.time(pc.size()))
	s.mu.Unlock()
	if len(contributors) > 0 {
		err := s.verifyPiece(r, pc.index, data, giveUp)
		if err == nil && r.whole != nil {
			if err = s.hold(pc, data); err == nil {
				return // published once its ranges matched
			}
		}
		if errors.Is(err, ErrBadPiece) {
			s.rejectPiece(pc, contributors, err)
			return
		} else if err != nil {
			s.retryPiece(pc, contributors, err)
			return
		}
	}
	s.publishPiece(pc, data, contributors)
}

// publishPiece gives a complete piece whose bytes are the origin's (from
// it, or verified) to its readers, then to the store and, once stored, to
// the peers. contributors are the peers whose bytes it holds.
func (s *Swarm) publishPiece(pc *piece, data []byte, contributors map[*peer]bool) {
	r := pc.r
	// Readers get the piece now, not after the store took it (Cache Storage
	// may take a while); meanwhile it stays in r.pieces, finished, so that a
	// new read of it finds it there.
	s.mu.Lock()
	if r.gone || s.closed || pc.finished {
		s.mu.Unlock()
		return
	}
	if r.whole != nil && r.whole.keepLocked(pc.index, data) {
		s.kick() // the resource is complete: check it, or let it go
	}
	// The peer that sent the whole piece alone, if one did.
	var sender *peer
	if p := pc.finisher; p != nil && len(contributors) == 1 && contributors[p] {
		sender = p
	}
	r.publishLocked(pc, data, nil)
	s.mu.Unlock()
	err := s.e.cfg.Store.Put(s.ctx, r.key(pc.index), data)
	if err != nil {
		s.e.exception(CodeStore, fmt.Errorf("store piece %d of %s: %w", pc.index, r.url, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.pieces[pc.index] == pc {
		delete(r.pieces, pc.index)
	}
	if err != nil || r.gone || s.closed {
		return // readers have it, but it cannot be served to peers
	}
	r.have.Set(pc.index)
	if len(contributors) > 0 {
		r.p2pPieces++
	}
	if sender != nil {
		// A whole piece delivered, and valid, takes a strike back: a
		// peer is banned for staying slow or faulty, not for one bad
		// moment. Bytes that HTTP had to finish take none back.
		sender.strikes = max(sender.strikes-1, 0)
	}
	for _, p := range s.peers {
		p.announceLocked(r, pc.index)
	}
}

// restartLocked discards the bytes of pc, which contributors sent, and
// hands it back to the scheduler, which asks none of them for it again.
func restartLocked(pc *piece, contributors map[*peer]bool) {
	pc.src, pc.got, pc.contributors = srcNone, 0, nil
	if pc.excluded == nil {
		pc.excluded = map[*peer]bool{}
	}
	for p := range contributors {
		pc.excluded[p] = true
	}
}

// retryPiece discards a piece from peers that could not be checked (err)
// (its hashes failed, or did not come before its deadline) and schedules it
// again without its senders, who are not to blame: they would send the
// same bytes, as unverifiable.
func (s *Swarm) retryPiece(pc *piece, contributors map[*peer]bool, err error) {
	s.mu.Lock()
	restartLocked(pc, contributors)
	s.mu.Unlock()
	if s.ctx.Err() == nil {
		s.e.log.Debug("piece from peers not checked", "err", err)
	}
	s.kick()
}

// rejectPiece discards a piece whose bytes from peers failed verification
// (err) and schedules it again without them, within its deadline; its
// senders are blamed (blameLocked).
func (s *Swarm) rejectPiece(pc *piece, contributors map[*peer]bool, err error) {
	s.mu.Lock()
	restartLocked(pc, contributors)
	ban := s.blameLocked(contributors)
	s.mu.Unlock()
	s.e.log.Debug("piece failed verification", "err", err)
	if ban != nil {
		s.ban(ban, err)
	}
	s.kick()
}

// blameLocked blames the senders of bytes that failed verification: a
// single sender is returned, for the caller to ban without the lock; several
// get a strike each, since the bytes do not tell who lied, and the liar is
// banned the next time it sends bytes alone.
func (s *Swarm) blameLocked(senders map[*peer]bool) (ban *peer) {
	if len(senders) == 1 {
		for p := range senders {
			return p
		}
	}
	for p := range senders {
		p.strikeLocked("bytes failed verification")
	}
	return nil
}

func (s *Swarm) broadcastDropLocked(r *Resource, i int) {
	for _, p := range s.peers {
		p.dropLocked(r, i)
	}
}

// onEvict forgets a piece the store dropped.
func (s *Swarm) onEvict(k identity.PieceKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[k.Resource]
	if !ok || r.ref.Version != k.Version || !r.have.Has(k.Index) {
		return
	}
	r.have.Clear(k.Index)
	s.broadcastDropLocked(r, k.Index)
}
