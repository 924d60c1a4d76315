package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/tracker"
)

// examplesDir is the repository's examples directory: the real pages,
// sw.js and sample media.
const examplesDir = "../../examples"

// fakeDist writes a build output directory of fake files (this is a server
// test: only the bytes and names matter) and returns it.
func fakeDist(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"p2p-engine.min.js":     "globalThis.P2PEngineMedia = class {};\n",
		"p2p-engine.js":         "export default class P2PEngineMedia {}\n",
		"p2p-sw.js":             "self.MediaProxy = {};\n",
		"p2p-engine.wasm":       "\x00asm identity",
		"p2p-engine.wasm.br":    "brotli bytes",
		"p2p-engine.wasm.gz":    "gzip bytes",
		"p2p-sw.wasm":           "\x00asm sw",
		"wasm_exec.js":          "// go glue\n",
		"wasm_exec.js.gz":       "gzip glue",
		"only-compressed.js.br": "brotli only",
		".hidden.js":            "secret",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link out of the directory must not be followed.
	outside := filepath.Join(t.TempDir(), "outside.js")
	if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "escape.js")); err != nil {
		t.Fatal(err)
	}
	return dir
}

var demoURLLine = regexp.MustCompile(`^demo: open (http://127\.0\.0\.1:\d+)/$`)

// startDemo runs "p2pmedia demo" on a free port and returns its base URL;
// the command stops when the test ends and must exit with status 0.
func startDemo(t *testing.T, dist string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--dist", dist, "--examples", examplesDir}, pw, &stderr)
		_ = pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		cancel()
		t.Fatalf("demo printed nothing (exit %d): %s", <-done, stderr.String())
	}
	m := demoURLLine.FindStringSubmatch(lines.Text())
	if m == nil {
		cancel()
		t.Fatalf("demo printed %q", lines.Text())
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		rest <- string(b)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("demo exit status %d, want 0; stderr: %s", code, stderr.String())
			}
		case <-time.After(hangGuard):
			t.Error("demo did not stop")
		}
		if out := <-rest; out != "demo: stopped\n" {
			t.Errorf("demo printed %q at the end, want %q", out, "demo: stopped\n")
		}
		if s := stderr.String(); s != "" {
			t.Errorf("demo wrote to stderr: %q", s)
		}
	})
	return m[1]
}

