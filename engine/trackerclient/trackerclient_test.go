package trackerclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

// guard bounds every wait for something that must happen; it only turns a
// hang into a failure and never measures speed.
const guard = 20 * time.Second

// testTracker is a scripted WebSocket server on 127.0.0.1: each accepted
// connection is handed to the test, which plays the tracker on it.
type testTracker struct {
	srv   *httptest.Server
	url   string
	conns chan *websocket.Conn
}

func newTestTracker(t *testing.T) *testTracker {
	t.Helper()
	tt := &testTracker{conns: make(chan *websocket.Conn, 128)}
	tt.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.SetReadLimit(trackermsg.MaxMessageSize)
		tt.conns <- c
	}))
	tt.url = "ws" + strings.TrimPrefix(tt.srv.URL, "http")
	t.Cleanup(func() {
		tt.srv.Close()
		for {
			select {
			case c := <-tt.conns:
				c.CloseNow()
			default:
				return
			}
		}
	})
	return tt
}

// accept returns the next connection the client opened.
func (tt *testTracker) accept(t *testing.T) *websocket.Conn {
	t.Helper()
	select {
	case c := <-tt.conns:
		t.Cleanup(func() { c.CloseNow() })
		return c
	case <-time.After(guard):
		t.Fatal("the client did not connect")
		return nil
	}
}

// read returns the next message the client sent on c, decoded, with its raw
// JSON object.
func read(t *testing.T, c *websocket.Conn) (*trackermsg.Message, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("server read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("client sent a %v frame, want text", typ)
	}
	m, err := trackermsg.Decode(b)
	if err != nil {
		t.Fatalf("client sent an undecodable message %s: %v", b, err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var raw map[string]any
	if err := d.Decode(&raw); err != nil {
		t.Fatalf("client sent invalid JSON %s: %v", b, err)
	}
	return m, raw
}

func write(t *testing.T, c *websocket.Conn, typ websocket.MessageType, b []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := c.Write(ctx, typ, b); err != nil {
		t.Fatalf("server write: %v", err)
	}
}

func encode(t *testing.T, m *trackermsg.Message) []byte {
	t.Helper()
	b, err := trackermsg.Encode(m)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

// Events as the recorder sees them.
type (
	connectEvent struct {
		Connected bool
		HasErr    bool
	}
	offerEvent struct {
		InfoHash, From, OfferID trackermsg.ID
		SDP                     string
	}
	answerEvent struct {
		InfoHash, From, OfferID trackermsg.ID
		SDP                     string
	}
	responseEvent struct {
		InfoHash             trackermsg.ID
		Interval             time.Duration
		Complete, Incomplete int
	}
	failureEvent struct {
		InfoHash *trackermsg.ID
		Reason   string
	}
)

// recorder turns every callback into an event on one channel, in order.
type recorder struct {
	ch chan any
}

func newRecorder() *recorder { return &recorder{ch: make(chan any, 1024)} }

func (r *recorder) events() Events {
	return Events{
		OnConnect: func(connected bool, err error) { r.ch <- connectEvent{connected, err != nil} },
		OnOffer: func(infoHash, from, offerID trackermsg.ID, sdp string) {
			r.ch <- offerEvent{infoHash, from, offerID, sdp}
		},
		OnAnswer: func(infoHash, from, offerID trackermsg.ID, sdp string) {
			r.ch <- answerEvent{infoHash, from, offerID, sdp}
		},
		OnResponse: func(infoHash trackermsg.ID, interval time.Duration, complete, incomplete int) {
			r.ch <- responseEvent{infoHash, interval, complete, incomplete}
		},
		OnFailure: func(infoHash *trackermsg.ID, reason string) { r.ch <- failureEvent{infoHash, reason} },
	}
}

func (r *recorder) next(t *testing.T) any {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(guard):
		t.Fatal("no event from the client")
		return nil
	}
}

func (r *recorder) expect(t *testing.T, want any) {
	t.Helper()
	if got := r.next(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("event %#v, want %#v", got, want)
	}
}

// randomID returns a random ID; its bytes cover the whole 0x00–0xFF range
// that binary strings must carry.
func randomID(t testing.TB) trackermsg.ID {
	t.Helper()
	var id trackermsg.ID
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	return id
}

// edgeID holds the bytes that binary strings get wrong most often.
var edgeID = trackermsg.ID{0x00, 0x01, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0x9f, 0xa0, 0xc3, 0xff, 0xfe, '-', 'P', 'M', '0', '0', '0', '1', '-'}

func newTestClient(t *testing.T, url string, ev Events, opt options) *Client {
	t.Helper()
	c, err := newClient(Config{
		URL:        url,
		PeerID:     edgeID,
		MinBackoff: time.Millisecond,
		MaxBackoff: 4 * time.Millisecond,
	}, ev, opt)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ws", Config{URL: "ws://127.0.0.1:1/announce"}, true},
		{"wss", Config{URL: "wss://127.0.0.1:1/announce"}, true},
		{"backoff", Config{URL: "ws://127.0.0.1:1", MinBackoff: time.Second, MaxBackoff: time.Second}, true},
		{"min above default max", Config{URL: "ws://127.0.0.1:1", MinBackoff: 2 * time.Minute}, true},
		{"empty URL", Config{}, false},
		{"http scheme", Config{URL: "http://127.0.0.1:1"}, false},
		{"no host", Config{URL: "ws:///announce"}, false},
		{"relative", Config{URL: "/announce"}, false},
		{"unparsable", Config{URL: "ws://[::1"}, false},
		{"negative min", Config{URL: "ws://127.0.0.1:1", MinBackoff: -1}, false},
		{"negative max", Config{URL: "ws://127.0.0.1:1", MaxBackoff: -1}, false},
		{"min above max", Config{URL: "ws://127.0.0.1:1", MinBackoff: 2 * time.Second, MaxBackoff: time.Second}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg, Events{})
			if (err == nil) != tc.ok {
				t.Fatalf("New: err %v, want ok %v", err, tc.ok)
			}
			if c != nil {
				if err := c.Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
			}
		})
	}
}

