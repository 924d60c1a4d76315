// Package workers_test runs the piece-hash service's Cloudflare Workers
// build (cmd/p2pmedia-hashes-worker) under the real Workers runtime, workerd
// (the npm package of this directory: npm ci here, as make test does), and
// checks that it answers every request exactly as the native handler does.
//
// workerd reaches nothing but 127.0.0.0/8: its only outbound network is
// configured so.
package workers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/hashservice"
)

const kib = 1024

// Limits both services run with, small enough to reach in a test.
const (
	maxSize   = 1 << 20
	chunkSize = 64 * kib
	timeout   = 2 * time.Second
)

// workerdBin is the runtime npm ci installs here.
const workerdBin = "node_modules/workerd/bin/workerd"

// media returns n deterministic bytes.
func media(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + i/509)
	}
	return b
}

var modTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newOrigin starts a real HTTP origin on 127.0.0.1 with Range, ETag and
// Last-Modified, and the misbehaviours the service must answer errors for.
func newOrigin(t *testing.T) *httptest.Server {
	files := map[string][]byte{
		"a.mp4":     media(300*kib + 5),
		"small.mp4": media(1000),
		"empty.mp4": {},
		"big.mp4":   media(2 << 20),
	}
	stop := make(chan struct{})
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dir, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		data, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch dir {
		case "media":
		case "slow":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		case "norange":
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data)
			return
		case "chunked": // ignores Range and gives no length
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			w.Write(data)
			return
		case "gzip":
			w.Header().Set("Content-Encoding", "gzip")
		case "redirect":
			http.Redirect(w, r, "/media/"+name, http.StatusFound)
			return
		case "away":
			http.Redirect(w, r, "http://elsewhere.example/"+name, http.StatusFound)
			return
		case "loop":
			http.Redirect(w, r, "/loop/"+name, http.StatusTemporaryRedirect)
			return
		case "noetag":
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
			return
		case "error":
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"`+name+`-1"`)
		http.ServeContent(w, r, name, modTime, bytes.NewReader(data))
	}))
	t.Cleanup(func() {
		close(stop)
		o.Close()
	})
	return o
}

// workerBuild is the directory of the Worker build the tests serve.
var workerBuild string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	workerBuild = os.Getenv("P2PMEDIA_HASHES_WORKER")
	if workerBuild == "" {
		dir, err := os.MkdirTemp("", "hashes-worker-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := buildWorker(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		workerBuild = dir
	}
	return m.Run()
}

// buildWorker builds the Worker with its JS glue into dir, as make
// hashes-worker does; P2PMEDIA_HASHES_WORKER names a build to test instead.
func buildWorker(dir string) error {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	run := func(env []string, args ...string) error {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run(nil, "run", "github.com/syumai/workers/cmd/workers-assets-gen", "-mode=go", "-o", dir); err != nil {
		return err
	}
	return run([]string{"GOOS=js", "GOARCH=wasm"}, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "app.wasm"), "./cmd/p2pmedia-hashes-worker")
}

// config is the workerd configuration: the Worker on the socket "http",
// its settings as text bindings, and an outbound network of loopback only.
const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "hashes", worker = .hashes),
    (name = "loopback", network = (allow = ["127.0.0.0/8"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "hashes")],
);

const hashes :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "wasm_exec.js", esModule = embed "wasm_exec.js"),
    (name = "runtime.mjs", esModule = embed "runtime.mjs"),
    (name = "app.wasm", wasm = embed "app.wasm"),
  ],
  compatibilityDate = "2025-06-01",
  globalOutbound = "loopback",
  bindings = [%s],
);
`

// startWorkerd serves the Worker built in build under workerd on a
// listener of the test's own, with the given environment.
func startWorkerd(t *testing.T, build string, env map[string]string) string {
	if _, err := os.Stat(workerdBin); err != nil {
		t.Fatalf("%s: %v; run 'npm ci' in tests/workers (make test does)", workerdBin, err)
	}
	dir := t.TempDir()
	for _, f := range []string{"worker.mjs", "wasm_exec.js", "runtime.mjs", "app.wasm"} {
		data, err := os.ReadFile(filepath.Join(build, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var bindings []string
	for k, v := range env {
		bindings = append(bindings, fmt.Sprintf("(name = %q, text = %q)", k, v))
	}
	if err := os.WriteFile(filepath.Join(dir, "config.capnp"), fmt.Appendf(nil, config, strings.Join(bindings, ", ")), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	bin, err := filepath.Abs(workerdBin)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", "config.capnp", "--socket-fd", "http=3")
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{lf}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // workerd holds its own copy
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("workerd:\n%s", logs.String())
		}
	})
	return "http://" + addr
}

// exchange is what the comparison looks at of one answer.
type exchange struct {
	status int
	body   []byte
	header http.Header
}

// comparedHeaders are the headers both services must send alike.
var comparedHeaders = []string{
	"Content-Type", "Cache-Control", "ETag", "Retry-After", "Allow", "X-Content-Type-Options",
	"Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Max-Age",
}

func do(t *testing.T, method, rawURL string, hdr map[string]string) exchange {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, rawURL, err)
	}
	x := exchange{status: resp.StatusCode, body: body, header: http.Header{}}
	for _, h := range comparedHeaders {
		for _, v := range resp.Header.Values(h) {
			x.header.Add(h, v)
		}
	}
	if method == http.MethodGet && resp.StatusCode != http.StatusNotModified && resp.StatusCode != http.StatusNoContent {
		if cl := resp.Header.Get("Content-Length"); cl != "" && cl != fmt.Sprint(len(body)) {
			t.Errorf("%s %s: Content-Length %s for %d bytes", method, rawURL, cl, len(body))
		}
	}
	return x
}

