//go:build linux

package browser_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// firstFrameScript runs in every document of a first-frame run before the
// page's own scripts: it notes the time of the document's first `playing`
// event and, for the bench's log, of its first `loadstart` (the player
// set src); media events do not bubble, so it listens in the capture phase.
const firstFrameScript = `
document.addEventListener('playing', () => {
  if (window.__ff === undefined) window.__ff = performance.now();
}, true);
document.addEventListener('loadstart', () => {
  if (window.__ffStart === undefined) window.__ffStart = performance.now();
}, true);
`

// firstFrameTimeline reads, once the page played, the times (ms from
// navigation start) of its first frame, of the player's loadstart and of
// the engine's files, for the log of a run, and whether the engine played.
const firstFrameTimeline = `(() => {
  const at = (name) => {
    const e = performance.getEntriesByType('resource').find((r) => r.name.endsWith(name));
    return e ? Math.round(e.responseEnd) : -1;
  };
  return {ff: window.__ff, start: window.__ffStart, shim: at('/p2p-engine.min.js'), wasm: at('/p2p-engine.wasm'),
    p2p: !!(window.__demo && window.__demo.p2p) || document.querySelector('video').currentSrc.includes('/__p2pmedia__/')};
})()`

// ffTimeline is what firstFrameTimeline returns.
type ffTimeline struct {
	FF    float64 `json:"ff"`
	Start float64 `json:"start"`
	Shim  float64 `json:"shim"`
	Wasm  float64 `json:"wasm"`
	P2P   bool    `json:"p2p"`
}

// BenchmarkFirstFrame counts start-up as a viewer lives it: from navigation
// start to the first `playing` event of the demo's MP4 page (<video>) and
// HLS page (hls.js), with the engine and without it (p2p=0), each a first
// visit in a fresh browser context (nothing installed, nothing cached)
// followed by a repeat visit in the same context (service worker
// installed, the engine's and the player's files in the HTTP cache, which
// the bench's origin serves as a CDN does: brotli, cached for a year).
// Runs of the two are interleaved; it prints the medians.
func BenchmarkFirstFrame(b *testing.B) {
	e := newStreamEnv(b, streamNS)
	runs := 15
	if n, err := strconv.Atoi(os.Getenv("P2PT_FF_RUNS")); err == nil && n > 0 {
		runs = n // a quicker look while working on start-up
	}
	pages := []struct{ name, path string }{
		{"mp4", "/mp4.html?autoplay=1"},
		{"hls", "/hls.html?autoplay=1"},
	}
	for i := 0; i < b.N; i++ {
		for _, pg := range pages {
			// times[visit][engine]: visit 0 first, 1 repeat.
			var times [2][2][]float64
			for r := range runs {
				for eng, query := range []string{"&p2p=0", ""} {
					label := fmt.Sprintf("ff-%s-%d-%d-%d", pg.name, i, r, eng)
					first, repeat := firstFrameRun(b, e, label, pg.path+query, eng == 1)
					times[0][eng] = append(times[0][eng], first)
					times[1][eng] = append(times[1][eng], repeat)
				}
			}
			for visit, name := range []string{"first", "repeat"} {
				plain, engine := times[visit][0], times[visit][1]
				b.Logf("%s %s visit (ms): plain %.0f, engine %.0f", pg.name, name, plain, engine)
				p, en := median(plain), median(engine)
				fmt.Printf("BENCH first_frame page=%s visit=%s plain_ms=%.0f engine_ms=%.0f ratio=%.2f\n", pg.name, name, p, en, en/p)
			}
		}
	}
}

// firstFrameRun opens pagePath in a fresh browser context, then again in
// the same context, and returns the milliseconds from navigation start to
// the first `playing` event of each visit.
func firstFrameRun(b *testing.B, e *streamEnv, label, pagePath string, engine bool) (first, repeat float64) {
	b.Helper()
	ctx, closeCtx, err := e.browser.NewContext(label)
	if err != nil {
		b.Fatal(err)
	}
	defer closeCtx()
	if err := chromedp.Do(ctx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: firstFrameScript})
		return chromedp.Void{}, err
	}); err != nil {
		b.Fatalf("%s: %v", label, err)
	}
	visit := func(which string) float64 {
		u := e.origin + pagePath
		nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(nctx, chromedp.Navigate(u)); err != nil {
			b.Fatalf("%s: %s visit of %s: %v", label, which, u, err)
		}
		if _, err := chromedp.Run(nctx, chromedp.Poll[bool](`window.__ff !== undefined`, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
			b.Fatalf("%s: %s visit of %s: no playing event: %v", label, which, u, err)
		}
		tl, err := chromedp.Run(nctx, chromedp.Evaluate[ffTimeline](firstFrameTimeline))
		if err != nil {
			b.Fatalf("%s: %v", label, err)
		}
		if engine && !tl.P2P {
			b.Fatalf("%s: %s visit: the page played without the engine", label, which)
		}
		b.Logf("%s %s: playing at %.0f ms (shim %.0f, loadstart %.0f, wasm %.0f)", label, which, tl.FF, tl.Shim, tl.Start, tl.Wasm)
		return tl.FF
	}
	first = visit("first")
	if engine {
		// The repeat visit is one to a site whose worker is installed.
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := chromedp.Run(nctx, chromedp.Poll[bool](`navigator.serviceWorker.controller !== null`))
		cancel()
		if err != nil {
			b.Fatalf("%s: the service worker never controlled the first visit: %v", label, err)
		}
	}
	repeat = visit("repeat")
	return first, repeat
}
