//go:build linux

package browser_test

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestE2ESeekAndMP3 seeks around a playing MP4 whose pieces a peer holds,
// and plays an MP3 in <audio> in two viewers (with a piece length of 64
// KiB); the two parts run side by side, each in its own swarm.
func TestE2ESeekAndMP3(t *testing.T) {
	env := e2eSetup(t)
	start := time.Now()
	t.Run("seek", func(t *testing.T) {
		t.Parallel()
		f := env.media["sample.mp4"]
		u := env.mediaURL("seek", "sample.mp4")
		proxied := env.proxiedURL(u)

		// The seeder reads the whole file through its service worker.
		seeder := env.newViewer(t, "seek-seeder", "")
		seeder.create(t, "video", nil)
		if got := eval[string](t, seeder, 20*time.Second, "e2e.proxied("+jsArg(u)+")"); got != proxied {
			t.Fatalf("seeder: getProxiedUrl = %q, want %q", got, proxied)
		}
		if !seeder.checkHashes(t, proxied, f, nil) {
			t.Fatal("seeder: the proxied file differs from the origin's")
		}

		v := env.newViewer(t, "seek-viewer", "")
		v.create(t, "video", nil)
		v.play(t, "video", u, 2, true)
		v.waitFor(t, "playing event", 20*time.Second, func(s snapshot) bool { return s.Media.FirstPlayingAt != nil })
		rng := rand.New(rand.NewPCG(7, 11))
		for i := range 5 {
			// Anywhere in the 40 s, at least 1.5 s before the end.
			to := float64(rng.IntN(385)) / 10
			at := eval[float64](t, v, 25*time.Second, "e2e.seek("+jsArg(to)+")")
			t.Logf("seek %d to %.1f s: playing at %.2f s", i+1, to, at)
		}
		s := v.snapshot(t)
		checkPlayback(t, v.label, s)
		if s.Media.Seeks < 5 {
			t.Errorf("%d seeking events, want 5", s.Media.Seeks)
		}
		v.checkHashes(t, proxied, f, randomRanges(rng, int64(len(f.data)), 6))
		st := v.settledStats(t, 1500*time.Millisecond)
		t.Logf("seeking viewer: http %.0f KB, p2p %.0f KB, stalls %d, waits after seeks %d, exceptions %v",
			st.HTTP, st.P2P, s.Media.Stalls, s.Media.SeekWaits, s.exceptions())
		if st.P2P <= 0 {
			t.Errorf("seeking viewer: nothing from the seeder (stats %+v)", st)
		}
	})
	t.Run("mp3", func(t *testing.T) {
		t.Parallel()
		// 64 KiB pieces: the 0.6 MB file has ten, so the second viewer
		// finds most of them at its peer however long they take to meet.
		res := env.runSwarm(t, swarmScenario{tag: "mp3", file: "sample.mp3", kind: "audio", viewers: 2, gap: 3 * time.Second, rate: 2,
			extra: map[string]any{"pieceLength": 64 << 10}})
		logSwarm(t, res)
		for _, sv := range res.viewers {
			checkPlayback(t, sv.v.label, sv.snap)
			if !sv.snap.Media.Ended {
				t.Errorf("viewer %s: no ended event", sv.v.label)
			}
			if d := sv.snap.Media.Duration; d < 39 || d > 41 {
				t.Errorf("viewer %s: <audio> duration %.2f s, want about 40", sv.v.label, d)
			}
		}
		first, second := res.viewers[0].stats, res.viewers[1].stats
		if second.P2P <= 0 || first.Up <= 0 {
			t.Errorf("the second viewer got %.0f KB from peers and the first sent %.0f KB: want both > 0", second.P2P, first.Up)
		}
		if !res.identical {
			t.Error("a proxied fetch of the MP3 differed from the origin's bytes")
		}
	})
	t.Cleanup(func() { t.Logf("test time: %v", time.Since(start).Round(time.Millisecond)) })
}
