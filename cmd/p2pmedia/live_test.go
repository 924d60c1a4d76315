package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/hls-m3u8/m3u8"
)

// vodHLS is the committed VOD stream the live stream loops over.
var vodHLS = filepath.Join(examplesDir, "media", "hls")

// liveRenditions are the renditions of vodHLS's master playlist.
var liveRenditions = []string{"360p", "240p", "144p", "audio"}

// testClock is a clock that tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// set moves the clock to d after the epoch of the tests' streams.
func (c *testClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = liveEpoch.Add(d)
}

var liveEpoch = time.Date(2025, 3, 4, 5, 6, 7, 500_000_000, time.UTC)

// newTestLive returns the live stream of vodHLS, started at liveEpoch, and
// its clock.
func newTestLive(t *testing.T) (*liveStream, *testClock) {
	t.Helper()
	clock := &testClock{t: liveEpoch}
	l, err := newLiveStream(vodHLS, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	return l, clock
}

// liveGet serves one request and returns the response.
func liveGet(t *testing.T, h http.Handler, target string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func liveBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// playlistEntry is one segment of a media playlist as a player reads it.
type playlistEntry struct {
	seq      uint64
	uri      string
	duration string
	disc     bool   // preceded by EXT-X-DISCONTINUITY
	cc       uint64 // discontinuity sequence number
}

// parsedPlaylist is what checkLivePlaylist reads of a live media playlist.
type parsedPlaylist struct {
	version, target int
	mediaSeq, dseq  uint64
	independent     bool
	entries         []playlistEntry
}

// checkLivePlaylist parses a live media playlist line by line, checking it
// against RFC 8216 as it goes, and then decodes it with hls-m3u8 in strict
// mode and compares.
func checkLivePlaylist(t *testing.T, text []byte) parsedPlaylist {
	t.Helper()
	var p parsedPlaylist
	sc := bufio.NewScanner(bytes.NewReader(text))
	n := 0
	seenSeq, seenDSeq, seenTarget := false, false, false
	pendingDur, pendingDisc := "", false
	for sc.Scan() {
		line := sc.Text()
		n++
		if n == 1 {
			if line != "#EXTM3U" {
				t.Fatalf("first line %q, want #EXTM3U", line)
			}
			continue
		}
		if line == "" || strings.TrimSpace(line) != line {
			t.Errorf("line %d %q: empty or padded", n, line)
			continue
		}
		tag, value, _ := strings.Cut(line, ":")
		if strings.HasPrefix(line, "#") && len(p.entries) == 0 && pendingDur == "" && !pendingDisc {
			// Playlist tags go before the first segment.
			switch tag {
			case "#EXT-X-VERSION":
				p.version = atoi(t, value)
				continue
			case "#EXT-X-TARGETDURATION":
				p.target, seenTarget = atoi(t, value), true
				continue
			case "#EXT-X-MEDIA-SEQUENCE":
				p.mediaSeq, seenSeq = uint64(atoi(t, value)), true
				continue
			case "#EXT-X-DISCONTINUITY-SEQUENCE":
				p.dseq, seenDSeq = uint64(atoi(t, value)), true
				continue
			case "#EXT-X-INDEPENDENT-SEGMENTS":
				p.independent = true
				continue
			}
		}
		switch {
		case tag == "#EXTINF":
			d, title, ok := strings.Cut(value, ",")
			f, err := strconv.ParseFloat(d, 64)
			if !ok || title != "" || err != nil || f <= 0 {
				t.Errorf("line %d %q: bad EXTINF", n, line)
			}
			if seenTarget && int(f+0.5) > p.target {
				t.Errorf("line %d: EXTINF %s rounds above EXT-X-TARGETDURATION %d", n, d, p.target)
			}
			pendingDur = d
		case line == "#EXT-X-DISCONTINUITY":
			pendingDisc = true
		case line == "#EXT-X-ENDLIST":
			t.Errorf("line %d: a live playlist has EXT-X-ENDLIST", n)
		case strings.HasPrefix(line, "#"):
			t.Errorf("line %d %q: unexpected tag", n, line)
		default:
			if pendingDur == "" {
				t.Errorf("line %d %q: URI without EXTINF", n, line)
			}
			e := playlistEntry{seq: p.mediaSeq + uint64(len(p.entries)), uri: line, duration: pendingDur, disc: pendingDisc}
			e.cc = p.dseq
			if len(p.entries) > 0 {
				e.cc = p.entries[len(p.entries)-1].cc
			}
			if pendingDisc {
				e.cc++
			}
			p.entries = append(p.entries, e)
			pendingDur, pendingDisc = "", false
		}
	}
	if pendingDur != "" || pendingDisc {
		t.Errorf("playlist ends inside a segment's tags")
	}
	if !seenTarget || !seenSeq || !seenDSeq {
		t.Errorf("missing EXT-X-TARGETDURATION (%v), EXT-X-MEDIA-SEQUENCE (%v) or EXT-X-DISCONTINUITY-SEQUENCE (%v)", seenTarget, seenSeq, seenDSeq)
	}

	pl, kind, err := m3u8.DecodeFrom(bytes.NewReader(text), true)
	if err != nil || kind != m3u8.MEDIA {
		t.Fatalf("hls-m3u8: decoding the playlist: kind %v, %v\n%s", kind, err, text)
	}
	mp := pl.(*m3u8.MediaPlaylist)
	segs := mp.GetAllSegments()
	if mp.Closed || mp.SeqNo != p.mediaSeq || mp.DiscontinuitySeq != p.dseq || int(mp.TargetDuration) != p.target || len(segs) != len(p.entries) {
		t.Errorf("hls-m3u8 reads closed=%v seq=%d dseq=%d target=%d segments=%d; the line reader %+v",
			mp.Closed, mp.SeqNo, mp.DiscontinuitySeq, mp.TargetDuration, len(segs), p)
	}
	for i, s := range segs {
		if i < len(p.entries) && (s.URI != p.entries[i].uri || s.Discontinuity != p.entries[i].disc) {
			t.Errorf("hls-m3u8 segment %d: %s discontinuity=%v; the line reader %+v", i, s.URI, s.Discontinuity, p.entries[i])
		}
	}
	return p
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Errorf("%q: not a decimal-integer", s)
	}
	return n
}

// vodDurations returns the EXTINF durations of a VOD media playlist.
func vodDurations(t *testing.T, rendition string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vodHLS, rendition, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if d, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			out = append(out, strings.TrimSuffix(d, ","))
		}
	}
	if len(out) != 10 {
		t.Fatalf("%s: %d segments, the tests expect 10", rendition, len(out))
	}
	return out
}

