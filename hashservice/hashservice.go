// Package hashservice is the piece-hash service: an HTTP handler that
// fetches a media resource from its origin, hashes it piece by piece and
// answers the piecehash.List a viewer checks its peers' bytes against.
//
//	GET /v1/pieces?url=<media URL>&pieceLength=<L>[&start=<first>&end=<after last>]
//
// It serves only origins of its allowlist, bounds its work (resource size,
// concurrent fetches, time), caches its answers (bounded by bytes, keyed by
// URL, range and piece length, revalidated against the origin's validators),
// coalesces concurrent requests for the same answer into one origin fetch,
// and answers with ETag, Cache-Control and CORS headers so that any site's
// pages can call it and a CDN in front of it can cache it. docs/hashes.md
// describes the protocol.
//
// The same Handler runs natively (cmd/p2pmedia "hashes", with an
// HTTPFetcher over net/http) and on Cloudflare Workers
// (cmd/p2pmedia-hashes-worker, with the Workers fetch API).
package hashservice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// Defaults of Config.
const (
	// DefaultMaxSize bounds the bytes one answer hashes (2 GiB).
	DefaultMaxSize = 2 << 30
	// DefaultMaxConcurrent bounds the origin fetches under way at once;
	// one more is refused with 503.
	DefaultMaxConcurrent = 4
	// DefaultTimeout bounds the work of one answer, from the first origin
	// request to the last piece hashed.
	DefaultTimeout = 60 * time.Second
	// DefaultCacheBytes bounds the answers the cache holds (64 MiB: 16,000
	// answers for 2 GB files at the default 512 KiB piece length).
	DefaultCacheBytes = 64 << 20
	// DefaultCacheTTL is how long an answer is fresh, in the cache and in
	// its Cache-Control max-age; past that the cache asks the origin whether
	// the resource's validators changed.
	DefaultCacheTTL = 5 * time.Minute
	// DefaultChunkSize is the length of each ranged request to the origin.
	DefaultChunkSize = 8 << 20
	// MaxRedirects bounds the redirects followed for one origin request.
	MaxRedirects = 5
	// Path is the path of the service's one endpoint.
	Path = "/v1/pieces"
)

// Config configures a Handler. Zero fields take the defaults.
type Config struct {
	// Allow lists the origins the service fetches from: "host" (http or
	// https on the default port), "*.domain" (any host under domain), or
	// "scheme://host[:port]". Any other origin gets 403. Required unless
	// Allowed is set.
	Allow []string
	// Allowed, when set, also admits the media URLs it reports true for
	// (absolute http(s) URLs without credentials). It is for a Fetcher that
	// reaches one known server whatever the URL's host, as "p2pmedia demo"
	// uses for its own origin; with a Fetcher that reaches the network, a
	// wide Allowed makes an open proxy.
	Allowed func(u *url.URL) bool
	// Fetcher reaches the origins; nil means NewHTTPFetcher(nil).
	Fetcher Fetcher
	// MaxSize bounds the bytes one answer hashes (DefaultMaxSize); a larger
	// resource or range gets 413.
	MaxSize int64
	// MaxConcurrent bounds the answers being computed at once
	// (DefaultMaxConcurrent); one more gets 503.
	MaxConcurrent int
	// Timeout bounds the computation of one answer (DefaultTimeout); past
	// it, 504.
	Timeout time.Duration
	// CacheBytes bounds the cache (DefaultCacheBytes); -1 disables it.
	CacheBytes int64
	// CacheTTL is how long an answer stays fresh (DefaultCacheTTL).
	CacheTTL time.Duration
	// ChunkSize is the length of each ranged origin request
	// (DefaultChunkSize).
	ChunkSize int64
	// Store, when set, keeps answers beyond this Handler's memory; nil
	// means none.
	Store Store
}

// Store is a cache of answers shared beyond one Handler's memory. On
// Cloudflare Workers every request runs a fresh program, so the Handler's
// own cache and coalescing see one request each: the Workers build keeps
// its answers in the Workers Cache API through a Store instead. A Store
// fails quietly: a Load that fails is a miss, a Save that fails is dropped.
type Store interface {
	// Load returns the body of the answer saved under key and when it was
	// computed or last revalidated; ok is false when there is none.
	Load(ctx context.Context, key string) (body []byte, at time.Time, ok bool)
	// Save saves the body of an answer under key, with when it was computed
	// or last revalidated.
	Save(ctx context.Context, key string, body []byte, at time.Time)
}

