//go:build js && wasm

// Package jsfetch is the engine's HTTP client in the browser: it implements
// engine.Fetcher with the Fetch API through syscall/js, which keeps net/http
// (about 1.4 MiB of brotli'd wasm) out of the page's binary.
//
// Requests are CORS requests with the page's credentials for same-origin
// URLs and never touch the HTTP cache ("no-store"): a ranged response in the
// cache helps nobody and a stale validator would split swarms. The one
// exception is FetchCached, which reads back bytes the service worker has
// just fetched for the player. Response
// bodies are read through the stream reader and copied into the caller's
// buffer chunk by chunk; no body is ever held whole in Go memory.
//
// Cross-origin, a response exposes only the CORS-safelisted headers unless
// the origin lists more in Access-Control-Expose-Headers. Content-Length and
// Last-Modified are safelisted; ETag and Content-Range are not. Without ETag
// the resource is identified by its size and Last-Modified. Without
// Content-Range a 206 is accepted when its Content-Length is the length
// asked for, and the size comes from an earlier Stat of the same URL.
package jsfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall/js"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// StatusError reports an origin response with an unexpected status, such as
// 404 Not Found or 416 Range Not Satisfiable.
type StatusError struct {
	// URL is the requested URL.
	URL string
	// Code is the response's status code.
	Code int
}

// Error implements error.
func (e *StatusError) Error() string {
	return "jsfetch: " + e.URL + ": status " + strconv.Itoa(e.Code)
}

// maxSizes bounds the sizes remembered for 206 responses without a readable
// Content-Range; the memo is cleared when full.
const maxSizes = 256

// Fetcher fetches resources from their origin with the page's fetch. It
// implements engine.Fetcher and is safe for concurrent use. The zero value
// is ready to use.
type Fetcher struct {
	// Credentials is the request's credentials mode: "same-origin" when
	// empty, "include" or "omit".
	Credentials string

	mu    sync.Mutex
	sizes map[string]int64 // URL → size learned by Stat
}

// response is one fetch response with the means to stop it.
type response struct {
	v    js.Value // Response
	ctrl js.Value // AbortController of the request
	stop func() bool
}

// abort cancels the request and its body; harmless once the body is read.
func (r *response) abort() {
	r.stop()
	_, _ = jsutil.Call(r.ctrl, "abort")
}

func (r *response) status() int { return r.v.Get("status").Int() }

// header returns a response header, "" when absent or not exposed.
func (r *response) header(name string) string {
	v, err := jsutil.Call(r.v.Get("headers"), "get", name)
	if err != nil || v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// contentLength returns the Content-Length, -1 when absent or invalid.
func (r *response) contentLength() int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(r.header("Content-Length")), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func (r *response) info(size int64) identity.ResourceInfo {
	return identity.ResourceInfo{Size: size, ETag: r.header("ETag"), LastModified: r.header("Last-Modified")}
}

// do sends one request; rangeHeader, when set, goes in a Range header. The
// response's body is aborted when ctx ends; the caller must abort it when
// done with it.
func (f *Fetcher) do(ctx context.Context, method, url, rangeHeader string) (*response, error) {
	return f.doCache(ctx, method, url, rangeHeader, "no-store")
}

// doCache is do with the request's cache mode.
func (f *Fetcher) doCache(ctx context.Context, method, url, rangeHeader, cache string) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("jsfetch: %s %s: %w", method, url, err)
	}
	ctrl := js.Global().Get("AbortController").New()
	cred := f.Credentials
	if cred == "" {
		cred = "same-origin"
	}
	init := map[string]any{
		"method":      method,
		"mode":        "cors",
		"credentials": cred,
		"cache":       cache,
		"signal":      ctrl.Get("signal"),
	}
	if rangeHeader != "" {
		init["headers"] = map[string]any{"Range": rangeHeader}
	}
	stop := context.AfterFunc(ctx, func() { _, _ = jsutil.Call(ctrl, "abort") })
	p, err := jsutil.Call(js.Global(), "fetch", url, init)
	if err == nil {
		p, err = jsutil.Await(ctx, p)
	}
	if err != nil {
		stop()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("jsfetch: %s %s: %w", method, url, err)
	}
	return &response{v: p, ctrl: ctrl, stop: stop}, nil
}

