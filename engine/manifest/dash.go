package manifest

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// maxLiveWindow bounds the segments computed for one Representation of a
// dynamic MPD from a duration or an open-ended SegmentTimeline repeat: the
// newest ones are kept.
const maxLiveWindow = 10000

type dashParser struct {
	m       *Manifest
	now     time.Time
	dynamic bool
	ast     time.Time
	hasAST  bool
	tsbd    time.Duration
	hasTSBD bool
	channel string // ChannelID of the MPD URL
	multi   bool   // several Periods: names get the Period id as prefix
	longest time.Duration
	seen    map[string]bool // renditions by channel
}

func parseDASH(text []byte, base *url.URL, now time.Time, m *Manifest) error {
	root, err := parseXML(text)
	if err != nil {
		return err
	}
	if root.name != "MPD" {
		return fmt.Errorf("%w: XML root is <%s>, not <MPD>", ErrMalformed, root.name)
	}
	m.Kind = DASH
	dp := &dashParser{m: m, now: now, channel: channelOf(base.String()), seen: make(map[string]bool)}
	if t, _ := root.attr("type"); strings.TrimSpace(t) == "dynamic" {
		dp.dynamic = true
		m.Live = true
	}
	if s, ok := root.attr("availabilityStartTime"); ok {
		if dp.ast, err = parseXSDateTime(s); err != nil {
			return err
		}
		dp.hasAST = true
	}
	if s, ok := root.attr("timeShiftBufferDepth"); ok {
		if dp.tsbd, err = parseXSDuration(s); err != nil {
			return err
		}
		dp.hasTSBD = true
	}
	mpdDur := time.Duration(-1)
	if s, ok := root.attr("mediaPresentationDuration"); ok {
		if mpdDur, err = parseXSDuration(s); err != nil {
			return err
		}
	}
	mpdBase, err := withBase(base, root)
	if err != nil {
		return err
	}
	periods := root.all("Period")
	dp.multi = len(periods) > 1
	starts := make([]time.Duration, len(periods))
	for i, p := range periods {
		if s, ok := p.attr("start"); ok {
			if starts[i], err = parseXSDuration(s); err != nil {
				return err
			}
			continue
		}
		if i == 0 {
			continue
		}
		ds, ok := periods[i-1].attr("duration")
		if !ok {
			return fmt.Errorf("%w: DASH: Period %d has neither start nor a previous duration", ErrMalformed, i)
		}
		d, err := parseXSDuration(ds)
		if err != nil {
			return err
		}
		starts[i] = satAdd(starts[i-1], d)
	}
	for i, p := range periods {
		dur := time.Duration(-1)
		if s, ok := p.attr("duration"); ok {
			if dur, err = parseXSDuration(s); err != nil {
				return err
			}
		} else if i+1 < len(periods) {
			dur = starts[i+1] - starts[i]
		} else if mpdDur >= 0 {
			dur = mpdDur - starts[i]
		}
		if dur < -1 {
			return fmt.Errorf("%w: DASH: Period %d ends before it starts", ErrMalformed, i)
		}
		id, ok := p.attr("id")
		if !ok || strings.TrimSpace(id) == "" {
			id = strconv.Itoa(i)
		}
		pBase, err := withBase(mpdBase, p)
		if err != nil {
			return err
		}
		for ai, as := range p.all("AdaptationSet") {
			aBase, err := withBase(pBase, as)
			if err != nil {
				return err
			}
			for ri, rep := range as.all("Representation") {
				rBase, err := withBase(aBase, rep)
				if err != nil {
					return err
				}
				pc := periodCtx{node: p, id: id, start: starts[i], dur: dur}
				if err := dp.representation(pc, as, rep, rBase, fmt.Sprintf("_%d.%d.%d", i, ai, ri)); err != nil {
					return err
				}
			}
		}
	}
	if s, ok := root.attr("maxSegmentDuration"); ok {
		if m.TargetDuration, err = parseXSDuration(s); err != nil {
			return err
		}
	} else {
		m.TargetDuration = dp.longest
	}
	return nil
}

