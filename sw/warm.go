//go:build js && wasm

package main

import (
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
)

// warmUp runs the steps by which the worker answers a media request once,
// on made-up values, while it waits for its first real one. The browser
// compiles a wasm function when it is first called: the first media request
// of a worker used to pay for about 110 such compilations (the Range and
// Content-Range parsers, the checks of the origin's answer, the runtime's
// timers), 20 to 50 ms on a loaded 2-core machine, half before the origin
// fetch and half before the response went to the player. The reading of a
// lease, which comes just before the player's first request, runs too.
// Nothing leaves the worker: the Request and Response are constructed,
// never fetched, and no port or lease is touched. It reports whether every step ran: made-up
// values that a step refused would leave the steps after it cold.
func warmUp() bool {
	const orig = "https://warm-up.invalid/media/v.mp4"
	url, ok := mediaurl.Original(mediaurl.Proxied("https://warm-up.invalid/app/__p2pmedia__/", orig))
	if !ok || mediaurl.ManifestType(url) != "" {
		return false
	}
	msg := object()
	msg.Set("op", "lease")
	msg.Set("url", url)
	msg.Set("size", 4<<20)
	msg.Set("pieceLength", 256<<10)
	msg.Set("etag", `"warm-up"`)
	msg.Set("lastModified", "Thu, 01 Jan 2026 00:00:00 GMT")
	msg.Set("maxDirect", 1<<20)
	_, l, ok := parseLease(msg)
	if !ok {
		return false
	}
	m := l.meta
	h := object()
	h.Set("range", "bytes=0-")
	h.Set("if-range", m.etag)
	init := object()
	init.Set("headers", h)
	req := js.Global().Get("Request").New(url, init)
	if fromMediaElement(req) || !ifRangeHolds(header(req, "if-range"), m) {
		return false
	}
	r, err := byterange.ParseRange(header(req, "range"), m.size)
	if err != nil {
		return false
	}
	span := l.span(r)
	_ = byterange.Header(span)
	_ = readTimeouts()

	rh := object()
	rh.Set("content-range", byterange.ContentRange(span, m.size))
	rh.Set("content-length", span.Len())
	rh.Set("etag", m.etag)
	rh.Set("cache-control", "public, max-age=60")
	rinit := object()
	rinit.Set("status", 206)
	rinit.Set("headers", rh)
	resp := js.Global().Get("Response").New("", rinit)
	fits := originFits(resp, 206, span, m) && keptByCache(resp)
	t := time.NewTimer(time.Hour)
	t.Reset(time.Minute)
	t.Stop()
	time.AfterFunc(time.Hour, func() {}).Stop()
	if ctor := js.Global().Get("AbortController"); ctor.Type() == js.TypeFunction {
		_ = ctor.New().Get("signal")
	}
	return fits
}
