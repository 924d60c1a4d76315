package manifest

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

const playlistURL = "https://cdn.example.com/live/v1/index.m3u8?token=abc"
const playlistChannel = "cdn.example.com/live/v1/index.m3u8"

// seg is the part of a Segment the table tests compare.
type seg struct {
	url   string
	rng   string // "" for none, else ByteRange.String()
	name  string
	start time.Duration
	dur   time.Duration
	init  bool
}

func segsOf(m *Manifest) []seg {
	var out []seg
	for _, s := range m.Segments {
		r := ""
		if s.Range != nil {
			r = s.Range.String()
		}
		out = append(out, seg{s.URL, r, s.Name, s.Start, s.Duration, s.Init})
	}
	return out
}

func checkSegs(t *testing.T, m *Manifest, want []seg) {
	t.Helper()
	got := segsOf(m)
	if len(got) != len(want) {
		t.Fatalf("%d segments, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestHLSMediaEdgeCases(t *testing.T) {
	const d = 4 * time.Second
	for _, tc := range []struct {
		name string
		text string
		live bool
		want []seg
	}{
		{
			name: "relative, absolute and query URIs; live from sequence 100",
			text: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:100\n" +
				"#EXTINF:4,\na.ts?x=1\n" +
				"#EXTINF:4,\n/root/b.ts\n" +
				"#EXTINF:4,\n//other.example.com/c.ts\n" +
				"#EXTINF:4,\nhttps://cdn2.example.com/d.ts#frag\n" +
				"#EXTINF:4,\n../e.ts\n",
			live: true,
			want: []seg{
				{"https://cdn.example.com/live/v1/a.ts?x=1", "", "100", 0, d, false},
				{"https://cdn.example.com/root/b.ts", "", "101", d, d, false},
				{"https://other.example.com/c.ts", "", "102", 2 * d, d, false},
				{"https://cdn2.example.com/d.ts", "", "103", 3 * d, d, false},
				{"https://cdn.example.com/live/e.ts", "", "104", 4 * d, d, false},
			},
		},
		{
			name: "byte ranges: explicit, continued per URI, interleaved URIs, first without offset",
			text: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n" +
				"#EXTINF:4,\n#EXT-X-BYTERANGE:100@0\na.ts\n" +
				"#EXTINF:4,\n#EXT-X-BYTERANGE:50\na.ts\n" + // continues a.ts at 100
				"#EXT-X-BYTERANGE:30\n#EXTINF:4,\nb.ts\n" + // first range of b.ts: 0
				"#EXTINF:4,\n#EXT-X-BYTERANGE:10\na.ts\n" + // a.ts again: at 150, not after b.ts
				"#EXTINF:4,\n#EXT-X-BYTERANGE:20\nb.ts\n" + // b.ts at 30
				"#EXTINF:4,\n#EXT-X-BYTERANGE:5@1000\na.ts\n" +
				"#EXTINF:4,\n#EXT-X-BYTERANGE:5\na.ts\n",
			want: []seg{
				{"https://cdn.example.com/live/v1/a.ts", "bytes=0-99", "0", 0, d, false},
				{"https://cdn.example.com/live/v1/a.ts", "bytes=100-149", "1", d, d, false},
				{"https://cdn.example.com/live/v1/b.ts", "bytes=0-29", "2", 2 * d, d, false},
				{"https://cdn.example.com/live/v1/a.ts", "bytes=150-159", "3", 3 * d, d, false},
				{"https://cdn.example.com/live/v1/b.ts", "bytes=30-49", "4", 4 * d, d, false},
				{"https://cdn.example.com/live/v1/a.ts", "bytes=1000-1004", "5", 5 * d, d, false},
				{"https://cdn.example.com/live/v1/a.ts", "bytes=1005-1009", "6", 6 * d, d, false},
			},
		},
		{
			name: "one EXT-X-MAP with a byte range without offset; keys; unknown tags",
			text: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720\"\n" +
				"#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/k1\"\n#EXT-X-FOO:bar\n" +
				"#EXTINF:2.5,\n#EXT-X-BYTERANGE:1000@720\ninit.mp4\n" +
				"#EXT-X-KEY:METHOD=NONE\n#EXTINF:1.5,title\n#EXT-X-BYTERANGE:500\ninit.mp4\n#EXT-X-ENDLIST\n",
			want: []seg{
				{"https://cdn.example.com/live/v1/init.mp4", "bytes=0-719", "init", 0, 0, true},
				{"https://cdn.example.com/live/v1/init.mp4", "bytes=720-1719", "0", 0, sec(2.5), false},
				{"https://cdn.example.com/live/v1/init.mp4", "bytes=1720-2219", "1", sec(2.5), sec(1.5), false},
			},
		},
		{
			name: "several maps across discontinuities are named by discontinuity sequence",
			text: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n" +
				"#EXT-X-MAP:URI=\"main-init.mp4\"\n#EXTINF:4,\nm1.m4s\n" +
				"#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"ad-init.mp4\"\n#EXTINF:4,\nad1.m4s\n" +
				"#EXT-X-MAP:URI=\"ad2-init.mp4\"\n#EXTINF:4,\nad2.m4s\n" +
				"#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"main-init.mp4\"\n#EXTINF:4,\nm2.m4s\n",
			live: true,
			want: []seg{
				{"https://cdn.example.com/live/v1/main-init.mp4", "", "init:3", 0, 0, true},
				{"https://cdn.example.com/live/v1/m1.m4s", "", "7", 0, d, false},
				{"https://cdn.example.com/live/v1/ad-init.mp4", "", "init:4", d, 0, true},
				{"https://cdn.example.com/live/v1/ad1.m4s", "", "8", d, d, false},
				{"https://cdn.example.com/live/v1/ad2-init.mp4", "", "init:4.1", 2 * d, 0, true},
				{"https://cdn.example.com/live/v1/ad2.m4s", "", "9", 2 * d, d, false},
				{"https://cdn.example.com/live/v1/m2.m4s", "", "10", 3 * d, d, false},
			},
		},
		{
			name: "EVENT without ENDLIST is live; CRLF; LL-HLS parts and hints are not segments; dangling SCTE-35 daterange",
			text: "#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n#EXT-X-PLAYLIST-TYPE:EVENT\r\n#EXT-X-PART-INF:PART-TARGET=1\r\n" +
				"#EXTINF:4,\r\ns1.m4s\r\n" +
				"#EXT-X-PART:DURATION=1,URI=\"s2.p1.m4s\",BYTERANGE=\"100\"\r\n" +
				"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s2.p2.m4s\"\r\n" +
				"#EXT-X-DATERANGE:ID=\"ad\",START-DATE=\"2025-01-01T00:00:00Z\",SCTE35-OUT=0xFC002F\r\n",
			live: true,
			want: []seg{{"https://cdn.example.com/live/v1/s1.m4s", "", "0", 0, d, false}},
		},
		{
			name: "delta update: names start after the skipped segments",
			text: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n#EXTINF:4,\nx.ts\n",
			live: true,
			want: []seg{{"https://cdn.example.com/live/v1/x.ts", "", "15", 0, d, false}},
		},
		{
			name: "VOD type without ENDLIST is not live; empty lines and white space around URIs",
			text: "\xef\xbb\xbf#EXTM3U\n\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4,\n  a b.ts \n",
			want: []seg{{"https://cdn.example.com/live/v1/a%20b.ts", "", "0", 0, d, false}},
		},
		{
			name: "a live playlist that has no segment yet",
			text: "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n",
			live: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.text, playlistURL)
			if m.Kind != HLSMedia || m.Live != tc.live {
				t.Errorf("kind %v live %v, want HLS media live %v", m.Kind, m.Live, tc.live)
			}
			checkSegs(t, m, tc.want)
			for _, s := range m.Segments {
				if s.Channel != playlistChannel {
					t.Errorf("channel %q", s.Channel)
				}
				if got, ok := m.Lookup(s.URL, s.Range); !ok || got.URL != s.URL || got.Init != s.Init {
					t.Errorf("Lookup(%s, %v) = %+v, %v", s.URL, s.Range, got, ok)
				}
			}
		})
	}
}