// Stat returns the size and validators of the resource at url.
//
// It asks with HEAD. When the origin refuses HEAD (403, 405 or 501), gives
// no Content-Length, or compresses the response (the length would not be
// the resource's), it asks for the first byte with a ranged GET and reads
// the size from Content-Range, or from Content-Length when the origin
// ignores the range.
func (f *Fetcher) Stat(ctx context.Context, url string) (identity.ResourceInfo, error) {
	resp, err := f.do(ctx, "HEAD", url, "")
	if err != nil {
		return identity.ResourceInfo{}, err
	}
	resp.abort()
	code := resp.status()
	enc := strings.ToLower(resp.header("Content-Encoding"))
	switch {
	case code == 200 && resp.contentLength() >= 0 && (enc == "" || enc == "identity"):
		return f.remember(url, resp.info(resp.contentLength())), nil
	case code == 200, code == 403, code == 405, code == 501:
		return f.statGet(ctx, url)
	default:
		return identity.ResourceInfo{}, &StatusError{URL: url, Code: code}
	}
}

// statGet is Stat's fallback: GET with "Range: bytes=0-0".
func (f *Fetcher) statGet(ctx context.Context, url string) (identity.ResourceInfo, error) {
	resp, err := f.do(ctx, "GET", url, "bytes=0-0")
	if err != nil {
		return identity.ResourceInfo{}, err
	}
	defer resp.abort() // a 200 would stream the whole resource
	switch code := resp.status(); code {
	case 206:
		cr := resp.header("Content-Range")
		if cr == "" {
			return identity.ResourceInfo{}, fmt.Errorf("jsfetch: stat %s: no Content-Range (a cross-origin server must list it in Access-Control-Expose-Headers)", url)
		}
		_, size, err := byterange.ParseContentRange(cr)
		if err == nil && size < 0 {
			err = errors.New("unknown size")
		}
		if err != nil {
			return identity.ResourceInfo{}, fmt.Errorf("jsfetch: stat %s: Content-Range %q: %w", url, cr, err)
		}
		return f.remember(url, resp.info(size)), nil
	case 200:
		n := resp.contentLength()
		if n < 0 {
			return identity.ResourceInfo{}, fmt.Errorf("jsfetch: stat %s: origin gives neither Content-Length nor Content-Range", url)
		}
		return f.remember(url, resp.info(n)), nil
	case 416:
		// The first byte is out of range only for an empty resource.
		_, size, err := byterange.ParseContentRange(resp.header("Content-Range"))
		if errors.Is(err, byterange.ErrUnsatisfiable) && size == 0 {
			return f.remember(url, resp.info(0)), nil
		}
		return identity.ResourceInfo{}, &StatusError{URL: url, Code: code}
	default:
		return identity.ResourceInfo{}, &StatusError{URL: url, Code: code}
	}
}

// remember keeps the size of url for 206 responses that hide Content-Range.
func (f *Fetcher) remember(url string, info identity.ResourceInfo) identity.ResourceInfo {
	f.mu.Lock()
	if f.sizes == nil || len(f.sizes) >= maxSizes {
		f.sizes = make(map[string]int64)
	}
	f.sizes[url] = info.Size
	f.mu.Unlock()
	return info
}

func (f *Fetcher) knownSize(url string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.sizes[url]
	return n, ok
}

// Fetch returns the info of the resource at url and a body yielding its
// bytes [start, end).
//
// It asks with a ranged GET. A 206 response must carry exactly the asked
// range (see the package doc for a hidden Content-Range); a 200 response
// (the origin ignored the range) must carry a Content-Length, and its first
// start bytes are skipped. Any other status is returned as a *StatusError.
//
// end may pass the end of the resource (a caller that does not know the size
// yet asks for its first bytes): the range then stops at the resource's end,
// which must lie past start. The body yields exactly that many bytes: it
// fails with io.ErrUnexpectedEOF when the origin sends fewer and stops at the
// range's end when it sends more. Reads fail with ctx's error once ctx ends. The caller must
// close it.
func (f *Fetcher) Fetch(ctx context.Context, url string, start, end int64) (identity.ResourceInfo, io.ReadCloser, error) {
	return f.fetch(ctx, url, start, end, "no-store")
}

