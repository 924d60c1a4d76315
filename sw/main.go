//go:build js && wasm

// Command sw is the service-worker half of p2pmedia, built as p2p-sw.wasm
// and started by js/p2p-sw.js. It answers the fetches of proxied media URLs
// (docs/browser-runtime.md): it asks the page's engine over a MessagePort
// for the pieces that cover the requested byte range, streams them into the
// Response, and fetches from the origin whatever the page does not deliver
// in time.
//
// It defines globalThis.__p2pmediaSW:
//
//	{
//	  version: string,
//	  addPort(clientId: string, port: MessagePort): void,
//	  handleFetch(request: Request, clientId: string): Promise<Response>,
//	}
//
// Every cold start of the service worker loads this program, so it stays
// small: syscall/js instead of net/http, and no fmt or encoding/json.
//
// A proxied GET of an HLS playlist or a DASH MPD (a path ending with .m3u8
// or .mpd) is answered with the manifest the page fetched, parsed and
// rewrote (the manifest op), or the origin's own when the page cannot. A
// media element's own HLS player gets playlists and segments as data:
// responses (native.go).
//
// The service worker may set self.P2P_MEDIA_TIMEOUTS = {open, piece,
// manifest}, in milliseconds, to change how long it waits for the page's
// open reply (2000), for each piece (8000) and for a manifest (2000).
package main

import (
	"errors"
	"strconv"
	"sync"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
	"github.com/p2pmedia/p2pmedia/internal/version"
)

// The default deadlines of the port protocol.
const (
	defaultOpenTimeout     = 2 * time.Second
	defaultPieceTimeout    = 8 * time.Second
	defaultManifestTimeout = 2 * time.Second
)

func main() {
	s := newServer()
	api := object()
	api.Set("version", version.Version)
	api.Set("addPort", js.FuncOf(s.addPort))
	api.Set("handleFetch", js.FuncOf(func(_ js.Value, args []js.Value) any {
		req, client := jsutil.Arg(args, 0), jsutil.AsString(jsutil.Arg(args, 1))
		return jsutil.Promise(func() (js.Value, error) { return s.handleFetch(req, client) })
	}))
	js.Global().Set("__p2pmediaSW", api)
	select {} // serve callbacks until the browser stops the worker
}

// portWait bounds how long a request waits for its client's port. A page
// posts its port just before its first proxied request, and the message
// and fetch events may reach the service worker in either order.
const portWait = 500 * time.Millisecond

// maxPortless bounds the clients remembered as having no port.
const maxPortless = 256

// server holds the ports of the pages that the service worker controls.
type server struct {
	mu    sync.Mutex // never held across a blocking operation
	ports map[string]*port
	// added is closed, and replaced, whenever a port is added.
	added chan struct{}
	// portless are clients whose requests waited portWait in vain (a
	// worker of the page, a page without the engine): they wait no more.
	portless map[string]bool
	// native holds the URLs named by the playlists served to media
	// elements (native HLS).
	native nativeSet
	// reads tells when the player has read a direct response.
	reads *readWatch
	// warm runs warmUp once, after the first port: requests follow.
	warm sync.Once
}

func newServer() *server {
	return &server{ports: make(map[string]*port), added: make(chan struct{}), portless: make(map[string]bool), reads: newReadWatch()}
}

// addPort files a page's MessagePort under its client id, replacing the
// port that client sent before:
// addPort(clientId: string, port: MessagePort).
func (s *server) addPort(_ js.Value, args []js.Value) any {
	id, v := jsutil.AsString(jsutil.Arg(args, 0)), jsutil.Arg(args, 1)
	if id == "" || v.Type() != js.TypeObject {
		return nil
	}
	p := newPort(v, s.reads, func(closed *port) {
		s.mu.Lock()
		if s.ports[id] == closed {
			delete(s.ports, id)
		}
		s.mu.Unlock()
	})
	s.mu.Lock()
	old := s.ports[id]
	s.ports[id] = p
	delete(s.portless, id)
	close(s.added)
	s.added = make(chan struct{})
	s.mu.Unlock()
	if old != nil {
		go old.close()
	}
	go s.prune()
	s.warm.Do(func() {
		go func() {
			// After this callback's task: the page's ack goes first.
			time.Sleep(time.Millisecond)
			jsutil.Protect(func() (js.Value, error) { warmUp(); return js.Undefined(), nil })
		}()
	})
	return nil
}

// prune closes the ports of clients that are gone: a page that reloads or
// closes leaves its port behind.
func (s *server) prune() {
	clients := js.Global().Get("clients")
	if clients.Type() != js.TypeObject {
		return // not in a service worker
	}
	opts := object()
	opts.Set("includeUncontrolled", true)
	opts.Set("type", "all")
	list, err := jsutil.AwaitDone(clients.Call("matchAll", opts), nil)
	if err != nil {
		return
	}
	alive := make(map[string]bool)
	for i, n := 0, list.Length(); i < n; i++ {
		alive[list.Index(i).Get("id").String()] = true
	}
	var gone []*port
	s.mu.Lock()
	for id, p := range s.ports {
		if !alive[id] {
			gone = append(gone, p)
		}
	}
	s.mu.Unlock()
	for _, p := range gone {
		p.close()
	}
}

