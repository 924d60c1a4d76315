//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
	"github.com/p2pmedia/p2pmedia/wasm/cachestore"
	"github.com/p2pmedia/p2pmedia/wasm/jsfetch"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

const (
	// openTimeout bounds learning a resource's size and validators.
	openTimeout = 15 * time.Second
	// maxResources bounds the resources remembered by URL; the oldest go
	// first (the engine keeps them; this is only the lookup by URL).
	maxResources = 256
	// closeTimeout bounds deleting the cache on destroy.
	closeTimeout = 5 * time.Second
)

// errDestroyed answers requests that reach a destroyed engine.
var errDestroyed = errors.New("p2pmedia: engine destroyed")

// wasmEngine is the Go side of one WasmEngine object.
type wasmEngine struct {
	e       *engine.Engine
	fetcher *jsfetch.Fetcher // the engine's, also reading back direct responses
	store   *cachestore.Store
	log     *slog.Logger
	emitFn  js.Value
	chID    string
	chFn    js.Value
	watch   *watcher
	segs    *segmentMap
	// livePrefetch holds a token per live segment being opened ahead of
	// the player (at most maxLivePrefetch).
	livePrefetch chan struct{}
	// livePending counts the live segments waiting to be opened.
	livePending atomic.Int32
	// ctx ends when the engine is destroyed; every request derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	ctlMu   sync.Mutex
	ctlQ    []func()
	ctlDone bool // destroy ran: the control goroutine is gone
	ctlWake chan struct{}

	mu        sync.Mutex
	destroyed bool
	res       map[string]*openCall
	resOrder  []string
	port      *portServer // the port of the service worker, the last one given
	peersSeen bool        // the last peers event listed peers
	upSeen    bool        // the last serverConnected event said true
}

// openCall is a resource being opened, or opened, for one URL.
type openCall struct {
	done chan struct{}
	r    *engine.Resource
	ref  mediaRef // what the segment map knew of the URL
	err  error
	// noLease is when prepare may next send the service worker a lease of
	// the URL (guarded by wasmEngine.mu): leaseHold after the last lease,
	// or after the service worker asked for the URL (the player is at work
	// on it already).
	noLease time.Time
}

// newWasmEngine starts an engine for a WasmConfig.
func newWasmEngine(cfgV, emit js.Value) (*wasmEngine, error) {
	cfg, err := parseConfig(cfgV)
	if err != nil {
		return nil, err
	}
	w := &wasmEngine{
		fetcher: &jsfetch.Fetcher{},
		log:     newLogger(cfg.logLevel),
		emitFn:  emit,
		chID:    cfg.channelID,
		chFn:    cfg.channelFn,
		ctlWake: make(chan struct{}, 1),
		res:     make(map[string]*openCall),
		segs:    newSegmentMap(),

		livePrefetch: make(chan struct{}, maxLivePrefetch),
	}
	w.store = cachestore.New(cachestore.Config{
		Limit:       cfg.diskLimit,
		MemoryLimit: min(cfg.diskLimit, maxMemoryStore),
	})
	ecfg := engine.Config{
		Fetcher:        w.fetcher,
		Store:          w.store,
		Announce:       cfg.announce,
		Token:          cfg.token,
		PieceLength:    cfg.pieceLength,
		MinBufferCount: cfg.minBuffer,
		Logger:         w.log,
		OnEvent:        w.onEvent,
		P2PDisabled:    !cfg.p2pEnabled,
	}
	ecfg.Hashes = w.hashSource(cfg)
	ecfg.Digest = pieceSHA256
	if cfg.validatePiece.Type() == js.TypeFunction {
		ecfg.Validate = w.validator(cfg.validatePiece)
	}
	if webRTCSupported() {
		ecfg.Connector = rtc.NewConnector(rtc.Config{WebRTC: cfg.webRTC, MaxRecvQueue: engine.PeerRecvQueue(cfg.pieceLength)})
	}
	e, err := engine.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("p2pmedia: %w", err)
	}
	w.e = e
	w.ctx, w.cancel = context.WithCancel(context.Background())
	go w.control()
	w.watch = newWatcher(w, cfg.mediaElem)
	return w, nil
}