// rawClient does not add or decode Accept-Encoding by itself.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func TestDemoRoutes(t *testing.T) {
	dist := fakeDist(t)
	base := startDemo(t, dist)
	mp4, err := os.ReadFile(filepath.Join(examplesDir, "media", "sample.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	sw, err := os.ReadFile(filepath.Join(examplesDir, "sw.js"))
	if err != nil {
		t.Fatal(err)
	}

	type want struct {
		status   int
		ctype    string            // Content-Type prefix
		body     string            // exact body, when set
		contains []string          // substrings of the body
		headers  map[string]string // exact header values ("" = absent)
	}
	noEncoding := map[string]string{"Content-Encoding": ""}
	tests := []struct {
		name   string
		method string
		path   string
		reqHdr map[string]string
		want   want
	}{
		{"index", "GET", "/", nil, want{status: 200, ctype: "text/html", contains: []string{`href="/mp4.html"`, `href="/mp3.html"`}}},
		{"mp4 page", "GET", "/mp4.html", nil, want{status: 200, ctype: "text/html", contains: []string{
			"<video", "muted", "playsinline", "new P2PEngineMedia(", "iceServers: []", "'/tracker'", "/media/sample.mp4", "getProxiedUrl", "autoplay"}}},
		{"mp3 page", "GET", "/mp3.html", nil, want{status: 200, ctype: "text/html", contains: []string{
			"<audio", "new P2PEngineMedia(", "iceServers: []", "/media/sample.mp3"}}},
		{"panel script", "GET", "/demo.js", nil, want{status: 200, ctype: "text/javascript", contains: []string{"window.__demo", "DemoPanel"}}},
		{"panel styles", "GET", "/demo.css", nil, want{status: 200, ctype: "text/css"}},
		{"service worker", "GET", "/sw.js", nil, want{status: 200, ctype: "text/javascript", body: "self.importScripts('/dist/p2p-sw.js');\n",
			headers: map[string]string{"Service-Worker-Allowed": "/"}}},
		{"HEAD of a page", "HEAD", "/mp4.html", nil, want{status: 200, ctype: "text/html", body: ""}},
		{"no such page", "GET", "/nosuch.html", nil, want{status: 404}},
		{"unpublished extension", "GET", "/sw.js.map", nil, want{status: 404}},
		{"unknown path", "GET", "/nope/x.js", nil, want{status: 404}},
		{"POST", "POST", "/mp4.html", nil, want{status: 405}},

		{"wasm identity", "GET", "/dist/p2p-engine.wasm", nil, want{status: 200, ctype: "application/wasm", body: "\x00asm identity",
			headers: map[string]string{"Content-Encoding": "", "Vary": "Accept-Encoding"}}},
		{"wasm br", "GET", "/dist/p2p-engine.wasm", map[string]string{"Accept-Encoding": "gzip, deflate, br"}, want{status: 200, ctype: "application/wasm",
			body: "brotli bytes", headers: map[string]string{"Content-Encoding": "br", "Vary": "Accept-Encoding"}}},
		{"wasm gzip", "GET", "/dist/p2p-engine.wasm", map[string]string{"Accept-Encoding": "gzip"}, want{status: 200, ctype: "application/wasm",
			body: "gzip bytes", headers: map[string]string{"Content-Encoding": "gzip"}}},
		{"wasm br refused", "GET", "/dist/p2p-engine.wasm", map[string]string{"Accept-Encoding": "br;q=0, gzip;q=0.5"}, want{status: 200,
			body: "gzip bytes", headers: map[string]string{"Content-Encoding": "gzip"}}},
		{"wasm wildcard", "GET", "/dist/p2p-engine.wasm", map[string]string{"Accept-Encoding": "*"}, want{status: 200,
			body: "brotli bytes", headers: map[string]string{"Content-Encoding": "br"}}},
		{"wasm wildcard but br", "GET", "/dist/p2p-engine.wasm", map[string]string{"Accept-Encoding": "br;q=0, *"}, want{status: 200,
			body: "gzip bytes", headers: map[string]string{"Content-Encoding": "gzip"}}},
		{"wasm identity only", "GET", "/dist/p2p-engine.wasm", map[string]string{"Accept-Encoding": "identity"}, want{status: 200,
			body: "\x00asm identity", headers: noEncoding}},
		{"js without br twin", "GET", "/dist/wasm_exec.js", map[string]string{"Accept-Encoding": "br"}, want{status: 200, ctype: "text/javascript",
			body: "// go glue\n", headers: noEncoding}},
		{"js gzip twin", "GET", "/dist/wasm_exec.js", map[string]string{"Accept-Encoding": "br, gzip"}, want{status: 200, ctype: "text/javascript",
			body: "gzip glue", headers: map[string]string{"Content-Encoding": "gzip"}}},
		{"shim", "GET", "/dist/p2p-engine.min.js", nil, want{status: 200, ctype: "text/javascript", contains: []string{"P2PEngineMedia"}}},
		{"ES module shim", "GET", "/dist/p2p-engine.js", nil, want{status: 200, ctype: "text/javascript"}},
		{"compressed only, accepted", "GET", "/dist/only-compressed.js", map[string]string{"Accept-Encoding": "br"}, want{status: 200,
			ctype: "text/javascript", body: "brotli only", headers: map[string]string{"Content-Encoding": "br"}}},
		{"compressed only, not accepted", "GET", "/dist/only-compressed.js", nil, want{status: 404}},
		{"dist missing file", "GET", "/dist/nope.wasm", nil, want{status: 404}},
		{"dist directory", "GET", "/dist/", nil, want{status: 404}},
		{"dist hidden file", "GET", "/dist/.hidden.js", nil, want{status: 404}},
		{"dist symlink out", "GET", "/dist/escape.js", nil, want{status: 404}},

		{"media whole", "GET", "/media/sample.mp4", nil, want{status: 200, ctype: "video/mp4", body: string(mp4), headers: map[string]string{
			"Access-Control-Allow-Origin": "*", "Accept-Ranges": "bytes", "Content-Encoding": ""}}},
		{"media range", "GET", "/media/sample.mp4", map[string]string{"Range": "bytes=100-199"}, want{status: 206, ctype: "video/mp4", body: string(mp4[100:200]),
			headers: map[string]string{
				"Content-Range":                 fmt.Sprintf("bytes 100-199/%d", len(mp4)),
				"Content-Length":                "100",
				"Access-Control-Allow-Origin":   "*",
				"Access-Control-Expose-Headers": "Content-Range, Content-Length, ETag, Last-Modified, Accept-Ranges",
			}}},
		{"media open range", "GET", "/media/sample.mp4", map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(mp4)-10)}, want{status: 206,
			body: string(mp4[len(mp4)-10:])}},
		{"media range unsatisfiable", "GET", "/media/sample.mp4", map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(mp4))}, want{status: 416,
			headers: map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", len(mp4))}}},
		{"media gzip not applied", "GET", "/media/sample.mp4", map[string]string{"Range": "bytes=0-0", "Accept-Encoding": "gzip, br"}, want{status: 206,
			body: string(mp4[:1]), headers: noEncoding}},
		{"mp3", "GET", "/media/sample.mp3", map[string]string{"Range": "bytes=0-2"}, want{status: 206, ctype: "audio/mpeg", body: "ID3"}},
		{"hls playlist", "GET", "/media/hls/master.m3u8", nil, want{status: 200, ctype: "application/vnd.apple.mpegurl", contains: []string{"#EXTM3U"}}},
		{"hls segment", "HEAD", "/media/hls/360p/seg_000.ts", nil, want{status: 200, ctype: "video/mp2t"}},
		{"dash manifest", "GET", "/media/dash/manifest.mpd", nil, want{status: 200, ctype: "application/dash+xml", contains: []string{"<MPD"}}},
		{"dash segment", "HEAD", "/media/dash/init-0.m4s", nil, want{status: 200, ctype: "video/iso.segment"}},
		{"media preflight", "OPTIONS", "/media/sample.mp4", map[string]string{"Origin": "http://example.test", "Access-Control-Request-Headers": "range"},
			want{status: 204, headers: map[string]string{"Access-Control-Allow-Origin": "*"}}},
		{"media missing", "GET", "/media/nope.mp4", nil, want{status: 404}},
		{"media directory", "GET", "/media/hls/", nil, want{status: 404}},
		{"media hidden file", "GET", "/media/.gitignore", nil, want{status: 404}},

		{"tracker stats", "GET", "/tracker/stats", nil, want{status: 200, ctype: "application/json", contains: []string{`"swarms":`}}},
		{"tracker without upgrade", "GET", "/tracker", nil, want{status: 426}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.reqHdr {
				req.Header.Set(k, v)
			}
			resp, err := rawClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if resp.StatusCode != w.status {
				t.Fatalf("status %d, want %d (body %.200q)", resp.StatusCode, w.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, w.ctype) {
				t.Errorf("Content-Type %q, want %q", ct, w.ctype)
			}
			if (w.body != "" || tt.method == "HEAD") && string(body) != w.body {
				t.Errorf("body %.200q, want %.200q", body, w.body)
			}
			for _, s := range w.contains {
				if !bytes.Contains(body, []byte(s)) {
					t.Errorf("body lacks %q", s)
				}
			}
			for k, v := range w.headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
	if string(sw) != "self.importScripts('/dist/p2p-sw.js');\n" {
		t.Errorf("examples/sw.js is %q, want the one-line importScripts", sw)
	}
}

// get fetches path with the request headers hdr and returns the response
// with its body read.
func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestDemoValidators checks the ETag and Last-Modified validators that peers
// compare, and the conditional requests they drive.
func TestDemoValidators(t *testing.T) {
	base := startDemo(t, fakeDist(t))
	for _, path := range []string{"/media/sample.mp4", "/dist/p2p-engine.wasm"} {
		t.Run(path, func(t *testing.T) {
			resp, full := get(t, base+path, nil)
			etag := resp.Header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-z]+-[0-9a-z]+"$`).MatchString(etag) || resp.Header.Get("Last-Modified") == "" {
				t.Fatalf("ETag %q, Last-Modified %q; want a strong ETag and a date", etag, resp.Header.Get("Last-Modified"))
			}
			if resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", resp.Header.Get("Cache-Control"))
			}
			again, _ := get(t, base+path, nil)
			if again.Header.Get("ETag") != etag {
				t.Fatalf("ETag changed from %q to %q", etag, again.Header.Get("ETag"))
			}
			if resp, _ := get(t, base+path, map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match with the ETag: status %d, want 304", resp.StatusCode)
			}
			resp, body := get(t, base+path, map[string]string{"Range": "bytes=1-3", "If-Range": etag})
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, full[1:4]) {
				t.Errorf("If-Range with the ETag: status %d, body %q; want 206 and %q", resp.StatusCode, body, full[1:4])
			}
			resp, body = get(t, base+path, map[string]string{"Range": "bytes=1-3", "If-Range": `"stale"`})
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, full) {
				t.Errorf("If-Range with another ETag: status %d, %d bytes; want 200 and the whole file", resp.StatusCode, len(body))
			}
		})
	}
	// Each representation has its own validator.
	br, _ := get(t, base+"/dist/p2p-engine.wasm", map[string]string{"Accept-Encoding": "br"})
	plain, _ := get(t, base+"/dist/p2p-engine.wasm", nil)
	if br.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Errorf("br and identity share the ETag %q", br.Header.Get("ETag"))
	}
}

