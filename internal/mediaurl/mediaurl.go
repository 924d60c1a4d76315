// Package mediaurl tells from a media URL's path what it names, the same way
// in the page's engine and in the service worker (both wasm programs import
// it: it uses nothing but strings, to keep the service worker small).
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
