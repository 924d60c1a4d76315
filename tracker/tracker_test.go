package tracker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

// hangGuard bounds every wait in these tests. It only turns a hang into a
// failure; no test asserts how fast anything happens.
const hangGuard = 20 * time.Second

// id derives a test ID from a name.
func id(name string) trackermsg.ID {
	sum := sha1.Sum([]byte(name))
	var v trackermsg.ID
	copy(v[:], sum[:])
	return v
}

func ptr[T any](v T) *T { return &v }

// testServer is a tracker behind a real HTTP server on 127.0.0.1.
type testServer struct {
	*Server
	http  *httptest.Server
	wsURL string
}

// Announce limits for tests that announce as fast as they can.
const (
	unlimitedRate  = 1e12
	unlimitedBurst = 1 << 30
)

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return newTestServerClock(t, cfg, time.Now)
}

// newTestServerClock is newTestServer with now as the clock of the announce
// rate limits.
func newTestServerClock(t *testing.T, cfg Config, now func() time.Time) *testServer {
	t.Helper()
	srv := newServer(cfg, now)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		hs.Close()
	})
	return &testServer{Server: srv, http: hs, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/"}
}

// waitFor polls cond until it holds; it fails the test after hangGuard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// client is a WebTorrent tracker client speaking through coder/websocket.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url string) *client {
	t.Helper()
	c, err := tryDial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &client{t: t, ws: c}
}

func tryDial(url string, hc *http.Client) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	return c, nil
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(m *trackermsg.Message) {
	c.t.Helper()
	b, err := trackermsg.Encode(m)
	if err != nil {
		c.t.Fatalf("encode: %v", err)
	}
	c.sendRaw(b)
}

// read returns the next message or the read error.
func (c *client) read() (*trackermsg.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	m, err := trackermsg.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("tracker sent an undecodable message %s: %w", b, err)
	}
	return m, nil
}