// FetchCached is Fetch from the browser's HTTP cache ("force-cache"), for
// bytes that a fetch of the service worker took from the origin moments
// before (see docs/browser-runtime.md, "Direct responses"); the origin
// answers for what the cache does not hold. ("only-if-cached", which would
// fail instead, fails on every Range request in Chromium.)
func (f *Fetcher) FetchCached(ctx context.Context, url string, start, end int64) (identity.ResourceInfo, io.ReadCloser, error) {
	return f.fetch(ctx, url, start, end, "force-cache")
}

func (f *Fetcher) fetch(ctx context.Context, url string, start, end int64, cache string) (identity.ResourceInfo, io.ReadCloser, error) {
	if start < 0 || end <= start {
		return identity.ResourceInfo{}, nil, fmt.Errorf("jsfetch: fetch %s: invalid range [%d, %d)", url, start, end)
	}
	want := byterange.Range{Start: start, End: end}
	resp, err := f.doCache(ctx, "GET", url, byterange.Header(want), cache)
	if err != nil {
		return identity.ResourceInfo{}, nil, err
	}
	info, skip, err := f.check(resp, url, want)
	if err != nil {
		resp.abort()
		return identity.ResourceInfo{}, nil, err
	}
	stream := resp.v.Get("body")
	if !jsutil.IsObject(stream) {
		resp.abort()
		return identity.ResourceInfo{}, nil, fmt.Errorf("jsfetch: fetch %s: response has no body", url)
	}
	reader, err := jsutil.Call(stream, "getReader")
	if err != nil {
		resp.abort()
		return identity.ResourceInfo{}, nil, fmt.Errorf("jsfetch: fetch %s: %w", url, err)
	}
	return info, &body{ctx: ctx, resp: resp, reader: reader, skip: skip, left: min(end, info.Size) - start, url: url}, nil
}

// check validates the status and headers of a ranged response; it returns
// the resource's info and how many leading bytes of the body to skip.
func (f *Fetcher) check(resp *response, url string, want byterange.Range) (identity.ResourceInfo, int64, error) {
	switch code := resp.status(); code {
	case 206:
		cr := resp.header("Content-Range")
		if cr == "" {
			size, ok := f.knownSize(url)
			if !ok || want.End > size || resp.contentLength() != want.Len() {
				return identity.ResourceInfo{}, 0, fmt.Errorf("jsfetch: fetch %s: 206 without a readable Content-Range (a cross-origin server must list it in Access-Control-Expose-Headers)", url)
			}
			return resp.info(size), 0, nil
		}
		got, size, err := byterange.ParseContentRange(cr)
		switch {
		case err != nil:
			err = fmt.Errorf("Content-Range %q: %w", cr, err)
		case size < 0:
			err = fmt.Errorf("Content-Range %q: unknown size", cr)
		case got != want && (got.Start != want.Start || got.End != size || size >= want.End):
			err = fmt.Errorf("asked bytes [%d, %d), got Content-Range %q", want.Start, want.End, cr)
		}
		if err != nil {
			return identity.ResourceInfo{}, 0, fmt.Errorf("jsfetch: fetch %s: %w", url, err)
		}
		return resp.info(size), 0, nil
	case 200:
		n := resp.contentLength()
		if n <= want.Start {
			if n < 0 {
				return identity.ResourceInfo{}, 0, fmt.Errorf("jsfetch: fetch %s: origin ignored the range and gives no Content-Length", url)
			}
			return identity.ResourceInfo{}, 0, fmt.Errorf("jsfetch: fetch %s: asked bytes [%d, %d) of a %d-byte resource", url, want.Start, want.End, n)
		}
		return resp.info(n), want.Start, nil
	default:
		return identity.ResourceInfo{}, 0, &StatusError{URL: url, Code: code}
	}
}

