// Package mediaurl reads media URLs the same way in the page's engine and in
// the service worker: the original URL a proxied URL stands for, and what a
// path names (both wasm programs import it: it uses nothing but strings, to
// keep the service worker small).
package mediaurl

import "strings"

// The media types of the manifests the engine reads.
const (
	TypeHLS  = "application/vnd.apple.mpegurl"
	TypeDASH = "application/dash+xml"
)

// ManifestType returns the media type of the manifest at the URL u (an HLS
// playlist: a path ending in .m3u8; a DASH MPD: .mpd; any case), or ""
// when its path names no manifest.
func ManifestType(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	n := len(u)
	switch {
	case n >= 5 && strings.EqualFold(u[n-5:], ".m3u8"):
		return TypeHLS
	case n >= 4 && strings.EqualFold(u[n-4:], ".mpd"):
		return TypeDASH
	}
	return ""
}

// Marker is what the path of a proxied URL contains before the original
// scheme (docs/browser-runtime.md, "Proxied URLs").
const Marker = "/__p2pmedia__/"

// Proxied returns the proxied form of the absolute URL abs under proxyBase
// (docs/browser-runtime.md, "Proxied URLs"): proxyBase + scheme + "/" +
// host[:port] + path + query, the fragment dropped. A URL that cannot be
// proxied (not http(s), no host, userinfo) is returned as it is: the
// player then fetches it from the origin.
func Proxied(proxyBase, abs string) string {
	scheme, rest, ok := strings.Cut(abs, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return abs
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	host, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		host, tail = rest[:i], rest[i:]
	}
	if host == "" || host == "." || host == ".." || strings.ContainsAny(host, `@\%`) {
		return abs // a dot or escaped host would read as a dot segment of the proxied path
	}
	if !strings.HasPrefix(tail, "/") {
		tail = "/" + tail
	}
	return proxyBase + scheme + "/" + host + tail
}

// Original returns the URL that the proxied URL u stands for, and false
// when u is not a proxied URL. In
//
//	https://site.example/app/__p2pmedia__/https/cdn.example.com:8443/v/a.mp4?x=1
//
// the first "/__p2pmedia__/" of the path is followed by the original scheme
// (http or https), host with optional port, path and query, which make
// https://cdn.example.com:8443/v/a.mp4?x=1. A fragment is dropped, as a
// request never carries one to a server. The host may not hold userinfo.
func Original(u string) (string, bool) {
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
	m := strings.Index(path, Marker)
	if m < 0 {
		return "", false
	}
	scheme, tail, ok := strings.Cut(path[m+len(Marker):], "/")
	if !ok || (scheme != "http" && scheme != "https") {
		return "", false
	}
	host, p, _ := strings.Cut(tail, "/")
	if host == "" || strings.ContainsAny(host, `@\`) {
		return "", false
	}
	return scheme + "://" + host + "/" + p + query, true
}

// ProxyBase returns the part of the proxied URL u up to and including
// the first "/__p2pmedia__/" of its path: what the page prepends to
// "<scheme>/<host>/<path>?<query>" to proxy a URL a manifest names.
func ProxyBase(u string) (string, bool) {
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
	m := strings.Index(path, Marker)
	if m < 0 {
		return "", false
	}
	return u[:i+len("://")+j+m+len(Marker)], true
}

// MaxManifestOrigins bounds the origins one rewritten manifest registers
// with the service worker (docs/browser-runtime.md, "What the service
// worker serves").
const MaxManifestOrigins = 64

// Origin returns the origin (scheme://host[:port]) of the absolute http(s)
// URL abs, or "" when abs is not one.
func Origin(abs string) string {
	scheme, rest, ok := strings.Cut(abs, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return ""
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if host == "" {
		return ""
	}
	return scheme + "://" + host
}