// portFor returns the port of the client id, waiting up to portWait for it
// unless that client waited in vain before; nil when there is none.
func (s *server) portFor(id string) *port {
	t := time.NewTimer(portWait)
	defer t.Stop()
	for {
		s.mu.Lock()
		p, added, gaveUp := s.ports[id], s.added, s.portless[id]
		s.mu.Unlock()
		if p != nil || gaveUp || id == "" {
			return p
		}
		select {
		case <-added:
		case <-t.C:
			s.mu.Lock()
			if len(s.portless) >= maxPortless {
				clear(s.portless)
			}
			s.portless[id] = true
			s.mu.Unlock()
			return nil
		}
	}
}

// timeouts holds the deadlines of the port protocol.
type timeouts struct {
	open, piece, manifest time.Duration
}

// readTimeouts returns the deadlines, from self.P2P_MEDIA_TIMEOUTS where
// it sets them.
func readTimeouts() timeouts {
	t := timeouts{open: defaultOpenTimeout, piece: defaultPieceTimeout, manifest: defaultManifestTimeout}
	v := js.Global().Get("P2P_MEDIA_TIMEOUTS")
	if v.Type() != js.TypeObject {
		return t
	}
	for _, f := range []struct {
		name string
		d    *time.Duration
	}{{"open", &t.open}, {"piece", &t.piece}, {"manifest", &t.manifest}} {
		if ms, ok := jsutil.AsInt(v.Get(f.name)); ok && ms > 0 {
			*f.d = time.Duration(ms) * time.Millisecond
		}
	}
	return t
}

// handleFetch answers the request of the client clientID for a proxied
// URL.
func (s *server) handleFetch(req js.Value, clientID string) (js.Value, error) {
	orig, ok := mediaurl.Original(req.Get("url").String())
	if !ok {
		return jsutil.AwaitDone(js.Global().Call("fetch", req), nil)
	}
	if !registered(orig) {
		return refused(), nil
	}
	if method := req.Get("method").String(); method != "GET" {
		return passThrough(req, orig, method)
	}
	if mediaurl.ManifestType(orig) != "" {
		return s.serveManifest(req, orig, clientID)
	}
	rangeHeader := header(req, "range")
	if fromMediaElement(req) && s.native.has(req.Get("url").String()) {
		return s.nativeSegment(orig, clientID, rangeHeader)
	}
	p := s.portFor(clientID)
	if p == nil {
		return fromOrigin(orig, rangeHeader)
	}
	ask := &directAsk{rangeHeader: rangeHeader, short: rangeHeader != "" && fromMediaElement(req)}
	if ask.short {
		if resp, ok := leased(p, req, orig, rangeHeader); ok {
			return resp, nil
		}
	}
	to := readTimeouts()
	m, err := p.open(orig, to.open, ask)
	if err != nil {
		return fromOrigin(orig, rangeHeader)
	}

	r, status := byterange.Range{Start: 0, End: m.size}, 200
	if rangeHeader != "" && ifRangeHolds(header(req, "if-range"), m) {
		pr, err := byterange.ParseRange(rangeHeader, m.size)
		switch {
		case err == nil:
			r, status = pr, 206
		case errors.Is(err, byterange.ErrMultipart):
			return fromOrigin(orig, rangeHeader)
		case errors.Is(err, byterange.ErrUnsatisfiable):
			return unsatisfiable(m), nil
		}
		// A malformed header is ignored, as a server does.
	}

	if resp, ok := direct(p, req, orig, m, r, status, ask.short); ok {
		return resp, nil
	}

	h := js.Global().Get("Headers").New()
	h.Call("set", "Content-Type", contentType(orig))
	h.Call("set", "Content-Length", strconv.FormatInt(r.Len(), 10))
	h.Call("set", "Accept-Ranges", "bytes")
	if status == 206 {
		h.Call("set", "Content-Range", byterange.ContentRange(r, m.size))
	}
	if m.etag != "" {
		h.Call("set", "ETag", m.etag)
	}
	if m.lastModified != "" {
		h.Call("set", "Last-Modified", m.lastModified)
	}
	init := object()
	init.Set("status", status)
	init.Set("headers", h)
	body := js.Null()
	if r.Len() > 0 {
		body = newStream(p, orig, m, r, to.piece).body()
	}
	return js.Global().Get("Response").New(body, init), nil
}

