package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/engine/transport"
	"github.com/p2pmedia/p2pmedia/engine/wire"
)

const (
	// handshakeTimeout bounds the exchange of handshakes.
	handshakeTimeout = 10 * time.Second
	// maxStrikes is how many strikes (a stalled or too slow download, a
	// piece that failed validation) ban a peer; each piece it delivers
	// that is stored takes one back.
	maxStrikes = 3
	// maxQueuedUploads bounds the requests one peer may have queued with us.
	maxQueuedUploads = 8
	// maxControlQueue bounds control messages waiting for a peer that does
	// not read; past it the peer is banned.
	maxControlQueue = 4096
	// maxForeignHoldings bounds, in bytes, what a peer's announcements of
	// resources this swarm does not have open may make it keep (bitfields,
	// names, validators and holdingOverhead each). Live segments are
	// learned that way before they are opened, so they are kept, up to
	// this; announcements of open resources replace this swarm's own
	// entries and need no bound of their own. Past it the peer is banned.
	maxForeignHoldings = 1 << 20
	// holdingOverhead is what each announced resource counts for beyond
	// its bytes (map entry, struct), so that a flood of tiny ones is
	// bounded too.
	holdingOverhead = 128
	// cancelledMemory is how many cancelled request ids are remembered, so
	// that frames already in flight for them are not taken as faults.
	cancelledMemory = 64
)

var (
	// errProtocol marks a peer that broke the protocol.
	errProtocol = errors.New("engine: peer protocol violation")
	// errBound marks a peer that crossed a bound of what it may make this
	// peer hold.
	errBound = errors.New("engine: peer crossed a bound")
)

// peer is one connected remote peer of a swarm. Its fields are guarded by the
// swarm's mutex, but for conn and the writer's own buffer.
type peer struct {
	s       *Swarm
	id      trackermsg.ID
	offerer trackermsg.ID
	conn    transport.Conn
	maxSend int
	ctx     context.Context
	cancel  context.CancelFunc
	wakeW   chan struct{}

	closed    bool
	remote    map[wire.ResourceRef]*remoteResource
	announced map[wire.ResourceRef]bool
	ctrl      []wire.Message
	uploads   []*wire.Request
	nextID    uint32
	downloads map[uint32]*piece
	// foreign is the cost of the entries of remote for resources that
	// were not open when announced (see maxForeignHoldings).
	foreign   int
	cancelled [cancelledMemory]cancelledRequest
	cancelPos int
	strikes   int
	joined    time.Time // when it joined s.peers
	upID      uint32    // request id of the upload being sent
	upActive  bool
	upCancel  bool    // the peer cancelled the upload being sent
	rate      float64 // download rate from this peer, bytes/s
	rated     bool    // rate was measured, not the prior guess
	// fingerprint is the certificate fingerprint of the peer's SDP: a ban
	// refuses it too.
	fingerprint string
	downloaded  int64
	uploaded    int64
}

type remoteResource struct {
	info identity.ResourceInfo
	bits wire.Bits
	cost int // counted in peer.foreign
}

// cancelledRequest is a request this peer cancelled, and how many bytes of
// it may still arrive: what was outstanding when it was cancelled.
type cancelledRequest struct {
	id   uint32
	left int
}

// handshake exchanges handshakes on a fresh connection and returns the peer,
// not yet registered.
func handshake(ctx context.Context, s *Swarm, conn transport.Conn, remote trackermsg.ID) (*peer, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	hs := &wire.Handshake{Version: wire.Version, InfoHash: s.id.InfoHash, PeerID: s.e.self(), MaxMessageSize: uint32(conn.MaxMessageSize())}
	b, err := wire.Append(nil, hs)
	if err != nil {
		return nil, err
	}
	if err := conn.Send(ctx, b); err != nil {
		return nil, fmt.Errorf("send handshake: %w", err)
	}
	b, err = conn.Recv(ctx)
	if err != nil {
		return nil, fmt.Errorf("receive handshake: %w", err)
	}
	m, err := wire.Decode(b)
	if err != nil {
		return nil, err
	}
	rh, ok := m.(*wire.Handshake)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: first message is %s, not a handshake", errProtocol, m.Type())
	case rh.Version != wire.Version:
		return nil, fmt.Errorf("%w: protocol version %d, want %d", errProtocol, rh.Version, wire.Version)
	case rh.InfoHash != s.id.InfoHash:
		return nil, fmt.Errorf("%w: handshake for another swarm", errProtocol)
	case trackermsg.ID(rh.PeerID) != remote:
		return nil, fmt.Errorf("%w: handshake peer id %x differs from the tracker's %s", errProtocol, rh.PeerID, remote)
	}
	p := &peer{
		s: s, id: remote, conn: conn,
		maxSend:   min(conn.MaxMessageSize(), int(rh.MaxMessageSize)),
		wakeW:     make(chan struct{}, 1),
		remote:    map[wire.ResourceRef]*remoteResource{},
		announced: map[wire.ResourceRef]bool{},
		downloads: map[uint32]*piece{},
		rate:      defaultPeerRate,
	}
	p.ctx, p.cancel = context.WithCancel(s.ctx)
	return p, nil
}

