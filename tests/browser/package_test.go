//go:build linux

package browser_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/internal/chrome"
	"github.com/p2pmedia/p2pmedia/internal/netns"
	"github.com/p2pmedia/p2pmedia/tracker"
)

// The package tests take the npm package that `make package` builds
// (build/p2pmedia-engine-<VERSION>.tgz, or the file named by
// $P2PMEDIA_PACKAGE) and use it the ways a site does: installed from npm
// into a Vite project, loaded as a classic script from another origin (a
// CDN), and under Video.js. They install what they need from the npm
// registry (vite, video.js); everything the browser loads comes from
// servers inside the test's network namespace.

// pkgMediaETag is the ETag of the sample MP4 on the test sites.
const pkgMediaETag = `"sample-mp4-v1"`

// pkgModTime is the sample MP4's Last-Modified date on the test sites.
var pkgModTime = time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)

// pkgDistFiles are the files of the package's dist/ directory.
var pkgDistFiles = []string{
	"p2p-engine.js",
	"p2p-engine.min.js",
	"p2p-sw.js",
	"p2p-engine.wasm",
	"p2p-engine.wasm.br",
	"p2p-engine.wasm.gz",
	"p2p-sw.wasm",
	"p2p-sw.wasm.br",
	"p2p-sw.wasm.gz",
	"wasm_exec.js",
}

// pkgVersion returns the repository's release version (the VERSION file).
func pkgVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// pkgTarball returns the absolute path of the package tarball.
func pkgTarball(t *testing.T) string {
	t.Helper()
	p := os.Getenv("P2PMEDIA_PACKAGE")
	if p == "" {
		p = filepath.Join("..", "..", "build", "p2pmedia-engine-"+pkgVersion(t)+".tgz")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("the npm package is missing: run make package first (%v)", err)
	}
	return abs
}

// pkgNpm runs npm with args in dir, with a deadline, and fails the test
// with npm's output if it fails.
func pkgNpm(t *testing.T, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", append(args, "--no-audit", "--no-fund", "--loglevel=error")...)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	t.Logf("npm %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
}

// pkgCopyDir copies the regular files under src into dst.
func pkgCopyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}

// pkgUnpack extracts the files of the tarball into dir, without the
// leading "package/", and returns their names (slash-separated, sorted).
func pkgUnpack(t *testing.T, tgz, dir string) []string {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", tgz, err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", tgz, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name, ok := strings.CutPrefix(h.Name, "package/")
		if !ok || !fs.ValidPath(name) {
			t.Fatalf("%s: unexpected entry %q", tgz, h.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", tgz, h.Name, err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// pkgSite is a test site inside the namespace: the sample MP4 under
// /media/sample.mp4 (ranges, ETag, Last-Modified), our tracker under
// /tracker, and whatever the test adds to mux.
type pkgSite struct {
	srv       *httptest.Server
	mediaSent atomic.Int64 // body bytes of the MP4 sent
	start     time.Time
	mu        sync.Mutex
	mediaLog  []string // one line per media request, logged if the test fails
}

// newPkgSite starts a site serving mux plus the media and the tracker.
// Nothing it serves may be cached, so that every viewer's bytes are counted.
func newPkgSite(t *testing.T, n *netns.Net, mux *http.ServeMux) *pkgSite {
	t.Helper()
	media, err := os.ReadFile(filepath.Join("..", "..", "examples", "media", "sample.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	s := &pkgSite{start: time.Now()}
	trk := tracker.New(tracker.Config{})
	mux.HandleFunc("GET /media/sample.mp4", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.mediaLog = append(s.mediaLog, fmt.Sprintf("%v %s Range %q from %s", time.Since(s.start).Round(time.Millisecond), r.Method, r.Header.Get("Range"), r.Referer()))
		s.mu.Unlock()
		w.Header().Set("ETag", pkgMediaETag)
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(countingWriter{w, &s.mediaSent}, r, "sample.mp4", pkgModTime, bytes.NewReader(media))
	})
	mux.Handle("GET /tracker", trk) // a WebSocket upgrade is a GET
	s.srv = listenIn(t, n, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		trk.Close() // before srv.Close: ends the WebSockets
		if t.Failed() {
			s.mu.Lock()
			t.Logf("media requests at the site:\n%s", strings.Join(s.mediaLog, "\n"))
			s.mu.Unlock()
		}
	})
	return s
}

// pkgFiles serves the files of dir. Pages and service workers come from it
// as a static host would serve them (Go's MIME table knows .wasm).
func pkgFiles(dir string) http.Handler {
	return http.FileServerFS(os.DirFS(dir))
}

// pkgTemplate serves the file name of dir with every {{CDN}} replaced by cdn.
func pkgTemplate(t *testing.T, dir, name, cdn string) http.HandlerFunc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(string(b), "{{CDN}}", cdn)
	ctype := mime.TypeByExtension(path.Ext(name))
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		io.WriteString(w, body)
	}
}

// pkgCDN is the "CDN" of TestPackageCDN: the package's dist/ on an origin
// of its own, with CORS open to every origin and the pre-compressed twins
// served with Content-Encoding to clients that accept them.
type pkgCDN struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []string // "<name> <Content-Encoding> <Content-Type>" per GET
}