func TestBackoffBound(t *testing.T) {
	tests := []struct {
		min, max time.Duration
		attempt  int
		want     time.Duration
	}{
		{time.Second, time.Minute, 0, time.Second},
		{time.Second, time.Minute, 1, 2 * time.Second},
		{time.Second, time.Minute, 5, 32 * time.Second},
		{time.Second, time.Minute, 6, time.Minute},
		{time.Second, time.Minute, 1 << 40, time.Minute},
		{time.Second, time.Second, 3, time.Second},
		{time.Nanosecond, time.Duration(1<<63 - 1), 1 << 20, time.Duration(1<<63 - 1)},
	}
	for _, tc := range tests {
		if got := backoffBound(tc.min, tc.max, tc.attempt); got != tc.want {
			t.Errorf("backoffBound(%v, %v, %d) = %v, want %v", tc.min, tc.max, tc.attempt, got, tc.want)
		}
	}
}

func TestAnnounceWireFormat(t *testing.T) {
	tt := newTestTracker(t)
	rec := newRecorder()
	c := newTestClient(t, tt.url, rec.events(), options{})
	conn := tt.accept(t)
	rec.expect(t, connectEvent{Connected: true})

	infoHash := edgeID
	infoHash[0] = 0xee
	offers := make([]trackermsg.Offer, 7)
	for i := range offers {
		offers[i] = trackermsg.Offer{Offer: trackermsg.SDP{SDP: fmt.Sprintf("v=0 offer %d", i)}, OfferID: randomID(t)}
	}
	offers[1].Offer.Type = "offer"

	tests := []struct {
		name     string
		a        Announce
		raw      map[string]string // JSON numbers and strings expected verbatim
		absent   []string
		nOffers  int
		numWant  int
		hasEvent string
	}{
		{
			name: "started, unknown left, too many offers",
			a: Announce{InfoHash: infoHash, Event: "started", NumWant: 7, Uploaded: 1 << 40, Downloaded: 12345,
				Left: -1, Offers: offers},
			raw:     map[string]string{"numwant": "7", "left": "9007199254740991", "uploaded": "1099511627776", "downloaded": "12345", "event": "started", "action": "announce"},
			nOffers: 5,
		},
		{
			name:   "update with nothing wanted",
			a:      Announce{InfoHash: infoHash},
			raw:    map[string]string{"numwant": "0", "left": "0", "uploaded": "0", "downloaded": "0"},
			absent: []string{"event", "offers", "to_peer_id", "answer"},
		},
		{
			name:    "completed",
			a:       Announce{InfoHash: infoHash, Event: "completed", NumWant: 1, Left: 0, Offers: offers[:1]},
			raw:     map[string]string{"event": "completed", "numwant": "1"},
			nOffers: 1,
		},
		{
			name:   "stopped",
			a:      Announce{InfoHash: infoHash, Event: "stopped", Left: 5},
			raw:    map[string]string{"event": "stopped", "left": "5"},
			absent: []string{"offers"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.Announce(context.Background(), tc.a); err != nil {
				t.Fatalf("announce: %v", err)
			}
			m, raw := read(t, conn)
			if m.Kind() != trackermsg.KindAnnounce {
				t.Fatalf("kind %v, want announce", m.Kind())
			}
			if *m.InfoHash != tc.a.InfoHash || *m.PeerID != edgeID {
				t.Fatalf("info_hash %v peer_id %v, want %v %v", m.InfoHash, m.PeerID, tc.a.InfoHash, edgeID)
			}
			for k, want := range tc.raw {
				if got := fmt.Sprint(raw[k]); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			for _, k := range tc.absent {
				if _, ok := raw[k]; ok {
					t.Errorf("%s present, want absent", k)
				}
			}
			if len(m.Offers) != tc.nOffers {
				t.Fatalf("%d offers sent, want %d", len(m.Offers), tc.nOffers)
			}
			for i, o := range m.Offers {
				want := tc.a.Offers[i]
				want.Offer.Type = "offer"
				if !reflect.DeepEqual(o, want) {
					t.Errorf("offer %d = %+v, want %+v", i, o, want)
				}
			}
		})
	}

	t.Run("answer", func(t *testing.T) {
		to, offerID := randomID(t), randomID(t)
		if err := c.Answer(context.Background(), infoHash, to, offerID, "v=0 answer"); err != nil {
			t.Fatalf("answer: %v", err)
		}
		m, raw := read(t, conn)
		if m.Kind() != trackermsg.KindAnswer {
			t.Fatalf("kind %v, want answer", m.Kind())
		}
		if *m.InfoHash != infoHash || *m.PeerID != edgeID || *m.ToPeerID != to || *m.OfferID != offerID ||
			*m.Answer != (trackermsg.SDP{Type: "answer", SDP: "v=0 answer"}) {
			t.Fatalf("answer %+v", m)
		}
		// wt-tracker treats any event, even "", as an announce.
		if _, ok := raw["event"]; ok {
			t.Errorf("answer carries an event")
		}
	})
}

func TestAnnounceRejectsInvalid(t *testing.T) {
	tt := newTestTracker(t)
	rec := newRecorder()
	c := newTestClient(t, tt.url, rec.events(), options{})
	conn := tt.accept(t)
	rec.expect(t, connectEvent{Connected: true})

	ih := randomID(t)
	sdp := func(n int) string { return "v=0 " + strings.Repeat("a", n-4) }
	big := make([]trackermsg.Offer, 5)
	for i := range big {
		big[i] = trackermsg.Offer{Offer: trackermsg.SDP{SDP: sdp(trackermsg.MaxSDPLen)}, OfferID: edgeID}
	}
	tests := []struct {
		name string
		a    Announce
	}{
		{"event update", Announce{InfoHash: ih, Event: "update"}},
		{"event paused", Announce{InfoHash: ih, Event: "paused"}},
		{"event empty-looking", Announce{InfoHash: ih, Event: " "}},
		{"negative numwant", Announce{InfoHash: ih, NumWant: -1}},
		{"numwant too large", Announce{InfoHash: ih, NumWant: MaxNumWant + 1}},
		{"negative uploaded", Announce{InfoHash: ih, Uploaded: -1}},
		{"negative downloaded", Announce{InfoHash: ih, Downloaded: -5}},
		{"answer as offer", Announce{InfoHash: ih, Offers: []trackermsg.Offer{{Offer: trackermsg.SDP{Type: "answer", SDP: "v=0"}}}}},
		{"empty SDP", Announce{InfoHash: ih, Offers: []trackermsg.Offer{{}}}},
		{"SDP too long", Announce{InfoHash: ih, Offers: []trackermsg.Offer{{Offer: trackermsg.SDP{SDP: sdp(trackermsg.MaxSDPLen + 1)}}}}},
		{"message too large", Announce{InfoHash: ih, Offers: big}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Announce(context.Background(), tc.a)
			if err == nil || errors.Is(err, ErrNotConnected) || errors.Is(err, ErrClosed) {
				t.Fatalf("announce: err %v, want a validation error", err)
			}
		})
	}
	for _, s := range []string{"", sdp(trackermsg.MaxSDPLen + 1)} {
		if err := c.Answer(context.Background(), ih, ih, ih, s); err == nil || errors.Is(err, ErrNotConnected) {
			t.Fatalf("answer with SDP of %d bytes: err %v, want a validation error", len(s), err)
		}
	}

	// Nothing was sent: the first message the tracker gets is this one.
	if err := c.Announce(context.Background(), Announce{InfoHash: ih, Event: "started", NumWant: 3}); err != nil {
		t.Fatalf("announce: %v", err)
	}
	m, _ := read(t, conn)
	if m.Event != "started" || *m.NumWant != 3 {
		t.Fatalf("tracker got %+v first, want the valid announce", m)
	}
}

