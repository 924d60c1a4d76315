//go:build js && wasm

// These tests run under Node.js (go_js_wasm_exec), whose Request, Response,
// fetch, ReadableStream and MessageChannel are the real ones; the origin is
// a Node HTTP server on 127.0.0.1 and the page is a responder on the other
// end of a MessageChannel.
package main

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
)

// originText is what the test origin serves for every manifest path.
const originText = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg-1.ts\n"

var fileBytes = func() []byte {
	b := make([]byte, 50000)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// hostSet stands in for the loader's registry of origins
// (self.__p2pmediaHosts in js/p2p-sw.js), which these tests do not load.
type hostSet struct {
	mu    sync.Mutex
	hosts map[string]bool
}

func (h *hostSet) add(origins ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range origins {
		h.hosts[o] = true
	}
}

func (h *hostSet) has(origin string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hosts[origin]
}

// testHosts installs an empty registry of origins for the test, or returns
// the one installed.
func testHosts(t *testing.T) *hostSet {
	t.Helper()
	if h, ok := installedHosts[t]; ok {
		return h
	}
	h := &hostSet{hosts: make(map[string]bool)}
	registered := js.FuncOf(func(_ js.Value, args []js.Value) any {
		o := mediaurl.Origin(args[0].String())
		return o != "" && h.has(o)
	})
	add := js.FuncOf(func(_ js.Value, args []js.Value) any {
		for i := range args[0].Length() {
			h.add(args[0].Index(i).String())
		}
		return nil
	})
	js.Global().Set("__p2pmediaHosts", map[string]any{"registered": registered, "add": add})
	installedHosts[t] = h
	t.Cleanup(func() {
		js.Global().Delete("__p2pmediaHosts")
		delete(installedHosts, t)
		registered.Release()
		add.Release()
	})
	return h
}

// installedHosts is testHosts' registry per test; tests of this package do
// not run in parallel.
var installedHosts = map[*testing.T]*hostSet{}

// nodeOrigin serves originText for paths containing ".m3u8" or ".mpd" and
// fileBytes for others, and returns its base URL.
func nodeOrigin(t *testing.T) string {
	base, _ := nodeOriginLog(t)
	return base
}

// nodeOriginLog is nodeOrigin that also returns the Range headers of the
// requests so far for a path ("" for none).
func nodeOriginLog(t *testing.T) (string, func(path string) []string) {
	t.Helper()
	var mu sync.Mutex
	ranges := make(map[string][]string)
	handler := js.FuncOf(func(_ js.Value, args []js.Value) any {
		rq, rs := args[0], args[1]
		mu.Lock()
		ranges[rq.Get("url").String()] = append(ranges[rq.Get("url").String()], jsutil.AsString(rq.Get("headers").Get("range")))
		mu.Unlock()
		path := strings.ToLower(rq.Get("url").String())
		h := object()
		if strings.Contains(path, ".m3u8") || strings.Contains(path, ".mpd") {
			h.Set("Content-Type", "text/plain")
			rs.Call("writeHead", 200, h)
			rs.Call("end", originText)
			return nil
		}
		body, status := fileBytes, 200
		if strings.Contains(path, "ranged") {
			// Single ranges and validators, as a CDN serves media;
			// "nostore" in the path forbids caches to keep it.
			h.Set("ETag", `"e1"`)
			if strings.Contains(path, "nostore") {
				h.Set("Cache-Control", "no-store")
			}
			h.Set("Content-Length", strconv.Itoa(len(fileBytes)))
			if r, err := byterange.ParseRange(jsutil.AsString(rq.Get("headers").Get("range")), int64(len(fileBytes))); err == nil {
				body, status = fileBytes[r.Start:r.End], 206
				h.Set("Content-Range", byterange.ContentRange(r, int64(len(fileBytes))))
				h.Set("Content-Length", strconv.Itoa(len(body)))
			}
		}
		rs.Call("writeHead", status, h)
		buf := js.Global().Get("Uint8Array").New(len(body))
		js.CopyBytesToJS(buf, body)
		rs.Call("end", buf)
		return nil
	})
	srv := js.Global().Get("require").Invoke("http").Call("createServer", handler)
	listen := js.Global().Get("Function").New("srv",
		`return new Promise((r) => srv.listen(0, "127.0.0.1", () => r(srv.address().port)))`)
	port, err := jsutil.AwaitDone(listen.Invoke(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Call("closeAllConnections")
		srv.Call("close")
		handler.Release()
	})
	base := "http://127.0.0.1:" + strconv.Itoa(port.Int())
	testHosts(t).add(base)
	return base, func(path string) []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ranges[path])
	}
}

