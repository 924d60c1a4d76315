//go:build js && wasm

package main

import "strings"

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