func TestNotConnectedAndClosed(t *testing.T) {
	// A port nothing listens on: every attempt is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + l.Addr().String()
	l.Close()

	rec := newRecorder()
	c := newTestClient(t, url, rec.events(), options{})
	for range 3 {
		rec.expect(t, connectEvent{Connected: false, HasErr: true})
	}
	if c.Connected() {
		t.Fatal("Connected() true with no tracker")
	}
	ctx := context.Background()
	if err := c.Announce(ctx, Announce{}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("announce: %v, want ErrNotConnected", err)
	}
	if err := c.Answer(ctx, edgeID, edgeID, edgeID, "v=0"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("answer: %v, want ErrNotConnected", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := c.Announce(ctx, Announce{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("announce after close: %v, want ErrClosed", err)
	}
	if err := c.Answer(ctx, edgeID, edgeID, edgeID, "v=0"); !errors.Is(err, ErrClosed) {
		t.Fatalf("answer after close: %v, want ErrClosed", err)
	}
}

func TestCloseWhileConnected(t *testing.T) {
	tt := newTestTracker(t)
	rec := newRecorder()
	c := newTestClient(t, tt.url, rec.events(), options{})
	conn := tt.accept(t)
	rec.expect(t, connectEvent{Connected: true})
	if !c.Connected() {
		t.Fatal("Connected() false after OnConnect(true)")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if c.Connected() {
		t.Fatal("Connected() true after Close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if _, _, err := conn.Read(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("tracker side read: %v, want the socket closed", err)
	}
	select {
	case e := <-rec.ch:
		t.Fatalf("event %#v after Close", e)
	default:
	}
}

func TestCloseInterruptsDial(t *testing.T) {
	// A listener that accepts TCP and never answers the handshake.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	rec := newRecorder()
	c := newTestClient(t, "ws://"+l.Addr().String(), rec.events(), options{dialTimeout: time.Hour})
	select {
	case nc := <-accepted:
		defer nc.Close()
	case <-time.After(guard):
		t.Fatal("the client did not dial")
	}
	c.Close() // hangs for an hour if the dial is not interrupted
	select {
	case e := <-rec.ch:
		t.Fatalf("event %#v, want none", e)
	default:
	}
}

func TestEvents(t *testing.T) {
	tt := newTestTracker(t)
	rec := newRecorder()
	newTestClient(t, tt.url, rec.events(), options{})
	conn := tt.accept(t)
	rec.expect(t, connectEvent{Connected: true})

	ih, peer, offerID := randomID(t), randomID(t), randomID(t)
	ptr := func(v int) *int { return &v }
	tests := []struct {
		name string
		msg  []byte
		want any
	}{
		{
			name: "response",
			msg: encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih, Interval: ptr(120),
				Complete: ptr(2), Incomplete: ptr(3)}),
			want: responseEvent{ih, 2 * time.Minute, 2, 3},
		},
		{
			name: "response with warning and no counts",
			msg:  encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih, Interval: ptr(0), WarningMessage: "slow down"}),
			want: responseEvent{ih, 0, -1, -1},
		},
		{
			name: "relayed offer",
			msg: encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih, PeerID: &peer, OfferID: &offerID,
				Offer: &trackermsg.SDP{Type: "offer", SDP: "v=0 remote offer"}}),
			want: offerEvent{ih, peer, offerID, "v=0 remote offer"},
		},
		{
			name: "answer (bittorrent-tracker: no to_peer_id)",
			msg: encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih, PeerID: &peer, OfferID: &offerID,
				Answer: &trackermsg.SDP{Type: "answer", SDP: "v=0 remote answer"}}),
			want: answerEvent{ih, peer, offerID, "v=0 remote answer"},
		},
		{
			name: "answer addressed to us",
			msg: encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih, PeerID: &peer, ToPeerID: &edgeID,
				OfferID: &offerID, Answer: &trackermsg.SDP{Type: "answer", SDP: "v=0 second"}}),
			want: answerEvent{ih, peer, offerID, "v=0 second"},
		},
		{
			name: "failure with action and info_hash",
			msg:  encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih, FailureReason: "torrent not allowed"}),
			want: failureEvent{&ih, "torrent not allowed"},
		},
		{
			name: "failure alone",
			msg:  []byte(`{"failure reason":"invalid info_hash"}`),
			want: failureEvent{nil, "invalid info_hash"},
		},
		{
			name: "failure of a scrape",
			msg:  []byte(`{"action":"scrape","failure reason":"no"}`),
			want: failureEvent{nil, "no"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			write(t, conn, websocket.MessageText, tc.msg)
			rec.expect(t, tc.want)
		})
	}
}