// start runs the peer's reader and writer.
func (p *peer) start() {
	p.s.wg.Add(2)
	go p.readLoop()
	go p.writeLoop()
}

func (p *peer) signalWriter() {
	select {
	case p.wakeW <- struct{}{}:
	default:
	}
}

// queueLocked queues a control message for the writer.
func (p *peer) queueLocked(m wire.Message) {
	if p.closed {
		return
	}
	if len(p.ctrl) >= maxControlQueue {
		p.banLocked(fmt.Errorf("%w: %d control messages unread", errBound, maxControlQueue))
		return
	}
	p.ctrl = append(p.ctrl, m)
	p.signalWriter()
}

// sendBitfieldsLocked announces every resource we hold pieces of, then
// that this is all (wire.Ready).
func (p *peer) sendBitfieldsLocked() {
	for _, r := range p.s.resources {
		if !r.gone && r.have.Count() > 0 {
			p.bitfieldLocked(r)
		}
	}
	p.queueLocked(&wire.Ready{})
}

func (p *peer) bitfieldLocked(r *Resource) {
	bits := make(wire.Bits, len(r.have))
	copy(bits, r.have)
	p.announced[r.ref] = true
	p.queueLocked(&wire.Bitfield{Resource: r.ref, Size: r.info.Size, ETag: r.info.ETag, LastModified: r.info.LastModified, PieceCount: uint32(r.n), Bits: bits})
}

// announceLocked tells the peer we now hold piece i of r.
func (p *peer) announceLocked(r *Resource, i int) {
	if !p.announced[r.ref] {
		p.bitfieldLocked(r)
		return
	}
	p.queueLocked(&wire.Have{Resource: r.ref, Piece: uint32(i)})
}

// dropLocked tells the peer we no longer hold piece i of r.
func (p *peer) dropLocked(r *Resource, i int) {
	if p.announced[r.ref] {
		p.queueLocked(&wire.Drop{Resource: r.ref, Piece: uint32(i)})
	}
}

// holds reports whether the peer announced piece i of ref.
func (p *peer) holds(ref wire.ResourceRef, i int) bool {
	rr, ok := p.remote[ref]
	return ok && rr.bits.Has(i)
}

// holdsOtherVersionLocked reports whether the peer announced a version of
// r's resource other than r's.
func (p *peer) holdsOtherVersionLocked(r *Resource) bool {
	for ref := range p.remote {
		if ref.Name == r.ref.Name && ref.Version != r.ref.Version {
			return true
		}
	}
	return false
}

// estimate is how long the peer needs for n more bytes; pc, if set, is a
// download under way whose own progress refines the estimate.
func (p *peer) estimate(n int, now time.Time, pc *piece) time.Duration {
	rate := p.rate
	if pc != nil {
		if r, ok := observedRate(pc.got-pc.startGot, now.Sub(pc.started)); ok {
			rate = r
		}
	}
	return transferTime(n, rate)
}

// cancelledLocked remembers the cancelled request id, of which left bytes
// were outstanding.
func (p *peer) cancelledLocked(id uint32, left int) {
	p.cancelled[p.cancelPos%cancelledMemory] = cancelledRequest{id: id, left: left}
	p.cancelPos++
}

// cancelledRequestLocked returns the cancelled request id, or nil.
func (p *peer) cancelledRequestLocked(id uint32) *cancelledRequest {
	for i := range p.cancelled {
		if c := &p.cancelled[i]; c.id == id && id != 0 {
			return c
		}
	}
	return nil
}

// strikeLocked counts a strike against the peer; maxStrikes ban it.
func (p *peer) strikeLocked(why string) {
	p.strikes++
	if p.strikes >= maxStrikes && !p.closed {
		p.banLocked(fmt.Errorf("%d strikes, last: %s", p.strikes, why))
	}
}

// banLocked bans the peer for cause (see Swarm.Ban); its connection is
// closed and the exception raised without the swarm's lock.
func (p *peer) banLocked(cause error) {
	cur := p.s.banLocked(p)
	go func() {
		p.conn.Close()
		if cur {
			p.s.banned(p, cause)
		}
	}()
}

