//go:build linux

package browser_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNativeHLS: two viewers play the HLS sample with the browser's own HLS
// player (testdata/streaming/native-hls.html: <video src=proxied
// master.m3u8>, no Media Source Extensions), the second 10 s after the
// first, at twice the normal speed. The service worker serves that player
// the page's playlists and the engine's segments (as data: responses,
// docs/browser-runtime.md "Manifests"): both must play to the end without a
// media error, and the second must take most of its bytes from peers.
//
// The page is the test's, served with its service worker under /bad/ (the
// streaming environment's hook for paths of a test's own).
func TestNativeHLS(t *testing.T) {
	e := newStreamEnv(t, streamNS)
	page, err := os.ReadFile(filepath.Join("testdata", "streaming", "native-hls.html"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bad/native-hls.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	// The engine registers sw.js beside the page, with the page's directory
	// as its scope: the demo's service worker, there.
	mux.HandleFunc("GET /bad/sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte("self.importScripts('/dist/p2p-sw.js');\n"))
	})
	e.setBad(mux)

	viewers, sts := e.watch("n", "/bad/native-hls.html?autoplay=1&rate=2", 2, streamJoinEvery, 120*time.Second, ended)
	for i, st := range sts {
		label := viewers[i].label
		if !st.Ended {
			t.Errorf("viewer %s did not play to the end: %s", label, st.line())
		}
		if f := st.fatal(); len(f) > 0 {
			t.Errorf("viewer %s: fatal errors: %q", label, f)
		}
		if !st.P2P || !strings.Contains(st.Source, "/__p2pmedia__/") {
			t.Errorf("viewer %s: the element does not play the proxied stream (source %s)", label, st.Source)
		}
		if ex := st.exceptions(); len(ex) > 0 {
			t.Logf("viewer %s: engine exceptions: %+v", label, ex)
		}
		if i > 0 && st.Stats.P2P <= st.Stats.HTTP {
			t.Errorf("viewer %s (joined %v after the first): %.0f KB from peers, %.0f KB over HTTP; want most from peers",
				label, streamJoinEvery, st.Stats.P2P, st.Stats.HTTP)
		}
	}
	hits := e.hits.snapshot()
	t.Logf("origin served %.2f MiB of segments", float64(streamSegmentBytes(hits, nil))/(1<<20))
}