// TestDropsWhatItCannotUse sends what a broken or hostile tracker might and
// checks that each is dropped without an event and without losing the
// connection: the valid message sent after each one still arrives on it.
func TestDropsWhatItCannotUse(t *testing.T) {
	tt := newTestTracker(t)
	rec := newRecorder()
	c := newTestClient(t, tt.url, rec.events(), options{})
	conn := tt.accept(t)
	rec.expect(t, connectEvent{Connected: true})

	ih, peer, offerID := randomID(t), randomID(t), randomID(t)
	bin := func(id trackermsg.ID) string { b, _ := json.Marshal(id.BinaryString()); return string(b) }
	// response returns an announce response of exactly n bytes, padded
	// through its warning message.
	response := func(n int) []byte {
		b := []byte(fmt.Sprintf(`{"action":"announce","info_hash":%s,"interval":60,"complete":1,"incomplete":1,"warning message":""}`, bin(ih)))
		pad := n - len(b)
		if pad < 0 {
			t.Fatalf("response cannot be %d bytes", n)
		}
		return append(b[:len(b)-2], []byte(strings.Repeat("w", pad)+`"}`)...)
	}
	tests := []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
	}{
		{"empty", websocket.MessageText, nil},
		{"not JSON", websocket.MessageText, []byte("hello tracker")},
		{"binary garbage", websocket.MessageBinary, []byte{0xff, 0xfe, 0x00, 0x7b, 0x80}},
		{"JSON array", websocket.MessageText, []byte(`[1,2,3]`)},
		{"truncated", websocket.MessageText, []byte(`{"action":"announce","interval":`)},
		{"unknown action", websocket.MessageText, []byte(`{"action":"dance"}`)},
		{"no action", websocket.MessageText, []byte(`{"interval":10}`)},
		{"peer_id above U+00FF", websocket.MessageText, []byte(fmt.Sprintf(
			`{"action":"announce","info_hash":%s,"peer_id":"%s","offer_id":%s,"offer":{"type":"offer","sdp":"v=0"}}`,
			bin(ih), strings.Repeat("Ā", 20), bin(offerID)))},
		{"short info_hash", websocket.MessageText, []byte(`{"action":"announce","info_hash":"abc","interval":10}`)},
		{"offer without offer_id", websocket.MessageText, []byte(fmt.Sprintf(
			`{"action":"announce","info_hash":%s,"peer_id":%s,"offer":{"type":"offer","sdp":"v=0"}}`, bin(ih), bin(peer)))},
		{"offer with empty SDP", websocket.MessageText, []byte(fmt.Sprintf(
			`{"action":"announce","info_hash":%s,"peer_id":%s,"offer_id":%s,"offer":{"type":"offer","sdp":""}}`, bin(ih), bin(peer), bin(offerID)))},
		{"interval as string", websocket.MessageText, []byte(fmt.Sprintf(
			`{"action":"announce","info_hash":%s,"interval":"120"}`, bin(ih)))},
		{"response without info_hash", websocket.MessageText, []byte(`{"action":"announce","interval":120,"complete":1}`)},
		{"our own offer", websocket.MessageText, encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih,
			PeerID: &edgeID, OfferID: &offerID, Offer: &trackermsg.SDP{Type: "offer", SDP: "v=0"}})},
		{"answer to another peer", websocket.MessageText, encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih,
			PeerID: &peer, ToPeerID: &peer, OfferID: &offerID, Answer: &trackermsg.SDP{Type: "answer", SDP: "v=0"}})},
		{"an announce", websocket.MessageText, encode(t, &trackermsg.Message{Action: "announce", InfoHash: &ih, PeerID: &peer})},
		{"scrape response", websocket.MessageText, []byte(`{"action":"scrape","files":{}}`)},
		{"one byte over the limit", websocket.MessageText, response(trackermsg.MaxMessageSize + 1)},
		{"oversize", websocket.MessageText, response(1 << 20)},
	}
	valid := encode(t, &trackermsg.Message{Action: "announce", InfoHash: &peer, Interval: new(int), Complete: new(int), Incomplete: new(int)})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			write(t, conn, tc.typ, tc.msg)
			write(t, conn, websocket.MessageText, valid)
			rec.expect(t, responseEvent{InfoHash: peer})
		})
	}
	t.Run("largest allowed", func(t *testing.T) {
		write(t, conn, websocket.MessageText, response(trackermsg.MaxMessageSize))
		rec.expect(t, responseEvent{ih, time.Minute, 1, 1})
	})
	if !c.Connected() {
		t.Fatal("client disconnected")
	}
	select {
	case <-tt.conns:
		t.Fatal("client reconnected")
	default:
	}
}

