//go:build linux

package browser_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/internal/chrome"
	"github.com/p2pmedia/p2pmedia/internal/netns"
)

// The streaming tests and benchmarks run the real demo (p2pmedia demo, built
// from ./cmd/p2pmedia, serving the examples directory and build/dist) on
// 127.0.0.1, and put a recording reverse proxy in front of it inside the
// test's network namespace: the browsers there load the demo's pages
// through the proxy, which counts what the origin serves (the CDN's side of
// the story) and adds the broken streams of TestBadStreams under /bad/.

// streamDistFiles are the build outputs the demo pages load.
var streamDistFiles = []string{"p2p-engine.min.js", "p2p-sw.js", "p2p-engine.wasm", "p2p-sw.wasm", "wasm_exec.js"}

// streamPlayers are the npm packages of examples/package.json, each with a
// file of its dist directory that the pages load.
var streamPlayers = map[string]string{
	"hls.js":       "hls.min.js",
	"video.js":     "video.min.js",
	"shaka-player": "shaka-player.compiled.js",
}

// streamRepoRoot returns the repository's root directory.
func streamRepoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// streamRequireDist fails the test unless build/dist holds the browser build.
func streamRequireDist(tb testing.TB, root string) string {
	tb.Helper()
	dist := filepath.Join(root, "build", "dist")
	for _, f := range streamDistFiles {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			tb.Fatalf("%s lacks %s: run make build first", dist, f)
		}
	}
	return dist
}

// streamNPMMu keeps two tests of one process from running npm ci at once.
var streamNPMMu sync.Mutex

// streamRequirePlayers installs the players (npm ci in examples/) when
// examples/node_modules lacks one of them.
func streamRequirePlayers(tb testing.TB, root string) {
	tb.Helper()
	streamNPMMu.Lock()
	defer streamNPMMu.Unlock()
	examples := filepath.Join(root, "examples")
	missing := false
	for pkg, file := range streamPlayers {
		if _, err := os.Stat(filepath.Join(examples, "node_modules", pkg, "dist", file)); err != nil {
			missing = true
		}
	}
	if !missing {
		return
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		tb.Fatalf("examples/node_modules lacks the players and there is no npm to install them (make deps): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = examples
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("npm ci in examples: %v\n%s", err, out)
	}
}

// streamBuildDemo builds ./cmd/p2pmedia into a temporary directory.
func streamBuildDemo(tb testing.TB, root string) string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(tb.TempDir(), "p2pmedia")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/p2pmedia")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building ./cmd/p2pmedia: %v\n%s", err, out)
	}
	return bin
}

var streamDemoLine = regexp.MustCompile(`^demo: open (http://127\.0\.0\.1:\d+)/$`)

// streamStartDemo runs "p2pmedia demo" on 127.0.0.1 (in the test process's
// own namespace: only the proxy talks to it) and returns its base URL. The
// process is interrupted when the test ends.
func streamStartDemo(tb testing.TB, bin, root, dist string) string {
	tb.Helper()
	cmd := exec.Command(bin, "demo", "--listen", "127.0.0.1:0", "--dist", dist, "--examples", filepath.Join(root, "examples"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = &streamLogWriter{tb: tb, prefix: "demo stderr: "}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the demo: %v", err)
	}
	exited := make(chan error, 1)
	lines := bufio.NewScanner(stdout)
	urlc := make(chan string, 1)
	go func() {
		first := true
		for lines.Scan() {
			if m := streamDemoLine.FindStringSubmatch(lines.Text()); first && m != nil {
				urlc <- m[1]
				first = false
			}
		}
		close(urlc)
		exited <- cmd.Wait()
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				tb.Errorf("the demo exited with %v", err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			tb.Errorf("the demo did not stop within 15 s of an interrupt")
		}
	})
	select {
	case u, ok := <-urlc:
		if !ok {
			tb.Fatal("the demo exited without serving")
		}
		return u
	case <-time.After(30 * time.Second):
		tb.Fatal("the demo printed no address within 30 s")
	}
	return ""
}

// staleStreamNS matches the names of the streaming tests' namespaces.
var staleStreamNS = regexp.MustCompile(`^p2pt-st(\d+)$`)

// reapStreamNS deletes the namespaces of streaming test processes that are
// gone (a run that crashed before its clean-up).
func reapStreamNS(tb testing.TB) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, ent := range entries {
		m := staleStreamNS.FindStringSubmatch(ent.Name())
		if m == nil || m[1] == strconv.Itoa(os.Getpid()) {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", m[1])); err == nil {
			continue // its test process still runs
		}
		// Setup removes what is left of a namespace of that name first.
		if n, err := netns.Setup(ent.Name()); err == nil {
			err = n.Close()
		}
		if err != nil {
			tb.Logf("removing the stale namespace %s: %v", ent.Name(), err)
		}
	}
}

// streamLogWriter logs each line written to it.
type streamLogWriter struct {
	tb     testing.TB
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *streamLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		w.tb.Logf("%s%s", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// streamHit is one response of the origin to a media request.
type streamHit struct {
	Method string
	Path   string
	Range  string
	Status int
	Bytes  int64
	At     time.Time
}

// streamOriginLog records the origin's media responses.
type streamOriginLog struct {
	mu   sync.Mutex
	hits []streamHit
}

func (l *streamOriginLog) add(h streamHit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hits = append(l.hits, h)
}

// snapshot returns the hits so far.
func (l *streamOriginLog) snapshot() []streamHit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]streamHit(nil), l.hits...)
}