// webRTCSupported reports whether the page can make peer connections (pion's
// js build reads window.RTCPeerConnection).
func webRTCSupported() bool {
	win := js.Global().Get("window")
	return jsutil.IsObject(win) && win.Get("RTCPeerConnection").Type() == js.TypeFunction
}

// object returns the WasmEngine object handed to the page. Its methods stay
// callable after destroy (they do nothing then, and stats keeps the last
// totals).
func (w *wasmEngine) object() js.Value {
	o := js.Global().Get("Object").New()
	method := func(name string, fn func(args []js.Value) any) {
		o.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any { return fn(args) }))
	}
	method("servePort", func(args []js.Value) any {
		if len(args) > 0 && jsutil.IsObject(args[0]) {
			w.servePort(args[0])
		}
		return nil
	})
	method("enableP2P", func([]js.Value) any {
		w.enqueue(func() { w.setP2P(true) })
		return nil
	})
	method("disableP2P", func([]js.Value) any {
		w.enqueue(func() { w.setP2P(false) })
		return nil
	})
	method("restartP2P", func([]js.Value) any {
		w.enqueue(func() {
			w.setP2P(false)
			w.setP2P(true)
		})
		return nil
	})
	method("destroy", func([]js.Value) any {
		w.destroy()
		return nil
	})
	method("prepare", func(args []js.Value) any {
		if len(args) > 0 && args[0].Type() == js.TypeString {
			w.prepare(args[0].String())
		}
		return nil
	})
	method("peerId", func([]js.Value) any { return w.e.PeerID() })
	method("stats", func([]js.Value) any { return statsObject(w.e.Stats()) })
	return o
}

// enqueue runs fn on the control goroutine, after the functions queued
// before it: enable, disable, restart and destroy block on the network and
// must not run in a JS callback, nor overtake each other.
func (w *wasmEngine) enqueue(fn func()) {
	w.ctlMu.Lock()
	if w.ctlDone {
		w.ctlMu.Unlock()
		return
	}
	w.ctlQ = append(w.ctlQ, fn)
	w.ctlMu.Unlock()
	select {
	case w.ctlWake <- struct{}{}:
	default:
	}
}

// control runs the queued control functions until destroy's has run.
func (w *wasmEngine) control() {
	for range w.ctlWake {
		for {
			w.ctlMu.Lock()
			if w.ctlDone {
				w.ctlQ = nil
				w.ctlMu.Unlock()
				return
			}
			if len(w.ctlQ) == 0 {
				w.ctlMu.Unlock()
				break
			}
			fn := w.ctlQ[0]
			w.ctlQ[0] = nil
			w.ctlQ = w.ctlQ[1:]
			w.ctlMu.Unlock()
			fn()
		}
	}
}

func (w *wasmEngine) setP2P(on bool) {
	if err := w.e.SetP2PEnabled(on); err != nil && !errors.Is(err, engine.ErrClosed) {
		w.log.Warn("p2p switch failed", "on", on, "err", err)
	}
}

func (w *wasmEngine) isDestroyed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.destroyed
}

// destroy stops the watcher and every request at once, then closes the
// engine (peers, tracker sockets) and deletes the cache in the background.
// The page is told that no peer and no tracker is left.
func (w *wasmEngine) destroy() {
	w.mu.Lock()
	if w.destroyed {
		w.mu.Unlock()
		return
	}
	w.destroyed = true
	w.res = nil
	w.resOrder = nil
	w.mu.Unlock()
	w.watch.stop()
	w.cancel()
	w.enqueue(func() {
		_ = w.e.Close()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		if err := w.store.Close(ctx); err != nil {
			w.log.Warn("closing the piece store", "err", err)
		}
		cancel()
		w.mu.Lock()
		peers, up := w.peersSeen, w.upSeen
		w.peersSeen, w.upSeen = false, false
		w.mu.Unlock()
		// engine.Close emits the final stats but neither of these.
		if peers {
			w.emit("peers", []any{})
		}
		if up {
			w.emit("serverConnected", false)
		}
		w.ctlMu.Lock()
		w.ctlDone = true
		w.ctlMu.Unlock()
	})
}