// fakePage answers the service worker's requests on a MessageChannel the
// way the page engine does; manifest decides the manifest replies (nil: no
// reply at all).
type fakePage struct {
	manifest  func(url, proxyBase string) map[string]any
	readAhead int // the open reply's readAhead, if not 0
	// direct, when set, is the span of an open request's bytes the page
	// hands to the service worker (see direct.go).
	direct func(rangeHeader string, short bool) (from, end int64)
	etag   string // the open reply's ETag (default "e1")
	writes []byte // the bytes of the write messages, in order

	mu   sync.Mutex
	msgs []map[string]any // the requests received
}

func (fp *fakePage) requests(op string) []map[string]any {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	var out []map[string]any
	for _, m := range fp.msgs {
		if m["op"] == op {
			out = append(out, m)
		}
	}
	return out
}

// serve starts a server whose client "c1" has a port to fp.
func (fp *fakePage) serve(t *testing.T) *server {
	t.Helper()
	ch := js.Global().Get("MessageChannel").New()
	page := ch.Get("port2")
	onMsg := js.FuncOf(func(_ js.Value, args []js.Value) any {
		d := args[0].Get("data")
		msg := map[string]any{"op": jsutil.AsString(d.Get("op")), "url": jsutil.AsString(d.Get("url")), "proxyBase": jsutil.AsString(d.Get("proxyBase"))}
		if v, ok := jsutil.AsInt(d.Get("index")); ok {
			msg["index"] = v
		}
		for _, f := range []string{"timeout", "offset", "from", "end"} {
			if v, ok := jsutil.AsInt(d.Get(f)); ok {
				msg[f] = v
			}
		}
		fp.mu.Lock()
		fp.msgs = append(fp.msgs, msg)
		if msg["op"] == "write" {
			b := make([]byte, d.Get("data").Get("byteLength").Int())
			js.CopyBytesToGo(b, d.Get("data"))
			fp.writes = append(fp.writes, b...)
		}
		fp.mu.Unlock()
		if msg["op"] == "write" || msg["op"] == "release" || msg["op"] == "cached" || msg["op"] == "claim" {
			return nil
		}
		id := d.Get("id").Int()
		var reply map[string]any
		switch msg["op"] {
		case "manifest":
			if fp.manifest != nil {
				reply = fp.manifest(msg["url"].(string), msg["proxyBase"].(string))
			}
		case "open":
			etag := `"e1"`
			if fp.etag != "" {
				etag = fp.etag
			}
			reply = map[string]any{"ok": true, "size": len(fileBytes), "pieceLength": 16384, "etag": etag}
			if fp.readAhead != 0 {
				reply["readAhead"] = fp.readAhead
			}
			if rh := d.Get("range"); fp.direct != nil && rh.Type() == js.TypeString {
				reply["directFrom"], reply["directEnd"] = fp.direct(rh.String(), d.Get("short").Truthy())
			}
		case "piece":
			i := int(msg["index"].(int64))
			end := min((i+1)*16384, len(fileBytes))
			buf := js.Global().Get("ArrayBuffer").New(end - i*16384)
			js.CopyBytesToJS(js.Global().Get("Uint8Array").New(buf), fileBytes[i*16384:end])
			page.Call("postMessage", map[string]any{"id": id, "ok": true, "data": buf}, []any{buf})
			return nil
		}
		if reply != nil {
			reply["id"] = id
			page.Call("postMessage", reply)
		}
		return nil
	})
	page.Set("onmessage", onMsg)
	s := newServer()
	s.ports["c1"] = newPort(ch.Get("port1"), s.reads, nil)
	t.Cleanup(func() {
		s.ports["c1"].close()
		page.Call("close")
		onMsg.Release()
	})
	return s
}

