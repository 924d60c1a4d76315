package swarm

import (
	"context"
	"testing"
	"time"
)

// TestLive4: four viewers of a live stream. Only the peer elected for each
// segment fetches it from the origin; the others take it from peers, so the
// origin serves well under one copy per viewer per segment, with no read late.
func TestLive4(t *testing.T) {
	sc := LiveScenario{Peers: 4, Segments: 10, SegmentSize: 1 << 20, SegmentDuration: time.Second, Latency: 4 * time.Second, ReloadJitter: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := RunLive(ctx, t, sc)
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
}