// swarm returns the swarm a media URL belongs to: the configured channel id
// (a string, or a function of the URL) as a custom channel, or the URL's
// default channel.
func (w *wasmEngine) swarm(url string) (*engine.Swarm, error) {
	switch id, custom, err := w.customChannel(url); {
	case err != nil:
		return nil, err
	case custom:
		return w.e.Join(id, true)
	default:
		return w.e.JoinURL(url)
	}
}

// customChannel returns the site's channel id for a URL, when it set one:
// the channelId string, or what the channelId function returns for url.
func (w *wasmEngine) customChannel(url string) (id string, custom bool, err error) {
	switch {
	case w.chID != "":
		return w.chID, true, nil
	case w.chFn.Type() == js.TypeFunction:
		var v js.Value
		if err := jsutil.Try(func() { v = w.chFn.Invoke(url) }); err != nil {
			return "", false, fmt.Errorf("p2pmedia: channelId(%q) threw: %w", url, err)
		}
		if v.Type() != js.TypeString || v.String() == "" {
			return "", false, fmt.Errorf("p2pmedia: channelId(%q) did not return a non-empty string", url)
		}
		return v.String(), true, nil
	}
	return "", false, nil
}

// errLiveFile refuses a live stream whose segments are byte ranges of one
// growing file: its size is not known, so the service worker serves it from
// the origin.
var errLiveFile = errors.New("p2pmedia: live byte-range segments are not shared")

// mediaResource returns the swarm and resource name of a media URL from
// what the segment map knows of it (docs/browser-runtime.md, "Manifests"),
// and the name of the segment before it in that swarm ("" for none):
//
//   - a segment joins the swarm of its rendition (the segment's channel,
//     or with a custom channel id, that id + "|" + the rendition key),
//     under the segment's name;
//   - a file of byte-range segments is one resource: in the file's own
//     swarm (as a progressive file), or with a custom channel id in the
//     rendition's swarm, named "file:" and the file's name;
//   - any other URL is a progressive file.
//
// In a swarm of the default channel, which drops the query, names carry
// their URL (identity.URLName): resources whose URLs differ are never
// mixed. A custom channel id is the site's own naming of its media, which
// lets viewers of signed or tokenised URLs share.
func (w *wasmEngine) mediaResource(url string, ref mediaRef) (s *engine.Swarm, name, prev string, err error) {
	if ref.live && (ref.kind == kindFile || ref.whole) {
		return nil, "", "", errLiveFile
	}
	if ref.kind == kindUnknown || (ref.kind == kindSegment && ref.seg.Channel == "") {
		id, custom, err := w.customChannel(url)
		switch {
		case err != nil:
			return nil, "", "", err
		case custom:
			s, err := w.e.Join(id, true)
			return s, "", "", err
		}
		s, err := w.e.JoinURL(url)
		return s, identity.URLName("", url), "", err
	}
	id, custom, err := w.customChannel(ref.root)
	if err != nil {
		return nil, "", "", err
	}
	if ref.kind == kindFile {
		if !custom {
			s, err := w.e.JoinURL(url)
			return s, identity.URLName("", url), "", err
		}
		s, err := w.e.Join(id+"|"+ref.rendition, true)
		return s, "file:" + fileName(url), "", err
	}
	if !custom {
		if ref.prev != "" {
			prev = identity.URLName(ref.prev, ref.prevURL)
		}
		s, err := w.e.Join(ref.seg.Channel, false)
		return s, ref.seg.ResourceName(), prev, err
	}
	s, err = w.e.Join(id+"|"+ref.rendition, true)
	return s, ref.seg.Name, ref.prev, err
}

// fileName returns the last element of a URL's path.
func fileName(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u[strings.LastIndexByte(u, '/')+1:]
}

