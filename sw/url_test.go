//go:build js && wasm

package main

import "testing"

func TestContentType(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://cdn/v/a.mp4", "video/mp4"},
		{"https://cdn/v/A.MP4?x=1.ts", "video/mp4"},
		{"https://cdn/v/seg-1.m4s", "video/iso.segment"},
		{"https://cdn/a.mp3", "audio/mpeg"},
		{"https://cdn/a.m4a", "audio/mp4"},
		{"https://cdn/a.aac", "audio/aac"},
		{"https://cdn/a.webm", "video/webm"},
		{"https://cdn/a.ts", "video/mp2t"},
		{"https://cdn/live/index.m3u8", "application/vnd.apple.mpegurl"},
		{"https://cdn/manifest.mpd#frag", "application/dash+xml"},
		{"https://cdn/v.d/file", "application/octet-stream"},
		{"https://cdn/file.bin", "application/octet-stream"},
		{"https://cdn/", "application/octet-stream"},
	}
	for _, tt := range tests {
		if got := contentType(tt.url); got != tt.want {
			t.Errorf("contentType(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestIfRangeHolds(t *testing.T) {
	m := meta{etag: `"v1"`, lastModified: "Mon, 02 Jan 2006 15:04:05 GMT"}
	tests := []struct {
		ifRange string
		want    bool
	}{
		{"", true},
		{`"v1"`, true},
		{`"v2"`, false},
		{`W/"v1"`, false},
		{"Mon, 02 Jan 2006 15:04:05 GMT", true},
		{"Tue, 03 Jan 2006 15:04:05 GMT", false},
	}
	for _, tt := range tests {
		if got := ifRangeHolds(tt.ifRange, m); got != tt.want {
			t.Errorf("ifRangeHolds(%q) = %v, want %v", tt.ifRange, got, tt.want)
		}
	}
}
