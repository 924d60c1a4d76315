package manifest

import (
	"strings"
	"testing"
)

// BenchmarkParseHLS parses a VOD media playlist of 1000 segments.
func BenchmarkParseHLS(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	for i := 0; i < 1000; i++ {
		sb.WriteString("#EXTINF:4.000,\nseg_" + strings.Repeat("0", 3) + ".ts?token=abcdef\n")
	}
	sb.WriteString("#EXT-X-ENDLIST\n")
	text := []byte(sb.String())
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse(text, playlistURL); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDASH parses the sample MPD (4 Representations, 45 segments).
func BenchmarkParseDASH(b *testing.B) {
	text := readSample(b, "dash/manifest.mpd")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse(text, mpdURL); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRewriteHLS rewrites a media playlist of 1000 absolute URIs.
func BenchmarkRewriteHLS(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:4\n")
	for i := 0; i < 1000; i++ {
		sb.WriteString("#EXTINF:4.000,\nhttps://cdn2.example.com/v/seg.ts?token=abcdef\n")
	}
	text := []byte(sb.String())
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Rewrite(text, playlistURL, testProxy); err != nil {
			b.Fatal(err)
		}
	}
}