// TestReconnects checks that the client comes back after the tracker drops
// the socket, and that a callback may announce from OnConnect.
func TestReconnects(t *testing.T) {
	drops := []struct {
		name string
		drop func(c *websocket.Conn)
	}{
		{"close frame", func(c *websocket.Conn) { c.Close(websocket.StatusGoingAway, "restart") }},
		{"policy violation", func(c *websocket.Conn) { c.Close(websocket.StatusPolicyViolation, "bad event") }},
		{"abrupt", func(c *websocket.Conn) { c.CloseNow() }},
	}
	tt := newTestTracker(t)
	ih := randomID(t)
	errs := make(chan error, 16)
	var cl *Client
	set := make(chan struct{})
	rec := newRecorder()
	ev := rec.events()
	onConnect := ev.OnConnect
	ev.OnConnect = func(connected bool, err error) {
		<-set
		if connected {
			errs <- cl.Announce(context.Background(), Announce{InfoHash: ih, Event: "started", Left: -1})
		}
		onConnect(connected, err)
	}
	cl = newTestClient(t, tt.url, ev, options{})
	close(set)

	conn := tt.accept(t)
	outer := t
	for _, d := range drops {
		t.Run(d.name, func(t *testing.T) {
			rec.expect(t, connectEvent{Connected: true})
			if err := <-errs; err != nil {
				t.Fatalf("announce from OnConnect: %v", err)
			}
			if m, _ := read(t, conn); *m.InfoHash != ih {
				t.Fatalf("announce of %v, want %v", m.InfoHash, ih)
			}
			d.drop(conn)
			rec.expect(t, connectEvent{Connected: false, HasErr: true})
			conn = tt.accept(outer) // outlives this subtest
		})
	}
	rec.expect(t, connectEvent{Connected: true})
	if !cl.Connected() {
		t.Fatal("not connected after reconnecting")
	}
}

