//go:build !js

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/transport"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// TestHTTPOnly reads a whole resource with no peer network: every byte is
// the origin's and is counted as HTTP.
func TestHTTPOnly(t *testing.T) {
	data := swarmtest.Media(5*pieceLen + 777)
	url := swarmtest.Origin(t, data)
	var ev recorder
	e := newEngine(t, "", httpOnly, ev.option())
	if e.P2PEnabled() {
		t.Error("P2PEnabled with neither Connector nor Announce")
	}
	if err := e.SetP2PEnabled(true); err != nil || e.P2PEnabled() {
		t.Errorf("SetP2PEnabled(true) = %v, P2PEnabled %t: want nil and false", err, e.P2PEnabled())
	}
	_, r := join(t, e, url)
	if got, want := r.PieceCount(), pieceCount(data); got != want {
		t.Fatalf("PieceCount %d, want %d", got, want)
	}
	checkReads(t, readPieces(r, all(r.PieceCount()), in(0)), data, false)
	if _, err := r.ReadPiece(context.Background(), r.PieceCount(), time.Time{}); err == nil {
		t.Error("ReadPiece past the last piece succeeded")
	}
	for i := range r.PieceCount() {
		if !r.Have(i) {
			t.Errorf("piece %d read but not held", i)
		}
	}
	st := e.Stats()
	if st.HTTPDownloaded != int64(len(data)) || st.P2PDownloaded != 0 || st.P2PUploaded != 0 {
		t.Errorf("stats %+v, want HTTPDownloaded %d and no P2P", st, len(data))
	}
	if n := len(e.Peers()); n != 0 {
		t.Errorf("%d peers without a peer network", n)
	}
	// A piece read again comes from the store: no new HTTP bytes.
	checkReads(t, readPieces(r, []int{0}, in(0)), data, false)
	if got := e.Stats().HTTPDownloaded; got != int64(len(data)) {
		t.Errorf("HTTPDownloaded %d after re-reading a held piece, want %d", got, len(data))
	}
	e.Close()
	if ev.exception(engine.CodeTracker) || ev.any(func(ev engine.Event) bool { return ev.Kind == engine.EventServerConnected }) {
		t.Error("tracker events from an engine without trackers")
	}
}

// TestTwoPeers has peer A read a file over HTTP, then peer B, joining later
// with far deadlines, take all of it from A. It checks the byte counts on
// both sides and that the events agree with them.
func TestTwoPeers(t *testing.T) {
	data := swarmtest.Media(10*pieceLen + 1234)
	size := int64(len(data))
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)
	var evA, evB recorder
	a := newEngine(t, announce, evA.option())
	_, ra := join(t, a, url)
	checkReads(t, readPieces(ra, all(ra.PieceCount()), in(0)), data, false)
	if st := a.Stats(); st.HTTPDownloaded != size || st.P2PDownloaded != 0 {
		t.Fatalf("A: stats %+v, want everything over HTTP", st)
	}

	b := newEngine(t, announce, evB.option())
	sb, rb := join(t, b, url)
	checkReads(t, readPieces(rb, all(rb.PieceCount()), in(20*time.Second)), data, true)

	if st := b.Stats(); st.HTTPDownloaded != 0 || st.P2PDownloaded != size {
		t.Errorf("B: stats %+v, want HTTPDownloaded 0 and P2PDownloaded %d", st, size)
	}
	if st := a.Stats(); st.P2PUploaded != size {
		t.Errorf("A: P2PUploaded %d, want %d", st.P2PUploaded, size)
	}
	ch := sb.ID().ChannelID
	if ps := b.Peers(); len(ps) != 1 || ps[0].ID != a.PeerID() || ps[0].Swarm != ch || ps[0].Downloaded != size {
		t.Errorf("B: peers %+v, want A (%s) in %s with %d bytes downloaded", ps, a.PeerID(), ch, size)
	}
	if ps := a.Peers(); len(ps) != 1 || ps[0].ID != b.PeerID() || ps[0].Uploaded != size {
		t.Errorf("A: peers %+v, want B (%s) with %d bytes uploaded", ps, b.PeerID(), size)
	}

	a.Close()
	b.Close() // delivers the final stats event
	for _, side := range []struct {
		name string
		e    *engine.Engine
		ev   *recorder
		peer string
	}{{"A", a, &evA, b.PeerID()}, {"B", b, &evB, a.PeerID()}} {
		evs := side.ev.events()
		if len(evs) == 0 || evs[0].Kind != engine.EventPeerID || evs[0].PeerID != side.e.PeerID() {
			t.Errorf("%s: first event %+v, want its peer id %s", side.name, evs[:min(1, len(evs))], side.e.PeerID())
		}
		var ids, ups int
		var last engine.Stats
		sawPeer := false
		for _, ev := range evs {
			switch ev.Kind {
			case engine.EventPeerID:
				ids++
			case engine.EventServerConnected:
				if ev.Connected {
					ups++
				}
			case engine.EventPeers:
				for _, p := range ev.Peers {
					sawPeer = sawPeer || (p.ID == side.peer && p.Swarm == ch)
				}
			case engine.EventStats:
				s := ev.Stats
				if s.HTTPDownloaded < last.HTTPDownloaded || s.P2PDownloaded < last.P2PDownloaded || s.P2PUploaded < last.P2PUploaded {
					t.Errorf("%s: stats went backwards: %+v after %+v", side.name, s, last)
				}
				last = s
			case engine.EventException:
				t.Errorf("%s: exception %+v", side.name, ev.Exception)
			}
		}
		if ids != 1 {
			t.Errorf("%s: %d peerId events, want 1", side.name, ids)
		}
		if ups == 0 {
			t.Errorf("%s: no serverConnected true event", side.name)
		}
		if !sawPeer {
			t.Errorf("%s: no peers event listing %s", side.name, side.peer)
		}
		if st := side.e.Stats(); last.HTTPDownloaded != st.HTTPDownloaded || last.P2PDownloaded != st.P2PDownloaded || last.P2PUploaded != st.P2PUploaded {
			t.Errorf("%s: last stats event %+v, Stats() %+v", side.name, last, st)
		}
	}
}