// Handler serves the piece-hash service on Path; mount it elsewhere with
// http.StripPrefix.
type Handler struct {
	cfg     Config
	allow   allowlist
	fetcher Fetcher
	cache   *cache
	slots   chan struct{} // one token per computation under way

	mu      sync.Mutex
	flights map[string]*flight
}

// New returns a Handler for cfg. It fails on an empty or malformed
// allowlist and on negative limits.
func New(cfg Config) (*Handler, error) {
	if len(cfg.Allow) == 0 && cfg.Allowed == nil {
		return nil, errors.New("hashservice: empty allowlist: name the origins to serve")
	}
	allow, err := parseAllowlist(cfg.Allow)
	if err != nil {
		return nil, fmt.Errorf("hashservice: %w", err)
	}
	switch {
	case cfg.MaxSize < 0, cfg.MaxConcurrent < 0, cfg.Timeout < 0, cfg.CacheTTL < 0, cfg.ChunkSize < 0, cfg.CacheBytes < -1:
		return nil, errors.New("hashservice: negative limit")
	}
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxSize, DefaultMaxSize)
	def(&cfg.ChunkSize, DefaultChunkSize)
	def(&cfg.CacheBytes, DefaultCacheBytes)
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	// The hash lists a viewer accepts are bounded too.
	cfg.MaxSize = min(cfg.MaxSize, piecehash.MaxSize)
	if cfg.Fetcher == nil {
		cfg.Fetcher = NewHTTPFetcher(nil)
	}
	return &Handler{
		cfg:     cfg,
		allow:   allow,
		fetcher: cfg.Fetcher,
		cache:   newCache(max(cfg.CacheBytes, 0)),
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		flights: make(map[string]*flight),
	}, nil
}

// allows reports whether the service may fetch u.
func (h *Handler) allows(u *url.URL) bool {
	return h.allow.allows(u) || h.cfg.Allowed != nil && h.cfg.Allowed(u)
}

// request is a parsed, allowed service request.
type request struct {
	rawURL      string
	u           *url.URL
	pieceLength int64
	start, end  int64 // end -1: the whole resource
}

func (r request) key() string {
	return fmt.Sprintf("%d %d %d %s", r.pieceLength, r.start, r.end, r.rawURL)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path != Path {
		WriteError(w, r, &Error{Status: http.StatusNotFound, Message: "no such endpoint; the service answers GET " + Path})
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// A page that revalidates by hand sends If-None-Match, which is
		// not a CORS-safelisted header.
		hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "If-None-Match")
		hdr.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		hdr.Set("Allow", "GET, HEAD, OPTIONS")
		WriteError(w, r, &Error{Status: http.StatusMethodNotAllowed, Message: "method " + r.Method + " not allowed"})
		return
	}
	req, err := h.parse(r.URL.RawQuery)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	a, err := h.answer(r.Context(), req)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	hdr.Set("ETag", a.etag)
	hdr.Set("Access-Control-Expose-Headers", "ETag")
	// Rounded up, so that an answer just computed says the whole TTL.
	fresh := min(max(h.cfg.CacheTTL-time.Since(a.at), 0), h.cfg.CacheTTL)
	hdr.Set("Cache-Control", "public, max-age="+strconv.FormatInt(int64((fresh+time.Second-1)/time.Second), 10))
	if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.body)
	}
}