// hits returns the log lines of name.
func (c *pkgCDN) hits(name string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range c.log {
		if strings.HasPrefix(l, name+" ") {
			out = append(out, l)
		}
	}
	return out
}

// newPkgCDN serves dir inside the namespace.
func newPkgCDN(t *testing.T, n *netns.Net, dir string) *pkgCDN {
	t.Helper()
	c := &pkgCDN{}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	c.srv = listenIn(t, n, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "no-store")
		h.Set("Vary", "Accept-Encoding")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if !fs.ValidPath(name) || strings.HasSuffix(name, ".br") || strings.HasSuffix(name, ".gz") {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		file := name
		for _, enc := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
			if !pkgAccepts(r.Header.Get("Accept-Encoding"), enc.token) {
				continue
			}
			if _, err := root.Stat(name + enc.ext); err == nil {
				file = name + enc.ext
				h.Set("Content-Encoding", enc.token)
				break
			}
		}
		f, err := root.Open(file)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodGet {
			c.mu.Lock()
			c.log = append(c.log, fmt.Sprintf("%s %s %s", name, h.Get("Content-Encoding"), h.Get("Content-Type")))
			c.mu.Unlock()
		}
		http.ServeContent(w, r, name, fi.ModTime(), f)
	}))
	return c
}

// pkgAccepts reports whether an Accept-Encoding header allows the coding
// token (listed, with no q or a q above 0).
func pkgAccepts(header, token string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), token) {
			continue
		}
		v, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		q, err := strconv.ParseFloat(v, 64)
		return err == nil && q > 0
	}
	return false
}

// pkgState is what a test page shows of itself in window.p2p (every test
// page keeps the same fields) and of its media element.
type pkgState struct {
	Version     string           `json:"version"`
	WasmVersion string           `json:"wasmVersion"`
	Src         string           `json:"src"`
	Stats       *engineStats     `json:"stats"`
	Peers       []enginePeer     `json:"peers"`
	Exceptions  []map[string]any `json:"exceptions"`
	Errors      []string         `json:"errors"`
	CurrentTime float64          `json:"currentTime"`
	ReadyState  int              `json:"readyState"`
}

// pkgSnapshot is the JS expression that gives a pkgState.
const pkgSnapshot = `(() => {
	const p = window.p2p || {};
	const v = p.video || document.querySelector('video');
	return {
		version: p.version || '',
		wasmVersion: (globalThis.__p2pmedia && globalThis.__p2pmedia.version) || '',
		src: p.src || '',
		stats: p.stats || null,
		peers: p.peers || [],
		exceptions: p.exceptions || [],
		errors: p.errors || [],
		currentTime: v ? v.currentTime : -1,
		readyState: v ? v.readyState : -1,
	};
})()`

// pkgViewer is one viewer: a page in a browser context of its own.
type pkgViewer struct {
	label string
	page  context.Context
}