func (c *client) recv() *trackermsg.Message {
	c.t.Helper()
	m, err := c.read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// barrierHash is scraped by sync; no test announces it.
var barrierHash = id("barrier")

// sync returns every message the tracker sent before it answered a scrape
// sent now. Messages to one connection are delivered in order, so anything
// the tracker queued for it earlier arrives before the scrape response.
func (c *client) sync() []*trackermsg.Message {
	c.t.Helper()
	c.send(&trackermsg.Message{Action: trackermsg.ActionScrape, InfoHash: &barrierHash, InfoHashes: []trackermsg.ID{barrierHash}})
	var got []*trackermsg.Message
	for {
		m := c.recv()
		if m.Kind() == trackermsg.KindScrapeResponse {
			if _, ok := m.Files[barrierHash.BinaryString()]; ok {
				return got
			}
		}
		got = append(got, m)
	}
}

type announceOpts struct {
	event   string
	left    *float64
	numwant *int
	offers  []trackermsg.Offer
}

func (c *client) announce(ih, pid trackermsg.ID, o announceOpts) {
	c.t.Helper()
	c.send(&trackermsg.Message{
		Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &pid,
		Event: o.event, Left: o.left, NumWant: o.numwant, Offers: o.offers,
		Uploaded: ptr(0.0), Downloaded: ptr(0.0),
	})
}

// join announces and returns the tracker's response.
func (c *client) join(ih, pid trackermsg.ID, o announceOpts) *trackermsg.Message {
	c.t.Helper()
	c.announce(ih, pid, o)
	m := c.recv()
	if m.Kind() != trackermsg.KindAnnounceResponse || *m.InfoHash != ih {
		c.t.Fatalf("announce answered with %+v", m)
	}
	return m
}

func counts(m *trackermsg.Message) [2]int { return [2]int{*m.Complete, *m.Incomplete} }

func makeOffers(prefix string, n, sdpLen int) []trackermsg.Offer {
	offers := make([]trackermsg.Offer, n)
	for i := range offers {
		sdp := fmt.Sprintf("v=0\r\ns=%s-%d\r\n", prefix, i)
		if pad := sdpLen - len(sdp); pad > 0 {
			sdp += strings.Repeat("a", pad)
		}
		offers[i] = trackermsg.Offer{Offer: trackermsg.SDP{Type: "offer", SDP: sdp}, OfferID: id(fmt.Sprintf("%s-offer-%d", prefix, i))}
	}
	return offers
}

func TestAnnounceCounts(t *testing.T) {
	ts := newTestServer(t, Config{})
	x, y := id("swarm x"), id("swarm y")
	a, b := dial(t, ts.wsURL), dial(t, ts.wsURL)
	pa, pb := id("peer a"), id("peer b")

	r := a.join(x, pa, announceOpts{event: trackermsg.EventStarted, left: ptr(100.0)})
	if *r.Interval != 120 || counts(r) != [2]int{0, 1} {
		t.Fatalf("first announce: interval %d, counts %v", *r.Interval, counts(r))
	}
	// A seeder (left 0) counts as complete.
	if r := b.join(x, pb, announceOpts{event: trackermsg.EventStarted, left: ptr(0.0)}); counts(r) != [2]int{1, 1} {
		t.Fatalf("seeder joined: counts %v, want [1 1]", counts(r))
	}
	// Re-announcing does not count twice.
	if r := a.join(x, pa, announceOpts{left: ptr(50.0)}); counts(r) != [2]int{1, 1} {
		t.Fatalf("update: counts %v, want [1 1]", counts(r))
	}
	if r := a.join(x, pa, announceOpts{event: trackermsg.EventCompleted, left: ptr(0.0)}); counts(r) != [2]int{2, 0} {
		t.Fatalf("completed: counts %v, want [2 0]", counts(r))
	}
	// The same peer id joins a second swarm over the same connection.
	if r := a.join(y, pa, announceOpts{event: trackermsg.EventStarted}); counts(r) != [2]int{0, 1} {
		t.Fatalf("second swarm: counts %v, want [0 1]", counts(r))
	}
	if st := ts.Stats(); st.Swarms != 2 || st.Peers != 3 || st.Connections != 2 {
		t.Fatalf("stats %+v, want 2 swarms, 3 peers, 2 connections", st)
	}
	b.send(&trackermsg.Message{Action: trackermsg.ActionScrape, InfoHash: &x, InfoHashes: []trackermsg.ID{x}})
	if f := b.recv().Files[x.BinaryString()]; f != (trackermsg.ScrapeFile{Complete: 2, Incomplete: 0, Downloaded: 1}) {
		t.Fatalf("scrape after completed: %+v", f)
	}
}

func TestConfigInterval(t *testing.T) {
	ts := newTestServer(t, Config{Interval: 30 * time.Second})
	c := dial(t, ts.wsURL)
	if r := c.join(id("s"), id("p"), announceOpts{}); *r.Interval != 30 {
		t.Fatalf("interval %d, want 30", *r.Interval)
	}
}

// relayResult collects, for each receiver, the offers it got.
func collectOffers(t *testing.T, receivers []*client, from, ih trackermsg.ID, sent []trackermsg.Offer) (total int) {
	t.Helper()
	sdpOf := make(map[trackermsg.ID]string)
	for _, o := range sent {
		sdpOf[o.OfferID] = o.Offer.SDP
	}
	seen := make(map[trackermsg.ID]bool)
	for i, r := range receivers {
		got := r.sync()
		if len(got) > 1 {
			t.Fatalf("receiver %d got %d messages, want at most one offer", i, len(got))
		}
		for _, m := range got {
			if m.Kind() != trackermsg.KindRelayedOffer || *m.PeerID != from || *m.InfoHash != ih {
				t.Fatalf("receiver %d got %+v, want an offer from the sender", i, m)
			}
			sdp, ok := sdpOf[*m.OfferID]
			if !ok || seen[*m.OfferID] || m.Offer.SDP != sdp || m.Offer.Type != "offer" {
				t.Fatalf("receiver %d got offer %v (known %v, seen before %v)", i, *m.OfferID, ok, seen[*m.OfferID])
			}
			seen[*m.OfferID] = true
			total++
		}
	}
	return total
}

func TestOfferRelay(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		receivers int
		offers    int
		numwant   *int
		want      int
	}{
		{name: "fewer offers than peers", receivers: 6, offers: 4, want: 4},
		{name: "numwant limits", receivers: 6, offers: 5, numwant: ptr(2), want: 2},
		{name: "numwant zero", receivers: 3, offers: 5, numwant: ptr(0), want: 0},
		{name: "more offers than peers", receivers: 3, offers: 10, want: 3},
		{name: "alone in the swarm", receivers: 0, offers: 5, want: 0},
		{name: "MaxOffersRelayed limits", cfg: Config{MaxOffersRelayed: 2}, receivers: 5, offers: 5, want: 2},
		{name: "twenty offers", receivers: 25, offers: 20, numwant: ptr(50), want: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.cfg)
			ih, sender := id("relay swarm"), id("sender")
			receivers := make([]*client, tt.receivers)
			for i := range receivers {
				receivers[i] = dial(t, ts.wsURL)
				receivers[i].join(ih, id(fmt.Sprint("receiver", i)), announceOpts{event: trackermsg.EventStarted})
			}
			s := dial(t, ts.wsURL)
			offers := makeOffers("o", tt.offers, 200)
			r := s.join(ih, sender, announceOpts{event: trackermsg.EventStarted, numwant: tt.numwant, offers: offers})
			if counts(r) != [2]int{0, tt.receivers + 1} {
				t.Fatalf("response counts %v", counts(r))
			}
			if got := s.sync(); len(got) != 0 {
				t.Fatalf("sender got %d more messages, first %+v; offers must never go back to the sender", len(got), got[0])
			}
			if got := collectOffers(t, receivers, sender, ih, offers); got != tt.want {
				t.Fatalf("%d offers relayed, want %d", got, tt.want)
			}
			if st := ts.Stats(); st.OffersRelayed != uint64(tt.want) {
				t.Fatalf("stats offers_relayed %d, want %d", st.OffersRelayed, tt.want)
			}
		})
	}
}

// TestOfferRelayIsRandom checks that single offers spread over the swarm
// rather than always reaching the same peer.
func TestOfferRelayIsRandom(t *testing.T) {
	ts := newTestServer(t, Config{})
	ih := id("random swarm")
	receivers := make([]*client, 5)
	for i := range receivers {
		receivers[i] = dial(t, ts.wsURL)
		receivers[i].join(ih, id(fmt.Sprint("r", i)), announceOpts{})
	}
	s := dial(t, ts.wsURL)
	for i := range 40 {
		s.join(ih, id("s"), announceOpts{offers: makeOffers(fmt.Sprint("round", i), 1, 10)})
	}
	reached := 0
	total := 0
	for _, r := range receivers {
		n := len(r.sync())
		total += n
		if n > 0 {
			reached++
		}
	}
	// With 40 offers among 5 peers, the chance that fewer than 3 peers get
	// one is below 1e-10.
	if total != 40 || reached < 3 {
		t.Fatalf("40 offers reached %d of 5 peers (%d delivered)", reached, total)
	}
}