func TestWorkerMatchesNative(t *testing.T) {
	o := newOrigin(t)
	env := map[string]string{
		"HASHES_ALLOW":      o.URL + ", cdn.example.com",
		"HASHES_MAX_SIZE":   fmt.Sprint(maxSize),
		"HASHES_CHUNK_SIZE": fmt.Sprint(chunkSize),
		"HASHES_TIMEOUT":    timeout.String(),
	}
	worker := startWorkerd(t, workerBuild, env)
	// A native Handler per request, as every Workers request runs a fresh
	// program: the Cache-Control of an answer taken from a cache counts
	// down, and that of a fresh one does not.
	native := func() string {
		h, err := hashservice.New(hashservice.Config{
			Allow:     []string{o.URL, "cdn.example.com"},
			MaxSize:   maxSize,
			ChunkSize: chunkSize,
			Timeout:   timeout,
		})
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.URL
	}

	pieces := func(media string, kv ...string) string {
		v := url.Values{"url": {o.URL + media}, "pieceLength": {"16384"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return hashservice.Path + "?" + v.Encode()
	}
	first := do(t, http.MethodGet, native()+pieces("/media/a.mp4"), nil)
	etag := first.header.Get("ETag")
	if first.status != http.StatusOK || etag == "" {
		t.Fatalf("native answer: %d %s", first.status, first.body)
	}
	tests := []struct {
		name, method, path string
		header             map[string]string
		status             int
	}{
		{"whole resource", "GET", pieces("/media/a.mp4"), nil, 200},
		{"byte range", "GET", pieces("/media/a.mp4", "start", "1000", "end", "200000"), nil, 200},
		{"range to the end", "GET", pieces("/media/a.mp4", "start", "16384", "end", fmt.Sprint(300*kib+5)), nil, 200},
		{"small", "GET", pieces("/media/small.mp4", "pieceLength", "524288"), nil, 200},
		{"empty", "GET", pieces("/media/empty.mp4"), nil, 200},
		{"no ETag nor Last-Modified", "GET", pieces("/noetag/a.mp4"), nil, 200},
		{"origin ignores Range", "GET", pieces("/norange/a.mp4"), nil, 200},
		{"redirect within the allowlist", "GET", pieces("/redirect/a.mp4"), nil, 200},
		{"If-None-Match", "GET", pieces("/media/a.mp4"), map[string]string{"If-None-Match": etag}, 304},
		{"If-None-Match weak", "GET", pieces("/media/a.mp4"), map[string]string{"If-None-Match": "W/" + etag}, 304},
		{"If-None-Match other", "GET", pieces("/media/a.mp4"), map[string]string{"If-None-Match": `"x"`}, 200},
		{"HEAD", "HEAD", pieces("/media/a.mp4"), nil, 200},
		{"preflight", "OPTIONS", pieces("/media/a.mp4"), map[string]string{"Origin": "https://site.example", "Access-Control-Request-Method": "GET"}, 204},
		{"missing url", "GET", hashservice.Path + "?pieceLength=16384", nil, 400},
		{"bad piece length", "GET", pieces("/media/a.mp4", "pieceLength", "1000"), nil, 400},
		{"unknown parameter", "GET", pieces("/media/a.mp4", "x", "1"), nil, 400},
		{"half a range", "GET", pieces("/media/a.mp4", "start", "5"), nil, 400},
		{"not http", "GET", hashservice.Path + "?pieceLength=16384&url=" + url.QueryEscape("file:///etc/passwd"), nil, 400},
		{"origin not allowed", "GET", hashservice.Path + "?pieceLength=16384&url=" + url.QueryEscape("http://127.0.0.2:1/a.mp4"), nil, 403},
		{"redirect out of the allowlist", "GET", pieces("/away/a.mp4"), nil, 403},
		{"redirect loop", "GET", pieces("/loop/a.mp4"), nil, 502},
		{"origin 404", "GET", pieces("/media/none.mp4"), nil, 502},
		{"origin 500", "GET", pieces("/error/a.mp4"), nil, 502},
		{"content coding", "GET", pieces("/gzip/a.mp4"), nil, 502},
		{"no length", "GET", pieces("/chunked/a.mp4"), nil, 502},
		{"too large", "GET", pieces("/media/big.mp4"), nil, 413},
		{"range too large", "GET", pieces("/media/big.mp4", "start", "0", "end", fmt.Sprint(maxSize+1)), nil, 413},
		{"range past the end", "GET", pieces("/media/a.mp4", "start", "0", "end", "400000"), nil, 416},
		{"origin too slow", "GET", pieces("/slow/a.mp4"), nil, 504},
		{"no such endpoint", "GET", "/v2/pieces", nil, 404},
		{"method", "POST", pieces("/media/a.mp4"), nil, 405},
	}
	var mu sync.Mutex
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			defer mu.Unlock()
			want := do(t, tt.method, native()+tt.path, tt.header)
			got := do(t, tt.method, worker+tt.path, tt.header)
			if want.status != tt.status {
				t.Errorf("native: status %d, want %d: %s", want.status, tt.status, want.body)
			}
			if got.status != want.status {
				t.Errorf("worker: status %d, native %d", got.status, want.status)
			}
			if !bytes.Equal(got.body, want.body) {
				t.Errorf("worker body:\n%s\nnative body:\n%s", got.body, want.body)
			}
			for _, h := range comparedHeaders {
				if g, w := strings.Join(got.header.Values(h), ", "), strings.Join(want.header.Values(h), ", "); g != w {
					t.Errorf("%s: worker %q, native %q", h, g, w)
				}
			}
		})
	}
}

// TestWorkerMisconfigured checks that a Worker without an allowlist says so
// in a JSON error rather than serving anything.
func TestWorkerMisconfigured(t *testing.T) {
	worker := startWorkerd(t, workerBuild, map[string]string{"HASHES_TIMEOUT": "soon"})
	x := do(t, http.MethodGet, worker+hashservice.Path+"?pieceLength=16384&url=http%3A%2F%2F127.0.0.1%2Fa.mp4", nil)
	if x.status != http.StatusInternalServerError || !bytes.Contains(x.body, []byte(`"error":"the service is misconfigured: HASHES_ALLOW is empty`)) {
		t.Errorf("got %d %s", x.status, x.body)
	}
}