// response is what a test reads of a Response.
type response struct {
	status         int
	contentType    string
	cacheControl   string
	location       string
	body           []byte
	redirectedFrom string
}

func fetchVia(t *testing.T, s *server, method, url, client string) response {
	t.Helper()
	init := object()
	init.Set("method", method)
	return fetchReq(t, s, method, js.Global().Get("Request").New(url, init), client)
}

// fetchReq has s answer req, a Request or an object standing for one.
func fetchReq(t *testing.T, s *server, method string, req js.Value, client string) response {
	t.Helper()
	url := req.Get("url").String()
	resp, err := s.handleFetch(req, client)
	if err != nil {
		t.Fatalf("handleFetch(%s): %v", url, err)
	}
	r := response{
		status:       resp.Get("status").Int(),
		contentType:  header(resp, "content-type"),
		cacheControl: header(resp, "cache-control"),
		location:     header(resp, "location"),
	}
	if method == "GET" && r.status != 302 {
		ab, err := jsutil.AwaitDone(resp.Call("arrayBuffer"), nil)
		if err != nil {
			t.Fatalf("reading %s: %v", url, err)
		}
		r.body = make([]byte, ab.Get("byteLength").Int())
		js.CopyBytesToGo(r.body, js.Global().Get("Uint8Array").New(ab))
	}
	return r
}