func TestHLSMasterEdgeCases(t *testing.T) {
	text := "#EXTM3U\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"en\",URI=\"https://audio.example.com/en.m3u8\"\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"fr\",URI=\"fr/index.m3u8?lang=fr\"\n" +
		"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"de\",STABLE-RENDITION-ID=\"sub-de\",URI=\"/subs/de.m3u8\"\n" +
		"#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"cc1\",INSTREAM-ID=\"CC1\"\n" +
		"#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"k\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"aac\",SUBTITLES=\"subs\",STABLE-VARIANT-ID=\"hd\"\n" +
		"hd/index.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.5\"\n" +
		"audio-only.m3u8\n" +
		"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI=\"iframes.m3u8\"\n"
	m := mustParse(t, text, "https://cdn.example.com/show/master.m3u8")
	want := []Rendition{
		{ID: "hd", URL: "https://cdn.example.com/show/hd/index.m3u8", Type: "video", Bandwidth: 2000000, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720, Channel: "cdn.example.com/show/hd/index.m3u8"},
		{ID: "variant:1", URL: "https://cdn.example.com/show/audio-only.m3u8", Type: "audio", Bandwidth: 64000, Codecs: "mp4a.40.5", Channel: "cdn.example.com/show/audio-only.m3u8"},
		{ID: "audio:aac:en", URL: "https://audio.example.com/en.m3u8", Type: "audio", Channel: "audio.example.com/en.m3u8"},
		{ID: "audio:aac:fr", URL: "https://cdn.example.com/show/fr/index.m3u8?lang=fr", Type: "audio", Channel: "cdn.example.com/show/fr/index.m3u8"},
		{ID: "sub-de", URL: "https://cdn.example.com/subs/de.m3u8", Type: "subtitles", Channel: "cdn.example.com/subs/de.m3u8"},
	}
	if m.Kind != HLSMaster || len(m.Renditions) != len(want) {
		t.Fatalf("kind %v renditions %+v", m.Kind, m.Renditions)
	}
	for i := range want {
		if m.Renditions[i] != want[i] {
			t.Errorf("rendition %d:\n got %+v\nwant %+v", i, m.Renditions[i], want[i])
		}
	}
}