func (p *peer) readLoop() {
	defer p.s.wg.Done()
	for {
		b, err := p.conn.Recv(p.ctx)
		if err != nil {
			// A transport that blames the peer (it sent past the
			// receive queue's cap) is a fault like a protocol one.
			p.s.dropPeer(p, fmt.Errorf("receive: %w", err), transport.IsPeerFault(err))
			return
		}
		if len(b) > p.conn.MaxMessageSize() && len(b) > 256*1024 {
			p.s.dropPeer(p, fmt.Errorf("%w: %d-byte message", errProtocol, len(b)), true)
			return
		}
		m, err := wire.Decode(b)
		if err == nil {
			err = p.handle(m)
		}
		if err != nil {
			p.s.dropPeer(p, err, true)
			return
		}
	}
}

// handle processes one message from the peer.
func (p *peer) handle(m wire.Message) error {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.closed {
		return nil
	}
	switch m := m.(type) {
	case *wire.Handshake:
		return fmt.Errorf("%w: second handshake", errProtocol)
	case *wire.Bitfield:
		info := identity.ResourceInfo{Size: m.Size, ETag: m.ETag, LastModified: m.LastModified}
		if info.Version() != m.Resource.Version || int(m.PieceCount) != identity.PieceCount(m.Size, s.id.PieceLength) {
			return fmt.Errorf("%w: bitfield of %q inconsistent with its size and validators", errProtocol, m.Resource.Name)
		}
		cost := 0
		if r := s.resources[m.Resource.Name]; r == nil || r.gone || r.ref != m.Resource {
			cost = len(m.Bits) + len(m.Resource.Name) + len(m.ETag) + len(m.LastModified) + holdingOverhead
		}
		old := 0
		if rr := p.remote[m.Resource]; rr != nil {
			old = rr.cost
		}
		if p.foreign-old+cost > maxForeignHoldings {
			return fmt.Errorf("%w: announcements of resources not open here pass %d bytes", errBound, maxForeignHoldings)
		}
		p.foreign += cost - old
		p.remote[m.Resource] = &remoteResource{info: info, bits: wire.Bits(m.Bits), cost: cost}
		s.heardLocked()
		s.kick()
	case *wire.Ready:
		// Until every bitfield the peer sent on connecting is in, a
		// resource it has not announced yet may still be on its way.
		s.heardHoldings = true
		s.heardLocked()
		s.kick()
	case *wire.Have:
		rr, ok := p.remote[m.Resource]
		if !ok || int(m.Piece) >= len(rr.bits)*8 || int64(m.Piece) >= int64(identity.PieceCount(rr.info.Size, s.id.PieceLength)) {
			return fmt.Errorf("%w: have for an unannounced resource or piece", errProtocol)
		}
		rr.bits.Set(int(m.Piece))
		s.kick()
	case *wire.Drop:
		if rr, ok := p.remote[m.Resource]; ok {
			rr.bits.Clear(int(m.Piece))
			if rr.bits.Count() == 0 {
				delete(p.remote, m.Resource) // it holds nothing of it any more
				p.foreign -= rr.cost
			}
		}
	case *wire.Request:
		p.onRequestLocked(m)
	case *wire.Cancel:
		for i, u := range p.uploads {
			if u.ID == m.ID {
				p.uploads = append(p.uploads[:i], p.uploads[i+1:]...)
				break
			}
		}
		if p.upActive && p.upID == m.ID {
			p.upCancel = true
		}
	case *wire.Reject:
		pc, ok := p.downloads[m.ID]
		if !ok {
			if c := p.cancelledRequestLocked(m.ID); c != nil {
				c.left = 0 // nothing more comes for it
				return nil
			}
			return fmt.Errorf("%w: reject of unknown request %d", errProtocol, m.ID)
		}
		delete(p.downloads, m.ID)
		if m.Reason == wire.RejectAbsent {
			if rr, ok := p.remote[pc.r.ref]; ok {
				rr.bits.Clear(pc.index)
			}
		} else {
			if pc.excluded == nil {
				pc.excluded = map[*peer]bool{}
			}
			pc.excluded[p] = true
		}
		s.p2pStoppedLocked(pc)
	case *wire.Piece:
		return p.onPieceLocked(m)
	default:
		return fmt.Errorf("%w: unexpected %s", errProtocol, m.Type())
	}
	return nil
}

func (p *peer) onRequestLocked(m *wire.Request) {
	s := p.s
	r, ok := s.resources[m.Resource.Name]
	switch {
	case !ok || r.gone || r.ref != m.Resource || !r.have.Has(int(m.Piece)):
		p.queueLocked(&wire.Reject{ID: m.ID, Reason: wire.RejectAbsent})
	case len(p.uploads) >= maxQueuedUploads:
		p.queueLocked(&wire.Reject{ID: m.ID, Reason: wire.RejectBusy})
	default:
		start, end, _ := r.PieceRange(int(m.Piece))
		if int64(m.Offset) >= end-start {
			p.queueLocked(&wire.Reject{ID: m.ID, Reason: wire.RejectInvalid})
			return
		}
		p.uploads = append(p.uploads, m)
		p.signalWriter()
	}
}