func TestManifestRouting(t *testing.T) {
	origin := nodeOrigin(t)
	host := strings.TrimPrefix(origin, "http://")
	base := origin + "/app/__p2pmedia__/"
	rewrite := func(url, proxyBase string) map[string]any {
		ct := "application/vnd.apple.mpegurl"
		if strings.Contains(strings.ToLower(url), ".mpd") {
			ct = "application/dash+xml"
		}
		return map[string]any{"ok": true, "text": "rewritten " + url + " under " + proxyBase, "contentType": ct}
	}
	defer js.Global().Delete("P2P_MEDIA_TIMEOUTS")

	tests := []struct {
		name     string
		page     func(url, proxyBase string) map[string]any
		url      string
		client   string
		status   int
		body     string
		ctype    string
		location string
		asked    bool // the page got a manifest request
	}{
		{"HLS playlist", rewrite, base + "http/" + host + "/live/index.m3u8", "c1", 200,
			"rewritten " + origin + "/live/index.m3u8 under " + base, "application/vnd.apple.mpegurl", "", true},
		{"MPD with a query, upper case", rewrite, base + "http/" + host + "/d/Stream.MPD?t=1", "c1", 200,
			"rewritten " + origin + "/d/Stream.MPD?t=1 under " + base, "application/dash+xml", "", true},
		{"the page fails", func(string, string) map[string]any { return map[string]any{"ok": false, "error": "boom"} },
			base + "http/" + host + "/a.m3u8", "c1", 200, originText, "text/plain", "", true},
		{"the page is silent", nil, base + "http/" + host + "/a.m3u8", "c1", 200, originText, "text/plain", "", true},
		{"the page's reply is malformed", func(string, string) map[string]any { return map[string]any{"ok": true} },
			base + "http/" + host + "/a.m3u8", "c1", 200, originText, "text/plain", "", true},
		{"no page", rewrite, base + "http/" + host + "/a.m3u8", "c2", 200, originText, "text/plain", "", false},
		{"redirect", func(string, string) map[string]any {
			return map[string]any{"ok": true, "redirect": base + "http/" + host + "/b/master.m3u8"}
		}, base + "http/" + host + "/a.m3u8", "c1", 302, "", "", base + "http/" + host + "/b/master.m3u8", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Long enough for a loaded machine, except for the silent page.
			timeout := 10000
			if tt.page == nil {
				timeout = 200
			}
			js.Global().Set("P2P_MEDIA_TIMEOUTS", map[string]any{"manifest": timeout})
			fp := &fakePage{manifest: tt.page}
			s := fp.serve(t)
			r := fetchVia(t, s, "GET", tt.url, tt.client)
			if r.status != tt.status || string(r.body) != tt.body || !strings.HasPrefix(r.contentType, tt.ctype) || r.location != tt.location {
				t.Errorf("got %d %q %q location %q; want %d %q %q location %q", r.status, r.contentType, r.body, r.location, tt.status, tt.ctype, tt.body, tt.location)
			}
			if tt.status == 200 && tt.body != originText && r.cacheControl != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", r.cacheControl)
			}
			got := fp.requests("manifest")
			if tt.asked != (len(got) == 1) || len(fp.requests("open")) != 0 {
				t.Errorf("page requests %v; want one manifest request: %v", fp.msgs, tt.asked)
			}
			if tt.asked && (got[0]["proxyBase"] != base || !strings.HasPrefix(got[0]["url"].(string), origin+"/")) {
				t.Errorf("manifest request %v, want proxyBase %q", got[0], base)
			}
		})
	}

	// A media element's own requests (native HLS): its root playlist, if a
	// multivariant one, comes as a data: response with absolute URIs; the
	// resources it names too, whole; a root media playlist comes from the
	// origin (Chromium's player refuses one whose URL is data:).
	master := "#EXTM3U\r\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"a/i.m3u8\"\r\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\r\nv/i.m3u8\r\n"
	media := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\nseg-1.m4s\n#EXTINF:2,\n" + origin + "/abs.m4s\n"
	native := &fakePage{manifest: func(url, _ string) map[string]any {
		text := media
		if strings.HasSuffix(url, "/m.m3u8") {
			text = master
		}
		return map[string]any{"ok": true, "text": text, "contentType": "application/vnd.apple.mpegurl"}
	}}
	ns := native.serve(t)
	nativeReq := func(path, rng string) response {
		h := "new Headers()"
		if rng != "" {
			h = `new Headers({range: "` + rng + `"})`
		}
		return fetchReq(t, ns, "GET", eval(`{url: "`+base+"http/"+host+path+`", method: "GET", destination: "video", headers: `+h+`}`), "c1")
	}
	p := base + "http/" + host
	if r := nativeReq("/n.m3u8", "bytes=0-"); string(r.body) != originText || len(native.requests("manifest")) != 1 {
		t.Errorf("native root media playlist: %q, page requests %v", r.body, native.msgs)
	}
	wantMaster := "#EXTM3U\r\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"" + p + "/a/i.m3u8\"\r\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\r\n" + p + "/v/i.m3u8\r\n"
	if r := nativeReq("/m.m3u8", "bytes=0-"); r.status != 200 || string(r.body) != wantMaster || r.contentType != "application/vnd.apple.mpegurl" {
		t.Errorf("native master: %d %q %q, want %q", r.status, r.contentType, r.body, wantMaster)
	}
	wantMedia := "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"" + p + "/v/init.mp4\"\n#EXTINF:2,\n" + p + "/v/seg-1.m4s\n#EXTINF:2,\n" + origin + "/abs.m4s\n"
	if r := nativeReq("/v/i.m3u8", "bytes=0-"); r.status != 200 || string(r.body) != wantMedia {
		t.Errorf("native media playlist named by the master: %d %q, want %q", r.status, r.body, wantMedia)
	}
	opens := len(native.requests("open"))
	if r := nativeReq("/v/seg-1.m4s", "bytes=0-"); r.status != 200 || !bytes.Equal(r.body, fileBytes) || r.contentType != "video/iso.segment" || len(native.requests("open")) != opens+1 {
		t.Errorf("native segment: %d %q, %d bytes, page requests %v", r.status, r.contentType, len(r.body), native.msgs)
	}
	// Another range, or a resource no native playlist named, is not
	// served whole from the page.
	if r := nativeReq("/v/seg-1.m4s", "bytes=100-"); r.status != 200 || !bytes.Equal(r.body, fileBytes) || len(native.requests("open")) != opens+1 {
		t.Errorf("native segment, range 100-: %d, %d bytes, page requests %v", r.status, len(r.body), native.msgs)
	}
	if r := nativeReq("/v/other.mp4", "bytes=0-"); r.status != 206 || !bytes.Equal(r.body, fileBytes) {
		t.Errorf("progressive file of a media element: %d, %d bytes", r.status, len(r.body))
	}

	// Other media go through open and piece; HEAD is passed through.
	fp := &fakePage{manifest: rewrite}
	s := fp.serve(t)
	r := fetchVia(t, s, "GET", base+"http/"+host+"/v/a.mp4", "c1")
	if r.status != 200 || !bytes.Equal(r.body, fileBytes) || r.contentType != "video/mp4" {
		t.Errorf("MP4: %d %q, %d bytes", r.status, r.contentType, len(r.body))
	}
	if len(fp.requests("manifest")) != 0 || len(fp.requests("open")) != 1 {
		t.Errorf("MP4: page requests %v", fp.msgs)
	}
	for _, m := range fp.requests("piece") {
		if m["timeout"] != int64(8000) {
			t.Errorf("piece request %v, want timeout 8000", m)
		}
	}
	if r := fetchVia(t, s, "HEAD", base+"http/"+host+"/a.m3u8", "c1"); r.status != 200 || len(fp.requests("manifest")) != 0 {
		t.Errorf("HEAD of a playlist: %d, page requests %v", r.status, fp.msgs)
	}

	// A segment's pieces are asked readAhead at a time, each once.
	fp = &fakePage{readAhead: 3}
	s = fp.serve(t)
	r = fetchVia(t, s, "GET", base+"http/"+host+"/v/seg-1.m4s", "c1")
	var asked []int64
	for _, m := range fp.requests("piece") {
		asked = append(asked, m["index"].(int64))
	}
	if r.status != 200 || !bytes.Equal(r.body, fileBytes) || fmt.Sprint(asked) != "[0 1 2 3]" {
		t.Errorf("segment with readAhead 3: %d, %d bytes, pieces asked %v", r.status, len(r.body), asked)
	}
}

