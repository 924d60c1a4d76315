//go:build linux

package browser_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestE2EFailures checks that playback is never worse than plain HTTP when
// something fails: the tracker is down, P2P is off or unsupported, the
// page's engine stops answering its service worker mid-playback, or a peer
// leaves in the middle of a transfer. The cases run side by side, each in
// its own swarm.
func TestE2EFailures(t *testing.T) {
	env := e2eSetup(t)
	start := time.Now()
	f := env.media["sample.mp4"]
	size := float64(len(f.data)) / 1024 // KB

	t.Run("tracker-unreachable", func(t *testing.T) {
		t.Parallel()
		u := env.mediaURL("fail-tracker", "sample.mp4")
		v := env.newViewer(t, "fail-tracker", "")
		v.create(t, "video", map[string]any{"announce": []string{env.closedURL}})
		if src := v.play(t, "video", u, 4, true); src != env.proxiedURL(u) {
			t.Errorf("the player got %q, want the proxied URL: the engine runs without a tracker", src)
		}
		s := v.waitEnded(t, 40*time.Second)
		checkPlayback(t, v.label, s)
		st := v.settledStats(t, 1500*time.Millisecond)
		if st.P2P != 0 || st.HTTP < 0.9*size {
			t.Errorf("stats %+v: want everything over HTTP (%.0f KB)", st, size)
		}
		tracker := false
		for _, ex := range s.exceptions() {
			tracker = tracker || ex["code"] == "TRACKER_EXPT" && strings.Contains(ex["message"].(string), env.closedURL)
		}
		if !tracker {
			t.Errorf("exceptions %v, want TRACKER_EXPT naming %s", s.exceptions(), env.closedURL)
		}
		up := eventsOf[bool](t, s.events(), "serverConnected")
		if len(up) == 0 || up[0] || strings.Contains(jsArg(up), "true") {
			t.Errorf("serverConnected events %v, want false and never true", up)
		}
	})

	t.Run("p2p-disabled", func(t *testing.T) {
		t.Parallel()
		u := env.mediaURL("fail-off", "sample.mp4")
		mark := env.origin.mark()
		v := env.newViewer(t, "fail-off", "")
		v.create(t, "video", map[string]any{"p2pEnabled": false})
		if src := v.play(t, "video", u, 2, true); src != u {
			t.Errorf("getProxiedUrl with p2pEnabled false gave %q, want the original URL %q", src, u)
		}
		s := v.waitFor(t, "6 s of playback", 30*time.Second, func(s snapshot) bool { return s.Media.CurrentTime >= 6 })
		checkPlayback(t, v.label, s)
		plain := env.origin.bytes(mark, func(r *originRec) bool { return r.who == "page:fail-off" && r.dest == "video" })
		viaSW := env.origin.bytes(mark, func(r *originRec) bool { return r.who == "sw" && strings.HasPrefix(r.path, "/media/fail-off/") })
		if plain == 0 || viaSW != 0 {
			t.Errorf("the origin sent %d bytes to the <video> itself and %d to a service worker: want the player's own requests only", plain, viaSW)
		}
	})

	t.Run("unsupported-browser", func(t *testing.T) {
		t.Parallel()
		u := env.mediaURL("fail-nortc", "sample.mp4")
		v := env.newViewer(t, "fail-nortc", "noRTC=1")
		if sup := eval[bool](t, v, 5*time.Second, "P2PEngineMedia.isSupported() || P2PEngineMedia.isWebRTCSupported()"); sup {
			t.Error("isSupported or isWebRTCSupported is true without RTCPeerConnection")
		}
		v.create(t, "video", nil)
		if src := v.play(t, "video", u, 2, true); src != u {
			t.Errorf("getProxiedUrl without WebRTC gave %q, want the original URL %q", src, u)
		}
		s := v.waitFor(t, "6 s of playback", 30*time.Second, func(s snapshot) bool { return s.Media.CurrentTime >= 6 })
		checkPlayback(t, v.label, s)
		if ctl := eval[bool](t, v, 5*time.Second, "!!navigator.serviceWorker.controller"); ctl {
			t.Error("a service worker controls the page of a browser without WebRTC")
		}
	})

	t.Run("engine-destroyed-mid-playback", func(t *testing.T) {
		t.Parallel()
		// A slow origin: the player cannot have the whole file before
		// the engine goes, as with a long film.
		u := env.mediaURL("slow-destroy", "sample.mp4")
		v := env.newViewer(t, "fail-destroy", "")
		v.create(t, "video", nil)
		if src := v.play(t, "video", u, 2, true); src != env.proxiedURL(u) {
			t.Fatalf("the player got %q, want the proxied URL", src)
		}
		v.waitFor(t, "2 s of playback", 20*time.Second, func(s snapshot) bool { return s.Media.CurrentTime >= 2 })
		// The page's engine goes away (peers, trackers, its ports to the
		// service worker); the <video> keeps its proxied src.
		mark := env.origin.mark()
		if r := eval[callResult](t, v, 5*time.Second, "e2e.call('destroy')"); !r.OK {
			t.Fatalf("destroy: %+v", r)
		}
		// A direct response that the page granted just before (the
		// service worker's fetch, which carries the player's referrer)
		// may reach the origin a moment after: the page's requests count
		// from a grace period on.
		const grantGrace = time.Second
		pageFrom := time.Now().Add(grantGrace)
		s := v.waitEnded(t, 60*time.Second)
		checkPlayback(t, v.label, s)
		if s.Media.CurrentSrc != env.proxiedURL(u) {
			t.Errorf("the player's source changed to %q", s.Media.CurrentSrc)
		}
		fromSW := env.origin.bytes(mark, func(r *originRec) bool { return r.who == "sw" && strings.HasPrefix(r.path, "/media/slow-destroy/") })
		fromPage := env.origin.bytes(mark, func(r *originRec) bool { return r.who == "page:fail-destroy" && r.at.After(pageFrom) })
		t.Logf("after destroy: the origin sent %d bytes to the service worker and %d to the page; stalls %d", fromSW, fromPage, s.Media.Stalls)
		if fromSW == 0 || fromPage != 0 {
			t.Errorf("after destroy the origin sent %d bytes to the service worker and %d to the page: want the service worker to finish from the origin; requests:\n%s",
				fromSW, fromPage, strings.Join(env.origin.list(0, under("/media/slow-destroy/")), "\n"))
		}
	})

	t.Run("service-worker-stopped-before-play", func(t *testing.T) {
		t.Parallel()
		// The viewer opens the page and waits before pressing play: the
		// browser stops the idle service worker (after about 30 s; here
		// through DevTools), and the next media request starts it again.
		u := env.mediaURL("fail-swstop", "sample.mp4")
		v := env.newViewer(t, "fail-swstop", "")
		v.create(t, "video", nil)
		if got := eval[string](t, v, 20*time.Second, "e2e.proxied("+jsArg(u)+")"); got != env.proxiedURL(u) {
			t.Fatalf("getProxiedUrl = %q, want the proxied URL", got)
		}
		stopWorkers(t, v.ctx, env.base+"/sw.js")
		mark := env.origin.mark()
		v.play(t, "video", u, 4, true)
		s := v.waitFor(t, "8 s of playback", 30*time.Second, func(s snapshot) bool { return s.Media.CurrentTime >= 8 })
		checkPlayback(t, v.label, s)
		fromSW := env.origin.bytes(mark, func(r *originRec) bool { return r.who == "sw" })
		fromPage := env.origin.bytes(mark, func(r *originRec) bool { return r.who == "page:fail-swstop" })
		t.Logf("after the restart: the origin sent %d bytes to the service worker and %d to the page's engine", fromSW, fromPage)
		if fromSW > 0 || fromPage == 0 {
			t.Errorf("after the service worker restarted, the origin sent %d bytes to it and %d to the page's engine: want the page's engine to serve the media again", fromSW, fromPage)
		}
	})

	t.Run("seeder-leaves-mid-transfer", func(t *testing.T) {
		t.Parallel()
		u := env.mediaURL("fail-peer", "sample.mp4")
		proxied := env.proxiedURL(u)
		seeder := env.newViewer(t, "fail-peer-seeder", "")
		seeder.create(t, "video", nil)
		if got := eval[string](t, seeder, 20*time.Second, "e2e.proxied("+jsArg(u)+")"); got != proxied {
			t.Fatalf("seeder: getProxiedUrl = %q", got)
		}
		if !seeder.checkHashes(t, proxied, f, nil) {
			t.Fatal("seeder: the proxied file differs from the origin's")
		}
		idSeeder := seeder.waitFor(t, "peerId", 10*time.Second, func(s snapshot) bool { return s.PeerID != "" }).PeerID

		// At normal speed the viewer wants the pieces past 30 s of media
		// (the prefetch window) only later, so the seeder cannot have sent
		// the whole file when it leaves at the viewer's first bytes from it.
		v := env.newViewer(t, "fail-peer-viewer", "")
		v.create(t, "video", nil)
		v.play(t, "video", u, 1, true)
		first, err := evalIn[engineStats](v.ctx, 20*time.Second, "e2e.firstP2PBytes(19000)")
		if err != nil {
			s := v.snapshot(t)
			t.Fatalf("viewer: %v; stats %+v, peers %+v, media %+v, exceptions %v", err, s.stats(), s.Peers, s.Media, s.exceptions())
		}
		seeder.close()
		t.Logf("the seeder left when the viewer had %.0f KB from peers", first.P2P)
		v.waitFor(t, "the seeder to leave", 20*time.Second, func(s snapshot) bool {
			for _, p := range s.Peers {
				if p.ID == idSeeder {
					return false
				}
			}
			return true
		})
		eval[float64](t, v, 5*time.Second, "e2e.setRate(4)")
		s := v.waitEnded(t, 40*time.Second)
		checkPlayback(t, v.label, s)
		st := v.settledStats(t, 1500*time.Millisecond)
		t.Logf("viewer: %+v, stalls %d, exceptions %v", st, s.Media.Stalls, s.exceptions())
		if st.P2P <= 0 || st.P2P >= size {
			t.Errorf("viewer stats %+v: want part of the file (%.0f KB), not all of it, from the seeder", st, size)
		}
		v.checkHashes(t, proxied, f, randomRanges(rand.New(rand.NewPCG(3, 3)), int64(len(f.data)), 4))
	})
	t.Cleanup(func() { t.Logf("test time: %v", time.Since(start).Round(time.Millisecond)) })
}
