//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// readBackTimeout bounds one read of a direct response from the HTTP cache.
const readBackTimeout = 30 * time.Second

// pieceTimeout bounds one piece request. The service worker gives up long
// before (docs/browser-runtime.md: 8 s) and may not say so.
const pieceTimeout = 30 * time.Second

// segmentReadAhead is how many pieces ahead of the one it reads the
// service worker asks for, in a segment.
const segmentReadAhead = 3

// errCancelled is the cause of a request the service worker cancelled: it
// gets no reply.
var errCancelled = errors.New("p2pmedia: request cancelled")

// portServer answers the service worker's requests on one MessagePort
// (docs/browser-runtime.md, "Port protocol"). Each request runs in its own
// goroutine; the message callback only reads the request and starts it.
type portServer struct {
	w    *wasmEngine
	port js.Value
	fn   js.Func

	mu      sync.Mutex
	reqs    map[float64]*request
	writes  []directWrite // queued for drainWrites
	writing bool          // drainWrites is running
}

// request is one request under way.
type request struct {
	id     float64
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   context.CancelFunc // releases the timeout
}

// servePort starts answering requests on port. The handler stays set after
// destroy, answering every request with ok:false so that the service worker
// falls back to the origin at once.
func (w *wasmEngine) servePort(port js.Value) {
	ps := &portServer{w: w, port: port, reqs: make(map[float64]*request)}
	ps.fn = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			ps.dispatch(jsutil.Get(args[0], "data"))
		}
		return nil
	})
	if err := jsutil.Try(func() { port.Set("onmessage", ps.fn) }); err != nil {
		w.log.Warn("servePort: cannot listen on the port", "err", err)
		ps.fn.Release()
		return
	}
	w.mu.Lock()
	w.port = ps
	w.mu.Unlock()
}

// dispatch reads one request and starts it. It runs in the message
// callback and never blocks.
func (ps *portServer) dispatch(msg js.Value) {
	op := jsutil.String(msg, "op", "")
	id := jsutil.Number(msg, "id", -1)
	if op == "cancel" {
		ps.cancel(id)
		return
	}
	url := jsutil.String(msg, "url", "")
	switch op {
	case "open":
		var ask *directAsk
		if rh := jsutil.Get(msg, "range"); rh.Type() == js.TypeString {
			ask = &directAsk{rangeHeader: rh.String(), short: jsutil.Get(msg, "short").Truthy()}
		}
		go ps.open(ps.begin(id, openTimeout), url, ask)
	case "write":
		ps.write(url, jsutil.Number(msg, "offset", -1), jsutil.Get(msg, "data"))
	case "claim":
		// The service worker fetches these bytes itself, under a lease
		// (prepare): the writes, or the cached message, follow.
		if r := ps.w.lookup(url); r != nil {
			r.Claim(spanOf(msg))
		}
	case "cached":
		if r := ps.w.lookup(url); r != nil {
			from, end := spanOf(msg)
			go ps.w.readBack(r, url, from, end)
		}
	case "release":
		if r := ps.w.lookup(url); r != nil {
			go r.Release(spanOf(msg))
		}
	case "piece":
		index := jsutil.Number(msg, "index", -1)
		budget := time.Duration(jsutil.Number(msg, "timeout", 0)) * time.Millisecond
		go ps.piece(ps.begin(id, pieceTimeout), url, index, budget)
	case "manifest":
		go ps.manifest(ps.begin(id, manifestTimeout), url, jsutil.String(msg, "proxyBase", ""))
	default:
		ps.post(map[string]any{"id": id, "ok": false, "error": "p2pmedia: unknown op " + op}, js.Undefined())
	}
}

// spanOf reads the bytes [from, end) that a claim, cached or release
// message names.
func spanOf(msg js.Value) (from, end int64) {
	return int64(jsutil.Number(msg, "from", 0)), int64(jsutil.Number(msg, "end", 0))
}

// begin registers request id, so that a cancel arriving next finds it.
func (ps *portServer) begin(id float64, timeout time.Duration) *request {
	ctx, cancel := context.WithCancelCause(ps.w.ctx)
	ctx, stop := context.WithTimeout(ctx, timeout)
	rq := &request{id: id, ctx: ctx, cancel: cancel, stop: stop}
	ps.mu.Lock()
	if old := ps.reqs[id]; old != nil {
		old.cancel(errCancelled) // a reused id replaces its request
	}
	ps.reqs[id] = rq
	ps.mu.Unlock()
	return rq
}

