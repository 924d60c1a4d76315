// Package interop checks the engine against third-party implementations of
// the protocols it speaks.
package interop

import (
	"context"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/tests/interop/bttracker"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// TestEnginesMeetThroughBittorrentTracker runs two native engines whose only
// tracker is bittorrent-tracker from npm: the later one must find the earlier
// one through it and take the file from it, byte for byte.
func TestEnginesMeetThroughBittorrentTracker(t *testing.T) {
	ws := bttracker.Start(t)
	sc := swarmtest.Scenario{Peers: 2, Size: 6 << 20, Bitrate: 2 << 20, JoinEvery: 2 * time.Second, BufferAhead: 3 * time.Second, Startup: 2 * time.Second, Announce: ws}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := swarmtest.Run(ctx, t, sc)
	t.Log(res.Line(sc))
	if !res.Identical {
		t.Fatal("bytes differ from the origin's")
	}
	if res.DeadlineMisses != 0 {
		t.Errorf("%d reads missed their deadline", res.DeadlineMisses)
	}
	late := res.Peers[1]
	if late.P2P < sc.Size/2 {
		t.Errorf("second engine took %d of %d bytes from its peer through bittorrent-tracker; want most", late.P2P, sc.Size)
	}
	if res.Peers[0].Uploaded == 0 {
		t.Error("first engine uploaded nothing")
	}
}