func TestLivePlaylistWindow(t *testing.T) {
	l, clock := newTestLive(t)
	tests := []struct {
		at        time.Duration
		wantFirst uint64
		wantDSeq  uint64
		wantDisc  []uint64 // segments preceded by EXT-X-DISCONTINUITY
	}{
		{at: -time.Hour, wantFirst: 0},
		{at: 0, wantFirst: 0},
		{at: 3999 * time.Millisecond, wantFirst: 0},
		{at: 4 * time.Second, wantFirst: 1},
		{at: 20 * time.Second, wantFirst: 5},
		{at: 24 * time.Second, wantFirst: 6, wantDisc: []uint64{10}},
		{at: 39 * time.Second, wantFirst: 9, wantDisc: []uint64{10}},
		{at: 40 * time.Second, wantFirst: 10, wantDSeq: 1},
		{at: 44 * time.Second, wantFirst: 11, wantDSeq: 1},
		{at: 76 * time.Second, wantFirst: 19, wantDSeq: 1, wantDisc: []uint64{20}},
		{at: 80 * time.Second, wantFirst: 20, wantDSeq: 2},
		{at: time.Hour + 2*time.Second, wantFirst: 900, wantDSeq: 90},
		{at: time.Hour - 10*time.Second, wantFirst: 897, wantDSeq: 89, wantDisc: []uint64{900}},
	}
	for _, rend := range liveRenditions {
		durations := vodDurations(t, rend)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%v", rend, tt.at), func(t *testing.T) {
				clock.set(tt.at)
				resp := liveGet(t, l, "/"+rend+"/index.m3u8", nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
					t.Errorf("Cache-Control %q, want no-cache", cc)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
					t.Errorf("Content-Type %q", ct)
				}
				p := checkLivePlaylist(t, liveBody(t, resp))
				if p.mediaSeq != tt.wantFirst || p.dseq != tt.wantDSeq || p.target != 4 || p.version != 6 {
					t.Errorf("media sequence %d, discontinuity sequence %d, target %d, version %d; want %d, %d, 4, 6",
						p.mediaSeq, p.dseq, p.target, p.version, tt.wantFirst, tt.wantDSeq)
				}
				if p.independent != (rend != "audio") {
					t.Errorf("EXT-X-INDEPENDENT-SEGMENTS %v, want it as in the VOD playlist", p.independent)
				}
				if len(p.entries) != liveWindow {
					t.Fatalf("%d segments, want %d", len(p.entries), liveWindow)
				}
				var disc []uint64
				for i, e := range p.entries {
					seq := tt.wantFirst + uint64(i)
					if e.uri != fmt.Sprintf("seg-%d.ts", seq) || e.duration != durations[seq%10] {
						t.Errorf("segment %d: %s of %s s, want seg-%d.ts of %s s", i, e.uri, e.duration, seq, durations[seq%10])
					}
					if e.cc != seq/10 {
						t.Errorf("segment %d has discontinuity sequence number %d, want %d (the loops before it)", seq, e.cc, seq/10)
					}
					if e.disc {
						disc = append(disc, seq)
					}
				}
				if fmt.Sprint(disc) != fmt.Sprint(tt.wantDisc) {
					t.Errorf("EXT-X-DISCONTINUITY before %v, want %v", disc, tt.wantDisc)
				}
			})
		}
	}
}

