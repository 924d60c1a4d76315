//go:build js && wasm

package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/manifest"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
)

const (
	masterURL = "https://cdn.example.com/v/master.m3u8"
	mpdURL    = "https://cdn.example.com/d/stream.mpd"
)

const masterText = `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="audio/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,AUDIO="aud"
v360/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=1280x720,AUDIO="aud"
https://cdn2.example.com/v/v720/index.m3u8?token=abc
`

const vodText = `#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:10
#EXTINF:4,
seg10.ts
#EXTINF:4,
seg11.ts
#EXTINF:3.5,
/other/seg12.ts?x=1
#EXT-X-ENDLIST
`

const byteRangeText = `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI="media.mp4",BYTERANGE="100@0"
#EXTINF:4,
#EXT-X-BYTERANGE:1000@100
media.mp4
#EXTINF:4,
#EXT-X-BYTERANGE:1000
media.mp4
#EXT-X-ENDLIST
`

// livePlaylist returns a live media playlist whose window holds the
// segments [first, first+n).
func livePlaylist(first, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "#EXTINF:2,\nseg-%d.ts\n", i)
	}
	return b.String()
}

const dashText = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
 <Period id="p0" start="PT0S">
  <AdaptationSet mimeType="video/mp4">
   <SegmentTemplate timescale="1000" duration="2000" startNumber="1" initialization="init-$RepresentationID$.mp4" media="chunk-$RepresentationID$-$Number$.m4s"/>
   <Representation id="v1" bandwidth="500000" width="640" height="360" codecs="avc1.4d401e"/>
   <Representation id="v2" bandwidth="900000" width="1280" height="720" codecs="avc1.4d401f"/>
  </AdaptationSet>
  <AdaptationSet mimeType="audio/mp4">
   <Representation id="a1" bandwidth="64000" codecs="mp4a.40.2">
    <BaseURL>audio.mp4</BaseURL>
    <SegmentBase indexRange="600-700"><Initialization range="0-599"/></SegmentBase>
   </Representation>
  </AdaptationSet>
 </Period>
</MPD>
`

// liveMPD is a dynamic MPD with two video Representations of 2-s segments.
const liveMPD = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" availabilityStartTime="2025-01-01T00:00:00Z" timeShiftBufferDepth="PT10S" minimumUpdatePeriod="PT2S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
 <Period id="p0" start="PT0S">
  <AdaptationSet mimeType="video/mp4">
   <SegmentTemplate timescale="1" duration="2" startNumber="1" media="$RepresentationID$/$Number$.m4s"/>
   <Representation id="lo" bandwidth="500000"/>
   <Representation id="hi" bandwidth="900000"/>
  </AdaptationSet>
 </Period>
</MPD>
`

func parse(t *testing.T, text, u string, now time.Time) *manifest.Manifest {
	t.Helper()
	m, err := manifest.ParseAt([]byte(text), u, now)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	return m
}

func TestProxied(t *testing.T) {
	const base = "http://site.test/app/__p2pmedia__/"
	tests := []struct{ abs, want string }{
		{"https://cdn.example.com/v/a.ts?x=1", base + "https/cdn.example.com/v/a.ts?x=1"},
		{"http://10.0.0.1:9000/live/seg-1.ts", base + "http/10.0.0.1:9000/live/seg-1.ts"},
		{"https://cdn.example.com", base + "https/cdn.example.com/"},
		{"https://cdn.example.com?q", base + "https/cdn.example.com/?q"},
		{"https://cdn.example.com/a%20b.ts#t=3", base + "https/cdn.example.com/a%20b.ts"},
		{"https://[::1]:8443/a.m4s", base + "https/[::1]:8443/a.m4s"},
		{"https://user@cdn.example.com/a.ts", "https://user@cdn.example.com/a.ts"},
		{"ftp://cdn.example.com/a.ts", "ftp://cdn.example.com/a.ts"},
		{"data:text/plain,x", "data:text/plain,x"},
		{"https:///a.ts", "https:///a.ts"},
	}
	for _, tt := range tests {
		got := mediaurl.Proxied(base, tt.abs)
		if got != tt.want {
			t.Errorf("mediaurl.Proxied(%q) = %q, want %q", tt.abs, got, tt.want)
		}
		// What the service worker rebuilds from it is the URL again.
		if got != tt.abs {
			if back, ok := mediaurl.Original(got); !ok || normalizeURL(back) != normalizeURL(strings.Split(tt.abs, "#")[0]) {
				t.Errorf("mediaurl.Original(mediaurl.Proxied(%q)) = %q, %v", tt.abs, back, ok)
			}
		}
	}
	for _, b := range []string{base, "https://s/__p2pmedia__/"} {
		if !validProxyBase(b) {
			t.Errorf("validProxyBase(%q) = false", b)
		}
	}
	for _, b := range []string{"", "http://site.test/", "/__p2pmedia__/", "blob:http://s/__p2pmedia__/"} {
		if validProxyBase(b) {
			t.Errorf("validProxyBase(%q) = true", b)
		}
	}
}