// parse checks the query of a request: known parameters, each once, a media
// URL of an allowed origin, a usable piece length and a well-formed range.
func (h *Handler) parse(rawQuery string) (request, error) {
	bad := func(format string, args ...any) (request, error) {
		return request{}, &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return bad("malformed query: %v", err)
	}
	for k, vs := range q {
		switch k {
		case "url", "pieceLength", "start", "end":
		default:
			return bad("unknown parameter %q (want url, pieceLength, start, end)", k)
		}
		if len(vs) != 1 {
			return bad("parameter %q given %d times", k, len(vs))
		}
	}
	req := request{rawURL: q.Get("url"), end: -1}
	switch {
	case req.rawURL == "":
		return bad("missing url")
	case len(req.rawURL) > piecehash.MaxURLLength:
		return bad("url longer than %d bytes", piecehash.MaxURLLength)
	case strings.ContainsRune(req.rawURL, '#'):
		return bad("url %q has a fragment", req.rawURL)
	}
	u, err := url.Parse(req.rawURL)
	switch {
	case err != nil:
		return bad("url %q: %v", req.rawURL, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.Opaque != "":
		return bad("url %q is not an absolute http(s) URL", req.rawURL)
	case u.User != nil:
		return bad("url %q carries credentials", req.rawURL)
	}
	req.u = u
	pl, ok := parseDecimal(q.Get("pieceLength"))
	if !ok {
		return bad("pieceLength %q: want a decimal number of bytes", q.Get("pieceLength"))
	}
	if err := identity.ValidatePieceLength(pl); err != nil {
		return bad("pieceLength %d must be a positive multiple of %d up to %d", pl, identity.PieceLengthUnit, identity.MaxPieceLength)
	}
	req.pieceLength = pl
	if q.Has("start") || q.Has("end") {
		var ok1, ok2 bool
		req.start, ok1 = parseDecimal(q.Get("start"))
		req.end, ok2 = parseDecimal(q.Get("end"))
		if !ok1 || !ok2 || req.end <= req.start || req.end > piecehash.MaxSize {
			return bad("start %q, end %q: want both, decimal byte offsets with start < end ≤ %d (end is exclusive)",
				q.Get("start"), q.Get("end"), int64(piecehash.MaxSize))
		}
	}
	if !h.allows(u) {
		return request{}, &Error{Status: http.StatusForbidden, Message: fmt.Sprintf("origin %s://%s is not in this service's allowlist", u.Scheme, u.Host)}
	}
	if req.end >= 0 {
		if err := h.checkWork(req.end-req.start, req.pieceLength); err != nil {
			return request{}, err
		}
	}
	return req, nil
}

// checkWork refuses with 413 an answer of n bytes past the service's bounds.
func (h *Handler) checkWork(n, pieceLength int64) error {
	if n > h.cfg.MaxSize {
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("%d bytes to hash exceed this service's limit of %d", n, h.cfg.MaxSize)}
	}
	if c := identity.PieceCount(n, pieceLength); c > piecehash.MaxPieces {
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("%d bytes in pieces of %d make %d pieces, more than %d; use longer pieces", n, pieceLength, c, piecehash.MaxPieces)}
	}
	return nil
}

// parseDecimal parses a canonical non-negative decimal.
func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// answer is one computed answer.
type answer struct {
	body []byte
	etag string
	at   time.Time // when it was computed or last revalidated
	list *piecehash.List
}

func newAnswer(l *piecehash.List, at time.Time) (*answer, error) {
	body, err := l.Encode()
	if err != nil {
		return nil, &Error{Status: http.StatusBadGateway, Message: fmt.Sprintf("origin gave an unusable resource: %v", err)}
	}
	sum := sha256.Sum256(body)
	return &answer{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, at: at, list: l}, nil
}

// flight is one computation of an answer that concurrent requests share.
type flight struct {
	done chan struct{}
	a    *answer
	err  error
}

// answer returns the answer to req: from the cache while fresh, else from
// the flight computing it, which it starts if there is none.
func (h *Handler) answer(ctx context.Context, req request) (*answer, error) {
	key := req.key()
	h.mu.Lock()
	cached := h.cache.get(key)
	if cached != nil && time.Since(cached.at) < h.cfg.CacheTTL {
		h.mu.Unlock()
		return cached, nil
	}
	f := h.flights[key]
	if f == nil {
		select {
		case h.slots <- struct{}{}:
		default:
			h.mu.Unlock()
			return nil, &Error{Status: http.StatusServiceUnavailable, Message: fmt.Sprintf("busy: %d answers are being computed; retry later", h.cfg.MaxConcurrent)}
		}
		f = &flight{done: make(chan struct{})}
		h.flights[key] = f
		go h.fly(key, f, req, cached)
	}
	h.mu.Unlock()
	select {
	case <-f.done:
		return f.a, f.err
	case <-ctx.Done():
		return nil, &Error{Status: http.StatusServiceUnavailable, Message: "request canceled"}
	}
}

