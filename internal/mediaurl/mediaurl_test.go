package mediaurl

import (
	"encoding/json"
	"os"
	"testing"
)

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

// TestOriginal checks Original against testdata/original.json, the table
// that js/p2p-sw.js is tested against too (js/test/swurl.test.js): one rule
// for what a proxied URL stands for.
func TestOriginal(t *testing.T) {
	raw, err := os.ReadFile("testdata/original.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Cases []struct {
			URL      string  `json:"url"`
			Original *string `json:"original"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatalf("testdata/original.json: %v", err)
	}
	if len(table.Cases) < 10 {
		t.Fatalf("testdata/original.json holds %d cases", len(table.Cases))
	}
	for _, c := range table.Cases {
		want, wantOK := "", c.Original != nil
		if wantOK {
			want = *c.Original
		}
		if got, ok := Original(c.URL); got != want || ok != wantOK {
			t.Errorf("Original(%q) = %q, %v; want %q, %v", c.URL, got, ok, want, wantOK)
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