func TestSegmentMapHLS(t *testing.T) {
	now := time.Unix(1000, 0)
	sm := newSegmentMap()
	if got := sm.record(parse(t, masterText, masterURL, now), now); got != nil {
		t.Errorf("a master playlist revealed segments %v", got)
	}
	v360 := "https://cdn.example.com/v/v360/index.m3u8"
	sm.record(parse(t, vodText, v360, now), now)
	audio := "https://cdn.example.com/v/audio/en.m3u8"
	sm.record(parse(t, vodText, audio, now), now)
	// A media playlist whose master did not go through the page.
	lone := "https://cdn.example.com/lone/index.m3u8"
	sm.record(parse(t, vodText, lone, now), now)
	br := "https://cdn.example.com/br/index.m3u8"
	sm.record(parse(t, byteRangeText, br, now), now)

	tests := []struct {
		url                         string
		kind                        mediaKind
		name, channel, root, rendID string
		start                       time.Duration
	}{
		{"https://cdn.example.com/v/v360/seg11.ts", kindSegment, "11", "cdn.example.com/v/v360/index.m3u8", masterURL, "variant:0", 4 * time.Second},
		{"https://CDN.example.com:443/v/v360/seg10.ts#x", kindSegment, "10", "cdn.example.com/v/v360/index.m3u8", masterURL, "variant:0", 0},
		{"https://cdn.example.com/other/seg12.ts?x=1", kindSegment, "12", "cdn.example.com/lone/index.m3u8", lone, "/lone/index.m3u8", 8 * time.Second},
		{"https://cdn.example.com/v/audio/seg10.ts", kindSegment, "10", "cdn.example.com/v/audio/en.m3u8", masterURL, "audio:aud:en", 0},
		{"https://cdn.example.com/lone/seg10.ts", kindSegment, "10", "cdn.example.com/lone/index.m3u8", lone, "/lone/index.m3u8", 0},
		{"https://cdn.example.com/br/media.mp4", kindFile, "", "", br, "/br/index.m3u8", 0},
		{"https://cdn.example.com/other/seg12.ts?x=2", kindUnknown, "", "", "", "", 0},
		{"https://cdn.example.com/v/v360/index.m3u8", kindUnknown, "", "", "", "", 0},
	}
	for _, tt := range tests {
		ref := sm.lookup(tt.url)
		if ref.kind != tt.kind || ref.seg.Name != tt.name || ref.seg.Channel != tt.channel || ref.root != tt.root ||
			ref.rendition != tt.rendID || ref.seg.Start != tt.start || ref.live {
			t.Errorf("lookup(%q) = kind %d name %q channel %q root %q rendition %q start %v live %v; want kind %d name %q channel %q root %q rendition %q start %v",
				tt.url, ref.kind, ref.seg.Name, ref.seg.Channel, ref.root, ref.rendition, ref.seg.Start, ref.live,
				tt.kind, tt.name, tt.channel, tt.root, tt.rendID, tt.start)
		}
	}
	f := sm.lookup("https://cdn.example.com/br/media.mp4")
	var ranges []string
	for _, s := range f.segs {
		ranges = append(ranges, fmt.Sprintf("%s:%d-%d@%v", s.Name, s.Range.Start, s.Range.End, s.Start))
	}
	if want := []string{"init:0-100@0s", "0:100-1100@0s", "1:1100-2100@4s"}; !slices.Equal(ranges, want) {
		t.Errorf("byte-range file segments %v, want %v", ranges, want)
	}
}

func TestSegmentMapDASH(t *testing.T) {
	now := time.Unix(1000, 0)
	sm := newSegmentMap()
	sm.record(parse(t, dashText, mpdURL, now), now)
	tests := []struct {
		url, name, rend string
		whole           bool
		kind            mediaKind
		start           time.Duration
	}{
		{"https://cdn.example.com/d/chunk-v2-3.m4s", "p0/3", "v2", false, kindSegment, 4 * time.Second},
		{"https://cdn.example.com/d/init-v1.mp4", "p0/init", "v1", false, kindSegment, 0},
		{"https://cdn.example.com/d/audio.mp4", "p0/file", "a1", true, kindSegment, 0},
	}
	for _, tt := range tests {
		ref := sm.lookup(tt.url)
		if ref.kind != tt.kind || ref.rendition != tt.rend || ref.whole != tt.whole || ref.seg.Start != tt.start ||
			ref.root != mpdURL || ref.seg.Channel != "cdn.example.com/d/stream.mpd#"+tt.rend {
			t.Errorf("lookup(%q) = %+v", tt.url, ref)
		}
		// Names carry the period prefix only for several periods.
		if n := strings.TrimPrefix(tt.name, "p0/"); ref.seg.Name != n && ref.seg.Name != tt.name {
			t.Errorf("lookup(%q) names %q, want %q", tt.url, ref.seg.Name, n)
		}
	}
}