// isStreamSegment reports whether an origin path is a media segment (not a
// playlist, manifest or page).
func isStreamSegment(p string) bool {
	return strings.HasSuffix(p, ".ts") || strings.HasSuffix(p, ".m4s")
}

// streamSegmentBytes sums the body bytes of the segment responses that match.
func streamSegmentBytes(hits []streamHit, match func(streamHit) bool) int64 {
	var n int64
	for _, h := range hits {
		if isStreamSegment(h.Path) && (match == nil || match(h)) {
			n += h.Bytes
		}
	}
	return n
}

// streamCounter counts the body bytes and keeps the status of a response.
type streamCounter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (c *streamCounter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *streamCounter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.bytes += int64(n)
	return n, err
}

func (c *streamCounter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// streamEnv is one streaming test's world: the demo, the proxy in the
// namespace, and one Chromium there.
type streamEnv struct {
	tb      testing.TB
	root    string
	n       *netns.Net
	origin  string // the proxy's base URL, as the browsers reach it
	demo    string // the demo's own base URL, on 127.0.0.1
	hits    *streamOriginLog
	browser *chrome.Browser
	// bad serves the paths under /bad/ (TestBadStreams); nil: 404.
	mu  sync.Mutex
	bad http.Handler
	// hashes serves /__hashes/ instead of the demo's hash service
	// (useWorkerHashes); nil: the demo's.
	hashes http.Handler
}

// useWorkerHashes has the Workers build of the hash service, under workerd
// on loopback, answer the pages' requests to /__hashes/ in place of the
// demo's own. Its fetches of the media go to the demo itself.
func (e *streamEnv) useWorkerHashes(tb testing.TB) {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close() // workerd holds its own copy
	demo := strings.TrimPrefix(e.demo, "http://")
	var logs strings.Builder
	var mu sync.Mutex
	cmd, err := startWorkerd(ln.(*net.TCPListener), fmt.Sprintf("external = (address = %q, http = ())", demo), e.origin,
		exec.Command, writerFunc(func(b []byte) { mu.Lock(); logs.Write(b); mu.Unlock() }))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() {
			mu.Lock()
			tb.Logf("workerd:\n%s", logs.String())
			mu.Unlock()
		}
	})
	target, err := url.Parse("http://" + ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	e.mu.Lock()
	e.hashes = httputil.NewSingleHostReverseProxy(target)
	e.mu.Unlock()
}

// writerFunc is an io.Writer that hands each write to a function.
type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

// newStreamEnv sets up a streaming test: it checks the build, installs the
// players if needed, builds and starts the demo, creates the namespace ns,
// starts the proxy in it and launches Chromium there.
func newStreamEnv(tb testing.TB, ns string) *streamEnv {
	tb.Helper()
	root := streamRepoRoot(tb)
	dist := streamRequireDist(tb, root)
	streamRequirePlayers(tb, root)
	demoURL := streamStartDemo(tb, streamBuildDemo(tb, root), root, dist)
	target, err := url.Parse(demoURL)
	if err != nil {
		tb.Fatal(err)
	}

	reapStreamNS(tb)
	n, err := netns.Setup(ns)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Error(err)
		}
	})
	e := &streamEnv{tb: tb, root: root, n: n, hits: &streamOriginLog{}, demo: demoURL}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
		// The engine's files and the players' are served as a CDN serves
		// versioned files: cached for a year, so that a repeat visit
		// (BenchmarkFirstFrame) reads them from the HTTP cache.
		ModifyResponse: func(r *http.Response) error {
			p := r.Request.URL.Path
			if r.StatusCode == http.StatusOK && (strings.HasPrefix(p, "/dist/") || strings.HasPrefix(p, "/vendor/")) {
				r.Header.Set("Cache-Control", "public, max-age=31536000, immutable")
			}
			return nil
		},
	}
	l, err := n.Listen("tcp4", net.JoinHostPort(n.Addr(), "0"))
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		media := strings.HasPrefix(p, "/media/") || strings.HasPrefix(p, "/live/") || strings.HasPrefix(p, "/bad/")
		if !media || r.Method == http.MethodOptions {
			e.mu.Lock()
			hashes := e.hashes
			e.mu.Unlock()
			if rest, ok := strings.CutPrefix(p, "/__hashes/"); ok && hashes != nil {
				r.URL.Path = "/" + rest
				hashes.ServeHTTP(w, r)
				return
			}
			proxy.ServeHTTP(w, r)
			return
		}
		cw := &streamCounter{ResponseWriter: w}
		if strings.HasPrefix(p, "/bad/") {
			e.mu.Lock()
			bad := e.bad
			e.mu.Unlock()
			if bad == nil {
				bad = http.NotFoundHandler()
			}
			bad.ServeHTTP(cw, r)
		} else {
			proxy.ServeHTTP(cw, r)
		}
		e.hits.add(streamHit{Method: r.Method, Path: p, Range: r.Header.Get("Range"), Status: cw.status, Bytes: cw.bytes, At: time.Now()})
	})}
	go srv.Serve(l)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	})
	e.origin = "http://" + l.Addr().String()

	lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.browser, err = chrome.Launch(lctx, n, chrome.Options{
		SecureOrigins: []string{e.origin},
		Flags:         []string{"--mute-audio"},
		Logf:          streamBrowserLog(tb),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.browser.Close(); err != nil {
			tb.Error(err)
		}
	})
	return e
}