// eval evaluates a JS expression.
func eval(expr string) js.Value {
	return js.Global().Get("Function").New("return (" + expr + ")").Invoke()
}

// TestDirect checks the responses whose bytes the page hands to the
// service worker: the origin's own response, exactly the bytes handed
// over, a copy of them to the page in order; and, when the page's span or
// the origin's answer does not fit the request, the bytes given back
// ("release") and the response served through pieces as usual.
func TestDirect(t *testing.T) {
	origin := nodeOrigin(t)
	host := strings.TrimPrefix(origin, "http://")
	cacheable := origin + "/__p2pmedia__/http/" + host + "/ranged.mp4"
	noStore := origin + "/__p2pmedia__/http/" + host + "/ranged-nostore.mp4"
	size := int64(len(fileBytes))
	whole := func(string, bool) (int64, int64) { return 0, size }
	tests := []struct {
		name      string
		url       string
		dest, rng string
		direct    func(rangeHeader string, short bool) (int64, int64)
		etag      string
		status    int
		from, to  int64  // the body: fileBytes[from:to]
		handOver  string // how the page got the bytes: "cached", "write" or "" (it did not)
		release   bool
	}{
		{"whole file", cacheable, "", "", whole, "", 200, 0, size, "cached", false},
		{"whole file, not cacheable", noStore, "", "", whole, "", 200, 0, size, "write", false},
		{"a range", cacheable, "", "bytes=100-20099", func(rh string, short bool) (int64, int64) {
			if rh != "bytes=100-20099" || short {
				return 0, 0
			}
			return 100, 20100
		}, "", 206, 100, 20100, "cached", false},
		{"shorter, for a media element", cacheable, "video", "bytes=100-", func(rh string, short bool) (int64, int64) {
			if !short {
				return 0, 0
			}
			return 100, 32768
		}, "", 206, 100, 32768, "cached", false},
		{"shorter, for a media element, not cacheable", noStore, "video", "bytes=100-", func(rh string, short bool) (int64, int64) {
			return 100, 32768
		}, "", 206, 100, 32768, "write", false},
		{"shorter, for fetch(): refused", cacheable, "", "bytes=100-", func(string, bool) (int64, int64) { return 100, 32768 }, "", 206, 100, size, "", true},
		{"another start: refused", cacheable, "", "bytes=100-", func(string, bool) (int64, int64) { return 0, size }, "", 206, 100, size, "", true},
		{"origin changed: refused", cacheable, "", "", whole, `"e2"`, 200, 0, size, "", true},
		{"nothing handed over", cacheable, "", "bytes=5-", nil, "", 206, 5, size, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := &fakePage{direct: tt.direct, etag: tt.etag}
			s := fp.serve(t)
			h := "new Headers()"
			if tt.rng != "" {
				h = `new Headers({range: "` + tt.rng + `"})`
			}
			r := fetchReq(t, s, "GET", eval(`{url: "`+tt.url+`", method: "GET", destination: "`+tt.dest+`", headers: `+h+`}`), "c1")
			if r.status != tt.status || !bytes.Equal(r.body, fileBytes[tt.from:tt.to]) {
				t.Errorf("status %d, %d bytes; want %d with bytes %d-%d", r.status, len(r.body), tt.status, tt.from, tt.to-1)
			}
			// The page hears of the bytes once the body is read (and
			// the cache has settled), or as they come.
			deadline := time.Now().Add(cacheSettle + 5*time.Second)
			for tt.handOver != "" && time.Now().Before(deadline) {
				fp.mu.Lock()
				n := len(fp.writes)
				fp.mu.Unlock()
				if n >= int(tt.to-tt.from) || len(fp.requests("cached")) > 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			fp.mu.Lock()
			writes := fp.writes
			fp.mu.Unlock()
			pieces, cached := len(fp.requests("piece")), fp.requests("cached")
			switch tt.handOver {
			case "write":
				if !bytes.Equal(writes, fileBytes[tt.from:tt.to]) || pieces != 0 || len(cached) != 0 {
					t.Errorf("%d bytes written to the page, %d piece requests, cached %v; want bytes %d-%d and nothing else", len(writes), pieces, cached, tt.from, tt.to-1)
				}
				if w := fp.requests("write"); len(w) == 0 || w[0]["offset"] != tt.from {
					t.Errorf("writes %v: want the first at offset %d", w, tt.from)
				}
			case "cached":
				want := map[string]any{"op": "cached", "url": strings.Replace(strings.TrimPrefix(tt.url, origin+"/__p2pmedia__/http/"), host, origin, 1), "proxyBase": "", "from": tt.from, "end": tt.to}
				if len(cached) != 1 || !reflect.DeepEqual(cached[0], want) || len(writes) != 0 || pieces != 0 {
					t.Errorf("cached %v, %d bytes written, %d piece requests; want one %v and nothing else", cached, len(writes), pieces, want)
				}
			default:
				if len(writes) != 0 || len(cached) != 0 || pieces == 0 {
					t.Errorf("%d bytes written to the page, cached %v, %d piece requests; want none and the pieces", len(writes), cached, pieces)
				}
			}
			if rel := fp.requests("release"); (len(rel) == 1) != tt.release {
				t.Errorf("release messages %v, want one: %t", rel, tt.release)
			}
		})
	}
}

