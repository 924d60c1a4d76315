//go:build js && wasm

package main

import (
	"errors"
	"sync"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
)

// Piece lengths the SW accepts from the page, as engine/identity defines
// them (that package is not imported: it would pull fmt and net/url into
// this binary).
const (
	pieceLengthUnit = 16 * 1024
	maxPieceLength  = 16 * 1024 * 1024
)

// maxReadAhead bounds the pieces a stream asks ahead of the one it needs.
const maxReadAhead = 8

// maxMetas bounds the open replies a port remembers; past it the memory is
// cleared, and the next requests ask the page again.
const maxMetas = 256

var (
	errTimeout = errors.New("p2p-sw: the page did not answer in time")
	errClosed  = errors.New("p2p-sw: the page's port is closed")
	errReply   = errors.New("p2p-sw: the page's reply is malformed")
)

// meta is what an open reply says about a resource.
type meta struct {
	size         int64
	pieceLength  int64
	etag         string
	lastModified string
	readAhead    int // pieces to ask ahead of the one needed (default 1)
	// The request's bytes [directFrom, directEnd) are to be fetched from
	// the origin by the service worker itself and handed to the page
	// (op "write"): no peer can give them. Empty when directEnd <= directFrom.
	directFrom, directEnd int64
}

// parseMeta reads a successful open reply.
func parseMeta(r js.Value) (meta, error) {
	size, ok1 := jsutil.AsInt(r.Get("size"))
	l, ok2 := jsutil.AsInt(r.Get("pieceLength"))
	if !ok1 || !ok2 || size < 0 || l <= 0 || l%pieceLengthUnit != 0 || l > maxPieceLength {
		return meta{}, errReply
	}
	ahead := 1
	if n, ok := jsutil.AsInt(r.Get("readAhead")); ok && n >= 0 {
		ahead = int(min(n, maxReadAhead))
	}
	m := meta{size: size, pieceLength: l, etag: jsutil.AsString(r.Get("etag")), lastModified: jsutil.AsString(r.Get("lastModified")), readAhead: ahead}
	from, ok1 := jsutil.AsInt(r.Get("directFrom"))
	end, ok2 := jsutil.AsInt(r.Get("directEnd"))
	if ok1 && ok2 && 0 <= from && from < end && end <= size {
		m.directFrom, m.directEnd = from, end
	}
	return m, nil
}

// replyError returns the error an ok:false reply carries.
func replyError(r js.Value) error {
	if msg := jsutil.AsString(r.Get("error")); msg != "" {
		return errors.New("p2p-sw: the page failed: " + msg)
	}
	return errors.New("p2p-sw: the page failed")
}

// port is the SW's end of one page's MessagePort (docs/browser-runtime.md,
// "Port protocol"): it numbers the requests and routes each reply to the
// goroutine waiting for it.
type port struct {
	v        js.Value
	onMsg    js.Func
	onClose  js.Func
	closed   chan struct{} // closed when the port is closed or replaced
	once     sync.Once
	onClosed func(*port) // called once, after closed is closed
	reads    *readWatch  // tells when the player has read a direct response
	leaseTTL time.Duration

	// mu guards the fields below. It is never held across a blocking
	// operation, so the message callback can take it.
	mu      sync.Mutex
	nextID  int
	pending map[int]chan js.Value // request id → where its reply goes
	metas   map[string]meta       // original URL → open reply
	leases  map[string]lease      // original URL → the page's lease
}

// lease is the page's word that the swarm of a URL is alone (op "lease"):
// the next media element request for it may fetch its bytes from the
// origin without asking the page (see leased).
type lease struct {
	meta
	maxDirect int64     // the most bytes past the request's start to take
	until     time.Time // when the word no longer holds
	// head is the fetch of the bytes a player asks first (from 0) that
	// the lease starts at once: the player, whose request comes a few
	// tens of milliseconds later, finds them on their way.
	head *originFetch
}

// span returns the bytes of the requested range r that the service worker
// fetches under the lease: up to the piece boundary that the page's
// DirectSpan would choose.
func (l lease) span(r byterange.Range) byterange.Range {
	return byterange.Range{Start: r.Start, End: min(byterange.PieceSpanEnd(r.Start, l.size, l.pieceLength, l.maxDirect), r.End)}
}

// drop gives up the lease unused: its head start stops.
func (l lease) drop(p *port) {
	if l.head != nil {
		l.head.stop(p)
	}
}

// defaultLeaseTTL is how long a lease holds: the player's first request
// follows getProxiedUrl at once, or the swarm may have changed.
const defaultLeaseTTL = 10 * time.Second

