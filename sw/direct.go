//go:build js && wasm

package main

import (
	"strconv"
	"syscall/js"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
)

// direct answers a request whose first bytes the page handed to the
// service worker (meta.directFrom: no peer can give them) with the origin's
// own response, which the player reads natively, without a JavaScript
// stream in between: that is what makes a lone viewer start as fast as
// plain HTTP. A copy of the body goes to the page (op "write"), whose
// engine stores it for the peers that come later. The response ends at
// meta.directEnd, which may be short of the range asked for only when
// short is set (a media element's Range request: it asks again for the
// rest). It returns ok=false, after giving the bytes back to the page, when
// the origin's answer does not fit what the page knows; the request is
// then served the usual way.
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
	init := object()
	init.Set("referrer", req.Get("referrer"))
	init.Set("referrerPolicy", req.Get("referrerPolicy"))
	if status == 206 {
		h := object()
		h.Set("range", byterange.Header(span))
		init.Set("headers", h)
	}
	resp, err := await(js.Global().Call("fetch", url, init))
	if err != nil || !originFits(resp, status, span, m) {
		p.release(url, span)
		return js.Undefined(), false
	}
	copied := resp.Call("clone").Get("body")
	go p.copyBody(url, span.Start, copied)
	return resp, true
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
		res, err := awaitDone(reader.Call("read"), p.closed)
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
