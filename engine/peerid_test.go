//go:build !js

package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/trackerclient"
	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// TestSquattedPeerIDRenewed: a connection that already holds this engine's
// peer id in the swarm (an attacker replaying an id it saw) makes the
// tracker refuse the engine's announce; the engine takes a fresh id, tells
// the page, and still gets every piece from its honest peer.
func TestSquattedPeerIDRenewed(t *testing.T) {
	data := swarmtest.Media(6*pieceLen + 99)
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)

	seeder := newEngine(t, announce)
	_, rs := join(t, seeder, url)
	checkReads(t, readPieces(rs, all(rs.PieceCount()), in(0)), data, false)

	var stolen trackermsg.ID
	copy(stolen[:], "-PM0001-stolen-id-00")
	squat(t, announce, stolen, trackermsg.ID(swarmOf(t, url).InfoHash))

	var ev recorder
	e := newEngine(t, announce, ev.option(), func(c *engine.Config) { c.PeerID = stolen })
	_, r := join(t, e, url)
	checkReads(t, readPieces(r, all(r.PieceCount()), in(waitLimit)), data, true)

	if st := e.Stats(); st.P2PDownloaded != int64(len(data)) {
		t.Errorf("stats %+v, want every byte from the seeder", st)
	}
	if e.PeerID() == stolen.String() {
		t.Fatalf("engine kept the squatted id %s", stolen)
	}
	if e.PeerID()[:16] != stolen.String()[:16] {
		t.Errorf("fresh id %s lost the client prefix of %s", e.PeerID(), stolen)
	}
	var ids []string
	for _, x := range ev.events() {
		if x.Kind == engine.EventPeerID {
			ids = append(ids, x.PeerID)
		}
	}
	if len(ids) != 2 || ids[0] != stolen.String() || ids[1] != e.PeerID() {
		t.Errorf("peerId events %v, want %s then %s", ids, stolen, e.PeerID())
	}
	if ps := seeder.Peers(); len(ps) != 1 || ps[0].ID != e.PeerID() {
		t.Errorf("seeder's peers %+v, want the engine under its fresh id %s", ps, e.PeerID())
	}
}

// TestRenewedPeerIDOnEveryTracker: when one tracker refuses the engine's id,
// the engine's other trackers learn the fresh one too, so that a peer met
// through any of them shakes hands with the id it was introduced to.
func TestRenewedPeerIDOnEveryTracker(t *testing.T) {
	data := swarmtest.Media(4*pieceLen + 7)
	url := swarmtest.Origin(t, data)
	refusing, other := swarmtest.Tracker(t), swarmtest.Tracker(t)

	var stolen trackermsg.ID
	copy(stolen[:], "-PM0001-stolen-id-01")
	squat(t, refusing, stolen, trackermsg.ID(swarmOf(t, url).InfoHash))

	var ev recorder
	e := newEngine(t, refusing, ev.option(), func(c *engine.Config) {
		c.PeerID = stolen
		c.Announce = []string{refusing, other}
	})
	_, r := join(t, e, url)
	checkReads(t, readPieces(r, all(r.PieceCount()), in(0)), data, false)
	waitFor(t, "a fresh peer id", func() bool { return e.PeerID() != stolen.String() })

	// A peer of the other tracker only, arriving after the renewal.
	late := newEngine(t, other)
	_, rl := join(t, late, url)
	checkReads(t, readPieces(rl, all(rl.PieceCount()), in(waitLimit)), data, true)
	if st := late.Stats(); st.P2PDownloaded != int64(len(data)) {
		t.Errorf("late peer: stats %+v, want every byte from the engine", st)
	}
	if ps := late.Peers(); len(ps) != 1 || ps[0].ID != e.PeerID() {
		t.Errorf("late peer's peers %+v, want the engine under its fresh id %s", ps, e.PeerID())
	}
}

// squat holds id in swarm ih on the tracker at announce, as an attacker
// replaying another peer's id would, until the test ends.
func squat(t *testing.T, announce string, id, ih trackermsg.ID) {
	t.Helper()
	responded := make(chan struct{}, 1)
	sq, err := trackerclient.New(trackerclient.Config{URL: announce, PeerID: id}, trackerclient.Events{
		OnResponse: func(trackermsg.ID, time.Duration, int, int) {
			select {
			case responded <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	waitFor(t, "squatter connected", sq.Connected)
	if err := sq.Announce(context.Background(), trackerclient.Announce{InfoHash: ih, Event: trackermsg.EventStarted, Left: -1}); err != nil {
		t.Fatal(err)
	}
	select { // the tracker answers once the squatter holds the id
	case <-responded:
	case <-time.After(waitLimit):
		t.Fatal("squatter: no announce response")
	}
}
