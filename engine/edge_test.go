//go:build !js

package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// TestFollowEdge has peer B, which took segment "1" from peer A, ask for
// segment "2" at the same moment as A, with a deadline of a few seconds,
// as a viewer that caught up with another does: A, which fetched "1" from
// the origin, does not wait; B waits for A, and the origin serves "2" once.
// A third peer, which took nothing from peers, and one whose peers hold
// "2" already, do not wait.
func TestFollowEdge(t *testing.T) {
	seg1, seg2 := swarmtest.Media(2*pieceLen+100), swarmtest.Media(3*pieceLen+200)
	url1, url2 := swarmtest.Origin(t, seg1), swarmtest.Origin(t, seg2)
	announce := swarmtest.Tracker(t)
	open := func(e *engine.Engine) (*engine.Swarm, *engine.Resource, *engine.Resource) {
		sw, _ := join(t, e, url1)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		r1, err := sw.Resource(ctx, "1", url1)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := sw.Resource(ctx, "2", url2)
		if err != nil {
			t.Fatal(err)
		}
		return sw, r1, r2
	}
	a, b := newEngine(t, announce), newEngine(t, announce)
	_, a1, a2 := open(a)
	sb, b1, b2 := open(b)
	checkReads(t, readPieces(a1, all(a1.PieceCount()), in(0)), seg1, false)
	checkReads(t, readPieces(b1, all(b1.PieceCount()), in(10*time.Second)), seg1, true)
	if st := b.Stats(); st.P2PDownloaded != int64(len(seg1)) {
		t.Fatalf("B: stats %+v, want segment 1 from A", st)
	}
	waitFor(t, "A to learn that B holds segment 1", func() bool { return sb.PeerHolds(b1, 0) })
	if a2.FollowEdge("1") {
		t.Error("A, which fetched segment 1 from the origin, waits for its peers")
	}
	if !b2.FollowEdge("1") {
		t.Fatal("B does not wait: A holds segment 1 and nobody segment 2")
	}
	before := a.Stats().HTTPDownloaded + b.Stats().HTTPDownloaded
	done := make(chan []readResult, 2)
	for _, r := range []*engine.Resource{a2, b2} {
		go func() { done <- readPieces(r, all(r.PieceCount()), in(4*time.Second)) }()
	}
	for range 2 {
		checkReads(t, <-done, seg2, true)
	}
	if got := a.Stats().HTTPDownloaded + b.Stats().HTTPDownloaded - before; got != int64(len(seg2)) {
		t.Errorf("A and B fetched %d bytes of segment 2 from the origin, want %d (A, once)", got, len(seg2))
	}

	c := newEngine(t, announce)
	sc, _, c2 := open(c)
	waitFor(t, "C to see a peer holding segment 2", func() bool { return sc.PeerHolds(c2, 0) })
	if c2.FollowEdge("1") {
		t.Error("C waits for a segment its peers hold, after a segment it did not take from them")
	}
}