// withBase resolves n's first non-empty BaseURL child against parent.
func withBase(parent *url.URL, n *xnode) (*url.URL, error) {
	for _, c := range n.all("BaseURL") {
		if v := trimURL(string(c.text)); v != "" {
			return resolve(parent, v)
		}
	}
	return parent, nil
}

type periodCtx struct {
	node  *xnode
	id    string
	start time.Duration
	dur   time.Duration // -1: unknown
}

// segInfo is the segment information in force for a Representation: its
// kind and the elements of that kind from the Period down, merged.
type segInfo struct {
	kind  string            // SegmentTemplate, SegmentList, SegmentBase or ""
	attrs map[string]string // merged attributes, the lower level winning
	nodes []*xnode          // the elements of that kind, Period first
}

// nearest returns the child called name of the lowest level that has one.
func (si segInfo) nearest(name string) *xnode {
	for i := len(si.nodes) - 1; i >= 0; i-- {
		if c := si.nodes[i].child(name); c != nil {
			return c
		}
	}
	return nil
}

func segmentInfo(levels ...*xnode) segInfo {
	var si segInfo
	for i := len(levels) - 1; i >= 0 && si.kind == ""; i-- {
		for _, k := range []string{"SegmentTemplate", "SegmentList", "SegmentBase"} {
			if levels[i].child(k) != nil {
				si.kind = k
				break
			}
		}
	}
	if si.kind == "" {
		return si
	}
	si.attrs = make(map[string]string)
	for _, l := range levels {
		if c := l.child(si.kind); c != nil {
			si.nodes = append(si.nodes, c)
			for _, a := range c.attrs {
				if a.space == "" {
					si.attrs[a.name] = a.value
				}
			}
		}
	}
	return si
}

// uintAttr reads an unsigned decimal attribute, def when absent.
func (si segInfo) uintAttr(name string, def uint64) (uint64, bool, error) {
	s, ok := si.attrs[name]
	if !ok || strings.TrimSpace(s) == "" {
		return def, false, nil
	}
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 63)
	if err != nil {
		return 0, false, fmt.Errorf("%w: DASH @%s %q", ErrMalformed, name, s)
	}
	return v, true, nil
}

// timing holds what places a Representation's segments on the timeline.
type timing struct {
	ts          uint64 // timescale
	pto         int64  // presentationTimeOffset
	startNumber uint64
}

type tlSeg struct {
	t, d   int64
	number uint64
}