// streamBrowserLog logs the browser's lines, except the players' chatter.
func streamBrowserLog(tb testing.TB) func(string, ...any) {
	var mu sync.Mutex
	lines := 0
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		for _, n := range []string{"ALSA lib ", "/alsa/alsa_util.cc"} {
			if strings.Contains(line, n) {
				return
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(line) > 400 {
			line = line[:400] + "…"
		}
		if lines++; lines > 400 {
			return // enough to see what happened
		}
		tb.Logf("%s", line)
	}
}

// setBad installs the handler of the paths under /bad/.
func (e *streamEnv) setBad(h http.Handler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bad = h
}

// demoGet GETs a path straight from the demo (not through the proxy: the
// request is not recorded).
func (e *streamEnv) demoGet(p string) ([]byte, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(e.demo + p)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", p, resp.Status)
	}
	return body, nil
}

// streamViewer is one browser context with a demo page.
type streamViewer struct {
	label string
	page  context.Context
	url   string
}

// open opens pagePath (a path with query on the origin) in a browser context
// of its own.
func (e *streamEnv) open(label, pagePath string) *streamViewer {
	e.tb.Helper()
	page, closePage, err := e.browser.NewContext(label)
	if err != nil {
		e.tb.Fatal(err)
	}
	e.tb.Cleanup(closePage)
	v := &streamViewer{label: label, page: page, url: e.origin + pagePath}
	nctx, cancel := context.WithTimeout(page, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(v.url)); err != nil {
		e.tb.Fatalf("viewer %s: opening %s: %v", label, v.url, err)
	}
	return v
}

// streamFrag is one segment a player received (window.__demo.frags).
type streamFrag struct {
	URL    string  `json:"url"`
	Type   string  `json:"type"`
	Level  int     `json:"level"`
	SN     float64 `json:"sn"`
	Bytes  int64   `json:"bytes"`
	SHA256 string  `json:"sha256"`
	T      float64 `json:"t"` // ms since the epoch
}

// streamPlayerError is one error event of the player.
type streamPlayerError struct {
	T       float64 `json:"t"`
	Fatal   bool    `json:"fatal"`
	Type    string  `json:"type"`
	Details string  `json:"details"`
	URL     string  `json:"url"`
	Status  int     `json:"status"`
	Message string  `json:"message"`
}

// streamError is one entry of window.__demo.errors: an engine exception or a
// page error.
type streamError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// streamStatus is what a streaming page reports in window.__demo.
type streamStatus struct {
	Loaded       bool                `json:"loaded"`
	State        string              `json:"state"`
	Playing      bool                `json:"playing"`
	Ended        bool                `json:"ended"`
	Position     float64             `json:"position"`
	Duration     float64             `json:"duration"`
	Stats        engineStats         `json:"stats"`
	Peers        []enginePeer        `json:"peers"`
	Errors       []streamError       `json:"errors"`
	Frags        []streamFrag        `json:"frags"`
	Stalls       int                 `json:"stalls"`
	PlayerErrors []streamPlayerError `json:"playerErrors"`
	Level        int                 `json:"level"`
	Levels       []struct {
		Height    int     `json:"height"`
		Bandwidth float64 `json:"bandwidth"`
	} `json:"levels"`
	P2P    bool   `json:"p2p"`
	Source string `json:"source"`
	Now    int64  `json:"now"`
}

const streamStatusJS = `(() => {
  const d = window.__demo;
  if (!d || !d.frags) return {loaded: false, now: Date.now()};
  return {
    loaded: true, state: d.state, playing: d.playing, ended: d.ended, position: d.position, duration: d.duration,
    stats: d.stats, peers: (d.peers || []).map((p) => ({id: String(p.id), swarm: String(p.swarm || ''), downloaded: p.downloaded || 0, uploaded: p.uploaded || 0})),
    errors: d.errors.map((e) => ({code: e.code, message: e.message})),
    frags: d.frags, stalls: d.stalls, playerErrors: d.playerErrors, level: d.level, levels: d.levels,
    p2p: d.p2p, source: d.source, now: Date.now(),
  };
})()`

// status reads the page's window.__demo.
func (v *streamViewer) status() (streamStatus, error) {
	ctx, cancel := context.WithTimeout(v.page, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[streamStatus](streamStatusJS))
}

// eval evaluates a JS expression in the page.
func (v *streamViewer) eval(expr string) (any, error) {
	ctx, cancel := context.WithTimeout(v.page, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[any](expr))
}

// fatal returns the page's fatal problems: a fatal player error, a media
// element error, a page error.
func (s streamStatus) fatal() []string {
	var out []string
	for _, e := range s.PlayerErrors {
		if e.Fatal {
			out = append(out, fmt.Sprintf("player: %s %s (%s %d) %s", e.Type, e.Details, e.URL, e.Status, e.Message))
		}
	}
	for _, e := range s.Errors {
		switch e.Code {
		case "MEDIA_ERR", "PAGE_ERR", "PLAY_ERR":
			out = append(out, e.Code+": "+e.Message)
		}
	}
	return out
}

// exceptions returns the engine's exception events (the errors that are
// not the page's or the player's).
func (s streamStatus) exceptions() []streamError {
	var out []streamError
	for _, e := range s.Errors {
		switch e.Code {
		case "MEDIA_ERR", "PAGE_ERR", "PLAY_ERR", "PLAYER_ERR":
		default:
			out = append(out, e)
		}
	}
	return out
}

// line is a one-line summary for the log.
func (s streamStatus) line() string {
	return fmt.Sprintf("%-9s %5.1f/%4.1fs level %d http %6.0f KB p2p %6.0f KB up %6.0f KB peers %d frags %d stalls %d errors %d",
		s.State, s.Position, s.Duration, s.Level, s.Stats.HTTP, s.Stats.P2P, s.Stats.Up, len(s.Peers), len(s.Frags), s.Stalls, len(s.Errors))
}

