//go:build linux

package browser_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/internal/chrome"
)

// The media file of the service-worker test: 6 pieces of 512 KiB and a
// short seventh one.
const (
	swMediaSize   = 3<<20 + 12345
	swPieceLength = 512 << 10
	swETag        = `"sw-test-1"`
)

// swModTime is the media file's modification time (Last-Modified).
var swModTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// swScripts are the site's service workers: the one line a site writes,
// after shorter deadlines than the defaults so that the failure cases run
// fast. The second one looks for the wasm where there is none.
var swScripts = map[string]string{
	"/sw.js":        "self.P2P_MEDIA_TIMEOUTS = {open: 1000, piece: 3000};\nimportScripts('/dist/p2p-sw.js');\n",
	"/sw-nowasm.js": "self.P2P_MEDIA_BASE = '/nowasm/';\nimportScripts('/dist/p2p-sw.js');\n",
}

// buildSW builds the service worker's wasm into a temporary directory, next
// to the loader and the Go toolchain's wasm_exec.js: the /dist/ of the test.
func buildSW(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "p2p-sw.wasm"), "../../sw")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the service worker's wasm: %v\n%s", err, out)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	for dst, src := range map[string]string{
		"wasm_exec.js": filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"),
		"p2p-sw.js":    filepath.Join("..", "..", "js", "p2p-sw.js"),
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// swOrigin is the test's origin server: the site (pages, /sw.js, /dist/)
// and the media it proxies, all on one origin.
type swOrigin struct {
	srv        *httptest.Server
	wasmLoads  atomic.Int32 // GET /dist/p2p-sw.wasm
	noWasm     atomic.Int32 // GET /nowasm/p2p-sw.wasm (a 404)
	mu         sync.Mutex
	mediaFetch []string // "<who> <Range> <request URI>" per media request
}

// hits returns the media requests from the n-th on.
func (o *swOrigin) hits(n int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.mediaFetch[n:])
}

// hitCount returns how many media requests arrived.
func (o *swOrigin) hitCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.mediaFetch)
}

// serveSW starts the origin inside the namespace. Nothing it serves may be
// cached, so that every fetch reaches it and is counted.
func serveSW(t *testing.T, l net.Listener, dist string, media []byte) *swOrigin {
	t.Helper()
	o := &swOrigin{}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(os.DirFS("testdata/sw")))
	for path, script := range swScripts {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			w.Write([]byte(script))
		})
	}
	mux.HandleFunc("GET /nowasm/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "wasm_exec.js" {
			o.noWasm.Add(1)
			http.NotFound(w, r)
			return
		}
		http.ServeFileFS(w, r, os.DirFS(dist), "wasm_exec.js")
	})
	files := http.StripPrefix("/dist/", http.FileServerFS(os.DirFS(dist)))
	mux.HandleFunc("GET /dist/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dist/p2p-sw.wasm" {
			o.wasmLoads.Add(1)
		}
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /media/{name}", func(w http.ResponseWriter, r *http.Request) {
		// The service worker's own fetches carry its script as referrer.
		who := "other:" + r.Referer()
		switch path.Base(r.Referer()) {
		case "sw.js", "sw-nowasm.js":
			who = "sw"
		case "sw.html":
			who = "page"
		}
		o.mu.Lock()
		o.mediaFetch = append(o.mediaFetch, who+" "+r.Header.Get("Range")+" "+r.URL.RequestURI())
		o.mu.Unlock()
		w.Header().Set("ETag", swETag)
		http.ServeContent(w, r, r.PathValue("name"), swModTime, bytes.NewReader(media))
	})
	o.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	}))
	o.srv.Listener = l
	o.srv.Start()
	t.Cleanup(o.srv.Close)
	return o
}

// swResponse is what swt.get reports about one response.
type swResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Length  int64             `json:"length"`
	SHA256  string            `json:"sha256"`
}

// swLog is what the page, as the engine, saw on its port.
type swLog struct {
	Open       []string `json:"open"`
	Piece      []int    `json:"piece"`
	Cancel     []int    `json:"cancel"`
	Unanswered []int    `json:"unanswered"`
}

// swEval evaluates swt.<fn>(arg) in the page and decodes what its promise
// resolves with.
func swEval[T any](ctx context.Context, fn string, arg any) (T, error) {
	js, err := json.Marshal(arg)
	if err != nil {
		var zero T
		return zero, err
	}
	return chromedp.Run(ctx, chromedp.Evaluate[T](fmt.Sprintf("swt.%s(%s)", fn, js), chromedp.EvalAwaitPromise))
}

