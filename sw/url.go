//go:build js && wasm

package main

import (
	"strings"

	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
)

// marker is what the path of a proxied URL contains before the original
// scheme (docs/browser-runtime.md, "Proxied URLs").
const marker = "/__p2pmedia__/"

// originalURL returns the URL that the proxied URL u stands for, and false
// when u is not a proxied URL. In
//
//	https://site.example/app/__p2pmedia__/https/cdn.example.com:8443/v/a.mp4?x=1
//
// the first "/__p2pmedia__/" of the path is followed by the original scheme
// (http or https), host with optional port, path and query, which make
// https://cdn.example.com:8443/v/a.mp4?x=1. A fragment is dropped, as a
// request never carries one to a server. The host may not hold userinfo.
func originalURL(u string) (string, bool) {
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u = u[:i]
	}
	i := strings.Index(u, "://")
	if i < 0 {
		return "", false
	}
	rest := u[i+len("://"):]
	j := strings.IndexAny(rest, "/?")
	if j < 0 || rest[j] != '/' {
		return "", false
	}
	path, query := rest[j:], ""
	if k := strings.IndexByte(path, '?'); k >= 0 {
		path, query = path[:k], path[k:]
	}
	m := strings.Index(path, marker)
	if m < 0 {
		return "", false
	}
	scheme, tail, ok := strings.Cut(path[m+len(marker):], "/")
	if !ok || (scheme != "http" && scheme != "https") {
		return "", false
	}
	host, p, _ := strings.Cut(tail, "/")
	if host == "" || strings.ContainsAny(host, `@\`) {
		return "", false
	}
	return scheme + "://" + host + "/" + p + query, true
}

// proxyBase returns the part of the proxied URL u up to and including
// the first "/__p2pmedia__/" of its path: what the page prepends to
// "<scheme>/<host>/<path>?<query>" to proxy a URL a manifest names.
func proxyBase(u string) (string, bool) {
	i := strings.Index(u, "://")
	if i < 0 {
		return "", false
	}
	rest := u[i+len("://"):]
	j := strings.IndexAny(rest, "/?#")
	if j < 0 || rest[j] != '/' {
		return "", false
	}
	path := rest[j:]
	if k := strings.IndexAny(path, "?#"); k >= 0 {
		path = path[:k]
	}
	m := strings.Index(path, marker)
	if m < 0 {
		return "", false
	}
	return u[:i+len("://")+j+m+len(marker)], true
}

// isManifest reports whether the original URL u names an HLS playlist or a
// DASH MPD: its path ends with .m3u8 or .mpd, in any case.
func isManifest(u string) bool {
	return mediaurl.ManifestType(u) != ""
}

// contentType guesses the media type of the resource at the URL u from the
// extension of its last path segment.
func contentType(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	name := u[strings.LastIndexByte(u, '/')+1:]
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return "application/octet-stream"
	}
	switch strings.ToLower(name[dot+1:]) {
	case "mp4", "m4v":
		return "video/mp4"
	case "m4s":
		return "video/iso.segment"
	case "m4a":
		return "audio/mp4"
	case "mp3":
		return "audio/mpeg"
	case "aac":
		return "audio/aac"
	case "webm":
		return "video/webm"
	case "ts":
		return "video/mp2t"
	case "m3u8":
		return "application/vnd.apple.mpegurl"
	case "mpd":
		return "application/dash+xml"
	}
	return "application/octet-stream"
}
