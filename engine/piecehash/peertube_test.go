package piecehash

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// peerTubeVOD is a list as PeerTube's server writes it for a VOD video
// (updateSha256VODSegments: one object of inclusive byte ranges a
// resolution's fragmented MP4) with a live-style whole-file entry beside.
func peerTubeVOD(data []byte) string {
	h := func(b []byte) string { return Hash(sha256.Sum256(b)).String() }
	return fmt.Sprintf(`{"f-720-fragmented.mp4":{"0-1399":"%s","1400-2999":"%s"},"1-000001.ts":"%s"}`,
		h(data[0:1400]), h(data[1400:3000]), h(data))
}

func TestPeerTube(t *testing.T) {
	data := sample(3000)
	l, err := DecodePeerTube([]byte(peerTubeVOD(data)))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	for file, want := range map[string]bool{"f-720-fragmented.mp4": true, "1-000001.ts": true, "nope.ts": false, "": false} {
		if got := l.Contains(file); got != want {
			t.Errorf("Contains(%q) = %t, want %t", file, got, want)
		}
	}
	if err := l.Verify("f-720-fragmented.mp4", 0, 1400, data[:1400]); err != nil {
		t.Error(err)
	}
	if err := l.Verify("f-720-fragmented.mp4", 1400, 3000, data[1400:]); err != nil {
		t.Error(err)
	}
	if err := l.Verify("1-000001.ts", 0, -1, data); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		name       string
		file       string
		start, end int64
		data       []byte
		want       error
	}{
		{"flipped", "1-000001.ts", 0, -1, append([]byte{1}, data[1:]...), ErrMismatch},
		{"short range", "f-720-fragmented.mp4", 0, 1400, data[:1399], ErrMismatch},
		{"other range", "f-720-fragmented.mp4", 0, 1399, data[:1399], ErrInvalid},
		{"range of a whole file", "1-000001.ts", 0, 3000, data, ErrInvalid},
		{"whole of a ranged file", "f-720-fragmented.mp4", 0, -1, data, ErrInvalid},
		{"unknown file", "nope.ts", 0, -1, data, ErrInvalid},
	} {
		if err := l.Verify(tc.file, tc.start, tc.end, tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPeerTubeErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"not object", `[]`, `want "{"`},
		{"truncated", `{"a.ts":"` + hx + `"`, "EOF"},
		{"trailing", `{"a.ts":"` + hx + `"} {}`, "data after"},
		{"trailing garbage", `{"a.ts":"` + hx + `"}x`, "data after"},
		{"bad hex", `{"a.ts":"` + strings.Repeat("g", 64) + `"}`, "not hex"},
		{"short hex", `{"a.ts":"abc"}`, "3 characters"},
		{"number", `{"a.ts":1}`, "want a hex string or an object"},
		{"null", `{"a.ts":null}`, "want a hex string or an object"},
		{"array", `{"a.ts":["` + hx + `"]}`, "want a hex string or an object"},
		{"empty name", `{"":"` + hx + `"}`, "file name"},
		{"slash", `{"a/b.ts":"` + hx + `"}`, "'/'"},
		{"dotdot", `{"..":"` + hx + `"}`, "file name"},
		{"control", `{"a\u0000.ts":"` + hx + `"}`, "control"},
		{"duplicate", `{"a.ts":"` + hx + `","a.ts":"` + hx + `"}`, "appears twice"},
		{"range reversed", `{"a.mp4":{"10-9":"` + hx + `"}}`, `range "10-9"`},
		{"range open", `{"a.mp4":{"10-":"` + hx + `"}}`, `range "10-"`},
		{"range sign", `{"a.mp4":{"+1-9":"` + hx + `"}}`, `range "+1-9"`},
		{"range leading zero", `{"a.mp4":{"01-9":"` + hx + `"}}`, `range "01-9"`},
		{"range space", `{"a.mp4":{"1 - 9":"` + hx + `"}}`, `range "1 - 9"`},
		{"range huge", `{"a.mp4":{"0-9007199254740992":"` + hx + `"}}`, `range "0-9007199254740992"`},
		{"overlap", `{"a.mp4":{"0-9":"` + hx + `","9-20":"` + hx + `"}}`, "overlap"},
		{"same range", `{"a.mp4":{"0-9":"` + hx + `","0-9":"` + hx + `"}}`, "overlap"},
		{"range value null", `{"a.mp4":{"0-9":null}}`, "want a hex string"},
		{"range value number", `{"a.mp4":{"0-9":7}}`, "want a hex string"},
		{"range nested", `{"a.mp4":{"0-9":{}}}`, "want a hex string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePeerTube([]byte(tc.doc))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodePeerTube = %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

func TestPeerTubeBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range MaxPeerTubeFiles + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%d.ts":"%s"`, i, hx)
	}
	b.WriteString("}")
	if _, err := DecodePeerTube([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than 4096 files") {
		t.Errorf("DecodePeerTube(%d files) = %v", MaxPeerTubeFiles+1, err)
	}
	if _, err := DecodePeerTube(make([]byte, MaxPeerTubeDocumentSize+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("DecodePeerTube(oversized) = %v", err)
	}
}

func TestSegmentName(t *testing.T) {
	for in, want := range map[string]string{
		"https://peertube.example/static/streaming-playlists/hls/uuid/f-720-fragmented.mp4?token=1": "f-720-fragmented.mp4",
		"https://p.example/live/uuid/0-000042.ts":                                                   "0-000042.ts",
		"https://p.example/a%20b.ts":                                                                "a b.ts",
	} {
		got, err := SegmentName(in)
		if err != nil || got != want {
			t.Errorf("SegmentName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := SegmentName("https://p.example/"); err == nil {
		t.Error("SegmentName of a directory: no error")
	}
}

func FuzzDecodePeerTube(f *testing.F) {
	f.Add([]byte(peerTubeVOD(sample(3000))))
	f.Add([]byte(`{"a.ts":"` + hx + `"}`))
	f.Add([]byte(`{"a.mp4":{"0-9":"` + hx + `","10-19":"` + hx + `"}}`))
	f.Add([]byte(`{"a.mp4":{"0-9":"` + hx + `","9-19":"` + hx + `"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		l, err := DecodePeerTube(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for name, file := range l.files {
			if validFileName(name) != nil {
				t.Fatalf("accepted file name %q", name)
			}
			if file.whole != nil && file.ranges != nil {
				t.Fatalf("file %q holds both a whole hash and ranges", name)
			}
			for i, r := range file.ranges {
				if r.start < 0 || r.end <= r.start || (i > 0 && r.start < file.ranges[i-1].end) {
					t.Fatalf("file %q: bad range [%d, %d)", name, r.start, r.end)
				}
				if h, ok := l.Lookup(name, r.start, r.end); !ok || h != r.hash {
					t.Fatalf("file %q: Lookup of its own range [%d, %d) failed", name, r.start, r.end)
				}
			}
		}
	})
}