func (dp *dashParser) representation(pc periodCtx, as, rep *xnode, base *url.URL, fallbackID string) error {
	id, _ := rep.attr("id")
	if id = strings.TrimSpace(id); id == "" {
		id = fallbackID
	}
	channel := dp.channel + "#" + id
	bw, _ := rep.attr("bandwidth")
	bandwidth, _ := strconv.ParseUint(strings.TrimSpace(bw), 10, 31)
	dp.rendition(as, rep, id, channel, int(bandwidth))

	prefix := ""
	if dp.multi {
		prefix = pc.id + "/"
	}
	si := segmentInfo(pc.node, as, rep)
	ts, _, err := si.uintAttr("timescale", 1)
	if err != nil {
		return err
	}
	if ts == 0 {
		return fmt.Errorf("%w: DASH @timescale 0", ErrMalformed)
	}
	pto, _, err := si.uintAttr("presentationTimeOffset", 0)
	if err != nil {
		return err
	}
	startNumber, _, err := si.uintAttr("startNumber", 1)
	if err != nil {
		return err
	}
	tm := timing{ts: ts, pto: int64(pto), startNumber: startNumber}
	vars := tplVars{repID: id, bandwidth: bandwidth, number: startNumber}

	emit := func(s Segment) error {
		if len(dp.m.Segments) >= MaxSegments {
			return fmt.Errorf("%w: more than %d segments", ErrMalformed, MaxSegments)
		}
		if err := identity.ValidateName(s.Name); err != nil {
			return fmt.Errorf("%w: DASH segment name: %v", ErrMalformed, err)
		}
		s.Channel = channel
		if s.Duration > dp.longest {
			dp.longest = s.Duration
		}
		dp.m.Segments = append(dp.m.Segments, s)
		return nil
	}
	place := func(t, d int64) (time.Duration, time.Duration, error) {
		// t and pto are both non-negative: t-pto cannot overflow.
		rel, err := unitsToDuration(t-tm.pto, ts)
		if err != nil {
			return 0, 0, err
		}
		dur, err := unitsToDuration(d, ts)
		if err != nil {
			return 0, 0, err
		}
		return satAddSigned(pc.start, rel), dur, nil
	}
	// initSeg emits an Initialization element's segment (sourceURL, range).
	initSeg := func(in *xnode, start time.Duration, needURL bool) error {
		if in == nil {
			return nil
		}
		src, hasSrc := in.attr("sourceURL")
		if needURL && (!hasSrc || trimURL(src) == "") {
			return nil
		}
		u := base
		if hasSrc && trimURL(src) != "" {
			if u, err = resolve(base, src); err != nil {
				return err
			}
		}
		s := Segment{URL: u.String(), Name: prefix + "init", Start: start, Init: true}
		if r, ok := in.attr("range"); ok {
			if s.Range, err = parseDashRange(r); err != nil {
				return err
			}
		}
		return emit(s)
	}

	switch si.kind {
	case "SegmentTemplate":
		media, hasMedia := si.attrs["media"]
		entries, err := dp.templateEntries(si, tm, pc)
		if err != nil {
			return err
		}
		first := pc.start
		if len(entries) > 0 {
			if first, _, err = place(entries[0].t, 0); err != nil {
				return err
			}
		}
		if it, ok := si.attrs["initialization"]; ok && trimURL(it) != "" {
			s, err := expandTemplate(it, vars)
			if err != nil {
				return err
			}
			u, err := resolve(base, s)
			if err != nil {
				return err
			}
			if err := emit(Segment{URL: u.String(), Name: prefix + "init", Start: first, Init: true}); err != nil {
				return err
			}
		} else if err := initSeg(si.nearest("Initialization"), first, false); err != nil {
			return err
		}
		if !hasMedia || trimURL(media) == "" {
			return nil
		}
		byTime := templateUses(media, "Time")
		for _, e := range entries {
			v := vars
			v.number, v.time = e.number, uint64(e.t)
			s, err := expandTemplate(media, v)
			if err != nil {
				return err
			}
			u, err := resolve(base, s)
			if err != nil {
				return err
			}
			start, dur, err := place(e.t, e.d)
			if err != nil {
				return err
			}
			name := strconv.FormatUint(e.number, 10)
			if byTime {
				name = strconv.FormatInt(e.t, 10)
			}
			if err := emit(Segment{URL: u.String(), Name: prefix + name, Start: start, Duration: dur}); err != nil {
				return err
			}
		}
		return nil

	case "SegmentList":
		var urls []*xnode
		for i := len(si.nodes) - 1; i >= 0 && urls == nil; i-- {
			urls = si.nodes[i].all("SegmentURL")
		}
		if len(urls) > MaxSegments-len(dp.m.Segments) {
			return fmt.Errorf("%w: more than %d segments", ErrMalformed, MaxSegments)
		}
		dur, hasDur, err := si.uintAttr("duration", 0)
		if err != nil {
			return err
		}
		var entries []tlSeg
		tl := si.nearest("SegmentTimeline")
		if tl != nil {
			if entries, err = dp.expandTimeline(tl, tm, pc, len(urls)); err != nil {
				return err
			}
		}
		pStart := pc.start
		if err := initSeg(si.nearest("Initialization"), pStart, false); err != nil {
			return err
		}
		for k, su := range urls {
			var t, d int64
			switch {
			case tl != nil:
				if k >= len(entries) {
					return nil
				}
				t, d = entries[k].t, entries[k].d
			case hasDur && dur > 0:
				if uint64(k) > uint64(math.MaxInt64-tm.pto)/dur {
					return fmt.Errorf("%w: DASH time out of range", ErrMalformed)
				}
				t, d = tm.pto+int64(k)*int64(dur), int64(dur)
			case len(urls) == 1 && pc.dur >= 0:
				t = tm.pto
				if d, err = durationToUnits(pc.dur, ts, true); err != nil {
					return err
				}
			default:
				t = tm.pto
			}
			u := base
			if mv, ok := su.attr("media"); ok && trimURL(mv) != "" {
				if u, err = resolve(base, mv); err != nil {
					return err
				}
			}
			start, sd, err := place(t, d)
			if err != nil {
				return err
			}
			s := Segment{URL: u.String(), Name: prefix + strconv.FormatUint(tm.startNumber+uint64(k), 10), Start: start, Duration: sd}
			if r, ok := su.attr("mediaRange"); ok {
				if s.Range, err = parseDashRange(r); err != nil {
					return err
				}
			}
			if err := emit(s); err != nil {
				return err
			}
		}
		return nil
	}

	// SegmentBase, or no segment information: the Representation is one
	// file, shared as one resource whatever ranges the player asks for.
	if si.kind == "SegmentBase" {
		// An Initialization inside the file is part of that resource; only
		// one in a file of its own is a segment.
		if err := initSeg(si.nearest("Initialization"), pc.start, true); err != nil {
			return err
		}
	}
	d := pc.dur
	if d < 0 {
		d = 0
	}
	return emit(Segment{URL: base.String(), Name: prefix + "file", Start: pc.start, Duration: d})
}

