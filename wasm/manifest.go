//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/manifest"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

const (
	// manifestTimeout bounds loading one manifest from the origin. The
	// service worker gives up sooner (2 s) and fetches it itself; the page
	// finishes anyway, so that its segment map learns the segments.
	manifestTimeout = 10 * time.Second
	// maxLivePrefetch bounds the live segments opened ahead of the player at
	// once; maxLivePending bounds those waiting for their turn (more are
	// left to the player's own requests).
	maxLivePrefetch = 4
	maxLivePending  = 32
)

// codeManifest is the exception code of a manifest the page could not
// parse or rewrite (an origin that fails the request is engine.CodeHTTP).
const codeManifest = "MANIFEST_EXPT"

// manifestReply is what the manifest op answers.
type manifestReply struct {
	text        string
	contentType string
	redirect    string // the proxied URL the origin redirected to, if it did
	// hosts are the origins of the URLs the player gets proxied: the
	// service worker serves only registered origins.
	hosts []string
}

// origins collects the distinct origins of proxied URLs, at most
// mediaurl.MaxManifestOrigins of them.
type origins []string

func (o *origins) add(abs string) {
	if or := mediaurl.Origin(abs); or != "" && len(*o) < mediaurl.MaxManifestOrigins && !slices.Contains(*o, or) {
		*o = append(*o, or)
	}
}

// validProxyBase reports whether base is a proxy base a service worker
// sends: an absolute URL ending with the proxy marker.
func validProxyBase(base string) bool {
	return strings.HasSuffix(base, mediaurl.Marker) && (strings.HasPrefix(base, "http://") || strings.HasPrefix(base, "https://"))
}

// loadManifest answers the manifest op (docs/browser-runtime.md,
// "Manifests"): it fetches the manifest at url from the origin, records its
// segments in the segment map, opens the new segments of a live manifest
// ahead of the player, and returns the text rewritten so that the player
// fetches through proxyBase.
func (w *wasmEngine) loadManifest(ctx context.Context, url, proxyBase string) (manifestReply, error) {
	if !validProxyBase(proxyBase) {
		return manifestReply{}, fmt.Errorf("p2pmedia: manifest %s: bad proxyBase %q", url, proxyBase)
	}
	text, final, err := fetchText(ctx, url)
	if err != nil {
		if ctx.Err() == nil {
			w.exception(engine.CodeHTTP, err)
		}
		return manifestReply{}, err
	}
	if final != "" && final != url {
		// Relative URIs resolve against the URL the player asked for: let it
		// ask for the proxied form of the one the origin redirected to.
		if p := mediaurl.Proxied(proxyBase, final); p != final {
			return manifestReply{redirect: p, hosts: []string{mediaurl.Origin(final)}}, nil
		}
		return manifestReply{}, w.exception(codeManifest, fmt.Errorf("p2pmedia: manifest %s redirected to %s, which cannot be proxied", url, final))
	}
	m, err := manifest.Parse(text, url)
	if err != nil {
		return manifestReply{}, w.exception(codeManifest, fmt.Errorf("p2pmedia: manifest %s: %w", url, err))
	}
	var hosts origins
	out, err := manifest.Rewrite(text, url, func(abs string) string {
		p := mediaurl.Proxied(proxyBase, abs)
		if p != abs {
			hosts.add(abs)
		}
		return p
	})
	if err != nil {
		return manifestReply{}, w.exception(codeManifest, fmt.Errorf("p2pmedia: manifest %s: %w", url, err))
	}
	for _, s := range w.segs.record(m, time.Now()) {
		w.prefetchLive(s.URL)
	}
	w.joinRenditions(m)
	ct := mediaurl.TypeHLS
	if m.Kind == manifest.DASH {
		ct = mediaurl.TypeDASH
	}
	return manifestReply{text: string(out), contentType: ct, hosts: hosts}, nil
}

// maxEarlyJoins bounds the swarms one manifest makes the engine join.
const maxEarlyJoins = 8