// streamOriginPath returns the origin path a player's URL names: proxied URLs
// (<scope>__p2pmedia__/http/<host>/<path>) are unwrapped.
func streamOriginPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	p := u.Path
	if _, rest, ok := strings.Cut(p, "/__p2pmedia__/"); ok {
		scheme, hostPath, ok := strings.Cut(rest, "/")
		if !ok || (scheme != "http" && scheme != "https") {
			return "", fmt.Errorf("proxied URL %s: bad scheme", raw)
		}
		_, p, ok = strings.Cut(hostPath, "/")
		if !ok {
			return "", fmt.Errorf("proxied URL %s: no path", raw)
		}
		p = "/" + p
	}
	return path.Clean(p), nil
}

var streamLiveSeg = regexp.MustCompile(`^/live/([a-z0-9]+)/seg-(\d+)\.ts$`)

// streamDiskFile returns the file of examples/media that the origin serves at an
// origin path: /media/X is media/X; a live segment /live/<r>/seg-N.ts is
// media/hls/<r>/seg_<N mod 10>.ts; /bad/hls/X mirrors media/hls/X.
func streamDiskFile(root, p string) (string, bool) {
	media := filepath.Join(root, "examples", "media")
	switch {
	case strings.HasPrefix(p, "/media/"):
		return filepath.Join(media, filepath.FromSlash(strings.TrimPrefix(p, "/media/"))), true
	case strings.HasPrefix(p, "/bad/hls/"):
		return filepath.Join(media, "hls", filepath.FromSlash(strings.TrimPrefix(p, "/bad/hls/"))), true
	}
	if m := streamLiveSeg.FindStringSubmatch(p); m != nil {
		seq, err := strconv.ParseUint(m[2], 10, 64)
		if err != nil {
			return "", false
		}
		return filepath.Join(media, "hls", m[1], fmt.Sprintf("seg_%03d.ts", seq%10)), true
	}
	return "", false
}

// streamHashes caches the SHA-256 of files.
type streamHashes struct {
	mu sync.Mutex
	m  map[string]string
}

func (h *streamHashes) of(file string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.m[file]; ok {
		return s, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	s := hex.EncodeToString(sum[:])
	if h.m == nil {
		h.m = make(map[string]string)
	}
	h.m[file] = s
	return s, nil
}

// checkStreamFrags compares every segment a viewer's player received with the
// origin's file and returns the mismatches; checked counts the segments
// compared.
func checkStreamFrags(root string, hashes *streamHashes, frags []streamFrag) (checked int, bad []string) {
	for _, f := range frags {
		p, err := streamOriginPath(f.URL)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		file, ok := streamDiskFile(root, p)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no file on disk for %s", f.URL, p))
			continue
		}
		want, err := hashes.of(file)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", f.URL, err))
			continue
		}
		checked++
		if f.SHA256 != want {
			bad = append(bad, fmt.Sprintf("%s (%d bytes): SHA-256 %q, the origin's file %s", p, f.Bytes, f.SHA256, want))
		}
	}
	return checked, bad
}