// satAddSigned adds two durations of any sign, saturating.
func satAddSigned(a, b time.Duration) time.Duration {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// parseDashRange reads a byte range "first-last" (inclusive).
func parseDashRange(s string) (*ByteRange, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	first, err1 := parseDecimal(a)
	last, err2 := parseDecimal(b)
	if !ok || err1 != nil || err2 != nil || last < first || last == math.MaxInt64 {
		return nil, fmt.Errorf("%w: DASH byte range %q", ErrMalformed, s)
	}
	return &ByteRange{Start: first, End: last + 1}, nil
}

// liveUnits is the live edge in the Period's timescale units (with the
// presentationTimeOffset added), or -1 when it cannot be known.
func (dp *dashParser) liveUnits(tm timing, pc periodCtx) (int64, error) {
	if !dp.dynamic || !dp.hasAST {
		return -1, nil
	}
	rel := satSub(dp.now.Sub(dp.ast), pc.start)
	if rel < 0 {
		return tm.pto, nil // the Period has not started: nothing is available
	}
	u, err := durationToUnits(rel, tm.ts, false)
	if err != nil {
		return 0, err
	}
	if u > math.MaxInt64-tm.pto {
		return 0, fmt.Errorf("%w: DASH time out of range", ErrMalformed)
	}
	return tm.pto + u, nil
}

// endUnits is the Period's end in timescale units (+ presentationTimeOffset), or -1.
func endUnits(tm timing, pc periodCtx) (int64, error) {
	if pc.dur < 0 {
		return -1, nil
	}
	u, err := durationToUnits(pc.dur, tm.ts, true)
	if err != nil {
		return 0, err
	}
	if u > math.MaxInt64-tm.pto {
		return 0, fmt.Errorf("%w: DASH time out of range", ErrMalformed)
	}
	return tm.pto + u, nil
}

// window trims [first, count) of segments t0+k*d to the time-shift buffer
// of a dynamic MPD and to maxLiveWindow, given the live edge.
func (dp *dashParser) window(t0, d, live int64, count int64, tm timing) (int64, error) {
	first := int64(0)
	if dp.hasTSBD {
		tsbd, err := durationToUnits(dp.tsbd, tm.ts, false)
		if err != nil {
			tsbd = math.MaxInt64
		}
		// Keep segments whose end t0+(k+1)d is at or after live-tsbd.
		if lo := live - tsbd; tsbd < live && lo > t0 {
			k := ceilDiv(lo-t0, d) - 1
			if k > first {
				first = k
			}
		}
	}
	if count-first > maxLiveWindow {
		first = count - maxLiveWindow
	}
	if first > count {
		first = count
	}
	return first, nil
}

// templateEntries lists a SegmentTemplate's media segments.
func (dp *dashParser) templateEntries(si segInfo, tm timing, pc periodCtx) ([]tlSeg, error) {
	if tl := si.nearest("SegmentTimeline"); tl != nil {
		return dp.expandTimeline(tl, tm, pc, -1)
	}
	d, hasDur, err := si.uintAttr("duration", 0)
	if err != nil {
		return nil, err
	}
	endNumber, hasEnd, err := si.uintAttr("endNumber", 0)
	if err != nil {
		return nil, err
	}
	if !hasDur {
		// No duration and no timeline: one segment for the whole Period.
		var du int64
		if pc.dur >= 0 {
			if du, err = durationToUnits(pc.dur, tm.ts, true); err != nil {
				return nil, err
			}
		}
		return []tlSeg{{t: tm.pto, d: du, number: tm.startNumber}}, nil
	}
	if d == 0 {
		return nil, fmt.Errorf("%w: DASH SegmentTemplate @duration 0", ErrMalformed)
	}
	dd := int64(d)
	end, err := endUnits(tm, pc)
	if err != nil {
		return nil, err
	}
	var count, first int64
	if dp.dynamic {
		live, err := dp.liveUnits(tm, pc)
		if err != nil {
			return nil, err
		}
		if live < 0 {
			return nil, fmt.Errorf("%w: DASH: dynamic MPD without availabilityStartTime", ErrMalformed)
		}
		count = (live - tm.pto) / dd // segments that have ended
		if end >= 0 {
			if c := ceilDiv(end-tm.pto, dd); c < count {
				count = c
			}
		}
		if first, err = dp.window(tm.pto, dd, live, count, tm); err != nil {
			return nil, err
		}
	} else {
		if end < 0 {
			return nil, fmt.Errorf("%w: DASH: SegmentTemplate @duration without a Period or presentation duration", ErrMalformed)
		}
		count = ceilDiv(end-tm.pto, dd)
	}
	if hasEnd {
		if endNumber < tm.startNumber {
			count = 0
		} else if n := endNumber - tm.startNumber + 1; n < uint64(count) {
			count = int64(n)
		}
	}
	if count-first > int64(MaxSegments-len(dp.m.Segments)) {
		return nil, fmt.Errorf("%w: more than %d segments", ErrMalformed, MaxSegments)
	}
	out := make([]tlSeg, 0, count-first)
	for k := first; k < count; k++ {
		if k > (math.MaxInt64-tm.pto)/dd {
			return nil, fmt.Errorf("%w: DASH time out of range", ErrMalformed)
		}
		out = append(out, tlSeg{t: tm.pto + k*dd, d: dd, number: tm.startNumber + uint64(k)})
	}
	return out, nil
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a-1)/b + 1
}

