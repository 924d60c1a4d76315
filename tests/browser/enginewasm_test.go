//go:build linux

package browser_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/internal/chrome"
	"github.com/p2pmedia/p2pmedia/internal/netns"
	"github.com/p2pmedia/p2pmedia/tracker"
)

const (
	engineFileSize    = 3 << 20
	enginePieceLength = 512 << 10
)

// buildEngineWasm builds ./wasm for js/wasm into a temporary directory, with
// the toolchain's wasm_exec.js next to it, and returns the directory.
func buildEngineWasm(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "p2p-engine.wasm"), "./wasm")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building ./wasm: %v\n%s", err, out)
	}
	out, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	glue, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wasm_exec.js"), glue, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// countingWriter counts the body bytes a handler writes.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	k, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(k))
	return k, err
}

var engineModTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// listenIn starts an HTTP server for h inside the namespace.
func listenIn(t *testing.T, n *netns.Net, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := n.Listen("tcp4", net.JoinHostPort(n.Addr(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// serveFile serves file with ranges, an ETag and a Last-Modified date;
// served counts the body bytes sent.
func serveFile(file []byte, served *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"file-v1"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(countingWriter{w, served}, r, "file.bin", engineModTime, strings.NewReader(string(file)))
	}
}

// engineServer serves, inside the namespace, the engine test page, the
// wasm build, the media file (ranges, ETag, Last-Modified; served counts its
// bytes), the same file from an origin that ignores Range, and our tracker.
func engineServer(t *testing.T, n *netns.Net, dist string, file []byte, served *atomic.Int64) *httptest.Server {
	t.Helper()
	trk := tracker.New(tracker.Config{})
	mux := http.NewServeMux()
	mux.Handle("GET /engine/", http.StripPrefix("/engine/", http.FileServerFS(os.DirFS(filepath.Join("testdata", "engine")))))
	mux.Handle("GET /dist/", http.StripPrefix("/dist/", http.FileServerFS(os.DirFS(dist))))
	mux.HandleFunc("/media/file.bin", serveFile(file, served))
	mux.HandleFunc("/media/norange.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"norange-v1"`)
		w.Header().Set("Last-Modified", engineModTime.Format(http.TimeFormat))
		w.Header().Set("Content-Length", strconv.Itoa(len(file)))
		if r.Method != http.MethodHead {
			w.Write(file)
		}
	})
	mux.Handle("/tracker", trk)
	srv := listenIn(t, n, mux)
	t.Cleanup(func() { trk.Close() }) // runs before srv.Close: ends the WebSockets
	return srv
}

// crossOriginServer serves the file from another origin that allows the
// page's origin by CORS but exposes no header beyond the safelisted ones
// (so ETag and Content-Range are hidden from the page).
func crossOriginServer(t *testing.T, n *netns.Net, pageOrigin string, file []byte) *httptest.Server {
	t.Helper()
	var served atomic.Int64
	files := serveFile(file, &served)
	return listenIn(t, n, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
		w.Header().Set("Vary", "Origin")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD")
			w.Header().Set("Access-Control-Allow-Headers", "Range")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		files(w, r)
	}))
}

