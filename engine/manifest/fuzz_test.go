package manifest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

type seed struct{ url, text string }

// fuzzSeeds are the samples and hand-written edge cases.
func fuzzSeeds(t testing.TB) []seed {
	var out []seed
	for _, f := range []string{"hls/master.m3u8", "hls/360p/index.m3u8", "hls/audio/index.m3u8", "hls-byterange/master.m3u8", "hls-byterange/index.m3u8", "dash/manifest.mpd"} {
		out = append(out, seed{cdn + f, string(readSample(t, f))})
	}
	hls := []string{
		"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:100\n#EXTINF:4,\na.ts?x=1\n#EXTINF:4,\n/root/b.ts\n#EXTINF:4,\n//other.example.com/c.ts\n#EXTINF:4,\nhttps://cdn2.example.com/d.ts#frag\n#EXTINF:4,\n../e.ts\n",
		"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:100@0\na.ts\n#EXTINF:4,\n#EXT-X-BYTERANGE:50\na.ts\n#EXT-X-BYTERANGE:30\n#EXTINF:4,\nb.ts\n#EXTINF:4,\n#EXT-X-BYTERANGE:10\na.ts\n#EXT-X-ENDLIST\n",
		"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/k1\"\n#EXTINF:2.5,\n#EXT-X-BYTERANGE:1000@720\ninit.mp4\n#EXT-X-ENDLIST\n",
		"#EXTM3U\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-MAP:URI=\"m.mp4\"\n#EXTINF:4,\nm1.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"/ad.mp4\"\n#EXTINF:4,\nad1.m4s\n",
		"#EXTM3U\r\n#EXT-X-PLAYLIST-TYPE:EVENT\r\n#EXTINF:4,\r\ns1.m4s\r\n#EXT-X-PART:DURATION=1,URI=\"s2.p1.m4s\",BYTERANGE=\"100\"\r\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s2.p2.m4s\"\r\n#EXT-X-RENDITION-REPORT:URI=\"../v2/x.m3u8\"\r\n",
		"#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"https://audio.example.com/en.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\",RESOLUTION=640x360\nhttp://x.example.com/v.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"if.m3u8\"\n",
	}
	for _, h := range hls {
		out = append(out, seed{playlistURL, h})
	}
	dash := []string{
		mpd(`type="static" mediaPresentationDuration="PT5S"`, `<Period><AdaptationSet><SegmentTemplate timescale="1000" duration="2000" startNumber="7" initialization="$RepresentationID$/init-$Bandwidth$.mp4" media="$RepresentationID$/s$Number%05d$-$$.m4s"/><Representation id="v" bandwidth="500"/></AdaptationSet></Period>`),
		mpd(`type="static"`, `<Period start="PT10S" duration="PT12S"><AdaptationSet><Representation id="v"><SegmentTemplate timescale="10" presentationTimeOffset="100" media="t$Time$.m4s"><SegmentTimeline><S t="100" d="20" r="1"/><S d="10" r="-1"/><S t="160" d="20" r="-1"/></SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period>`),
		mpd(`type="static" mediaPresentationDuration="PT2S"`, `<BaseURL>https://edge.example.com/root/</BaseURL><Period><BaseURL>p1/</BaseURL><AdaptationSet><BaseURL>/video/</BaseURL><SegmentTemplate duration="2" media="$RepresentationID$-$Number$.m4s" initialization="i.mp4"/><Representation id="a"><BaseURL>../hi/</BaseURL></Representation><Representation id="b"><BaseURL>https://other.example.com/x/</BaseURL></Representation></AdaptationSet></Period>`),
		mpd(`type="static" mediaPresentationDuration="PT4S"`, `<Period><AdaptationSet><Representation id="v"><BaseURL>all.mp4</BaseURL><SegmentList timescale="1000" duration="2000"><Initialization range="0-99"/><SegmentURL mediaRange="100-599"/><SegmentURL media="/extra.m4s"/></SegmentList></Representation></AdaptationSet></Period>`),
		mpd(`type="static" mediaPresentationDuration="PT30S"`, `<Period><AdaptationSet><Representation id="v"><BaseURL>v.mp4</BaseURL><SegmentBase indexRange="800-1000"><Initialization range="0-799"/></SegmentBase></Representation></AdaptationSet></Period>`),
		mpd(`type="dynamic" availabilityStartTime="2024-12-31T23:59:00Z" timeShiftBufferDepth="PT7S"`, `<Location>https://cdn.example.com/vod/stream.mpd</Location><Period start="PT0S"><AdaptationSet><Representation id="v"><SegmentTemplate duration="2" startNumber="0" media="l$Number$.ts"/></Representation></AdaptationSet></Period>`),
		mpd(`type="dynamic" availabilityStartTime="2024-12-31T23:59:00Z" timeShiftBufferDepth="PT5S"`, `<Period id="1" start="PT10S"><AdaptationSet><Representation id="v"><SegmentTemplate timescale="10" media="$Number$.ts"><SegmentTimeline><S t="0" d="20" r="-1"/></SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period>`),
		mpd(`type="static" mediaPresentationDuration="PT6S"`, `<Period id="main" duration="PT4S"><AdaptationSet><Representation id="v"><SegmentTemplate duration="2" media="m$Number$.ts"/></Representation></AdaptationSet></Period><Period id="ad"><AdaptationSet><Representation id="v"><SegmentTemplate duration="2" media="a$Number$.ts"/></Representation></AdaptationSet></Period>`),
	}
	for _, d := range dash {
		out = append(out, seed{mpdURL, d})
	}
	return out
}

