//go:build linux

package browser_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/hashservice"
	"github.com/p2pmedia/p2pmedia/internal/chrome"
	"github.com/p2pmedia/p2pmedia/internal/netns"
	"github.com/p2pmedia/p2pmedia/tracker"
)

// The end-to-end tests and browser benchmarks (e2e_*_test.go, bench_test.go)
// run the product as a site owner meets it: the files of `make build`
// (build/dist), a one-line sw.js, the site's media, and our tracker, all
// served by this test process inside a network namespace, with Chromium
// playing the media in real <video> and <audio> elements. They share one
// namespace, one server and one browser (e2eSetup); each viewer is a browser
// context of its own. TestMain tears the fixture down after the run.

// e2eNetName is the network namespace of the end-to-end tests;
// P2PT_NETNS names another, so that two runs can share a machine.
func e2eNetName() string {
	if n := os.Getenv("P2PT_NETNS"); n != "" {
		return n
	}
	return "p2pt-e2e"
}

// e2eGenSize is the size of the generated file of the data channel
// benchmark (/media/<tag>/gen16.bin).
const e2eGenSize = 16 << 20

// e2eModTime is the Last-Modified date of every media file.
var e2eModTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func TestMain(m *testing.M) {
	if os.Getenv(poisonerEnv) != "" {
		if err := runPoisoner(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if err := e2eTeardown(); err != nil {
		fmt.Fprintln(os.Stderr, "tearing down the end-to-end fixture:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// e2eEnv is the shared fixture: the namespace, the site's server and
// tracker, and one Chromium.
type e2eEnv struct {
	n          *netns.Net
	srv        *httptest.Server
	trk        *tracker.Server
	b          *chrome.Browser
	base       string // http://<namespace address>:<port>
	trackerURL string // ws://…/tracker
	closedURL  string // ws:// URL of a port where nothing listens
	dist       string
	version    string // the VERSION file
	media      map[string]*mediaFile
	origin     *originLog
	log        *switchLog
	signals    *mailbox
	slow       throttle     // the media under "slow-" tags
	hashes     http.Handler // the piece-hash service, under /__hashes
	back       *http.Server // the site on loopback, for the hash service
	workerLn   net.Listener // the Workers hash service's, in the namespace
	workerOnce sync.Once
	workerd    *exec.Cmd
	workerErr  error
}

// mediaFile is one file the origin serves.
type mediaFile struct {
	name string
	data []byte
	etag string
}

var (
	e2eOnce   sync.Once
	e2eShared *e2eEnv
	e2eErr    error
	e2eMu     sync.Mutex // guards the teardown against a late setup
)

// e2eSetup returns the shared fixture, creating it on first use, and routes
// the browser's log to tb until tb ends. It fails tb when build/dist is
// incomplete or the fixture cannot start.
func e2eSetup(tb testing.TB) *e2eEnv {
	tb.Helper()
	dist := distDir(tb)
	e2eOnce.Do(func() {
		e2eMu.Lock()
		defer e2eMu.Unlock()
		e2eShared, e2eErr = newE2EEnv(dist)
	})
	if e2eErr != nil {
		tb.Fatalf("starting the end-to-end fixture: %v", e2eErr)
	}
	e2eShared.log.attach(tb)
	return e2eShared
}

// distDir returns the absolute path of build/dist, failing tb when a file
// of `make build` is missing there.
func distDir(tb testing.TB) string {
	tb.Helper()
	dist, err := filepath.Abs(filepath.Join("..", "..", "build", "dist"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range []string{"p2p-engine.js", "p2p-engine.min.js", "p2p-sw.js", "p2p-engine.wasm", "p2p-sw.wasm", "wasm_exec.js"} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			tb.Fatalf("%s is missing: run make build first (%v)", filepath.Join(dist, f), err)
		}
	}
	return dist
}

// e2eTeardown closes the fixture if a test created it.
func e2eTeardown() error {
	e2eMu.Lock()
	defer e2eMu.Unlock()
	if e2eShared == nil {
		return nil
	}
	return e2eShared.close()
}

func newE2EEnv(dist string) (env *e2eEnv, err error) {
	version, err := os.ReadFile(filepath.Join("..", "..", "VERSION"))
	if err != nil {
		return nil, fmt.Errorf("reading VERSION: %w", err)
	}
	e := &e2eEnv{
		dist:    dist,
		version: strings.TrimSpace(string(version)),
		media:   make(map[string]*mediaFile),
		origin:  &originLog{},
		log:     &switchLog{},
		signals: &mailbox{slots: make(map[string]*slot)},
	}
	for _, name := range []string{"sample.mp4", "sample.mp3"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "media", name))
		if err != nil {
			return nil, fmt.Errorf("reading the sample media: %w", err)
		}
		e.addMedia(name, b)
	}
	gen := make([]byte, e2eGenSize)
	rand.NewChaCha8([32]byte{'e', '2', 'e', 'g', 'e', 'n'}).Read(gen)
	e.addMedia("gen16.bin", gen)

	defer func() {
		if err != nil {
			err = errors.Join(err, e.close())
		}
	}()
	if e.n, err = netns.Setup(e2eNetName()); err != nil {
		return nil, err
	}
	l, err := e.n.Listen("tcp4", net.JoinHostPort(e.n.Addr(), "0"))
	if err != nil {
		return nil, err
	}
	// A port that refuses connections: listen, note it, close.
	dead, err := e.n.Listen("tcp4", net.JoinHostPort(e.n.Addr(), "0"))
	if err != nil {
		l.Close()
		return nil, err
	}
	e.closedURL = "ws://" + dead.Addr().String() + "/tracker"
	dead.Close()

	e.trk = tracker.New(tracker.Config{})
	e.base = "http://" + l.Addr().String()
	// The piece-hash service, for the viewers that set hashSource. It runs
	// in this process, outside the namespace: it reaches the site through
	// a second listener of the same handler, on loopback.
	back, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		l.Close()
		return nil, err
	}
	if e.hashes, err = siteHashes(e.base, back.Addr().String()); err != nil {
		l.Close()
		back.Close()
		return nil, err
	}
	// Where the Workers build of the hash service listens, under workerd
	// in the namespace, once a test starts it (workerHashes).
	if e.workerLn, err = e.n.Listen("tcp4", net.JoinHostPort(e.n.Addr(), "0")); err != nil {
		l.Close()
		back.Close()
		return nil, err
	}
	e.srv = httptest.NewUnstartedServer(e.handler())
	e.srv.Listener = l
	e.srv.Start()
	e.back = &http.Server{Handler: e.srv.Config.Handler}
	go e.back.Serve(back)
	e.trackerURL = "ws" + strings.TrimPrefix(e.base, "http") + "/tracker"

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.b, err = chrome.Launch(ctx, e.n, chrome.Options{
		SecureOrigins: []string{e.base, "http://" + e.workerLn.Addr().String()},
		Flags:         []string{"--mute-audio"},
		Logf:          e.log.logf,
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// close stops the browser, the tracker and the server, and deletes the
// namespace.
func (e *e2eEnv) close() error {
	var errs []error
	if e.b != nil {
		errs = append(errs, e.b.Close())
	}
	if e.trk != nil {
		errs = append(errs, e.trk.Close())
	}
	if e.srv != nil {
		e.srv.Close()
	}
	if e.back != nil {
		e.back.Close()
	}
	if e.workerd != nil {
		e.workerd.Process.Kill()
		e.workerd.Wait()
	}
	if e.workerLn != nil {
		e.workerLn.Close()
	}
	if e.n != nil {
		errs = append(errs, e.n.Close())
	}
	return errors.Join(errs...)
}

func (e *e2eEnv) addMedia(name string, data []byte) {
	sum := sha256.Sum256(data)
	e.media[name] = &mediaFile{name: name, data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// handler is the site: its pages (testdata/e2e), its sw.js, the files of
// build/dist, its media with ranges and validators (counted in e.origin),
// the tracker, and the helpers of the benchmarks (the engine test page,
// rawdc.html and its signaling mailbox).
func (e *e2eEnv) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(os.DirFS(filepath.Join("testdata", "e2e"))))
	mux.HandleFunc("GET /sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte("self.importScripts('/dist/p2p-sw.js');\n"))
	})
	dist := http.StripPrefix("/dist/", http.FileServerFS(os.DirFS(e.dist)))
	mux.HandleFunc("GET /dist/", func(w http.ResponseWriter, r *http.Request) {
		if path.Ext(r.URL.Path) == ".wasm" {
			w.Header().Set("Content-Type", "application/wasm")
		}
		dist.ServeHTTP(w, r)
	})
	// /media/<name> and /media/<tag…>/<name>: the tag puts a test's viewers
	// in a swarm of their own (the default channel id is the URL's path).
	mux.HandleFunc("GET /media/{path...}", e.serveMedia)
	mux.Handle("GET /__hashes/", http.StripPrefix("/__hashes", e.hashes))
	mux.Handle("GET /tracker", e.trk)
	mux.Handle("GET /engine/", http.StripPrefix("/engine/", http.FileServerFS(os.DirFS(filepath.Join("testdata", "engine")))))
	mux.HandleFunc("GET /rawdc.html", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("testdata", "rawdc.html"))
	})
	mux.HandleFunc("POST /signal/{key...}", e.signals.post)
	mux.HandleFunc("GET /signal/{key...}", e.signals.get)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

// serveMedia serves a media file with Range, ETag and Last-Modified,
// cacheable, and records every request with the bytes of body written.
func (e *e2eEnv) serveMedia(w http.ResponseWriter, r *http.Request) {
	f := e.media[path.Base(r.PathValue("path"))]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	rec := e.origin.add(r)
	// Media is cacheable, as CDNs serve it: the browser's HTTP cache
	// keeps what the player read (validators, no Cache-Control).
	w.Header().Del("Cache-Control")
	w.Header().Set("ETag", f.etag)
	var out http.ResponseWriter = countingWriter{w, &rec.bytes}
	if strings.HasPrefix(r.PathValue("path"), "slow-") {
		out = throttledWriter{out, &e.slow}
	}
	http.ServeContent(out, r, f.name, e2eModTime, bytes.NewReader(f.data))
	rec.took.Store(int64(time.Since(rec.at)))
}

// slowRate is the rate at which the origin serves the media under tags
// starting with "slow-", all their requests together: a narrow link that a
// player cannot outrun, as with a long file.
const slowRate = 512 << 10 // bytes per second

// throttle spreads writes over time at slowRate, across all its writers.
type throttle struct {
	mu   sync.Mutex
	next time.Time
}

// wait returns once n more bytes may go.
func (t *throttle) wait(n int) {
	t.mu.Lock()
	now := time.Now()
	if t.next.Before(now) {
		t.next = now
	}
	at := t.next
	t.next = t.next.Add(time.Duration(n) * time.Second / slowRate)
	t.mu.Unlock()
	time.Sleep(time.Until(at))
}

// throttledWriter writes through a throttle, 16 KiB at a time.
type throttledWriter struct {
	http.ResponseWriter
	t *throttle
}

func (w throttledWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 16<<10)
		w.t.wait(k)
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// originRec is one media request at the origin.
type originRec struct {
	path  string // URL path
	who   string // "page:<v>" (a page's engine or element), "sw", or "other"
	dest  string // Sec-Fetch-Dest: "empty" for fetch(), "video"/"audio" for a media element
	rng   string // Range header
	at    time.Time
	took  atomic.Int64 // nanoseconds until the body was written
	bytes atomic.Int64
}

// originLog records the media requests at the origin.
type originLog struct {
	mu   sync.Mutex
	recs []*originRec
}

// add records r. The requester comes from the Referer: the service worker's
// own fetches carry its script's URL, a page's carry the page's URL, whose
// query names the viewer (?v=<label>).
func (o *originLog) add(r *http.Request) *originRec {
	rec := &originRec{path: r.URL.Path, who: "other", dest: r.Header.Get("Sec-Fetch-Dest"), rng: r.Header.Get("Range"), at: time.Now()}
	if ref, err := url.Parse(r.Referer()); err == nil && r.Referer() != "" {
		switch {
		case path.Base(ref.Path) == "sw.js":
			rec.who = "sw"
		case ref.Query().Get("v") != "":
			rec.who = "page:" + ref.Query().Get("v")
		}
	}
	o.mu.Lock()
	o.recs = append(o.recs, rec)
	o.mu.Unlock()
	return rec
}

// mark returns the number of requests so far, to count from later.
func (o *originLog) mark() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.recs)
}

// bytes sums the body bytes of the requests from the from-th on that keep
// returns true for.
func (o *originLog) bytes(from int, keep func(*originRec) bool) int64 {
	o.mu.Lock()
	recs := o.recs[from:]
	o.mu.Unlock()
	var n int64
	for _, r := range recs {
		if keep(r) {
			n += r.bytes.Load()
		}
	}
	return n
}

// list describes the requests from the from-th on that keep returns true
// for, one line each.
func (o *originLog) list(from int, keep func(*originRec) bool) []string {
	o.mu.Lock()
	recs := o.recs[from:]
	o.mu.Unlock()
	var out []string
	var t0 time.Time
	for _, r := range recs {
		if keep(r) {
			if t0.IsZero() {
				t0 = r.at
			}
			out = append(out, fmt.Sprintf("+%dms %s %s dest=%s range=%q: %d bytes in %dms", r.at.Sub(t0).Milliseconds(), r.path, r.who, r.dest, r.rng, r.bytes.Load(), time.Duration(r.took.Load()).Milliseconds()))
		}
	}
	return out
}

// under keeps the requests for paths under prefix.
func under(prefix string) func(*originRec) bool {
	return func(r *originRec) bool { return strings.HasPrefix(r.path, prefix) }
}

// switchLog passes the browser's log lines to the test or benchmark that
// uses the fixture, buffered: they are written to it at its end when it
// failed or runs with -v (benchmarks always print their logs otherwise).
type switchLog struct {
	mu    sync.Mutex
	lines []string
	start time.Time
	on    bool
}

const maxLogLines = 20000

func (l *switchLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on || len(l.lines) >= maxLogLines {
		return
	}
	l.lines = append(l.lines, fmt.Sprintf("%8.3fs ", time.Since(l.start).Seconds())+fmt.Sprintf(format, args...))
}

// writer returns a writer whose lines go to the log, prefixed with name.
func (l *switchLog) writer(name string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			l.logf("%s: %s", name, sc.Text())
		}
	}()
	return pw
}