// swCase is one fetch of the test and what it must give.
type swCase struct {
	name      string
	behaviour map[string]any // how the page answers (swt.reset)
	path      string         // on the origin; fetched through its proxied URL
	plain     bool           // fetch path itself instead
	method    string         // GET when empty
	inFrame   bool           // fetch from an iframe, a client without a port
	rangeHdr  string
	cancel    bool // read one chunk, then cancel the body

	wantStatus  int
	wantBody    [2]int64          // [start, end) of the media file
	wantHeaders map[string]string // exactly these headers (nil: not checked)
	multipart   bool              // a multipart/byteranges body from the origin
	wantOpen    []string          // open requests, by path on the origin
	wantPieces  []int             // piece requests, in order
	wantOrigin  []string          // media requests at the origin: "<who> <Range> <URI>"
}

// swHeaders returns the headers of a response that the SW makes for bytes
// [start, end) of the media file.
func swHeaders(contentType string, start, end int64, partial bool) map[string]string {
	h := map[string]string{
		"content-type":   contentType,
		"content-length": strconv.FormatInt(end-start, 10),
		"accept-ranges":  "bytes",
		"etag":           swETag,
		"last-modified":  swModTime.Format(http.TimeFormat),
		// Every response of the worker's, its own or the origin's.
		"x-content-type-options": "nosniff",
	}
	if partial {
		h["content-range"] = fmt.Sprintf("bytes %d-%d/%d", start, end-1, swMediaSize)
	}
	return h
}

