package manifest

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

const proxied = "https://site.test/app/__p2pmedia__/"

func TestRewriteHLSMedia(t *testing.T) {
	in := "#EXTM3U\r\n" +
		"#EXT-X-VERSION:7\r\n" +
		"#EXT-X-TARGETDURATION:4\r\n" +
		"#EXT-X-CUSTOM:URI=\"https://x.example.com/untouched\"\r\n" +
		"#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/k?id=1\",IV=0x1\r\n" +
		"#EXT-X-MAP:URI=\"/init.mp4\",BYTERANGE=\"100@0\"\r\n" +
		"#EXTINF:4,\r\nseg1.ts?x=1\r\n" +
		"#EXTINF:4,\r\nhttps://cdn2.example.com/a/seg2.ts?y=2\r\n" +
		"#EXTINF:4,\r\n../v2/seg3.ts\r\n" +
		"#EXTINF:4,\r\n../../../../up.ts\r\n" +
		"#EXTINF:4,\r\n  //other.example.com/seg5.ts \r\n" +
		"#EXTINF:4,\r\ndata:video/mp2t;base64,AAAA\r\n" +
		"#EXT-X-PART:DURATION=1,URI=\"https://cdn2.example.com/part.m4s\"\r\n" +
		"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"/hint.m4s\"\r\n" +
		"#EXT-X-RENDITION-REPORT:URI=\"/live/v2/index.m3u8\",LAST-MSN=5\r\n" +
		"#EXTINF:4,\nno-crlf.ts"
	want := strings.NewReplacer(
		`URI="/init.mp4"`, `URI="`+proxied+`https/cdn.example.com/init.mp4"`,
		"https://cdn2.example.com/a/seg2.ts?y=2", proxied+"https/cdn2.example.com/a/seg2.ts?y=2",
		"../../../../up.ts", proxied+"https/cdn.example.com/up.ts",
		"  //other.example.com/seg5.ts ", "  "+proxied+"https/other.example.com/seg5.ts ",
		`URI="/live/v2/index.m3u8"`, `URI="`+proxied+`https/cdn.example.com/live/v2/index.m3u8"`,
	).Replace(in)
	got, err := Rewrite([]byte(in), playlistURL, testProxy)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	roundTrip(t, []byte(in), playlistURL, fixedNow)
}

func TestRewriteHLSMaster(t *testing.T) {
	in := "#EXTM3U\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"en\",URI=\"https://audio.example.com/en.m3u8\"\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"fr\",URI=\"fr.m3u8\"\n" +
		"#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https://keys.example.com/s\"\n" +
		"#EXT-X-SESSION-DATA:DATA-ID=\"x\",URI=\"https://data.example.com/d.json\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO=\"aac\"\n" +
		"http://plain.example.com:8080/v/low.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=2000,AUDIO=\"aac\"\n" +
		"hi.m3u8\n" +
		"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100,URI=\"/if/iframes.m3u8\"\n"
	want := strings.NewReplacer(
		`URI="https://audio.example.com/en.m3u8"`, `URI="`+proxied+`https/audio.example.com/en.m3u8"`,
		"http://plain.example.com:8080/v/low.m3u8", proxied+"http/plain.example.com:8080/v/low.m3u8",
		`URI="/if/iframes.m3u8"`, `URI="`+proxied+`https/cdn.example.com/if/iframes.m3u8"`,
	).Replace(in)
	got, err := Rewrite([]byte(in), "https://cdn.example.com/show/master.m3u8", testProxy)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	roundTrip(t, []byte(in), "https://cdn.example.com/show/master.m3u8", fixedNow)
}

func TestRewriteDASH(t *testing.T) {
	in := `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with https://c.example.com/x -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:xlink="http://www.w3.org/1999/xlink" type="static" mediaPresentationDuration="PT4S">
  <Location>https://cdn.example.com/vod/stream.mpd?sig=1</Location>
  <BaseURL serviceLocation="a">https://edge.example.com/root/</BaseURL>
  <Period xlink:href="https://remote.example.com/p">
    <BaseURL>/p1/</BaseURL>
    <AdaptationSet mimeType="video/mp4">
      <SegmentTemplate timescale='1000' duration="2000" media="https://seg.example.com/$RepresentationID$/$Number%05d$.m4s?a=1&amp;b=2" initialization="$RepresentationID$/init.mp4"/>
      <Representation id="v1" bandwidth="1000"/>
    </AdaptationSet>
    <AdaptationSet mimeType="audio/mp4">
      <Representation id="a1" bandwidth="64">
        <BaseURL> ../audio/ </BaseURL>
        <SegmentList duration="2"><Initialization sourceURL="/init/a.mp4" range="0-9"/><SegmentURL media="s1.m4s"/><SegmentURL media="//x.example.com/s2.m4s" mediaRange="0-99"/></SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>`
	want := strings.NewReplacer(
		`<Location>https://cdn.example.com/vod/stream.mpd?sig=1</Location>`, `<Location>`+proxied+`https/cdn.example.com/vod/stream.mpd?sig=1</Location>`,
		`>https://edge.example.com/root/</BaseURL>`, `>`+proxied+`https/edge.example.com/root/</BaseURL>`,
		`<BaseURL>/p1/</BaseURL>`, `<BaseURL>`+proxied+`https/edge.example.com/p1/</BaseURL>`,
		`media="https://seg.example.com/$RepresentationID$/$Number%05d$.m4s?a=1&amp;b=2"`, `media="`+proxied+`https/seg.example.com/$RepresentationID$/$Number%05d$.m4s?a=1&amp;b=2"`,
		`sourceURL="/init/a.mp4"`, `sourceURL="`+proxied+`https/edge.example.com/init/a.mp4"`,
		`media="//x.example.com/s2.m4s"`, `media="`+proxied+`https/x.example.com/s2.m4s"`,
	).Replace(in)
	got, err := Rewrite([]byte(in), mpdURL, testProxy)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	roundTrip(t, []byte(in), mpdURL, fixedNow)
}

