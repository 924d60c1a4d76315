package mediaurl

import "testing"

func TestManifestType(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://cdn.example.com/v/master.m3u8", TypeHLS},
		{"https://cdn.example.com/v/MASTER.M3U8?token=1#t=3", TypeHLS},
		{"https://cdn.example.com/v/manifest.mpd", TypeDASH},
		{"https://cdn.example.com/v/a.Mpd?x=.m3u8", TypeDASH},
		{"https://cdn.example.com/v/seg.ts", ""},
		{"https://cdn.example.com/v/a.mp4?f=x.mpd", ""},
		{"https://cdn.example.com/v/m3u8", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ManifestType(tt.url); got != tt.want {
			t.Errorf("ManifestType(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestIsManifestType(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"https://cdn/live/index.m3u8", true},
		{"https://cdn/live/INDEX.M3U8?token=1", true},
		{"https://cdn/d/stream.mpd", true},
		{"https://cdn/d/stream.Mpd#x", true},
		{"https://cdn/d/stream.mpd/seg.m4s", false},
		{"https://cdn/a.ts?list=x.m3u8", false},
		{"https://cdn/m3u8", false},
		{"https://cdn/a.mp4", false},
		{"https://cdn/", false},
	}
	for _, tt := range tests {
		if got := ManifestType(tt.url) != ""; got != tt.want {
			t.Errorf("ManifestType(%q) != \"\" = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestOriginal(t *testing.T) {
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
		{"http://127.0.0.1:8080/app/__p2pmedia__/http/10.0.0.1:9000/a.mp3", "http://10.0.0.1:9000/a.mp3", true},
		{"blob:https://site.example/123", "", false},
		{"", "", false},
		{"no scheme", "", false},
	}
	for _, tt := range tests {
		got, ok := Original(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Original(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestProxyBase(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://site.example/app/__p2pmedia__/https/cdn/v/a.m3u8?x=1", "https://site.example/app/__p2pmedia__/", true},
		{"http://127.0.0.1:8080/__p2pmedia__/http/h/a.mpd", "http://127.0.0.1:8080/__p2pmedia__/", true},
		{"https://s/x/__p2pmedia__/https/cdn/y/__p2pmedia__/http/z", "https://s/x/__p2pmedia__/", true},
		{"https://s/a.m3u8?u=/__p2pmedia__/https/cdn/a.m3u8", "", false},
		{"https://s?x=/__p2pmedia__/", "", false},
		{"no scheme", "", false},
	}
	for _, tt := range tests {
		got, ok := ProxyBase(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ProxyBase(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
