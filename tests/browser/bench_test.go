//go:build linux

package browser_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser benchmarks run with `make bench-browser`:
//
//	go test -run '^$' -bench . -benchtime 1x ./tests/browser/...
//
// Each prints one line starting with BENCH to stdout.

// BenchmarkBrowserSwarm is the scenario of TestE2EThreeViewersMP4 at normal
// speed: three viewers started 3 s apart play sample.mp4 to its end.
// http_mib is what the origin served, p2p_mib what the viewers received
// from peers.
func BenchmarkBrowserSwarm(b *testing.B) {
	env := e2eSetup(b)
	var res swarmResult
	for i := 0; i < b.N; i++ {
		res = env.runSwarm(b, swarmScenario{tag: fmt.Sprintf("bench-swarm-%d", i), file: "sample.mp4", kind: "video", viewers: 3, gap: 3 * time.Second, rate: 1})
		for _, sv := range res.viewers {
			checkPlayback(b, sv.v.label, sv.snap)
			sv.v.close()
		}
	}
	logSwarm(b, res)
	const mib = 1 << 20
	b.ReportMetric(res.share(), "p2p_share")
	fmt.Printf("BENCH browser_swarm viewers=%d http_mib=%.2f p2p_mib=%.2f p2p_share=%.2f stalls=%d identical=%v\n",
		len(res.viewers), float64(res.httpBytes)/mib, float64(res.p2pBytes)/mib, res.share(), res.stalls, res.identical)
}

// BenchmarkStartup compares the time from setting src to the `playing`
// event: a plain <video src=/media/…/sample.mp4> against the proxied URL of
// the same file with the engine already constructed (service worker in
// control, wasm running), each in a fresh browser context, twenty-five runs
// of each, interleaved (fifteen left medians that moved by a tenth of the
// ratio from one run to the next); it reports the medians.
func BenchmarkStartup(b *testing.B) {
	env := e2eSetup(b)
	const runs = 25
	var plainMs, engineMs float64
	for i := 0; i < b.N; i++ {
		u := env.mediaURL(fmt.Sprintf("bench-startup-%d", i), "sample.mp4")
		var plain, engine []float64
		for r := range runs {
			plain = append(plain, startupRun(b, env, fmt.Sprintf("startup-%d-plain-%d", i, r), u, false))
			engine = append(engine, startupRun(b, env, fmt.Sprintf("startup-%d-engine-%d", i, r), u, true))
		}
		b.Logf("start-up times (ms): plain %.0f, engine %.0f", plain, engine)
		plainMs, engineMs = median(plain), median(engine)
	}
	b.ReportMetric(plainMs, "plain_ms")
	b.ReportMetric(engineMs, "engine_ms")
	fmt.Printf("BENCH startup plain_ms=%.0f engine_ms=%.0f ratio=%.2f\n", plainMs, engineMs, engineMs/plainMs)
}

