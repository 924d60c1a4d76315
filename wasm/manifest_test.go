//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// streamOrigin is a Node HTTP server on 127.0.0.1 serving an HLS master
// playlist with a VOD rendition, a live media playlist whose window moves
// one segment per load, a DASH MPD, and their segments. It logs every
// request as "METHOD path".
type streamOrigin struct {
	base string

	mu       sync.Mutex
	log      []string
	liveLoad int
}

// segmentBytes is the body of the segment at path.
func segmentBytes(path string) []byte {
	b := make([]byte, 40<<10+len(path))
	for i := range b {
		b[i] = byte(i*31) ^ path[i%len(path)]
	}
	return b
}

func newStreamOrigin(t *testing.T) *streamOrigin {
	t.Helper()
	o := &streamOrigin{}
	handler := js.FuncOf(func(_ js.Value, args []js.Value) any {
		rq, rs := args[0], args[1]
		method, path := rq.Get("method").String(), rq.Get("url").String()
		host := jsutil.String(rq.Get("headers"), "host", "")
		rng := jsutil.String(rq.Get("headers"), "range", "")
		o.mu.Lock()
		o.log = append(o.log, method+" "+path)
		o.mu.Unlock()
		text := func(body string) {
			rs.Call("writeHead", 200, map[string]any{"Content-Type": "text/plain", "Content-Length": strconv.Itoa(len(body))})
			rs.Call("end", body)
		}
		switch {
		case path == "/v/master.m3u8":
			text(strings.Replace(masterText, "https://cdn2.example.com/v/v720/index.m3u8?token=abc", "http://"+host+"/v/v720/index.m3u8?token=abc", 1))
		case strings.HasSuffix(path, ".m3u8") && strings.HasPrefix(path, "/v/"):
			text(strings.Replace(vodText, "/other/seg12.ts?x=1", "http://"+host+"/v/other/seg12.ts?x=1", 1))
		case path == "/live/index.m3u8":
			o.mu.Lock()
			n := o.liveLoad
			o.liveLoad++
			o.mu.Unlock()
			text(livePlaylist(100+n, 5))
		case path == "/d/stream.mpd":
			text(dashText)
		case path == "/redir.m3u8":
			rs.Call("writeHead", 302, map[string]any{"Location": "/v/master.m3u8"})
			rs.Call("end")
		case path == "/junk.m3u8":
			text("<html>not a playlist</html>")
		case strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".m4s"):
			body := segmentBytes(path)
			h := map[string]any{"ETag": `"` + path + `"`, "Accept-Ranges": "bytes"}
			var a, b int
			if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &a, &b); err == nil && a <= b && b < len(body) {
				h["Content-Range"] = fmt.Sprintf("bytes %d-%d/%d", a, b, len(body))
				h["Content-Length"] = strconv.Itoa(b + 1 - a)
				rs.Call("writeHead", 206, h)
				rs.Call("end", jsutil.Uint8Array(body[a:b+1]))
				return nil
			}
			h["Content-Length"] = strconv.Itoa(len(body))
			rs.Call("writeHead", 200, h)
			if method == "HEAD" {
				rs.Call("end")
			} else {
				rs.Call("end", jsutil.Uint8Array(body))
			}
		default:
			rs.Call("writeHead", 404, map[string]any{"Content-Length": "0"})
			rs.Call("end")
		}
		return nil
	})
	srv := js.Global().Get("require").Invoke("http").Call("createServer", handler)
	listen := js.Global().Get("Function").New("srv",
		`return new Promise((r) => srv.listen(0, "127.0.0.1", () => r(srv.address().port)))`)
	port, err := jsutil.Await(context.Background(), listen.Invoke(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Call("closeAllConnections")
		srv.Call("close")
		handler.Release()
	})
	o.base = "http://127.0.0.1:" + strconv.Itoa(port.Int())
	return o
}