func TestSegmentMapLive(t *testing.T) {
	now := time.Unix(1000, 0)
	sm := newSegmentMap()
	const u = "https://cdn.example.com/live/index.m3u8"
	names := func(segs []manifest.Segment) []string {
		var out []string
		for _, s := range segs {
			out = append(out, s.Name)
		}
		return out
	}
	// The first load opens the live edge, each reload what is new.
	steps := []struct {
		first int
		want  []string
	}{
		{100, []string{"102", "103", "104"}},
		{101, []string{"105"}},
		{101, nil},
		{103, []string{"106", "107"}},
		{120, []string{"122", "123", "124"}}, // the window jumped
	}
	for i, st := range steps {
		m := parse(t, livePlaylist(st.first, 5), u, now)
		if !m.Live || m.TargetDuration != 2*time.Second {
			t.Fatalf("live playlist parsed as Live %v, target %v", m.Live, m.TargetDuration)
		}
		if got := names(sm.record(m, now)); !slices.Equal(got, st.want) {
			t.Errorf("step %d: opened ahead %v, want %v", i, got, st.want)
		}
	}
	ref := sm.lookup("https://cdn.example.com/live/seg-124.ts")
	if ref.kind != kindSegment || !ref.live || ref.target != 2*time.Second || ref.seg.Name != "124" {
		t.Errorf("live segment: %+v", ref)
	}
	// Segments that left the window are forgotten after maxVersions loads.
	if sm.lookup("https://cdn.example.com/live/seg-103.ts").kind != kindSegment {
		t.Error("a segment of a kept version is forgotten")
	}
	if sm.lookup("https://cdn.example.com/live/seg-100.ts").kind != kindUnknown {
		t.Error("a segment gone from every kept version is still known")
	}

	// DASH: only the Representations the player plays are opened ahead.
	ast := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := ast.Add(time.Hour)
	liveURL := "https://cdn.example.com/dl/live.mpd"
	if got := sm.record(parse(t, liveMPD, liveURL, at), at); len(got) != 0 {
		t.Errorf("no Representation played yet, opened ahead %v", names(got))
	}
	sm.played("cdn.example.com/dl/live.mpd#hi", at)
	at = at.Add(4 * time.Second)
	got := sm.record(parse(t, liveMPD, liveURL, at), at)
	if len(got) != 2 || got[0].Channel != "cdn.example.com/dl/live.mpd#hi" || got[1].Channel != got[0].Channel {
		t.Errorf("after the player asked for hi, opened ahead %v", got)
	}
	at = at.Add(activeWindow + 4*time.Second)
	if got := sm.record(parse(t, liveMPD, liveURL, at), at); len(got) != 0 {
		t.Errorf("hi not played for %v, opened ahead %v", activeWindow, names(got))
	}
}

func TestSegmentMapBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	sm := newSegmentMap()
	for i := range maxManifests + 5 {
		u := fmt.Sprintf("https://cdn.example.com/m%d/index.m3u8", i)
		sm.record(parse(t, vodText, u, now), now)
		sm.record(parse(t, vodText, u, now), now) // a reload keeps one more version
	}
	if len(sm.order) != maxManifests || len(sm.lists) != maxManifests {
		t.Errorf("%d manifests kept (%d lists), want %d", len(sm.order), len(sm.lists), maxManifests)
	}
	if sm.lookup("https://cdn.example.com/m0/seg10.ts").kind != kindUnknown {
		t.Error("the least recently loaded manifest is still known")
	}
	if sm.lookup(fmt.Sprintf("https://cdn.example.com/m%d/seg10.ts", maxManifests+4)).kind != kindSegment {
		t.Error("the newest manifest is forgotten")
	}
	want := 0
	for _, vs := range sm.lists {
		if len(vs) > maxVersions {
			t.Errorf("%d versions kept, want at most %d", len(vs), maxVersions)
		}
		for _, v := range vs {
			want += len(v.m.Segments)
		}
	}
	if sm.entries != want {
		t.Errorf("entries = %d, want %d", sm.entries, want)
	}

	// A manifest larger than the entry cap alone is kept; the others go.
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:1\n")
	for i := range maxSegmentEntries + 1 {
		fmt.Fprintf(&b, "#EXTINF:1,\ns%d.ts\n", i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	sm.record(parse(t, b.String(), "https://cdn.example.com/big/index.m3u8", now), now)
	if len(sm.order) != 1 || sm.lookup("https://cdn.example.com/big/s7.ts").kind != kindSegment {
		t.Errorf("after a huge manifest: %d manifests kept", len(sm.order))
	}
}

func TestMediaDeadline(t *testing.T) {
	now := time.Unix(1000, 0)
	const size = 4 << 20
	playing := playState{known: true, t: 10, dur: 100, rate: 1, at: now, hasTimes: true}
	paused := playing
	paused.paused = true
	double := playing
	double.rate = 2
	native := playing
	native.url = masterURL
	other := playing
	other.url = "https://cdn.example.com/other.mp4"

	seg := func(start time.Duration) mediaRef {
		return mediaRef{kind: kindSegment, root: masterURL, seg: manifest.Segment{Start: start, Duration: 4 * time.Second}}
	}
	live := mediaRef{kind: kindSegment, live: true, target: 6 * time.Second, root: masterURL}
	whole := mediaRef{kind: kindSegment, whole: true, root: masterURL, seg: manifest.Segment{Start: 10 * time.Second, Duration: 100 * time.Second}}
	file := mediaRef{kind: kindFile, root: masterURL, segs: []manifest.Segment{
		{Range: &manifest.ByteRange{Start: 0, End: 100}, Start: 0, Init: true},
		{Range: &manifest.ByteRange{Start: 100, End: 1 << 20}, Start: 0},
		{Range: &manifest.ByteRange{Start: 1 << 20, End: 2 << 20}, Start: 20 * time.Second},
	}}
	tests := []struct {
		name  string
		st    playState
		ref   mediaRef
		start int64
		want  time.Duration
	}{
		{"VOD segment 5 s ahead", playing, seg(15 * time.Second), 0, 5*time.Second - segmentLead},
		{"VOD segment at 2x", double, seg(20 * time.Second), 0, 5*time.Second - segmentLead},
		{"VOD segment behind the playhead", playing, seg(4 * time.Second), 0, 0},
		{"VOD segment within the lead of the playhead", playing, seg(10*time.Second + segmentLead/2), 0, 0},
		{"VOD segment while paused", paused, seg(13 * time.Second), 0, startupSlack + 3*time.Second},
		{"VOD segment, native player of this stream", native, seg(15 * time.Second), 0, 5*time.Second - segmentLead},
		{"VOD segment, element plays another URL", other, seg(15 * time.Second), 0, unknownSlack},
		{"VOD segment, no element", playState{}, seg(15 * time.Second), 0, unknownSlack},
		{"live segment", playing, live, 0, 6 * time.Second},
		{"live segment without target duration", playing, mediaRef{kind: kindSegment, live: true}, 0, unknownSlack},
		{"one-file Representation: piece at 30%", playing, whole, size * 3 / 10, 30*time.Second - segmentLead},
		{"byte-range file: init", playing, file, 0, 0},
		{"byte-range file: second segment", playing, file, 1 << 20, 10*time.Second - segmentLead},
		{"byte-range file: piece ending in the first segment", playing, file, 1<<20 - 1000, 0},
		{"byte-range file: past the last segment", playing, file, 3 << 20, unknownSlack},
	}
	for _, tt := range tests {
		wt := &watcher{state: tt.st}
		got := wt.mediaDeadline("https://cdn.example.com/x", tt.ref, size, tt.start, now).Sub(now)
		if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s: deadline in %v, want %v", tt.name, got, tt.want)
		}
	}
	// Unknown URLs keep the progressive rule.
	wt := &watcher{state: playState{known: true, url: "https://cdn.example.com/a.mp4", t: 10, dur: 100, rate: 1, at: now, hasTimes: true}}
	if got := wt.mediaDeadline("https://cdn.example.com/a.mp4", mediaRef{}, 100<<20, 15<<20, now).Sub(now); got != 5*time.Second {
		t.Errorf("progressive file: deadline in %v, want 5s", got)
	}
}

func TestCapDeadline(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		in, budget, want time.Duration
	}{
		{3 * time.Second, 0, 3 * time.Second},
		{30 * time.Second, 0, defaultPieceBudget - pieceBudgetMargin},
		{30 * time.Second, 4 * time.Second, 3 * time.Second},
		{30 * time.Second, time.Second, 500 * time.Millisecond},
		{0, 4 * time.Second, 0},
	}
	for _, tt := range tests {
		if got := capDeadline(now.Add(tt.in), now, tt.budget).Sub(now); got != tt.want {
			t.Errorf("capDeadline(%v, budget %v) = %v, want %v", tt.in, tt.budget, got, tt.want)
		}
	}
}