// TestLease: a media element's Range request under the page's lease is
// fetched from the origin up to the piece boundary the page would choose,
// with a claim and no open request, and the page hears when to read it
// back. The lease starts fetching the first bytes at once (its head start):
// a request from 0 takes that response; one from elsewhere stops it, as
// does the end of a lease that no request takes in time. A lease serves
// one request; a malformed lease is ignored.
func TestLease(t *testing.T) {
	origin, hits := nodeOriginLog(t)
	host := strings.TrimPrefix(origin, "http://")
	orig := origin + "/ranged.mp4"
	url := origin + "/__p2pmedia__/http/" + host + "/ranged.mp4"
	get := func(s *server, rng string) response {
		return fetchReq(t, s, "GET", eval(`{url: "`+url+`", method: "GET", destination: "video", headers: new Headers({range: "`+rng+`"})}`), "c1")
	}
	lease := map[string]any{"op": "lease", "url": orig, "size": len(fileBytes), "pieceLength": 16384, "etag": `"e1"`, "maxDirect": 32768}
	span := func(op string, from, end int64) map[string]any {
		return map[string]any{"op": op, "url": orig, "proxyBase": "", "from": from, "end": end}
	}
	// waitFor waits up to d for a message op.
	waitFor := func(fp *fakePage, op string, d time.Duration) []map[string]any {
		deadline := time.Now().Add(d)
		for len(fp.requests(op)) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		return fp.requests(op)
	}
	tests := []struct {
		name     string
		rng      string
		from, to int64    // the response: fileBytes[from:to], claimed
		origin   []string // the Range headers the origin saw
	}{
		{"from 0: the head start's response", "bytes=0-", 0, 32768, []string{"bytes=0-32767"}},
		{"from elsewhere: the head start stops", "bytes=100-", 100, 32768, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := &fakePage{direct: func(string, bool) (int64, int64) { return 0, 0 }}
			s := fp.serve(t)
			before := len(hits("/ranged.mp4"))
			s.ports["c1"].deliver(js.ValueOf(lease))
			r := get(s, tt.rng)
			if r.status != 206 || !bytes.Equal(r.body, fileBytes[tt.from:tt.to]) {
				t.Errorf("status %d, %d bytes; want 206 with bytes %d-%d", r.status, len(r.body), tt.from, tt.to-1)
			}
			claims := []map[string]any{span("claim", tt.from, tt.to)}
			if c, o := fp.requests("claim"), fp.requests("open"); !reflect.DeepEqual(c, claims) || len(o) != 0 {
				t.Errorf("claims %v, opens %v; want %v and no open", c, o, claims)
			}
			if c := waitFor(fp, "cached", cacheSettle+5*time.Second); len(c) != 1 || !reflect.DeepEqual(c[0], span("cached", tt.from, tt.to)) {
				t.Errorf("cached %v, want bytes %d-%d", c, tt.from, tt.to-1)
			}
			if rel := fp.requests("release"); len(rel) != 0 {
				t.Errorf("released %v, want nothing", rel)
			}
			if tt.origin != nil {
				if got := hits("/ranged.mp4")[before:]; !reflect.DeepEqual(got, tt.origin) {
					t.Errorf("the origin saw ranges %q, want %q", got, tt.origin)
				}
			}
			if r := get(s, "bytes=100-"); r.status != 206 || !bytes.Equal(r.body, fileBytes[100:]) || len(fp.requests("open")) != 1 {
				t.Errorf("the next request: status %d, %d bytes, %d opens; want the rest, asked of the page", r.status, len(r.body), len(fp.requests("open")))
			}
		})
	}

	t.Run("no request in time", func(t *testing.T) {
		fp := &fakePage{}
		s := fp.serve(t)
		p := s.ports["c1"]
		p.leaseTTL = 100 * time.Millisecond
		p.deliver(js.ValueOf(lease))
		time.Sleep(300 * time.Millisecond)
		p.mu.Lock()
		n := len(p.leases)
		p.mu.Unlock()
		if n != 0 {
			t.Errorf("%d leases held past their time", n)
		}
		if r := get(s, "bytes=0-"); r.status != 206 || len(fp.requests("claim")) != 0 || len(fp.requests("open")) != 1 {
			t.Errorf("after the lease: status %d, %d claims, %d opens; want the usual way", r.status, len(fp.requests("claim")), len(fp.requests("open")))
		}
	})

	t.Run("malformed", func(t *testing.T) {
		fp := &fakePage{}
		s := fp.serve(t)
		bad := maps.Clone(lease)
		delete(bad, "pieceLength")
		s.ports["c1"].deliver(js.ValueOf(bad))
		if r := get(s, "bytes=100-"); r.status != 206 || len(fp.requests("claim")) != 0 || len(fp.requests("open")) != 1 {
			t.Errorf("a malformed lease: status %d, %d claims, %d opens; want the usual way", r.status, len(fp.requests("claim")), len(fp.requests("open")))
		}
	})
}

