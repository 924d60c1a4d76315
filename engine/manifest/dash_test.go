package manifest

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

const mpdURL = "https://cdn.example.com/vod/stream.mpd?sig=1"
const mpdChannel = "cdn.example.com/vod/stream.mpd"

func mpd(attrs, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" ` + attrs + `>` + body + `</MPD>`
}

func TestDASHEdgeCases(t *testing.T) {
	const d2 = 2 * time.Second
	for _, tc := range []struct {
		name string
		text string
		now  time.Time
		want []seg
		chs  []string // channel suffix of each segment ("" = all "#v")
	}{
		{
			name: "$Number%05d$ with @duration, startNumber, $Bandwidth$, $$, VOD count rounds up",
			text: mpd(`type="static" mediaPresentationDuration="PT5S"`, `<Period><AdaptationSet>
				<SegmentTemplate timescale="1000" duration="2000" startNumber="7" initialization="$RepresentationID$/init-$Bandwidth$.mp4" media="$RepresentationID$/s$Number%05d$-$$.m4s"/>
				<Representation id="v" bandwidth="500"/></AdaptationSet></Period>`),
			want: []seg{
				{"https://cdn.example.com/vod/v/init-500.mp4", "", "init", 0, 0, true},
				{"https://cdn.example.com/vod/v/s00007-$.m4s", "", "7", 0, d2, false},
				{"https://cdn.example.com/vod/v/s00008-$.m4s", "", "8", d2, d2, false},
				{"https://cdn.example.com/vod/v/s00009-$.m4s", "", "9", 2 * d2, d2, false},
			},
		},
		{
			name: "$Time$ with SegmentTimeline repeats, r=-1 to the next S@t and to the Period end, presentationTimeOffset",
			text: mpd(`type="static"`, `<Period start="PT10S" duration="PT12S"><AdaptationSet>
				<Representation id="v"><SegmentTemplate timescale="10" presentationTimeOffset="100" media="t$Time$.m4s">
				<SegmentTimeline><S t="100" d="20" r="1"/><S d="10" r="-1"/><S t="160" d="20" r="-1"/></SegmentTimeline>
				</SegmentTemplate></Representation></AdaptationSet></Period>`),
			want: []seg{
				{"https://cdn.example.com/vod/t100.m4s", "", "100", 10 * time.Second, d2, false},
				{"https://cdn.example.com/vod/t120.m4s", "", "120", 12 * time.Second, d2, false},
				{"https://cdn.example.com/vod/t140.m4s", "", "140", 14 * time.Second, time.Second, false},
				{"https://cdn.example.com/vod/t150.m4s", "", "150", 15 * time.Second, time.Second, false},
				{"https://cdn.example.com/vod/t160.m4s", "", "160", 16 * time.Second, d2, false},
				{"https://cdn.example.com/vod/t180.m4s", "", "180", 18 * time.Second, d2, false},
				{"https://cdn.example.com/vod/t200.m4s", "", "200", 20 * time.Second, d2, false},
			},
		},
		{
			name: "BaseURL chain over MPD, Period, AdaptationSet and Representation; absolute override",
			text: mpd(`type="static" mediaPresentationDuration="PT2S"`, `<BaseURL>https://edge.example.com/root/</BaseURL>
				<Period><BaseURL>p1/</BaseURL>
				<AdaptationSet><BaseURL> video/ </BaseURL>
				<SegmentTemplate duration="2" media="$RepresentationID$-$Number$.m4s" initialization="i.mp4"/>
				<Representation id="a"><BaseURL>hi/</BaseURL></Representation>
				<Representation id="b"><BaseURL>https://other.example.com/x/</BaseURL></Representation>
				<Representation id="c"><BaseURL>/abs/</BaseURL></Representation>
				</AdaptationSet></Period>`),
			want: []seg{
				{"https://edge.example.com/root/p1/video/hi/i.mp4", "", "init", 0, 0, true},
				{"https://edge.example.com/root/p1/video/hi/a-1.m4s", "", "1", 0, d2, false},
				{"https://other.example.com/x/i.mp4", "", "init", 0, 0, true},
				{"https://other.example.com/x/b-1.m4s", "", "1", 0, d2, false},
				{"https://edge.example.com/abs/i.mp4", "", "init", 0, 0, true},
				{"https://edge.example.com/abs/c-1.m4s", "", "1", 0, d2, false},
			},
			chs: []string{"#a", "#a", "#b", "#b", "#c", "#c"},
		},
		{
			name: "SegmentList with mediaRange and an Initialization range in one file",
			text: mpd(`type="static" mediaPresentationDuration="PT4S"`, `<Period><AdaptationSet><Representation id="v">
				<BaseURL>all.mp4</BaseURL>
				<SegmentList timescale="1000" duration="2000"><Initialization range="0-99"/>
				<SegmentURL mediaRange="100-599"/><SegmentURL mediaRange="600-999"/><SegmentURL media="extra.m4s"/>
				</SegmentList></Representation></AdaptationSet></Period>`),
			want: []seg{
				{"https://cdn.example.com/vod/all.mp4", "bytes=0-99", "init", 0, 0, true},
				{"https://cdn.example.com/vod/all.mp4", "bytes=100-599", "1", 0, d2, false},
				{"https://cdn.example.com/vod/all.mp4", "bytes=600-999", "2", d2, d2, false},
				{"https://cdn.example.com/vod/extra.m4s", "", "3", 2 * d2, d2, false},
			},
		},
		{
			name: "SegmentBase: the file is one resource; an Initialization of its own is a segment",
			text: mpd(`type="static" mediaPresentationDuration="PT30S"`, `<Period><AdaptationSet>
				<Representation id="v"><BaseURL>v.mp4</BaseURL><SegmentBase indexRange="800-1000"><Initialization range="0-799"/></SegmentBase></Representation>
				<Representation id="w"><BaseURL>w.mp4</BaseURL><SegmentBase indexRange="800-1000"><Initialization sourceURL="w-init.mp4"/></SegmentBase></Representation>
				<Representation id="t"><BaseURL>subs.vtt</BaseURL></Representation>
				</AdaptationSet></Period>`),
			want: []seg{
				{"https://cdn.example.com/vod/v.mp4", "", "file", 0, 30 * time.Second, false},
				{"https://cdn.example.com/vod/w-init.mp4", "", "init", 0, 0, true},
				{"https://cdn.example.com/vod/w.mp4", "", "file", 0, 30 * time.Second, false},
				{"https://cdn.example.com/vod/subs.vtt", "", "file", 0, 30 * time.Second, false},
			},
			chs: []string{"#v", "#w", "#w", "#t"},
		},
		{
			name: "several Periods: names carry the Period id; starts follow durations",
			text: mpd(`type="static" mediaPresentationDuration="PT6S"`, `
				<Period id="main" duration="PT4S"><AdaptationSet><Representation id="v"><SegmentTemplate duration="2" media="m$Number$.ts"/></Representation></AdaptationSet></Period>
				<Period id="ad"><AdaptationSet><Representation id="v"><SegmentTemplate duration="2" media="a$Number$.ts"/></Representation></AdaptationSet></Period>`),
			want: []seg{
				{"https://cdn.example.com/vod/m1.ts", "", "main/1", 0, d2, false},
				{"https://cdn.example.com/vod/m2.ts", "", "main/2", d2, d2, false},
				{"https://cdn.example.com/vod/a1.ts", "", "ad/1", 4 * time.Second, d2, false},
			},
		},
		{
			name: "dynamic, @duration: the window from availabilityStartTime and timeShiftBufferDepth",
			text: mpd(`type="dynamic" availabilityStartTime="2025-01-01T00:00:00Z" timeShiftBufferDepth="PT7S"`,
				`<Period start="PT0S"><AdaptationSet><Representation id="v"><SegmentTemplate duration="2" startNumber="0" media="l$Number$.ts"/></Representation></AdaptationSet></Period>`),
			// now = AST+21 s: segments ending at or before 21 s are out
			// (0..9, the last ending at 20 s); those ending at or after
			// 14 s stay (6..9).
			now: time.Date(2025, 1, 1, 0, 0, 21, 0, time.UTC),
			want: []seg{
				{"https://cdn.example.com/vod/l6.ts", "", "6", 12 * time.Second, d2, false},
				{"https://cdn.example.com/vod/l7.ts", "", "7", 14 * time.Second, d2, false},
				{"https://cdn.example.com/vod/l8.ts", "", "8", 16 * time.Second, d2, false},
				{"https://cdn.example.com/vod/l9.ts", "", "9", 18 * time.Second, d2, false},
			},
		},
		{
			name: "dynamic, SegmentTimeline with an open r=-1 up to now",
			text: mpd(`type="dynamic" availabilityStartTime="2025-01-01T00:00:00Z" timeShiftBufferDepth="PT5S"`,
				`<Period id="1" start="PT10S"><AdaptationSet><Representation id="v"><SegmentTemplate timescale="10" startNumber="1" media="$Number$.ts">
				<SegmentTimeline><S t="0" d="20" r="-1"/></SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period>`),
			// now = AST + 10 s (Period start) + 9 s: ended: [0,2) [2,4) [4,6) [6,8);
			// within 5 s of 9 s: those ending at or after 4 s.
			now: time.Date(2025, 1, 1, 0, 0, 19, 0, time.UTC),
			want: []seg{
				{"https://cdn.example.com/vod/2.ts", "", "2", 12 * time.Second, d2, false},
				{"https://cdn.example.com/vod/3.ts", "", "3", 14 * time.Second, d2, false},
				{"https://cdn.example.com/vod/4.ts", "", "4", 16 * time.Second, d2, false},
			},
		},
		{
			name: "dynamic before the Period starts: nothing yet",
			text: mpd(`type="dynamic" availabilityStartTime="2025-01-01T00:00:00Z"`,
				`<Period start="PT0S"><AdaptationSet><Representation id="v"><SegmentTemplate duration="2" media="l$Number$.ts"/></Representation></AdaptationSet></Period>`),
			now: time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = fixedNow
			}
			m, err := ParseAt([]byte(tc.text), mpdURL, now)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != DASH || m.Live != strings.Contains(tc.text, `"dynamic"`) {
				t.Errorf("kind %v live %v", m.Kind, m.Live)
			}
			checkSegs(t, m, tc.want)
			for i, s := range m.Segments {
				ch := mpdChannel + "#v"
				if tc.chs != nil {
					ch = mpdChannel + tc.chs[i]
				}
				if s.Channel != ch {
					t.Errorf("segment %d channel %q, want %q", i, s.Channel, ch)
				}
				if got, ok := m.Lookup(s.URL, s.Range); !ok || got.URL != s.URL {
					t.Errorf("Lookup(%s, %v) = %+v, %v", s.URL, s.Range, got, ok)
				}
			}
		})
	}
}

