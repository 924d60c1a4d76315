package manifest

import (
	"bytes"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Eyevinn/hls-m3u8/m3u8"
)

// maxHLSDuration bounds EXTINF and EXT-X-TARGETDURATION values (one day).
const maxHLSDuration = 24 * time.Hour

// hlsLines splits a playlist into lines the way the m3u8 decoder does (on
// '\n', empty lines skipped), but strips every trailing '\r', so that a line
// fed back to the decoder reads the same.
func hlsLines(text []byte) []string {
	var out []string
	for len(text) > 0 {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 {
			out = append(out, string(line))
		}
	}
	return out
}

// fedTags are the tags given to the m3u8 decoder: those whose values we use
// and those its state machine depends on for them. The others are left out
// because in non-strict mode the decoder still fails or panics on some of
// them (a SCTE-35 EXT-X-DATERANGE after the last segment is an error; an
// EXT-X-KEY before a URI line without EXTINF dereferences a nil segment) and
// because EXT-X-MAP's BYTERANGE without "@offset" is dropped by it: we read
// EXT-X-MAP and EXT-X-BYTERANGE ourselves.
var fedTags = []string{
	"#EXTM3U", "#EXTINF:", "#EXT-X-VERSION:", "#EXT-X-TARGETDURATION:",
	"#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-DISCONTINUITY", "#EXT-X-PLAYLIST-TYPE:",
	"#EXT-X-ENDLIST", "#EXT-X-BYTERANGE:", "#EXT-X-SKIP:", "#EXT-X-I-FRAMES-ONLY",
	"#EXT-X-STREAM-INF:", "#EXT-X-I-FRAME-STREAM-INF:", "#EXT-X-MEDIA:",
}

func hlsFed(line string) bool {
	if !strings.HasPrefix(line, "#") {
		return true
	}
	for _, t := range fedTags {
		if strings.HasPrefix(line, t) {
			return true
		}
	}
	return false
}

// decodeM3U8 runs the m3u8 decoder (non-strict: its strict mode rejects
// valid playlists, e.g. an EXT-X-PART byte range without offset) on the fed
// lines. It recovers from a panic of the decoder on malformed input.
func decodeM3U8(lines []string) (pl m3u8.Playlist, lt m3u8.ListType, err error) {
	defer func() {
		if r := recover(); r != nil {
			pl, lt, err = nil, 0, fmt.Errorf("%w: HLS decoder: %v", ErrMalformed, r)
		}
	}()
	var buf bytes.Buffer
	for _, l := range lines {
		if hlsFed(l) {
			buf.WriteString(l)
			buf.WriteByte('\n')
		}
	}
	pl, lt, err = m3u8.Decode(buf, false)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: HLS: %v", ErrMalformed, err)
	}
	return pl, lt, nil
}

func parseHLS(text []byte, base *url.URL, m *Manifest) error {
	lines := hlsLines(text)
	uris := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "#") {
			uris++
		}
	}
	if uris > MaxSegments {
		return fmt.Errorf("%w: more than %d URIs", ErrMalformed, MaxSegments)
	}
	pl, lt, err := decodeM3U8(lines)
	if err != nil {
		return err
	}
	switch lt {
	case m3u8.MASTER:
		mp, ok := pl.(*m3u8.MasterPlaylist)
		if !ok {
			return fmt.Errorf("%w: HLS: unexpected decoder result %T", ErrMalformed, pl)
		}
		m.Kind = HLSMaster
		return hlsMaster(mp, base, m)
	case m3u8.MEDIA:
		mp, ok := pl.(*m3u8.MediaPlaylist)
		if !ok {
			return fmt.Errorf("%w: HLS: unexpected decoder result %T", ErrMalformed, pl)
		}
		m.Kind = HLSMedia
		return hlsMedia(lines, mp, base, m)
	}
	return fmt.Errorf("%w: HLS: cannot tell a master from a media playlist", ErrMalformed)
}

