//go:build linux

package browser_test

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// createResult is what e2e.tryCreate reports.
type createResult struct {
	OK      bool   `json:"ok"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// callResult is what e2e.call reports.
type callResult struct {
	OK       bool   `json:"ok"`
	Returned string `json:"returned"`
	Error    string `json:"error"`
}

// listenerProbe is what the listeners of e2e.probeListeners counted.
type listenerProbe struct {
	Before     int  `json:"before"` // stats events recorded before the probe
	RemovedAll int  `json:"removedAll"`
	Removed    int  `json:"removed"`
	Once       int  `json:"once"`
	Kept       int  `json:"kept"`
	Chained    bool `json:"chained"`
}

// The HTTP totals of the stats event and the bytes the origin sent to the
// page's engine differ by what the network and the engine do not see
// alike: the body of a fetch the engine aborts (it stops reading, the
// server has written more) and the engine's size probe. statsSlackBytes
// plus statsSlackRatio of the origin's count bounds the difference. The
// service worker's own fallback fetches go to the origin outside the
// engine: they are counted apart (who "sw") and not in either side.
const (
	statsSlackBytes = 64 << 10
	statsSlackRatio = 0.02
)

// TestE2EAPI checks the public API of P2PEngineMedia as built in
// build/dist: statics, option checks, events and callbacks, a custom
// channel shared across URLs, stats against the origin's count,
// disableP2P, enableP2P, restartP2p/restartP2P and destroy.
func TestE2EAPI(t *testing.T) {
	env := e2eSetup(t)
	start := time.Now()

	t.Run("statics-and-options", func(t *testing.T) {
		v := env.newViewer(t, "api-static", "")
		type statics struct {
			Version                 string   `json:"version"`
			ProtocolVersion         int      `json:"protocolVersion"`
			IsSupported             bool     `json:"isSupported"`
			IsWebRTCSupported       bool     `json:"isWebRTCSupported"`
			IsSeviceWorkerSupported bool     `json:"isSeviceWorkerSupported"`
			IsServiceWorkerSupport  bool     `json:"isServiceWorkerSupported"`
			ESMVersion              string   `json:"esmVersion"`
			ESMProtocolVersion      int      `json:"esmProtocolVersion"`
			Methods                 []string `json:"methods"`
		}
		got := eval[statics](t, v, 10*time.Second, "e2e.statics()")
		want := statics{
			Version: env.version, ProtocolVersion: identity.ProtocolVersion,
			IsSupported: true, IsWebRTCSupported: true, IsSeviceWorkerSupported: true, IsServiceWorkerSupport: true,
			ESMVersion: env.version, ESMProtocolVersion: identity.ProtocolVersion,
			Methods: []string{"getProxiedUrl", "enableP2P", "disableP2P", "restartP2p", "restartP2P", "destroy", "on", "once", "off"},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("statics\n got %+v\nwant %+v", got, want)
		}
		if env.version == "" || env.version == "dev" {
			t.Errorf("VERSION reads %q", env.version)
		}

		for _, c := range []struct {
			name     string
			opts     map[string]any
			errName  string
			contains []string
		}{
			{"pieceLength not a multiple of 16 KiB", map[string]any{"pieceLength": 1000}, "RangeError", []string{`"pieceLength"`}},
			{"negative pieceLength", map[string]any{"pieceLength": -16384}, "RangeError", []string{`"pieceLength"`}},
			{"pieceLength of the wrong type", map[string]any{"pieceLength": "512k"}, "TypeError", []string{`"pieceLength"`}},
			{"negative diskCacheLimit", map[string]any{"diskCacheLimit": -1}, "RangeError", []string{`"diskCacheLimit"`}},
			{"channelId without token", map[string]any{"channelId": "chan"}, "TypeError", []string{`"channelId"`, "token"}},
		} {
			r := eval[createResult](t, v, 5*time.Second, "e2e.tryCreate("+jsArg(env.engineOpts(c.opts))+")")
			ok := !r.OK && r.Name == c.errName
			for _, s := range c.contains {
				ok = ok && strings.Contains(r.Message, s)
			}
			if !ok {
				t.Errorf("%s: new P2PEngineMedia gave %+v, want a %s naming %q", c.name, r, c.errName, c.contains)
			}
		}
		r := eval[createResult](t, v, 5*time.Second, "e2e.tryCreate("+jsArg(env.engineOpts(map[string]any{"p2pEnabled": false, "bogusOption": 1}))+")")
		s := v.snapshot(t)
		warned := false
		for _, w := range s.Warnings {
			warned = warned || strings.Contains(w, "bogusOption")
		}
		if !r.OK || !warned {
			t.Errorf("unknown option: %+v, console warnings %q; want no error and a warning naming bogusOption", r, s.Warnings)
		}
	})

	t.Run("channel-events-stats", func(t *testing.T) {
		const token, channel = "e2e-token", "e2e-channel"
		sw, err := identity.NewSwarm(token, channel, true, identity.DefaultPieceLength)
		if err != nil {
			t.Fatal(err)
		}
		f := env.media["sample.mp4"]
		opts := map[string]any{"token": token, "channelId": channel, "callbacks": true}
		mark := env.origin.mark()

		a := env.newViewer(t, "api-A", "")
		a.create(t, "video", opts)
		urlA := env.mediaURL("api-a", "sample.mp4")
		a.play(t, "video", urlA, 2, true)
		time.Sleep(2 * time.Second)

		b := env.newViewer(t, "api-B", "")
		b.create(t, "video", opts)
		if !eval[bool](t, b, 5*time.Second, "e2e.probeListeners()") {
			t.Error("on, once or off did not return the engine")
		}
		urlB := env.mediaURL("api-b", "sample.mp4") // another URL of the same file
		b.play(t, "video", urlB, 2, true)

		a.waitEnded(t, 50*time.Second)
		b.waitEnded(t, 50*time.Second)
		stA := a.settledStats(t, 1500*time.Millisecond)
		stB := b.settledStats(t, 1500*time.Millisecond)
		sa, sb := a.snapshot(t), b.snapshot(t)
		checkPlayback(t, "api-A", sa)
		checkPlayback(t, "api-B", sb)
		t.Logf("A: %+v, exceptions %v; B: %+v, exceptions %v", stA, sa.exceptions(), stB, sb.exceptions())

		// Two URLs, one channel: B takes A's bytes.
		if stB.P2P <= 0 || stA.Up <= 0 {
			t.Errorf("B got %.0f KB from peers, A sent %.0f KB: viewers of one channelId under two URLs must share", stB.P2P, stA.Up)
		}
		if !hasPeer(sb.events(), sa.PeerID, sw.ChannelID) {
			t.Errorf("B's peers events never listed A (%s) in swarm %q", sa.PeerID, sw.ChannelID)
		}

		for _, c := range []struct {
			label, path string
			s           snapshot
			st          engineStats
		}{{"api-A", "/media/api-a/", sa, stA}, {"api-B", "/media/api-b/", sb, stB}} {
			checkEvents(t, c.label, c.s)
			// Stats against the origin: bytes sent to this page's engine.
			// The page's service worker fetches on its own only what its
			// engine failed to give it in time (each viewer plays its own
			// URL, so the path tells whose worker it was).
			who := "page:" + c.label
			page := env.origin.bytes(mark, func(r *originRec) bool { return r.who == who })
			fallback := env.origin.bytes(mark, func(r *originRec) bool { return r.who == "sw" && strings.HasPrefix(r.path, c.path) })
			engine := int64(c.st.HTTP * 1024)
			slack := statsSlackBytes + int64(statsSlackRatio*float64(page))
			t.Logf("%s: stats say %d bytes over HTTP and %d from peers; the origin sent %d bytes to the page's engine and %d to its service worker",
				c.label, engine, int64(c.st.P2P*1024), page, fallback)
			if math.Abs(float64(engine-page)) > float64(slack) {
				t.Errorf("%s: totalHTTPDownloaded %.0f KB, but the origin sent %d bytes to the page's engine: want within %d bytes; its requests:\n%s",
					c.label, c.st.HTTP, page, slack, strings.Join(env.origin.list(mark, func(r *originRec) bool { return r.who == who }), "\n"))
			}
			if got := engine + int64(c.st.P2P*1024) + fallback; got < int64(len(f.data)) {
				t.Errorf("%s played the file with %d bytes from the engine's HTTP, peers and its service worker's fallback; the file has %d", c.label, got, len(f.data))
			}
		}

		// Listeners added after the probe's off('stats') saw every stats
		// event since: once the first only, on all of them; the removed
		// ones none.
		var p listenerProbe
		if err := json.Unmarshal(eval[json.RawMessage](t, b, 5*time.Second, "e2e.snapshot().probe"), &p); err != nil {
			t.Fatal(err)
		}
		since := len(eventsOf[engineStats](t, sb.events(), "stats")) - p.Before
		if p.Once != 1 || p.Removed != 0 || p.RemovedAll != 0 || p.Kept != since || since < 1 || !p.Chained {
			t.Errorf("listener probe %+v after %d stats events: want once 1, removed 0, removedAll 0, kept %d, chained", p, since, since)
		}
	})

	t.Run("disable-restart-destroy", func(t *testing.T) {
		f := env.media["sample.mp4"]
		urls := []string{env.mediaURL("api-d1", "sample.mp4"), env.mediaURL("api-d2", "sample.mp4"), env.mediaURL("api-d3", "sample.mp4")}

		// C holds all three files.
		c := env.newViewer(t, "api-C", "")
		c.create(t, "video", nil)
		if got := eval[string](t, c, 20*time.Second, "e2e.proxied("+jsArg(urls[0])+")"); got != env.proxiedURL(urls[0]) {
			t.Fatalf("C: getProxiedUrl = %q, want %q", got, env.proxiedURL(urls[0]))
		}
		for _, u := range urls {
			if !c.checkHashes(t, env.proxiedURL(u), f, nil) {
				t.Fatalf("C: %s differs from the origin's", u)
			}
		}
		idC := c.waitFor(t, "peerId", 10*time.Second, func(s snapshot) bool { return s.PeerID != "" }).PeerID

		// meetC makes D join the swarm of u and waits until C is D's peer
		// there. The engine joins a URL's swarm on its first request for
		// the URL: a player started at once may take the whole file over
		// HTTP while D still connects to C (under load, that can take
		// longer than the file), and no byte would come from C. One byte
		// of the file joins the swarm (the engine gets the first piece,
		// from C or over HTTP, and nothing more while no element plays the
		// URL); the rest of the file is then C's to give.
		meetC := func(d *viewer, u, what string) {
			t.Helper()
			ch, err := identity.ChannelID(u)
			if err != nil {
				t.Fatal(err)
			}
			fetch := "fetch(" + jsArg(env.proxiedURL(u)) + ", {headers: {range: 'bytes=0-0'}, cache: 'no-store'}).then((r) => r.arrayBuffer()).then((b) => b.byteLength)"
			if n := eval[int](t, d, 20*time.Second, fetch); n != 1 {
				t.Fatalf("%s: the first byte of %s came as %d bytes", d.label, u, n)
			}
			eval[any](t, d, 31*time.Second, fmt.Sprintf("e2e.waitPeers((l) => l.some((p) => p.id === %s && p.swarm === %s), 30000, %s)", jsArg(idC), jsArg(ch), jsArg(what)))
		}

		d := env.newViewer(t, "api-D", "")
		d.create(t, "video", nil)
		if got := eval[string](t, d, 20*time.Second, "e2e.proxied("+jsArg(urls[0])+")"); got != env.proxiedURL(urls[0]) {
			t.Fatalf("D: getProxiedUrl = %q, want %q", got, env.proxiedURL(urls[0]))
		}
		meetC(d, urls[0], "C in the swarm of "+urls[0])
		d.play(t, "video", urls[0], 2, true)
		sd := d.waitFor(t, "bytes from C", 20*time.Second, func(s snapshot) bool { return s.stats().P2P > 0 })
		idD := sd.PeerID

		// disableP2P: no peers, original URLs, and nothing more from peers
		// while D plays another file that C holds through its proxied URL.
		if r := eval[callResult](t, d, 5*time.Second, "e2e.call('disableP2P')"); !r.OK {
			t.Fatalf("disableP2P: %+v", r)
		}
		eval[any](t, d, 15*time.Second, "e2e.waitPeers((l) => l.length === 0, 14000, 'no peers')")
		before := d.settledStats(t, 1500*time.Millisecond)
		if got := eval[string](t, d, 5*time.Second, "e2e.proxied("+jsArg(urls[1])+")"); got != urls[1] {
			t.Errorf("getProxiedUrl after disableP2P = %q, want the original URL %q", got, urls[1])
		}
		d.play(t, "video", env.proxiedURL(urls[1]), 4, false)
		d.waitEnded(t, 30*time.Second)
		d.checkHashes(t, env.proxiedURL(urls[1]), f, nil)
		after := d.settledStats(t, 1500*time.Millisecond)
		t.Logf("D around disableP2P: before %+v, after playing another file %+v", before, after)
		if after.P2P != before.P2P {
			t.Errorf("D received %.0f KB from peers while P2P was disabled", after.P2P-before.P2P)
		}
		if after.HTTP-before.HTTP < float64(len(f.data))/1024*0.9 {
			t.Errorf("D fetched %.0f KB over HTTP while P2P was disabled, want the file (%d bytes)", after.HTTP-before.HTTP, len(f.data))
		}

		// restartP2p resumes P2P: C comes back, and bytes flow from it again.
		if r := eval[callResult](t, d, 5*time.Second, "e2e.call('restartP2p')"); !r.OK {
			t.Fatalf("restartP2p: %+v", r)
		}
		eval[any](t, d, 25*time.Second, fmt.Sprintf("e2e.waitPeers((l) => l.some((p) => p.id === %s), 24000, 'C after restartP2p')", jsArg(idC)))
		if got := eval[string](t, d, 5*time.Second, "e2e.proxied("+jsArg(urls[2])+")"); got != env.proxiedURL(urls[2]) {
			t.Errorf("getProxiedUrl after disableP2P and restartP2p = %q, want the proxied URL: P2P runs again", got)
		}
		meetC(d, urls[2], "C in the swarm of "+urls[2]+" after restartP2p")
		d.play(t, "video", env.proxiedURL(urls[2]), 2, false)
		sd = d.waitFor(t, "bytes from C after restartP2p", 20*time.Second, func(s snapshot) bool { return s.stats().P2P > after.P2P })
		t.Logf("D after restartP2p, with bytes from peers again: %+v", sd.stats())

		// disableP2P then enableP2P: the peers come back too.
		eval[callResult](t, d, 5*time.Second, "e2e.call('disableP2P')")
		eval[any](t, d, 15*time.Second, "e2e.waitPeers((l) => l.length === 0, 14000, 'no peers')")
		eval[callResult](t, d, 5*time.Second, "e2e.call('enableP2P')")
		eval[any](t, d, 25*time.Second, fmt.Sprintf("e2e.waitPeers((l) => l.some((p) => p.id === %s), 24000, 'C after enableP2P')", jsArg(idC)))
		if got := eval[string](t, d, 5*time.Second, "e2e.proxied("+jsArg(urls[2])+")"); got != env.proxiedURL(urls[2]) {
			t.Errorf("getProxiedUrl after enableP2P = %q, want the proxied URL", got)
		}

		// restartP2P (the other spelling), on C: D leaves C's list and
		// comes back.
		if r := eval[callResult](t, c, 5*time.Second, "e2e.call('restartP2P')"); !r.OK {
			t.Fatalf("restartP2P: %+v", r)
		}
		eval[any](t, c, 25*time.Second, fmt.Sprintf("e2e.waitPeers((l) => l.some((p) => p.id === %s), 24000, 'D after restartP2P')", jsArg(idD)))

		// destroy: the tracker connection closes and C sees D leave.
		conns := stableConnections(t, env)
		t.Logf("tracker before destroy: %+v", env.trk.Stats())
		if r := eval[callResult](t, d, 5*time.Second, "e2e.call('destroy')"); !r.OK {
			t.Fatalf("destroy: %+v", r)
		}
		waitConnections(t, env, conns-1, 15*time.Second)
		eval[any](t, c, 15*time.Second, fmt.Sprintf("e2e.waitPeers((l) => !l.some((p) => p.id === %s), 14000, 'D to leave')", jsArg(idD)))
		if got := eval[string](t, d, 5*time.Second, "e2e.proxied("+jsArg(urls[0])+")"); got != urls[0] {
			t.Errorf("getProxiedUrl after destroy = %q, want the original URL", got)
		}
		for _, m := range []string{"enableP2P", "disableP2P", "restartP2p", "destroy"} {
			if r := eval[callResult](t, d, 5*time.Second, "e2e.call("+jsArg(m)+")"); !r.OK {
				t.Errorf("%s after destroy threw: %s", m, r.Error)
			}
		}
		n := len(d.snapshot(t).Events)
		time.Sleep(1500 * time.Millisecond)
		if evs := d.snapshot(t).Events; len(evs) != n {
			t.Errorf("events after destroy: %+v", evs[n:])
		}
		checkPlayback(t, "api-C", c.snapshot(t))
		checkPlayback(t, "api-D", d.snapshot(t))
	})
	t.Logf("test time: %v", time.Since(start).Round(time.Millisecond))
}

var hexPeer = regexp.MustCompile(`^[0-9a-f]{40}$`)

// checkEvents checks a viewer's events and option callbacks against each
// other: one peerId, matching getPeerId; serverConnected true first; stats
// in order and as getStats last saw them; peers as getPeersInfo last saw
// them.
func checkEvents(t *testing.T, label string, s snapshot) {
	t.Helper()
	ids := eventsOf[string](t, s.events(), "peerId")
	if len(ids) != 1 || !hexPeer.MatchString(ids[0]) {
		t.Errorf("%s: peerId events %q, want one id of 40 hex digits", label, ids)
	}
	var cbID []string
	if err := json.Unmarshal(mustJSON(s.Calls["getPeerId"]), &cbID); err != nil || len(cbID) != 1 || len(ids) == 0 || cbID[0] != ids[0] || s.Counts["getPeerId"] != 1 {
		t.Errorf("%s: getPeerId called %d times, last with %q; want once with the peerId event's %q", label, s.Counts["getPeerId"], cbID, ids)
	}
	if up := eventsOf[bool](t, s.events(), "serverConnected"); len(up) == 0 || !up[0] {
		t.Errorf("%s: serverConnected events %v, want true first", label, up)
	}
	stats := eventsOf[engineStats](t, s.events(), "stats")
	if len(stats) < 2 {
		t.Errorf("%s: %d stats events, want several", label, len(stats))
	}
	for i := 1; i < len(stats); i++ {
		a, b := stats[i-1], stats[i]
		if b.HTTP < a.HTTP || b.P2P < a.P2P || b.Up < a.Up || b.Speed < 0 {
			t.Errorf("%s: stats went from %+v to %+v: totals must not decrease", label, a, b)
		}
	}
	if len(stats) > 0 {
		last := stats[len(stats)-1]
		var args []float64
		if err := json.Unmarshal(mustJSON(s.Calls["getStats"]), &args); err != nil || len(args) != 4 ||
			args[0] != last.P2P || args[1] != last.Up || args[2] != last.HTTP || args[3] != last.Speed || s.Counts["getStats"] != len(stats) {
			t.Errorf("%s: getStats called %d times, last with %v; want %d calls, the last with (P2P %v, up %v, HTTP %v, speed %v)",
				label, s.Counts["getStats"], args, len(stats), last.P2P, last.Up, last.HTTP, last.Speed)
		}
	}
	peers := eventsOf[[]enginePeer](t, s.events(), "peers")
	var cbPeers [][]enginePeer
	if err := json.Unmarshal(mustJSON(s.Calls["getPeersInfo"]), &cbPeers); err != nil || len(peers) == 0 || len(cbPeers) != 1 ||
		fmt.Sprint(cbPeers[0]) != fmt.Sprint(peers[len(peers)-1]) || s.Counts["getPeersInfo"] != len(peers) {
		t.Errorf("%s: getPeersInfo called %d times, last with %+v; want %d calls, the last with the last peers event", label, s.Counts["getPeersInfo"], cbPeers, len(peers))
	}
}

func mustJSON(raw []json.RawMessage) []byte {
	b, _ := json.Marshal(raw)
	return b
}

// hasPeer reports whether a peers event listed id in swarm.
func hasPeer(evs []engineEvent, id, swarm string) bool {
	for _, e := range evs {
		if e.Name != "peers" {
			continue
		}
		var list []enginePeer
		if json.Unmarshal(e.Payload, &list) != nil {
			continue
		}
		for _, p := range list {
			if p.ID == id && p.Swarm == swarm {
				return true
			}
		}
	}
	return false
}

// stableConnections waits until the tracker's connection count has not
// changed for two seconds and returns it.
func stableConnections(t *testing.T, env *e2eEnv) int {
	t.Helper()
	end := time.Now().Add(20 * time.Second)
	n, since := env.trk.Stats().Connections, time.Now()
	for time.Since(since) < 2*time.Second {
		if time.Now().After(end) {
			t.Fatalf("the tracker's connection count keeps changing (now %d)", n)
		}
		time.Sleep(100 * time.Millisecond)
		if m := env.trk.Stats().Connections; m != n {
			n, since = m, time.Now()
		}
	}
	return n
}

// waitConnections waits until the tracker counts want connections.
func waitConnections(t *testing.T, env *e2eEnv, want int, timeout time.Duration) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		got := env.trk.Stats().Connections
		if got == want {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("the tracker counts %d connections, want %d", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