func TestDASHLiveWindowMoves(t *testing.T) {
	text := []byte(mpd(`type="dynamic" availabilityStartTime="2025-01-01T00:00:00Z" timeShiftBufferDepth="PT30S"`,
		`<Period start="PT0S"><AdaptationSet><Representation id="v"><SegmentTemplate duration="4" media="$Number$.ts"/></Representation></AdaptationSet></Period>`))
	ast := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var prevLast int
	for _, after := range []time.Duration{time.Hour, time.Hour + 4*time.Second, time.Hour + 7*time.Second} {
		m, err := ParseAt(text, mpdURL, ast.Add(after))
		if err != nil {
			t.Fatal(err)
		}
		last := m.Segments[len(m.Segments)-1]
		end := last.Start + last.Duration
		if end > after || after-end >= 4*time.Second {
			t.Errorf("at %v the newest segment ends at %v", after, end)
		}
		first := m.Segments[0]
		if first.Start+first.Duration < after-30*time.Second {
			t.Errorf("at %v segment %s is out of the time-shift buffer", after, first.Name)
		}
		n, _ := strconv.Atoi(last.Name)
		if prevLast != 0 && n < prevLast {
			t.Errorf("window went back: %d after %d", n, prevLast)
		}
		prevLast = n
	}
	// Without timeShiftBufferDepth the window is capped, newest kept.
	text = []byte(mpd(`type="dynamic" availabilityStartTime="2020-01-01T00:00:00Z"`,
		`<Period start="PT0S"><AdaptationSet><Representation id="v"><SegmentTemplate duration="2" media="$Number$.ts"/></Representation></AdaptationSet></Period>`))
	m, err := ParseAt(text, mpdURL, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) != maxLiveWindow {
		t.Errorf("%d segments, want the cap %d", len(m.Segments), maxLiveWindow)
	}
}

