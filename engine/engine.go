package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/trackerclient"
	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

// ErrClosed is returned by calls on a closed engine or swarm.
var ErrClosed = errors.New("engine: closed")

// peerIDPrefix starts every peer id, in the Azureus style WebTorrent uses.
const peerIDPrefix = "-PM0001-"

// Engine runs the swarms of one page: one per channel (a progressive file,
// or an HLS/DASH rendition), sharing the tracker connections.
type Engine struct {
	cfg    Config
	peerID atomic.Pointer[trackermsg.ID] // replaced when a tracker refuses it
	log    *slog.Logger
	ev     *emitter
	cnt    counters
	pool   offerPool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	swarms   map[identity.InfoHash]*Swarm
	trackers []*tracker
	p2p      bool
	closed   bool
	lastUp   int // -1 unknown, 0 down, 1 up: last serverConnected emitted
}

// tracker is one tracker connection shared by the swarms.
type tracker struct {
	url string
	c   atomic.Pointer[trackerclient.Client]
	up  atomic.Bool
}

// New starts an engine. P2P starts enabled when Connector and Announce are
// set, unless P2PDisabled; otherwise every byte comes over HTTP.
func New(cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, swarms: map[identity.InfoHash]*Swarm{}, lastUp: -1}
	id := trackermsg.ID(cfg.PeerID)
	if id == (trackermsg.ID{}) {
		copy(id[:], peerIDPrefix)
		if _, err := rand.Read(id[len(peerIDPrefix):]); err != nil {
			return nil, fmt.Errorf("engine: peer id: %w", err)
		}
	}
	e.peerID.Store(&id)
	if cfg.Hashes == nil && cfg.Validate == nil {
		e.log.Warn("no hash source: bytes from peers are not verified against the origin's")
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.ev = newEmitter(cfg.OnEvent)
	e.pool.e = e
	e.ev.emit(Event{Kind: EventPeerID, PeerID: id.String()})
	cfg.Store.OnEvict(e.onEvict)
	e.wg.Add(1)
	go e.statsLoop()
	if !cfg.P2PDisabled {
		if err := e.SetP2PEnabled(true); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// PeerID returns this peer's id in hex.
func (e *Engine) PeerID() string { return e.self().String() }

// self returns this peer's current id: the one the tracker accepted last,
// which every new handshake and announce carries.
func (e *Engine) self() trackermsg.ID { return *e.peerID.Load() }

// renewPeerID adopts id, the fresh peer id that tracker from took after it
// was refused the old one (held by another connection, which may be an
// attacker replaying it). Peers already connected keep knowing this peer by
// the old id; the other trackers are reconnected under the new one, so
// that every tracker and every new handshake agree on it.
func (e *Engine) renewPeerID(from *tracker, id trackermsg.ID) {
	e.peerID.Store(&id)
	e.ev.emit(Event{Kind: EventPeerID, PeerID: id.String()})
	e.mu.Lock()
	var others []*tracker
	for _, t := range e.trackers {
		if t != from {
			others = append(others, t)
		}
	}
	if len(others) > 0 && !e.closed {
		// Not on from's callback goroutine: restarting waits for the
		// other clients' callbacks, which may wait on this one.
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for _, t := range others {
				if c := t.c.Load(); c != nil {
					c.Close()
				}
				e.startTracker(t) // closes it again if P2P stopped meanwhile
			}
		}()
	}
	e.mu.Unlock()
}

// Stats returns the running totals.
func (e *Engine) Stats() Stats {
	return Stats{
		HTTPDownloaded:  e.cnt.http.Load(),
		P2PDownloaded:   e.cnt.p2pDown.Load(),
		P2PUploaded:     e.cnt.p2pUp.Load(),
		P2PDownloadRate: e.cnt.rate.rate(time.Now()),
	}
}

// P2PEnabled reports whether peers are in use.
func (e *Engine) P2PEnabled() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.p2p
}

// SetP2PEnabled starts or stops the peer network. Stopping closes every peer
// and tracker connection; reads carry on over HTTP.
func (e *Engine) SetP2PEnabled(on bool) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	if on == e.p2p {
		e.mu.Unlock()
		return nil
	}
	if on && (e.cfg.Connector == nil || len(e.cfg.Announce) == 0) {
		e.mu.Unlock()
		return nil // nothing to run P2P with: HTTP only
	}
	e.p2p = on
	old := e.trackers
	e.trackers = nil
	swarms := e.swarmList()
	if on {
		for _, u := range e.cfg.Announce {
			e.trackers = append(e.trackers, &tracker{url: u})
		}
	}
	trs := e.trackers
	e.mu.Unlock()

	for _, t := range old {
		if c := t.c.Load(); c != nil {
			c.Close()
		}
	}
	if on {
		e.pool.start()
	} else {
		e.pool.stop()
	}
	for _, s := range swarms {
		s.setP2P(on)
	}
	for _, t := range trs {
		e.startTracker(t)
	}
	if !on {
		e.setServerUp(false)
	}
	return nil
}