// end unregisters rq and releases its context.
func (ps *portServer) end(rq *request) {
	ps.mu.Lock()
	if ps.reqs[rq.id] == rq {
		delete(ps.reqs, rq.id)
	}
	ps.mu.Unlock()
	rq.stop()
	rq.cancel(context.Canceled)
}

func (ps *portServer) cancel(id float64) {
	ps.mu.Lock()
	rq := ps.reqs[id]
	ps.mu.Unlock()
	if rq != nil {
		rq.cancel(errCancelled)
	}
}

// directAsk is the service worker's offer to fetch a request's bytes from
// the origin itself (docs/browser-runtime.md, "Direct responses").
type directAsk struct {
	rangeHeader string // the request's Range header, "" for none
	short       bool   // the requester takes fewer bytes than it asked for
}

// open answers an open request: what the engine knows of the resource,
// and, when the service worker offers to fetch the request's bytes itself
// and no peer can give them, which of them it may.
func (ps *portServer) open(rq *request, url string, ask *directAsk) {
	ps.w.watch.wanted.Store(true) // a player is at work: look for its element
	ps.w.asked(url)
	r, ref, err := ps.w.resource(rq.ctx, url)
	if err != nil {
		ps.finish(rq, err)
		return
	}
	if ref.kind == kindSegment {
		ps.w.segs.played(ref.seg.Channel, time.Now())
	}
	info := r.Info()
	msg := map[string]any{
		"ok":           true,
		"size":         info.Size,
		"etag":         info.ETag,
		"lastModified": info.LastModified,
		"pieceLength":  r.PieceLength(),
	}
	if ref.kind == kindSegment && !ref.whole {
		// The player wants the whole segment before it plays any of it:
		// let the pieces come in parallel.
		msg["readAhead"] = segmentReadAhead
	}
	if ask != nil {
		if from, end, ok := directSpan(r, ask); ok {
			msg["directFrom"], msg["directEnd"] = from, end
		}
	}
	ps.reply(rq, msg, js.Undefined())
}

// directSpan asks r which bytes of the request ask the service worker may
// fetch from the origin itself: [from, end), ok false for none.
func directSpan(r *engine.Resource, ask *directAsk) (from, end int64, ok bool) {
	size := r.Info().Size
	want := byterange.Range{Start: 0, End: size}
	short := false
	if ask.rangeHeader != "" {
		pr, err := byterange.ParseRange(ask.rangeHeader, size)
		if err != nil {
			return 0, 0, false // the service worker answers it otherwise
		}
		want, short = pr, ask.short
	}
	end = r.DirectSpan(want.Start, want.End, short)
	return want.Start, end, end > want.Start
}

// write queues bytes the service worker fetched from the origin after an
// open reply handed them over, for the engine. It runs in the message
// callback: the bytes are copied here, and handed over in order by one
// goroutine (storing a piece waits for Cache Storage).
func (ps *portServer) write(url string, offset float64, data js.Value) {
	n := jsutil.Number(data, "byteLength", -1)
	if offset < 0 || n <= 0 {
		return
	}
	b := make([]byte, int(n))
	if err := jsutil.Try(func() { js.CopyBytesToGo(b, data) }); err != nil {
		ps.w.log.Debug("write: not bytes", "url", url, "err", err)
		return
	}
	ps.mu.Lock()
	ps.writes = append(ps.writes, directWrite{url: url, offset: int64(offset), data: b})
	start := !ps.writing
	ps.writing = true
	ps.mu.Unlock()
	if start {
		go ps.drainWrites()
	}
}

// readBack gives r bytes [from, end) of url that the service worker sent
// the player straight from the origin (op "cached"), reading them from the
// browser's HTTP cache, where that fetch left them: the engine stores and
// shares them, and counts them as its HTTP downloads. The pieces it could
// not read go back to the scheduler.
func (w *wasmEngine) readBack(r *engine.Resource, url string, from, end int64) {
	if from < 0 || end <= from || end > r.Info().Size {
		return
	}
	r.Claim(from, end)
	if err := w.readCached(r, url, from, end); err != nil {
		w.log.Debug("direct response not read back from the HTTP cache", "url", url, "err", err)
		r.Release(from, end)
	}
}