// closedPortURL returns a ws:// URL on a local port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "ws://" + addr + "/announce"
}

// TestTrackerUnreachable points the engine at a tracker that refuses
// connections: reads succeed over HTTP and the failure is reported.
func TestTrackerUnreachable(t *testing.T) {
	data := swarmtest.Media(3*pieceLen + 10)
	url := swarmtest.Origin(t, data)
	var ev recorder
	e := newEngine(t, closedPortURL(t), ev.option())
	if !e.P2PEnabled() {
		t.Error("P2P disabled although Connector and Announce are set")
	}
	_, r := join(t, e, url)
	checkReads(t, readPieces(r, all(r.PieceCount()), in(0)), data, false)
	if st := e.Stats(); st.HTTPDownloaded != int64(len(data)) || st.P2PDownloaded != 0 {
		t.Errorf("stats %+v, want everything over HTTP", st)
	}
	waitFor(t, "a TRACKER_EXPT exception", func() bool { return ev.exception(engine.CodeTracker) })
	waitFor(t, "serverConnected false", func() bool { return ev.connected(false) })
	if ev.connected(true) {
		t.Error("serverConnected true without a tracker")
	}
}

// TestSetP2PEnabled turns B's peer network off and on: off closes its peers
// and reads go over HTTP; on finds the peer again through the tracker and
// reads come from it.
func TestSetP2PEnabled(t *testing.T) {
	data := swarmtest.Media(4 * pieceLen)
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)
	a := newEngine(t, announce)
	sa, ra := join(t, a, url)
	checkReads(t, readPieces(ra, all(ra.PieceCount()), in(0)), data, false)

	var ev recorder
	b := newEngine(t, announce, ev.option())
	sb, rb := join(t, b, url)
	checkReads(t, readPieces(rb, []int{0}, in(20*time.Second)), data, true)
	if st := b.Stats(); st.P2PDownloaded != pieceLen || st.HTTPDownloaded != 0 {
		t.Fatalf("B: stats %+v after piece 0, want it from A", st)
	}

	if err := b.SetP2PEnabled(false); err != nil {
		t.Fatalf("SetP2PEnabled(false): %v", err)
	}
	if b.P2PEnabled() {
		t.Error("P2PEnabled after SetP2PEnabled(false)")
	}
	if n := sb.PeerCount(); n != 0 {
		t.Errorf("B: %d peers after SetP2PEnabled(false)", n)
	}
	waitFor(t, "serverConnected false on B", func() bool { return ev.connected(false) })
	waitFor(t, "A to notice B left", func() bool { return sa.PeerCount() == 0 })
	checkReads(t, readPieces(rb, []int{1}, in(0)), data, false)
	if st := b.Stats(); st.P2PDownloaded != pieceLen || st.HTTPDownloaded != pieceLen {
		t.Errorf("B: stats %+v after piece 1 with P2P off, want it over HTTP", st)
	}

	if err := b.SetP2PEnabled(true); err != nil {
		t.Fatalf("SetP2PEnabled(true): %v", err)
	}
	waitFor(t, "B to reconnect to A", func() bool { return sb.PeerCount() == 1 })
	checkReads(t, readPieces(rb, []int{2}, in(20*time.Second)), data, true)
	if st := b.Stats(); st.P2PDownloaded != 2*pieceLen || st.HTTPDownloaded != pieceLen {
		t.Errorf("B: stats %+v after piece 2 with P2P back on, want it from A", st)
	}
}