func hlsMaster(mp *m3u8.MasterPlaylist, base *url.URL, m *Manifest) error {
	seen := make(map[string]bool)
	add := func(r Rendition, uri string) error {
		if trimURL(uri) == "" {
			return nil
		}
		u, err := resolve(base, uri)
		if err != nil {
			return err
		}
		r.URL = u.String()
		if seen[r.URL] {
			return nil
		}
		seen[r.URL] = true
		r.Channel = channelOf(r.URL)
		m.Renditions = append(m.Renditions, r)
		return nil
	}
	var alts []*m3u8.Alternative
	seenAlt := make(map[*m3u8.Alternative]bool)
	for i, v := range mp.Variants {
		if v == nil || v.Iframe {
			continue
		}
		w, h := parseResolution(v.Resolution)
		id := v.StableVariantId
		if id == "" {
			id = "variant:" + strconv.Itoa(i)
		}
		r := Rendition{ID: id, Type: codecsType(v.Codecs), Bandwidth: int(v.Bandwidth), Codecs: v.Codecs, Width: w, Height: h}
		if err := add(r, v.URI); err != nil {
			return err
		}
		for _, a := range v.Alternatives {
			if a != nil && !seenAlt[a] {
				seenAlt[a] = true
				alts = append(alts, a)
			}
		}
	}
	for _, a := range alts {
		typ := ""
		switch a.Type {
		case "AUDIO":
			typ = "audio"
		case "VIDEO":
			typ = "video"
		case "SUBTITLES":
			typ = "subtitles"
		default:
			continue // CLOSED-CAPTIONS have no URI
		}
		id := a.StableRenditionId
		if id == "" {
			id = typ + ":" + a.GroupId + ":" + a.Name
		}
		if err := add(Rendition{ID: id, Type: typ}, a.URI); err != nil {
			return err
		}
	}
	return nil
}