// requests returns the logged requests that start with prefix.
func (o *streamOrigin) requests(prefix string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, r := range o.log {
		if strings.HasPrefix(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// testPort is the service worker's end of a MessageChannel served by an
// engine.
type testPort struct {
	t       *testing.T
	port    js.Value
	replies chan js.Value
	nextID  int
}

func newTestPort(t *testing.T, w *wasmEngine) *testPort {
	t.Helper()
	ch := js.Global().Get("MessageChannel").New()
	w.servePort(ch.Get("port1"))
	tp := &testPort{t: t, port: ch.Get("port2"), replies: make(chan js.Value, 16)}
	onMsg := js.FuncOf(func(_ js.Value, args []js.Value) any {
		select {
		case tp.replies <- args[0].Get("data"):
		default:
		}
		return nil
	})
	tp.port.Set("onmessage", onMsg)
	t.Cleanup(func() {
		tp.port.Call("close")
		ch.Get("port1").Call("close")
		onMsg.Release()
	})
	return tp
}

// ask posts a request and returns its reply.
func (tp *testPort) ask(msg map[string]any) js.Value {
	tp.t.Helper()
	tp.nextID++
	msg["id"] = tp.nextID
	tp.port.Call("postMessage", msg)
	select {
	case r := <-tp.replies:
		if r.Get("id").Int() != tp.nextID {
			tp.t.Fatalf("reply to request %d, want %d", r.Get("id").Int(), tp.nextID)
		}
		return r
	case <-time.After(10 * time.Second):
		tp.t.Fatalf("no reply to %v", msg)
		return js.Undefined()
	}
}

func stringify(v js.Value) string { return js.Global().Get("JSON").Call("stringify", v).String() }

// exceptions records the exception events of an engine.
type exceptions struct {
	mu   sync.Mutex
	list []string // "CODE: message"
}

func (ex *exceptions) snapshot() []string {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return append([]string(nil), ex.list...)
}

func newTestEngine(t *testing.T, extra string) (*wasmEngine, *exceptions) {
	t.Helper()
	ex := &exceptions{}
	emit := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if args[0].String() == "exception" {
			ex.mu.Lock()
			ex.list = append(ex.list, args[1].Get("code").String()+": "+args[1].Get("message").String())
			ex.mu.Unlock()
		}
		return nil
	})
	w, err := newWasmEngine(eval(`{announce: [], pieceLength: 16384, diskCacheLimit: 4194304, logLevel: "none", mediaElem: null`+extra+`}`), emit.Value)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.destroy()
		emit.Release()
	})
	return w, ex
}