// resource returns the resource of a media URL and what the segment map
// knew of the URL when it was opened, opening it (learning its size and
// validators) on first use. Concurrent callers share one opening.
func (w *wasmEngine) resource(ctx context.Context, url string) (*engine.Resource, mediaRef, error) {
	c := w.opening(url)
	if c == nil {
		return nil, mediaRef{}, errDestroyed
	}
	select {
	case <-c.done:
		return c.r, c.ref, c.err
	case <-ctx.Done():
		return nil, mediaRef{}, context.Cause(ctx)
	}
}

// opening returns the opening of url's resource, starting it on first
// use; nil once the engine is destroyed.
func (w *wasmEngine) opening(url string) *openCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.destroyed {
		return nil
	}
	c, ok := w.res[url]
	if !ok {
		c = &openCall{done: make(chan struct{})}
		w.res[url] = c
		w.resOrder = append(w.resOrder, url)
		if len(w.resOrder) > maxResources {
			old := w.resOrder[0]
			w.resOrder = w.resOrder[1:]
			delete(w.res, old)
		}
		go w.open(c, url)
	}
	return c
}

// open opens the resource of c, on the engine's context rather than the
// first requester's, which may be cancelled while others wait. A segment
// of a live manifest is marked live: only the peers elected for it fetch
// it from the origin (engine/live.go).
func (w *wasmEngine) open(c *openCall, url string) {
	defer close(c.done)
	ctx, cancel := context.WithTimeout(w.ctx, openTimeout)
	defer cancel()
	c.ref = w.segs.lookup(url)
	s, name, prev, err := w.mediaResource(url, c.ref)
	if err == nil {
		if c.ref.live && c.ref.kind == kindSegment && !c.ref.seg.Init {
			// Learned from the peer elected to fetch it, or fetched by us
			// when we are elected: no request of its own to the origin.
			c.r, err = s.LiveResource(ctx, name, url, liveInfoWait(c.ref.target))
		} else {
			c.r, err = s.Resource(ctx, name, url)
			if err == nil && c.ref.kind == kindSegment && !c.ref.live && prev != "" {
				c.r.FollowEdge(prev)
			}
		}
	}
	if err != nil {
		c.err = err
		w.forget(url, c)
	}
}

// prepare opens the resource of a URL the site is about to play
// (getProxiedUrl), so that its swarm asks the trackers for peers before the
// player's first request. Manifests are left to the player.
//
// When the swarm turns out to be alone, the service worker gets a lease
// (op "lease"): the player's first request for the URL may then take its
// bytes from the origin without asking the page (see docs/browser-runtime.md,
// "Direct responses"), which spares the start of playback a round trip to
// the page; and the service worker starts fetching the first bytes at
// once, as the player's request would (the page's URL as its referrer).
func (w *wasmEngine) prepare(url string) {
	if mediaurl.ManifestType(url) != "" {
		return
	}
	c := w.opening(url) // errors surface on use
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, leaseWait)
		defer cancel()
		select {
		case <-c.done:
		case <-ctx.Done():
			return
		}
		if c.err != nil || !c.r.Alone(ctx) {
			return
		}
		w.mu.Lock()
		ps := w.port
		again := time.Now().Before(c.noLease)
		if ps != nil && !again {
			c.noLease = time.Now().Add(leaseHold)
		}
		w.mu.Unlock()
		if ps == nil || again {
			return
		}
		info := c.r.Info()
		ps.post(map[string]any{
			"op": "lease", "url": url, "size": info.Size, "etag": info.ETag, "lastModified": info.LastModified,
			"pieceLength": c.r.PieceLength(), "maxDirect": engine.MaxDirect,
			"referrer": jsutil.String(js.Global().Get("location"), "href", ""),
		}, js.Undefined())
	}()
}

// leaseHold is how long the service worker holds a lease: prepare sends
// none while the last one of the URL may hold, nor when the service worker
// asked for the URL in that time. A lease that comes after the player's
// first request (a site that calls getProxiedUrl twice for one play, or a
// lease slower than the player) would start fetching bytes nobody asks
// for, and serve a later request of the player that should ask the page.
const leaseHold = 10 * time.Second