// serveManifest answers a GET of the manifest at orig with the text the
// client's page rewrote, 200 and never cached (a live playlist changes
// every few seconds); or with a redirect to the proxied URL the origin
// redirected to. A media element's own HLS player (native HLS) gets the
// text as a data: response (see nativePlaylist). Without a page, or when it
// fails or is late, and for a media element's DASH request, the manifest
// comes from the origin untouched.
func (s *server) serveManifest(req js.Value, orig, clientID string) (js.Value, error) {
	reqURL := req.Get("url").String()
	native := fromMediaElement(req)
	if native && !isHLS(orig) {
		return manifestFromOrigin(orig)
	}
	base, ok := mediaurl.ProxyBase(reqURL)
	if !ok {
		return manifestFromOrigin(orig)
	}
	p := s.portFor(clientID)
	if p == nil {
		return manifestFromOrigin(orig)
	}
	m, err := p.manifest(orig, base, readTimeouts().manifest)
	if err != nil {
		return manifestFromOrigin(orig)
	}
	addHosts(m.hosts)
	if m.redirect != "" {
		if native && s.native.has(reqURL) {
			s.native.add(m.redirect)
		}
		return js.Global().Get("Response").Call("redirect", m.redirect, 302), nil
	}
	if native {
		return s.nativePlaylist(reqURL, orig, m)
	}
	h := js.Global().Get("Headers").New()
	h.Call("set", "Content-Type", m.contentType)
	h.Call("set", "Content-Length", strconv.Itoa(len(m.text)))
	h.Call("set", "Cache-Control", "no-store")
	init := object()
	init.Set("status", 200)
	init.Set("headers", h)
	return js.Global().Get("Response").New(m.text, init), nil
}

// manifestFromOrigin fetches a manifest from the origin, bypassing the
// HTTP cache, and returns the origin's response as it is.
func manifestFromOrigin(url string) (js.Value, error) {
	init := object()
	init.Set("cache", "no-store")
	return jsutil.AwaitDone(js.Global().Call("fetch", url, init), nil)
}

// ifRangeHolds reports whether a request's If-Range header, if any, lets
// its Range header apply: it must name the resource's strong entity tag or
// its modification date.
func ifRangeHolds(ifRange string, m meta) bool {
	switch {
	case ifRange == "":
		return true
	case len(ifRange) > 2 && ifRange[:2] == "W/":
		return false
	case ifRange[0] == '"':
		return ifRange == m.etag
	default:
		return ifRange == m.lastModified
	}
}

// unsatisfiable returns the 416 response to a range that selects no byte of
// the resource m.
func unsatisfiable(m meta) js.Value {
	h := js.Global().Get("Headers").New()
	h.Call("set", "Content-Range", byterange.Unsatisfied(m.size))
	h.Call("set", "Content-Length", "0")
	h.Call("set", "Accept-Ranges", "bytes")
	init := object()
	init.Set("status", 416)
	init.Set("headers", h)
	return js.Global().Get("Response").New(js.Null(), init)
}

// fromOrigin fetches url from the origin with the request's Range header,
// if any, and returns the origin's response as it is.
func fromOrigin(url, rangeHeader string) (js.Value, error) {
	init := object()
	if rangeHeader != "" {
		h := object()
		h.Set("range", rangeHeader)
		init.Set("headers", h)
	}
	return jsutil.AwaitDone(js.Global().Call("fetch", url, init), nil)
}

// passThrough sends a request other than GET to the origin with its method,
// headers and body.
func passThrough(req js.Value, url, method string) (js.Value, error) {
	init := object()
	init.Set("method", method)
	init.Set("headers", req.Get("headers"))
	if method != "HEAD" {
		body, err := jsutil.AwaitDone(req.Call("arrayBuffer"), nil)
		if err != nil {
			return js.Undefined(), err
		}
		init.Set("body", body)
	}
	return jsutil.AwaitDone(js.Global().Call("fetch", url, init), nil)
}

// registered reports whether the loader (js/p2p-sw.js) holds the origin of
// url as registered by a page. The loader refused the request otherwise;
// asking again with the URL this program decoded keeps a URL that the two
// decoders would read differently from reaching a foreign origin.
func registered(url string) bool {
	h := js.Global().Get("__p2pmediaHosts")
	return h.Type() == js.TypeObject && h.Call("registered", url).Truthy()
}

// addHosts registers the origins a page's rewritten manifest names, before
// the player sees the manifest and asks for them.
func addHosts(origins []string) {
	h := js.Global().Get("__p2pmediaHosts")
	if len(origins) == 0 || h.Type() != js.TypeObject {
		return
	}
	list := make([]any, len(origins))
	for i, o := range origins {
		list[i] = o
	}
	h.Call("add", list)
}

// refused is the answer to a proxied URL of an origin no page registered.
func refused() js.Value {
	h := js.Global().Get("Headers").New()
	h.Call("set", "Content-Type", "text/plain; charset=utf-8")
	h.Call("set", "X-Content-Type-Options", "nosniff")
	h.Call("set", "Cache-Control", "no-store")
	init := object()
	init.Set("status", 403)
	init.Set("headers", h)
	return js.Global().Get("Response").New("p2pmedia: this service worker does not serve media of an origin that no page of this site registered\n", init)
}