func (e *Engine) startTracker(t *tracker) {
	c, err := trackerclient.New(trackerclient.Config{URL: t.url, PeerID: e.self(), FreshPeerID: true, Logger: e.log}, trackerclient.Events{
		OnPeerID: func(id trackermsg.ID) { e.renewPeerID(t, id) },
		OnConnect: func(up bool, err error) {
			t.up.Store(up)
			if err != nil {
				e.exception(CodeTracker, fmt.Errorf("tracker %s: %w", t.url, err))
			}
			e.refreshServerUp()
			if up {
				for _, s := range e.swarmsSnapshot() {
					s.trackerUp(t)
				}
			}
		},
		OnOffer: func(ih, from, offerID trackermsg.ID, sdp string) {
			if s := e.swarm(identity.InfoHash(ih)); s != nil {
				s.onOffer(t, from, offerID, sdp)
			}
		},
		OnAnswer: func(ih, from, offerID trackermsg.ID, sdp string) {
			if s := e.swarm(identity.InfoHash(ih)); s != nil {
				s.onAnswer(from, offerID, sdp)
			}
		},
		OnResponse: func(ih trackermsg.ID, interval time.Duration, complete, incomplete int) {
			if s := e.swarm(identity.InfoHash(ih)); s != nil {
				s.onResponse(t, interval, complete, incomplete)
			}
		},
		OnFailure: func(ih *trackermsg.ID, reason string) {
			e.exception(CodeTracker, fmt.Errorf("tracker %s: %s", t.url, reason))
		},
	})
	if err != nil {
		e.exception(CodeTracker, fmt.Errorf("tracker %s: %w", t.url, err))
		return
	}
	t.c.Store(c)
	e.mu.Lock()
	stale := !e.p2p || e.closed || !e.hasTracker(t)
	e.mu.Unlock()
	if stale {
		c.Close()
	}
}

func (e *Engine) hasTracker(t *tracker) bool {
	for _, x := range e.trackers {
		if x == t {
			return true
		}
	}
	return false
}

func (e *Engine) refreshServerUp() {
	e.mu.Lock()
	up := false
	for _, t := range e.trackers {
		up = up || t.up.Load()
	}
	e.mu.Unlock()
	e.setServerUp(up)
}

func (e *Engine) setServerUp(up bool) {
	v := 0
	if up {
		v = 1
	}
	e.mu.Lock()
	changed := e.lastUp != v
	e.lastUp = v
	e.mu.Unlock()
	if changed {
		e.ev.emit(Event{Kind: EventServerConnected, Connected: up})
	}
}

// activeTrackers returns the trackers currently connected.
func (e *Engine) activeTrackers() []*tracker {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*tracker
	for _, t := range e.trackers {
		if t.up.Load() && t.c.Load() != nil {
			out = append(out, t)
		}
	}
	return out
}

// Join returns the swarm of a channel, joining it on first use. channelID is
// either identity.ChannelID of the media URL or, with custom set, the site's
// own channel id (which requires a token).
func (e *Engine) Join(channelID string, custom bool) (*Swarm, error) {
	id, err := identity.NewSwarm(e.cfg.Token, channelID, custom, e.cfg.PieceLength)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	if s, ok := e.swarms[id.InfoHash]; ok {
		e.mu.Unlock()
		return s, nil
	}
	s := newSwarm(e, id)
	e.swarms[id.InfoHash] = s
	p2p := e.p2p
	e.mu.Unlock()
	s.start(p2p)
	return s, nil
}

// JoinURL joins the swarm of a media URL under its default channel id.
func (e *Engine) JoinURL(mediaURL string) (*Swarm, error) {
	ch, err := identity.ChannelID(mediaURL)
	if err != nil {
		return nil, err
	}
	return e.Join(ch, false)
}

func (e *Engine) swarm(ih identity.InfoHash) *Swarm {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.swarms[ih]
}

func (e *Engine) swarmsSnapshot() []*Swarm {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.swarmList()
}

func (e *Engine) swarmList() []*Swarm {
	out := make([]*Swarm, 0, len(e.swarms))
	for _, s := range e.swarms {
		out = append(out, s)
	}
	return out
}

func (e *Engine) onEvict(k identity.PieceKey) {
	if s := e.swarm(k.Swarm); s != nil {
		s.onEvict(k)
	}
}

// Peers lists the connected peers of every swarm.
func (e *Engine) Peers() []PeerInfo {
	var out []PeerInfo
	for _, s := range e.swarmsSnapshot() {
		out = append(out, s.peerInfos()...)
	}
	return out
}

func (e *Engine) peersChanged() {
	e.ev.emit(Event{Kind: EventPeers, Peers: e.Peers()})
}

func (e *Engine) exception(code string, err error) {
	e.log.Warn("engine exception", "code", code, "err", err)
	e.ev.emit(Event{Kind: EventException, Exception: Exception{Code: code, Message: err.Error()}})
}

func (e *Engine) statsLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.StatsInterval)
	defer t.Stop()
	var last Stats
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		st := e.Stats()
		if st != last {
			last = st
			e.ev.emit(Event{Kind: EventStats, Stats: st})
			// Per-peer byte counts moved too.
			if peers := e.Peers(); len(peers) > 0 {
				e.ev.emit(Event{Kind: EventPeers, Peers: peers})
			}
		}
	}
}

// Close leaves every swarm (announcing "stopped"), closes the peers and the
// trackers and stops the engine. Pending reads fail with ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	swarms := e.swarmList()
	e.mu.Unlock()
	e.pool.stop()
	for _, s := range swarms {
		s.close() // announces "stopped" on the trackers still connected
	}
	e.mu.Lock()
	trs := e.trackers
	e.trackers = nil
	e.mu.Unlock()
	for _, t := range trs {
		if c := t.c.Load(); c != nil {
			c.Close()
		}
	}
	e.cancel()
	e.wg.Wait()
	e.ev.emit(Event{Kind: EventStats, Stats: e.Stats()})
	e.ev.emit(Event{Kind: EventPeers, Peers: []PeerInfo{}})
	e.mu.Lock()
	wasUp := e.lastUp == 1
	e.mu.Unlock()
	if wasUp {
		e.setServerUp(false)
	}
	e.ev.close()
	return nil
}