// newPort starts listening on the MessagePort v. onClosed runs when the
// port closes.
func newPort(v js.Value, reads *readWatch, onClosed func(*port)) *port {
	p := &port{
		v:        v,
		closed:   make(chan struct{}),
		onClosed: onClosed,
		reads:    reads,
		leaseTTL: defaultLeaseTTL,
		pending:  make(map[int]chan js.Value),
		metas:    make(map[string]meta),
		leases:   make(map[string]lease),
	}
	p.onMsg = js.FuncOf(func(_ js.Value, args []js.Value) any {
		p.deliver(jsutil.Arg(args, 0).Get("data"))
		return nil
	})
	p.onClose = js.FuncOf(func(js.Value, []js.Value) any {
		go p.close()
		return nil
	})
	v.Set("onmessage", p.onMsg) // starts the port
	v.Set("onclose", p.onClose) // where MessagePort has a close event
	return p
}

// deliver hands a reply to the request it answers. It runs inside a
// js.FuncOf callback and does not block: each request's channel has room
// for its one reply.
func (p *port) deliver(data js.Value) {
	if data.Type() != js.TypeObject {
		return
	}
	switch jsutil.AsString(data.Get("op")) {
	case "lease":
		p.addLease(data)
		return
	case "close": // the page's engine is destroyed
		go p.close()
		return
	}
	id, ok := jsutil.AsInt(data.Get("id"))
	if !ok {
		return
	}
	p.mu.Lock()
	ch, ok := p.pending[int(id)]
	delete(p.pending, int(id))
	p.mu.Unlock()
	if ok {
		ch <- data
	}
}

// request posts {op, id, url} plus the fields set adds (when not nil), and
// returns the id and the channel its reply arrives on.
func (p *port) request(op, url string, set func(msg js.Value)) (int, <-chan js.Value) {
	ch := make(chan js.Value, 1)
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.pending[id] = ch
	p.mu.Unlock()
	msg := object()
	msg.Set("op", op)
	msg.Set("id", id)
	msg.Set("url", url)
	if set != nil {
		set(msg)
	}
	p.v.Call("postMessage", msg)
	return id, ch
}

// cancel tells the page to stop working on request id, unless it has
// answered already.
func (p *port) cancel(id int) {
	p.mu.Lock()
	_, ok := p.pending[id]
	delete(p.pending, id)
	p.mu.Unlock()
	if !ok {
		return
	}
	msg := object()
	msg.Set("op", "cancel")
	msg.Set("id", id)
	p.v.Call("postMessage", msg)
}

// directAsk offers the page to fetch a request's bytes from the origin in
// the service worker (meta.directFrom).
type directAsk struct {
	rangeHeader string // the request's Range header, "" for none
	short       bool   // the requester takes fewer bytes than it asked for
}

// open returns what the page knows of the resource at url, waiting at most
// timeout. With ask set, the page says which bytes of the request it hands
// to the service worker. The page is asked when this port has not asked it
// before, or when its last answer handed bytes over (the swarm was alone,
// and may still be).
func (p *port) open(url string, timeout time.Duration, ask *directAsk) (meta, error) {
	p.mu.Lock()
	m, ok := p.metas[url]
	p.mu.Unlock()
	if ok && (m.directEnd == 0 || ask == nil) {
		m.directFrom, m.directEnd = 0, 0
		return m, nil
	}
	id, reply := p.request("open", url, func(msg js.Value) {
		if ask != nil {
			msg.Set("range", ask.rangeHeader)
			msg.Set("short", ask.short)
		}
	})
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-reply:
		if !r.Get("ok").Truthy() {
			return meta{}, replyError(r)
		}
		m, err := parseMeta(r)
		if err != nil {
			return meta{}, err
		}
		p.mu.Lock()
		if len(p.metas) >= maxMetas {
			clear(p.metas)
		}
		p.metas[url] = m
		p.mu.Unlock()
		return m, nil
	case <-t.C:
		p.cancel(id)
		return meta{}, errTimeout
	case <-p.closed:
		return meta{}, errClosed
	}
}

// addLease files a lease message, and starts fetching the bytes that the
// player's first request will take under it (lease.head): from 0 to the
// piece boundary that lease.span chooses, with the page's URL as referrer
// (that of the player's request). The page hears of them (op "claim") when
// a request takes them: it has nothing to fetch before. A newer lease of
// the URL replaces the last one, whose head start stops; a malformed lease
// is ignored.
func (p *port) addLease(data js.Value) {
	url, l, ok := parseLease(data)
	if !ok {
		return
	}
	l.until = time.Now().Add(p.leaseTTL)
	var dropped []lease
	p.mu.Lock()
	if len(p.leases) >= maxMetas {
		for _, old := range p.leases {
			dropped = append(dropped, old)
		}
		clear(p.leases)
	}
	if old, ok := p.leases[url]; ok {
		dropped = append(dropped, old)
	}
	p.leases[url] = l
	p.mu.Unlock()
	for _, old := range dropped {
		old.drop(p)
	}
	span := l.span(byterange.Range{Start: 0, End: l.size})
	if span.Len() <= 0 {
		return
	}
	head := p.startFetch(url, span, 206, data.Get("referrer"), js.Undefined())
	p.mu.Lock()
	if cur, ok := p.leases[url]; ok && cur.until == l.until {
		cur.head = head
		p.leases[url] = cur
		head = nil
	}
	p.mu.Unlock()
	if head != nil { // taken meanwhile, without its head start
		head.stop(p)
		return
	}
	time.AfterFunc(p.leaseTTL, func() { p.expire(url, l.until) })
}