func TestHLSMalformed(t *testing.T) {
	many := strings.Repeat("#EXTINF:1,\na.ts\n", MaxSegments+1)
	for _, tc := range []struct{ name, text, url string }{
		{"not a playlist", "hello", playlistURL},
		{"empty", "", playlistURL},
		{"only the header", "#EXTM3U\n", playlistURL},
		{"manifest URL not http", "#EXTM3U\n#EXTINF:1,\na.ts\n", "file:///a.m3u8"},
		{"manifest URL relative", "#EXTM3U\n#EXTINF:1,\na.ts\n", "/a.m3u8"},
		{"bad byte range", "#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:abc\na.ts\n", playlistURL},
		{"zero byte range", "#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:0@5\na.ts\n", playlistURL},
		{"negative byte range", "#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:-5@5\na.ts\n", playlistURL},
		{"byte range overflow", "#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:9223372036854775807@9223372036854775807\na.ts\n", playlistURL},
		{"NaN duration", "#EXTM3U\n#EXTINF:NaN,\na.ts\n", playlistURL},
		{"negative duration", "#EXTM3U\n#EXTINF:-4,\na.ts\n", playlistURL},
		{"map without URI", "#EXTM3U\n#EXT-X-MAP:BYTERANGE=\"5@0\"\n#EXTINF:1,\na.ts\n", playlistURL},
		{"bad URI", "#EXTM3U\n#EXTINF:1,\n%zz\n", playlistURL},
		{"URI too long", "#EXTM3U\n#EXTINF:1,\n" + strings.Repeat("a", MaxURLLength+1) + "\n", playlistURL},
		{"too many segments", "#EXTM3U\n" + many, playlistURL},
		{"too large", "#EXTM3U\n#" + strings.Repeat("x", MaxSize), playlistURL},
		// The decoder panics on these; Parse must not.
		{"attribute without value at the end", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,FOO\nx.m3u8\n", playlistURL},
		{"key before a URI without EXTINF", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=NONE\nfoo.ts\n#EXTINF:1,\nb.ts\n", playlistURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseAt([]byte(tc.text), tc.url, fixedNow)
			if tc.name == "key before a URI without EXTINF" {
				// Not fed to the decoder: the stray URI is ignored, as players do.
				if err != nil || len(m.Segments) != 1 || m.Segments[0].Name != "0" {
					t.Fatalf("got %v, %v", m, err)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestHLSLargePlaylist(t *testing.T) {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	const n = 20000
	for i := 0; i < n; i++ {
		b.WriteString("#EXTINF:2,\n#EXT-X-BYTERANGE:1000\nall.ts\n")
	}
	m := mustParse(t, b.String(), playlistURL)
	if len(m.Segments) != n {
		t.Fatalf("%d segments", len(m.Segments))
	}
	last := m.Segments[n-1]
	if last.Name != strconv.Itoa(n-1) || *last.Range != (ByteRange{(n - 1) * 1000, n * 1000}) || last.Start != (n-1)*2*time.Second {
		t.Errorf("last segment %+v %v", last, last.Range)
	}
	if got, ok := m.Lookup("https://cdn.example.com/live/v1/all.ts", &ByteRange{5000, 6000}); !ok || got.Name != "5" {
		t.Errorf("Lookup = %+v, %v", got, ok)
	}
}