// joinRenditions joins the swarms of the renditions a manifest lists, as
// soon as it is read: by the time the player asks for a first segment, the
// trackers have said whether other peers hold it, and connections to them
// are under way (the scheduler waits for them rather than fetch it over
// HTTP while a tracker may still answer). Subtitles are left out.
func (w *wasmEngine) joinRenditions(m *manifest.Manifest) {
	joined := make(map[string]bool)
	join := func(channel, url string, ref mediaRef) {
		if channel == "" || joined[channel] || len(joined) >= maxEarlyJoins {
			return
		}
		joined[channel] = true
		if _, _, _, err := w.mediaResource(url, ref); err != nil && !errors.Is(err, errLiveFile) {
			w.log.Debug("joining a rendition's swarm", "manifest", m.URL, "err", err)
		}
	}
	if m.Kind == manifest.HLSMaster {
		for _, r := range m.Renditions {
			if r.Type != "subtitles" {
				join(r.Channel, r.URL, mediaRef{kind: kindSegment, seg: manifest.Segment{Channel: r.Channel}, root: m.URL, rendition: r.ID})
			}
		}
	}
	for _, s := range m.Segments {
		if joined[s.Channel] {
			continue // one lookup per channel, not per segment
		}
		if ref := w.segs.lookup(s.URL); ref.kind != kindUnknown {
			join(s.Channel, s.URL, ref)
		}
	}
}

// prefetchLive opens a live segment ahead of the player, in the background
// and at most maxLivePrefetch at a time: the peer elected for it fetches it
// from the origin at once, for the swarm.
func (w *wasmEngine) prefetchLive(url string) {
	if w.livePending.Add(1) > maxLivePending {
		w.livePending.Add(-1)
		return
	}
	go func() {
		defer w.livePending.Add(-1)
		select {
		case w.livePrefetch <- struct{}{}:
		case <-w.ctx.Done():
			return
		}
		defer func() { <-w.livePrefetch }()
		if _, _, err := w.resource(w.ctx, url); err != nil && !errors.Is(err, errDestroyed) {
			w.log.Debug("opening a live segment ahead of the player", "url", url, "err", err)
		}
	}()
}

// fetchText fetches url with GET from the origin, bypassing the HTTP cache
// (a live playlist changes every few seconds), and returns its body and the
// URL the response came from after redirects ("" when unknown).
func fetchText(ctx context.Context, url string) ([]byte, string, error) {
	ctrl := js.Global().Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { _, _ = jsutil.Call(ctrl, "abort") })
	defer stop()
	init := map[string]any{
		"method":      "GET",
		"mode":        "cors",
		"credentials": "same-origin",
		"cache":       "no-store",
		"signal":      ctrl.Get("signal"),
	}
	fail := func(err error) ([]byte, string, error) {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, "", fmt.Errorf("p2pmedia: fetching manifest %s: %w", url, err)
	}
	p, err := jsutil.Call(js.Global(), "fetch", url, init)
	if err == nil {
		p, err = jsutil.Await(ctx, p)
	}
	if err != nil {
		return fail(err)
	}
	resp := p
	if code := jsutil.Number(resp, "status", 0); code < 200 || code > 299 {
		_, _ = jsutil.Call(ctrl, "abort")
		return fail(errors.New("status " + strconv.Itoa(int(code))))
	}
	if v, err := jsutil.Call(resp.Get("headers"), "get", "Content-Length"); err == nil && v.Type() == js.TypeString {
		if n, err := strconv.ParseInt(strings.TrimSpace(v.String()), 10, 64); err == nil && n > manifest.MaxSize {
			_, _ = jsutil.Call(ctrl, "abort")
			return fail(fmt.Errorf("%d bytes, more than %d", n, manifest.MaxSize))
		}
	}
	p, err = jsutil.Call(resp, "arrayBuffer")
	if err == nil {
		p, err = jsutil.Await(ctx, p)
	}
	if err != nil {
		return fail(err)
	}
	n := p.Get("byteLength").Int()
	if n > manifest.MaxSize {
		return fail(fmt.Errorf("%d bytes, more than %d", n, manifest.MaxSize))
	}
	buf := make([]byte, n)
	js.CopyBytesToGo(buf, js.Global().Get("Uint8Array").New(p))
	final := ""
	if jsutil.Bool(resp, "redirected", false) {
		final = jsutil.String(resp, "url", "")
	}
	return buf, final, nil
}