// asked notes that the service worker asked for url: the player is at work
// on it, and a lease now would come too late (see leaseHold).
func (w *wasmEngine) asked(url string) {
	c := w.opening(url)
	if c == nil {
		return
	}
	w.mu.Lock()
	c.noLease = time.Now().Add(leaseHold)
	w.mu.Unlock()
}

// leaseWait bounds how long prepare waits for the resource and the
// trackers' answer before it leaves the service worker without a lease.
const leaseWait = 5 * time.Second

// liveInfoWait is how long a peer that is not elected to fetch a live
// segment waits for a peer to announce it before asking the origin itself:
// half the playlist's target duration, within [1 s, 4 s].
func liveInfoWait(target time.Duration) time.Duration {
	return min(max(target/2, time.Second), 4*time.Second)
}

// forget drops the resource of url, so that the next request opens it anew
// (after a failure, or when the origin changed it).
func (w *wasmEngine) forget(url string, c *openCall) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c == nil || w.res[url] == c {
		delete(w.res, url)
		for i, u := range w.resOrder {
			if u == url {
				w.resOrder = append(w.resOrder[:i], w.resOrder[i+1:]...)
				break
			}
		}
	}
}

// lookup returns the resource of url if it is open, without waiting.
func (w *wasmEngine) lookup(url string) *engine.Resource {
	w.mu.Lock()
	c := w.res[url]
	w.mu.Unlock()
	if c == nil {
		return nil
	}
	select {
	case <-c.done:
		return c.r
	default:
		return nil
	}
}

// onEvent passes an engine event to the page. It runs on the engine's
// event goroutine.
func (w *wasmEngine) onEvent(ev engine.Event) {
	switch ev.Kind {
	case engine.EventPeerID:
		w.emit("peerId", ev.PeerID)
	case engine.EventPeers:
		list := make([]any, len(ev.Peers))
		for i, p := range ev.Peers {
			list[i] = map[string]any{
				"id":         p.ID,
				"swarm":      p.Swarm,
				"downloaded": kb(p.Downloaded),
				"uploaded":   kb(p.Uploaded),
			}
		}
		w.mu.Lock()
		w.peersSeen = len(list) > 0
		w.mu.Unlock()
		w.emit("peers", list)
	case engine.EventStats:
		w.emit("stats", statsObject(ev.Stats))
	case engine.EventServerConnected:
		w.mu.Lock()
		w.upSeen = ev.Connected
		w.mu.Unlock()
		w.emit("serverConnected", ev.Connected)
	case engine.EventException:
		w.emit("exception", map[string]any{"code": ev.Exception.Code, "message": ev.Exception.Message, "stack": ""})
	}
}

// exception reports err to the page as an exception event with code, and
// returns err.
func (w *wasmEngine) exception(code string, err error) error {
	w.log.Warn("engine exception", "code", code, "err", err)
	w.emit("exception", map[string]any{"code": code, "message": err.Error(), "stack": ""})
	return err
}

// emit calls the page's emit(name, payload); an exception it throws is
// logged, never propagated into the engine.
func (w *wasmEngine) emit(name string, payload any) {
	if w.emitFn.Type() != js.TypeFunction {
		return
	}
	if err := jsutil.Try(func() { w.emitFn.Invoke(name, payload) }); err != nil {
		w.log.Warn("event listener threw", "event", name, "err", err)
	}
}

// kb converts bytes to KB (KiB), the unit of the public stats.
func kb(n int64) float64 { return float64(n) / 1024 }

func statsObject(s engine.Stats) map[string]any {
	return map[string]any{
		"totalHTTPDownloaded": kb(s.HTTPDownloaded),
		"totalP2PDownloaded":  kb(s.P2PDownloaded),
		"totalP2PUploaded":    kb(s.P2PUploaded),
		"p2pDownloadSpeed":    s.P2PDownloadRate / 1024,
	}
}
