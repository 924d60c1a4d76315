package hashservice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

const kib = 1024

// media returns n deterministic bytes, like an MP4 file's.
func media(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	for i := 32; i < n; i++ {
		b[i] = byte(i*13 + i/509)
	}
	return b
}

// origin is a real HTTP origin on 127.0.0.1 serving files with Range,
// ETag and Last-Modified (http.ServeContent), and a few misbehaviours.
type origin struct {
	*httptest.Server
	files    map[string][]byte
	mu       sync.Mutex
	requests map[string]int // path → requests
	gate     chan struct{}  // /slow/ waits on it
	etagGen  atomic.Int64   // /changing/ bumps it on every request
}

var modTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newOrigin(t testing.TB) *origin {
	o := &origin{files: map[string][]byte{
		"a.mp4":     media(300*kib + 5),
		"small.mp4": media(1000),
		"empty.mp4": {},
		"big.mp4":   media(2 << 20),
	}, requests: map[string]int{}, gate: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[path]
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.requests[r.URL.Path]++
	o.mu.Unlock()
	dir, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	data, ok := o.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch dir {
	case "media":
	case "slow":
		<-o.gate
	case "norange": // ignores Range
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
		return
	case "changing":
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, o.etagGen.Add(1)))
		http.ServeContent(w, r, name, modTime, bytes.NewReader(data))
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
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", `"`+name+`-1"`)
	http.ServeContent(w, r, name, modTime, bytes.NewReader(data))
}