// checkParsed checks what must hold for any input: errors wrap
// ErrMalformed, and every parsed segment is found again by Lookup.
func checkParsed(t *testing.T, m *Manifest, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		return
	}
	if len(m.Segments) > MaxSegments || len(m.Renditions) > MaxSegments {
		t.Fatalf("%d segments, %d renditions", len(m.Segments), len(m.Renditions))
	}
	for i, s := range m.Segments {
		if s.Range != nil && (s.Range.Start < 0 || s.Range.End <= s.Range.Start) {
			t.Fatalf("segment %d has range %v", i, *s.Range)
		}
		if err := identity.ValidateName(s.Name); err != nil || s.Name == "" {
			t.Fatalf("segment %d name %q: %v", i, s.Name, err)
		}
		if s.Duration < 0 {
			t.Fatalf("segment %d duration %v", i, s.Duration)
		}
		got, ok := m.Lookup(s.URL, s.Range)
		if !ok || normalizeURL(got.URL) != normalizeURL(s.URL) || (got.Range == nil) != (s.Range == nil) || got.Range != nil && *got.Range != *s.Range {
			t.Fatalf("Lookup(%q, %v) = %+v, %v", s.URL, s.Range, got, ok)
		}
		if s.Range != nil {
			mid := ByteRange{s.Range.Start + s.Range.Len()/2, s.Range.End}
			if _, ok := m.Lookup(s.URL, &mid); !ok {
				t.Fatalf("Lookup of a part of %v fails", *s.Range)
			}
		}
	}
}

func FuzzParseHLS(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if strings.HasPrefix(s.text, "#EXTM3U") {
			f.Add([]byte(s.text))
		}
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		m, err := ParseAt(text, playlistURL, fixedNow)
		checkParsed(t, m, err)
	})
}

func FuzzParseDASH(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if strings.HasPrefix(s.text, "<") {
			f.Add([]byte(s.text), int64(0))
			f.Add([]byte(s.text), int64(3600))
		}
	}
	f.Fuzz(func(t *testing.T, text []byte, nowOffset int64) {
		now := fixedNow.Add(time.Duration(nowOffset%(1<<34)) * time.Second)
		m, err := ParseAt(text, mpdURL, now)
		checkParsed(t, m, err)
	})
}

func FuzzRewrite(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s.text))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		u := playlistURL
		if detect(text) == formatDASH {
			u = mpdURL
		}
		roundTrip(t, text, u, fixedNow)
	})
}