// parseResolution reads "WxH"; 0, 0 when malformed.
func parseResolution(s string) (int, int) {
	ws, hs, ok := strings.Cut(s, "x")
	if !ok {
		return 0, 0
	}
	w, err1 := strconv.ParseUint(ws, 10, 16)
	h, err2 := strconv.ParseUint(hs, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return int(w), int(h)
}

var audioCodecs = []string{"mp4a", "ac-3", "ec-3", "ac-4", "opus", "flac", "alac", "mp3", "dts", "mha1", "mhm1"}

// codecsType is "audio" for a CODECS list of audio codecs only, else "video".
func codecsType(codecs string) string {
	if strings.TrimSpace(codecs) == "" {
		return "video"
	}
	for _, c := range strings.Split(codecs, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		audio := false
		for _, a := range audioCodecs {
			if strings.HasPrefix(c, a) {
				audio = true
				break
			}
		}
		if !audio {
			return "video"
		}
	}
	return "audio"
}

// rawRange is an EXT-X-BYTERANGE value "n[@o]".
type rawRange struct {
	n, o int64
	hasO bool
}

func parseRawRange(s string) (rawRange, error) {
	ns, os, hasO := strings.Cut(s, "@")
	n, err := parseDecimal(ns)
	if err != nil || n <= 0 {
		return rawRange{}, fmt.Errorf("%w: HLS byte range %q", ErrMalformed, s)
	}
	r := rawRange{n: n, hasO: hasO}
	if hasO {
		if r.o, err = parseDecimal(os); err != nil {
			return rawRange{}, fmt.Errorf("%w: HLS byte range %q", ErrMalformed, s)
		}
	}
	return r, nil
}

// parseDecimal reads a non-negative decimal integer (digits only).
func parseDecimal(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

type scanSeg struct {
	uri  string
	rng  *rawRange
	mapI int // index into maps, -1 for none
}

type scanMap struct {
	uri string
	rng *rawRange
}

// scanMedia walks the lines as the m3u8 decoder does for EXTINF, URI lines
// and EXT-X-BYTERANGE, so that its segments line up with the decoder's, and
// records what the decoder loses: whether a byte range has an offset, and
// the EXT-X-MAP in force for each segment.
func scanMedia(lines []string) ([]scanSeg, []scanMap, error) {
	var (
		segs            []scanSeg
		maps            []scanMap
		tagInf, tagRng  bool
		pending         rawRange
		pendingErr      error
		curMap          = -1
		mapTag, rngTag  = "#EXT-X-MAP:", "#EXT-X-BYTERANGE:"
		extinf, hashtag = "#EXTINF:", "#"
	)
	for _, line := range lines {
		if !hlsFed(line) {
			if strings.HasPrefix(line, mapTag) {
				mp, err := parseMapTag(line[len(mapTag):])
				if err != nil {
					return nil, nil, err
				}
				maps = append(maps, mp)
				curMap = len(maps) - 1
			}
			continue
		}
		switch {
		case !tagInf && strings.HasPrefix(line, extinf):
			tagInf = true
		case !strings.HasPrefix(line, hashtag):
			if tagInf {
				segs = append(segs, scanSeg{uri: line, mapI: curMap})
				tagInf = false
			}
			if tagRng {
				if pendingErr != nil {
					return nil, nil, pendingErr
				}
				if len(segs) > 0 {
					r := pending
					segs[len(segs)-1].rng = &r
				}
				tagRng = false
			}
		case !tagRng && strings.HasPrefix(line, rngTag):
			tagRng = true
			pending, pendingErr = parseRawRange(line[len(rngTag):])
		}
	}
	return segs, maps, nil
}

func parseMapTag(attrs string) (scanMap, error) {
	var mp scanMap
	var haveURI bool
	for _, a := range scanAttrs(attrs) {
		s, e := trimmedValue(a.value)
		v := a.value[s:e]
		switch a.key {
		case "URI":
			mp.uri, haveURI = v, true
		case "BYTERANGE":
			r, err := parseRawRange(v)
			if err != nil {
				return scanMap{}, err
			}
			if !r.hasO {
				r.o, r.hasO = 0, true // no previous sub-range for a map: it starts at 0
			}
			mp.rng = &r
		}
	}
	if !haveURI || trimURL(mp.uri) == "" {
		return scanMap{}, fmt.Errorf("%w: EXT-X-MAP without URI", ErrMalformed)
	}
	return mp, nil
}

// seconds converts an EXTINF duration.
func seconds(f float64) (time.Duration, error) {
	if math.IsNaN(f) || f < 0 || f > maxHLSDuration.Seconds() {
		return 0, fmt.Errorf("%w: HLS duration %v", ErrMalformed, f)
	}
	return time.Duration(math.Round(f * 1e9)), nil
}

func hlsMedia(lines []string, mp *m3u8.MediaPlaylist, base *url.URL, m *Manifest) error {
	segs, maps, err := scanMedia(lines)
	if err != nil {
		return err
	}
	dec := mp.GetAllSegments()
	if len(dec) != len(segs) {
		return fmt.Errorf("%w: HLS: %d segments decoded, %d scanned", ErrMalformed, len(dec), len(segs))
	}
	for i, s := range dec {
		if s == nil || s.URI != segs[i].uri {
			return fmt.Errorf("%w: HLS: segment %d does not line up with the decoder", ErrMalformed, i)
		}
	}
	m.Live = !mp.Closed && mp.MediaType != m3u8.VOD
	td := time.Duration(maxHLSDuration)
	if mp.TargetDuration < uint(maxHLSDuration/time.Second) {
		td = time.Duration(mp.TargetDuration) * time.Second
	}
	m.TargetDuration = td
	channel := channelOf(base.String())

	type mapUse struct {
		seg  int    // index of its segment in m.Segments
		dseq uint64 // discontinuity sequence number where first used
	}
	mapSeg := make(map[rangeKey]int) // resolved map → index into uses
	var uses []mapUse
	mapKey := make([]rangeKey, len(maps))
	for i, mpg := range maps {
		u, err := resolve(base, mpg.uri)
		if err != nil {
			return err
		}
		k := rangeKey{url: u.String(), start: -1, end: -1}
		if mpg.rng != nil {
			if mpg.rng.o > math.MaxInt64-mpg.rng.n {
				return fmt.Errorf("%w: HLS map byte range overflows", ErrMalformed)
			}
			k.start, k.end = mpg.rng.o, mpg.rng.o+mpg.rng.n
		}
		mapKey[i] = k
	}

	seq0 := mp.SeqNo + mp.SkippedSegments()
	dseq := mp.DiscontinuitySeq
	lastEnd := make(map[string]int64)
	var start time.Duration
	m.Segments = make([]Segment, 0, len(segs)+len(maps))
	for i, s := range segs {
		d := dec[i]
		if d.Discontinuity {
			dseq++
		}
		dur, err := seconds(d.Duration)
		if err != nil {
			return err
		}
		u, err := resolve(base, s.uri)
		if err != nil {
			return err
		}
		us := u.String()
		var rng *ByteRange
		if s.rng != nil {
			off := s.rng.o
			if !s.rng.hasO {
				off = lastEnd[us] // continues the previous sub-range of the same URI
			}
			if off > math.MaxInt64-s.rng.n {
				return fmt.Errorf("%w: HLS byte range overflows", ErrMalformed)
			}
			rng = &ByteRange{Start: off, End: off + s.rng.n}
			lastEnd[us] = rng.End
		}
		if s.mapI >= 0 {
			k := mapKey[s.mapI]
			if _, ok := mapSeg[k]; !ok {
				mapSeg[k] = len(uses)
				uses = append(uses, mapUse{seg: len(m.Segments), dseq: dseq})
				init := Segment{URL: k.url, Channel: channel, Start: start, Init: true}
				if k.start >= 0 {
					init.Range = &ByteRange{Start: k.start, End: k.end}
				}
				m.Segments = append(m.Segments, init)
			}
		}
		m.Segments = append(m.Segments, Segment{
			URL: us, Range: rng, Channel: channel,
			Name:  strconv.FormatUint(seq0+uint64(i), 10),
			Start: start, Duration: dur,
		})
		start = satAdd(start, dur)
	}
	// Name the init segments now that their number is known.
	if len(uses) == 1 {
		m.Segments[uses[0].seg].Name = "init"
	} else {
		perDseq := make(map[uint64]int)
		for _, mu := range uses {
			name := "init:" + strconv.FormatUint(mu.dseq, 10)
			if k := perDseq[mu.dseq]; k > 0 {
				name += "." + strconv.Itoa(k)
			}
			perDseq[mu.dseq]++
			m.Segments[mu.seg].Name = name
		}
	}
	return nil
}

// satAdd adds two non-negative durations, saturating.
func satAdd(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// hlsAttr is one attribute of an HLS attribute list: value is its raw
// text (quotes included) at [start, end) in the list.
type hlsAttr struct {
	key        string
	value      string
	start, end int
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// scanAttrs reads an attribute list exactly as the m3u8 decoder does, so
// that Parse and Rewrite agree with it on every value, but without its
// panic on a trailing key without "=".
func scanAttrs(s string) []hlsAttr {
	var out []hlsAttr
	n := len(s)
	for i := 0; i < n; {
		ks := i
		for i < n && isKeyChar(s[i]) {
			i++
		}
		if i == ks {
			i++ // skip a bad character
			continue
		}
		key := s[ks:i]
		if i >= n-1 || s[i] != '=' {
			if i == n-1 && s[i] == '=' {
				out = append(out, hlsAttr{key: key, start: n, end: n})
			}
			continue
		}
		i++ // '='
		vs := i
		inQuote := s[i] == '"'
		for i < n && (s[i] != ',' || inQuote) {
			if i > vs && s[i] == '"' {
				inQuote = false
			}
			i++
		}
		out = append(out, hlsAttr{key: key, value: s[vs:i], start: vs, end: i})
		i++ // ','
	}
	return out
}

// trimmedValue is the part of an attribute's raw value the decoder uses
// for EXT-X-MEDIA (strings.Trim of spaces and quotes), as offsets into it.
func trimmedValue(v string) (int, int) {
	s, e := 0, len(v)
	for s < e && (v[s] == ' ' || v[s] == '"') {
		s++
	}
	for e > s && (v[e-1] == ' ' || v[e-1] == '"') {
		e--
	}
	return s, e
}

// dequotedValue is the part the decoder uses for EXT-X-I-FRAME-STREAM-INF
// (one pair of enclosing quotes removed).
func dequotedValue(v string) (int, int) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return 1, len(v) - 1
	}
	return 0, len(v)
}