func (p *peer) onPieceLocked(m *wire.Piece) error {
	s := p.s
	pc, ok := p.downloads[m.ID]
	if !ok {
		c := p.cancelledRequestLocked(m.ID)
		if c == nil {
			return fmt.Errorf("%w: data for unknown request %d", errProtocol, m.ID)
		}
		// In flight when we cancelled: no more than was outstanding.
		if len(m.Data) > c.left {
			return fmt.Errorf("%w: %d more bytes for cancelled request %d, of which %d were outstanding", errBound, len(m.Data), m.ID, c.left)
		}
		c.left -= len(m.Data)
		return nil
	}
	if int(m.Offset) != pc.got || pc.got+len(m.Data) > pc.size() {
		return fmt.Errorf("%w: data at offset %d+%d, want %d of %d", errProtocol, m.Offset, len(m.Data), pc.got, pc.size())
	}
	copy(pc.buf[pc.got:], m.Data)
	pc.got += len(m.Data)
	if pc.contributors == nil {
		pc.contributors = map[*peer]bool{}
	}
	pc.contributors[p] = true
	now := time.Now()
	pc.lastByte = now
	n := int64(len(m.Data))
	p.downloaded += n
	s.e.cnt.p2pDown.Add(n)
	s.e.cnt.rate.add(n, now)
	if pc.got < pc.size() {
		return nil
	}
	delete(p.downloads, m.ID)
	p.rate, p.rated = peerRateAfter(p.rate, p.rated, pc.got-pc.startGot, now.Sub(pc.started), true)
	pc.src, pc.peer, pc.finisher = srcFinishing, nil, p
	s.p2pActive--
	go s.finishPiece(pc)
	return nil
}

// writeLoop sends queued control messages first, then upload data, one
// frame at a time, so that a large upload never delays a request or a have.
func (p *peer) writeLoop() {
	defer p.s.wg.Done()
	s := p.s
	var buf []byte
	var job *wire.Request
	var data []byte
	off := 0
	for {
		s.mu.Lock()
		for !p.closed && len(p.ctrl) == 0 && job == nil && len(p.uploads) == 0 {
			s.mu.Unlock()
			select {
			case <-p.wakeW:
			case <-p.ctx.Done():
				return
			}
			s.mu.Lock()
		}
		if p.closed {
			s.mu.Unlock()
			return
		}
		var msg wire.Message
		switch {
		case len(p.ctrl) > 0:
			msg = p.ctrl[0]
			p.ctrl[0] = nil
			p.ctrl = p.ctrl[1:]
		case job != nil && p.upCancel:
			job, data, p.upActive = nil, nil, false
			s.mu.Unlock()
			continue
		case job == nil:
			job = p.uploads[0]
			p.uploads = p.uploads[1:]
			p.upID, p.upActive, p.upCancel = job.ID, true, false
			r := s.resources[job.Resource.Name]
			if r == nil || r.gone || r.ref != job.Resource {
				p.queueLocked(&wire.Reject{ID: job.ID, Reason: wire.RejectAbsent})
				job, p.upActive = nil, false
				s.mu.Unlock()
				continue
			}
			s.mu.Unlock()
			d, err := s.e.cfg.Store.Get(p.ctx, r.key(int(job.Piece)))
			start, end, _ := r.PieceRange(int(job.Piece))
			s.mu.Lock()
			if err != nil || len(d) != int(end-start) {
				p.queueLocked(&wire.Reject{ID: job.ID, Reason: wire.RejectAbsent})
				if r.have.Has(int(job.Piece)) {
					r.have.Clear(int(job.Piece))
					s.broadcastDropLocked(r, int(job.Piece))
				}
				job, p.upActive = nil, false
			} else {
				data, off = d, int(job.Offset)
			}
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()

		var err error
		if msg != nil {
			buf, err = wire.Append(buf[:0], msg)
		} else {
			n := min(len(data)-off, p.maxSend-wire.PieceHeaderLen)
			buf, err = wire.Append(buf[:0], &wire.Piece{ID: job.ID, Offset: uint32(off), Data: data[off : off+n]})
			off += n
			p.s.e.cnt.p2pUp.Add(int64(n))
			s.mu.Lock()
			p.uploaded += int64(n)
			if off >= len(data) {
				job, data, p.upActive = nil, nil, false
			}
			s.mu.Unlock()
		}
		if err == nil {
			err = p.conn.Send(p.ctx, buf)
		}
		if err != nil {
			s.dropPeer(p, fmt.Errorf("send: %w", err), false)
			return
		}
	}
}