// TestBackoffGrowsAndResets checks the attempts behind each reconnection
// delay: they grow while connections drop at once and start again after a
// connection that stayed up. The client's clock is the test's, so "stayed
// up" does not depend on scheduling.
func TestBackoffGrowsAndResets(t *testing.T) {
	tt := newTestTracker(t)
	var skew atomic.Int64
	type retry struct {
		attempt      int
		bound, delay time.Duration
	}
	retries := make(chan retry, 64)
	rec := newRecorder()
	c := newTestClient(t, tt.url, rec.events(), options{
		stableAfter: time.Hour,
		now:         func() time.Time { return time.Now().Add(time.Duration(skew.Load())) },
		onRetry: func(attempt int, bound, delay time.Duration) {
			retries <- retry{attempt, bound, delay}
		},
	})
	wantAttempts := []int{0, 1, 2, 0, 1, 2, 3}
	for i := range wantAttempts {
		conn := tt.accept(t)
		rec.expect(t, connectEvent{Connected: true})
		if i == 3 {
			skew.Add(int64(2 * time.Hour)) // this one stayed up
		}
		conn.CloseNow()
		rec.expect(t, connectEvent{Connected: false, HasErr: true})
	}
	tt.accept(t)
	c.Close()
	for i, want := range wantAttempts {
		r := <-retries
		if r.attempt != want {
			t.Errorf("retry %d: attempt %d, want %d", i, r.attempt, want)
		}
		if wantBound := backoffBound(time.Millisecond, 4*time.Millisecond, want); r.bound != wantBound {
			t.Errorf("retry %d: bound %v, want %v", i, r.bound, wantBound)
		}
		if r.delay < 0 || r.delay > r.bound {
			t.Errorf("retry %d: delay %v outside [0, %v]", i, r.delay, r.bound)
		}
	}
}