// TestLiveDiscontinuitySequence checks, second by second over three loops,
// that every playlist gives each segment the same discontinuity sequence
// number, so that a player that reloads across a wrap keeps its timeline.
func TestLiveDiscontinuitySequence(t *testing.T) {
	l, clock := newTestLive(t)
	cc := make(map[uint64]uint64)
	prev := uint64(0)
	for s := 0; s <= 130; s++ {
		clock.set(time.Duration(s) * time.Second)
		p := checkLivePlaylist(t, liveBody(t, liveGet(t, l, "/360p/index.m3u8", nil)))
		if p.mediaSeq < prev || p.mediaSeq > prev+1 {
			t.Errorf("at %d s: media sequence %d after %d", s, p.mediaSeq, prev)
		}
		prev = p.mediaSeq
		for _, e := range p.entries {
			if old, ok := cc[e.seq]; ok && old != e.cc {
				t.Errorf("at %d s: segment %d has discontinuity sequence number %d, earlier %d", s, e.seq, e.cc, old)
			}
			cc[e.seq] = e.cc
		}
	}
	if len(cc) != 32+liveWindow {
		t.Errorf("saw %d segments over 130 s, want %d", len(cc), 32+liveWindow)
	}
}

func TestLiveSegments(t *testing.T) {
	l, clock := newTestLive(t)
	clock.set(41 * time.Second) // window 10..14
	etags := make(map[string]string)
	for _, rend := range liveRenditions {
		for seq := 10; seq < 15; seq++ {
			target := fmt.Sprintf("/%s/seg-%d.ts", rend, seq)
			resp := liveGet(t, l, target, nil)
			got := liveBody(t, resp)
			want, err := os.ReadFile(filepath.Join(vodHLS, rend, fmt.Sprintf("seg_%03d.ts", seq%10)))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("%s: status %d, %d bytes; want 200 and the %d bytes of VOD segment %d", target, resp.StatusCode, len(got), len(want), seq%10)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "video/mp2t" {
				t.Errorf("%s: Content-Type %q", target, ct)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s: no CORS header", target)
			}
			etag := resp.Header.Get("ETag")
			if etag == "" || !strings.HasPrefix(etag, `"`) {
				t.Errorf("%s: ETag %q, want a strong one", target, etag)
			}
			for other, e := range etags {
				if e == etag {
					t.Errorf("%s and %s share the ETag %s", target, other, etag)
				}
			}
			etags[target] = etag
		}
	}

	// A segment keeps its ETag while it stays in the window.
	clock.set(49 * time.Second) // window 12..16
	for _, seq := range []int{12, 14} {
		target := fmt.Sprintf("/360p/seg-%d.ts", seq)
		if e := liveGet(t, l, target, nil).Header.Get("ETag"); e != etags[target] {
			t.Errorf("%s: ETag %s, earlier %s", target, e, etags[target])
		}
		resp := liveGet(t, l, target, map[string]string{"If-None-Match": etags[target]})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: status %d, want 304", target, resp.StatusCode)
		}
	}
	// Ranges, for the engine's piece requests.
	resp := liveGet(t, l, "/360p/seg-13.ts", map[string]string{"Range": "bytes=100-199"})
	want, _ := os.ReadFile(filepath.Join(vodHLS, "360p", "seg_003.ts"))
	if got := liveBody(t, resp); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, want[100:200]) {
		t.Errorf("Range 100-199: status %d, %d bytes", resp.StatusCode, len(got))
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err != nil || !lm.Equal(liveEpoch.Add(36*time.Second).Truncate(time.Second)) {
		t.Errorf("Last-Modified %q (%v), want the time segment 13 entered the window", resp.Header.Get("Last-Modified"), err)
	}
}

