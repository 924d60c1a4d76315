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
