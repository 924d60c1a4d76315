package swarm

import (
	"bytes"
	"context"
	"fmt"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/manifest"
)

// streamsOrigin serves two HLS streams whose URLs differ only in the query:
// /live.m3u8?ch=A lists seg-N.ts?ch=A, ?ch=B lists seg-N.ts?ch=B, and the
// two channels' segments hold different bytes. It counts the requests per
// URL (path and query).
type streamsOrigin struct {
	srv  *httptest.Server
	live bool

	mu   sync.Mutex
	hits map[string]int
}

func newStreamsOrigin(t *testing.T, live bool) *streamsOrigin {
	o := &streamsOrigin{live: live, hits: make(map[string]int)}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

// segment is the body of segment n of channel ch.
func segment(ch string, n int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%s:%d|", ch, n)), 40000)
}

func (o *streamsOrigin) serve(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("ch")
	o.mu.Lock()
	o.hits[r.URL.RequestURI()]++
	o.mu.Unlock()
	switch {
	case ch == "":
		http.NotFound(w, r)
	case r.URL.Path == "/live.m3u8":
		var b strings.Builder
		b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n")
		for n := 1; n <= 2; n++ {
			fmt.Fprintf(&b, "#EXTINF:2,\nseg-%d.ts?ch=%s\n", n, ch)
		}
		if !o.live {
			b.WriteString("#EXT-X-ENDLIST\n")
		}
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Write([]byte(b.String()))
	default:
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/seg-%d.ts", &n); err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"same-etag"`) // the two streams' validators agree too
		http.ServeContent(w, r, "seg.ts", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), bytes.NewReader(segment(ch, n)))
	}
}

func (o *streamsOrigin) count(uri string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[uri]
}

// readSegments reads every media segment of the playlist at url, from its
// swarm, as the page engine names them, and checks each against the
// origin's bytes of channel ch.
func readSegments(ctx context.Context, t *testing.T, e *engine.Engine, o *streamsOrigin, ch string) {
	t.Helper()
	url := o.srv.URL + "/live.m3u8?ch=" + ch
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var text bytes.Buffer
	text.ReadFrom(resp.Body)
	m, err := manifest.Parse(text.Bytes(), url)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	for i, seg := range m.Segments {
		s, err := e.Join(seg.Channel, false)
		if err != nil {
			t.Fatal(err)
		}
		var r *engine.Resource
		if o.live {
			r, err = s.LiveResource(ctx, seg.ResourceName(), seg.URL, 2*time.Second)
		} else {
			r, err = s.Resource(ctx, seg.ResourceName(), seg.URL)
		}
		if err != nil {
			t.Fatalf("%s: opening %s: %v", ch, seg.URL, err)
		}
		var got []byte
		for p := range r.PieceCount() {
			// A far deadline: a peer that holds the piece is preferred.
			b, err := r.ReadPiece(ctx, p, time.Now().Add(5*time.Second))
			if err != nil {
				t.Fatalf("%s: segment %d piece %d: %v", ch, i+1, p, err)
			}
			got = append(got, b...)
		}
		if want := segment(ch, i+1); !bytes.Equal(got, want) {
			t.Errorf("viewer of %s read %.12q… for segment %d; want its own origin's %.12q…", ch, got, i+1, want)
		}
	}
}

// TestStreamsDifferingInQueryNeverMix: a viewer of live.m3u8?ch=A and one of
// ?ch=B share a swarm (the channel drops the query), VOD and live; the
// second reads B's bytes, from the origin, though its peer holds A's
// segments of the same sequence numbers, sizes and ETags.
func TestStreamsDifferingInQueryNeverMix(t *testing.T) {
	for _, live := range []bool{false, true} {
		t.Run(map[bool]string{false: "vod", true: "live"}[live], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			o := newStreamsOrigin(t, live)
			announce := swarmtest.Tracker(t)
			a := swarmtest.NewEngine(t, announce)
			b := swarmtest.NewEngine(t, announce)

			readSegments(ctx, t, a, o, "A")
			// B joins the swarm A is in, and connects to A before it reads.
			s, err := b.Join(manifestChannel(t, o.srv.URL+"/live.m3u8?ch=B"), false)
			if err != nil {
				t.Fatal(err)
			}
			for s.PeerCount() == 0 {
				if ctx.Err() != nil {
					t.Fatal("the two viewers never connected: the test would show nothing")
				}
				time.Sleep(20 * time.Millisecond)
			}
			readSegments(ctx, t, b, o, "B")
			for n := 1; n <= 2; n++ {
				if got := o.count(fmt.Sprintf("/seg-%d.ts?ch=B", n)); got == 0 {
					t.Errorf("segment %d of B never came from the origin", n)
				}
			}
		})
	}
}

// manifestChannel is the swarm channel of the segments of the playlist at
// url.
func manifestChannel(t *testing.T, url string) string {
	t.Helper()
	m, err := manifest.Parse([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg-1.ts\n#EXT-X-ENDLIST\n"), url)
	if err != nil || len(m.Segments) == 0 {
		t.Fatalf("parsing a playlist of %s: %v", url, err)
	}
	return m.Segments[0].Channel
}
