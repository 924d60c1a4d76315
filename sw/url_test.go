//go:build js && wasm

package main

import "testing"

func TestOriginalURL(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"https://site.example/app/__p2pmedia__/https/cdn.example.com/v/a.mp4?x=1", "https://cdn.example.com/v/a.mp4?x=1", true},
		{"http://10.200.0.2:8080/__p2pmedia__/http/10.200.0.2:8080/media/a.mp4", "http://10.200.0.2:8080/media/a.mp4", true},
		{"https://s/__p2pmedia__/https/cdn:8443/a/b/c.m3u8", "https://cdn:8443/a/b/c.m3u8", true},
		{"https://s/__p2pmedia__/https/cdn", "https://cdn/", true},
		{"https://s/__p2pmedia__/https/cdn/", "https://cdn/", true},
		{"https://s/__p2pmedia__/https/cdn/a.mp4#t=10", "https://cdn/a.mp4", true},
		{"https://s/__p2pmedia__/https/[::1]:9000/a.ts?q=/x", "https://[::1]:9000/a.ts?q=/x", true},
		{"https://s/x/__p2pmedia__/https/cdn/y/__p2pmedia__/http/z", "https://cdn/y/__p2pmedia__/http/z", true},
		{"https://s/a.mp4", "", false},
		{"https://s/a?u=/__p2pmedia__/https/cdn/a.mp4", "", false},
		{"https://s/__p2pmedia__/ftp/cdn/a.mp4", "", false},
		{"https://s/__p2pmedia__/https", "", false},
		{"https://s/__p2pmedia__/https/", "", false},
		{"https://s/__p2pmedia__/https//a.mp4", "", false},
		{"https://s/__p2pmedia__/https/user@cdn/a.mp4", "", false},
		{"https://s/__p2pmedia__/HTTPS/cdn/a.mp4", "", false},
		{"https://s?x=/__p2pmedia__/https/cdn/a", "", false},
		{"no scheme", "", false},
	}
	for _, tt := range tests {
		got, ok := originalURL(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("originalURL(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

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
