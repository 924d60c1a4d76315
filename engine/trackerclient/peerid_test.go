package trackerclient

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/tracker"
)

// peerIDEvents are the callbacks of a client in the peer id tests, each on
// its own channel.
type peerIDEvents struct {
	up        chan error // OnConnect: nil when up, the cause when down
	peerIDs   chan trackermsg.ID
	responses chan responseEvent
	offers    chan offerEvent
	answers   chan answerEvent
	failures  chan failureEvent
}

func newPeerIDEvents() *peerIDEvents {
	return &peerIDEvents{
		up: make(chan error, 64), peerIDs: make(chan trackermsg.ID, 64), responses: make(chan responseEvent, 64),
		offers: make(chan offerEvent, 64), answers: make(chan answerEvent, 64), failures: make(chan failureEvent, 64),
	}
}

// events returns callbacks that record everything and, like the engine,
// announce swarm ih each time the socket comes up.
func (e *peerIDEvents) events(c *atomic.Pointer[Client], ready <-chan struct{}, ih trackermsg.ID) Events {
	return Events{
		OnConnect: func(connected bool, err error) {
			if connected {
				go func() {
					<-ready // New may not have returned yet
					_ = c.Load().Announce(context.Background(), Announce{InfoHash: ih, Event: trackermsg.EventStarted, Left: -1})
				}()
				err = nil
			} else if err == nil {
				err = errors.New("down")
			}
			e.up <- err
		},
		OnPeerID: func(id trackermsg.ID) { e.peerIDs <- id },
		OnResponse: func(infoHash trackermsg.ID, interval time.Duration, complete, incomplete int) {
			e.responses <- responseEvent{infoHash, interval, complete, incomplete}
		},
		OnOffer: func(infoHash, from, offerID trackermsg.ID, sdp string) {
			e.offers <- offerEvent{infoHash, from, offerID, sdp}
		},
		OnAnswer: func(infoHash, from, offerID trackermsg.ID, sdp string) {
			e.answers <- answerEvent{infoHash, from, offerID, sdp}
		},
		OnFailure: func(infoHash *trackermsg.ID, reason string) { e.failures <- failureEvent{infoHash, reason} },
	}
}

func next[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("no %s", what)
		var zero T
		return zero
	}
}

// startTracker runs our tracker on 127.0.0.1 and returns its URL.
func startTracker(t *testing.T) string {
	t.Helper()
	srv := tracker.New(tracker.Config{})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// joined starts a client with peer id pid announcing swarm ih on every
// connection.
func joined(t *testing.T, url string, pid, ih trackermsg.ID, fresh bool) (*Client, *peerIDEvents) {
	t.Helper()
	ev := newPeerIDEvents()
	var p atomic.Pointer[Client]
	ready := make(chan struct{})
	c, err := New(Config{URL: url, PeerID: pid, FreshPeerID: fresh, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, ev.events(&p, ready, ih))
	if err != nil {
		t.Fatal(err)
	}
	p.Store(c)
	close(ready)
	t.Cleanup(func() { c.Close() })
	return c, ev
}

// TestPeerIDTakenRecovers has another connection hold this client's peer id
// in a swarm of our tracker: the client, with FreshPeerID, is refused, takes
// a fresh id with
// the same client prefix, reconnects, joins under it, and trades offers and
// answers with the holder.
func TestPeerIDTakenRecovers(t *testing.T) {
	url := startTracker(t)
	ih := randomID(t)
	taken := trackermsg.ID{'-', 'P', 'M', '0', '0', '0', '1', '-', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

	holder, hev := joined(t, url, taken, ih, false)
	if err := next(t, hev.up, "holder connection"); err != nil {
		t.Fatal(err)
	}
	next(t, hev.responses, "holder's announce response")

	c, ev := joined(t, url, taken, ih, true)
	if err := next(t, ev.up, "first connection"); err != nil {
		t.Fatal(err)
	}
	fresh := next(t, ev.peerIDs, "fresh peer id")
	if err := next(t, ev.up, "disconnection"); !errors.Is(err, ErrPeerIDInUse) {
		t.Fatalf("disconnected with %v, want ErrPeerIDInUse", err)
	}
	if fresh == taken || string(fresh[:8]) != "-PM0001-" || c.PeerID() != fresh {
		t.Fatalf("fresh id %q (PeerID %q) from %q: want another id with the prefix", fresh[:], c.PeerID().String(), taken[:])
	}
	if err := next(t, ev.up, "reconnection"); err != nil {
		t.Fatal(err)
	}
	if r := next(t, ev.responses, "announce response"); r.Complete+r.Incomplete != 2 {
		t.Fatalf("response %+v, want a swarm of 2", r)
	}

	// They are peers now: an offer one way, its answer the other.
	offerID := randomID(t)
	if err := holder.Announce(context.Background(), Announce{InfoHash: ih, NumWant: 1, Left: -1,
		Offers: []trackermsg.Offer{{Offer: trackermsg.SDP{SDP: "v=0 holder"}, OfferID: offerID}}}); err != nil {
		t.Fatal(err)
	}
	if o := next(t, ev.offers, "relayed offer"); o.From != taken || o.OfferID != offerID {
		t.Fatalf("offer %+v, want the holder's", o)
	}
	if err := c.Answer(context.Background(), ih, taken, offerID, "v=0 answer"); err != nil {
		t.Fatal(err)
	}
	if a := next(t, hev.answers, "answer"); a.From != fresh || a.OfferID != offerID {
		t.Fatalf("answer %+v, want one from the fresh id", a)
	}
	select {
	case err := <-hev.up:
		t.Fatalf("the holder's connection changed: %v", err)
	case f := <-ev.failures:
		t.Fatalf("failure %+v", f)
	default:
	}
}

// TestPeerIDTakenKept checks the default policy, which the engine uses: the
// refusal is a failure of the swarm, the socket stays up, and an announce
// after the holder stopped joins under the same id.
func TestPeerIDTakenKept(t *testing.T) {
	url := startTracker(t)
	ih := randomID(t)
	taken := randomID(t)

	holder, hev := joined(t, url, taken, ih, false)
	if err := next(t, hev.up, "holder connection"); err != nil {
		t.Fatal(err)
	}
	next(t, hev.responses, "holder's announce response")

	c, ev := joined(t, url, taken, ih, false)
	if err := next(t, ev.up, "connection"); err != nil {
		t.Fatal(err)
	}
	if f := next(t, ev.failures, "refusal"); f.InfoHash == nil || *f.InfoHash != ih || f.Reason != trackermsg.ReasonPeerIDInUse {
		t.Fatalf("failure %+v, want the refusal of the peer id", f)
	}
	if !c.Connected() || c.PeerID() != taken {
		t.Fatalf("connected %v, peer id %s: want the socket up and the id kept", c.Connected(), c.PeerID())
	}

	if err := holder.Announce(context.Background(), Announce{InfoHash: ih, Event: trackermsg.EventStopped, Left: -1}); err != nil {
		t.Fatal(err)
	}
	next(t, hev.responses, "holder's stopped response")
	if err := c.Announce(context.Background(), Announce{InfoHash: ih, Left: -1}); err != nil {
		t.Fatal(err)
	}
	if r := next(t, ev.responses, "announce response"); r.Complete+r.Incomplete != 1 {
		t.Fatalf("response %+v, want this client alone in the swarm", r)
	}
	select {
	case id := <-ev.peerIDs:
		t.Fatalf("fresh id %s taken without FreshPeerID", id)
	case err := <-ev.up:
		t.Fatalf("connection changed: %v", err)
	default:
	}
}