func TestAnswerRouting(t *testing.T) {
	ts := newTestServer(t, Config{})
	ih := id("answer swarm")
	pa, pb := id("offerer"), id("answerer")
	a, b := dial(t, ts.wsURL), dial(t, ts.wsURL)
	b.join(ih, pb, announceOpts{event: trackermsg.EventStarted})
	offers := makeOffers("a", 1, 50)
	a.join(ih, pa, announceOpts{event: trackermsg.EventStarted, offers: offers})

	off := b.recv()
	if off.Kind() != trackermsg.KindRelayedOffer || *off.PeerID != pa {
		t.Fatalf("b got %+v, want a's offer", off)
	}
	// The answer claims another peer id; the tracker speaks for b anyway.
	answer := &trackermsg.SDP{Type: "answer", SDP: "v=0\r\ns=answer\r\n"}
	b.send(&trackermsg.Message{
		Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: ptr(id("spoofed")),
		ToPeerID: &pa, OfferID: off.OfferID, Answer: answer,
	})
	got := a.recv()
	if got.Kind() != trackermsg.KindAnswer || *got.PeerID != pb || *got.OfferID != offers[0].OfferID ||
		*got.InfoHash != ih || *got.Answer != *answer || got.ToPeerID != nil {
		t.Fatalf("a got %+v, want b's answer", got)
	}

	// An answer to a peer that is not in the swarm is dropped, and the
	// connection stays usable.
	b.send(&trackermsg.Message{
		Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &pb,
		ToPeerID: ptr(id("nobody")), OfferID: off.OfferID, Answer: answer,
	})
	if msgs := b.sync(); len(msgs) != 0 {
		t.Fatalf("answerer got %+v; answers get no reply", msgs[0])
	}
	if msgs := a.sync(); len(msgs) != 0 {
		t.Fatalf("offerer got %+v from an answer not meant for it", msgs[0])
	}
	if st := ts.Stats(); st.AnswersRelayed != 1 || st.AnswersDropped != 1 || st.AnswersRefused != 0 || st.BadMessages != 0 {
		t.Fatalf("stats %+v, want 1 answer relayed, 1 dropped, none refused, no bad message", st)
	}
}

// TestAnswerFromOutsideSwarmRefused checks that only a member of a swarm
// answers into it: a connection that has not announced there, even one in
// another swarm and naming a member's peer id, gets a failure reason, its
// answer goes nowhere, and it and the swarm carry on.
func TestAnswerFromOutsideSwarmRefused(t *testing.T) {
	ts := newTestServer(t, Config{})
	ih, elsewhere := id("answered swarm"), id("elsewhere")
	pa, pb := id("offerer"), id("member")
	a, b, stranger := dial(t, ts.wsURL), dial(t, ts.wsURL), dial(t, ts.wsURL)
	b.join(ih, pb, announceOpts{})
	stranger.join(elsewhere, id("stranger"), announceOpts{})
	offers := makeOffers("a", 1, 50)
	a.join(ih, pa, announceOpts{offers: offers})
	off := b.recv()
	answer := &trackermsg.SDP{Type: "answer", SDP: "v=0\r\ns=forged\r\n"}

	for _, from := range []trackermsg.ID{id("stranger"), pb} {
		stranger.send(&trackermsg.Message{
			Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &from,
			ToPeerID: &pa, OfferID: off.OfferID, Answer: answer,
		})
		m := stranger.recv()
		if !m.IsFailure() || *m.InfoHash != ih || m.FailureReason != reasonAnswerNotMember {
			t.Fatalf("answer from outside the swarm as %s: %+v, want the failure %q", from, m, reasonAnswerNotMember)
		}
	}
	if msgs := a.sync(); len(msgs) != 0 {
		t.Fatalf("offerer got %+v from outside the swarm", msgs[0])
	}
	// The member's own answer still goes through, and the stranger is
	// still served.
	real := &trackermsg.SDP{Type: "answer", SDP: "v=0\r\ns=real\r\n"}
	b.send(&trackermsg.Message{
		Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &pb,
		ToPeerID: &pa, OfferID: off.OfferID, Answer: real,
	})
	if got := a.recv(); got.Kind() != trackermsg.KindAnswer || *got.PeerID != pb || *got.Answer != *real {
		t.Fatalf("offerer got %+v, want the member's answer", got)
	}
	stranger.join(elsewhere, id("stranger"), announceOpts{})
	if st := ts.Stats(); st.AnswersRefused != 2 || st.AnswersRelayed != 1 || st.BadMessages != 0 || st.Connections != 3 {
		t.Fatalf("stats %+v, want 2 answers refused, 1 relayed, no bad message, 3 connections", st)
	}
}

func TestStopped(t *testing.T) {
	ts := newTestServer(t, Config{})
	ih := id("stop swarm")
	pa, pb := id("a"), id("b")
	a, b := dial(t, ts.wsURL), dial(t, ts.wsURL)
	a.join(ih, pa, announceOpts{event: trackermsg.EventStarted})
	b.join(ih, pb, announceOpts{event: trackermsg.EventStarted, left: ptr(0.0)})

	if r := b.join(ih, pb, announceOpts{event: trackermsg.EventStopped}); counts(r) != [2]int{0, 1} {
		t.Fatalf("after stop: counts %v, want [0 1]", counts(r))
	}
	a.join(ih, pa, announceOpts{offers: makeOffers("x", 3, 10)})
	if msgs := b.sync(); len(msgs) != 0 {
		t.Fatalf("stopped peer got %+v", msgs[0])
	}
	if st := ts.Stats(); st.Peers != 1 || st.Swarms != 1 || st.OffersRelayed != 0 {
		t.Fatalf("stats %+v, want 1 peer in 1 swarm, no offer relayed", st)
	}
	// Stopping a peer id this connection does not own changes nothing.
	b.join(ih, pa, announceOpts{event: trackermsg.EventStopped})
	if st := ts.Stats(); st.Peers != 1 {
		t.Fatalf("stopping someone else's peer: %d peers, want 1", st.Peers)
	}
	if r := a.join(ih, pa, announceOpts{event: trackermsg.EventStopped}); counts(r) != [2]int{0, 0} {
		t.Fatalf("last peer stopped: counts %v", counts(r))
	}
	if st := ts.Stats(); st.Peers != 0 || st.Swarms != 0 {
		t.Fatalf("stats %+v, want empty", st)
	}
}

