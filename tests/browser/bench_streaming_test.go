//go:build linux

package browser_test

import (
	"fmt"
	"testing"
)

// The streaming benchmarks (make bench-browser) run the scenarios of
// TestHLSVOD, TestDASHVOD and TestHLSLive at normal speed and print one
// BENCH line each. http_mib is what the origin served of segments (the
// CDN's load, fallbacks of the service worker included); p2p_mib is what the
// viewers' engines report from peers; p2p_share = p2p / (http + p2p).
// identical=true when every segment every player received had the origin's
// SHA-256; stalls counts 'waiting' events after playback started.

// benchStreamVOD runs a VOD scenario at normal speed with three viewers 10 s
// apart on the 360p rendition and prints its BENCH line.
func benchStreamVOD(b *testing.B, name, page string) {
	e := newStreamEnv(b, streamNS)
	var r streamVOD
	for i := 0; i < b.N; i++ {
		r = runStreamVOD(b, e, page+"?autoplay=1&level=2", 3, streamJoinEvery)
	}
	stalls, ended := 0, true
	for i, st := range r.status {
		stalls += st.Stalls
		ended = ended && st.Ended
		b.Logf("viewer %s: %s", r.viewers[i].label, st.line())
		if f := st.fatal(); len(f) > 0 {
			b.Errorf("viewer %s: fatal errors %q", r.viewers[i].label, f)
		}
	}
	if !ended {
		b.Errorf("not every viewer played to the end")
	}
	for _, m := range r.mismatch {
		b.Errorf("bytes differ from the origin's: %s", m)
	}
	identical := r.checked > 0 && len(r.mismatch) == 0
	fmt.Printf("BENCH %s viewers=%d %s stalls=%d identical=%v\n",
		name, len(r.status), shareFields(r.httpBytes, r.p2pBytes()), stalls, identical)
}

// BenchmarkHLSVOD: hls.html (hls.js), three viewers 10 s apart.
func BenchmarkHLSVOD(b *testing.B) { benchStreamVOD(b, "hls_vod", "/hls.html") }

// BenchmarkDASHVOD: dash.html (Shaka Player), three viewers 10 s apart.
func BenchmarkDASHVOD(b *testing.B) { benchStreamVOD(b, "dash_vod", "/dash.html") }

// BenchmarkHLSLive: four viewers of live.html; the origin's GETs per new
// segment and rendition over six segments.
func BenchmarkHLSLive(b *testing.B) {
	e := newStreamEnv(b, streamNS)
	var r streamLive
	for i := 0; i < b.N; i++ {
		r = runStreamLive(b, e, 4, streamLiveSegments)
	}
	stalls := 0
	var p2pKB float64
	for i, st := range r.status {
		stalls += st.Stalls
		p2pKB += st.Stats.P2P
		b.Logf("viewer %s: %s", r.viewers[i].label, st.line())
	}
	for _, m := range r.mismatch {
		b.Errorf("bytes differ from the origin's: %s", m)
	}
	b.Logf("origin fetches per segment: %v; %d requests without a body", r.fetches, r.probes)
	httpBytes := streamSegmentBytes(r.hits, nil)
	p2pBytes := int64(p2pKB * 1024)
	share := 0.0
	if httpBytes+p2pBytes > 0 {
		share = float64(p2pBytes) / float64(httpBytes+p2pBytes)
	}
	fmt.Printf("BENCH hls_live viewers=%d segments=%d http_fetches_per_segment=%.2f http_probes_per_segment=%.2f p2p_share=%.2f stalls=%d\n",
		len(r.status), len(r.window), r.perSeg, float64(r.probes)/float64(max(1, len(r.fetches))), share, stalls)
}