// service starts the handler in front of o, on its own 127.0.0.1 server.
func service(t testing.TB, o *origin, cfg Config) (*Handler, *httptest.Server) {
	t.Helper()
	if cfg.Allow == nil {
		cfg.Allow = []string{o.URL}
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = 64 * kib
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return h, s
}

func query(mediaURL string, kv ...string) string {
	v := url.Values{"url": {mediaURL}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return Path + "?" + v.Encode()
}

func get(t testing.TB, base, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
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

// wantPieces checks an answer against data[start:end] cut in pieces of l.
func wantPieces(t *testing.T, body []byte, data []byte, start, end, l int64) *piecehash.List {
	t.Helper()
	list, err := piecehash.Decode(body)
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	if list.Start != start || list.End != end || list.Size != int64(len(data)) || list.PieceLength != l {
		t.Fatalf("list of [%d, %d) of %d in %d: got [%d, %d) of %d in %d", start, end, len(data), l, list.Start, list.End, list.Size, list.PieceLength)
	}
	for i := range list.Pieces {
		s, e, _ := list.PieceRange(i)
		if err := list.Verify(i, data[s:e]); err != nil {
			t.Errorf("piece %d: %v", i, err)
		}
	}
	return list
}

func TestPieces(t *testing.T) {
	o := newOrigin(t)
	_, s := service(t, o, Config{})
	a := o.files["a.mp4"]
	for _, tc := range []struct {
		name, path string
		kv         []string
		start, end int64
		data       []byte
	}{
		{"whole in 5 chunks", "/media/a.mp4", nil, 0, int64(len(a)), a},
		{"range", "/media/a.mp4", []string{"start", "70000", "end", "200001"}, 70000, 200001, a},
		{"range to the end", "/media/a.mp4", []string{"start", "1", "end", fmt.Sprint(len(a))}, 1, int64(len(a)), a},
		{"smaller than a piece", "/media/small.mp4", nil, 0, 1000, o.files["small.mp4"]},
		{"empty", "/media/empty.mp4", nil, 0, 0, nil},
		{"origin ignores Range", "/norange/a.mp4", nil, 0, int64(len(a)), a},
		{"origin ignores Range, range", "/norange/a.mp4", []string{"start", "5", "end", "100000"}, 5, 100000, a},
		{"allowed redirect", "/redirect/a.mp4", nil, 0, int64(len(a)), a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := append([]string{"pieceLength", "16384"}, tc.kv...)
			resp, body := get(t, s.URL, query(o.URL+tc.path, kv...))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			l := wantPieces(t, body, tc.data, tc.start, tc.end, 16384)
			if l.URL != o.URL+tc.path {
				t.Errorf("url %q, want the one asked for, %q", l.URL, o.URL+tc.path)
			}
			for k, want := range map[string]string{
				"Content-Type":                "application/json",
				"Cache-Control":               "public, max-age=300",
				"Access-Control-Allow-Origin": "*",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if resp.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
		})
	}
	// Each answer took one request a 64 KiB chunk and no more: 5 for the
	// whole file, 2 for the range, 5 for the range to the end, 5 after the
	// redirect.
	const chunks = 5 + 2 + 5 + 5
	if n := o.count("/media/a.mp4"); n != chunks {
		t.Errorf("origin got %d requests for a.mp4, want %d", n, chunks)
	}
	resp, body := get(t, s.URL, query(o.URL+"/media/a.mp4", "pieceLength", "16384"))
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("cached answer: %d %s", resp.StatusCode, body)
	}
	if n := o.count("/media/a.mp4"); n != chunks {
		t.Errorf("a cached answer cost the origin %d requests", n-chunks)
	}
	wantPieces(t, body, a, 0, int64(len(a)), 16384)
	// The same media in other pieces is another answer.
	_, body = get(t, s.URL, query(o.URL+"/media/a.mp4", "pieceLength", "524288"))
	wantPieces(t, body, a, 0, int64(len(a)), 524288)
}

func TestErrors(t *testing.T) {
	o := newOrigin(t)
	_, s := service(t, o, Config{MaxSize: 1 << 20, Allow: []string{o.URL, "elsewhere.invalid"}})
	m := o.URL + "/media/a.mp4"
	pl := "16384"
	for _, tc := range []struct {
		name   string
		path   string
		status int
		want   string
		origin int
	}{
		{"no url", Path + "?pieceLength=16384", 400, "missing url", 0},
		{"no pieceLength", query(m), 400, `pieceLength ""`, 0},
		{"pieceLength zero", query(m, "pieceLength", "0"), 400, "pieceLength 0 must be", 0},
		{"pieceLength not a multiple", query(m, "pieceLength", "1000"), 400, "pieceLength 1000 must be", 0},
		{"pieceLength too long", query(m, "pieceLength", "33554432"), 400, "pieceLength 33554432 must be", 0},
		{"pieceLength leading zero", query(m, "pieceLength", "016384"), 400, `pieceLength "016384"`, 0},
		{"pieceLength negative", query(m, "pieceLength", "-16384"), 400, `pieceLength "-16384"`, 0},
		{"relative url", query("/media/a.mp4", "pieceLength", pl), 400, "not an absolute http(s) URL", 0},
		{"ftp url", query("ftp://127.0.0.1/a.mp4", "pieceLength", pl), 400, "not an absolute http(s) URL", 0},
		{"credentials", query(strings.Replace(m, "://", "://u:p@", 1), "pieceLength", pl), 400, "carries credentials", 0},
		{"fragment", query(m+"#t=1", "pieceLength", pl), 400, "has a fragment", 0},
		{"unknown parameter", query(m, "pieceLength", pl, "x", "1"), 400, `unknown parameter "x"`, 0},
		{"twice", query(m, "pieceLength", pl) + "&pieceLength=16384", 400, `"pieceLength" given 2 times`, 0},
		{"start alone", query(m, "pieceLength", pl, "start", "0"), 400, "want both", 0},
		{"empty range", query(m, "pieceLength", pl, "start", "5", "end", "5"), 400, "want both", 0},
		{"reversed range", query(m, "pieceLength", pl, "start", "6", "end", "5"), 400, "want both", 0},
		{"not allowed host", query("http://127.0.0.2:1/a.mp4", "pieceLength", pl), 403, "origin http://127.0.0.2:1 is not in this service's allowlist", 0},
		{"not allowed port", query(strings.Replace(o.URL, "127.0.0.1:", "127.0.0.1:1", 1)+"/a.mp4", "pieceLength", pl), 403, "not in this service's allowlist", 0},
		{"not allowed scheme", query(strings.Replace(m, "http:", "https:", 1), "pieceLength", pl), 403, "not in this service's allowlist", 0},
		{"redirect away", query(o.URL+"/away/a.mp4", "pieceLength", pl), 403, "redirected to http://elsewhere.example", 0},
		{"redirect loop", query(o.URL+"/loop/a.mp4", "pieceLength", pl), 502, "more than 5 redirects", 0},
		{"too large", query(o.URL+"/media/big.mp4", "pieceLength", pl), 413, "2097152 bytes to hash exceed this service's limit of 1048576", 0},
		{"range too large", query(m, "pieceLength", pl, "start", "0", "end", "1048577"), 413, "1048577 bytes to hash exceed", 0},
		{"too many pieces", query(m, "pieceLength", pl, "start", "0", "end", "1073741825"), 413, "exceed", 0},
		{"range past the end", query(m, "pieceLength", pl, "start", "300000", "end", "400000"), 416, "bytes [300000, 400000) pass the end of the 307205-byte resource", 0},
		{"range after the end", query(m, "pieceLength", pl, "start", "400000", "end", "400001"), 416, "pass the end of the 307205-byte resource", 0},
		{"origin 404", query(o.URL+"/media/nope.mp4", "pieceLength", pl), 502, "answered 404 Not Found", 404},
		{"content coding", query(o.URL+"/gzip/a.mp4", "pieceLength", pl), 502, `"gzip"-coded body`, 0},
		{"changing resource", query(o.URL+"/changing/a.mp4", "pieceLength", pl), 502, "the resource changed while it was hashed", 0},
		{"wrong path", "/v2/pieces?url=x", 404, "no such endpoint", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, s.URL, tc.path)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			var e struct {
				Error        string `json:"error"`
				OriginStatus int    `json:"originStatus"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if !strings.Contains(e.Error, tc.want) || e.OriginStatus != tc.origin {
				t.Errorf("body %s, want error with %q and originStatus %d", body, tc.want, tc.origin)
			}
			if ct, cc, cors := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), resp.Header.Get("Access-Control-Allow-Origin"); ct != "application/json" || cc != "no-store" || cors != "*" {
				t.Errorf("headers: Content-Type %q, Cache-Control %q, CORS %q", ct, cc, cors)
			}
		})
	}
	// Refused requests never reach the origin.
	if n := o.count("/a.mp4"); n != 0 {
		t.Errorf("the origin got %d refused requests", n)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+query(m, "pieceLength", pl), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestPreflight(t *testing.T) {
	o := newOrigin(t)
	_, s := service(t, o, Config{})
	req, _ := http.NewRequest(http.MethodOptions, s.URL+Path, nil)
	req.Header.Set("Origin", "https://site.example")
	req.Header.Set("Access-Control-Request-Headers", "if-none-match")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "If-None-Match") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestNotModifiedAndRevalidation(t *testing.T) {
	o := newOrigin(t)
	h, s := service(t, o, Config{CacheTTL: 2 * time.Second})
	q := query(o.URL+"/media/a.mp4", "pieceLength", "16384")
	resp, _ := get(t, s.URL, q)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Cache-Control") != "public, max-age=2" {
		t.Fatalf("first: %d ETag %q Cache-Control %q", resp.StatusCode, etag, resp.Header.Get("Cache-Control"))
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, b := get(t, s.URL, q, "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q ETag %q", inm, resp.StatusCode, b, resp.Header.Get("ETag"))
		}
	}
	if resp, _ := get(t, s.URL, q, "If-None-Match", `"other"`); resp.StatusCode != 200 {
		t.Errorf("If-None-Match of another tag: %d", resp.StatusCode)
	}
	before := o.count("/media/a.mp4")
	if before != 5 {
		t.Errorf("origin requests %d, want 5", before)
	}
	// Past the TTL, the origin's validators are the same: one probe renews
	// the answer.
	time.Sleep(2100 * time.Millisecond)
	resp, b := get(t, s.URL, q, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidated: %d %s", resp.StatusCode, b)
	}
	if n := o.count("/media/a.mp4") - before; n != 1 {
		t.Errorf("revalidation cost %d origin requests, want 1", n)
	}
	// A new version of the resource: the probe sees it and the answer is
	// computed again.
	o.mu.Lock()
	o.files["a.mp4"] = media(100 * kib)
	o.mu.Unlock()
	h.mu.Lock()
	for _, e := range h.cache.byKey {
		e.Value.(*cacheEntry).a.at = time.Now().Add(-time.Hour)
	}
	h.mu.Unlock()
	resp, b = get(t, s.URL, q, "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a change: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	wantPieces(t, b, media(100*kib), 0, 100*kib, 16384)
}

func TestCoalescing(t *testing.T) {
	o := newOrigin(t)
	_, s := service(t, o, Config{MaxConcurrent: 1})
	q := query(o.URL+"/slow/a.mp4", "pieceLength", "16384")
	const viewers = 20
	var wg sync.WaitGroup
	bodies := make([][]byte, viewers)
	statuses := make([]int, viewers)
	for i := range viewers {
		wg.Go(func() {
			resp, b := get(t, s.URL, q)
			statuses[i], bodies[i] = resp.StatusCode, b
		})
	}
	// Let every request reach the handler and join the one flight.
	deadline := time.Now().Add(5 * time.Second)
	for o.count("/slow/a.mp4") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	// Another resource meanwhile: the one slot is taken.
	if resp, b := get(t, s.URL, query(o.URL+"/media/small.mp4", "pieceLength", "16384")); resp.StatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(string(b), "busy") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second resource while busy: %d %s", resp.StatusCode, b)
	}
	close(o.gate)
	wg.Wait()
	for i := range viewers {
		if statuses[i] != 200 || !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("viewer %d: %d %s", i, statuses[i], bodies[i])
		}
	}
	wantPieces(t, bodies[0], o.files["a.mp4"], 0, int64(len(o.files["a.mp4"])), 16384)
	if n := o.count("/slow/a.mp4"); n != 5 {
		t.Errorf("%d viewers cost the origin %d requests, want 5 (one fetch of 5 chunks)", viewers, n)
	}
	// The slot is free again.
	if resp, b := get(t, s.URL, query(o.URL+"/media/small.mp4", "pieceLength", "16384")); resp.StatusCode != 200 {
		t.Errorf("after the flight: %d %s", resp.StatusCode, b)
	}
}

func TestTimeout(t *testing.T) {
	o := newOrigin(t)
	defer close(o.gate)
	_, s := service(t, o, Config{Timeout: 300 * time.Millisecond})
	start := time.Now()
	resp, b := get(t, s.URL, query(o.URL+"/slow/a.mp4", "pieceLength", "16384"))
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(b), "deadline exceeded") && !strings.Contains(string(b), "did not deliver") {
		t.Errorf("slow origin: %d %s", resp.StatusCode, b)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the 504 took %v", d)
	}
}

func TestHead(t *testing.T) {
	o := newOrigin(t)
	_, s := service(t, o, Config{})
	resp, err := http.Head(s.URL + query(o.URL+"/media/small.mp4", "pieceLength", "16384"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" || resp.ContentLength <= 0 {
		t.Errorf("HEAD: %d ETag %q length %d", resp.StatusCode, resp.Header.Get("ETag"), resp.ContentLength)
	}
}

func TestCacheBound(t *testing.T) {
	c := newCache(4000) // entries of 1,513, 1,513 and 1,013 bytes
	mk := func(n int) *answer {
		return &answer{body: make([]byte, n), list: &piecehash.List{}}
	}
	c.put("a", mk(1000))
	c.put("b", mk(1000))
	c.get("a") // b is now the least recently used
	c.put("c", mk(500))
	if c.get("b") != nil || c.get("a") == nil || c.get("c") == nil {
		t.Errorf("eviction: a %v b %v c %v", c.get("a") != nil, c.get("b") != nil, c.get("c") != nil)
	}
	if c.used > c.max {
		t.Errorf("used %d > max %d", c.used, c.max)
	}
	c.put("huge", mk(5000))
	if c.get("huge") != nil {
		t.Error("an answer larger than the cache was cached")
	}
	c.put("a", mk(10))
	if c.len() != 2 {
		t.Errorf("len %d after replacing a, want 2", c.len())
	}
	var sum int64
	for _, e := range c.byKey {
		ce := e.Value.(*cacheEntry)
		sum += entrySize(ce.key, ce.a)
	}
	if sum != c.used {
		t.Errorf("used %d, entries add up to %d", c.used, sum)
	}
}

func TestAllowlist(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		url     string
		ok      bool
	}{
		{"cdn.example.com", "https://cdn.example.com/a.mp4", true},
		{"cdn.example.com", "http://CDN.example.com/a.mp4", true},
		{"cdn.example.com", "https://cdn.example.com:443/a.mp4", true},
		{"cdn.example.com", "https://cdn.example.com:8443/a.mp4", false},
		{"cdn.example.com", "http://cdn.example.com:443/a.mp4", false},
		{"cdn.example.com", "https://evil-cdn.example.com/a.mp4", false},
		{"cdn.example.com", "https://cdn.example.com.evil.com/a.mp4", false},
		{"*.example.com", "https://a.b.example.com/x", true},
		{"*.example.com", "https://example.com/x", false},
		{"*.example.com", "https://badexample.com/x", false},
		{"https://cdn.example.com", "https://cdn.example.com/a", true},
		{"https://cdn.example.com", "http://cdn.example.com/a", false},
		{"HTTP://127.0.0.1:8080", "http://127.0.0.1:8080/a", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081/a", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1/a", false},
		{"http://[::1]:8080", "http://[::1]:8080/a", true},
		{"[::1]", "http://[::1]/a", true},
	} {
		a, err := parseAllowlist([]string{tc.pattern})
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		u, _ := url.Parse(tc.url)
		if got := a.allows(u); got != tc.ok {
			t.Errorf("%q allows %q: %v, want %v", tc.pattern, tc.url, got, tc.ok)
		}
	}
	for _, bad := range []string{"", "*", "*.", "ftp://a.com", "http://", "http://a.com:0", "http://a.com:99999", "a.com/path", "a_b.com", "*.1.2.3.4", "https://a.com:x"} {
		if _, err := parseAllowlist([]string{bad}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New with no allowlist: no error")
	}
}

// BenchmarkHash measures hashing a 2 MiB resource from a local origin
// (no cache).
func BenchmarkHash(b *testing.B) {
	o := newOrigin(b)
	h, err := New(Config{Allow: []string{o.URL}, CacheBytes: -1, MaxSize: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	q := query(o.URL+"/media/big.mp4", "pieceLength", "524288")
	b.SetBytes(2 << 20)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, q, nil))
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

func TestPieceBound(t *testing.T) {
	h, err := New(Config{Allow: []string{"cdn.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	err = h.checkWork(1<<30, 16384) // 65,536 pieces: the most a list holds
	if err != nil {
		t.Errorf("1 GiB in 16 KiB pieces: %v", err)
	}
	err = h.checkWork(1<<30+1, 16384)
	if e, ok := err.(*Error); !ok || e.Status != http.StatusRequestEntityTooLarge || !strings.Contains(e.Message, "65537 pieces, more than 65536") {
		t.Errorf("1 GiB + 1 in 16 KiB pieces: %v", err)
	}
}

// memStore is a Store in memory, shared by Handlers as the Workers Cache
// API is by the programs of a Workers deployment.
type memStore struct {
	mu    sync.Mutex
	items map[string]memItem
}

type memItem struct {
	body []byte
	at   time.Time
}

func (m *memStore) Load(_ context.Context, key string) ([]byte, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[key]
	return it.body, it.at, ok
}

func (m *memStore) Save(_ context.Context, key string, body []byte, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[key] = memItem{body, at}
}

func TestStore(t *testing.T) {
	o := newOrigin(t)
	st := &memStore{items: map[string]memItem{}}
	_, s1 := service(t, o, Config{Store: st, CacheTTL: time.Minute})
	_, s2 := service(t, o, Config{Store: st, CacheTTL: time.Minute})
	q := query(o.URL+"/media/a.mp4", "pieceLength", "16384")
	r1, b1 := get(t, s1.URL, q)
	n := o.count("/media/a.mp4")
	r2, b2 := get(t, s2.URL, q)
	if r1.StatusCode != 200 || r2.StatusCode != 200 || !bytes.Equal(b1, b2) || r1.Header.Get("ETag") != r2.Header.Get("ETag") {
		t.Fatalf("answers differ: %d %s / %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
	}
	if o.count("/media/a.mp4") != n {
		t.Errorf("the second Handler asked the origin again (%d requests, then %d)", n, o.count("/media/a.mp4"))
	}
	if cc := r2.Header.Get("Cache-Control"); cc != "public, max-age=60" && cc != "public, max-age=59" {
		t.Errorf("Cache-Control from the store: %q", cc)
	}
	// A stale entry is revalidated with one probe; a corrupt one is a miss.
	for k, it := range st.items {
		st.items[k] = memItem{it.body, time.Now().Add(-time.Hour)}
	}
	_, s3 := service(t, o, Config{Store: st})
	if r, b := get(t, s3.URL, q); r.StatusCode != 200 || !bytes.Equal(b, b1) || o.count("/media/a.mp4") != n+1 {
		t.Errorf("stale entry: %d, %d origin requests after %d", r.StatusCode, o.count("/media/a.mp4"), n)
	}
	for k := range st.items {
		st.items[k] = memItem{[]byte(`{"version":1}`), time.Now()}
	}
	_, s4 := service(t, o, Config{Store: st})
	if r, b := get(t, s4.URL, q); r.StatusCode != 200 || !bytes.Equal(b, b1) {
		t.Errorf("corrupt entry: %d %s", r.StatusCode, b)
	}
}

func TestAllowed(t *testing.T) {
	o := newOrigin(t)
	ou, _ := url.Parse(o.URL)
	// Any host on the origin's port, as the demo admits its own origin by
	// whatever name the page reached it.
	_, s := service(t, o, Config{Allow: []string{}, Allowed: func(u *url.URL) bool { return u.Port() == ou.Port() }})
	if resp, b := get(t, s.URL, query(o.URL+"/media/small.mp4", "pieceLength", "16384")); resp.StatusCode != 200 {
		t.Errorf("admitted URL: %d %s", resp.StatusCode, b)
	}
	if resp, b := get(t, s.URL, query("http://127.0.0.1:1/small.mp4", "pieceLength", "16384")); resp.StatusCode != 403 {
		t.Errorf("other port: %d %s", resp.StatusCode, b)
	}
}