// expandTimeline lists a SegmentTimeline's segments. maxCount (≥ 0) bounds
// them (a SegmentList's URL count); an open-ended repeat (r<0 on the last
// S) runs to the Period's end, or for a dynamic MPD to the live edge.
func (dp *dashParser) expandTimeline(tl *xnode, tm timing, pc periodCtx, maxCount int) ([]tlSeg, error) {
	ss := tl.all("S")
	end, err := endUnits(tm, pc)
	if err != nil {
		return nil, err
	}
	var out []tlSeg
	var cur int64
	number := tm.startNumber
	budget := int64(MaxSegments - len(dp.m.Segments))
	for i, s := range ss {
		t := cur
		if v, ok := s.attr("t"); ok {
			u, err := strconv.ParseUint(strings.TrimSpace(v), 10, 63)
			if err != nil {
				return nil, fmt.Errorf("%w: DASH S@t %q", ErrMalformed, v)
			}
			t = int64(u)
		}
		dv, _ := s.attr("d")
		du, err := strconv.ParseUint(strings.TrimSpace(dv), 10, 63)
		if err != nil || du == 0 {
			return nil, fmt.Errorf("%w: DASH S@d %q", ErrMalformed, dv)
		}
		d := int64(du)
		r := int64(0)
		if v, ok := s.attr("r"); ok {
			if r, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return nil, fmt.Errorf("%w: DASH S@r %q", ErrMalformed, v)
			}
		}
		if v, ok := s.attr("n"); ok {
			if number, err = strconv.ParseUint(strings.TrimSpace(v), 10, 63); err != nil {
				return nil, fmt.Errorf("%w: DASH S@n %q", ErrMalformed, v)
			}
		}
		var count, first int64
		switch {
		case r >= 0:
			if r == math.MaxInt64 {
				return nil, fmt.Errorf("%w: DASH S@r too large", ErrMalformed)
			}
			count = r + 1
		default: // repeat until the next S@t, the Period's end, or the live edge
			bound := int64(-1)
			if i+1 < len(ss) {
				if v, ok := ss[i+1].attr("t"); ok {
					u, err := strconv.ParseUint(strings.TrimSpace(v), 10, 63)
					if err != nil {
						return nil, fmt.Errorf("%w: DASH S@t %q", ErrMalformed, v)
					}
					bound = int64(u)
				}
			}
			if bound < 0 {
				bound = end
			}
			if bound >= 0 {
				count = ceilDiv(bound-t, d)
				break
			}
			live, err := dp.liveUnits(tm, pc)
			if err != nil {
				return nil, err
			}
			if live < 0 {
				return nil, fmt.Errorf("%w: DASH S@r=-1 without an end", ErrMalformed)
			}
			if live-t >= d {
				count = (live - t) / d
			}
			if maxCount < 0 { // a SegmentList's entries pair with its SegmentURLs: no window
				if first, err = dp.window(t, d, live, count, tm); err != nil {
					return nil, err
				}
			}
		}
		if count > (math.MaxInt64-t)/d {
			return nil, fmt.Errorf("%w: DASH SegmentTimeline out of range", ErrMalformed)
		}
		n := count - first
		if maxCount >= 0 && int64(len(out))+n > int64(maxCount) {
			n = int64(maxCount - len(out))
		}
		if int64(len(out))+n > budget {
			return nil, fmt.Errorf("%w: more than %d segments", ErrMalformed, MaxSegments)
		}
		for k := first; k < first+n; k++ {
			out = append(out, tlSeg{t: t + k*d, d: d, number: number + uint64(k)})
		}
		cur = t + count*d
		number += uint64(count)
		if maxCount >= 0 && len(out) >= maxCount {
			break
		}
	}
	return out, nil
}