// settleGoroutines waits until at most n goroutines run, and fails with
// their stacks if that does not happen.
func settleGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	tt := newTestTracker(t)
	before := runtime.NumGoroutine()
	rec := newRecorder()
	c := newTestClient(t, tt.url, rec.events(), options{})

	conn := tt.accept(t)
	rec.expect(t, connectEvent{Connected: true})
	if err := c.Announce(context.Background(), Announce{InfoHash: edgeID}); err != nil {
		t.Fatal(err)
	}
	read(t, conn)
	settleGoroutines(t, before+1) // the client's own goroutine

	for i := range 40 {
		switch i % 3 {
		case 0:
			conn.CloseNow()
		case 1:
			conn.Close(websocket.StatusGoingAway, "")
		case 2:
			write(t, conn, websocket.MessageText, []byte("garbage"))
			conn.CloseNow()
		}
		rec.expect(t, connectEvent{Connected: false, HasErr: true})
		conn = tt.accept(t)
		rec.expect(t, connectEvent{Connected: true})
	}
	if err := c.Announce(context.Background(), Announce{InfoHash: edgeID}); err != nil {
		t.Fatal(err)
	}
	read(t, conn)
	settleGoroutines(t, before+1)

	c.Close()
	conn.CloseNow()
	settleGoroutines(t, before)
}
