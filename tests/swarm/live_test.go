package swarm

import (
	"context"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// TestLive4: four viewers of a live stream. Only the peer elected for each
// segment fetches it from the origin; the others take it from peers, so the
// origin serves well under one copy per viewer per segment, with no read late.
func TestLive4(t *testing.T) {
	sc := swarmtest.LiveScenario{Peers: 4, Segments: 10, SegmentSize: 1 << 20, SegmentDuration: time.Second, Latency: 4 * time.Second, ReloadJitter: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := swarmtest.RunLive(ctx, t, sc)
	t.Log(res.Line(sc))
	if !res.Identical {
		t.Error("a viewer received bytes that differ from the origin's")
	}
	if res.DeadlineMisses != 0 {
		t.Errorf("%d segments were late", res.DeadlineMisses)
	}
	if res.FetchesPerSegment > 1.5 {
		t.Errorf("%.2f origin copies per segment, want at most 1.5", res.FetchesPerSegment)
	}
	// One ranged GET per piece of the elected fetcher, and no HEAD: a viewer
	// learns a segment's size from the peer that fetched it.
	pieces := float64((sc.SegmentSize + identity.DefaultPieceLength - 1) / identity.DefaultPieceLength)
	if res.RequestsPerSegment > 1.5*pieces {
		t.Errorf("%.2f origin requests per segment of %.0f pieces, want at most %.1f", res.RequestsPerSegment, pieces, 1.5*pieces)
	}
}
