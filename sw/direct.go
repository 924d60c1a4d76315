//go:build js && wasm

package main

import (
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// direct answers a request whose first bytes the page handed to the
// service worker (meta.directFrom: no peer can give them) with the origin's
// own response, which the player reads natively, without a JavaScript
// stream in between: that is what makes a lone viewer start as fast as
// plain HTTP. The page gets the bytes too (see originFetch.respond). The
// response ends at meta.directEnd, which may be short of the range asked
// for only when short is set (a media element's Range request: it asks
// again for the rest). It returns ok=false, after giving the bytes back to
// the page, when the origin's answer does not fit what the page knows; the
// request is then served the usual way.
func direct(p *port, req js.Value, url string, m meta, r byterange.Range, status int, short bool) (js.Value, bool) {
	if m.directEnd <= m.directFrom {
		return js.Undefined(), false
	}
	span := byterange.Range{Start: r.Start, End: min(r.End, m.directEnd)}
	if m.directFrom != r.Start || span.End < r.End && (!short || status != 206) {
		p.release(url, byterange.Range{Start: m.directFrom, End: m.directEnd})
		return js.Undefined(), false
	}
	// The fetch stands in for the player's own request: the origin sees
	// the player's referrer (hotlink rules), and the page's engine counts
	// the bytes as its HTTP downloads.
	f := p.startFetch(url, span, status, req.Get("referrer"), req.Get("referrerPolicy"))
	return f.respond(p, m)
}

// leased answers a media element's Range request under the page's lease
// of url (op "lease": the swarm is alone) without asking the page: it
// fetches the request's bytes from the origin up to the piece boundary
// that the page's DirectSpan would choose, after telling the page so (op
// "claim"). When the lease's head start fetched just those bytes, its
// response is the answer. ok is false when there is no lease, or when the
// request or the origin's answer does not fit it; the request is then
// served the usual way.
func leased(p *port, req js.Value, url, rangeHeader string) (js.Value, bool) {
	l, ok := p.takeLease(url)
	if !ok {
		return js.Undefined(), false
	}
	r, err := byterange.ParseRange(rangeHeader, l.size)
	if err != nil || !ifRangeHolds(header(req, "if-range"), l.meta) {
		l.drop(p)
		return js.Undefined(), false
	}
	span := l.span(r)
	m := l.meta
	m.directFrom, m.directEnd = span.Start, span.End
	if l.head != nil && l.head.span == span {
		p.claim(url, span)
		return l.head.respond(p, m)
	}
	l.drop(p)
	p.claim(url, span)
	return direct(p, req, url, m, r, 206, true)
}

// originFetch is the service worker's fetch of bytes span of a resource
// from the origin for a direct response: the player gets the origin's
// response as it is.
type originFetch struct {
	url    string
	span   byterange.Range
	status int       // 206 for a Range request, 200 for the whole resource
	read   *bodyRead // tells when the body has come whole
	abort  js.Value  // the fetch's AbortController, undefined where there is none

	done chan struct{} // closed once resp or err is set
	resp js.Value
	err  error
}

// startFetch starts fetching span of url, with a Range header when status
// is 206. referrer and policy are those of the request it stands for
// (undefined: the worker's own).
func (p *port) startFetch(url string, span byterange.Range, status int, referrer, policy js.Value) *originFetch {
	f := &originFetch{url: url, span: span, status: status, done: make(chan struct{})}
	init := object()
	if referrer.Type() == js.TypeString {
		init.Set("referrer", referrer)
	}
	if policy.Type() == js.TypeString {
		init.Set("referrerPolicy", policy)
	}
	if status == 206 {
		h := object()
		h.Set("range", byterange.Header(span))
		init.Set("headers", h)
	}
	if ctor := js.Global().Get("AbortController"); ctor.Type() == js.TypeFunction {
		f.abort = ctor.New()
		init.Set("signal", f.abort.Get("signal"))
	}
	f.read = p.reads.watch(url)
	fetched, err := jsutil.Protect(func() (js.Value, error) { return js.Global().Call("fetch", url, init), nil })
	if err != nil {
		f.err = err
		close(f.done)
		return f
	}
	go func() {
		f.resp, f.err = jsutil.AwaitDone(fetched, nil)
		close(f.done)
	}()
	return f
}

// respond waits for the origin's answer and returns it for the player,
// when it fits the resource m as the page knows it. The page's engine gets
// the bytes too, and stores them for the peers that come later: when the
// browser's HTTP cache keeps the response (see keptByCache), the page reads
// them back from there once the player has read the body (op "cached"),
// and the player's response is left untouched; otherwise a copy of the
// body goes to the page as it comes (op "write"), which costs the player
// the tee of its body. ok is false, after giving the bytes back to the
// page, when the answer does not fit.
func (f *originFetch) respond(p *port, m meta) (js.Value, bool) {
	<-f.done
	reads := p.reads
	if f.err != nil || !originFits(f.resp, f.status, f.span, m) {
		f.cancel(p)
		return js.Undefined(), false
	}
	if reads.ok() && keptByCache(f.resp) {
		go func() {
			if !reads.wait(f.read) {
				p.release(f.url, f.span) // a read back now might go to the origin
				return
			}
			time.Sleep(cacheSettle)
			p.cached(f.url, f.span)
		}()
		return f.resp, true
	}
	reads.forget(f.read)
	copied := f.resp.Call("clone").Get("body")
	go p.copyBody(f.url, f.span.Start, copied)
	return f.resp, true
}

// cancel stops a fetch whose response no player gets, and gives its bytes
// back to the page.
func (f *originFetch) cancel(p *port) {
	f.stop(p)
	p.release(f.url, f.span)
}

// stop stops a fetch whose response no player gets.
func (f *originFetch) stop(p *port) {
	if f.abort.Type() == js.TypeObject {
		f.abort.Call("abort")
	}
	p.reads.forget(f.read)
}

// keptByCache reports whether the browser's HTTP cache keeps resp, a
// response to a Range request, for the page to read back: it must not
// forbid storing it, and must carry a validator, without which a cache
// does not keep part of a resource.
func keptByCache(resp js.Value) bool {
	for _, d := range strings.Split(strings.ToLower(header(resp, "cache-control")), ",") {
		if strings.TrimSpace(d) == "no-store" {
			return false
		}
	}
	return header(resp, "etag") != "" || header(resp, "last-modified") != ""
}

// originFits reports whether the origin answered a request for the bytes
// span of the resource m, with the status wanted, as the page knows it.
func originFits(resp js.Value, status int, span byterange.Range, m meta) bool {
	if resp.Get("status").Int() != status || resp.Get("body").Type() != js.TypeObject {
		return false
	}
	if etag := header(resp, "etag"); etag != "" && m.etag != "" && etag != m.etag {
		return false
	}
	if status == 200 {
		// No length, or an unreadable one (a compressed or chunked body):
		// the status and validators are all there is to check.
		n, err := strconv.ParseUint(header(resp, "content-length"), 10, 63)
		return err != nil || int64(n) == m.size
	}
	got, size, err := byterange.ParseContentRange(header(resp, "content-range"))
	return err == nil && got == span && size == m.size
}

// copyBody hands the page the chunks of body, a copy of a direct
// response's body starting at offset, as they come.
func (p *port) copyBody(url string, offset int64, body js.Value) {
	reader := body.Call("getReader")
	for {
		res, err := jsutil.AwaitDone(reader.Call("read"), p.closed)
		if err != nil || res.Get("done").Truthy() {
			if err != nil {
				reader.Call("cancel")
			}
			return
		}
		chunk := res.Get("value")
		n := int64(chunk.Get("byteLength").Int())
		p.write(url, offset, chunk)
		offset += n
	}
}

// How a direct response left to the player is read back by the page.
const (
	// readWaitLimit bounds the wait for the player to read the body (a
	// player that stopped reading, an aborted or redirected response):
	// the page gets the span back then, and the bytes the player read
	// stay uncounted.
	readWaitLimit = 30 * time.Second
	// cacheSettle is the time the browser takes, after the body has come
	// whole, to finish the cache entry: a read before then goes to the
	// network (Chromium 156: 100 ms is too soon).
	cacheSettle = time.Second
)

// readWatch tells when the body of a fetch of the service worker has come
// whole, from the Resource Timing entries the browser adds then.
type readWatch struct {
	obs js.Value // the PerformanceObserver, undefined where there is none
	fn  js.Func

	mu      sync.Mutex
	waiting map[string][]*bodyRead // by URL
}

// bodyRead is one fetch whose body is awaited.
type bodyRead struct {
	url   string
	since float64 // performance.now() just before the fetch
	done  chan struct{}
}

func newReadWatch() *readWatch {
	w := &readWatch{waiting: make(map[string][]*bodyRead)}
	ctor := js.Global().Get("PerformanceObserver")
	if ctor.Type() != js.TypeFunction {
		return w
	}
	w.fn = js.FuncOf(func(_ js.Value, args []js.Value) any {
		entries := jsutil.Arg(args, 0).Call("getEntries")
		for i, n := 0, entries.Length(); i < n; i++ {
			e := entries.Index(i)
			w.ended(e.Get("name").String(), e.Get("startTime").Float())
		}
		return nil
	})
	opts := object()
	opts.Set("type", "resource")
	_, err := jsutil.Protect(func() (js.Value, error) {
		obs := ctor.New(w.fn)
		obs.Call("observe", opts)
		w.obs = obs
		return obs, nil
	})
	if err != nil {
		w.fn.Release()
	}
	return w
}

// ok reports whether the browser tells when a body has come.
func (w *readWatch) ok() bool { return !w.obs.IsUndefined() }

// watch registers the fetch of url about to start.
func (w *readWatch) watch(url string) *bodyRead {
	b := &bodyRead{url: url, since: js.Global().Get("performance").Call("now").Float(), done: make(chan struct{})}
	w.mu.Lock()
	w.waiting[url] = append(w.waiting[url], b)
	w.mu.Unlock()
	return b
}

// ended takes the entry of a fetch of url that started at start: it is the
// one, of those awaited, that started last before it.
func (w *readWatch) ended(url string, start float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list, k := w.waiting[url], -1
	for i, b := range list {
		if b.since <= start && (k < 0 || b.since > list[k].since) {
			k = i
		}
	}
	if k >= 0 {
		close(list[k].done)
		w.removeLocked(list[k])
	}
}

// wait reports whether the body of b came whole within readWaitLimit.
func (w *readWatch) wait(b *bodyRead) bool {
	t := time.NewTimer(readWaitLimit)
	defer t.Stop()
	select {
	case <-b.done:
		return true
	case <-t.C:
		w.forget(b)
		return false
	}
}

// forget stops waiting for b.
func (w *readWatch) forget(b *bodyRead) {
	w.mu.Lock()
	w.removeLocked(b)
	w.mu.Unlock()
}

func (w *readWatch) removeLocked(b *bodyRead) {
	list := w.waiting[b.url]
	for i, x := range list {
		if x == b {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.waiting, b.url)
	} else {
		w.waiting[b.url] = list
	}
}