// rendition records a Representation's rendition once per channel.
func (dp *dashParser) rendition(as, rep *xnode, id, channel string, bandwidth int) {
	if dp.seen[channel] {
		return
	}
	dp.seen[channel] = true
	get := func(name string) string {
		if v, ok := rep.attr(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		v, _ := as.attr(name)
		return strings.TrimSpace(v)
	}
	r := Rendition{ID: id, Bandwidth: bandwidth, Codecs: get("codecs"), Channel: channel}
	r.Width, _ = strconv.Atoi(get("width"))
	r.Height, _ = strconv.Atoi(get("height"))
	if r.Width < 0 || r.Height < 0 {
		r.Width, r.Height = 0, 0
	}
	ct := get("contentType")
	if ct == "" {
		if c := as.child("ContentComponent"); c != nil {
			ct, _ = c.attr("contentType")
		}
	}
	mime := get("mimeType")
	switch {
	case ct == "video" || ct == "audio":
		r.Type = ct
	case ct == "text":
		r.Type = "subtitles"
	case strings.HasPrefix(mime, "video/"):
		r.Type = "video"
	case strings.HasPrefix(mime, "audio/"):
		r.Type = "audio"
	case strings.HasPrefix(mime, "text/") || mime == "application/ttml+xml" ||
		mime == "application/mp4" && (strings.HasPrefix(r.Codecs, "stpp") || strings.HasPrefix(r.Codecs, "wvtt")):
		r.Type = "subtitles"
	}
	dp.m.Renditions = append(dp.m.Renditions, r)
}