// startupRun plays u in a fresh viewer, through the engine or not, and
// returns the milliseconds from setting src to the first `playing` event.
func startupRun(b *testing.B, env *e2eEnv, label, u string, withEngine bool) float64 {
	b.Helper()
	v := env.newViewer(b, label, "")
	defer v.close()
	if withEngine {
		v.create(b, "video", nil)
		if got := eval[string](b, v, 20*time.Second, "e2e.proxied("+jsArg(u)+")"); got != env.proxiedURL(u) {
			b.Fatalf("%s: getProxiedUrl = %q, want the proxied URL", label, got)
		}
	}
	v.play(b, "video", u, 1, withEngine)
	s := v.waitFor(b, "playing event", 30*time.Second, func(s snapshot) bool { return s.Media.FirstPlayingAt != nil })
	checkPlayback(b, label, s)
	return *s.Media.FirstPlayingAt - *s.Media.SetSrcAt
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// dcReport is what page B measures while its engine fetches the file from
// page A.
type dcReport struct {
	Seconds float64 `json:"seconds"`
	FromKB  float64 `json:"fromKB"`
	P2P     float64 `json:"p2p"`
	HTTP    float64 `json:"http"`
}

// BenchmarkDataChannelThroughput moves a 16 MiB generated file between two
// browser contexts twice in the same run: through the real page wasm
// (testdata/engine/engine.html, as TestEngineWasm drives it: page A reads
// the file from the origin, page B's engine fetches every piece from A
// ahead of its playhead), and over one raw RTCDataChannel
// (testdata/rawdc.html). Both rates run from the first byte received to
// the last.
func BenchmarkDataChannelThroughput(b *testing.B) {
	env := e2eSetup(b)
	f := env.media["gen16.bin"]
	sum := sha256.Sum256(f.data)
	wantSum := hex.EncodeToString(sum[:])
	const mib = 1 << 20
	var engineRate, rawRate float64
	for i := 0; i < b.N; i++ {
		tag := fmt.Sprintf("bench-dc-%d", i)
		u := env.mediaURL(tag, f.name)
		pages := make([]context.Context, 2)
		for k, label := range []string{"dc-A", "dc-B"} {
			page, closePage, err := env.b.NewContext(fmt.Sprintf("%s-%d", label, i))
			if err != nil {
				b.Fatal(err)
			}
			defer closePage()
			nctx, cancel := context.WithTimeout(page, 20*time.Second)
			err = chromedp.Do(nctx, chromedp.Navigate(env.base+"/engine/engine.html"))
			cancel()
			if err != nil {
				b.Fatalf("%s: navigating: %v", label, err)
			}
			if _, err := evalIn[map[string]any](page, 20*time.Second, "engineTest.load()"); err != nil {
				b.Fatalf("%s: loading the wasm: %v", label, err)
			}
			pages[k] = page
		}
		cfg := map[string]any{
			"announce":       []string{env.trackerURL},
			"pieceLength":    512 << 10,
			"webRTCConfig":   map[string]any{"iceServers": []any{}},
			"p2pEnabled":     true,
			"diskCacheLimit": 64 << 20,
			"minBufferCount": 0,
			"logLevel":       "warn",
			"mediaElem":      nil,
		}
		// B's stand-in media element plays the proxied file from its
		// start, 20 s long: every piece lies within the prefetch window
		// and none is urgent, so all of them come from peers.
		fake := map[string]any{
			"currentSrc": env.proxiedURL(u), "currentTime": 0, "duration": 20,
			"paused": false, "playbackRate": 1, "readyState": 4,
		}
		if _, err := evalIn[string](pages[0], 5*time.Second, fmt.Sprintf("engineTest.start(%s, null)", jsArg(cfg))); err != nil {
			b.Fatalf("A: %v", err)
		}
		if got, err := evalIn[readReport](pages[0], 60*time.Second, fmt.Sprintf("engineTest.readAll(%s, 4)", jsArg(u))); err != nil || got.SHA256 != wantSum {
			b.Fatalf("A: reading the file from the origin: %+v, %v", got, err)
		}
		if _, err := evalIn[string](pages[1], 5*time.Second, fmt.Sprintf("engineTest.start(%s, %s)", jsArg(cfg), jsArg(fake))); err != nil {
			b.Fatalf("B: %v", err)
		}
		rep, err := evalIn[dcReport](pages[1], 90*time.Second, fmt.Sprintf(`engineTest.open(%s).then(async () => {
			const target = %d / 1024, end = performance.now() + 80000;
			let t0 = 0, from = 0;
			for (;;) {
				const st = engineTest.stats();
				if (!t0 && st.totalP2PDownloaded > 0) { t0 = performance.now(); from = st.totalP2PDownloaded; }
				if (st.totalP2PDownloaded >= target) {
					return {seconds: (performance.now() - t0) / 1000, fromKB: from, p2p: st.totalP2PDownloaded, http: st.totalHTTPDownloaded};
				}
				if (performance.now() > end) throw new Error('B has ' + JSON.stringify(st));
				await new Promise((r) => setTimeout(r, 2));
			}
		})`, jsArg(u), len(f.data)))
		if err != nil {
			b.Fatalf("B: fetching the file from A: %v", err)
		}
		if got, err := evalIn[readReport](pages[1], 30*time.Second, fmt.Sprintf("engineTest.readAll(%s, 4)", jsArg(u))); err != nil || got.SHA256 != wantSum {
			b.Fatalf("B: the file from A: %+v, %v; want SHA-256 %s", got, err, wantSum)
		}
		engineRate = (float64(len(f.data)) - rep.FromKB*1024) / mib / rep.Seconds
		b.Logf("engine: %+v", rep)

		// The same two contexts, a raw channel.
		for k, page := range pages {
			nctx, cancel := context.WithTimeout(page, 20*time.Second)
			err := chromedp.Do(nctx, chromedp.Navigate(env.base+"/rawdc.html"))
			cancel()
			if err != nil {
				b.Fatalf("page %d: navigating to rawdc.html: %v", k, err)
			}
		}
		signal := "/signal/" + tag
		var (
			wg   sync.WaitGroup
			sent sendReport
			recv recvReport
			errs [2]error
		)
		wg.Go(func() {
			c, cancel := context.WithTimeout(pages[1], 60*time.Second)
			defer cancel()
			recv, errs[1] = call[recvReport](c, "receive", map[string]any{"signal": signal, "total": len(f.data)})
		})
		wg.Go(func() {
			c, cancel := context.WithTimeout(pages[0], 60*time.Second)
			defer cancel()
			sent, errs[0] = call[sendReport](c, "send", map[string]any{"signal": signal, "payload": u, "chunk": 64 << 10})
		})
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			b.Fatalf("raw channel: sender %v, receiver %v", errs[0], errs[1])
		}
		if recv.SHA256 != wantSum || sent.SHA256 != wantSum {
			b.Fatalf("raw channel: received %d bytes with SHA-256 %s, want %s", recv.Received, recv.SHA256, wantSum)
		}
		rawRate = float64(recv.Received) / mib / recv.Seconds
	}
	b.ReportMetric(engineRate, "engine_MiB/s")
	b.ReportMetric(rawRate, "raw_MiB/s")
	fmt.Printf("BENCH dc_throughput engine_mib_s=%.1f raw_mib_s=%.1f ratio=%.2f\n", engineRate, rawRate, engineRate/rawRate)
}