func TestScrape(t *testing.T) {
	ts := newTestServer(t, Config{})
	x, y, unknown := id("x"), id("y"), id("unknown")
	c1, c2 := dial(t, ts.wsURL), dial(t, ts.wsURL)
	c1.join(x, id("p1"), announceOpts{left: ptr(0.0)})
	c2.join(x, id("p2"), announceOpts{event: trackermsg.EventCompleted})
	c2.join(y, id("p2"), announceOpts{left: ptr(10.0)})
	fx := trackermsg.ScrapeFile{Complete: 2, Incomplete: 0, Downloaded: 1}
	fy := trackermsg.ScrapeFile{Complete: 0, Incomplete: 1}

	tests := []struct {
		name string
		msg  string
		want map[trackermsg.ID]trackermsg.ScrapeFile
	}{
		{"all", `{"action":"scrape"}`, map[trackermsg.ID]trackermsg.ScrapeFile{x: fx, y: fy}},
		{"empty list means all", `{"action":"scrape","info_hash":[]}`, map[trackermsg.ID]trackermsg.ScrapeFile{x: fx, y: fy}},
		{"single", `{"action":"scrape","info_hash":` + jsonID(y) + `}`, map[trackermsg.ID]trackermsg.ScrapeFile{y: fy}},
		{"list with unknown", `{"action":"scrape","info_hash":[` + jsonID(x) + `,` + jsonID(unknown) + `]}`,
			map[trackermsg.ID]trackermsg.ScrapeFile{x: fx, unknown: {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c1.sendRaw([]byte(tt.msg))
			m := c1.recv()
			if m.Kind() != trackermsg.KindScrapeResponse {
				t.Fatalf("got %+v, want a scrape response", m)
			}
			want := make(map[string]trackermsg.ScrapeFile)
			for ih, f := range tt.want {
				want[ih.BinaryString()] = f
			}
			if fmt.Sprint(m.Files) != fmt.Sprint(want) {
				t.Fatalf("files %v, want %v", m.Files, want)
			}
		})
	}
}

func jsonID(v trackermsg.ID) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestMalformedMessages(t *testing.T) {
	ts := newTestServer(t, Config{})
	ih, pid := id("m"), id("p")
	ihj, pidj := jsonID(ih), jsonID(pid)
	tests := []struct {
		name       string
		msg        string
		wantAction string
		wantHash   bool
		reason     string
	}{
		{"bad JSON", `{"action":"announce",`, "", false, "malformed"},
		{"not an object", `"hello"`, "", false, "not a JSON object"},
		{"peer_id above U+00FF", `{"action":"announce","info_hash":` + ihj + `,"peer_id":"` + strings.Repeat("\u0101", 20) + `"}`,
			"announce", true, "above U+00FF"},
		{"info_hash above U+00FF", `{"action":"announce","info_hash":"` + strings.Repeat("\u20ac", 20) + `","peer_id":` + pidj + `}`,
			"announce", false, "above U+00FF"},
		{"unknown action", `{"action":"connect","info_hash":` + ihj + `}`, "", true, "unknown action"},
		{"unknown event", `{"action":"announce","event":"paused","info_hash":` + ihj + `,"peer_id":` + pidj + `}`,
			"announce", true, "unknown event"},
		{"non-integer numwant", `{"action":"announce","numwant":2.5,"info_hash":` + ihj + `,"peer_id":` + pidj + `}`,
			"announce", true, "numwant"},
		{"answer without to_peer_id", `{"action":"announce","info_hash":` + ihj + `,"peer_id":` + pidj +
			`,"offer_id":` + pidj + `,"answer":{"type":"answer","sdp":"v=0"}}`, "announce", true, "to_peer_id"},
		{"tracker message from a client", `{"action":"announce","interval":5,"info_hash":` + ihj + `}`, "announce", true, "unexpected"},
		{"scrape with bad hash", `{"action":"scrape","info_hash":["short"]}`, "scrape", false, "binary string"},
	}
	c := dial(t, ts.wsURL)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.sendRaw([]byte(tt.msg))
			m := c.recv()
			if !m.IsFailure() || !strings.Contains(m.FailureReason, tt.reason) {
				t.Fatalf("got %+v, want a failure mentioning %q", m, tt.reason)
			}
			if m.Action != tt.wantAction || (m.InfoHash != nil) != tt.wantHash || (tt.wantHash && *m.InfoHash != ih) {
				t.Fatalf("failure has action %q, info_hash %v; want %q, %v", m.Action, m.InfoHash, tt.wantAction, tt.wantHash)
			}
			if msgs := c.sync(); len(msgs) != 0 {
				t.Fatalf("extra messages %+v", msgs)
			}
		})
	}
	// The connection survived and still works.
	if r := c.join(ih, pid, announceOpts{}); counts(r) != [2]int{0, 1} {
		t.Fatalf("announce after bad messages: %v", counts(r))
	}
	if st := ts.Stats(); st.BadMessages != uint64(len(tests)) || st.Connections != 1 {
		t.Fatalf("stats %+v, want %d bad messages and the connection open", st, len(tests))
	}
}

func TestRepeatedGarbageCloses(t *testing.T) {
	ts := newTestServer(t, Config{MaxBadMessages: 5})
	c := dial(t, ts.wsURL)
	c.join(id("g"), id("p"), announceOpts{})
	for range 6 {
		c.sendRaw([]byte("garbage"))
	}
	for i := range 6 {
		if m := c.recv(); !m.IsFailure() {
			t.Fatalf("reply %d is %+v, want a failure", i, m)
		}
	}
	_, err := c.read()
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("after too much garbage: %v, want close status %d", err, websocket.StatusPolicyViolation)
	}
	waitFor(t, "the connection and its peer to go", func() bool {
		st := ts.Stats()
		return st.Connections == 0 && st.Peers == 0 && st.Swarms == 0
	})
}

