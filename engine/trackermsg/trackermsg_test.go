package trackermsg

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// testID returns an ID whose bytes cover the awkward parts of the binary
// string mapping: control characters, '"', '\\', 0x7F, 0x80 and 0xFF.
func testID(seed byte) ID {
	id := ID{0x00, 0x01, '"', '\\', 0x1F, 0x7F, 0x80, 0xC3, 0xFF, '<', '>', '&'}
	for i := 12; i < len(id); i++ {
		id[i] = seed + byte(i)
	}
	return id
}

func ptr[T any](v T) *T { return &v }

// jsonString quotes s as JSON for building test input by hand.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var (
	ihA  = testID(1)
	ihB  = testID(2)
	pidA = testID(3)
	pidB = testID(4)
	oid  = testID(5)
)

// sampleMessages returns one message of every kind, as a client or tracker
// would build it.
func sampleMessages() map[string]*Message {
	return map[string]*Message{
		"announce": {
			Action: ActionAnnounce, InfoHash: ptr(ihA), PeerID: ptr(pidA),
			NumWant: ptr(5), Uploaded: ptr(0.0), Downloaded: ptr(1024.0), Left: ptr(4096.0),
			Event: EventStarted,
			Offers: []Offer{
				{Offer: SDP{Type: "offer", SDP: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}, OfferID: oid},
				{Offer: SDP{Type: "offer", SDP: "v=0\r\n"}, OfferID: testID(6)},
			},
		},
		"relayed offer": {
			Action: ActionAnnounce, InfoHash: ptr(ihA), PeerID: ptr(pidA), OfferID: ptr(oid),
			Offer: &SDP{Type: "offer", SDP: "v=0\r\n"},
		},
		"answer": {
			Action: ActionAnnounce, InfoHash: ptr(ihA), PeerID: ptr(pidB), ToPeerID: ptr(pidA),
			OfferID: ptr(oid), Answer: &SDP{Type: "answer", SDP: "v=0\r\n"},
		},
		"announce response": {
			Action: ActionAnnounce, InfoHash: ptr(ihA), Interval: ptr(120),
			Complete: ptr(1), Incomplete: ptr(2),
		},
		"scrape one":  {Action: ActionScrape, InfoHash: ptr(ihA), InfoHashes: []ID{ihA}},
		"scrape list": {Action: ActionScrape, InfoHashes: []ID{ihA, ihB}},
		"scrape all":  {Action: ActionScrape},
		"scrape response": {
			Action: ActionScrape,
			Files: map[string]ScrapeFile{
				ihA.BinaryString(): {Complete: 1, Incomplete: 2, Downloaded: 3},
				ihB.BinaryString(): {},
			},
		},
		"empty scrape response": {Action: ActionScrape, Files: map[string]ScrapeFile{}},
		"failure":               {FailureReason: "invalid info_hash"},
		"failure with context": {
			Action: ActionAnnounce, InfoHash: ptr(ihA), FailureReason: "too many swarms",
		},
	}
}

func TestKind(t *testing.T) {
	want := map[string]Kind{
		"announce":              KindAnnounce,
		"relayed offer":         KindRelayedOffer,
		"answer":                KindAnswer,
		"announce response":     KindAnnounceResponse,
		"scrape one":            KindScrape,
		"scrape list":           KindScrape,
		"scrape all":            KindScrape,
		"scrape response":       KindScrapeResponse,
		"empty scrape response": KindScrapeResponse,
		"failure":               KindFailure,
		"failure with context":  KindFailure,
	}
	for name, m := range sampleMessages() {
		if got := m.Kind(); got != want[name] {
			t.Errorf("%s: Kind() = %d, want %d", name, got, want[name])
		}
		if m.IsFailure() != (want[name] == KindFailure) {
			t.Errorf("%s: IsFailure() = %v", name, m.IsFailure())
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for name, m := range sampleMessages() {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if len(b) > MaxMessageSize {
				t.Fatalf("encoded %d bytes", len(b))
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip of %s:\n got %+v\nwant %+v", b, got, m)
			}
		})
	}
}