// fly computes the answer of a flight, under the service's timeout, and
// caches it. The computation holds its slot until it returns, even past
// the timeout, so that the number of fetches under way stays bounded.
func (h *Handler) fly(key string, f *flight, req request, stale *answer) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
	type result struct {
		a   *answer
		err error
	}
	res := make(chan result, 1)
	go func() {
		defer func() { <-h.slots }()
		a, err := h.compute(ctx, req, stale)
		res <- result{a, err}
	}()
	var r result
	select {
	case r = <-res:
	case <-ctx.Done():
		// A fetcher that ignores ctx (the Workers fetch does) still
		// yields a timely 504.
	}
	if ctx.Err() != nil && (r.err != nil || r.a == nil) {
		r = result{err: &Error{Status: http.StatusGatewayTimeout, Message: fmt.Sprintf("origin did not deliver within %v", h.cfg.Timeout)}}
	}
	cancel()
	h.mu.Lock()
	delete(h.flights, key)
	if r.err == nil {
		h.cache.put(key, r.a)
	}
	h.mu.Unlock()
	f.a, f.err = r.a, r.err
	close(f.done)
}

// compute takes a fresh answer from the Store, revalidates a stale one (of
// the memory cache or the Store), or hashes the resource anew; a new or
// revalidated answer goes to the Store.
func (h *Handler) compute(ctx context.Context, req request, stale *answer) (*answer, error) {
	if stale == nil && h.cfg.Store != nil {
		stale = h.load(ctx, req)
		if stale != nil && time.Since(stale.at) < h.cfg.CacheTTL {
			return stale, nil
		}
	}
	a, err := h.revalidate(ctx, req, stale)
	if err != nil {
		return nil, err
	}
	if h.cfg.Store != nil {
		h.cfg.Store.Save(ctx, req.key(), a.body, a.at)
	}
	return a, nil
}

// revalidate returns stale, as of now, when the origin still has the
// version it describes, and else hashes the resource anew.
func (h *Handler) revalidate(ctx context.Context, req request, stale *answer) (*answer, error) {
	if stale != nil && (stale.list.ETag != "" || stale.list.LastModified != "") {
		info, err := h.probe(ctx, req)
		if err == nil && info == stale.list.Info() {
			return &answer{body: stale.body, etag: stale.etag, at: time.Now(), list: stale.list}, nil
		}
	}
	l, err := h.hash(ctx, req)
	if err != nil {
		return nil, err
	}
	return newAnswer(l, time.Now())
}

// load returns the answer the Store holds for req, or nil when it holds
// none or one that is not a valid list for req.
func (h *Handler) load(ctx context.Context, req request) *answer {
	body, at, ok := h.cfg.Store.Load(ctx, req.key())
	if !ok {
		return nil
	}
	l, err := piecehash.Decode(body)
	if err != nil || l.URL != req.rawURL || l.PieceLength != req.pieceLength || l.Start != req.start || req.end >= 0 && l.End != req.end {
		return nil
	}
	a, err := newAnswer(l, at)
	if err != nil {
		return nil
	}
	return a
}

// Error is an answer of the service other than a hash list: its status and
// the message of its JSON body.
type Error struct {
	// Status is the HTTP status of the answer.
	Status int
	// Message is the body's "error".
	Message string
	// OriginStatus is the status of the origin's response that made the
	// service fail, when there was one (the body's "originStatus").
	OriginStatus int
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error        string `json:"error"`
	OriginStatus int    `json:"originStatus,omitempty"`
}

// WriteError answers err as the service answers its errors: JSON
// {"error": message[, "originStatus": n]} with the status of an *Error, or
// 500 for any other error, and "Cache-Control: no-store". The Workers build
// answers its own configuration errors with it.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Message: err.Error()}
	}
	body, _ := json.Marshal(errorBody{Error: e.Message, OriginStatus: e.OriginStatus})
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	if e.Status == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", "1")
	}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func etagMatch(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == etag {
			return true
		}
	}
	return false
}