func TestDASHMalformed(t *testing.T) {
	rep := func(st string) string {
		return mpd(`type="static" mediaPresentationDuration="PT10S"`, `<Period><AdaptationSet><Representation id="v">`+st+`</Representation></AdaptationSet></Period>`)
	}
	for _, tc := range []struct{ name, text string }{
		{"not XML", "<MPD"},
		{"wrong root", `<?xml version="1.0"?><Foo/>`},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><MPD/>`},
		{"timescale 0", rep(`<SegmentTemplate timescale="0" duration="1" media="$Number$"/>`)},
		{"S@d 0", rep(`<SegmentTemplate media="$Number$"><SegmentTimeline><S d="0"/></SegmentTimeline></SegmentTemplate>`)},
		{"S@r too large", rep(`<SegmentTemplate media="$Number$"><SegmentTimeline><S d="1" r="1000000000"/></SegmentTimeline></SegmentTemplate>`)},
		{"too many from @duration", mpd(`type="static" mediaPresentationDuration="P1000D"`, `<Period><AdaptationSet><Representation id="v"><SegmentTemplate duration="1" media="$Number$"/></Representation></AdaptationSet></Period>`)},
		{"@duration without any duration", mpd(`type="static"`, `<Period><AdaptationSet><Representation id="v"><SegmentTemplate duration="1" media="$Number$"/></Representation></AdaptationSet></Period>`)},
		{"open r=-1 in a static MPD without duration", mpd(`type="static"`, `<Period><AdaptationSet><Representation id="v"><SegmentTemplate media="$Number$"><SegmentTimeline><S d="1" r="-1"/></SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period>`)},
		{"bad format tag", rep(`<SegmentTemplate duration="1" media="$Number%5x$"/>`)},
		{"huge format width", rep(`<SegmentTemplate duration="1" media="$Number%0999d$"/>`)},
		{"bad duration", mpd(`type="static" mediaPresentationDuration="10 seconds"`, ``)},
		{"bad mediaRange", rep(`<SegmentList><SegmentURL media="a" mediaRange="9-1"/></SegmentList>`)},
		{"time overflow", rep(`<SegmentTemplate media="$Number$" timescale="1"><SegmentTimeline><S t="9223372036854775000" d="1000" r="5"/></SegmentTimeline></SegmentTemplate>`)},
		{"dynamic @duration without availabilityStartTime", mpd(`type="dynamic"`, `<Period><AdaptationSet><Representation id="v"><SegmentTemplate duration="1" media="$Number$"/></Representation></AdaptationSet></Period>`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseAt([]byte(tc.text), mpdURL, fixedNow); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestXSDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT40.0S", 40 * time.Second, true},
		{"PT4S", 4 * time.Second, true},
		{"PT1H2M3.5S", time.Hour + 2*time.Minute + 3500*time.Millisecond, true},
		{"P1DT1S", 24*time.Hour + time.Second, true},
		{"P0Y0M0DT0H3M30.000S", 3*time.Minute + 30*time.Second, true},
		{"PT0.123456789123S", 123456789, true},
		{"P1Y", 365 * 24 * time.Hour, true},
		{"PT", 0, false},
		{"P1DT", 0, false},
		{"P", 0, false},
		{"-PT1S", 0, false},
		{"PT1.2.3S", 0, false},
		{"PT1X", 0, false},
		{"P1H", 0, false},
		{"PT99999999999999999999S", 0, false},
		{"P999999999Y", 0, false},
	} {
		got, err := parseXSDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseXSDuration(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestExpandTemplate(t *testing.T) {
	v := tplVars{repID: "video-1", number: 42, bandwidth: 128000, time: 900000}
	for _, tc := range []struct{ in, want string }{
		{"$RepresentationID$/$Number$.m4s", "video-1/42.m4s"},
		{"seg-$Number%05d$.m4s", "seg-00042.m4s"},
		{"seg-$Number%d$.m4s", "seg-42.m4s"},
		{"seg-$Number%01d$.m4s", "seg-42.m4s"},
		{"$Time$-$Bandwidth%08d$", "900000-00128000"},
		{"a$$b$$", "a$b$"},
		{"$Unknown$-$Number$", "$Unknown$-42"},
		{"unclosed-$Number", "unclosed-$Number"},
		{"plain.m4s", "plain.m4s"},
	} {
		got, err := expandTemplate(tc.in, v)
		if err != nil || got != tc.want {
			t.Errorf("expandTemplate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