// TestResourceVersions has A and B share a custom channel while their
// origins serve different versions (ETags) of the same resource: they meet
// but never exchange bytes.
func TestResourceVersions(t *testing.T) {
	const token, channel = "site-token", "shared-channel"
	dataA := swarmtest.Media(4 * pieceLen)
	dataB := append([]byte(nil), dataA...)
	for i := range dataB {
		dataB[i] ^= 0x5a
	}
	urlA, urlB := swarmtest.Origin(t, dataA), swarmtest.Origin(t, dataB)
	if stat(t, urlA).ETag == stat(t, urlB).ETag {
		t.Fatal("the two origins give the same ETag")
	}
	announce := swarmtest.Tracker(t)
	withToken := func(c *engine.Config) { c.Token = token }
	resource := func(e *engine.Engine, url string) (*engine.Swarm, *engine.Resource) {
		sw, err := e.Join(channel, true)
		if err != nil {
			t.Fatal(err)
		}
		r, err := sw.Resource(context.Background(), "", url)
		if err != nil {
			t.Fatal(err)
		}
		return sw, r
	}
	a := newEngine(t, announce, withToken)
	_, ra := resource(a, urlA)
	checkReads(t, readPieces(ra, all(ra.PieceCount()), in(0)), dataA, false)

	b := newEngine(t, announce, withToken)
	sb, rb := resource(b, urlB)
	waitFor(t, "B to connect to A", func() bool { return sb.PeerCount() == 1 })
	for i := range rb.PieceCount() {
		if sb.PeerHolds(rb, i) {
			t.Errorf("B believes A holds piece %d of B's version", i)
		}
	}
	checkReads(t, readPieces(rb, all(rb.PieceCount()), in(3*time.Second)), dataB, true)
	if st := b.Stats(); st.HTTPDownloaded != int64(len(dataB)) || st.P2PDownloaded != 0 {
		t.Errorf("B: stats %+v, want everything over HTTP", st)
	}
	if st := a.Stats(); st.P2PUploaded != 0 {
		t.Errorf("A uploaded %d bytes of another version", st.P2PUploaded)
	}
}