// TestManifestOp answers manifest requests the way the service worker
// sends them, then opens and reads the segments they list.
func TestManifestOp(t *testing.T) {
	o := newStreamOrigin(t)
	w, ex := newTestEngine(t, "")
	tp := newTestPort(t, w)
	const proxyBase = "http://site.test/app/__p2pmedia__/"
	origin := strings.TrimPrefix(o.base, "http://")

	r := tp.ask(map[string]any{"op": "manifest", "url": o.base + "/v/master.m3u8", "proxyBase": proxyBase})
	text := r.Get("text").String()
	if !r.Get("ok").Bool() || r.Get("contentType").String() != mediaurl.TypeHLS ||
		!strings.Contains(text, "\nv360/index.m3u8\n") || !strings.Contains(text, `URI="audio/en.m3u8"`) ||
		!strings.Contains(text, "\n"+proxyBase+"http/"+origin+"/v/v720/index.m3u8?token=abc\n") {
		t.Fatalf("master: %s", stringify(r))
	}
	r = tp.ask(map[string]any{"op": "manifest", "url": o.base + "/v/v360/index.m3u8", "proxyBase": proxyBase})
	if !r.Get("ok").Bool() || !strings.Contains(r.Get("text").String(), "\n"+proxyBase+"http/"+origin+"/v/other/seg12.ts?x=1\n") {
		t.Fatalf("media playlist: %s", stringify(r))
	}

	// A segment opens in its rendition's swarm, under its sequence number.
	seg := o.base + "/v/v360/seg11.ts"
	r = tp.ask(map[string]any{"op": "open", "url": seg})
	want := segmentBytes("/v/v360/seg11.ts")
	if !r.Get("ok").Bool() || r.Get("size").Int() != len(want) || r.Get("pieceLength").Int() != 16384 || r.Get("readAhead").Int() != segmentReadAhead {
		t.Fatalf("open %s: %s", seg, stringify(r))
	}
	if res := w.lookup(seg); res == nil || res.Name() != identity.URLName("11", seg) {
		t.Fatalf("segment resource %v, want one named 11 with its URL", res)
	}
	ref := w.segs.lookup(seg)
	if s, name, _, err := w.mediaResource(seg, ref); err != nil || name != identity.URLName("11", seg) || s.ID().ChannelID != origin+"/v/v360/index.m3u8" {
		t.Fatalf("segment swarm %+v name %q err %v", s.ID(), name, err)
	}
	var got []byte
	for i := 0; len(got) < len(want); i++ {
		r = tp.ask(map[string]any{"op": "piece", "url": seg, "index": i, "timeout": 8000})
		if !r.Get("ok").Bool() {
			t.Fatalf("piece %d: %s", i, stringify(r))
		}
		b := make([]byte, r.Get("data").Get("byteLength").Int())
		js.CopyBytesToGo(b, js.Global().Get("Uint8Array").New(r.Get("data")))
		got = append(got, b...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the segment's pieces differ from the origin's bytes")
	}

	// DASH: one swarm per Representation.
	r = tp.ask(map[string]any{"op": "manifest", "url": o.base + "/d/stream.mpd", "proxyBase": proxyBase})
	if !r.Get("ok").Bool() || r.Get("contentType").String() != mediaurl.TypeDASH || !strings.Contains(r.Get("text").String(), "<MPD") {
		t.Fatalf("MPD: %s", stringify(r))
	}
	chunk := o.base + "/d/chunk-v2-3.m4s"
	if s, name, _, err := w.mediaResource(chunk, w.segs.lookup(chunk)); err != nil || name != identity.URLName("3", chunk) || s.ID().ChannelID != origin+"/d/stream.mpd#v2" {
		t.Fatalf("DASH segment swarm %+v name %q err %v", s.ID(), name, err)
	}

	// A redirect sends the player to the proxied URL it leads to.
	r = tp.ask(map[string]any{"op": "manifest", "url": o.base + "/redir.m3u8", "proxyBase": proxyBase})
	if !r.Get("ok").Bool() || r.Get("redirect").String() != proxyBase+"http/"+origin+"/v/master.m3u8" {
		t.Errorf("redirect: %s", stringify(r))
	}
	// Failures leave the manifest to the service worker.
	for _, bad := range []map[string]any{
		{"op": "manifest", "url": o.base + "/missing.m3u8", "proxyBase": proxyBase},
		{"op": "manifest", "url": o.base + "/junk.m3u8", "proxyBase": proxyBase},
		{"op": "manifest", "url": o.base + "/v/master.m3u8", "proxyBase": "http://site.test/app/"},
		{"op": "manifest", "url": o.base + "/v/master.m3u8"},
		{"op": "manifest", "url": "http://127.0.0.1:1/x.m3u8", "proxyBase": proxyBase},
	} {
		if r := tp.ask(bad); r.Get("ok").Bool() || r.Get("error").String() == "" {
			t.Errorf("%v answered %s, want ok:false with an error", bad, stringify(r))
		}
	}
	// The origin's failures are reported as exceptions naming the manifest.
	exc := strings.Join(ex.snapshot(), "\n")
	for _, want := range []string{"HTTP_EXPT: p2pmedia: fetching manifest " + o.base + "/missing.m3u8: status 404", "MANIFEST_EXPT: p2pmedia: manifest " + o.base + "/junk.m3u8"} {
		if !strings.Contains(exc, want) {
			t.Errorf("exceptions %q lack %q", exc, want)
		}
	}
}

// TestLiveOpensAhead: each load of a live playlist opens the segments it
// reveals, and this peer, alone and so elected for all of them, fetches
// them from the origin before any player asks.
func TestLiveOpensAhead(t *testing.T) {
	o := newStreamOrigin(t)
	w, _ := newTestEngine(t, "")
	tp := newTestPort(t, w)
	const proxyBase = "http://site.test/__p2pmedia__/"
	u := o.base + "/live/index.m3u8"
	waitFetched := func(want ...int) {
		t.Helper()
		for _, n := range want {
			prefix := fmt.Sprintf("GET /live/seg-%d.ts", n)
			for i := 0; len(o.requests(prefix)) == 0; i++ {
				if i == 300 {
					t.Fatalf("segment %d was not fetched ahead of the player; origin log: %q", n, o.requests(""))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	if r := tp.ask(map[string]any{"op": "manifest", "url": u, "proxyBase": proxyBase}); !r.Get("ok").Bool() {
		t.Fatalf("live playlist: %s", stringify(r))
	}
	waitFetched(102, 103, 104)
	if r := tp.ask(map[string]any{"op": "manifest", "url": u, "proxyBase": proxyBase}); !r.Get("ok").Bool() {
		t.Fatalf("live playlist reload: %s", stringify(r))
	}
	waitFetched(105)
	if got := o.requests("GET /live/seg-100.ts"); len(got) != 0 {
		t.Errorf("a segment behind the live edge was fetched: %q", got)
	}
	res := w.lookup(o.base + "/live/seg-105.ts")
	if res == nil || res.Name() != identity.URLName("105", o.base+"/live/seg-105.ts") {
		t.Fatalf("live segment resource %v", res)
	}
	// The player's request is served from what was fetched ahead, once
	// that fetch is done (each piece is a GET of its own).
	seg104 := w.lookup(o.base + "/live/seg-104.ts")
	if seg104 == nil {
		t.Fatal("segment 104 was not opened ahead of the player")
	}
	for i := 0; ; i++ {
		held := 0
		for k := range seg104.PieceCount() {
			if seg104.Have(k) {
				held++
			}
		}
		if held == seg104.PieceCount() {
			break
		}
		if i == 300 {
			t.Fatalf("segment 104 fetched ahead holds %d of %d pieces after 15 s", held, seg104.PieceCount())
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := len(o.requests("GET /live/seg-104.ts"))
	r := tp.ask(map[string]any{"op": "open", "url": o.base + "/live/seg-104.ts"})
	if !r.Get("ok").Bool() {
		t.Fatalf("open: %s", stringify(r))
	}
	for i := 0; i*16384 < r.Get("size").Int(); i++ {
		if p := tp.ask(map[string]any{"op": "piece", "url": o.base + "/live/seg-104.ts", "index": i}); !p.Get("ok").Bool() {
			t.Fatalf("piece %d: %s", i, stringify(p))
		}
	}
	if after := len(o.requests("GET /live/seg-104.ts")); after != before {
		t.Errorf("the player's read of segment 104 went to the origin again (%d → %d GETs)", before, after)
	}
}

// TestCustomChannelPerRendition: a custom channel id applies per
// rendition: the site's id (or what its function returns for the stream's
// master playlist) + "|" + the rendition's id.
func TestCustomChannelPerRendition(t *testing.T) {
	o := newStreamOrigin(t)
	const proxyBase = "http://site.test/__p2pmedia__/"
	var calls []string
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		calls = append(calls, args[0].String())
		return "movie-42"
	})
	defer fn.Release()
	js.Global().Set("__testChannelFn", fn)
	defer js.Global().Delete("__testChannelFn")
	for _, tc := range []struct{ name, extra string }{
		{"string", `, token: "tok", channelId: "movie-42"`},
		{"function", `, token: "tok", channelId: globalThis.__testChannelFn`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls = nil
			w, _ := newTestEngine(t, tc.extra)
			tp := newTestPort(t, w)
			for _, p := range []string{"/v/master.m3u8", "/v/v360/index.m3u8", "/v/audio/en.m3u8", "/d/stream.mpd"} {
				if r := tp.ask(map[string]any{"op": "manifest", "url": o.base + p, "proxyBase": proxyBase}); !r.Get("ok").Bool() {
					t.Fatalf("%s: %s", p, stringify(r))
				}
			}
			for _, c := range []struct{ url, channel, name string }{
				{o.base + "/v/v360/seg10.ts", "movie-42|variant:0", "10"},
				{o.base + "/v/audio/seg10.ts", "movie-42|audio:aud:en", "10"},
				{o.base + "/d/chunk-v1-2.m4s", "movie-42|v1", "2"},
			} {
				s, name, _, err := w.mediaResource(c.url, w.segs.lookup(c.url))
				if err != nil || s.ID().Token != "tok" || s.ID().ChannelID != c.channel || name != c.name {
					t.Errorf("%s: swarm %+v name %q err %v; want channel %q name %q", c.url, s.ID(), name, err, c.channel, c.name)
				}
			}
			if tc.name == "function" {
				for _, c := range calls {
					if c != o.base+"/v/master.m3u8" && c != o.base+"/d/stream.mpd" {
						t.Errorf("channelId was called with %q, want the master playlist or the MPD", c)
					}
				}
			}
		})
	}
}