// evalIn evaluates a JS expression in a page, awaiting a promise, and
// decodes its value.
func evalIn[T any](ctx context.Context, timeout time.Duration, expr string) (T, error) {
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return chromedp.Run(c, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

type engineEvent struct {
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload"`
}

type engineStats struct {
	HTTP  float64 `json:"totalHTTPDownloaded"`
	P2P   float64 `json:"totalP2PDownloaded"`
	Up    float64 `json:"totalP2PUploaded"`
	Speed float64 `json:"p2pDownloadSpeed"`
}

type enginePeer struct {
	ID         string  `json:"id"`
	Swarm      string  `json:"swarm"`
	Downloaded float64 `json:"downloaded"`
	Uploaded   float64 `json:"uploaded"`
}

type readReport struct {
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	LastModified string `json:"lastModified"`
	PieceLength  int64  `json:"pieceLength"`
	Pieces       int    `json:"pieces"`
	SHA256       string `json:"sha256"`
}

// eventsOf returns the payloads of the events called name, in order.
func eventsOf[T any](t *testing.T, evs []engineEvent, name string) []T {
	t.Helper()
	var out []T
	for _, e := range evs {
		if e.Name != name {
			continue
		}
		var v T
		if err := json.Unmarshal(e.Payload, &v); err != nil {
			t.Errorf("event %s: payload %s: %v", name, e.Payload, err)
			continue
		}
		out = append(out, v)
	}
	return out
}

var hexPeerID = regexp.MustCompile(`^[0-9a-f]{40}$`)

// TestEngineWasm runs p2p-engine.wasm in three browser contexts that play
// the service worker's role over a MessagePort. Page A reads a 3 MiB file
// from the origin (and checks cancel, a 404, an origin that ignores Range
// and a cross-origin server that hides ETag and Content-Range); page B then
// reads it from A over WebRTC; page C, whose media element "plays" the
// file, gets it from its peers ahead of any request, through the playhead
// alone. Destroying B closes its peers. Page D, with a 1 MiB cache, evicts.
func TestEngineWasm(t *testing.T) {
	dist := buildEngineWasm(t)
	if fi, err := os.Stat(filepath.Join(dist, "p2p-engine.wasm")); err == nil {
		t.Logf("p2p-engine.wasm: %d bytes", fi.Size())
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	file := make([]byte, engineFileSize)
	rand.NewChaCha8([32]byte{'e', 'n', 'g', 'i', 'n', 'e'}).Read(file)
	sum := sha256.Sum256(file)
	wantSum := hex.EncodeToString(sum[:])

	n := setupNet(t, "p2pt-engine")
	var served atomic.Int64
	srv := engineServer(t, n, dist, file, &served)
	xsrv := crossOriginServer(t, n, srv.URL, file)
	fileURL := srv.URL + "/media/file.bin"
	wantChannel, err := identity.ChannelID(fileURL)
	if err != nil {
		t.Fatal(err)
	}

	b, err := chrome.Launch(ctx, n, chrome.Options{SecureOrigins: []string{srv.URL}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})

	config := func(diskCacheLimit int) map[string]any {
		return map[string]any{
			"announce":       []string{"ws" + strings.TrimPrefix(srv.URL, "http") + "/tracker"},
			"pieceLength":    enginePieceLength,
			"webRTCConfig":   map[string]any{"iceServers": []any{}},
			"p2pEnabled":     true,
			"diskCacheLimit": diskCacheLimit,
			"minBufferCount": 0,
			"logLevel":       "warn",
			"mediaElem":      nil,
		}
	}
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// startPage opens a page in a context of its own, loads the wasm and
	// starts an engine with cfg and fakeMedia (a JS object, or null) as its
	// media element; it returns the page and its peer id.
	startPage := func(label string, cfg map[string]any, fakeMedia any) (context.Context, string) {
		page, closePage, err := b.NewContext(label)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closePage)
		nctx, ncancel := context.WithTimeout(page, 20*time.Second)
		err = chromedp.Do(nctx, chromedp.Navigate(srv.URL+"/engine/engine.html"))
		ncancel()
		if err != nil {
			t.Fatalf("page %s: navigating: %v", label, err)
		}
		api, err := evalIn[map[string]any](page, 20*time.Second, "engineTest.load()")
		if err != nil {
			t.Fatalf("page %s: loading the wasm: %v", label, err)
		}
		if api["version"] == "" || api["protocolVersion"] != float64(identity.ProtocolVersion) || api["newEngine"] != "function" {
			t.Errorf("page %s: __p2pmedia = %v, want a version, protocolVersion %d and newEngine", label, api, identity.ProtocolVersion)
		}
		id, err := evalIn[string](page, 5*time.Second, fmt.Sprintf("engineTest.start(%s, %s)", js(cfg), js(fakeMedia)))
		if err != nil {
			t.Fatalf("page %s: newEngine: %v", label, err)
		}
		if !hexPeerID.MatchString(id) {
			t.Errorf("page %s: peerId() = %q, want 40 hex digits", label, id)
		}
		return page, id
	}
	events := func(page context.Context, label string) []engineEvent {
		evs, err := evalIn[[]engineEvent](page, 5*time.Second, "engineTest.events()")
		if err != nil {
			t.Fatalf("page %s: events: %v", label, err)
		}
		return evs
	}
	statsOf := func(page context.Context, label string) engineStats {
		st, err := evalIn[engineStats](page, 5*time.Second, "engineTest.stats()")
		if err != nil {
			t.Fatalf("page %s: stats(): %v", label, err)
		}
		return st
	}
	// waitStats waits for a stats event whose field counts the whole file.
	waitStats := func(page context.Context, field string, timeout time.Duration) error {
		_, err := evalIn[bool](page, timeout+time.Second, fmt.Sprintf(`engineTest.waitFor(() => {
			const e = engineTest.events().filter((e) => e.name === 'stats').pop();
			return e && e.payload.%s >= %d;
		}, %d, 'stats').then(() => true)`, field, engineFileSize/1024, timeout.Milliseconds()))
		return err
	}
	readAll := func(page context.Context, label, url, etag string) {
		t.Helper()
		got, err := evalIn[readReport](page, 20*time.Second, fmt.Sprintf("engineTest.readAll(%s, 2)", js(url)))
		if err != nil {
			t.Fatalf("page %s: reading %s: %v", label, url, err)
		}
		if got.SHA256 != wantSum || got.Size != engineFileSize || got.PieceLength != enginePieceLength || got.Pieces != 6 {
			t.Errorf("page %s read %s as %+v, want %d bytes in 6 pieces of %d with SHA-256 %s", label, url, got, engineFileSize, enginePieceLength, wantSum)
		}
		if got.ETag != etag || got.LastModified != "Tue, 02 Jan 2024 03:04:05 GMT" {
			t.Errorf("page %s: open %s gave etag %q, lastModified %q; want %q and the file's date", label, url, got.ETag, got.LastModified, etag)
		}
	}
	peersWithout := func(page context.Context, label, id string) {
		t.Helper()
		expr := fmt.Sprintf(`engineTest.waitFor(() => {
			const e = engineTest.events().filter((e) => e.name === 'peers').pop();
			return e && !e.payload.some((p) => p.id === %s);
		}, 14000, 'peer %s to leave').then(() => true)`, js(id), id)
		if _, err := evalIn[bool](page, 15*time.Second, expr); err != nil {
			t.Errorf("page %s: %v", label, err)
		}
	}

	// Page A: a cancelled request, then the whole file from the origin.
	pageA, idA := startPage("A", config(64<<20), nil)
	canc, err := evalIn[map[string]any](pageA, 10*time.Second, fmt.Sprintf("engineTest.open(%s).then(() => engineTest.cancelPiece(%[1]s, 5, 1500))", js(fileURL)))
	if err != nil {
		t.Fatalf("page A: cancel: %v", err)
	}
	if canc["replied"] == true && canc["ok"] == true {
		t.Errorf("page A: a cancelled piece request was answered with data: %v", canc)
	}
	t.Logf("page A: cancelled request: %v", canc)
	readAll(pageA, "A", fileURL, `"file-v1"`)
	if err := waitStats(pageA, "totalHTTPDownloaded", 4*time.Second); err != nil {
		t.Errorf("page A: no stats event with the file's 3072 KB from HTTP: %v", err)
	}
	servedByA := served.Load()
	t.Logf("page A read the file: %d bytes from the origin; test time so far %v", servedByA, time.Since(start).Round(time.Millisecond))

	// Origin failures and quirks, on page A.
	missing, err := evalIn[map[string]any](pageA, 10*time.Second, fmt.Sprintf("engineTest.openReply(%s)", js(srv.URL+"/media/missing.bin")))
	if err != nil || missing["ok"] != false || !strings.Contains(fmt.Sprint(missing["error"]), "404") {
		t.Errorf("page A: open of a missing file answered %v (%v), want ok:false with status 404", missing, err)
	}
	readAll(pageA, "A", srv.URL+"/media/norange.bin", `"norange-v1"`)
	readAll(pageA, "A", xsrv.URL+"/media/file.bin", "") // ETag is not exposed
	cached, err := evalIn[int](pageA, 5*time.Second, "engineTest.cachedPieces()")
	if err != nil || cached != 18 {
		t.Errorf("page A: Cache Storage holds %d pieces (%v), want 18", cached, err)
	}

	// Page B: waits for A as a peer, then reads the file.
	pageB, idB := startPage("B", config(64<<20), nil)
	if _, err := evalIn[map[string]any](pageB, 10*time.Second, fmt.Sprintf("engineTest.open(%s)", js(fileURL))); err != nil {
		t.Fatalf("page B: open: %v", err)
	}
	peers, err := evalIn[[]enginePeer](pageB, 20*time.Second, "engineTest.waitPeers(true, 19000)")
	if err != nil {
		t.Fatalf("page B: %v", err)
	}
	if len(peers) != 1 || peers[0].ID != idA || peers[0].Swarm != wantChannel {
		t.Errorf("page B: peers = %+v, want A (%s) in swarm %s", peers, idA, wantChannel)
	}
	readAll(pageB, "B", fileURL, `"file-v1"`)
	servedToB := served.Load() - servedByA
	if err := waitStats(pageB, "totalP2PDownloaded", 4*time.Second); err != nil {
		t.Errorf("page B: no stats event with the file's 3072 KB from peers: %v", err)
	}
	stB := statsOf(pageB, "B")
	stA := statsOf(pageA, "A")
	t.Logf("page B: %.0f KB from peers, %.0f KB over HTTP (origin sent %d bytes meanwhile); page A uploaded %.0f KB",
		stB.P2P, stB.HTTP, servedToB, stA.Up)
	if stB.P2P <= 0 || stB.P2P <= stB.HTTP || servedToB*2 >= engineFileSize {
		t.Errorf("page B: %.0f KB from peers and %.0f KB over HTTP (origin sent %d bytes): want most from peers", stB.P2P, stB.HTTP, servedToB)
	}
	if stA.Up <= 0 {
		t.Errorf("page A: uploaded %.0f KB, want > 0", stA.Up)
	}

	// Page C: its media element plays the proxied file (30 s long): the
	// playhead alone makes the engine fetch every piece from peers, before
	// any piece request.
	host := strings.TrimPrefix(srv.URL, "http://")
	pageC, _ := startPage("C", config(64<<20), map[string]any{
		"currentSrc":   srv.URL + "/__p2pmedia__/http/" + host + "/media/file.bin",
		"currentTime":  0,
		"duration":     30,
		"paused":       false,
		"playbackRate": 1,
		"readyState":   4,
	})
	if _, err := evalIn[map[string]any](pageC, 10*time.Second, fmt.Sprintf("engineTest.open(%s)", js(fileURL))); err != nil {
		t.Fatalf("page C: open: %v", err)
	}
	if err := waitStats(pageC, "totalP2PDownloaded", 20*time.Second); err != nil {
		t.Errorf("page C: the playhead did not bring the file from peers: %v", err)
	}
	readAll(pageC, "C", fileURL, `"file-v1"`)
	if stC := statsOf(pageC, "C"); stC.HTTP != 0 {
		t.Errorf("page C: %.0f KB over HTTP, want none", stC.HTTP)
	}

	// Events of A and B.
	for _, pg := range []struct {
		label string
		page  context.Context
		id    string
	}{{"A", pageA, idA}, {"B", pageB, idB}} {
		evs := events(pg.page, pg.label)
		if ids := eventsOf[string](t, evs, "peerId"); len(ids) != 1 || ids[0] != pg.id {
			t.Errorf("page %s: peerId events %q, want [%s]", pg.label, ids, pg.id)
		}
		if up := eventsOf[bool](t, evs, "serverConnected"); len(up) == 0 || !up[0] {
			t.Errorf("page %s: serverConnected events %v, want true first", pg.label, up)
		}
		stats := eventsOf[engineStats](t, evs, "stats")
		if len(stats) == 0 {
			t.Errorf("page %s: no stats event", pg.label)
		}
		for _, s := range stats {
			if s.HTTP < 0 || s.P2P < 0 || s.Up < 0 || s.Speed < 0 || s.HTTP+s.P2P > 4*engineFileSize/1024 {
				t.Errorf("page %s: stats event %+v out of range", pg.label, s)
			}
		}
	}
	var http404 bool
	for _, ex := range eventsOf[map[string]any](t, events(pageA, "A"), "exception") {
		if ex["code"] == "HTTP_EXPT" && strings.Contains(fmt.Sprint(ex["message"]), "missing.bin") && ex["stack"] == "" {
			http404 = true
		}
	}
	if !http404 {
		t.Errorf("page A: no exception event {code: HTTP_EXPT, message, stack: ''} for the missing file")
	}
	if ps := eventsOf[[]enginePeer](t, events(pageA, "A"), "peers"); len(ps) == 0 || len(ps[len(ps)-1]) != 2 {
		t.Errorf("page A: peers events %+v, want B and C last", ps)
	}

	// destroy closes B's peers: B reports none, A and C see B leave, and
	// B's port answers with an error.
	if _, err := evalIn[any](pageB, 5*time.Second, "engineTest.destroy()"); err != nil {
		t.Fatalf("page B: destroy: %v", err)
	}
	if _, err := evalIn[[]enginePeer](pageB, 10*time.Second, "engineTest.waitPeers(false, 9000)"); err != nil {
		t.Errorf("page B after destroy: %v", err)
	}
	peersWithout(pageA, "A", idB)
	peersWithout(pageC, "C", idB)
	after, err := evalIn[map[string]any](pageB, 5*time.Second, fmt.Sprintf("engineTest.pieceReply(%s, 0)", js(fileURL)))
	if err != nil {
		t.Errorf("page B: request after destroy: %v", err)
	} else if after["ok"] != false || after["error"] == "" {
		t.Errorf("page B: request after destroy answered %v, want ok:false with an error", after)
	}
	// Page D keeps 1 MiB of pieces: reading the file evicts the first four
	// of its six pieces, and an evicted piece is fetched again.
	pageD, _ := startPage("D", config(1<<20), nil)
	readAll(pageD, "D", fileURL, `"file-v1"`)
	// A reader gets a piece before Cache Storage has taken it: let the last
	// writes and evictions land before counting.
	cached, err = evalIn[int](pageD, 5*time.Second, "engineTest.cachedPieces()")
	for end := time.Now().Add(5 * time.Second); err == nil && cached != 2 && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		cached, err = evalIn[int](pageD, 5*time.Second, "engineTest.cachedPieces()")
	}
	if err != nil || cached != 2 {
		t.Errorf("page D: Cache Storage holds %d pieces (%v), want 2 within 1 MiB", cached, err)
	}
	again, err := evalIn[map[string]any](pageD, 10*time.Second, fmt.Sprintf("engineTest.pieceReply(%s, 0)", js(fileURL)))
	if err != nil || again["ok"] != true || again["bytes"] != float64(enginePieceLength) {
		t.Errorf("page D: evicted piece 0 asked again: %v (%v)", again, err)
	}

	for _, pg := range []struct {
		label string
		page  context.Context
	}{{"A", pageA}, {"B", pageB}, {"C", pageC}, {"D", pageD}} {
		if un, err := evalIn[[]any](pg.page, 5*time.Second, "engineTest.unexpected()"); err != nil || len(un) > 0 {
			t.Errorf("page %s: replies to no pending request: %v (%v)", pg.label, un, err)
		}
	}
	t.Logf("test time after the build: %v", time.Since(start).Round(time.Millisecond))
}