// TestCloseFailsPendingReads closes engines with reads pending, one waiting
// for its deadline and one with its HTTP fetch under way at an origin that
// never answers: both return ErrClosed at once, and so do later calls.
func TestCloseFailsPendingReads(t *testing.T) {
	data := swarmtest.Media(2 * pieceLen)
	tests := []struct {
		name     string
		deadline time.Duration
		hang     bool
	}{
		{"waiting for its deadline", time.Minute, false},
		{"HTTP fetch under way", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := swarmtest.Origin(t, data)
			info := stat(t, url)
			started := make(chan struct{}, 1)
			if tt.hang {
				url = hangingOrigin(t, started)
			}
			e := newEngine(t, "", httpOnly)
			sw, err := e.JoinURL(url)
			if err != nil {
				t.Fatal(err)
			}
			r, err := sw.ResourceWithInfo("", url, info)
			if err != nil {
				t.Fatal(err)
			}
			res := make(chan error, 1)
			go func() {
				_, err := r.ReadPiece(context.Background(), 0, in(tt.deadline)(0))
				res <- err
			}()
			if tt.hang {
				select {
				case <-started:
				case <-time.After(waitLimit):
					t.Fatal("the engine never asked the origin")
				}
			}
			closed := make(chan struct{})
			go func() {
				e.Close()
				close(closed)
			}()
			select {
			case err := <-res:
				if !errors.Is(err, engine.ErrClosed) {
					t.Errorf("pending ReadPiece returned %v, want ErrClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("pending ReadPiece still blocked 5 s after Close")
			}
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Fatal("Close still blocked after 5 s")
			}
			if _, err := r.ReadPiece(context.Background(), 1, time.Time{}); !errors.Is(err, engine.ErrClosed) {
				t.Errorf("ReadPiece after Close: %v, want ErrClosed", err)
			}
			if _, err := e.JoinURL(url); !errors.Is(err, engine.ErrClosed) {
				t.Errorf("JoinURL after Close: %v, want ErrClosed", err)
			}
			if err := e.SetP2PEnabled(true); !errors.Is(err, engine.ErrClosed) {
				t.Errorf("SetP2PEnabled after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestSimultaneousJoin has four engines join one swarm at the same moment.
// Each learns from the tracker that others are there and offers to all of
// them at once, so pairs of engines offer to each other: both connections
// of such a pair go ahead (one is kept), and every engine meets every other
// well within the connection timeout.
func TestSimultaneousJoin(t *testing.T) {
	data := swarmtest.Media(pieceLen)
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)
	const n = 4
	engines := make([]*engine.Engine, n)
	for i := range engines {
		engines[i] = newEngine(t, announce)
	}
	swarms := make([]*engine.Swarm, n)
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw, err := e.JoinURL(url)
			if err != nil {
				t.Errorf("JoinURL: %v", err)
				return
			}
			swarms[i] = sw
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	deadline := time.Now().Add(10 * time.Second) // connectTimeout is 20 s
	for i, sw := range swarms {
		for sw.PeerCount() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("engine %d has %d peers after 10 s, want %d", i, sw.PeerCount(), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestOffersPerCountedPeer joins engines one after another: each sends one
// offer per peer the tracker counted before it (a tracker relays each offer
// to a different peer, so more would wait for an answer that never comes),
// and connects to every one of them.
func TestOffersPerCountedPeer(t *testing.T) {
	url := swarmtest.Origin(t, swarmtest.Media(pieceLen))
	announce := swarmtest.Tracker(t)
	var swarms []*engine.Swarm
	for i := range 3 {
		var sent atomic.Int32
		sw, _ := join(t, newEngine(t, announce, countOffers(&sent)), url)
		swarms = append(swarms, sw)
		for j, s := range swarms {
			waitFor(t, fmt.Sprintf("engine %d to connect to the %d others", j, i), func() bool { return s.PeerCount() == i })
		}
		time.Sleep(200 * time.Millisecond) // time for offers that should not go
		if got := int(sent.Load()); got != i {
			t.Errorf("engine %d sent %d offers with %d peers in the swarm, want %d", i, got, i, i)
		}
	}
}

// TestOffersWaitForPool joins a swarm while the engine's offer pool is
// still making its offers (they wait at a gate): the announce to the peer
// the tracker counted waits for the pool's offers instead of making more,
// which would slow them all down on a browser's one thread; the pool holds
// two; once the offers are made, the peers connect.
func TestOffersWaitForPool(t *testing.T) {
	url := swarmtest.Origin(t, swarmtest.Media(pieceLen))
	announce := swarmtest.Tracker(t)
	first, _ := join(t, newEngine(t, announce), url)
	g := &gatedConnector{gate: make(chan struct{})}
	e := newEngine(t, announce, func(c *engine.Config) { g.Connector, c.Connector = c.Connector, g })
	sw, _ := join(t, e, url)
	time.Sleep(500 * time.Millisecond) // time for the announces and for offers that should not be made
	if n, most := g.counts(); n != 2 || most != 2 {
		t.Errorf("with the pool's offers at the gate: %d offers begun, at most %d at once; want 2 and 2 (the pool's two)", n, most)
	}
	close(g.gate)
	waitFor(t, "the late engine to connect", func() bool { return sw.PeerCount() == 1 && first.PeerCount() == 1 })
	if n, most := g.counts(); most > 2 || n > 3 {
		t.Errorf("%d offers begun, at most %d at once; want at most 2 at once and 3 in all (the pool's two and the one that refills it)", n, most)
	}
}

// gatedConnector holds every offer at its gate until the gate closes, and
// counts them.
type gatedConnector struct {
	transport.Connector
	gate chan struct{}

	mu          sync.Mutex
	begun, busy int
	most        int
}

func (c *gatedConnector) Offer(ctx context.Context) (transport.Offer, error) {
	c.mu.Lock()
	c.begun++
	c.busy++
	c.most = max(c.most, c.busy)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.busy--
		c.mu.Unlock()
	}()
	select {
	case <-c.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c.Connector.Offer(ctx)
}

// counts returns the offers begun and the most at once.
func (c *gatedConnector) counts() (begun, most int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.begun, c.most
}

// countOffers counts in sent the offers an engine's connector hands to a
// tracker (those whose SDP is read).
func countOffers(sent *atomic.Int32) func(*engine.Config) {
	return func(c *engine.Config) {
		c.Connector = &offerCounter{Connector: c.Connector, sent: sent}
	}
}

type offerCounter struct {
	transport.Connector
	sent *atomic.Int32
}

func (c *offerCounter) Offer(ctx context.Context) (transport.Offer, error) {
	o, err := c.Connector.Offer(ctx)
	if err != nil {
		return nil, err
	}
	return countedOffer{Offer: o, sent: c.sent}, nil
}

type countedOffer struct {
	transport.Offer
	sent *atomic.Int32
}

func (o countedOffer) SDP() string {
	o.sent.Add(1)
	return o.Offer.SDP()
}