// parseLease reads a lease message: the URL and its lease, without its
// time; ok is false for a malformed message.
func parseLease(data js.Value) (url string, l lease, ok bool) {
	url = jsutil.AsString(data.Get("url"))
	m, err := parseMeta(data)
	most, ok := jsutil.AsInt(data.Get("maxDirect"))
	if url == "" || err != nil || !ok || most <= 0 {
		return "", lease{}, false
	}
	return url, lease{meta: m, maxDirect: most}, true
}

// expire drops the lease of url that holds until until, if no request
// took it.
func (p *port) expire(url string, until time.Time) {
	p.mu.Lock()
	l, ok := p.leases[url]
	if ok && l.until == until {
		delete(p.leases, url)
	}
	p.mu.Unlock()
	if ok && l.until == until {
		l.drop(p)
	}
}

// takeLease returns the lease of url, if one holds, and forgets it: a
// lease serves one request.
func (p *port) takeLease(url string) (lease, bool) {
	p.mu.Lock()
	l, ok := p.leases[url]
	delete(p.leases, url)
	p.mu.Unlock()
	if ok && !time.Now().Before(l.until) {
		l.drop(p)
		return lease{}, false
	}
	return l, ok
}

// claim tells the page that the service worker fetches bytes [r.Start,
// r.End) of url from the origin under a lease (op "claim"); their bytes
// follow, as writes or a cached message. No reply comes.
func (p *port) claim(url string, r byterange.Range) {
	p.notify("claim", url, r)
}

// write hands the page bytes of url from offset on that the service worker
// fetched from the origin itself (meta.directFrom), transferring chunk's
// buffer. No reply comes.
func (p *port) write(url string, offset int64, chunk js.Value) {
	select {
	case <-p.closed:
		return
	default:
	}
	msg := object()
	msg.Set("op", "write")
	msg.Set("url", url)
	msg.Set("offset", offset)
	msg.Set("data", chunk)
	p.v.Call("postMessage", msg, []any{chunk.Get("buffer")})
}

// cached tells the page that bytes [r.Start, r.End) of url went to the
// player straight from the origin, and that the browser's HTTP cache holds
// them (op "cached"). No reply comes.
func (p *port) cached(url string, r byterange.Range) {
	p.notify("cached", url, r)
}

// release gives the page back bytes of url it handed to the service
// worker (meta.directFrom) that the service worker will not fetch. No reply
// comes.
func (p *port) release(url string, r byterange.Range) {
	p.notify("release", url, r)
}

// notify posts {op, url, from, end}, a message that gets no reply.
func (p *port) notify(op, url string, r byterange.Range) {
	msg := object()
	msg.Set("op", op)
	msg.Set("url", url)
	msg.Set("from", r.Start)
	msg.Set("end", r.End)
	p.v.Call("postMessage", msg)
}

// manifestReply is what a successful manifest reply says.
type manifestReply struct {
	text        string
	contentType string
	redirect    string // a proxied URL to redirect the player to
	// hosts are the origins the rewritten manifest (or the redirect)
	// names, to be registered before the player asks for them.
	hosts []string
}

// manifest asks the page for the manifest at url rewritten under base (the
// proxy base of the request), waiting at most timeout.
func (p *port) manifest(url, base string, timeout time.Duration) (manifestReply, error) {
	id, reply := p.request("manifest", url, func(msg js.Value) { msg.Set("proxyBase", base) })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-reply:
		if !r.Get("ok").Truthy() {
			return manifestReply{}, replyError(r)
		}
		m := manifestReply{text: jsutil.AsString(r.Get("text")), contentType: jsutil.AsString(r.Get("contentType")), redirect: jsutil.AsString(r.Get("redirect")), hosts: jsutil.AsStrings(r.Get("hosts"), mediaurl.MaxManifestOrigins)}
		if m.redirect == "" && (r.Get("text").Type() != js.TypeString || m.contentType == "") {
			return manifestReply{}, errReply
		}
		return m, nil
	case <-t.C:
		p.cancel(id)
		return manifestReply{}, errTimeout
	case <-p.closed:
		return manifestReply{}, errClosed
	}
}

// close stops listening, closes the MessagePort and wakes every goroutine
// waiting for a reply. Calling it again is harmless.
func (p *port) close() {
	p.once.Do(func() {
		close(p.closed)
		p.v.Set("onmessage", js.Null())
		p.v.Set("onclose", js.Null())
		p.v.Call("close")
		p.onMsg.Release()
		p.onClose.Release()
		p.mu.Lock()
		clear(p.pending)
		leases := p.leases
		p.leases = make(map[string]lease)
		p.mu.Unlock()
		for _, l := range leases {
			l.drop(p) // the page is gone: stop the head starts
		}
		if p.onClosed != nil {
			p.onClosed(p)
		}
	})
}
