package swarm

import (
	"context"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
	"testing"
	"time"
)

// TestSwarm4 is the reference scenario: four viewers join a few seconds apart
// and play a 24 MiB file. Every byte must be the origin's, no read may miss
// its deadline, and the later viewers must take most bytes from peers (the
// ideal share is 0.75: one copy from HTTP).
func TestSwarm4(t *testing.T) {
	sc := swarmtest.Scenario{Peers: 4, Size: 24 << 20, Bitrate: 2 << 20, JoinEvery: 3 * time.Second, BufferAhead: 5 * time.Second, Startup: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := swarmtest.Run(ctx, t, sc)
	t.Log(res.Line(sc))
	for i, p := range res.Peers {
		t.Logf("viewer %d: http=%d p2p=%d up=%d misses=%d peers=%d identical=%t", i, p.HTTP, p.P2P, p.Uploaded, p.Misses, p.Peers, p.Identical)
	}
	if !res.Identical {
		t.Error("a viewer received bytes that differ from the origin's")
	}
	if res.DeadlineMisses != 0 {
		t.Errorf("%d reads missed their deadline", res.DeadlineMisses)
	}
	if res.Share < 0.6 {
		t.Errorf("P2P share %.2f, want at least 0.60", res.Share)
	}
	for i, p := range res.Peers[1:] {
		if p.P2P <= p.HTTP {
			t.Errorf("viewer %d took %d bytes from peers and %d over HTTP: want most from peers", i+1, p.P2P, p.HTTP)
		}
	}
}