// BenchmarkWasmSize reports the brotli-compressed sizes (quality 11) of the
// two wasm programs of build/dist.
func BenchmarkWasmSize(b *testing.B) {
	dist := distDir(b)
	if _, err := exec.LookPath("brotli"); err != nil {
		b.Fatalf("the brotli command is needed (scripts/install-deps.sh installs it): %v", err)
	}
	sizes := map[string]int64{}
	for i := 0; i < b.N; i++ {
		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		for _, name := range []string{"p2p-engine.wasm", "p2p-sw.wasm"} {
			wg.Go(func() {
				n, err := brotliSize(filepath.Join(dist, name))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					b.Error(err)
				}
				sizes[name] = n
			})
		}
		wg.Wait()
	}
	if b.Failed() {
		return
	}
	page, sw := float64(sizes["p2p-engine.wasm"])/1024, float64(sizes["p2p-sw.wasm"])/1024
	b.ReportMetric(page, "page_br_KiB")
	b.ReportMetric(sw, "sw_br_KiB")
	fmt.Printf("BENCH wasm_size page_br_kib=%.0f sw_br_kib=%.0f\n", page, sw)
}

// brotliSize returns the size of file compressed by brotli -q 11.
func brotliSize(file string) (int64, error) {
	cmd := exec.Command("brotli", "-q", "11", "-c", file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("brotli %s: %w", file, err)
	}
	n, err := io.Copy(io.Discard, out)
	if werr := cmd.Wait(); werr != nil || err != nil {
		return 0, fmt.Errorf("brotli %s: %v %v: %s", file, werr, err, stderr.String())
	}
	return n, nil
}
