//go:build js && wasm

package main

import (
	"errors"
	"strconv"
	"sync"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// pieceCall is a piece request that the stream has sent and not consumed.
type pieceCall struct {
	id    int
	reply <-chan js.Value
}

// stream is the body of one response: the bytes [next, end) of a resource,
// asked piece by piece from the page and, once the page fails, from the
// origin (docs/browser-runtime.md, "Service worker behaviour").
//
// Media bytes stay in JavaScript: a piece's ArrayBuffer, transferred from
// the page, is enqueued as a Uint8Array view of itself, and the origin's
// chunks are passed on as they come.
type stream struct {
	p            *port
	url          string // the original URL
	m            meta
	pieceTimeout time.Duration

	// done is closed when the stream ends: read to its end, failed, or
	// cancelled by its consumer.
	done     chan struct{}
	doneOnce sync.Once

	pullFn, cancelFn js.Func

	// mu is held by the pull in progress and by the clean-up after done.
	mu     sync.Mutex
	next   int64
	end    int64
	asked  map[int]pieceCall // piece index → request not consumed yet
	reader js.Value          // the origin body's reader, after a fallback
	skip   int64             // bytes of the origin body to drop (a 200 to a Range request)
}

// newStream returns the stream of bytes r of the resource at url, which
// the page behind p knows as m.
func newStream(p *port, url string, m meta, r byterange.Range, pieceTimeout time.Duration) *stream {
	return &stream{
		p:            p,
		url:          url,
		m:            m,
		pieceTimeout: pieceTimeout,
		done:         make(chan struct{}),
		next:         r.Start,
		end:          r.End,
		asked:        make(map[int]pieceCall),
	}
}

// body returns the stream as a ReadableStream with a high-water mark of 0:
// it reads a piece only when its consumer pulls.
func (st *stream) body() js.Value {
	st.pullFn = js.FuncOf(func(_ js.Value, args []js.Value) any {
		c := jsutil.Arg(args, 0)
		return jsutil.Promise(func() (js.Value, error) { return js.Undefined(), st.pull(c) })
	})
	st.cancelFn = js.FuncOf(func(js.Value, []js.Value) any {
		st.finish()
		return nil
	})
	source := object()
	source.Set("pull", st.pullFn)
	source.Set("cancel", st.cancelFn)
	strategy := object()
	strategy.Set("highWaterMark", 0)
	go st.cleanUp()
	return js.Global().Get("ReadableStream").New(source, strategy)
}

// finish marks the stream as ended. It does not block.
func (st *stream) finish() { st.doneOnce.Do(func() { close(st.done) }) }

// pull enqueues the next chunk of the range into the stream's controller
// c, and closes the stream after the last one. An error it returns errors
// the stream.
func (st *stream) pull(c js.Value) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	select {
	case <-st.done:
		return nil
	default:
	}
	chunk, err := st.read()
	if err != nil {
		st.finish()
		if errors.Is(err, jsutil.ErrCancelled) {
			return nil
		}
		return err
	}
	c.Call("enqueue", chunk)
	st.next += int64(chunk.Get("byteLength").Int())
	if st.next >= st.end {
		c.Call("close")
		st.finish()
	}
	return nil
}

// read returns the next chunk of the range: from the page until it fails,
// then from the origin.
func (st *stream) read() (js.Value, error) {
	if st.reader.IsUndefined() {
		chunk, err := st.fromPage()
		if err == nil || errors.Is(err, jsutil.ErrCancelled) {
			return chunk, err
		}
		if err := st.openOrigin(); err != nil {
			return js.Undefined(), err
		}
	}
	return st.fromOrigin()
}

// ask sends the request for piece index unless it is out already.
func (st *stream) ask(index int) {
	if _, ok := st.asked[index]; ok {
		return
	}
	id, reply := st.p.request("piece", st.url, func(msg js.Value) {
		msg.Set("index", index)
		msg.Set("timeout", st.pieceTimeout.Milliseconds())
	})
	st.asked[index] = pieceCall{id: id, reply: reply}
}