// attach starts collecting lines for tb.
func (l *switchLog) attach(tb testing.TB) {
	l.mu.Lock()
	if l.on {
		l.mu.Unlock()
		return // a subtest of a test that collects already
	}
	l.on, l.lines, l.start = true, nil, time.Now()
	l.mu.Unlock()
	tb.Cleanup(func() {
		l.mu.Lock()
		lines := l.lines
		l.on, l.lines = false, nil
		l.mu.Unlock()
		_, bench := tb.(*testing.B)
		if tb.Failed() || (testing.Verbose() && !bench) {
			tb.Logf("browser log (%d lines):\n%s", len(lines), strings.Join(lines, "\n"))
		}
	})
}

// viewer is one browser context with the site's player page.
type viewer struct {
	env   *e2eEnv
	label string
	ctx   context.Context
	close func()
}

// newViewer opens /player.html?v=<label>&<query> in a browser context of
// its own; the viewer is closed at the end of tb (or earlier by close).
func (e *e2eEnv) newViewer(tb testing.TB, label, query string) *viewer {
	tb.Helper()
	page, closePage, err := e.b.NewContext(label)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(closePage)
	u := e.base + "/player.html?v=" + url.QueryEscape(label)
	if query != "" {
		u += "&" + query
	}
	nctx, cancel := context.WithTimeout(page, 20*time.Second)
	err = chromedp.Do(nctx, chromedp.Navigate(u))
	cancel()
	if err != nil {
		tb.Fatalf("viewer %s: opening %s: %v", label, u, err)
	}
	return &viewer{env: e, label: label, ctx: page, close: closePage}
}