// TestPortRace: a request that reaches the service worker before its
// client's port waits for the port; a client whose request waited in vain
// is remembered as portless.
func TestPortRace(t *testing.T) {
	origin := nodeOrigin(t)
	host := strings.TrimPrefix(origin, "http://")
	base := origin + "/__p2pmedia__/"
	fp := &fakePage{manifest: func(url, _ string) map[string]any {
		return map[string]any{"ok": true, "text": "from the page", "contentType": "application/vnd.apple.mpegurl"}
	}}
	s := fp.serve(t)
	s.mu.Lock()
	v := s.ports["c1"].v
	delete(s.ports, "c1")
	s.mu.Unlock()
	done := make(chan response, 1)
	go func() { done <- fetchVia(t, s, "GET", base+"http/"+host+"/a.m3u8", "c1") }()
	time.Sleep(portWait / 10) // the request waits for the port meanwhile
	s.addPort(js.Undefined(), []js.Value{js.ValueOf("c1"), v})
	if r := <-done; string(r.body) != "from the page" {
		t.Errorf("the request that came before its port got %q", r.body)
	}
	// A client that never sends a port waits in vain, then gets the
	// origin's manifest.
	if r := fetchVia(t, s, "GET", base+"http/"+host+"/b.m3u8", "other"); string(r.body) != originText {
		t.Fatalf("a client without a port got %q", r.body)
	}
	s.mu.Lock()
	portless := s.portless["other"]
	s.mu.Unlock()
	if !portless {
		t.Error("a client whose request waited in vain is not remembered")
	}
}

