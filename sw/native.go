//go:build js && wasm

package main

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"syscall/js"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
)

// Native HLS (docs/browser-runtime.md, "Manifests"): Chromium's own HLS
// player, behind <video src=proxied .m3u8>, refuses a response whose URL is
// empty ("Invalid security origin for non-existent URL"), which every
// Response the service worker makes up is. It takes the response of a
// fetch, and the service worker can fetch a data: URL: so the playlists and
// segments it serves that player are data: responses, whole bodies in
// base64. A data: response's URL is the base of the playlist's relative
// URIs, so the service worker makes them absolute first.

// maxDataURL is the longest URL that Chromium passes between processes
// (url::kMaxURLChars); a response whose data: URL is longer reaches the
// player without a URL.
const maxDataURL = 2 << 20

// maxNative bounds the URLs remembered as named by a native playlist.
const maxNative = 60000

// nativeSet remembers the proxied URLs that the playlists served to a media
// element named: a media element's request for one of them is its HLS
// player's, not a progressive download.
type nativeSet struct {
	mu    sync.Mutex
	urls  map[string]struct{}
	order []string // oldest first
}

// add records urls, dropping the oldest beyond maxNative.
func (n *nativeSet) add(urls ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.urls == nil {
		n.urls = make(map[string]struct{})
	}
	for _, u := range urls {
		u = noFragment(u)
		if _, ok := n.urls[u]; ok {
			continue
		}
		n.urls[u] = struct{}{}
		n.order = append(n.order, u)
	}
	for len(n.order) > maxNative {
		delete(n.urls, n.order[0])
		n.order = n.order[1:]
	}
}

// has reports whether a native playlist named u.
func (n *nativeSet) has(u string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.urls[noFragment(u)]
	return ok
}

func noFragment(u string) string {
	if i := strings.IndexByte(u, '#'); i >= 0 {
		return u[:i]
	}
	return u
}

// fromMediaElement reports whether req is a media element's own request.
func fromMediaElement(req js.Value) bool {
	d := jsutil.AsString(req.Get("destination"))
	return d == "video" || d == "audio"
}

// isHLS reports whether the original URL u names an HLS playlist.
func isHLS(u string) bool { return mediaurl.ManifestType(u) == mediaurl.TypeHLS }

// absolutize returns the playlist text with every relative URI (URI lines
// and URI="…" attributes) resolved against base, and the proxied URLs it
// names.
func absolutize(text, base string) (string, []string) {
	urlType := js.Global().Get("URL")
	var named []string
	resolve := func(ref string) string {
		t := strings.TrimSpace(ref)
		if t == "" {
			return ref
		}
		if !urlType.Call("canParse", t, base).Truthy() {
			return ref
		}
		abs := urlType.New(t, base).Get("href").String()
		if _, ok := mediaurl.Original(abs); ok {
			named = append(named, abs)
		}
		return strings.Replace(ref, t, abs, 1)
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		switch {
		case strings.TrimSpace(l) == "":
		case !strings.HasPrefix(l, "#"):
			lines[i] = resolve(l)
		case strings.HasPrefix(l, "#EXT"):
			lines[i] = resolveAttrs(l, resolve)
		}
	}
	return strings.Join(lines, "\n"), named
}

// resolveAttrs applies resolve to the values of the URI="…" attributes of
// the tag line l.
func resolveAttrs(l string, resolve func(string) string) string {
	const attr = `URI="`
	var b strings.Builder
	for {
		i := strings.Index(l, attr)
		if i < 0 {
			b.WriteString(l)
			return b.String()
		}
		b.WriteString(l[:i+len(attr)])
		start := i == 0 || l[i-1] == ':' || l[i-1] == ','
		l = l[i+len(attr):]
		j := strings.IndexByte(l, '"')
		if j < 0 {
			b.WriteString(l)
			return b.String()
		}
		if start { // not the end of a longer name such as XURI
			b.WriteString(resolve(l[:j]))
		} else {
			b.WriteString(l[:j])
		}
		l = l[j:]
	}
}

// isMultivariant reports whether the playlist text is a multivariant
// (master) playlist.
func isMultivariant(text string) bool {
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, "#EXT-X-STREAM-INF:") {
			return true
		}
	}
	return false
}

// dataPrefix returns the start of the data: URL of a body of type ct.
func dataPrefix(ct string) string {
	if ct == "" || strings.ContainsAny(ct, ",#% \"") {
		ct = "application/octet-stream"
	}
	return "data:" + ct + ";base64,"
}

// fitsDataURL reports whether a body of n bytes of type ct fits a data: URL
// that Chromium keeps.
func fitsDataURL(ct string, n int64) bool {
	return int64(len(dataPrefix(ct)))+base64Len(n) <= maxDataURL
}

func base64Len(n int64) int64 { return (n + 2) / 3 * 4 }

var errTooLong = errors.New("p2p-sw: body too long for a data: URL")

// dataResponse returns the response to a fetch of the data: URL holding
// body, of type ct: a response with a URL, which a native HLS player takes.
func dataResponse(ct string, body []byte) (js.Value, error) {
	if !fitsDataURL(ct, int64(len(body))) {
		return js.Undefined(), errTooLong
	}
	return jsutil.AwaitDone(js.Global().Call("fetch", dataPrefix(ct)+base64.StdEncoding.EncodeToString(body)), nil)
}

// nativePlaylist answers a media element's request at reqURL for the HLS
// playlist at orig, which the page rewrote into m. The root playlist of a
// media element (one no native playlist named) must be a multivariant
// playlist: Chromium's player refuses a media playlist whose own URL is a
// data: URL, so that one comes from the origin, without P2P.
func (s *server) nativePlaylist(reqURL, orig string, m manifestReply) (js.Value, error) {
	text, named := absolutize(m.text, reqURL)
	if !s.native.has(reqURL) && !isMultivariant(text) {
		return manifestFromOrigin(orig)
	}
	s.native.add(named...)
	r, err := dataResponse(m.contentType, []byte(text))
	if err != nil {
		return manifestFromOrigin(orig)
	}
	return r, nil
}

// nativeSegment answers a media element's request for a resource that a
// native playlist named: the whole resource, read from the page (and the
// origin where the page fails) into a data: response. A request for
// another range than the whole (a byte-range segment, a retry), or a
// resource too large for a data: URL, goes to the origin.
func (s *server) nativeSegment(orig, clientID, rangeHeader string) (js.Value, error) {
	if rangeHeader != "" && strings.ReplaceAll(rangeHeader, " ", "") != "bytes=0-" {
		return fromOrigin(orig, rangeHeader)
	}
	p := s.portFor(clientID)
	if p == nil {
		return fromOrigin(orig, rangeHeader)
	}
	to := readTimeouts()
	m, err := p.open(orig, to.open, nil)
	ct := contentType(orig)
	if err != nil || m.size <= 0 || !fitsDataURL(ct, m.size) {
		return fromOrigin(orig, rangeHeader)
	}
	body := newStream(p, orig, m, byterange.Range{Start: 0, End: m.size}, to.piece).body()
	buf, err := jsutil.AwaitDone(js.Global().Get("Response").New(body).Call("arrayBuffer"), nil)
	if err != nil || int64(buf.Get("byteLength").Int()) != m.size {
		return fromOrigin(orig, rangeHeader)
	}
	b := make([]byte, m.size)
	js.CopyBytesToGo(b, js.Global().Get("Uint8Array").New(buf))
	r, err := dataResponse(ct, b)
	if err != nil {
		return fromOrigin(orig, rangeHeader)
	}
	return r, nil
}
