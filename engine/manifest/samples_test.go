package manifest

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestSampleHLSMaster(t *testing.T) {
	m, err := ParseAt(readSample(t, "hls/master.m3u8"), cdn+"hls/master.m3u8", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != HLSMaster || m.Live || len(m.Segments) != 0 {
		t.Fatalf("kind %v live %v segments %d", m.Kind, m.Live, len(m.Segments))
	}
	want := []Rendition{
		{ID: "variant:0", URL: cdn + "hls/360p/index.m3u8", Type: "video", Bandwidth: 875600, Codecs: "avc1.4d401e,mp4a.40.2", Width: 640, Height: 360, Channel: "cdn.example.com/media/hls/360p/index.m3u8"},
		{ID: "variant:1", URL: cdn + "hls/240p/index.m3u8", Type: "video", Bandwidth: 545600, Codecs: "avc1.4d4015,mp4a.40.2", Width: 426, Height: 240, Channel: "cdn.example.com/media/hls/240p/index.m3u8"},
		{ID: "variant:2", URL: cdn + "hls/144p/index.m3u8", Type: "video", Bandwidth: 325600, Codecs: "avc1.4d400c,mp4a.40.2", Width: 256, Height: 144, Channel: "cdn.example.com/media/hls/144p/index.m3u8"},
		{ID: "audio:group_aud:audio_3", URL: cdn + "hls/audio/index.m3u8", Type: "audio", Channel: "cdn.example.com/media/hls/audio/index.m3u8"},
	}
	if len(m.Renditions) != len(want) {
		t.Fatalf("renditions: got %+v", m.Renditions)
	}
	for i, r := range m.Renditions {
		if r != want[i] {
			t.Errorf("rendition %d:\n got %+v\nwant %+v", i, r, want[i])
		}
		if _, err := os.Stat(localPath(t, r.URL)); err != nil {
			t.Errorf("rendition %d playlist: %v", i, err)
		}
	}
}

func TestSampleHLSMedia(t *testing.T) {
	// The audio rendition alternates 4.010667 s and 3.989333 s; video is 4 s.
	audio := []float64{4.010667, 3.989333}
	for _, tc := range []struct {
		rendition string
		durations []float64
	}{
		{"360p", []float64{4}},
		{"240p", []float64{4}},
		{"144p", []float64{4}},
		{"audio", audio},
	} {
		t.Run(tc.rendition, func(t *testing.T) {
			u := cdn + "hls/" + tc.rendition + "/index.m3u8"
			m, err := ParseAt(readSample(t, "hls/"+tc.rendition+"/index.m3u8"), u, fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != HLSMedia || m.Live || m.TargetDuration != 4*time.Second {
				t.Fatalf("kind %v live %v target %v", m.Kind, m.Live, m.TargetDuration)
			}
			if len(m.Segments) != 10 {
				t.Fatalf("%d segments", len(m.Segments))
			}
			var start time.Duration
			for i, s := range m.Segments {
				d := sec(tc.durations[i%len(tc.durations)])
				want := Segment{
					URL:     cdn + "hls/" + tc.rendition + "/seg_00" + strconv.Itoa(i) + ".ts",
					Channel: "cdn.example.com/media/hls/" + tc.rendition + "/index.m3u8",
					Name:    strconv.Itoa(i), Start: start, Duration: d,
				}
				if s != want {
					t.Errorf("segment %d:\n got %+v\nwant %+v", i, s, want)
				}
				if _, err := os.Stat(localPath(t, s.URL)); err != nil {
					t.Error(err)
				}
				if got, ok := m.Lookup(s.URL, nil); !ok || got != s {
					t.Errorf("Lookup(%s) = %+v, %v", s.URL, got, ok)
				}
				start += d
			}
			if start != 40*time.Second {
				t.Errorf("total duration %v", start)
			}
		})
	}
}

func TestSampleHLSByteRange(t *testing.T) {
	m, err := ParseAt(readSample(t, "hls-byterange/index.m3u8"), cdn+"hls-byterange/index.m3u8", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(localPath(t, cdn+"hls-byterange/index.ts"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) != 10 {
		t.Fatalf("%d segments", len(m.Segments))
	}
	var next int64
	for i, s := range m.Segments {
		if s.URL != cdn+"hls-byterange/index.ts" || s.Name != strconv.Itoa(i) || s.Start != time.Duration(i)*4*time.Second || s.Duration != 4*time.Second {
			t.Errorf("segment %d: %+v", i, s)
		}
		if s.Range == nil || s.Range.Start != next || s.Range.Len() <= 0 {
			t.Fatalf("segment %d range %v, want a range starting at %d", i, s.Range, next)
		}
		next = s.Range.End
		// The request hls.js makes for it.
		if got, ok := m.Lookup(s.URL, &ByteRange{s.Range.Start, s.Range.End}); !ok || got.Name != s.Name {
			t.Errorf("Lookup(%v) = %+v, %v", s.Range, got, ok)
		}
	}
	if next != fi.Size() {
		t.Errorf("ranges end at %d, file is %d bytes", next, fi.Size())
	}
	if _, ok := m.Lookup(cdn+"hls-byterange/index.ts", nil); ok {
		t.Error("the whole file is not a segment")
	}
}

func TestSampleDASH(t *testing.T) {
	m, err := ParseAt(readSample(t, "dash/manifest.mpd"), cdn+"dash/manifest.mpd", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != DASH || m.Live || m.TargetDuration != 4*time.Second {
		t.Fatalf("kind %v live %v target %v", m.Kind, m.Live, m.TargetDuration)
	}
	wantR := []Rendition{
		{ID: "0", Type: "video", Bandwidth: 700000, Codecs: "avc1.4d401e", Width: 640, Height: 360, Channel: "cdn.example.com/media/dash/manifest.mpd#0"},
		{ID: "1", Type: "video", Bandwidth: 400000, Codecs: "avc1.4d4015", Width: 426, Height: 240, Channel: "cdn.example.com/media/dash/manifest.mpd#1"},
		{ID: "2", Type: "video", Bandwidth: 200000, Codecs: "avc1.4d400c", Width: 256, Height: 144, Channel: "cdn.example.com/media/dash/manifest.mpd#2"},
		{ID: "3", Type: "audio", Bandwidth: 96000, Codecs: "mp4a.40.2", Channel: "cdn.example.com/media/dash/manifest.mpd#3"},
	}
	if len(m.Renditions) != len(wantR) {
		t.Fatalf("renditions %+v", m.Renditions)
	}
	for i := range wantR {
		if m.Renditions[i] != wantR[i] {
			t.Errorf("rendition %d:\n got %+v\nwant %+v", i, m.Renditions[i], wantR[i])
		}
	}
	// 3 video Representations: init + 10 segments of 51200/12800 s; audio:
	// init + 11 segments from its SegmentTimeline (48 kHz).
	audioD := []int64{188416, 192512, 191488, 192512, 191488, 192512, 191488, 192512, 191488, 192512, 2048}
	var want []Segment
	for rep := 0; rep < 4; rep++ {
		ch := "cdn.example.com/media/dash/manifest.mpd#" + strconv.Itoa(rep)
		want = append(want, Segment{URL: cdn + "dash/init-" + strconv.Itoa(rep) + ".m4s", Channel: ch, Name: "init", Init: true})
		var t0 int64
		n := 10
		if rep == 3 {
			n = 11
		}
		for k := 1; k <= n; k++ {
			var start, d time.Duration
			if rep < 3 {
				start, d = time.Duration(k-1)*4*time.Second, 4*time.Second
			} else {
				start, _ = unitsToDuration(t0, 48000)
				d, _ = unitsToDuration(audioD[k-1], 48000)
				t0 += audioD[k-1]
			}
			want = append(want, Segment{
				URL:     cdn + "dash/chunk-" + strconv.Itoa(rep) + "-000" + pad2(k) + ".m4s",
				Channel: ch, Name: strconv.Itoa(k), Start: start, Duration: d,
			})
		}
	}
	if len(m.Segments) != len(want) {
		t.Fatalf("%d segments, want %d", len(m.Segments), len(want))
	}
	for i, s := range m.Segments {
		if s != want[i] {
			t.Errorf("segment %d:\n got %+v\nwant %+v", i, s, want[i])
		}
		if _, err := os.Stat(localPath(t, s.URL)); err != nil {
			t.Error(err)
		}
		if got, ok := m.Lookup(s.URL, nil); !ok || got != s {
			t.Errorf("Lookup(%s) = %+v, %v", s.URL, got, ok)
		}
	}
	// The audio timeline holds 1024 samples less than 40 s (README).
	last := m.Segments[len(m.Segments)-1]
	if end, want := last.Start+last.Duration, 40*time.Second-sec(1024.0/48000); end < want-time.Microsecond || end > want+time.Microsecond {
		t.Errorf("audio ends at %v, want %v", end, want)
	}
}

func pad2(k int) string {
	if k < 10 {
		return "0" + strconv.Itoa(k)
	}
	return strconv.Itoa(k)
}

// TestSampleRewriteUnchanged: the samples use relative URIs only, which
// stay as they are, so Rewrite returns them byte for byte.
func TestSampleRewriteUnchanged(t *testing.T) {
	for _, f := range []string{"hls/master.m3u8", "hls/360p/index.m3u8", "hls/audio/index.m3u8", "hls-byterange/master.m3u8", "hls-byterange/index.m3u8", "dash/manifest.mpd"} {
		text := readSample(t, f)
		got, err := Rewrite(text, cdn+f, testProxy)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if string(got) != string(text) {
			t.Errorf("%s changed:\n%s", f, got)
		}
	}
}
