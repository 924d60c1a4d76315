//go:build linux

package browser_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// swarmScenario is viewers playing one media file to its end, each in a
// browser context of its own, started gap apart.
type swarmScenario struct {
	tag     string // the media path's tag: a swarm of its own
	file    string // sample.mp4 or sample.mp3
	kind    string // video or audio
	viewers int
	gap     time.Duration
	rate    float64 // playback rate
	extra   map[string]any
}

// swarmViewer is one viewer's outcome.
type swarmViewer struct {
	v         *viewer
	src       string
	snap      snapshot // when its playback ended
	stats     engineStats
	identical bool
}

// swarmResult is the scenario's outcome.
type swarmResult struct {
	viewers   []swarmViewer
	httpBytes int64 // every media byte the origin served during playback
	swBytes   int64 // the part of httpBytes the service workers fetched themselves
	requests  []string
	p2pBytes  int64 // bytes the viewers received from peers (their stats)
	stalls    int
	identical bool
}

// share is the fraction of the media bytes the viewers received that came
// from peers rather than from the origin.
func (r swarmResult) share() float64 {
	if r.p2pBytes+r.httpBytes == 0 {
		return 0
	}
	return float64(r.p2pBytes) / float64(r.p2pBytes+r.httpBytes)
}

// runSwarm plays the scenario, then has every viewer fetch the whole
// proxied file and random ranges of it through its service worker and
// compares them with the origin's bytes.
func (e *e2eEnv) runSwarm(tb testing.TB, sc swarmScenario) swarmResult {
	tb.Helper()
	f := e.media[sc.file]
	u := e.mediaURL(sc.tag, sc.file)
	proxied := e.proxiedURL(u)
	mark := e.origin.mark()
	duration := 45 * time.Second // the samples last 40 s

	res := swarmResult{viewers: make([]swarmViewer, sc.viewers), identical: true}
	for i := range sc.viewers {
		if i > 0 {
			time.Sleep(sc.gap)
		}
		label := fmt.Sprintf("%s-%d", sc.tag, i+1)
		v := e.newViewer(tb, label, "")
		v.create(tb, sc.kind, sc.extra)
		src := v.play(tb, sc.kind, u, sc.rate, true)
		if src != proxied {
			tb.Fatalf("viewer %s plays %q, want the proxied URL %q", label, src, proxied)
		}
		res.viewers[i] = swarmViewer{v: v, src: src}
	}
	for i := range res.viewers {
		sv := &res.viewers[i]
		sv.snap = sv.v.waitEnded(tb, time.Duration(float64(duration)/sc.rate)+time.Duration(sc.viewers)*sc.gap+30*time.Second)
	}
	for i := range res.viewers {
		sv := &res.viewers[i]
		sv.stats = sv.v.settledStats(tb, 1500*time.Millisecond)
		res.p2pBytes += int64(sv.stats.P2P * 1024)
		res.stalls += sv.snap.Media.Stalls
	}
	res.httpBytes = e.origin.bytes(mark, under("/media/"+sc.tag+"/"))
	res.swBytes = e.origin.bytes(mark, func(r *originRec) bool { return r.who == "sw" && strings.HasPrefix(r.path, "/media/"+sc.tag+"/") })
	res.requests = e.origin.list(mark, under("/media/"+sc.tag+"/"))

	rng := rand.New(rand.NewPCG(uint64(len(sc.tag)), 42))
	for i := range res.viewers {
		sv := &res.viewers[i]
		sv.identical = sv.v.checkHashes(tb, sv.src, f, randomRanges(rng, int64(len(f.data)), 4))
		res.identical = res.identical && sv.identical
	}
	return res
}

// logSwarm writes a table of the viewers' outcomes.
func logSwarm(tb testing.TB, res swarmResult) {
	tb.Helper()
	var b strings.Builder
	for _, sv := range res.viewers {
		m := sv.snap.Media
		startup := 0.0
		if m.FirstPlayingAt != nil && m.SetSrcAt != nil {
			startup = *m.FirstPlayingAt - *m.SetSrcAt
		}
		firstPeer := -1.0 // ms from setting src to the first peers event listing a peer
		for _, e := range sv.snap.Events {
			if e.Name == "peers" && len(e.Payload) > 2 && m.SetSrcAt != nil {
				firstPeer = e.At - *m.SetSrcAt
				break
			}
		}
		fmt.Fprintf(&b, "  %s: http %.0f KB, p2p %.0f KB, up %.0f KB, start-up %.0f ms, first peer after %.0f ms, stalls %d, exceptions %v, identical %v\n",
			sv.v.label, sv.stats.HTTP, sv.stats.P2P, sv.stats.Up, startup, firstPeer, m.Stalls, sv.snap.exceptions(), sv.identical)
	}
	tb.Logf("swarm: origin served %.2f MiB (%.2f MiB of it to service workers), peers %.2f MiB, P2P share %.2f, stalls %d\n%s  origin requests:\n    %s",
		float64(res.httpBytes)/(1<<20), float64(res.swBytes)/(1<<20), float64(res.p2pBytes)/(1<<20), res.share(), res.stalls, b.String(),
		strings.Join(res.requests, "\n    "))
}

// TestE2EThreeViewersMP4 plays sample.mp4 in three viewers started a few
// seconds apart, to the end, at twice the normal speed. The later viewers
// must take most of their bytes from peers, and every viewer's service
// worker must serve the file byte for byte as the origin has it, from its
// page's engine alone (no fallback to the origin while the engine is
// healthy). Then two viewers play at normal speed, where the player asks
// for bytes further ahead of the playhead, with the same demands. (The
// swarms run one after the other: on two cores, five players at once
// would measure the machine more than the engine.)
func TestE2EThreeViewersMP4(t *testing.T) {
	env := e2eSetup(t)
	start := time.Now()
	for _, c := range []struct {
		name     string
		viewers  int
		rate     float64
		minShare float64
	}{
		{"three-at-2x", 3, 2, 0.5},
		// Two viewers share at most half of the bytes: no share asked.
		{"two-at-1x", 2, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := env.runSwarm(t, swarmScenario{tag: c.name, file: "sample.mp4", kind: "video", viewers: c.viewers, gap: 3 * time.Second, rate: c.rate})
			logSwarm(t, res)
			checkSwarm(t, res, c.minShare)
		})
	}
	t.Cleanup(func() { t.Logf("test time: %v", time.Since(start).Round(time.Millisecond)) })
}

// checkSwarm asserts what TestE2EThreeViewersMP4 wants of a swarm.
func checkSwarm(t *testing.T, res swarmResult, minShare float64) {
	t.Helper()
	for i, sv := range res.viewers {
		checkPlayback(t, sv.v.label, sv.snap)
		if !sv.snap.Media.Ended {
			t.Errorf("viewer %s: no ended event", sv.v.label)
		}
		if i > 0 && sv.stats.P2P <= sv.stats.HTTP {
			t.Errorf("viewer %s: %.0f KB from peers, %.0f KB over HTTP: want most bytes from peers", sv.v.label, sv.stats.P2P, sv.stats.HTTP)
		}
	}
	if res.swBytes > 0 {
		t.Errorf("the service workers fetched %d bytes from the origin themselves: their pages' engines did not answer in time", res.swBytes)
	}
	if s := res.share(); s < minShare {
		t.Errorf("P2P share of the swarm %.2f (peers %d bytes, origin %d bytes), want at least %.2f", s, res.p2pBytes, res.httpBytes, minShare)
	}
	if !res.identical {
		t.Error("a proxied fetch differed from the origin's bytes")
	}
}