// waitHashed polls a viewer until every recorded segment has its hash (the
// page computes them asynchronously).
func (v *streamViewer) waitHashed(timeout time.Duration) (streamStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := v.status()
		if err != nil {
			return st, err
		}
		pending := 0
		for _, f := range st.Frags {
			if f.SHA256 == "" {
				pending++
			}
		}
		if pending == 0 {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("viewer %s: %d segments still unhashed", v.label, pending)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// streamNS is the network namespace of the streaming tests and benchmarks:
// one per test process (p2pt-st<pid>), so that two runs of the package on
// one machine do not tear down each other's browsers.
var streamNS = fmt.Sprintf("p2pt-st%d", os.Getpid())

// streamJoinEvery is the time between two viewers of a VOD scenario opening
// the page: later viewers join while earlier ones still play.
const streamJoinEvery = 10 * time.Second

// watch opens n viewers of pagePath, join apart, and polls them every
// second until each is done (done reports it), or until limit has passed
// since the last one opened. It logs the viewers' state every 5 s and
// returns them with their last status.
func (e *streamEnv) watch(label, pagePath string, n int, join, limit time.Duration, done func(streamStatus) bool) ([]*streamViewer, []streamStatus) {
	e.tb.Helper()
	var viewers []*streamViewer
	var sts []streamStatus
	var lastOpen time.Time
	lastLog := time.Now()
	for tick := time.NewTicker(time.Second); ; <-tick.C {
		if len(viewers) < n && (len(viewers) == 0 || time.Since(lastOpen) >= join) {
			v := e.open(fmt.Sprintf("%s%d", label, len(viewers)+1), pagePath)
			lastOpen = time.Now()
			viewers = append(viewers, v)
			sts = append(sts, streamStatus{})
		}
		all := len(viewers) == n
		for i, v := range viewers {
			st, err := v.status()
			if err != nil {
				e.tb.Logf("viewer %s: %v", v.label, err)
				all = false
				continue
			}
			sts[i] = st
			if !st.Loaded || !done(st) {
				all = false
			}
		}
		if time.Since(lastLog) >= 5*time.Second || all {
			lastLog = time.Now()
			for i, v := range viewers {
				e.tb.Logf("viewer %s: %s", v.label, sts[i].line())
			}
		}
		if all {
			return viewers, sts
		}
		if len(viewers) == n && time.Since(lastOpen) > limit {
			e.tb.Errorf("%s: the viewers were not done %v after the last one opened", pagePath, limit)
			return viewers, sts
		}
	}
}

// ended is the done condition of VOD playback: the end, or a fatal error.
func ended(st streamStatus) bool { return st.Ended || len(st.fatal()) > 0 }

// streamVOD is the outcome of a VOD scenario.
type streamVOD struct {
	viewers   []*streamViewer
	status    []streamStatus // after every segment was hashed
	hits      []streamHit    // the origin's media responses
	checked   int            // segments compared with the origin's files
	mismatch  []string       // segments that differ
	elapsed   time.Duration
	httpBytes int64 // segment bytes the origin served
}

// runStreamVOD plays a VOD page with n viewers that join streamJoinEvery
// apart, each to the end, and compares every segment they received with
// the origin's files.
func runStreamVOD(tb testing.TB, e *streamEnv, pagePath string, n int, join time.Duration) streamVOD {
	tb.Helper()
	start := time.Now()
	viewers, _ := e.watch("v", pagePath, n, join, 120*time.Second, ended)
	r := streamVOD{viewers: viewers, elapsed: time.Since(start)}
	var hashes streamHashes
	for _, v := range viewers {
		st, err := v.waitHashed(5 * time.Second)
		if err != nil {
			tb.Error(err)
		}
		r.status = append(r.status, st)
		c, bad := checkStreamFrags(e.root, &hashes, st.Frags)
		r.checked += c
		for _, b := range bad {
			r.mismatch = append(r.mismatch, "viewer "+v.label+": "+b)
		}
	}
	r.hits = e.hits.snapshot()
	r.httpBytes = streamSegmentBytes(r.hits, nil)
	return r
}

// p2pBytes sums the viewers' bytes from peers (the engine's stats).
func (r streamVOD) p2pBytes() int64 {
	var kb float64
	for _, st := range r.status {
		kb += st.Stats.P2P
	}
	return int64(kb * 1024)
}

// shareFields formats the bytes of a scenario for a BENCH line.
func shareFields(httpBytes, p2pBytes int64) string {
	share := 0.0
	if httpBytes+p2pBytes > 0 {
		share = float64(p2pBytes) / float64(httpBytes+p2pBytes)
	}
	return fmt.Sprintf("http_mib=%.2f p2p_mib=%.2f p2p_share=%.2f", float64(httpBytes)/(1<<20), float64(p2pBytes)/(1<<20), share)
}

var dashChunk = regexp.MustCompile(`/chunk-(\d+)-(\d+)\.m4s$`)

// coverage returns, for each kind of stream (video/main or audio), the
// segment numbers a viewer's player received.
func coverage(frags []streamFrag) map[string][]int {
	out := make(map[string][]int)
	for _, f := range frags {
		kind, num := f.Type, int(f.SN)
		if m := dashChunk.FindStringSubmatch(f.URL); m != nil {
			num, _ = strconv.Atoi(m[2])
		} else if f.SN < 0 {
			continue // an initialisation segment
		}
		if !slices.Contains(out[kind], num) {
			out[kind] = append(out[kind], num)
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// seq returns the integers [from, to].
func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// checkStreamVOD asserts what every VOD scenario must give: each viewer
// played to the end without a fatal error, received every segment of the
// stream (want: kind → segment numbers) with the origin's bytes, and the
// viewers after the first took most of their bytes from peers.
func checkStreamVOD(t *testing.T, r streamVOD, want map[string][]int) {
	t.Helper()
	for i, st := range r.status {
		label := r.viewers[i].label
		if !st.Ended {
			t.Errorf("viewer %s did not play to the end: %s", label, st.line())
		}
		if f := st.fatal(); len(f) > 0 {
			t.Errorf("viewer %s: fatal errors: %q", label, f)
		}
		if !st.P2P {
			t.Errorf("viewer %s: the engine did not proxy the stream (source %s)", label, st.Source)
		}
		if got := coverage(st.Frags); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("viewer %s received segments %v, want %v", label, got, want)
		}
		if ex := st.exceptions(); len(ex) > 0 {
			t.Logf("viewer %s: engine exceptions: %+v", label, ex)
		}
		if i > 0 && st.Stats.P2P <= st.Stats.HTTP {
			t.Errorf("viewer %s (joined %v after the first): %.0f KB from peers, %.0f KB over HTTP; want most from peers",
				label, time.Duration(i)*streamJoinEvery, st.Stats.P2P, st.Stats.HTTP)
		}
	}
	if r.checked == 0 {
		t.Errorf("no segment recorded by the pages")
	}
	for _, m := range r.mismatch {
		t.Errorf("bytes differ from the origin's: %s", m)
	}
	t.Logf("%d segments compared with the origin's files; origin served %.2f MiB of segments, peers %.2f MiB; %v",
		r.checked, float64(r.httpBytes)/(1<<20), float64(r.p2pBytes())/(1<<20), r.elapsed.Round(time.Second))
}

// hlsSegments and dashSegments are the segments of the sample streams.
var (
	hlsSegments  = map[string][]int{"audio": seq(0, 9), "main": seq(0, 9)}
	dashSegments = map[string][]int{"audio": seq(1, 11), "video": seq(1, 10)}
)

// TestHLSVOD: three viewers of hls.html (hls.js) join 10 s apart and play
// the VOD stream's 360p rendition (level=2: one swarm; ABR would scatter the
// viewers over renditions) to the end at twice the normal speed. Every
// segment hls.js received (hashed by the page's segment loader, before the
// demuxer takes the buffer) must be the origin's, and the later viewers
// must take most of their bytes from peers.
func TestHLSVOD(t *testing.T) {
	e := newStreamEnv(t, streamNS)
	r := runStreamVOD(t, e, "/hls.html?autoplay=1&level=2&rate=2", 3, streamJoinEvery)
	checkStreamVOD(t, r, hlsSegments)
}

// TestDASHVOD: the same with dash.html (Shaka Player, whose response filter
// hashes the segments).
func TestDASHVOD(t *testing.T) {
	e := newStreamEnv(t, streamNS)
	r := runStreamVOD(t, e, "/dash.html?autoplay=1&level=2&rate=2", 3, streamJoinEvery)
	checkStreamVOD(t, r, dashSegments)
}

// TestABRSwitch: two viewers play the whole HLS stream, one in 360p and one
// in 144p, so that peers hold both renditions. A third viewer starts in
// 360p with 8 s of forward buffer and, 8 s in, switches to 144p
// (window.__demo.switchLevel, hls.js nextLevel). Playback must go on to the
// end in the new rendition, with the origin's bytes, and most of the 144p
// bytes it received after the switch must come from peers (the origin's
// 144p responses after the switch are all the third viewer's).
func TestABRSwitch(t *testing.T) {
	e := newStreamEnv(t, streamNS)
	seeders, sts := e.watch("seed", "/hls.html?autoplay=1&rate=2&level=2", 1, 0, 90*time.Second, ended)
	low, lowSts := e.watch("seedlow", "/hls.html?autoplay=1&rate=2&level=0", 1, 0, 90*time.Second, ended)
	seeders, sts = append(seeders, low...), append(sts, lowSts...)
	for i, st := range sts {
		if !st.Ended {
			t.Fatalf("seeder %s did not play to the end: %s %q", seeders[i].label, st.line(), st.fatal())
		}
	}

	c := e.open("switcher", "/hls.html?autoplay=1&rate=2&level=2&buffer=8")
	var atSwitch streamStatus
	var switchedAt time.Time
	deadline := time.Now().Add(60 * time.Second)
	for switchedAt.IsZero() {
		st, err := c.status()
		if err != nil {
			t.Fatal(err)
		}
		if f := st.fatal(); len(f) > 0 {
			t.Fatalf("switcher before the switch: %q", f)
		}
		if st.Position >= 8 {
			ok, err := c.eval("window.__demo.switchLevel(0)")
			if err != nil || ok != true {
				t.Fatalf("switchLevel(0) = %v, %v", ok, err)
			}
			atSwitch, switchedAt = st, time.Now()
			t.Logf("switched to 144p at %.1f s: %s", st.Position, st.line())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the switcher did not reach 8 s within 60 s: %s", st.line())
		}
		time.Sleep(250 * time.Millisecond)
	}
	var end streamStatus
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		st, err := c.status()
		if err != nil {
			t.Fatal(err)
		}
		end = st
		if ended(st) || time.Now().After(deadline) {
			break
		}
	}
	end, err := c.waitHashed(5 * time.Second)
	if err != nil {
		t.Error(err)
	}
	t.Logf("switcher at the end: %s", end.line())
	if !end.Ended {
		t.Errorf("the switcher did not play to the end: %s", end.line())
	}
	if f := end.fatal(); len(f) > 0 {
		t.Errorf("switcher: fatal errors: %q", f)
	}
	if end.Stalls > 0 {
		t.Logf("switcher: %d stalls", end.Stalls)
	}
	var hashes streamHashes
	if checked, bad := checkStreamFrags(e.root, &hashes, end.Frags); checked == 0 || len(bad) > 0 {
		t.Errorf("switcher: %d segments checked, differing from the origin's: %q", checked, bad)
	}
	if got := coverage(end.Frags); fmt.Sprint(got) != fmt.Sprint(hlsSegments) {
		t.Errorf("switcher received segments %v, want %v", got, hlsSegments)
	}

	// The 144p segments it received after the switch, and what the origin
	// sent of 144p meanwhile.
	var after []int
	var gotBytes int64
	for _, f := range end.Frags {
		if f.Type == "main" && f.Level == 0 && int64(f.T) >= switchedAt.UnixMilli() {
			after = append(after, int(f.SN))
			gotBytes += f.Bytes
		}
		if f.Type == "main" && f.Level != 0 && int64(f.T) > switchedAt.UnixMilli()+4000 {
			t.Errorf("segment %d of rendition %d received %d ms after the switch to 0", int(f.SN), f.Level, int64(f.T)-switchedAt.UnixMilli())
		}
	}
	originBytes := streamSegmentBytes(e.hits.snapshot(), func(h streamHit) bool {
		return strings.HasPrefix(h.Path, "/media/hls/144p/") && h.At.After(switchedAt)
	})
	t.Logf("after the switch: 144p segments %v, %d bytes received, %d bytes from the origin; engine P2P %.0f → %.0f KB, HTTP %.0f → %.0f KB",
		after, gotBytes, originBytes, atSwitch.Stats.P2P, end.Stats.P2P, atSwitch.Stats.HTTP, end.Stats.HTTP)
	if len(after) < 3 || !slices.Contains(after, 9) {
		t.Errorf("after the switch the player received 144p segments %v, want the rest of the stream", after)
	}
	if originBytes*2 >= gotBytes {
		t.Errorf("after the switch: the origin sent %d bytes of 144p for the %d bytes the player received: want most from peers", originBytes, gotBytes)
	}
	if end.Stats.P2P <= atSwitch.Stats.P2P {
		t.Errorf("no bytes from peers after the switch (engine P2P %.0f KB → %.0f KB)", atSwitch.Stats.P2P, end.Stats.P2P)
	}
}

// streamLiveSegments is how many new live segments TestHLSLive counts.
const streamLiveSegments = 6

// liveEdge returns the media sequence number of the newest segment of the
// demo's live 360p playlist.
func (e *streamEnv) liveEdge() (int, error) {
	b, err := e.demoGet("/live/360p/index.m3u8")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"); ok {
			first, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("live playlist: %q", line)
			}
			return first + strings.Count(string(b), "#EXTINF:") - 1, nil
		}
	}
	return 0, fmt.Errorf("live playlist without EXT-X-MEDIA-SEQUENCE:\n%s", b)
}

