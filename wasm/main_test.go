//go:build js && wasm

// The tests run under Node.js (go_js_wasm_exec): no WebRTC and no Cache
// Storage there, so the engine runs HTTP-only with its memory store, which
// is all the port protocol needs. TestEngineWasm (tests/browser) runs the
// whole program in Chromium.
package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

func TestDeadline(t *testing.T) {
	now := time.Unix(1000, 0)
	const url = "https://cdn.example.com/a.mp4"
	const size = 100 << 20 // 100 MiB over 100 s: 1 MiB/s
	playing := playState{known: true, url: url, t: 10, dur: 100, rate: 1, at: now, hasTimes: true}
	paused := playing
	paused.paused = true
	double := playing
	double.rate = 2
	stale := playing
	stale.at = now.Add(-500 * time.Millisecond)
	starting := playing // play() called, no frame yet
	starting.t, starting.ready = 0, 1
	started := starting
	started.ready = 3
	tests := []struct {
		name  string
		st    playState
		url   string
		start int64
		want  time.Duration
	}{
		{"no element", playState{}, url, 0, unknownSlack},
		{"element plays another URL", playing, "https://cdn.example.com/b.mp4", 0, unknownSlack},
		{"no duration yet", playState{known: true, url: url}, url, 0, startupSlack},
		{"playing: 5 MiB ahead", playing, url, 15 << 20, 5 * time.Second},
		{"playing: behind the playhead", playing, url, 0, 0},
		{"playing at 2x", double, url, 14 << 20, 2 * time.Second},
		{"playing: extrapolated", stale, url, 15 << 20, 4500 * time.Millisecond},
		{"paused at the playhead", paused, url, 10 << 20, startupSlack},
		{"paused: 3 MiB ahead", paused, url, 13 << 20, startupSlack + 3*time.Second},
		{"starting: first piece", starting, url, 0, startupSlack},
		{"starting: 2 MiB ahead", starting, url, 2 << 20, startupSlack + 2*time.Second},
		{"enough data at 0: playing", started, url, 2 << 20, 2 * time.Second},
	}
	for _, tt := range tests {
		wt := &watcher{state: tt.st}
		got := wt.deadline(tt.url, size, tt.start, now).Sub(now)
		if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s: deadline in %v, want %v", tt.name, got, tt.want)
		}
	}
}

// eval evaluates a JS expression.
func eval(expr string) js.Value {
	return js.Global().Get("Function").New("return (" + expr + ")").Invoke()
}