// TestEncodeWireForm checks the JSON shape other implementations expect.
func TestEncodeWireForm(t *testing.T) {
	tests := []struct {
		name string
		msg  *Message
		want map[string]any
	}{
		{
			name: "announce response",
			msg: &Message{Action: ActionAnnounce, InfoHash: ptr(ihA), Interval: ptr(120),
				Complete: ptr(0), Incomplete: ptr(3)},
			want: map[string]any{"action": "announce", "info_hash": ihA.BinaryString(),
				"interval": 120.0, "complete": 0.0, "incomplete": 3.0},
		},
		{
			name: "scrape one is a string",
			msg:  &Message{Action: ActionScrape, InfoHash: ptr(ihA), InfoHashes: []ID{ihA}},
			want: map[string]any{"action": "scrape", "info_hash": ihA.BinaryString()},
		},
		{
			name: "scrape list",
			msg:  &Message{Action: ActionScrape, InfoHashes: []ID{ihA, ihB}},
			want: map[string]any{"action": "scrape",
				"info_hash": []any{ihA.BinaryString(), ihB.BinaryString()}},
		},
		{
			name: "empty scrape response keeps files",
			msg:  &Message{Action: ActionScrape, Files: map[string]ScrapeFile{}},
			want: map[string]any{"action": "scrape", "files": map[string]any{}},
		},
		{
			name: "failure",
			msg:  &Message{FailureReason: "bad"},
			want: map[string]any{"failure reason": "bad"},
		},
		{
			name: "relayed offer",
			msg: &Message{Action: ActionAnnounce, InfoHash: ptr(ihA), PeerID: ptr(pidA),
				OfferID: ptr(oid), Offer: &SDP{Type: "offer", SDP: "x"}},
			want: map[string]any{"action": "announce", "info_hash": ihA.BinaryString(),
				"peer_id": pidA.BinaryString(), "offer_id": oid.BinaryString(),
				"offer": map[string]any{"type": "offer", "sdp": "x"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Encode produced invalid JSON %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Encode = %s\nwant %v", b, tt.want)
			}
		})
	}
}

func TestBinaryString(t *testing.T) {
	var id ID
	for i := range id {
		id[i] = byte(i * 13)
	}
	id[19] = 0xFF
	s := id.BinaryString()
	if n := len([]rune(s)); n != 20 {
		t.Fatalf("BinaryString has %d runes, want 20", n)
	}
	for i, r := range []rune(s) {
		if r != rune(id[i]) {
			t.Fatalf("rune %d = U+%04X, want U+%04X", i, r, id[i])
		}
	}
	got, err := ParseBinaryString(s)
	if err != nil || got != id {
		t.Fatalf("ParseBinaryString(BinaryString) = %v, %v; want %v", got, err, id)
	}
	b, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "\"\\u0000\\r\\u001a'4AN[hu\u0082") {
		t.Fatalf("ID JSON = %s", b)
	}
	if id.String() != "000d1a2734414e5b6875828f9ca9b6c3d0ddeaff" {
		t.Fatalf("String() = %s", id.String())
	}
}

func TestParseBinaryStringErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"short", strings.Repeat("a", 19)},
		{"long", strings.Repeat("a", 21)},
		{"rune above U+00FF", strings.Repeat("a", 19) + "\u0100"},
		{"replacement character", strings.Repeat("a", 19) + "\uFFFD"},
		{"invalid UTF-8", strings.Repeat("a", 19) + "\xff"},
		{"raw bytes of a 20-byte hash", "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseBinaryString(tt.in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseBinaryString(%q) error = %v, want ErrMalformed", tt.in, err)
			}
		})
	}
}