func TestMessageSizeLimit(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := dial(t, ts.wsURL)
	// A message of exactly MaxMessageSize bytes is served.
	scrape := []byte(`{"action":"scrape","info_hash":` + jsonID(barrierHash) + `}`)
	full := append(scrape, bytes.Repeat([]byte(" "), trackermsg.MaxMessageSize-len(scrape))...)
	c.sendRaw(full)
	if m := c.recv(); m.Kind() != trackermsg.KindScrapeResponse {
		t.Fatalf("message of MaxMessageSize bytes answered with %+v", m)
	}
	// One byte more closes the connection.
	c.sendRaw(append(full, ' '))
	_, err := c.read()
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized message: %v, want close status %d", err, websocket.StatusMessageTooBig)
	}
	waitFor(t, "the connection to go", func() bool { return ts.Stats().Connections == 0 })
}

// TestPeerIDBoundToConnection checks that a peer id belongs to the
// connection that announced it in a swarm until that connection stops or
// closes: another connection claiming it is refused and changes nothing.
func TestPeerIDBoundToConnection(t *testing.T) {
	// The holders read only now and then: no probe may end them here.
	ts := newTestServer(t, Config{ProbeTimeout: time.Hour})
	ih, p, q := id("w"), id("contested"), id("q")
	holder, thief, other := dial(t, ts.wsURL), dial(t, ts.wsURL), dial(t, ts.wsURL)
	holder.join(ih, p, announceOpts{})
	other.join(ih, q, announceOpts{})

	refused := func(what string) {
		t.Helper()
		thief.announce(ih, p, announceOpts{offers: makeOffers("thief", 2, 10)})
		m := thief.recv()
		if !m.IsFailure() || *m.InfoHash != ih || m.FailureReason != trackermsg.ReasonPeerIDInUse {
			t.Fatalf("%s: claim answered with %+v, want the failure %q", what, m, trackermsg.ReasonPeerIDInUse)
		}
	}
	refused("while the holder is in")
	thief.send(&trackermsg.Message{Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &p, Event: trackermsg.EventStopped})
	thief.recv()
	refused("after stopping an id it does not hold")
	if msgs := other.sync(); len(msgs) != 0 {
		t.Fatalf("a refused claim relayed %+v", msgs[0])
	}
	// The holder keeps the id and its offers.
	other.join(ih, q, announceOpts{offers: makeOffers("q", 5, 10)})
	if msgs := holder.sync(); len(msgs) != 1 || msgs[0].Kind() != trackermsg.KindRelayedOffer {
		t.Fatalf("holder got %v, want one offer", msgs)
	}
	if msgs := thief.sync(); len(msgs) != 0 {
		t.Fatalf("thief got %+v", msgs[0])
	}
	if st := ts.Stats(); st.PeerIDsRefused != 2 || st.Peers != 2 || st.Connections != 3 || st.BadMessages != 0 {
		t.Fatalf("stats %+v, want 2 claims refused, 2 peers, 3 connections", st)
	}

	// Stopped frees it: the next claim succeeds.
	holder.join(ih, p, announceOpts{event: trackermsg.EventStopped})
	if r := thief.join(ih, p, announceOpts{}); counts(r) != [2]int{0, 2} {
		t.Fatalf("claim after stopped: counts %v, want [0 2]", counts(r))
	}
	// Closing frees it too.
	_ = thief.ws.CloseNow()
	waitFor(t, "the new holder to go", func() bool { return ts.Stats().Connections == 2 })
	if r := holder.join(ih, p, announceOpts{}); counts(r) != [2]int{0, 2} {
		t.Fatalf("claim after close: counts %v, want [0 2]", counts(r))
	}
	// The same connection re-announcing under a new peer id replaces its
	// old one, which is free for others then.
	if r := holder.join(ih, id("renamed"), announceOpts{}); counts(r) != [2]int{0, 2} {
		t.Fatalf("after renaming: counts %v, want [0 2]", counts(r))
	}
	if r := other.join(ih, p, announceOpts{}); counts(r) != [2]int{0, 2} {
		t.Fatalf("the renamed-from id: counts %v, want [0 2] (other moved to it)", counts(r))
	}
}

// TestProbeFreesVanishedHolder checks what a claim does to the holder: one
// that answers the tracker's ping keeps its id; one that does not (a socket
// its client dropped without closing) is disconnected, and the id is free.
func TestProbeFreesVanishedHolder(t *testing.T) {
	ts := newTestServer(t, Config{ProbeTimeout: 200 * time.Millisecond})
	ih, p := id("probe swarm"), id("probed")
	live, claimant := dial(t, ts.wsURL), dial(t, ts.wsURL)
	live.join(ih, p, announceOpts{})
	claimant.announce(ih, p, announceOpts{})
	if m := claimant.recv(); m.FailureReason != trackermsg.ReasonPeerIDInUse {
		t.Fatalf("claim answered with %+v, want a refusal", m)
	}
	// A reading client answers pings.
	waitFor(t, "the live holder's pong", func() bool {
		live.sync()
		return ts.Stats().HolderPongs == 1
	})
	if st := ts.Stats(); st.HoldersGone != 0 || st.Peers != 1 || st.Connections != 2 {
		t.Fatalf("stats %+v: the live holder must keep its id", st)
	}
	live.join(ih, p, announceOpts{})

	// This one never reads again, so its pong never comes.
	vanished := dial(t, ts.wsURL)
	q := id("vanished")
	vanished.join(ih, q, announceOpts{})
	claimant.announce(ih, q, announceOpts{})
	if m := claimant.recv(); m.FailureReason != trackermsg.ReasonPeerIDInUse {
		t.Fatalf("claim answered with %+v, want a refusal", m)
	}
	waitFor(t, "the vanished holder to be disconnected", func() bool {
		st := ts.Stats()
		return st.HoldersGone == 1 && st.Connections == 2 && st.Peers == 1
	})
	if r := claimant.join(ih, q, announceOpts{}); counts(r) != [2]int{0, 2} {
		t.Fatalf("claim after the holder vanished: counts %v, want [0 2]", counts(r))
	}
}