// engineOpts returns the options every page of the tests gives the engine
// (our tracker, no ICE servers, warnings logged) with extra on top.
func (e *e2eEnv) engineOpts(extra map[string]any) map[string]any {
	o := map[string]any{
		"announce":     []string{e.trackerURL},
		"webRTCConfig": map[string]any{"iceServers": []any{}},
		"logLevel":     "warn",
	}
	maps.Copy(o, extra)
	return o
}

// mediaURL is the absolute URL of a media file under a tag.
func (e *e2eEnv) mediaURL(tag, name string) string {
	return e.base + "/media/" + tag + "/" + name
}

// proxiedURL is what getProxiedUrl gives for u on the site's pages.
func (e *e2eEnv) proxiedURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	return e.base + "/__p2pmedia__/" + p.Scheme + "/" + p.Host + p.RequestURI()
}

func jsArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// eval evaluates a JS expression in the viewer's page, awaiting a promise.
func eval[T any](tb testing.TB, v *viewer, timeout time.Duration, expr string) T {
	tb.Helper()
	got, err := evalIn[T](v.ctx, timeout, expr)
	if err != nil {
		tb.Fatalf("viewer %s: %s: %v", v.label, shorten(expr), err)
	}
	return got
}

func shorten(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// create makes the viewer's engine with the test options and extra.
func (v *viewer) create(tb testing.TB, kind string, extra map[string]any) {
	tb.Helper()
	o := v.env.engineOpts(extra)
	o["kind"] = kind
	eval[bool](tb, v, 10*time.Second, "e2e.create("+jsArg(o)+")")
}

// play gives the player the proxied URL of u (or u itself when proxied is
// false, or when the engine says so), plays it at rate, and returns the
// URL the player got.
func (v *viewer) play(tb testing.TB, kind, u string, rate float64, proxied bool) string {
	tb.Helper()
	arg := map[string]any{"kind": kind, "url": u, "rate": rate, "proxied": proxied}
	return eval[string](tb, v, 20*time.Second, "e2e.play("+jsArg(arg)+")")
}

// mediaState is the player's state as e2e.snapshot reports it.
type mediaState struct {
	Src            string       `json:"src"`
	SetSrcAt       *float64     `json:"setSrcAt"`
	FirstPlayingAt *float64     `json:"firstPlayingAt"`
	EndedAt        *float64     `json:"endedAt"`
	Playing        int          `json:"playing"`
	Stalls         int          `json:"stalls"`
	SeekWaits      int          `json:"seekWaits"`
	Seeks          int          `json:"seeks"`
	TimeUpdates    int          `json:"timeupdates"`
	Ended          bool         `json:"ended"`
	Errors         []mediaError `json:"errors"`
	PlayErrors     []string     `json:"playErrors"`
	MaxTime        float64      `json:"maxTime"`
	CurrentTime    float64      `json:"currentTime"`
	Duration       float64      `json:"duration"`
	Paused         bool         `json:"paused"`
	ReadyState     int          `json:"readyState"`
	CurrentSrc     string       `json:"currentSrc"`
	PlaybackRate   float64      `json:"playbackRate"`
}

type mediaError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// e2eEvent is an engine event as the page recorded it, with the time it
// arrived (ms since the page's start).
type e2eEvent struct {
	engineEvent
	At float64 `json:"at"`
}

// snapshot is what a site could observe in one viewer.
type snapshot struct {
	Media      mediaState                   `json:"media"`
	Events     []e2eEvent                   `json:"events"`
	Calls      map[string][]json.RawMessage `json:"calls"`
	Counts     map[string]int               `json:"counts"`
	Warnings   []string                     `json:"warnings"`
	PageErrors []string                     `json:"pageErrors"`
	Stats      *engineStats                 `json:"stats"`
	StatsAt    float64                      `json:"statsAt"`
	Peers      []enginePeer                 `json:"peers"`
	PeerID     string                       `json:"peerId"`
	Now        float64                      `json:"now"`
}

func (v *viewer) snapshot(tb testing.TB) snapshot {
	tb.Helper()
	return eval[snapshot](tb, v, 10*time.Second, "e2e.snapshot()")
}

// events returns the viewer's events without their times.
func (s snapshot) events() []engineEvent {
	out := make([]engineEvent, len(s.Events))
	for i, e := range s.Events {
		out[i] = e.engineEvent
	}
	return out
}

// exceptions returns the payloads of the viewer's exception events.
func (s snapshot) exceptions() []map[string]any {
	var out []map[string]any
	for _, e := range s.Events {
		if e.Name != "exception" {
			continue
		}
		var m map[string]any
		if json.Unmarshal(e.Payload, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// stats returns the last stats event, or zero.
func (s snapshot) stats() engineStats {
	if s.Stats == nil {
		return engineStats{}
	}
	return *s.Stats
}

// waitFor polls the viewer's snapshot until done returns true; it fails tb
// when the player reports an error or timeout passes.
func (v *viewer) waitFor(tb testing.TB, what string, timeout time.Duration, done func(snapshot) bool) snapshot {
	tb.Helper()
	end := time.Now().Add(timeout)
	for {
		s := v.snapshot(tb)
		if len(s.Media.Errors) > 0 {
			tb.Fatalf("viewer %s: media error while waiting for %s: %+v (state %+v)", v.label, what, s.Media.Errors, s.Media)
		}
		if done(s) {
			return s
		}
		if time.Now().After(end) {
			tb.Fatalf("viewer %s: no %s within %v; player state %+v, last stats %+v, peers %d", v.label, what, timeout, s.Media, s.stats(), len(s.Peers))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitEnded waits until the player reaches the end of its media.
func (v *viewer) waitEnded(tb testing.TB, timeout time.Duration) snapshot {
	tb.Helper()
	return v.waitFor(tb, "ended event", timeout, func(s snapshot) bool { return s.Media.Ended })
}

// settledStats waits until no stats event came for quiet (bytes stopped
// moving) and returns the last one; zero if the engine never reported any.
func (v *viewer) settledStats(tb testing.TB, quiet time.Duration) engineStats {
	tb.Helper()
	s := v.waitFor(tb, "settled stats", 20*time.Second, func(s snapshot) bool {
		return s.Now-s.StatsAt >= float64(quiet.Milliseconds())
	})
	return s.stats()
}

// checkPlayback fails tb on any player or page error the viewer saw.
func checkPlayback(tb testing.TB, label string, s snapshot) {
	tb.Helper()
	if len(s.Media.Errors) > 0 || len(s.Media.PlayErrors) > 0 {
		tb.Errorf("viewer %s: media errors %+v, play() rejections %q", label, s.Media.Errors, s.Media.PlayErrors)
	}
	if len(s.PageErrors) > 0 {
		tb.Errorf("viewer %s: page errors %q", label, s.PageErrors)
	}
}

// rangeCheck is a byte range [Start, End] (inclusive, as in a Range header).
type rangeCheck [2]int64

// hashResult is what e2e.hashes reports for one fetch.
type hashResult struct {
	Status int    `json:"status"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
	// Blocks are the SHA-256 of each corruptBlock bytes of the whole
	// body, when asked for (corruptBytes).
	Blocks []string `json:"blocks"`
}

// corruptBlock is the granularity at which corruptBytes counts.
const corruptBlock = 16 << 10

// corruptBytes fetches the proxied URL whole through v's service worker and
// returns how many of its bytes differ from f's, counted in blocks of
// corruptBlock bytes (a short or long body counts its missing or extra
// bytes too).
func (v *viewer) corruptBytes(tb testing.TB, proxied string, f *mediaFile) int64 {
	tb.Helper()
	got := eval[[]hashResult](tb, v, 60*time.Second, fmt.Sprintf("e2e.hashes(%s, [], %d)", jsArg(proxied), corruptBlock))
	if len(got) != 1 {
		tb.Fatalf("viewer %s: %d hashes for one fetch", v.label, len(got))
	}
	var n int64
	blocks := got[0].Blocks
	for i := 0; i*corruptBlock < len(f.data); i++ {
		lo, hi := i*corruptBlock, min((i+1)*corruptBlock, len(f.data))
		sum := sha256.Sum256(f.data[lo:hi])
		if i >= len(blocks) || blocks[i] != hex.EncodeToString(sum[:]) {
			n += int64(hi - lo)
		}
	}
	if extra := got[0].Length - int64(len(f.data)); extra > 0 {
		n += extra
	}
	return n
}

// randomRanges returns k random ranges of a file of size bytes, one of them
// crossing a 512 KiB piece boundary and one at the end.
func randomRanges(rng *rand.Rand, size int64, k int) []rangeCheck {
	const piece = 512 << 10
	out := []rangeCheck{
		{piece - 1000, piece + 1000},
		{size - 777, size - 1},
	}
	for len(out) < k {
		a := rng.Int64N(size)
		b := min(a+rng.Int64N(1<<20), size-1)
		out = append(out, rangeCheck{a, b})
	}
	return out
}

// checkHashes makes the viewer fetch proxied (the whole file, then each
// range) through its service worker and compares every body with the
// origin's bytes. It returns whether all were identical.
func (v *viewer) checkHashes(tb testing.TB, proxied string, f *mediaFile, ranges []rangeCheck) bool {
	tb.Helper()
	if ranges == nil {
		ranges = []rangeCheck{}
	}
	got := eval[[]hashResult](tb, v, 60*time.Second, fmt.Sprintf("e2e.hashes(%s, %s)", jsArg(proxied), jsArg(ranges)))
	if len(got) != len(ranges)+1 {
		tb.Errorf("viewer %s: %d hashes for %d fetches", v.label, len(got), len(ranges)+1)
		return false
	}
	ok := true
	for i, h := range got {
		body, status, what := f.data, 200, "the whole file"
		if i > 0 {
			r := ranges[i-1]
			body, status, what = f.data[r[0]:r[1]+1], 206, fmt.Sprintf("bytes %d-%d", r[0], r[1])
		}
		sum := sha256.Sum256(body)
		if h.Status != status || h.Length != int64(len(body)) || h.SHA256 != hex.EncodeToString(sum[:]) {
			tb.Errorf("viewer %s: %s of %s through the service worker: status %d, %d bytes, SHA-256 %s; the origin has %d bytes with SHA-256 %s (status %d)",
				v.label, what, f.name, h.Status, h.Length, h.SHA256, len(body), hex.EncodeToString(sum[:]), status)
			ok = false
		}
	}
	return ok
}

// siteHashes returns the piece-hash service of the site at base (its
// hashSource is base + "/__hashes"), which fetches the site's media through
// the listener at backAddr.
func siteHashes(base, backAddr string) (http.Handler, error) {
	var d net.Dialer
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", backAddr)
		},
		DisableCompression: true,
	}}
	return hashservice.New(hashservice.Config{Allow: []string{base}, Fetcher: hashservice.NewHTTPFetcher(client)})
}

// workerdConfig is the workerd configuration of the Workers build of the
// hash service: on the socket "http" (a listener handed over), its outbound
// fetches going to the service "site" (a network or an external server),
// allowed to fetch from the origin it is given.
const workerdConfig = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "hashes", worker = .hashes),
    (name = "site", %s),
  ],
  sockets = [(name = "http", http = (), service = "hashes")],
);

const hashes :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "wasm_exec.js", esModule = embed "wasm_exec.js"),
    (name = "runtime.mjs", esModule = embed "runtime.mjs"),
    (name = "app.wasm", wasm = embed "app.wasm"),
  ],
  compatibilityDate = "2025-06-01",
  globalOutbound = "site",
  bindings = [(name = "HASHES_ALLOW", text = %q)],
);
`

// workerHashes starts, once, the Workers build of the piece-hash service
// under workerd inside the namespace, and returns its base URL, a
// hashSource for the site's pages.
func (e *e2eEnv) workerHashes(tb testing.TB) string {
	tb.Helper()
	e.workerOnce.Do(func() {
		e.workerd, e.workerErr = startWorkerd(e.workerLn.(*net.TCPListener), `network = (allow = ["10.200.0.0/24"])`, e.base,
			func(name string, args ...string) *exec.Cmd { return e.n.Command(context.Background(), name, args...) }, e.log.writer("workerd"))
	})
	if e.workerErr != nil {
		tb.Fatal(e.workerErr)
	}
	return "http://" + e.workerLn.Addr().String()
}

// startWorkerd serves the Workers build of the hash service
// (build/hashes-worker, which make test builds) under workerd (installed in
// tests/workers) on ln, with site as the capnp body of its outbound service
// and allow as its HASHES_ALLOW; command makes the process, output takes
// its logs.
func startWorkerd(ln *net.TCPListener, site, allow string, command func(name string, args ...string) *exec.Cmd, output io.Writer) (*exec.Cmd, error) {
	build, err := filepath.Abs(filepath.Join("..", "..", "build", "hashes-worker"))
	if err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(filepath.Join("..", "workers", "node_modules", "workerd", "bin", "workerd"))
	if err != nil {
		return nil, err
	}
	for _, f := range []string{filepath.Join(build, "app.wasm"), bin} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w: make hashes-worker workerd (make test does) builds and installs it", err)
		}
	}
	dir, err := os.MkdirTemp("", "p2pt-workerd-")
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"worker.mjs", "wasm_exec.js", "runtime.mjs", "app.wasm"} {
		data, err := os.ReadFile(filepath.Join(build, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.capnp"), fmt.Appendf(nil, workerdConfig, site, allow), 0o644); err != nil {
		return nil, err
	}
	lf, err := ln.File()
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := command(bin, "serve", "config.capnp", "--socket-fd", "http=3")
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{lf}
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("workerd: %w", err)
	}
	return cmd, nil
}