// TestDecodeAccepts decodes messages as the known clients and trackers write
// them.
func TestDecodeAccepts(t *testing.T) {
	ih := jsonString(ihA.BinaryString())
	pid := jsonString(pidA.BinaryString())
	pidb := jsonString(pidB.BinaryString())
	off := jsonString(oid.BinaryString())
	tests := []struct {
		name  string
		in    string
		kind  Kind
		check func(*Message) bool
	}{
		{
			name: "bittorrent-tracker client announce",
			in: `{"action":"announce","info_hash":` + ih + `,"peer_id":` + pid +
				`,"numwant":5,"uploaded":0,"downloaded":0,"left":null,"event":"started","offers":[{"offer":{"type":"offer","sdp":"v=0"},"offer_id":` + off + `}]}`,
			kind: KindAnnounce,
			check: func(m *Message) bool {
				return *m.InfoHash == ihA && *m.PeerID == pidA && *m.NumWant == 5 &&
					m.Left == nil && len(m.Offers) == 1 && m.Offers[0].OfferID == oid
			},
		},
		{
			name: "announce with empty offers list",
			in:   `{"action":"announce","info_hash":` + ih + `,"peer_id":` + pid + `,"offers":[]}`,
			kind: KindAnnounce,
			check: func(m *Message) bool {
				return m.Offers == nil
			},
		},
		{
			name: "announce with whitespace around",
			in:   " \n\t{\"action\":\"announce\",\"info_hash\":" + ih + ",\"peer_id\":" + pid + "}\n",
			kind: KindAnnounce,
		},
		{
			name: "answer from client",
			in: `{"action":"announce","info_hash":` + ih + `,"peer_id":` + pidb + `,"to_peer_id":` + pid +
				`,"answer":{"type":"answer","sdp":"v=0"},"offer_id":` + off + `}`,
			kind: KindAnswer,
			check: func(m *Message) bool {
				return *m.ToPeerID == pidA && *m.PeerID == pidB && m.Answer.SDP == "v=0"
			},
		},
		{
			name: "relayed offer",
			in: `{"action":"announce","offer":{"type":"offer","sdp":"v=0"},"offer_id":` + off +
				`,"peer_id":` + pid + `,"info_hash":` + ih + `}`,
			kind: KindRelayedOffer,
		},
		{
			name: "announce response",
			in:   `{"action":"announce","interval":120,"complete":0,"incomplete":1,"info_hash":` + ih + `}`,
			kind: KindAnnounceResponse,
			check: func(m *Message) bool {
				return *m.Interval == 120 && *m.Complete == 0 && *m.Incomplete == 1
			},
		},
		{
			name: "scrape single",
			in:   `{"action":"scrape","info_hash":` + ih + `}`,
			kind: KindScrape,
			check: func(m *Message) bool {
				return reflect.DeepEqual(m.InfoHashes, []ID{ihA}) && *m.InfoHash == ihA
			},
		},
		{
			name: "scrape list",
			in:   `{"action":"scrape","info_hash":[` + ih + `,` + jsonString(ihB.BinaryString()) + `]}`,
			kind: KindScrape,
			check: func(m *Message) bool {
				return reflect.DeepEqual(m.InfoHashes, []ID{ihA, ihB}) && m.InfoHash == nil
			},
		},
		{
			name: "scrape all",
			in:   `{"action":"scrape"}`,
			kind: KindScrape,
			check: func(m *Message) bool {
				return m.InfoHashes == nil && m.InfoHash == nil
			},
		},
		{
			name: "scrape response",
			in:   `{"action":"scrape","files":{` + ih + `:{"complete":1,"incomplete":2,"downloaded":3}}}`,
			kind: KindScrapeResponse,
			check: func(m *Message) bool {
				return m.Files[ihA.BinaryString()] == ScrapeFile{Complete: 1, Incomplete: 2, Downloaded: 3}
			},
		},
		{
			name: "failure without action",
			in:   `{"failure reason":"invalid request"}`,
			kind: KindFailure,
		},
		{
			name: "failure with action and warning",
			in:   `{"action":"announce","failure reason":"x","warning message":"y","info_hash":` + ih + `}`,
			kind: KindFailure,
			check: func(m *Message) bool {
				return m.WarningMessage == "y" && *m.InfoHash == ihA
			},
		},
		{
			name: "escaped binary string",
			in:   `{"action":"scrape","info_hash":"\u0000\u0001\u00ff\u00FF0123456789abcdef"}`,
			kind: KindScrape,
			check: func(m *Message) bool {
				return m.InfoHash[0] == 0 && m.InfoHash[1] == 1 && m.InfoHash[2] == 0xFF && m.InfoHash[3] == 0xFF
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if m.Kind() != tt.kind {
				t.Fatalf("Kind = %d, want %d", m.Kind(), tt.kind)
			}
			if tt.check != nil && !tt.check(m) {
				t.Fatalf("decoded %+v", m)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	ih := jsonString(ihA.BinaryString())
	pid := jsonString(pidA.BinaryString())
	off := jsonString(oid.BinaryString())
	announce := func(extra string) string {
		return `{"action":"announce","info_hash":` + ih + `,"peer_id":` + pid + extra + `}`
	}
	offers := func(n int) string {
		o := make([]string, n)
		for i := range o {
			o[i] = `{"offer":{"type":"offer","sdp":"v=0"},"offer_id":` + off + `}`
		}
		return `,"offers":[` + strings.Join(o, ",") + `]`
	}
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"not JSON", `hello`},
		{"truncated", `{"action":"announce"`},
		{"array", `[1,2]`},
		{"trailing garbage", announce(``) + `x`},
		{"no action", `{"info_hash":` + ih + `}`},
		{"unknown action", `{"action":"connect"}`},
		{"announce without peer_id", `{"action":"announce","info_hash":` + ih + `}`},
		{"announce without info_hash", `{"action":"announce","peer_id":` + pid + `}`},
		{"announce with info_hash list", `{"action":"announce","peer_id":` + pid + `,"info_hash":[` + ih + `]}`},
		{"info_hash above U+00FF", `{"action":"scrape","info_hash":"` + strings.Repeat("a", 19) + `\u0100"}`},
		{"peer_id above U+00FF", `{"action":"announce","info_hash":` + ih + `,"peer_id":"` + strings.Repeat("\u4e2d", 20) + `"}`},
		{"info_hash of 19 characters", `{"action":"scrape","info_hash":"` + strings.Repeat("a", 19) + `"}`},
		{"info_hash of 21 characters", `{"action":"scrape","info_hash":"` + strings.Repeat("a", 21) + `"}`},
		{"info_hash as number", `{"action":"scrape","info_hash":12}`},
		{"info_hash as object", `{"action":"scrape","info_hash":{}}`},
		{"info_hash list of numbers", `{"action":"scrape","info_hash":[1]}`},
		{"too many info hashes", `{"action":"scrape","info_hash":[` + strings.TrimSuffix(strings.Repeat(ih+",", 101), ",") + `]}`},
		{"unknown event", announce(`,"event":"paused"`)},
		{"fractional numwant", announce(`,"numwant":1.5`)},
		{"negative numwant", announce(`,"numwant":-1`)},
		{"huge numwant", announce(`,"numwant":100000`)},
		{"numwant as string", announce(`,"numwant":"5"`)},
		{"too many offers", announce(offers(MaxOffers + 1))},
		{"offers not a list", announce(`,"offers":{}`)},
		{"offer of type answer", announce(`,"offers":[{"offer":{"type":"answer","sdp":"v=0"},"offer_id":` + off + `}]`)},
		{"offer with empty SDP", announce(`,"offers":[{"offer":{"type":"offer","sdp":""},"offer_id":` + off + `}]`)},
		{"offer with oversized SDP", announce(`,"offers":[{"offer":{"type":"offer","sdp":"` + strings.Repeat("a", MaxSDPLen+1) + `"},"offer_id":` + off + `}]`)},
		{"offer with bad offer_id", announce(`,"offers":[{"offer":{"type":"offer","sdp":"v=0"},"offer_id":"short"}]`)},
		{"answer without offer_id", announce(`,"to_peer_id":` + pid + `,"answer":{"type":"answer","sdp":"v=0"}`)},
		{"answer of type offer", announce(`,"offer_id":` + off + `,"answer":{"type":"offer","sdp":"v=0"}`)},
		{"relayed offer without offer_id", announce(`,"offer":{"type":"offer","sdp":"v=0"}`)},
		{"negative interval", `{"action":"announce","interval":-1,"info_hash":` + ih + `}`},
		{"oversized", `{"action":"scrape","x":"` + strings.Repeat("a", MaxMessageSize) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %+v, %v; want an error wrapping ErrMalformed", m, err)
			}
		})
	}
}