func TestMaxSwarmsPerConn(t *testing.T) {
	ts := newTestServer(t, Config{MaxSwarmsPerConn: 2})
	c := dial(t, ts.wsURL)
	c.join(id("1"), id("p"), announceOpts{})
	c.join(id("2"), id("p"), announceOpts{})
	c.announce(id("3"), id("p"), announceOpts{})
	if m := c.recv(); !m.IsFailure() || !strings.Contains(m.FailureReason, "too many swarms") || *m.InfoHash != id("3") {
		t.Fatalf("third swarm: %+v, want a failure", m)
	}
	c.join(id("1"), id("p"), announceOpts{}) // re-announcing is fine
	c.join(id("2"), id("p"), announceOpts{event: trackermsg.EventStopped})
	c.join(id("3"), id("p"), announceOpts{}) // room again
	if st := ts.Stats(); st.Peers != 2 || st.BadMessages != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxConns(t *testing.T) {
	ts := newTestServer(t, Config{MaxConns: 2})
	a := dial(t, ts.wsURL)
	dial(t, ts.wsURL)
	if c, err := tryDial(ts.wsURL, nil); err == nil {
		_ = c.CloseNow()
		t.Fatal("third connection accepted, want refused")
	} else if !strings.Contains(err.Error(), "503") {
		t.Fatalf("third connection: %v, want HTTP 503", err)
	}
	_ = a.ws.CloseNow()
	waitFor(t, "a slot to free up", func() bool { return ts.Stats().Connections == 1 })
	dial(t, ts.wsURL).join(id("s"), id("p"), announceOpts{})
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestMaxConnsPerAddr checks the cap on one address's connections: one more
// gets HTTP 429, the connections already open and other addresses carry on,
// and a closed connection makes room.
func TestMaxConnsPerAddr(t *testing.T) {
	ts := newTestServer(t, Config{MaxConnsPerAddr: 2})
	ih := id("office")
	a, b := dial(t, ts.wsURL), dial(t, ts.wsURL)
	a.join(ih, id("a"), announceOpts{})
	if c, err := tryDial(ts.wsURL, nil); err == nil {
		_ = c.CloseNow()
		t.Fatal("third connection from one address accepted, want refused")
	} else if !strings.Contains(err.Error(), "429") {
		t.Fatalf("third connection: %v, want HTTP 429", err)
	}
	if r := b.join(ih, id("b"), announceOpts{}); counts(r) != [2]int{0, 2} {
		t.Fatalf("an open connection after the refusal: counts %v, want [0 2]", counts(r))
	}
	if st := ts.Stats(); st.ConnsRefused != 1 || st.Connections != 2 {
		t.Fatalf("stats %+v, want 1 connection refused, 2 open", st)
	}
	_ = a.ws.CloseNow()
	waitFor(t, "a slot to free up", func() bool { return ts.Stats().Connections == 1 })
	dial(t, ts.wsURL).join(ih, id("a"), announceOpts{})
}

// TestMaxConnsPerAddrBehindProxy checks that with TrustProxy the cap counts
// the address the proxy saw, and that without it the header counts for
// nothing.
func TestMaxConnsPerAddrBehindProxy(t *testing.T) {
	dialFrom := func(url, xff string) (*websocket.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": []string{xff}}})
		return ws, err
	}
	for _, trust := range []bool{true, false} {
		t.Run(fmt.Sprint("trust ", trust), func(t *testing.T) {
			ts := newTestServer(t, Config{MaxConnsPerAddr: 1, TrustProxy: trust})
			first, err := dialFrom(ts.wsURL, "198.51.100.1")
			if err != nil {
				t.Fatal(err)
			}
			defer first.CloseNow()
			second, err := dialFrom(ts.wsURL, "spoofed, 198.51.100.2")
			if trust != (err == nil) {
				t.Fatalf("a second address through the proxy: %v", err)
			}
			if err == nil {
				defer second.CloseNow()
			}
			if _, err := dialFrom(ts.wsURL, "198.51.100.1"); err == nil || !strings.Contains(err.Error(), "429") {
				t.Fatalf("the first address again: %v, want HTTP 429", err)
			}
		})
	}
}

// TestAnnounceRateLimit crosses the announce rate of one connection: the
// announce beyond it gets a failure reason and changes nothing, the
// connection and the other peers carry on, "stopped" still goes through, and
// the bucket refills with time.
func TestAnnounceRateLimit(t *testing.T) {
	clock := newFakeClock()
	ts := newTestServerClock(t, Config{AnnounceRate: 1, AnnounceBurst: 3}, clock.Now)
	ih := id("rate swarm")
	fast, other := dial(t, ts.wsURL), dial(t, ts.wsURL)
	other.join(ih, id("other"), announceOpts{})
	for range 3 {
		fast.join(ih, id("fast"), announceOpts{})
	}
	fast.announce(ih, id("fast"), announceOpts{offers: makeOffers("over", 1, 10)})
	m := fast.recv()
	if !m.IsFailure() || *m.InfoHash != ih || !strings.HasPrefix(m.FailureReason, reasonTooFast) {
		t.Fatalf("announce beyond the rate: %+v, want a failure %q", m, reasonTooFast)
	}
	if msgs := other.sync(); len(msgs) != 0 {
		t.Fatalf("a refused announce relayed %+v", msgs[0])
	}
	// Another connection has its own bucket.
	other.join(ih, id("other"), announceOpts{})
	// The refused connection is still in the swarm and gets offers.
	other.join(ih, id("other"), announceOpts{offers: makeOffers("to fast", 1, 10)})
	if msgs := fast.sync(); len(msgs) != 1 || msgs[0].Kind() != trackermsg.KindRelayedOffer {
		t.Fatalf("the limited connection got %v, want one offer", msgs)
	}
	clock.Advance(time.Second)
	fast.join(ih, id("fast"), announceOpts{})
	// "stopped" is applied beyond the rate.
	if r := fast.join(ih, id("fast"), announceOpts{event: trackermsg.EventStopped}); counts(r) != [2]int{0, 1} {
		t.Fatalf("stopped beyond the rate: counts %v, want [0 1]", counts(r))
	}
	if st := ts.Stats(); st.AnnouncesLimited != 2 || st.Connections != 2 || st.BadMessages != 0 {
		t.Fatalf("stats %+v, want 2 announces limited, 2 connections", st)
	}
}

// TestAnnouncingTooFastCloses checks that a connection that keeps
// announcing beyond its rate, refused each time, is closed with status 1008
// once its refusals run out, and that the others carry on.
func TestAnnouncingTooFastCloses(t *testing.T) {
	const burst = 2
	clock := newFakeClock()
	ts := newTestServerClock(t, Config{AnnounceRate: 1, AnnounceBurst: burst}, clock.Now)
	ih := id("flood swarm")
	flood, other := dial(t, ts.wsURL), dial(t, ts.wsURL)
	other.join(ih, id("other"), announceOpts{})
	for range burst {
		flood.join(ih, id("flood"), announceOpts{})
	}
	for i := range refusalBurstFactor * burst {
		flood.announce(ih, id("flood"), announceOpts{})
		if m := flood.recv(); !m.IsFailure() || !strings.HasPrefix(m.FailureReason, reasonTooFast) {
			t.Fatalf("refusal %d: %+v", i, m)
		}
	}
	flood.announce(ih, id("flood"), announceOpts{})
	if m := flood.recv(); !m.IsFailure() {
		t.Fatalf("last refusal: %+v", m)
	}
	_, err := flood.read()
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("after announcing too fast for too long: %v, want close status %d", err, websocket.StatusPolicyViolation)
	}
	waitFor(t, "the flooding connection and its peer to go", func() bool {
		st := ts.Stats()
		return st.Connections == 1 && st.Peers == 1
	})
	if r := other.join(ih, id("other"), announceOpts{}); counts(r) != [2]int{0, 1} {
		t.Fatalf("the other peer: counts %v, want [0 1]", counts(r))
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := newTestServer(t, Config{IdleTimeout: 100 * time.Millisecond})
	c := dial(t, ts.wsURL)
	c.join(id("idle"), id("p"), announceOpts{})
	if _, err := c.read(); err == nil {
		t.Fatal("idle connection got a message, want it closed")
	}
	waitFor(t, "the idle connection to go", func() bool {
		st := ts.Stats()
		return st.Connections == 0 && st.Peers == 0
	})
}

func TestPeerExpiry(t *testing.T) {
	ts := newTestServer(t, Config{PeerTimeout: 100 * time.Millisecond, IdleTimeout: time.Minute})
	c := dial(t, ts.wsURL)
	c.join(id("expiring"), id("p"), announceOpts{})
	waitFor(t, "the silent peer to expire", func() bool { return ts.Stats().Peers == 0 })
	if st := ts.Stats(); st.Swarms != 0 || st.Connections != 1 {
		t.Fatalf("stats %+v, want no swarm and the connection still open", st)
	}
	if r := c.join(id("expiring"), id("p"), announceOpts{}); counts(r) != [2]int{0, 1} {
		t.Fatalf("re-announce after expiry: counts %v", counts(r))
	}
}

// rawUpgrade opens a TCP connection and completes a WebSocket handshake by
// hand, so a test can then misbehave below the WebSocket library.
func rawUpgrade(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, hangGuard)
	if err != nil {
		t.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(hangGuard))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("raw upgrade: %v %v", resp, err)
	}
	return nc
}