// streamLive is the outcome of a live scenario.
type streamLive struct {
	viewers  []*streamViewer
	status   []streamStatus
	window   []int          // the media sequence numbers counted
	fetches  map[string]int // "<rendition>/<seq>" → origin GETs that sent bytes
	probes   int            // origin requests for those segments that sent none
	perSeg   float64        // origin GETs per segment and rendition
	checked  int
	mismatch []string
	hits     []streamHit
}

// runStreamLive opens n viewers of live.html 2 s apart (all on rendition
// 360p: one swarm per rendition), waits until all play, then counts the
// origin's GETs of the segments that appear during the next `segments`
// target durations.
func runStreamLive(tb testing.TB, e *streamEnv, n, segments int) streamLive {
	tb.Helper()
	playing := func(st streamStatus) bool { return (st.Playing && st.Position > 0) || len(st.fatal()) > 0 }
	viewers, sts := e.watch("live", "/live.html?autoplay=1&level=2", n, 2*time.Second, 60*time.Second, playing)
	r := streamLive{viewers: viewers, fetches: make(map[string]int)}
	for i, st := range sts {
		if f := st.fatal(); len(f) > 0 || !st.Playing {
			tb.Fatalf("live viewer %s does not play: %s %q", viewers[i].label, st.line(), f)
		}
	}
	first, err := e.liveEdge()
	if err != nil {
		tb.Fatal(err)
	}
	// Every viewer has the segments up to the edge soon after they appear:
	// wait for `segments` more, and two target durations beyond.
	for i := range segments {
		r.window = append(r.window, first+1+i)
	}
	wait := time.Duration(segments+2) * 4 * time.Second
	tb.Logf("live edge at %d; counting segments %v for %v", first, r.window, wait)
	for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(5 * time.Second) {
		for _, v := range viewers {
			if st, err := v.status(); err == nil {
				tb.Logf("viewer %s: %s", v.label, st.line())
			}
		}
	}
	var hashes streamHashes
	for _, v := range viewers {
		st, err := v.waitHashed(5 * time.Second)
		if err != nil {
			tb.Error(err)
		}
		r.status = append(r.status, st)
		c, bad := checkStreamFrags(e.root, &hashes, st.Frags)
		r.checked += c
		for _, b := range bad {
			r.mismatch = append(r.mismatch, "viewer "+v.label+": "+b)
		}
	}
	r.hits = e.hits.snapshot()
	renditions := map[string]bool{}
	for _, h := range r.hits {
		m := streamLiveSeg.FindStringSubmatch(h.Path)
		if m == nil {
			continue
		}
		renditions[m[1]] = true
		s, _ := strconv.Atoi(m[2])
		if !slices.Contains(r.window, s) {
			continue
		}
		// A fetch moves the segment's bytes; a HEAD, or a GET dropped
		// after its headers, only asks for its size and validators.
		if h.Method == http.MethodGet && h.Bytes > 0 {
			r.fetches[m[1]+"/"+m[2]]++
		} else {
			r.probes++
		}
	}
	total := 0
	for _, k := range r.fetches {
		total += k
	}
	if len(renditions) > 0 {
		r.perSeg = float64(total) / float64(len(r.window)*len(renditions))
	}
	return r
}