func TestRewriteRefuses(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"backslash", "#EXTM3U\n#EXTINF:1,\n\\\\evil.example.com\\a.ts\n"},
		{"encoded dot-dot", "#EXTM3U\n#EXTINF:1,\n%2e%2e/a.ts\n"},
		{"scheme without authority", "#EXTM3U\n#EXTINF:1,\nhttp:a.ts\n"},
		{"Representation id that changes a template's URL", mpd(`type="static" mediaPresentationDuration="PT2S"`,
			`<Period><AdaptationSet><SegmentTemplate duration="2" media="$RepresentationID$/$Number$.m4s"/><Representation id="/abs"/></AdaptationSet></Period>`)},
		{"not a manifest", "hello"},
		{"XML that is not an MPD", "<html></html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Rewrite([]byte(tc.text), mpdURL, testProxy); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestRewriteRoundTrip: the rewritten manifest, fetched from the proxied
// manifest URL, lists the same segments at their proxied URLs.
func TestRewriteRoundTrip(t *testing.T) {
	for _, f := range []string{"hls/master.m3u8", "hls/144p/index.m3u8", "hls/audio/index.m3u8", "hls-byterange/index.m3u8", "dash/manifest.mpd"} {
		t.Run(f, func(t *testing.T) { roundTrip(t, readSample(t, f), cdn+f, fixedNow) })
	}
	for i, s := range fuzzSeeds(t) {
		t.Run(strconv.Itoa(i), func(t *testing.T) { roundTrip(t, []byte(s.text), s.url, fixedNow) })
	}
}

// roundTrip checks Rewrite against Parse (see TestRewriteRoundTrip). It
// returns early, checking nothing more, when the original does not parse or
// Rewrite refuses it.
func roundTrip(t testing.TB, text []byte, mURL string, now time.Time) {
	t.Helper()
	out, err := Rewrite(text, mURL, testProxy)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("Rewrite error does not wrap ErrMalformed: %v", err)
		}
		return
	}
	orig, err := ParseAt(text, mURL, now)
	if err != nil || len(out) > MaxSize {
		return
	}
	for _, s := range orig.Segments {
		if len(s.URL) > MaxURLLength/2 {
			return // proxying may take it over the limit
		}
	}
	pURL := testProxy(mURL)
	re, err := ParseAt(out, pURL, now)
	if err != nil {
		t.Fatalf("rewritten manifest does not parse: %v\noriginal:\n%q\nrewritten:\n%q", err, text, out)
	}
	if re.Kind != orig.Kind || re.Live != orig.Live || re.TargetDuration != orig.TargetDuration ||
		len(re.Segments) != len(orig.Segments) || len(re.Renditions) != len(orig.Renditions) {
		t.Fatalf("rewritten manifest differs: %v/%v %v/%v %v/%v %d/%d %d/%d\n%q\n%q", re.Kind, orig.Kind, re.Live, orig.Live,
			re.TargetDuration, orig.TargetDuration, len(re.Segments), len(orig.Segments), len(re.Renditions), len(orig.Renditions), text, out)
	}
	proxiedURL := func(u string) string {
		if p := testProxy(u); p != "" {
			return normalizeURL(p)
		}
		return normalizeURL(u)
	}
	pChannel, _ := identity.ChannelID(pURL)
	for i, o := range orig.Segments {
		r := re.Segments[i]
		if normalizeURL(r.URL) != proxiedURL(o.URL) {
			t.Errorf("segment %d: rewritten URL %s, want proxied %s (original %s)\n%q\n%q", i, r.URL, proxiedURL(o.URL), o.URL, text, out)
		}
		if (r.Range == nil) != (o.Range == nil) || r.Range != nil && *r.Range != *o.Range ||
			r.Name != o.Name || r.Start != o.Start || r.Duration != o.Duration || r.Init != o.Init {
			t.Errorf("segment %d: %+v, want %+v", i, r, o)
		}
		switch orig.Kind {
		case DASH:
			_, os, _ := strings.Cut(o.Channel, "#")
			if r.Channel != pChannel+"#"+os {
				t.Errorf("segment %d channel %q", i, r.Channel)
			}
		default:
			if r.Channel != pChannel {
				t.Errorf("segment %d channel %q", i, r.Channel)
			}
		}
	}
	for i, o := range orig.Renditions {
		r := re.Renditions[i]
		if o.URL != "" && normalizeURL(r.URL) != proxiedURL(o.URL) || o.ID != r.ID || o.Type != r.Type || o.Bandwidth != r.Bandwidth {
			t.Errorf("rendition %d: %+v, want %+v", i, r, o)
		}
	}
}