// body reads a response body through its stream reader. The current chunk
// stays a JS Uint8Array; only what Read asks for is copied into Go memory.
type body struct {
	ctx    context.Context
	resp   *response
	reader js.Value // ReadableStreamDefaultReader
	chunk  js.Value // current Uint8Array
	off, n int      // read position and length of chunk
	skip   int64    // leading bytes still to discard (200 responses)
	left   int64    // bytes still to yield
	url    string
	closed bool
}

// Read implements io.Reader. It returns io.ErrUnexpectedEOF when the
// response ends early and io.EOF once the promised bytes are read.
func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, fmt.Errorf("jsfetch: reading %s: body closed", b.url)
	}
	if b.left <= 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	for b.off >= b.n || b.skip > 0 {
		if b.off >= b.n {
			if err := b.next(); err != nil {
				return 0, err
			}
			continue
		}
		d := min(b.skip, int64(b.n-b.off))
		b.off += int(d)
		b.skip -= d
	}
	k := min(len(p), b.n-b.off)
	if int64(k) > b.left {
		k = int(b.left)
	}
	js.CopyBytesToGo(p[:k], b.chunk.Call("subarray", b.off, b.off+k))
	b.off += k
	b.left -= int64(k)
	if b.left == 0 {
		b.release()
		return k, io.EOF
	}
	return k, nil
}

// next reads the stream's next chunk.
func (b *body) next() error {
	p, err := jsutil.Call(b.reader, "read")
	if err == nil {
		p, err = jsutil.Await(b.ctx, p)
	}
	if err != nil {
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		return fmt.Errorf("jsfetch: reading %s: %w", b.url, err)
	}
	if p.Get("done").Bool() {
		return io.ErrUnexpectedEOF
	}
	v := p.Get("value")
	if v.Type() != js.TypeObject {
		return fmt.Errorf("jsfetch: reading %s: stream gave a non-chunk", b.url)
	}
	b.chunk, b.off, b.n = v, 0, v.Get("length").Int()
	return nil
}

// release drops the chunk and stops the request (the rest of a 200 body, or
// nothing once a 206 body is read).
func (b *body) release() {
	b.chunk, b.off, b.n = js.Undefined(), 0, 0
	b.resp.abort()
}

// Close implements io.Closer; it aborts the request if unfinished.
func (b *body) Close() error {
	if !b.closed {
		b.closed = true
		b.release()
	}
	return nil
}

// Get fetches a document with GET, through the browser's HTTP cache (the
// piece-hash service's answers are cacheable), and returns its status and
// body, which may be at most max bytes.
func (f *Fetcher) Get(ctx context.Context, url string, max int) (int, []byte, error) {
	return f.get(ctx, url, max, "default")
}

// GetFresh is Get with the cache mode "no-cache": a copy in the browser's
// cache is used only once the server confirmed that it is current. A live
// stream's PeerTube list changes with every segment, whatever its
// Cache-Control says.
func (f *Fetcher) GetFresh(ctx context.Context, url string, max int) (int, []byte, error) {
	return f.get(ctx, url, max, "no-cache")
}

// get is Get with the request's cache mode.
func (f *Fetcher) get(ctx context.Context, url string, max int, cache string) (int, []byte, error) {
	resp, err := f.doCache(ctx, "GET", url, "", cache)
	if err != nil {
		return 0, nil, err
	}
	defer resp.abort()
	if n := resp.contentLength(); n > int64(max) {
		return 0, nil, fmt.Errorf("jsfetch: GET %s: %d bytes, more than %d", url, n, max)
	}
	p, err := jsutil.Call(resp.v, "arrayBuffer")
	if err == nil {
		p, err = jsutil.Await(ctx, p)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("jsfetch: GET %s: reading the body: %w", url, err)
	}
	n := p.Get("byteLength").Int()
	if n > max {
		return 0, nil, fmt.Errorf("jsfetch: GET %s: %d bytes, more than %d", url, n, max)
	}
	b := make([]byte, n)
	js.CopyBytesToGo(b, js.Global().Get("Uint8Array").New(p))
	return resp.status(), b, nil
}