// fromPage returns the part of the range that the piece holding byte next
// covers, as the page sends it, and asks for the following pieces ahead
// (m.readAhead of them). The piece timeout runs from the pull that needs
// the piece: a piece asked ahead gets that much more time.
func (st *stream) fromPage() (js.Value, error) {
	l := st.m.pieceLength
	index := int(st.next / l)
	st.ask(index)
	last := int((st.end - 1) / l)
	for i := index + 1; i <= min(index+st.m.readAhead, last); i++ {
		st.ask(i)
	}
	call := st.asked[index]
	delete(st.asked, index)

	t := time.NewTimer(st.pieceTimeout)
	defer t.Stop()
	var r js.Value
	select {
	case r = <-call.reply:
	case <-t.C:
		st.p.cancel(call.id)
		return js.Undefined(), errTimeout
	case <-st.p.closed:
		return js.Undefined(), errClosed
	case <-st.done:
		st.p.cancel(call.id)
		return js.Undefined(), jsutil.ErrCancelled
	}
	if !r.Get("ok").Truthy() {
		return js.Undefined(), replyError(r)
	}
	data := r.Get("data")
	start := int64(index) * l
	end := min(start+l, st.m.size)
	if !data.InstanceOf(js.Global().Get("ArrayBuffer")) || int64(data.Get("byteLength").Int()) != end-start {
		return js.Undefined(), errReply
	}
	return js.Global().Get("Uint8Array").New(data, st.next-start, min(end, st.end)-st.next), nil
}

// cancelAsked cancels the piece requests not consumed yet.
func (st *stream) cancelAsked() {
	for index, call := range st.asked {
		st.p.cancel(call.id)
		delete(st.asked, index)
	}
}

// openOrigin gives up on the page: it cancels the piece requests still out
// and asks the origin for the bytes [next, end).
func (st *stream) openOrigin() error {
	st.cancelAsked()
	init := object()
	hdrs := object()
	hdrs.Set("range", byterange.Header(byterange.Range{Start: st.next, End: st.end}))
	init.Set("headers", hdrs)
	resp, err := jsutil.AwaitDone(js.Global().Call("fetch", st.url, init), st.done)
	if err != nil {
		return err
	}
	switch status := resp.Get("status").Int(); status {
	case 206:
		r, _, err := byterange.ParseContentRange(header(resp, "content-range"))
		if err != nil || r.Start != st.next {
			return errors.New("p2p-sw: the origin sent another range than " + strconv.FormatInt(st.next, 10) + "-")
		}
	case 200:
		st.skip = st.next // it ignored the Range header
	default:
		return errors.New("p2p-sw: the origin answered " + strconv.Itoa(status))
	}
	body := resp.Get("body")
	if body.Type() != js.TypeObject {
		return errors.New("p2p-sw: the origin sent no body")
	}
	st.reader = body.Call("getReader")
	return nil
}

// fromOrigin returns the next chunk of the origin's body that falls inside
// the range.
func (st *stream) fromOrigin() (js.Value, error) {
	for {
		res, err := jsutil.AwaitDone(st.reader.Call("read"), st.done)
		if err != nil {
			return js.Undefined(), err
		}
		if res.Get("done").Truthy() {
			return js.Undefined(), errors.New("p2p-sw: the origin's body ended early")
		}
		chunk := res.Get("value")
		n := int64(chunk.Get("byteLength").Int())
		if st.skip > 0 {
			if n <= st.skip {
				st.skip -= n
				continue
			}
			chunk = chunk.Call("subarray", st.skip)
			n -= st.skip
			st.skip = 0
		}
		if n == 0 {
			continue
		}
		if rest := st.end - st.next; n > rest {
			chunk = chunk.Call("subarray", 0, rest)
		}
		return chunk, nil
	}
}

// cleanUp waits for the end of the stream, then cancels what is still
// asked of the page or the origin and releases the callbacks.
func (st *stream) cleanUp() {
	<-st.done
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cancelAsked()
	if !st.reader.IsUndefined() {
		// Settles at once; a rejection only says the body was done.
		st.reader.Call("cancel").Call("catch", js.Global().Get("Boolean"))
	}
	st.pullFn.Release()
	st.cancelFn.Release()
}