func TestLiveNotFound(t *testing.T) {
	l, clock := newTestLive(t)
	clock.set(41 * time.Second) // window 10..14
	for _, target := range []string{
		"/360p/seg-9.ts",  // left the window
		"/360p/seg-0.ts",  // long gone
		"/360p/seg-15.ts", // not yet
		"/audio/seg-99.ts",
		"/360p/seg-010.ts", // leading zero
		"/360p/seg--1.ts",
		"/360p/seg-.ts",
		"/360p/seg-11.mp4",
		"/360p/seg-18446744073709551616.ts", // overflows
		"/360p/seg_001.ts",                  // the VOD name
		"/720p/seg-11.ts",                   // no such rendition
		"/720p/index.m3u8",
		"/360p/other.m3u8",
		"/360p/../audio/seg-11.ts",
		"/360p",
		"/index.m3u8",
		"/",
	} {
		if resp := liveGet(t, l, target, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", target, resp.StatusCode)
		}
	}
	// The same segments once the window reaches them.
	clock.set(57 * time.Second) // window 14..18
	if resp := liveGet(t, l, "/360p/seg-15.ts", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("seg-15 in the window: status %d", resp.StatusCode)
	}
}

func TestLiveMaster(t *testing.T) {
	l, _ := newTestLive(t)
	resp := liveGet(t, l, "/master.m3u8", nil)
	want, err := os.ReadFile(filepath.Join(vodHLS, "master.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if got := liveBody(t, resp); resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Errorf("status %d, body\n%s\nwant the VOD master", resp.StatusCode, got)
	}
	if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Errorf("headers %v", resp.Header)
	}
	pl, kind, err := m3u8.DecodeFrom(bytes.NewReader(want), true)
	if err != nil || kind != m3u8.MASTER {
		t.Fatalf("master: %v", err)
	}
	for _, v := range pl.(*m3u8.MasterPlaylist).Variants {
		if r := liveGet(t, l, "/"+v.URI, nil); r.StatusCode != http.StatusOK {
			t.Errorf("variant %s: status %d", v.URI, r.StatusCode)
		}
	}
}