// openPkgViewer opens url in a new browser context.
func openPkgViewer(t *testing.T, b *chrome.Browser, label, url string) *pkgViewer {
	t.Helper()
	page, closePage, err := b.NewContext(label)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closePage)
	ctx, cancel := context.WithTimeout(page, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("viewer %s: navigating to %s: %v", label, url, err)
	}
	return &pkgViewer{label: label, page: page}
}

// state reads the page's pkgState.
func (v *pkgViewer) state(t *testing.T) pkgState {
	t.Helper()
	s, err := evalIn[pkgState](v.page, 5*time.Second, pkgSnapshot)
	if err != nil {
		t.Fatalf("viewer %s: reading its state: %v", v.label, err)
	}
	return s
}

// waitFor polls the page's state until done holds, and fails the test with
// the last state after timeout.
func (v *pkgViewer) waitFor(t *testing.T, what string, timeout time.Duration, done func(pkgState) bool) pkgState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := v.state(t)
		if done(s) {
			return s
		}
		if time.Now().After(deadline) {
			j, _ := json.Marshal(s)
			t.Fatalf("viewer %s: %s: not within %v; state %s", v.label, what, timeout, j)
		}
		select {
		case <-v.page.Done():
			t.Fatalf("viewer %s: page closed while waiting for %s", v.label, what)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// checkClean fails the test if the page saw a media error or an engine
// exception.
func (v *pkgViewer) checkClean(t *testing.T, s pkgState) {
	t.Helper()
	if len(s.Errors) > 0 {
		t.Errorf("viewer %s: media errors %q", v.label, s.Errors)
	}
	if len(s.Exceptions) > 0 {
		t.Errorf("viewer %s: engine exceptions %v", v.label, s.Exceptions)
	}
}

// swVersions reads MediaProxy.version and MediaProxy.wasmVersion in the
// service worker running scriptURL in the viewer's browser context, once
// p2p-sw.wasm has started.
func (v *pkgViewer) swVersions(t *testing.T, scriptURL string) (loader, wasm string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(v.page, 10*time.Second)
	defer cancel()
	bctx := chromedp.FromContext(v.page).BrowserContextID
	var id target.ID
	for id == "" {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatalf("viewer %s: listing targets: %v", v.label, err)
		}
		for _, ti := range infos {
			if ti.Type == "service_worker" && ti.URL == scriptURL && ti.BrowserContextID == bctx {
				id = ti.TargetID
			}
		}
		if id == "" {
			select {
			case <-ctx.Done():
				t.Fatalf("viewer %s: no service worker %s running", v.label, scriptURL)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	sw, cancelSW := chromedp.NewContext(v.page, chromedp.WithTargetID(id), chromedp.WithDetachOnCancel())
	defer cancelSW()
	for {
		got, err := evalIn[[]string](sw, 5*time.Second, `[String(self.MediaProxy && self.MediaProxy.version), String(self.MediaProxy && self.MediaProxy.wasmVersion)]`)
		if err != nil {
			t.Fatalf("viewer %s: evaluating in the service worker: %v", v.label, err)
		}
		if got[1] != "" || ctx.Err() != nil {
			return got[0], got[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// playTwoViewers opens page for viewer A, waits until it plays the MP4
// through the service worker from the origin, then opens it for viewer B
// and waits until B plays and has received bytes from peers. It returns
// the final states of both.
func playTwoViewers(t *testing.T, b *chrome.Browser, site *pkgSite, page string) (*pkgViewer, *pkgViewer) {
	t.Helper()
	proxied := site.srv.URL + "/__p2pmedia__/http/" + strings.TrimPrefix(site.srv.URL, "http://") + "/media/sample.mp4"

	a := openPkgViewer(t, b, "A", page)
	sa := a.waitFor(t, "A plays the proxied MP4 from the origin", 30*time.Second, func(s pkgState) bool {
		return s.Src != "" && s.CurrentTime > 1 && s.Stats != nil && s.Stats.HTTP > 0 || len(s.Errors) > 0
	})
	if len(sa.Errors) > 0 {
		t.Fatalf("viewer A: media errors %q", sa.Errors)
	}
	if sa.Src != proxied {
		t.Fatalf("viewer A plays %q, want the proxied URL %q", sa.Src, proxied)
	}
	sentToA := site.mediaSent.Load()
	t.Logf("viewer A plays at %.1f s: %.0f KB over HTTP (origin sent %d bytes)", sa.CurrentTime, sa.Stats.HTTP, sentToA)

	bv := openPkgViewer(t, b, "B", page)
	sb := bv.waitFor(t, "B plays with bytes from peers", 40*time.Second, func(s pkgState) bool {
		return s.Src != "" && s.CurrentTime > 1 && s.Stats != nil && s.Stats.P2P > 0 || len(s.Errors) > 0
	})
	if len(sb.Errors) > 0 {
		t.Fatalf("viewer B: media errors %q", sb.Errors)
	}
	if sb.Src != proxied {
		t.Errorf("viewer B plays %q, want the proxied URL %q", sb.Src, proxied)
	}
	// A's stats event (once a second while bytes move) reports its upload.
	sa = a.waitFor(t, "A reports bytes sent to peers", 10*time.Second, func(s pkgState) bool {
		return s.Stats != nil && s.Stats.Up > 0
	})
	t.Logf("viewer B plays at %.1f s: %.0f KB from peers, %.0f KB over HTTP (origin sent %d bytes meanwhile); A uploaded %.0f KB",
		sb.CurrentTime, sb.Stats.P2P, sb.Stats.HTTP, site.mediaSent.Load()-sentToA, sa.Stats.Up)
	if !slices.ContainsFunc(sb.Peers, func(p enginePeer) bool { return p.Downloaded > 0 }) {
		t.Errorf("viewer B: no peer it downloaded from in %+v", sb.Peers)
	}
	a.checkClean(t, sa)
	bv.checkClean(t, sb)
	return a, bv
}

// launchPkgBrowser starts Chromium in n, treating origins as secure.
func launchPkgBrowser(t *testing.T, n *netns.Net, origins ...string) *chrome.Browser {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b, err := chrome.Launch(ctx, n, chrome.Options{SecureOrigins: origins, Flags: []string{"--mute-audio"}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// TestPackageVite installs the package tarball into a fresh Vite 7 project
// (testdata/package/vite: package.json, index.html, main.js importing
// '@p2pmedia/engine', public/sw.js), builds it with `npm run build`, serves
// dist/ as a static host would, and has two viewers play the sample MP4:
// the second one gets bytes from the first over WebRTC. The type
// declarations of the installed package compile js/test/types.ts and
// reject the misuses of js/test/types-misuse.ts.
func TestPackageVite(t *testing.T) {
	start := time.Now()
	version := pkgVersion(t)
	tgz := pkgTarball(t)
	proj := t.TempDir()
	pkgCopyDir(t, filepath.Join("testdata", "package", "vite"), proj)
	pkgNpm(t, proj, "install", "--prefer-offline", tgz)
	pkgNpm(t, proj, "run", "build")
	dist := filepath.Join(proj, "dist")

	var installed struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(proj, "node_modules", "@p2pmedia", "engine", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &installed); err != nil || installed.Name != "@p2pmedia/engine" || installed.Version != version {
		t.Errorf("installed package.json: %+v (%v), want @p2pmedia/engine %s", installed, err, version)
	}
	// The bundle holds the shim (not the wasm), and public/ brought the
	// package's files and the one-line sw.js into dist/.
	for _, name := range []string{"index.html", "sw.js", "p2p/p2p-sw.js", "p2p/p2p-engine.wasm", "p2p/p2p-sw.wasm", "p2p/wasm_exec.js"} {
		if _, err := os.Stat(filepath.Join(dist, name)); err != nil {
			t.Errorf("vite build: %v", err)
		}
	}
	bundles, _ := filepath.Glob(filepath.Join(dist, "assets", "*.js"))
	if len(bundles) != 1 {
		t.Fatalf("vite build: bundles %q, want one", bundles)
	}
	if js, _ := os.ReadFile(bundles[0]); !bytes.Contains(js, []byte(version)) || !bytes.Contains(js, []byte("__p2pmedia__")) {
		t.Errorf("%s does not hold the shim of version %s", bundles[0], version)
	}

	t.Run("types", func(t *testing.T) { pkgTypecheck(t, proj) })
	t.Logf("project built after %v", time.Since(start).Round(time.Millisecond))

	n := setupNet(t, "p2pt-pkgvite")
	mux := http.NewServeMux()
	mux.Handle("GET /", pkgFiles(dist))
	site := newPkgSite(t, n, mux)
	br := launchPkgBrowser(t, n, site.srv.URL)
	a, bv := playTwoViewers(t, br, site, site.srv.URL+"/")

	for _, v := range []*pkgViewer{a, bv} {
		s := v.state(t)
		if s.Version != version || s.WasmVersion != version {
			t.Errorf("viewer %s: P2PEngineMedia.version %q, p2p-engine.wasm %q; want %s", v.label, s.Version, s.WasmVersion, version)
		}
	}
	if loader, wasm := bv.swVersions(t, site.srv.URL+"/sw.js"); loader != version || wasm != version {
		t.Errorf("service worker: MediaProxy.version %q, p2p-sw.wasm %q; want %s", loader, wasm, version)
	}
	t.Logf("test time: %v", time.Since(start).Round(time.Millisecond))
}

// pkgTypecheck runs tsc (js/node_modules, as `make build` installs it) on
// copies of js/test/types.ts and types-misuse.ts in proj, where
// '@p2pmedia/engine' resolves to the installed package.
func pkgTypecheck(t *testing.T, proj string) {
	tsc, err := filepath.Abs(filepath.Join("..", "..", "js", "node_modules", ".bin", "tsc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tsc); err != nil {
		t.Fatalf("tsc: %v (make build installs js/node_modules)", err)
	}
	dir := filepath.Join(proj, "typecheck")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"types.ts", "types-misuse.ts"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "js", "test", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tsconfig := func(files ...string) string {
		b, _ := json.Marshal(map[string]any{
			"compilerOptions": map[string]any{
				"noEmit": true, "strict": true, "target": "es2022", "lib": []string{"es2022", "dom"},
				"module": "esnext", "moduleResolution": "bundler", "types": []string{},
			},
			"files": files,
		})
		return string(b)
	}
	run := func(config string) (string, error) {
		if err := os.WriteFile(filepath.Join(dir, "tsconfig.json"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), tsc, "--noEmit", "-p", "tsconfig.json")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(tsconfig("types.ts", "types-misuse.ts")); err != nil {
		t.Errorf("tsc on the full-API example and the marked misuses: %v\n%s", err, out)
	}
	// Without its @ts-expect-error marks, every misuse is an error.
	b, err := os.ReadFile(filepath.Join(dir, "types-misuse.ts"))
	if err != nil {
		t.Fatal(err)
	}
	marks := strings.Count(string(b), "@ts-expect-error")
	unmarked := strings.ReplaceAll(string(b), "@ts-expect-error", "misuse:")
	if err := os.WriteFile(filepath.Join(dir, "types-misuse.ts"), []byte(unmarked), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(tsconfig("types-misuse.ts"))
	errs := strings.Count(out, "error TS")
	if err == nil || marks == 0 || errs < marks {
		t.Errorf("tsc on %d unmarked misuses: %d errors (%v), want at least one per misuse\n%s", marks, errs, err, out)
	}
	t.Logf("types: the full-API example compiles; %d misuses give %d errors", marks, errs)
}

// TestPackageCDN serves the package's files from a second origin as a CDN
// would (CORS open, pre-compressed wasm), and a plain HTML page on the
// site's origin that loads the classic script from there, with the site's
// one-line sw.js importing p2p-sw.js from there too. Two viewers share the
// MP4 over WebRTC. It also checks what the tarball holds.
func TestPackageCDN(t *testing.T) {
	start := time.Now()
	version := pkgVersion(t)
	tgz := pkgTarball(t)
	unpacked := t.TempDir()
	names := pkgUnpack(t, tgz, unpacked)
	pkgCheckContents(t, unpacked, names, version)

	n := setupNet(t, "p2pt-pkgcdn")
	cdn := newPkgCDN(t, n, filepath.Join(unpacked, "dist"))
	pages := filepath.Join("testdata", "package", "cdn")
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", pkgTemplate(t, pages, "index.html", cdn.srv.URL))
	mux.Handle("GET /sw.js", pkgTemplate(t, pages, "sw.js", cdn.srv.URL))
	var wasmAtSite atomic.Int32
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "p2p") || strings.HasSuffix(r.URL.Path, ".wasm") || strings.HasSuffix(r.URL.Path, ".js") {
			wasmAtSite.Add(1)
			t.Logf("the site got a request for %s", r.URL.Path)
		}
		http.NotFound(w, r)
	})
	site := newPkgSite(t, n, mux)
	b := launchPkgBrowser(t, n, site.srv.URL, cdn.srv.URL)
	a, bv := playTwoViewers(t, b, site, site.srv.URL+"/")

	for _, v := range []*pkgViewer{a, bv} {
		s := v.state(t)
		if s.Version != version || s.WasmVersion != version {
			t.Errorf("viewer %s: P2PEngineMedia.version %q, p2p-engine.wasm %q; want %s", v.label, s.Version, s.WasmVersion, version)
		}
		if loader, wasm := v.swVersions(t, site.srv.URL+"/sw.js"); loader != version || wasm != version {
			t.Errorf("viewer %s: service worker: MediaProxy.version %q, p2p-sw.wasm %q; want %s", v.label, loader, wasm, version)
		}
	}
	if k := wasmAtSite.Load(); k > 0 {
		t.Errorf("the site got %d requests for the engine's files, want none: they come from the CDN", k)
	}
	// Every file came from the CDN; each viewer compiled p2p-engine.wasm
	// from one response (streaming, no fallback to an ArrayBuffer), and
	// the wasm came pre-compressed with its MIME type.
	for _, name := range []string{"p2p-engine.min.js", "p2p-sw.js", "wasm_exec.js", "p2p-sw.wasm"} {
		if len(cdn.hits(name)) == 0 {
			t.Errorf("the CDN served no %s", name)
		}
	}
	if hits := cdn.hits("p2p-engine.wasm"); len(hits) != 2 {
		t.Errorf("the CDN served p2p-engine.wasm %d times (%q), want once per viewer", len(hits), hits)
	}
	for _, name := range []string{"p2p-engine.wasm", "p2p-sw.wasm"} {
		for _, h := range cdn.hits(name) {
			f := strings.Fields(h)
			if len(f) != 3 || (f[1] != "br" && f[1] != "gzip") || f[2] != "application/wasm" {
				t.Errorf("the CDN served %q, want %s pre-compressed as application/wasm", h, name)
			}
		}
	}
	t.Logf("CDN: %q %q", cdn.hits("p2p-engine.wasm"), cdn.hits("p2p-sw.wasm"))
	t.Logf("test time: %v", time.Since(start).Round(time.Millisecond))
}

// pkgCheckContents checks the unpacked tarball: exactly the files the
// package declares, its manifest, the twins decompressing to the wasm, and
// the Go toolchain's own wasm_exec.js.
func pkgCheckContents(t *testing.T, dir string, names []string, version string) {
	t.Helper()
	want := []string{"LICENSE", "README.md", "package.json", "types/index.d.ts"}
	for _, f := range pkgDistFiles {
		want = append(want, "dist/"+f)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("tarball files\n got %q\nwant %q", names, want)
	}
	var manifest struct {
		Name    string            `json:"name"`
		Version string            `json:"version"`
		License string            `json:"license"`
		Types   string            `json:"types"`
		Module  string            `json:"module"`
		Main    string            `json:"main"`
		Files   []string          `json:"files"`
		Exports map[string]any    `json:"exports"`
		Deps    map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	if manifest.Name != "@p2pmedia/engine" || manifest.Version != version || manifest.License != "MIT" ||
		manifest.Types != "./types/index.d.ts" || manifest.Module != "./dist/p2p-engine.js" || manifest.Main != "./dist/p2p-engine.min.js" || len(manifest.Deps) > 0 {
		t.Errorf("package.json: %+v", manifest)
	}
	if keys := slices.Sorted(maps.Keys(manifest.Exports)); !slices.Contains(keys, ".") || !slices.Contains(keys, "./p2p-sw.js") || !slices.Contains(keys, "./dist/*") {
		t.Errorf("package.json exports %q, want ., ./p2p-sw.js and ./dist/*", keys)
	}
	// The twins: gzip checked here, brotli by node's zlib.
	for _, name := range []string{"p2p-engine.wasm", "p2p-sw.wasm"} {
		raw, err := os.ReadFile(filepath.Join(dir, "dist", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, []byte("\x00asm")) {
			t.Errorf("dist/%s is not WebAssembly", name)
		}
		gz, err := os.ReadFile(filepath.Join(dir, "dist", name+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatalf("dist/%s.gz: %v", name, err)
		}
		un, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(un, raw) {
			t.Errorf("dist/%s.gz does not decompress to dist/%s (%v)", name, name, err)
		}
		cmd := exec.CommandContext(t.Context(), "node", "-e",
			`const z = require('node:zlib'), fs = require('node:fs');
			 const [br, raw] = process.argv.slice(1).map((f) => fs.readFileSync(f));
			 process.exit(z.brotliDecompressSync(br).equals(raw) ? 0 : 3);`,
			filepath.Join(dir, "dist", name+".br"), filepath.Join(dir, "dist", name))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("dist/%s.br does not decompress to dist/%s: %v %s", name, name, err, out)
		}
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	glue, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "dist", "wasm_exec.js")); err != nil || !bytes.Equal(got, glue) {
		t.Errorf("dist/wasm_exec.js is not the Go toolchain's (%v)", err)
	}
	for _, name := range []string{"p2p-engine.js", "p2p-engine.min.js", "p2p-sw.js"} {
		if b, err := os.ReadFile(filepath.Join(dir, "dist", name)); err != nil || !bytes.Contains(b, []byte(version)) {
			t.Errorf("dist/%s does not carry version %s (%v)", name, version, err)
		}
	}
}

// TestVideoJS plays the MP4 with Video.js (from npm, pinned in
// testdata/package/videojs/package-lock.json) through getProxiedUrl, with
// the engine's classic script from the package: two viewers, the second
// one with bytes from the first.
func TestVideoJS(t *testing.T) {
	start := time.Now()
	tgz := pkgTarball(t)
	unpacked := t.TempDir()
	pkgUnpack(t, tgz, unpacked)
	proj := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "package", "videojs", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proj, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgNpm(t, proj, "ci", "--prefer-offline")
	vjs := filepath.Join(proj, "node_modules", "video.js", "dist")
	if _, err := os.Stat(filepath.Join(vjs, "video.min.js")); err != nil {
		t.Fatal(err)
	}

	n := setupNet(t, "p2pt-videojs")
	mux := http.NewServeMux()
	pages := filepath.Join("testdata", "package", "videojs")
	mux.Handle("GET /{$}", pkgTemplate(t, pages, "index.html", ""))
	mux.Handle("GET /sw.js", pkgTemplate(t, pages, "sw.js", ""))
	mux.Handle("GET /videojs/", http.StripPrefix("/videojs/", pkgFiles(vjs)))
	mux.Handle("GET /p2p/", http.StripPrefix("/p2p/", pkgFiles(filepath.Join(unpacked, "dist"))))
	site := newPkgSite(t, n, mux)
	b := launchPkgBrowser(t, n, site.srv.URL)
	a, bv := playTwoViewers(t, b, site, site.srv.URL+"/")
	for _, v := range []*pkgViewer{a, bv} {
		player, err := evalIn[map[string]any](v.page, 5*time.Second,
			`({version: videojs.VERSION, tech: p2p.player.techName_, src: p2p.player.currentSrc(), inPlayer: p2p.player.el().contains(p2p.video)})`)
		if err != nil {
			t.Fatalf("viewer %s: %v", v.label, err)
		}
		s := v.state(t)
		if player["tech"] != "Html5" || player["src"] != s.Src || player["inPlayer"] != true {
			t.Errorf("viewer %s: Video.js %v, want the Html5 tech playing %s", v.label, player, s.Src)
		}
		t.Logf("viewer %s: Video.js %v", v.label, player["version"])
	}
	t.Logf("test time: %v", time.Since(start).Round(time.Millisecond))
}