// TestDemoTracker announces over the WebSocket at /tracker and reads the
// announce back from /tracker/stats.
func TestDemoTracker(t *testing.T) {
	base := startDemo(t, fakeDist(t))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/tracker"
	ws, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://other.example"}}})
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	defer ws.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade status %d, want 101", resp.StatusCode)
	}
	ih, pid := trackermsg.ID{7}, trackermsg.ID{8}
	b, err := trackermsg.Encode(&trackermsg.Message{Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &pid, Event: trackermsg.EventStarted})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	_, b, err = ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := trackermsg.Decode(b)
	if err != nil || m.Kind() != trackermsg.KindAnnounceResponse || *m.Interval != int(demoTrackerInterval/time.Second) {
		t.Fatalf("announce answered with %s (%v)", b, err)
	}
	_, body := get(t, base+"/tracker/stats", nil)
	var st tracker.Stats
	if err := json.Unmarshal(body, &st); err != nil || st.Peers != 1 || st.Swarms != 1 {
		t.Fatalf("/tracker/stats = %s (%v), want 1 peer in 1 swarm", body, err)
	}
	// The command's stop closes the tracker connection (startDemo's cleanup
	// checks the exit).
}

func TestDemoFlagErrors(t *testing.T) {
	dist := fakeDist(t)
	file := filepath.Join(dist, "wasm_exec.js")
	noIndex := t.TempDir()
	busy := busyPort(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"unknown flag", []string{"--port", "1"}, 2, "flag provided but not defined: -port"},
		{"extra argument", []string{"now"}, 2, `unexpected argument "now"`},
		{"listen without port", []string{"--listen", "127.0.0.1"}, 2, "want host:port"},
		{"bad viewers value", []string{"--viewers", "many"}, 2, "invalid value"},
		{"missing dist", []string{"--dist", filepath.Join(dist, "nope")}, 2, "no such directory; run 'make build' first"},
		{"dist is a file", []string{"--dist", file}, 2, "not a directory"},
		{"missing examples", []string{"--examples", filepath.Join(noIndex, "nope")}, 2, "-examples"},
		{"examples without pages", []string{"--examples", noIndex}, 2, "no index.html in it"},
		{"negative viewers", []string{"--viewers", "-1"}, 2, "-viewers -1: must be between 0 and 16"},
		{"too many viewers", []string{"--viewers", "17"}, 2, "-viewers 17: must be between 0 and 16"},
		{"unknown page", []string{"--viewer-page", "nosuch"}, 2, `no nosuch.html in ../../examples (pages: dash, hls, hls-videojs, live, mp3, mp4)`},
		{"page with a path", []string{"--viewer-page", "../x"}, 2, "want the name of a page"},
		{"bad namespace", []string{"--ns", "a b"}, 2, `-ns "a b"`},
		{"long namespace", []string{"--ns", strings.Repeat("n", 38)}, 2, "at most 37 characters"},
		{"port in use", []string{"--listen", "127.0.0.1:" + busy}, 1, "listen on 127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"demo", "--dist", dist, "--examples", examplesDir}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.message) {
				t.Fatalf("run(%q) = %d, stderr %q; want %d and %q", args, code, stderr.String(), tt.code, tt.message)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestDemoWarnsAboutMissingDist(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve nothing: only the start-up checks run
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--dist", t.TempDir(), "--examples", examplesDir}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "lacks p2p-engine.min.js, p2p-sw.js, p2p-engine.wasm, p2p-sw.wasm, wasm_exec.js; run 'make build'") {
		t.Fatalf("stderr %q, want a warning naming the missing files", stderr.String())
	}
	if !demoURLLine.MatchString(strings.SplitN(stdout.String(), "\n", 2)[0]) {
		t.Fatalf("stdout %q", stdout.String())
	}
}

func TestAcceptedEncodings(t *testing.T) {
	tests := []struct {
		header   string
		br, gzip bool
	}{
		{"", false, false},
		{"gzip", false, true},
		{"gzip, deflate, br, zstd", true, true},
		{"BR;Q=1.0", true, false},
		{"br;q=0, gzip;q=0.001", false, true},
		{"br;q=0.0", false, false},
		{"*", true, true},
		{"*;q=0", false, false},
		{"br;q=0, *", false, true},
		{"identity", false, false},
		{" gzip ; q=0.5 ,br ; q = 0.8", true, true},
		{"br;q=abc", false, false},
	}
	for _, tt := range tests {
		ok := acceptedEncodings(tt.header)
		if ok("br") != tt.br || ok("gzip") != tt.gzip {
			t.Errorf("acceptedEncodings(%q): br %v, gzip %v; want %v, %v", tt.header, ok("br"), ok("gzip"), tt.br, tt.gzip)
		}
	}
}

func TestCleanName(t *testing.T) {
	for name, want := range map[string]bool{
		"a.js": true, "hls/360p/seg_000.ts": true, "": false, "/a": false, "a/": false, "a//b": false,
		"../a": false, "a/../b": false, "./a": false, ".hidden": false, "a/.git/x": false, `a\b`: false, "a\x00b": false,
	} {
		if got := cleanName(name); got != want {
			t.Errorf("cleanName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"p2p-engine.wasm": "application/wasm", "a.js": "text/javascript; charset=utf-8", "A.MJS": "text/javascript; charset=utf-8",
		"x.mp4": "video/mp4", "x.mp3": "audio/mpeg", "x.m3u8": "application/vnd.apple.mpegurl", "x.mpd": "application/dash+xml",
		"x.m4s": "video/iso.segment", "x.ts": "video/mp2t", "x.unknown-ext": "application/octet-stream",
	} {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestRenderTable(t *testing.T) {
	yes, no := true, false
	rows := []viewerRow{
		{Label: "1", Status: viewerStatus{State: "playing", Position: 12.7, Duration: 40, HTTPKB: 3072, P2PKB: 1024, UploadKB: 512, Peers: 2, Tracker: &yes}},
		{Label: "2", Status: viewerStatus{State: "loading", Tracker: &no, Errors: 2, LastError: "TRACKER_EXPT: refused\nretrying"}},
		{Label: "3", Status: viewerStatus{State: "error"}, Note: "opening http://x/: timeout"},
	}
	var b bytes.Buffer
	n := renderTable(&b, rows)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if n != len(lines) {
		t.Fatalf("renderTable returned %d, wrote %d lines:\n%s", n, len(lines), b.String())
	}
	want := []string{
		tableHeader,
		"1       playing    0:12 / 0:40        3.00     1.00    25%    0.50      2  connected",
		"2       loading    0:00               0.00     0.00      -    0.00      0  down",
		"3       error      0:00               0.00     0.00      -    0.00      0  -",
		"total                                 3.00     1.00    25%    0.50",
		"  viewer 2: 2 page error(s), last: TRACKER_EXPT: refused retrying",
		"  viewer 3: opening http://x/: timeout",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), strings.Join(want, "\n"))
	}
}