func TestNoLeakWhenClientsVanish(t *testing.T) {
	ts := newTestServer(t, Config{})
	addr := ts.http.Listener.Addr().String()
	// Warm up so lazily started runtime and net/http goroutines are in the baseline.
	dial(t, ts.wsURL).join(id("warm"), id("warm"), announceOpts{})
	_ = ts.Stats()
	base := runtime.NumGoroutine()

	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ws, err := tryDial(ts.wsURL, nil)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = ws.CloseNow() }() // vanish without a close handshake
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			for j := range 1 + i%3 {
				ih, pid := id(fmt.Sprint("leak", j)), id(fmt.Sprint("peer", i))
				b, _ := trackermsg.Encode(&trackermsg.Message{Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &pid,
					Offers: makeOffers(fmt.Sprint(i, j), 3, 100)})
				if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
					errs <- err
					return
				}
				if _, _, err := ws.Read(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Clients that vanish below the WebSocket layer: mid-frame, and right
	// after the handshake.
	for i := range 10 {
		nc := rawUpgrade(t, addr)
		if i%2 == 0 {
			_, _ = nc.Write([]byte{0x81, 0xFE, 0x01}) // half a frame header
		}
		_ = nc.Close()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("client: %v", err)
	}

	waitFor(t, "all vanished clients to be cleaned up", func() bool {
		st := ts.Stats()
		return st.Connections == 1 && st.Peers == 1 && st.Swarms == 1
	})
	waitFor(t, fmt.Sprintf("goroutines to return to %d", base), func() bool {
		return runtime.NumGoroutine() <= base
	})
}