// TestHLSLive: four viewers of live.html watch the live stream together.
// Over six new segments, the origin must send each segment of each
// rendition at most 1.5 times on average across the swarm (the elected
// fetchers share it; requests that carry no body, such as HEADs for the
// size, are counted apart and logged), every segment the players received must be the
// origin's, and no player may stall after it started.
func TestHLSLive(t *testing.T) {
	e := newStreamEnv(t, streamNS)
	r := runStreamLive(t, e, 4, streamLiveSegments)
	for i, st := range r.status {
		label := r.viewers[i].label
		if f := st.fatal(); len(f) > 0 {
			t.Errorf("viewer %s: fatal errors %q", label, f)
		}
		if st.Stalls > 0 {
			t.Errorf("viewer %s stalled %d times after it started playing", label, st.Stalls)
		}
		got := coverage(st.Frags)
		for _, kind := range []string{"main", "audio"} {
			for _, s := range r.window {
				if !slices.Contains(got[kind], s) {
					t.Errorf("viewer %s: no %s segment %d among %v", label, kind, s, got[kind])
				}
			}
		}
		t.Logf("viewer %s: %s", label, st.line())
	}
	for _, m := range r.mismatch {
		t.Errorf("bytes differ from the origin's: %s", m)
	}
	t.Logf("origin fetches per segment in the window: %v (%.2f per segment and rendition), and %d requests without a body; %d segments checked",
		r.fetches, r.perSeg, r.probes, r.checked)
	// What the origin sent for the window's first segment, to tell a
	// fetch per viewer from fallbacks and range requests.
	for _, h := range r.hits {
		if m := streamLiveSeg.FindStringSubmatch(h.Path); m != nil && m[2] == strconv.Itoa(r.window[0]) {
			t.Logf("origin: %s %s range %q: %d, %d bytes at %s", h.Method, h.Path, h.Range, h.Status, h.Bytes, h.At.Format("15:04:05.000"))
		}
	}
	if r.perSeg < 1 {
		t.Errorf("the origin served the window's segments %.2f times each on average: some were never fetched", r.perSeg)
	}
	if r.perSeg > 1.5 {
		t.Errorf("the origin served each live segment %.2f times on average across 4 viewers, want at most 1.5", r.perSeg)
	}
}

