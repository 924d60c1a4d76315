package trackerclient

import (
	"context"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/tests/interop/bttracker"
)

// TestBittorrentTracker runs two clients against bittorrent-tracker, the
// WebTorrent project's own tracker: A's offer reaches B, B's answer reaches A.
func TestBittorrentTracker(t *testing.T) {
	url := bttracker.Start(t)

	newPeer := func() (*Client, *recorder, trackermsg.ID) {
		id := randomID(t)
		rec := newRecorder()
		c, err := New(Config{URL: url, PeerID: id, MinBackoff: 10 * time.Millisecond}, rec.events())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		rec.expect(t, connectEvent{Connected: true})
		return c, rec, id
	}
	ctx := context.Background()
	infoHash := randomID(t)
	// bittorrent-tracker's WebSocket interval: its 10-minute default / 5.
	const interval = 2 * time.Minute

	a, recA, idA := newPeer()
	firstOffer := trackermsg.Offer{Offer: trackermsg.SDP{Type: "offer", SDP: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}, OfferID: randomID(t)}
	if err := a.Announce(ctx, Announce{InfoHash: infoHash, Event: "started", NumWant: 1, Left: -1,
		Offers: []trackermsg.Offer{firstOffer}}); err != nil {
		t.Fatalf("A announce: %v", err)
	}
	recA.expect(t, responseEvent{infoHash, interval, 0, 1})

	b, recB, idB := newPeer()
	if err := b.Announce(ctx, Announce{InfoHash: infoHash, Event: "started", NumWant: 1, Left: 1000}); err != nil {
		t.Fatalf("B announce: %v", err)
	}
	recB.expect(t, responseEvent{infoHash, interval, 0, 2})

	// The tracker relays offers only to peers already in the swarm: A's
	// second announce is the one that reaches B.
	offer := trackermsg.Offer{Offer: trackermsg.SDP{Type: "offer", SDP: "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\n"}, OfferID: randomID(t)}
	if err := a.Announce(ctx, Announce{InfoHash: infoHash, NumWant: 1, Left: -1,
		Offers: []trackermsg.Offer{offer}}); err != nil {
		t.Fatalf("A re-announce: %v", err)
	}
	recA.expect(t, responseEvent{infoHash, interval, 0, 2})
	recB.expect(t, offerEvent{infoHash, idA, offer.OfferID, offer.Offer.SDP})

	const answer = "v=0\r\no=- 3 1 IN IP4 127.0.0.1\r\n"
	if err := b.Answer(ctx, infoHash, idA, offer.OfferID, answer); err != nil {
		t.Fatalf("B answer: %v", err)
	}
	recA.expect(t, answerEvent{infoHash, idB, offer.OfferID, answer})

	// A completes; B leaves.
	if err := a.Announce(ctx, Announce{InfoHash: infoHash, Event: "completed", Left: 0}); err != nil {
		t.Fatalf("A completed: %v", err)
	}
	recA.expect(t, responseEvent{infoHash, interval, 1, 1})
	if err := b.Announce(ctx, Announce{InfoHash: infoHash, Event: "stopped", Left: 1000}); err != nil {
		t.Fatalf("B stopped: %v", err)
	}
	recB.expect(t, responseEvent{infoHash, interval, 1, 0})
}