// TestPortClose: a page whose engine is destroyed says so (op "close"):
// the worker closes the port, drops its leases, and answers that page's
// requests from the origin without asking it.
func TestPortClose(t *testing.T) {
	origin := nodeOrigin(t)
	host := strings.TrimPrefix(origin, "http://")
	url := origin + "/__p2pmedia__/http/" + host + "/ranged.mp4"
	fp := &fakePage{}
	s := fp.serve(t)
	p := s.ports["c1"]
	p.deliver(js.ValueOf(map[string]any{"op": "lease", "url": origin + "/ranged.mp4", "size": len(fileBytes), "pieceLength": 16384, "etag": `"e1"`, "maxDirect": 32768}))
	p.deliver(js.ValueOf(map[string]any{"op": "close"}))
	select {
	case <-p.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the port is still open after the page said close")
	}
	p.mu.Lock()
	leases := len(p.leases)
	p.mu.Unlock()
	r := fetchReq(t, s, "GET", eval(`{url: "`+url+`", method: "GET", destination: "video", headers: new Headers({range: "bytes=0-"})}`), "c1")
	if r.status != 206 || !bytes.Equal(r.body, fileBytes) || leases != 0 || len(fp.requests("open")) != 0 || len(fp.requests("claim")) != 0 {
		t.Errorf("after close: status %d, %d bytes, %d leases, %d opens, %d claims; want the whole file from the origin, no lease, nothing asked of the page",
			r.status, len(r.body), leases, len(fp.requests("open")), len(fp.requests("claim")))
	}
}

// TestOnlyRegisteredOrigins: a proxied URL of an origin no page registered
// gets the worker's 403, and the origin never sees the request; the origins
// a rewritten manifest names are registered as the manifest is served.
func TestOnlyRegisteredOrigins(t *testing.T) {
	origin, log := nodeOriginLog(t)
	host := strings.TrimPrefix(origin, "http://")
	base := origin + "/app/__p2pmedia__/"
	const other = "http://127.0.0.2:9"
	fp := &fakePage{manifest: func(url, proxyBase string) map[string]any {
		return map[string]any{"ok": true, "text": "#EXTM3U\n", "contentType": "application/vnd.apple.mpegurl", "hosts": []any{other}}
	}}
	s := fp.serve(t)

	hosts := testHosts(t)
	hosts.mu.Lock()
	delete(hosts.hosts, origin)
	hosts.mu.Unlock()
	for _, path := range []string{"/v.mp4", "/live/index.m3u8"} {
		r := fetchVia(t, s, "GET", base+"http/"+host+path, "c1")
		if r.status != 403 || !strings.HasPrefix(r.contentType, "text/plain") || !strings.Contains(string(r.body), "registered") {
			t.Errorf("%s of an unregistered origin: %d %q %q; want the worker's 403", path, r.status, r.contentType, r.body)
		}
		if got := log(path); len(got) != 0 {
			t.Errorf("%s: the unregistered origin got %d requests; want none", path, len(got))
		}
	}
	if len(fp.msgs) != 0 {
		t.Errorf("the page was asked %v for an unregistered origin", fp.msgs)
	}

	hosts.add(origin)
	if r := fetchVia(t, s, "GET", base+"http/"+host+"/live/index.m3u8", "c1"); r.status != 200 {
		t.Fatalf("manifest of a registered origin: %d %q", r.status, r.body)
	}
	if !hosts.has(other) {
		t.Errorf("the origin %s the manifest names was not registered", other)
	}
}
