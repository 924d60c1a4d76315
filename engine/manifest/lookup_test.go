package manifest

import "testing"

func TestLookup(t *testing.T) {
	text := "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"media.mp4\",BYTERANGE=\"100@0\"\n" +
		"#EXTINF:4,\n#EXT-X-BYTERANGE:1000@100\nmedia.mp4\n" +
		"#EXTINF:4,\n#EXT-X-BYTERANGE:1000\nmedia.mp4\n" +
		"#EXTINF:4,\nwhole.ts?v=2\n#EXT-X-ENDLIST\n"
	m := mustParse(t, text, "https://cdn.example.com/a/index.m3u8")
	const media = "https://cdn.example.com/a/media.mp4"
	for _, tc := range []struct {
		name string
		url  string
		r    *ByteRange
		want string // segment name, "" for no match
	}{
		{"init by its exact range", media, &ByteRange{0, 100}, "init"},
		{"segment by its exact range", media, &ByteRange{100, 1100}, "0"},
		{"continued range", media, &ByteRange{1100, 2100}, "1"},
		{"part of a segment's range", media, &ByteRange{1500, 1600}, "1"},
		{"range across two segments", media, &ByteRange{1000, 1200}, ""},
		{"range past the end", media, &ByteRange{2000, 3000}, ""},
		{"whole file of ranged segments", media, nil, ""},
		{"whole segment", "https://cdn.example.com/a/whole.ts?v=2", nil, "2"},
		{"part of a whole segment", "https://cdn.example.com/a/whole.ts?v=2", &ByteRange{10, 20}, "2"},
		{"other query is another URL", "https://cdn.example.com/a/whole.ts?v=3", nil, ""},
		{"host case, default port and fragment do not matter", "https://CDN.example.com:443/a/whole.ts?v=2#t=1", nil, "2"},
		{"unknown URL", "https://cdn.example.com/a/other.ts", nil, ""},
		{"empty range", "https://cdn.example.com/a/whole.ts?v=2", &ByteRange{5, 5}, ""},
		{"negative range", media, &ByteRange{-1, 50}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := m.Lookup(tc.url, tc.r)
			if ok != (tc.want != "") || ok && got.Name != tc.want {
				t.Fatalf("Lookup = %q, %v; want %q", got.Name, ok, tc.want)
			}
		})
		// A hand-built Manifest (no index) answers the same.
		t.Run(tc.name+" without index", func(t *testing.T) {
			hand := &Manifest{Segments: m.Segments}
			got, ok := hand.Lookup(tc.url, tc.r)
			if ok != (tc.want != "") || ok && got.Name != tc.want {
				t.Fatalf("Lookup = %q, %v; want %q", got.Name, ok, tc.want)
			}
		})
	}
}