// FuzzDecode checks that Decode never panics, only fails with ErrMalformed,
// and that whatever it accepts re-encodes to a message that decodes equal.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := Encode(m)
		if err != nil {
			f.Fatalf("Encode: %v", err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"action":"announce","info_hash":"\u0000\u0001\u00ff\u00FF0123456789abcdef","peer_id":"-WW0107-abcdefghijkl","numwant":10,"offers":[]}`))
	f.Add([]byte(`{"action":"scrape","info_hash":[]}`))
	f.Add([]byte(`{"action":"scrape","files":null}`))
	f.Add([]byte(`{"failure reason":"x"}`))
	f.Add([]byte(`{"ACTION":"scrape","Info_Hash":"0123456789abcdefghij"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode of decoded %+v: %v", m, err)
		}
		m2, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode of re-encoded %s: %v", b, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoded message differs:\n in %q\nout %s\n m1 %+v\n m2 %+v", data, b, m, m2)
		}
		if m.Kind() != m2.Kind() {
			t.Fatalf("Kind changed from %d to %d", m.Kind(), m2.Kind())
		}
		b2, err := Encode(m2)
		if err != nil || string(b2) != string(b) {
			t.Fatalf("Encode not stable: %s then %s (%v)", b, b2, err)
		}
	})
}