func TestServiceWorker(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	media := make([]byte, swMediaSize)
	rand.NewChaCha8([32]byte{'s', 'w'}).Read(media)
	dist := buildSW(t)
	t.Logf("wasm built in %v", time.Since(start).Round(time.Millisecond))

	n := setupNet(t, "p2pt-sw")
	l, err := n.Listen("tcp4", net.JoinHostPort(n.Addr(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	o := serveSW(t, l, dist, media)
	base := o.srv.URL
	host := strings.TrimPrefix(base, "http://")

	b, err := chrome.Launch(ctx, n, chrome.Options{SecureOrigins: []string{base}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	proxied := func(path string) string { return base + "/__p2pmedia__/http/" + host + path }
	probe := proxied("/media/probe.bin")

	// newPage opens sw.html in a browser context of its own, registers
	// script there and, with a probe, connects the page to it.
	type setupReport struct {
		Scope  string `json:"scope"`
		Size   int64  `json:"size"`
		Probes int    `json:"probes"`
	}
	newPage := func(t *testing.T, label, script, probe string) (context.Context, setupReport) {
		t.Helper()
		page, closePage, err := b.NewContext(label)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closePage)
		if err := chromedp.Do(page, chromedp.Navigate(base+"/sw.html")); err != nil {
			t.Fatalf("navigating: %v", err)
		}
		setup, err := swEval[setupReport](page, "setup", map[string]any{"script": script, "media": "/media/a.mp4", "probe": probe, "pieceLength": swPieceLength})
		if err != nil {
			t.Fatalf("setting up the page: %v", err)
		}
		if setup.Scope != base+"/" || setup.Size != swMediaSize {
			t.Fatalf("setup: scope %q, media size %d; want %q, %d", setup.Scope, setup.Size, base+"/", swMediaSize)
		}
		return page, setup
	}
	page, setup := newPage(t, "sw", "/sw.js", probe)
	if got := o.wasmLoads.Load(); got != 1 {
		t.Errorf("p2p-sw.wasm loaded %d times after the registration, want 1", got)
	}
	t.Logf("service worker in control after %v (%d probe fetches)", time.Since(start).Round(time.Millisecond), setup.Probes)

	const (
		S int64 = swMediaSize
		L int64 = swPieceLength
	)
	last := S - 1
	mp4 := "/media/a.mp4"
	ranged := func(a, b int64) string { return fmt.Sprintf("bytes=%d-%d", a, b) }
	run := func(t *testing.T, page context.Context, c swCase) {
		t.Helper()
		if _, err := swEval[any](page, "reset", c.behaviour); err != nil {
			t.Fatal(err)
		}
		before := o.hitCount()
		url := proxied(c.path)
		if c.plain {
			url = base + c.path
		}
		res, err := swEval[swResponse](page, "get", map[string]any{"url": url, "method": c.method, "range": c.rangeHdr, "inFrame": c.inFrame, "cancel": c.cancel})
		if err != nil {
			t.Fatalf("fetching %s: %v", url, err)
		}
		if res.Status != c.wantStatus {
			t.Errorf("status %d, want %d", res.Status, c.wantStatus)
		}
		switch {
		case c.multipart:
			if ct := res.Headers["content-type"]; !strings.HasPrefix(ct, "multipart/byteranges") {
				t.Errorf("content-type %q, want multipart/byteranges", ct)
			}
		case c.cancel:
			if res.Length == 0 {
				t.Error("no chunk before the cancel")
			}
		case c.wantStatus != http.StatusNotFound:
			body := media[c.wantBody[0]:c.wantBody[1]]
			sum := sha256.Sum256(body)
			if res.Length != int64(len(body)) || res.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("body: %d bytes with SHA-256 %s; want bytes [%d, %d) of the media (%d bytes)", res.Length, res.SHA256, c.wantBody[0], c.wantBody[1], len(body))
			}
		}
		if c.wantHeaders != nil && !maps.Equal(res.Headers, c.wantHeaders) {
			t.Errorf("headers\n got %v\nwant %v", res.Headers, c.wantHeaders)
		}
		log, err := swEval[swLog](page, "settled", 5000)
		if err != nil {
			t.Fatal(err)
		}
		var open []string
		for _, u := range log.Open {
			open = append(open, strings.TrimPrefix(u, "http://"+host))
		}
		if !slices.Equal(open, c.wantOpen) {
			t.Errorf("open requests for %q, want %q", open, c.wantOpen)
		}
		switch {
		case c.cancel:
			// Whether the stream's next pull (which asks one piece
			// ahead) started before the cancel is up to the browser.
			if len(log.Piece) < len(c.wantPieces) || len(log.Piece) > len(c.wantPieces)+1 || !slices.Equal(log.Piece[:len(c.wantPieces)], c.wantPieces) {
				t.Errorf("piece requests %v, want %v and at most one more", log.Piece, c.wantPieces)
			}
		case !slices.Equal(log.Piece, c.wantPieces):
			t.Errorf("piece requests %v, want %v", log.Piece, c.wantPieces)
		}
		for _, id := range log.Unanswered {
			if !slices.Contains(log.Cancel, id) {
				t.Errorf("piece request %d left unanswered was not cancelled (cancels: %v)", id, log.Cancel)
			}
		}
		if len(c.behaviour) == 0 && len(log.Cancel) > 0 {
			t.Errorf("cancels %v where the page answered everything", log.Cancel)
		}
		if got := o.hits(before); !reflect.DeepEqual(got, c.wantOrigin) && (len(got) > 0 || len(c.wantOrigin) > 0) {
			t.Errorf("media requests at the origin\n got %q\nwant %q", got, c.wantOrigin)
		}
	}

	cases := []swCase{{
		name: "whole", path: mp4,
		wantStatus: 200, wantBody: [2]int64{0, S}, wantHeaders: swHeaders("video/mp4", 0, S, false),
		wantOpen: []string{mp4}, wantPieces: []int{0, 1, 2, 3, 4, 5, 6},
	}, {
		name: "open-ended", path: mp4, rangeHdr: "bytes=0-",
		wantStatus: 206, wantBody: [2]int64{0, S}, wantHeaders: swHeaders("video/mp4", 0, S, true),
		wantPieces: []int{0, 1, 2, 3, 4, 5, 6},
	}, {
		name: "small", path: mp4, rangeHdr: "bytes=100-200",
		wantStatus: 206, wantBody: [2]int64{100, 201}, wantHeaders: swHeaders("video/mp4", 100, 201, true),
		wantPieces: []int{0},
	}, {
		name: "suffix", path: mp4, rangeHdr: "bytes=-500",
		wantStatus: 206, wantBody: [2]int64{S - 500, S}, wantHeaders: swHeaders("video/mp4", S-500, S, true),
		wantPieces: []int{6},
	}, {
		name: "three-pieces", path: mp4, rangeHdr: "bytes=600000-1700000",
		wantStatus: 206, wantBody: [2]int64{600000, 1700001}, wantHeaders: swHeaders("video/mp4", 600000, 1700001, true),
		wantPieces: []int{1, 2, 3},
	}, {
		name: "piece-boundary", path: mp4, rangeHdr: ranged(L, 3*L-1),
		wantStatus: 206, wantBody: [2]int64{L, 3 * L}, wantHeaders: swHeaders("video/mp4", L, 3*L, true),
		wantPieces: []int{1, 2},
	}, {
		name: "last-byte", path: mp4, rangeHdr: ranged(last, last),
		wantStatus: 206, wantBody: [2]int64{last, S}, wantHeaders: swHeaders("video/mp4", last, S, true),
		wantPieces: []int{6},
	}, {
		name: "unsatisfiable", path: mp4, rangeHdr: "bytes=5000000-",
		wantStatus: 416, wantBody: [2]int64{0, 0},
		wantHeaders: map[string]string{"content-range": fmt.Sprintf("bytes */%d", S), "content-length": "0", "accept-ranges": "bytes", "x-content-type-options": "nosniff"},
	}, {
		name: "segment-with-query", path: "/media/seg-1.m4s?x=1&y=%20", rangeHdr: "bytes=0-99",
		wantStatus: 206, wantBody: [2]int64{0, 100}, wantHeaders: swHeaders("video/iso.segment", 0, 100, true),
		wantOpen: []string{"/media/seg-1.m4s?x=1&y=%20"}, wantPieces: []int{0},
	}, {
		name: "multi-range", path: mp4, rangeHdr: "bytes=0-1,5-6",
		wantStatus: 206, multipart: true,
		wantOrigin: []string{"sw bytes=0-1,5-6 /media/a.mp4"},
	}, {
		name: "piece-timeout", path: mp4, rangeHdr: "bytes=600000-1700000",
		behaviour:  map[string]any{"silentFrom": 2},
		wantStatus: 206, wantBody: [2]int64{600000, 1700001}, wantHeaders: swHeaders("video/mp4", 600000, 1700001, true),
		wantPieces: []int{1, 2, 3},
		wantOrigin: []string{"sw " + ranged(2*L, 1700000) + " /media/a.mp4"},
	}, {
		name: "piece-error", path: mp4, rangeHdr: "bytes=100000-1200000",
		behaviour:  map[string]any{"errorFrom": 1},
		wantStatus: 206, wantBody: [2]int64{100000, 1200001}, wantHeaders: swHeaders("video/mp4", 100000, 1200001, true),
		wantPieces: []int{0, 1, 2},
		wantOrigin: []string{"sw " + ranged(L, 1200000) + " /media/a.mp4"},
	}, {
		name: "open-error", path: mp4 + "?open=error", rangeHdr: "bytes=100-200",
		behaviour:  map[string]any{"openError": true},
		wantStatus: 206, wantBody: [2]int64{100, 201},
		wantOpen:   []string{mp4 + "?open=error"},
		wantOrigin: []string{"sw bytes=100-200 /media/a.mp4?open=error"},
	}, {
		name: "open-timeout", path: mp4 + "?open=silent",
		behaviour:  map[string]any{"openSilent": true},
		wantStatus: 200, wantBody: [2]int64{0, S},
		wantOpen:   []string{mp4 + "?open=silent"},
		wantOrigin: []string{"sw  /media/a.mp4?open=silent"},
	}, {
		name: "no-port", path: mp4, rangeHdr: "bytes=100-200", inFrame: true,
		wantStatus: 206, wantBody: [2]int64{100, 201},
		wantOrigin: []string{"sw bytes=100-200 /media/a.mp4"},
	}, {
		name: "cancel", path: mp4, rangeHdr: "bytes=0-2000000", cancel: true,
		behaviour:  map[string]any{"silentFrom": 1},
		wantStatus: 206, wantHeaders: swHeaders("video/mp4", 0, 2000001, true),
		wantPieces: []int{0, 1},
	}, {
		name: "head", path: mp4, method: "HEAD",
		wantStatus: 200, wantBody: [2]int64{0, 0},
		wantOrigin: []string{"sw  /media/a.mp4"},
	}, {
		name: "not-proxied", path: mp4, plain: true, rangeHdr: "bytes=0-9",
		wantStatus: 206, wantBody: [2]int64{0, 10},
		wantOrigin: []string{"page bytes=0-9 /media/a.mp4"},
	}, {
		name: "not-proxied-scheme", path: "/x/__p2pmedia__/ftp/" + host + "/media/a.mp4", plain: true,
		wantStatus: 404,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { run(t, page, c) })
	}

	// A cold start: the browser stops the idle worker, and the next proxied
	// fetch starts it again without the page's port.
	t.Run("cold-start", func(t *testing.T) {
		loads := o.wasmLoads.Load()
		stopWorkers(t, page, base+"/sw.js")
		run(t, page, swCase{
			path: mp4, rangeHdr: "bytes=600000-1700000",
			wantStatus: 206, wantBody: [2]int64{600000, 1700001},
			wantOrigin: []string{"sw bytes=600000-1700000 /media/a.mp4"},
		})
		if got := o.wasmLoads.Load(); got != loads+1 {
			t.Errorf("p2p-sw.wasm loaded %d times after the restart, want %d", got, loads+1)
		}
		// The page sends a port again, and the pieces come from it again.
		if _, err := swEval[int](page, "connect", probe); err != nil {
			t.Fatalf("reconnecting: %v", err)
		}
		run(t, page, swCase{
			path: mp4, rangeHdr: "bytes=600000-1700000",
			wantStatus: 206, wantBody: [2]int64{600000, 1700001}, wantHeaders: swHeaders("video/mp4", 600000, 1700001, true),
			wantOpen: []string{mp4}, wantPieces: []int{1, 2, 3},
		})
	})

	// A foreign origin serving HTML and JS to anyone (CORS *): through a
	// proxied URL, none of it may run as the site.
	fl, err := n.Listen("tcp4", net.JoinHostPort(n.Addr(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	foreign := serveForeign(t, fl)
	foreignProxied := func(path string) string {
		return base + "/__p2pmedia__/http/" + strings.TrimPrefix(foreign.srv.URL, "http://") + path
	}
	if _, err := chromedp.Run(page, chromedp.Evaluate[any](`localStorage.setItem('secret', 'site-secret')`)); err != nil {
		t.Fatal(err)
	}
	t.Run("confinement", func(t *testing.T) {
		confined(t, page, foreign, foreignProxied, base+"/sw.html", true)
	})
	// After a cold start, the registered origins are still known (the
	// cold-start case above fetched one) and the rules still hold.
	t.Run("confinement-cold-start", func(t *testing.T) {
		stopWorkers(t, page, base+"/sw.js")
		confined(t, page, foreign, foreignProxied, base+"/sw.html", false)
	})

	// Where the wasm does not load, the loader alone still serves proxied
	// URLs from the origin, under the same rules.
	t.Run("without-wasm", func(t *testing.T) {
		loads := o.wasmLoads.Load()
		page, _ := newPage(t, "nowasm", "/sw-nowasm.js", "")
		run(t, page, swCase{
			path: mp4, rangeHdr: "bytes=600000-1700000",
			wantStatus: 206, wantBody: [2]int64{600000, 1700001},
			wantOrigin: []string{"sw bytes=600000-1700000 /media/a.mp4"},
		})
		if o.noWasm.Load() == 0 || o.wasmLoads.Load() != loads {
			t.Errorf("wasm fetched %d times from P2P_MEDIA_BASE and %d times from /dist/; want some and none", o.noWasm.Load(), o.wasmLoads.Load()-loads)
		}
		if _, err := chromedp.Run(page, chromedp.Evaluate[any](`localStorage.setItem('secret', 'site-secret')`)); err != nil {
			t.Fatal(err)
		}
		confined(t, page, foreign, foreignProxied, base+"/sw.html", true)
	})
	t.Logf("test time: %v", time.Since(start).Round(time.Millisecond))
}

// foreignOrigin is an origin the site never registered, serving HTML and
// JS that would betray running as the site, with CORS open to all.
type foreignOrigin struct {
	srv  *httptest.Server
	hits atomic.Int32
}

// foreignHTML reads the site's localStorage and shows it, were it to run as
// the site; foreignJS marks the page it runs in.
const (
	foreignHTML = `<!doctype html><title>foreign</title><script>document.title = 'RAN:' + location.origin + ':' + localStorage.getItem('secret');</script><body>foreign body</body>`
	foreignJS   = `window.foreignRan = true;`
	foreignData = "foreign media bytes"
)

func serveForeign(t *testing.T, l net.Listener) *foreignOrigin {
	t.Helper()
	f := &foreignOrigin{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "no-store")
		switch path.Ext(r.URL.Path) {
		case ".html":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, foreignHTML)
		case ".js":
			w.Header().Set("Content-Type", "text/javascript")
			io.WriteString(w, foreignJS)
		default:
			w.Header().Set("Content-Type", "video/mp4")
			io.WriteString(w, foreignData)
		}
	}))
	f.srv.Listener = l
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// frameReport is what swt.frameLoad reports.
type frameReport struct {
	Text     string `json:"text"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Readable bool   `json:"readable"`
}

// confined checks, on a page of the site whose service worker is
// installed, that proxied URLs of the foreign origin never run as the
// site: a top-level navigation, an iframe and a <script> get a 403 from
// the worker, which never fetches the foreign body, whether or not the
// origin is registered; a fetch (a media request) of it is refused until
// a page registers it (register: do so here), and served after. The page
// is left at sitePage, set up again.
func confined(t *testing.T, page context.Context, foreign *foreignOrigin, proxied func(string) string, sitePage string, register bool) {
	t.Helper()
	checkRefused := func(when string) {
		t.Helper()
		hits := foreign.hits.Load()
		fr, err := swEval[frameReport](page, "frameLoad", proxied("/x.html"))
		if err != nil {
			t.Fatalf("%s: iframe: %v", when, err)
		}
		if !fr.Readable || fr.Status != http.StatusForbidden || strings.HasPrefix(fr.Title, "RAN:") || strings.Contains(fr.Text, "foreign body") || !strings.Contains(fr.Text, "p2pmedia") {
			t.Errorf("%s: iframe of a proxied foreign page: %+v; want the worker's 403 text", when, fr)
		}
		sr, err := swEval[map[string]bool](page, "scriptLoad", proxied("/x.js"))
		if err != nil {
			t.Fatalf("%s: script: %v", when, err)
		}
		if sr["loaded"] || sr["ran"] {
			t.Errorf("%s: <script> of a proxied foreign script: %v; want an error, not run", when, sr)
		}
		if err := chromedp.Do(page, chromedp.Navigate(proxied("/x.html")), chromedp.Sleep(200*time.Millisecond)); err != nil {
			t.Fatalf("%s: navigating: %v", when, err)
		}
		nav, err := chromedp.Run(page, chromedp.Evaluate[frameReport](`({title: document.title, text: document.body ? document.body.innerText : '', status: performance.getEntriesByType('navigation')[0].responseStatus, readable: true})`))
		if err != nil {
			t.Fatalf("%s: reading the navigated page: %v", when, err)
		}
		title, text, status := nav.Title, nav.Text, nav.Status
		if status != http.StatusForbidden || strings.HasPrefix(title, "RAN:") || strings.Contains(text, "foreign body") {
			t.Errorf("%s: navigation to a proxied foreign page: status %d, title %q, text %q; want the worker's 403", when, status, title, text)
		}
		if got := foreign.hits.Load() - hits; got != 0 {
			t.Errorf("%s: the foreign origin got %d requests; want none", when, got)
		}
		if err := chromedp.Do(page, chromedp.Navigate(sitePage)); err != nil {
			t.Fatal(err)
		}
	}
	fetchForeign := func() swResponse {
		t.Helper()
		res, err := swEval[swResponse](page, "get", map[string]any{"url": proxied("/v.mp4")})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if register {
		hits := foreign.hits.Load()
		if res := fetchForeign(); res.Status != http.StatusForbidden || foreign.hits.Load() != hits {
			t.Errorf("fetch of an unregistered origin: status %d, %d requests to it; want 403 and none", res.Status, foreign.hits.Load()-hits)
		}
	}
	if register {
		checkRefused("unregistered")
	} else {
		checkRefused("after a cold start")
	}
	if register {
		if _, err := swEval[bool](page, "registerHosts", []string{foreign.srv.URL}); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte(foreignData))
	if res := fetchForeign(); res.Status != http.StatusOK || res.SHA256 != hex.EncodeToString(sum[:]) || res.Headers["x-content-type-options"] != "nosniff" {
		t.Errorf("fetch of a registered origin: %+v; want its media, nosniff", res)
	}
	checkRefused("registered")
}

// stopWorkers stops the running service workers of the page's browser
// context through DevTools, and waits until the one of scriptURL has
// stopped.
func stopWorkers(t *testing.T, page context.Context, scriptURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(page, 15*time.Second)
	defer cancel()
	events := chromedp.Events(ctx, serviceworker.WorkerVersionUpdated)
	if _, err := chromedp.Call(ctx, serviceworker.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enabling the ServiceWorker domain: %v", err)
	}
	if _, err := chromedp.Call(ctx, serviceworker.StopAllWorkers, cdp.Empty{}); err != nil {
		t.Fatalf("stopping the service workers: %v", err)
	}
	for ev, err := range events {
		if err != nil {
			t.Fatalf("waiting for the service worker to stop: %v", err)
		}
		for _, v := range ev.Versions {
			if v.ScriptURL == scriptURL && v.RunningStatus == serviceworker.VersionRunningStatusStopped {
				return
			}
		}
	}
	t.Fatal("the service worker did not stop")
}