func TestSlowReaderDisconnected(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		reason string
	}{
		{"queue fills", Config{WriteQueue: 4, WriteTimeout: time.Minute, AnnounceRate: unlimitedRate, AnnounceBurst: unlimitedBurst}, "write queue full"},
		{"write times out", Config{WriteQueue: 10000, WriteTimeout: 50 * time.Millisecond, AnnounceRate: unlimitedRate, AnnounceBurst: unlimitedBurst}, "write timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			tt.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			ts := newTestServer(t, tt.cfg)
			ih := id("slow swarm")
			// The slow client has a tiny receive buffer and never reads.
			hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				nc, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				if err := nc.(*net.TCPConn).SetReadBuffer(4096); err != nil {
					return nil, err
				}
				return nc, nil
			}}}
			slowWS, err := tryDial(ts.wsURL, hc)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = slowWS.CloseNow() })
			slow := &client{t: t, ws: slowWS}
			slow.announce(ih, id("slow"), announceOpts{})

			fast := dial(t, ts.wsURL)
			offers := makeOffers("big", 1, trackermsg.MaxSDPLen)
			for i := 0; ts.Stats().SlowDisconnects == 0; i++ {
				if i == 100000 {
					t.Fatal("slow reader never disconnected")
				}
				// The fast client keeps getting its responses meanwhile.
				fast.join(ih, id("fast"), announceOpts{offers: offers})
			}
			waitFor(t, "the slow client to be removed", func() bool {
				st := ts.Stats()
				return st.Connections == 1 && st.Peers == 1
			})
			if r := fast.join(ih, id("fast"), announceOpts{offers: offers}); counts(r) != [2]int{0, 1} {
				t.Fatalf("after the slow client left: counts %v", counts(r))
			}
			if st := ts.Stats(); st.SlowDisconnects != 1 {
				t.Fatalf("%d slow disconnects, want 1", st.SlowDisconnects)
			}
			if l := logs.String(); !strings.Contains(l, `msg="disconnecting slow client"`) || !strings.Contains(l, `reason="`+tt.reason+`"`) {
				t.Fatalf("logs lack the slow client warning with reason %q:\n%s", tt.reason, l)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHTTPEndpoints(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := dial(t, ts.wsURL)
	c.join(id("s"), id("p"), announceOpts{})
	// The writer counts a message once Write returns, which may be just
	// after the client has read it.
	waitFor(t, "the response to be counted", func() bool { return ts.Stats().MessagesOut == 1 })

	resp, err := http.Get(ts.http.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decoding /stats: %v", err)
	}
	if resp.Header.Get("Content-Type") != "application/json" || st.Swarms != 1 || st.Peers != 1 ||
		st.Connections != 1 || st.MessagesIn != 1 || st.MessagesOut != 1 || st.Goroutines == 0 {
		t.Fatalf("/stats = %+v (%s)", st, resp.Header.Get("Content-Type"))
	}

	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusUpgradeRequired},
		{http.MethodGet, "/announce", http.StatusUpgradeRequired},
		{http.MethodPost, "/stats", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, ts.http.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}

func TestCrossOriginAccepted(t *testing.T) {
	ts := newTestServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, ts.wsURL, &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": []string{"https://some-video-site.example"}},
	})
	if err != nil {
		t.Fatalf("browser from another origin refused: %v", err)
	}
	_ = ws.CloseNow()
}

func TestCloseDisconnectsClients(t *testing.T) {
	srv := New(Config{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	c := &client{t: t}
	var err error
	if c.ws, err = tryDial(url, nil); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.ws.CloseNow() }()
	c.join(id("s"), id("p"), announceOpts{})

	closed := make(chan error, 1)
	go func() {
		_, err := c.read()
		closed <- err
	}()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("client saw %v, want close status %d", err, websocket.StatusGoingAway)
	}
	if st := srv.Stats(); st.Connections != 0 || st.Peers != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	if ws, err := tryDial(url, nil); err == nil {
		_ = ws.CloseNow()
		t.Fatal("connection accepted after Close")
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSample(t *testing.T) {
	sw := newSwarm(id("sample"))
	var peers []*peer
	for i := range 10 {
		p := &peer{id: id(fmt.Sprint(i))}
		sw.add(p)
		peers = append(peers, p)
	}
	for _, self := range []*peer{nil, peers[0], peers[5], peers[9]} {
		for n := range 12 {
			got := sw.sample(n, self)
			want := min(n, 10)
			if self != nil {
				want = min(n, 9)
			}
			if len(got) != want {
				t.Fatalf("sample(%d) returned %d peers, want %d", n, len(got), want)
			}
			seen := make(map[*peer]bool)
			for _, p := range got {
				if p == self || seen[p] || sw.peers[p.id] != p {
					t.Fatalf("sample(%d, self) returned self, a duplicate or a stranger", n)
				}
				seen[p] = true
			}
		}
	}
	for _, p := range peers[:9] {
		sw.remove(p)
	}
	if got := sw.sample(5, peers[9]); len(got) != 0 {
		t.Fatalf("sample from a swarm of one returned %d peers", len(got))
	}
	if len(sw.list) != 1 || sw.list[0] != peers[9] || peers[9].index != 0 {
		t.Fatal("remove corrupted the peer list")
	}
}

// BenchmarkAnnounceWithOffer measures one announce round trip whose offer is
// relayed to another peer that reads everything it gets.
//
// The sender announces as fast as it can, past any announce rate a client
// should use; and the receiver, a goroutine that may wait for a core, gets a
// write queue that holds the whole run, lest it be disconnected as slow.
func BenchmarkAnnounceWithOffer(b *testing.B) {
	srv := New(Config{AnnounceRate: unlimitedRate, AnnounceBurst: unlimitedBurst, WriteQueue: 1 << 16})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	ctx := context.Background()
	ih := id("bench")
	announce := func(ws *websocket.Conn, pid trackermsg.ID, offers []trackermsg.Offer) {
		msg, err := trackermsg.Encode(&trackermsg.Message{Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &pid, Offers: offers})
		if err != nil {
			b.Fatal(err)
		}
		if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
	receiver, err := tryDial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer receiver.CloseNow()
	announce(receiver, id("receiver"), nil)
	go func() {
		for {
			if _, _, err := receiver.Read(ctx); err != nil {
				return
			}
		}
	}()
	sender, err := tryDial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sender.CloseNow()
	offers := makeOffers("bench", 1, 2000) // a typical non-trickle SDP
	for b.Loop() {
		announce(sender, id("sender"), offers)
	}
	b.StopTimer()
	if st := srv.Stats(); st.OffersRelayed < uint64(b.N) {
		b.Fatalf("%d offers relayed for %d announces", st.OffersRelayed, b.N)
	}
}