func TestParseConfig(t *testing.T) {
	c, err := parseConfig(eval(`{
		announce: ["wss://t1.example", "wss://t2.example"], token: "tok", channelId: "ch",
		pieceLength: 1048576, p2pEnabled: false, diskCacheLimit: 1024, minBufferCount: 2,
		logLevel: "debug", mediaElem: {},
		webRTCConfig: {iceServers: [{urls: "stun:s.example"}, {urls: ["turn:t.example"], username: "u", credential: "p"}, {}], iceTransportPolicy: "relay"},
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.announce, ",") != "wss://t1.example,wss://t2.example" || c.token != "tok" || c.channelID != "ch" ||
		c.pieceLength != 1<<20 || c.p2pEnabled || c.diskLimit != 1024 || c.minBuffer != 2 || c.logLevel != "debug" ||
		c.mediaElem.Type() != js.TypeObject {
		t.Errorf("parseConfig = %+v", c)
	}
	ice := c.webRTC.ICEServers
	if len(ice) != 2 || ice[0].URLs[0] != "stun:s.example" || ice[1].Username != "u" || ice[1].Credential != "p" ||
		c.webRTC.ICETransportPolicy != webrtc.ICETransportPolicyRelay {
		t.Errorf("webRTCConfig = %+v", c.webRTC)
	}

	d, err := parseConfig(eval(`{announce: [], channelId: (u) => u}`))
	if err != nil || !d.p2pEnabled || d.diskLimit != defaultDiskCacheLimit || d.channelFn.Type() != js.TypeFunction || d.logLevel != "error" {
		t.Errorf("defaults: %+v, %v", d, err)
	}

	for _, bad := range []struct{ expr, want string }{
		{`null`, "object"},
		{`{pieceLength: -16384}`, "pieceLength"},
		{`{pieceLength: "512k"}`, "pieceLength"},
		{`{diskCacheLimit: 1.5}`, "diskCacheLimit"},
		{`{minBufferCount: -1}`, "minBufferCount"},
		{`{channelId: 7}`, "channelId"},
		{`{hashSource: 7}`, "hashSource"},
		{`{hashSource: {}}`, "hashSource.peertube"},
		{`{hashSource: {peerTube: true}}`, "hashSource.peertube"},
		{`{hashSource: {peertube: false}}`, "hashSource.peertube"},
		{`{hashSource: {peertube: 1}}`, "hashSource.peertube"},
		{`{hashSource: {peertube: "/live/segments-sha256.json"}}`, "hashSource.peertube"},
		{`{hashSource: {peertube: "ftp://pt.example/segments-sha256.json"}}`, "hashSource.peertube"},
	} {
		if _, err := parseConfig(eval(bad.expr)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parseConfig(%s) = %v, want an error naming %s", bad.expr, err, bad.want)
		}
	}
}

// TestPortProtocol answers open, piece and cancel requests on a
// MessageChannel the way the service worker sends them, with an origin
// served by Node.
func TestPortProtocol(t *testing.T) {
	content := make([]byte, 100<<10)
	for i := range content {
		content[i] = byte(i * 13)
	}
	base := serveRanges(t, content)

	var events []string
	emit := js.FuncOf(func(_ js.Value, args []js.Value) any {
		events = append(events, args[0].String())
		return nil
	})
	defer emit.Release()
	w, err := newWasmEngine(eval(`{announce: [], pieceLength: 32768, diskCacheLimit: 1048576, logLevel: "none", mediaElem: null}`), emit.Value)
	if err != nil {
		t.Fatal(err)
	}
	ch := js.Global().Get("MessageChannel").New()
	w.servePort(ch.Get("port1"))
	port := ch.Get("port2")
	replies := make(chan js.Value, 16)
	onMsg := js.FuncOf(func(_ js.Value, args []js.Value) any {
		select {
		case replies <- args[0].Get("data"):
		default:
		}
		return nil
	})
	port.Set("onmessage", onMsg)
	defer func() {
		w.destroy()
		port.Call("close")
		ch.Get("port1").Call("close")
		onMsg.Release()
	}()
	nextID := 0
	ask := func(msg map[string]any) js.Value {
		t.Helper()
		nextID++
		msg["id"] = nextID
		port.Call("postMessage", msg)
		select {
		case r := <-replies:
			if r.Get("id").Int() != nextID {
				t.Fatalf("reply to request %d, want %d", r.Get("id").Int(), nextID)
			}
			return r
		case <-time.After(5 * time.Second):
			t.Fatalf("no reply to %v", msg)
			return js.Undefined()
		}
	}

	url := base + "/file"
	o := ask(map[string]any{"op": "open", "url": url})
	if !o.Get("ok").Bool() || o.Get("size").Int() != len(content) || o.Get("pieceLength").Int() != 32768 || o.Get("etag").String() != `"v1"` {
		t.Fatalf("open: %v", js.Global().Get("JSON").Call("stringify", o))
	}
	var got []byte
	for i := range 4 {
		r := ask(map[string]any{"op": "piece", "url": url, "index": i})
		data := r.Get("data")
		if !r.Get("ok").Bool() || !data.InstanceOf(js.Global().Get("ArrayBuffer")) {
			t.Fatalf("piece %d: %v", i, js.Global().Get("JSON").Call("stringify", r))
		}
		b := make([]byte, data.Get("byteLength").Int())
		js.CopyBytesToGo(b, js.Global().Get("Uint8Array").New(data))
		got = append(got, b...)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("pieces assemble %d bytes that differ from the file's %d", len(got), len(content))
	}

	for _, bad := range []map[string]any{
		{"op": "piece", "url": url, "index": 4},
		{"op": "piece", "url": url, "index": 1.5},
		{"op": "open", "url": base + "/missing"},
		{"op": "open", "url": "not a url"},
		{"op": "frobnicate"},
	} {
		if r := ask(bad); r.Get("ok").Bool() || r.Get("error").String() == "" {
			t.Errorf("%v answered %v, want ok:false with an error", bad, js.Global().Get("JSON").Call("stringify", r))
		}
	}

	// A cancelled request gets no reply; the next one is answered.
	nextID++
	port.Call("postMessage", map[string]any{"op": "piece", "url": base + "/slow", "index": 0, "id": nextID})
	port.Call("postMessage", map[string]any{"op": "cancel", "id": nextID})
	select {
	case r := <-replies:
		t.Fatalf("a cancelled request was answered: %v", js.Global().Get("JSON").Call("stringify", r))
	case <-time.After(300 * time.Millisecond):
	}
	if r := ask(map[string]any{"op": "open", "url": url}); !r.Get("ok").Bool() {
		t.Fatal("open after a cancel failed")
	}

	w.destroy()
	if r := ask(map[string]any{"op": "piece", "url": url, "index": 0}); r.Get("ok").Bool() || !strings.Contains(r.Get("error").String(), "destroyed") {
		t.Errorf("piece after destroy answered %v", js.Global().Get("JSON").Call("stringify", r))
	}
	if len(events) == 0 || events[0] != "peerId" {
		t.Errorf("events %v, want peerId first", events)
	}
}

// serveRanges serves content at /file (ranges, ETag) and a body that never
// comes at /slow, from a Node HTTP server on 127.0.0.1.
func serveRanges(t *testing.T, content []byte) string {
	t.Helper()
	size := len(content)
	handler := js.FuncOf(func(_ js.Value, args []js.Value) any {
		rq, rs := args[0], args[1]
		path := rq.Get("url").String()
		if path == "/slow" {
			rs.Call("writeHead", 206, map[string]any{"Content-Range": fmt.Sprintf("bytes 0-32767/%d", size)})
			return nil // never ends
		}
		if path != "/file" {
			rs.Call("writeHead", 404)
			rs.Call("end")
			return nil
		}
		h := map[string]any{"ETag": `"v1"`}
		var a, b int
		if _, err := fmt.Sscanf(jsutil.String(rq.Get("headers"), "range", ""), "bytes=%d-%d", &a, &b); err != nil || b >= size || a > b {
			h["Content-Length"] = strconv.Itoa(size)
			rs.Call("writeHead", 200, h)
			if rq.Get("method").String() == "HEAD" {
				rs.Call("end")
			} else {
				rs.Call("end", jsutil.Uint8Array(content))
			}
			return nil
		}
		h["Content-Range"] = fmt.Sprintf("bytes %d-%d/%d", a, b, size)
		h["Content-Length"] = strconv.Itoa(b + 1 - a)
		rs.Call("writeHead", 206, h)
		rs.Call("end", jsutil.Uint8Array(content[a:b+1]))
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
	return "http://127.0.0.1:" + strconv.Itoa(port.Int())
}