// badOutcome is how a page ended up with a broken stream.
type badOutcome struct {
	terminal string   // "ended", "fatal <details>", or "hung"
	errors   []string // distinct network or fatal player errors: "<details> fatal=<bool> status=<n>"
}

func outcomeOf(st streamStatus) badOutcome {
	var o badOutcome
	switch {
	case st.Ended:
		o.terminal = "ended"
	default:
		o.terminal = "hung"
		for _, e := range st.PlayerErrors {
			if e.Fatal {
				o.terminal = "fatal " + e.Details
				break
			}
		}
	}
	for _, e := range st.PlayerErrors {
		// Buffering notices (a gap jumped, a short stall) depend on timing;
		// the network's errors and the fatal ones do not.
		if !e.Fatal && e.Type != "networkError" && e.Type != "category 1" {
			continue
		}
		s := fmt.Sprintf("%s fatal=%v status=%d", e.Details, e.Fatal, e.Status)
		if !slices.Contains(o.errors, s) {
			o.errors = append(o.errors, s)
		}
	}
	slices.Sort(o.errors)
	return o
}

// TestBadStreams opens broken streams twice each, once with the engine and
// once without (p2p=0), all at the same time: a master playlist that is not
// one, a media playlist that is not one, a master playlist and an MPD that
// are 404, and a segment the origin refuses with 500 (360p seg_003, the
// rendition forced). With the engine the player must end up as it does
// without it (the same end, the same network and fatal error events),
// nothing may hang (each page reaches its end within the bound), and the
// engine must report an exception naming what failed.
func TestBadStreams(t *testing.T) {
	e := newStreamEnv(t, streamNS)
	demo, err := url.Parse(e.demo)
	if err != nil {
		t.Fatal(err)
	}
	mirror := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(demo)
		r.Out.URL.Path = "/media/hls/" + strings.TrimPrefix(r.In.URL.Path, "/bad/hls/")
		r.Out.URL.RawPath = ""
	}}
	bad := http.NewServeMux()
	files := http.StripPrefix("/bad/files/", http.FileServerFS(os.DirFS(filepath.Join("testdata", "streaming"))))
	bad.HandleFunc("GET /bad/files/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		files.ServeHTTP(w, r)
	})
	bad.Handle("GET /bad/hls/", mirror)
	bad.HandleFunc("GET /bad/hls/360p/seg_003.ts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		http.Error(w, "refused", http.StatusInternalServerError)
	})
	e.setBad(bad)

	cases := []struct {
		name, page, src string
		want            string // what the engine's exception must name
	}{
		{"master not a playlist", "hls.html", "/bad/files/not-a-playlist.m3u8", "not-a-playlist.m3u8"},
		{"media playlist malformed", "hls.html", "/bad/files/broken/master.m3u8", "broken/media.m3u8"},
		{"playlist 404", "hls.html", "/bad/missing/master.m3u8", "missing/master.m3u8"},
		{"mpd 404", "dash.html", "/bad/missing/manifest.mpd", "missing/manifest.mpd"},
		{"segment 500", "hls.html", "/bad/hls/master.m3u8", "seg_003.ts"},
	}
	type run struct {
		v      *streamViewer
		engine bool
		st     streamStatus
	}
	runs := make([][2]*run, len(cases))
	for i, c := range cases {
		for j, engine := range []bool{false, true} {
			q := url.Values{"autoplay": {"1"}, "rate": {"2"}, "level": {"2"}, "src": {c.src}}
			if !engine {
				q.Set("p2p", "0")
			}
			label := fmt.Sprintf("%s/p2p=%v", c.name, engine)
			runs[i][j] = &run{v: e.open(label, "/"+c.page+"?"+q.Encode()), engine: engine}
		}
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		done := true
		for _, rr := range runs {
			for _, r := range rr {
				st, err := r.v.status()
				if err != nil {
					t.Logf("%s: %v", r.v.label, err)
					done = false
					continue
				}
				r.st = st
				if !st.Loaded || !ended(st) {
					done = false
				}
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for i, c := range cases {
		base, with := outcomeOf(runs[i][0].st), outcomeOf(runs[i][1].st)
		t.Logf("%s: without the engine %s %q; with it %s %q; engine exceptions %+v", c.name,
			base.terminal, base.errors, with.terminal, with.errors, runs[i][1].st.exceptions())
		if base.terminal == "hung" {
			t.Errorf("%s: without the engine the page did not end within the bound: %s", c.name, runs[i][0].st.line())
		}
		if with.terminal == "hung" {
			t.Errorf("%s: with the engine the page hangs: %s", c.name, runs[i][1].st.line())
		}
		if with.terminal != base.terminal || fmt.Sprint(with.errors) != fmt.Sprint(base.errors) {
			t.Errorf("%s: with the engine the player ends %s with errors %q; without it %s with %q",
				c.name, with.terminal, with.errors, base.terminal, base.errors)
		}
		if !runs[i][1].st.P2P {
			t.Errorf("%s: the engine did not proxy the stream (source %s)", c.name, runs[i][1].st.Source)
		}
		named := false
		for _, ex := range runs[i][1].st.exceptions() {
			if strings.Contains(ex.Message, c.want) {
				named = true
			}
		}
		if !named {
			t.Errorf("%s: no engine exception names %s (exceptions: %+v)", c.name, c.want, runs[i][1].st.exceptions())
		}
	}
}