func TestNewLiveStreamErrors(t *testing.T) {
	seg := []byte("\x47 fake ts")
	media := "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\na.ts\n#EXTINF:4.0,\nb.ts\n#EXT-X-ENDLIST\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no master", map[string]string{}, "reading the master playlist"},
		{"not a playlist", map[string]string{"master.m3u8": "hello\n"}, "no #EXTM3U"},
		{"no renditions", map[string]string{"master.m3u8": "#EXTM3U\n"}, "names no media playlist"},
		{"uri outside a directory", map[string]string{"master.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8\n"}, "want <rendition>/<name>.m3u8"},
		{"uri leaves the directory", map[string]string{"master.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../v/index.m3u8\n"}, "want <rendition>/<name>.m3u8"},
		{"missing media playlist", map[string]string{"master.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n"}, "reading the media playlist"},
		{"missing segment", map[string]string{
			"master.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n", "v/index.m3u8": media, "v/a.ts": string(seg),
		}, "b.ts is not a readable file"},
		{"byte ranges", map[string]string{
			"master.m3u8":  "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n",
			"v/index.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n#EXT-X-BYTERANGE:10@0\na.ts\n",
		}, "EXT-X-BYTERANGE: not supported"},
		{"no target duration", map[string]string{
			"master.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n", "v/index.m3u8": "#EXTM3U\n#EXTINF:4.0,\na.ts\n", "v/a.ts": string(seg),
		}, "no EXT-X-TARGETDURATION"},
		{"bad duration", map[string]string{
			"master.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n", "v/index.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:-1,\na.ts\n",
		}, "out of range"},
		{"unequal loops", map[string]string{
			"master.m3u8":  "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\",URI=\"a/index.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv/index.m3u8\n",
			"v/index.m3u8": media, "v/a.ts": string(seg), "v/b.ts": string(seg),
			"a/index.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\na.ts\n", "a/a.ts": string(seg),
		}, "a loop needs equal counts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := newLiveStream(dir, time.Now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// TestDemoLiveAndVendorRoutes checks the demo handler's /live/ and /vendor/
// routes.
func TestDemoLiveAndVendorRoutes(t *testing.T) {
	examples := t.TempDir()
	// A copy of the examples directory's media, plus a fake npm install.
	files := map[string]string{
		"node_modules/hls.js/dist/hls.min.js":                     "hls",
		"node_modules/shaka-player/dist/shaka-player.compiled.js": "shaka",
		"node_modules/video.js/dist/video-js.min.css":             ".vjs{}",
		"node_modules/video.js/package.json":                      "{}",
		"node_modules/left-pad/dist/index.js":                     "not a player",
		"node_modules/hls.js/dist/.hidden.js":                     "hidden",
	}
	for name, content := range files {
		p := filepath.Join(examples, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	abs, err := filepath.Abs(filepath.Join(examplesDir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(examples, "media")); err != nil {
		t.Fatal(err)
	}
	h := newDemoHandler(t.TempDir(), examples, http.NotFoundHandler(), nil)
	for _, tt := range []struct {
		target, wantBody, wantType string
		wantStatus                 int
	}{
		{"/vendor/hls.js/hls.min.js", "hls", "text/javascript; charset=utf-8", 200},
		{"/vendor/shaka-player/shaka-player.compiled.js", "shaka", "text/javascript; charset=utf-8", 200},
		{"/vendor/video.js/video-js.min.css", ".vjs{}", "text/css; charset=utf-8", 200},
		{"/vendor/video.js/package.json", "", "", 404}, // outside dist/
		{"/vendor/left-pad/index.js", "", "", 404},     // not a player
		{"/vendor/hls.js/.hidden.js", "", "", 404},
		{"/vendor/hls.js/", "", "", 404},
		{"/live/360p/seg-0.ts", "", "video/mp2t", 200},
	} {
		resp := liveGet(t, h, tt.target, nil)
		b := liveBody(t, resp)
		if resp.StatusCode != tt.wantStatus || (tt.wantBody != "" && string(b) != tt.wantBody) ||
			(tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType) {
			t.Errorf("%s: status %d, type %q, body %.40q; want %d, %q, %q", tt.target, resp.StatusCode,
				resp.Header.Get("Content-Type"), b, tt.wantStatus, tt.wantType, tt.wantBody)
		}
	}
	resp := liveGet(t, h, "/live/master.m3u8", nil)
	if b := liveBody(t, resp); resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("#EXTM3U\n")) {
		t.Errorf("/live/master.m3u8: status %d, body %.40q", resp.StatusCode, b)
	}
	checkLivePlaylist(t, liveBody(t, liveGet(t, h, "/live/audio/index.m3u8", nil)))
	r := httptest.NewRequest(http.MethodOptions, "/live/360p/seg-0.ts", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Headers") == "" {
		t.Errorf("preflight of /live/: status %d, headers %v", w.Code, w.Header())
	}

	// Without a VOD stream, /live/ says why.
	h = newDemoHandler(t.TempDir(), t.TempDir(), http.NotFoundHandler(), nil)
	resp = liveGet(t, h, "/live/master.m3u8", nil)
	if b := liveBody(t, resp); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "master playlist") {
		t.Errorf("/live/ without media: status %d, %q", resp.StatusCode, b)
	}
}