// readCached reads bytes [from, end) of url from the HTTP cache into r.
func (w *wasmEngine) readCached(r *engine.Resource, url string, from, end int64) error {
	ctx, cancel := context.WithTimeout(w.ctx, readBackTimeout)
	defer cancel()
	info, body, err := w.fetcher.FetchCached(ctx, url, from, end)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := r.Changed(info); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for off := from; off < end; {
		k, err := body.Read(buf)
		if k > 0 {
			r.Write(off, buf[:k])
			off += int64(k)
		}
		if err == io.EOF && off == end {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// directWrite is a chunk of a direct response's body for the engine.
type directWrite struct {
	url    string
	offset int64
	data   []byte
}

// drainWrites hands the queued writes to their resources, in order, until
// the queue is empty.
func (ps *portServer) drainWrites() {
	for {
		ps.mu.Lock()
		if len(ps.writes) == 0 {
			ps.writing = false
			ps.mu.Unlock()
			return
		}
		wr := ps.writes[0]
		ps.writes = ps.writes[1:]
		ps.mu.Unlock()
		if r := ps.w.lookup(wr.url); r != nil {
			r.Write(wr.offset, wr.data)
		}
	}
}

// piece answers a piece request. budget is how long the service worker
// waits for it (0: not said): the piece's deadline is kept within it, so
// that the engine, not the service worker, falls back to HTTP.
func (ps *portServer) piece(rq *request, url string, index float64, budget time.Duration) {
	w := ps.w
	r, ref, err := w.resource(rq.ctx, url)
	if err != nil {
		ps.finish(rq, err)
		return
	}
	i := int(index)
	start, _, ok := r.PieceRange(i)
	if !ok || float64(i) != index {
		ps.finish(rq, fmt.Errorf("p2pmedia: piece %v out of range [0, %d)", index, r.PieceCount()))
		return
	}
	now := time.Now()
	deadline := capDeadline(w.watch.mediaDeadline(url, ref, r.Info().Size, start, now), now, budget)
	data, err := r.ReadPiece(rq.ctx, i, deadline)
	if err != nil {
		if errors.Is(err, engine.ErrChanged) {
			w.forget(url, nil)
		}
		ps.finish(rq, err)
		return
	}
	buf := js.Global().Get("ArrayBuffer").New(len(data))
	js.CopyBytesToJS(js.Global().Get("Uint8Array").New(buf), data)
	ps.reply(rq, map[string]any{"ok": true, "data": buf}, buf)
}

// manifest answers a manifest request: the rewritten text, or ok:false
// so that the service worker fetches the manifest itself. The work runs on
// the engine's context: a request the service worker gave up on still
// teaches the segment map.
func (ps *portServer) manifest(rq *request, url, proxyBase string) {
	ps.w.watch.wanted.Store(true)
	ctx, cancel := context.WithTimeout(ps.w.ctx, manifestTimeout)
	defer cancel()
	mr, err := ps.w.loadManifest(ctx, url, proxyBase)
	if err != nil {
		ps.w.log.Debug("manifest not rewritten", "url", url, "err", err)
		ps.finish(rq, err)
		return
	}
	if mr.redirect != "" {
		ps.reply(rq, map[string]any{"ok": true, "redirect": mr.redirect, "hosts": anys(mr.hosts)}, js.Undefined())
		return
	}
	ps.reply(rq, map[string]any{"ok": true, "text": mr.text, "contentType": mr.contentType, "hosts": anys(mr.hosts)}, js.Undefined())
}

// finish answers a failed request, unless the service worker cancelled it.
func (ps *portServer) finish(rq *request, err error) {
	switch cause := context.Cause(rq.ctx); {
	case ps.w.isDestroyed():
		err = errDestroyed
	case rq.ctx.Err() != nil && cause != nil:
		err = cause
	}
	ps.reply(rq, map[string]any{"ok": false, "error": err.Error()}, js.Undefined())
}

// reply answers rq with msg, transferring buf if it is set, unless the
// request was cancelled.
func (ps *portServer) reply(rq *request, msg map[string]any, buf js.Value) {
	cancelled := errors.Is(context.Cause(rq.ctx), errCancelled)
	ps.end(rq)
	if cancelled {
		return
	}
	msg["id"] = rq.id
	ps.post(msg, buf)
}

func (ps *portServer) post(msg map[string]any, buf js.Value) {
	err := jsutil.Try(func() {
		if buf.IsUndefined() {
			ps.port.Call("postMessage", msg)
		} else {
			ps.port.Call("postMessage", msg, []any{buf})
		}
	})
	if err != nil {
		ps.w.log.Warn("posting a reply to the service worker", "err", err)
	}
}

// anys converts a string slice for js.ValueOf.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
