// Package manifest reads HLS playlists and DASH MPDs into what the engine
// needs to share their segments: the renditions, and for every segment its
// absolute URL, byte range, swarm channel, name and place on the timeline.
// It also rewrites a manifest's URIs so that a player fetches them through
// the service worker, and maps a request back to the segment it asks for.
//
// Identity (docs/browser-runtime.md, "Manifests"): HLS has one swarm per rendition (channel: the
// media playlist's URL) and names a segment by its media sequence number;
// DASH has one swarm per Representation (channel: the MPD's URL + "#" + the
// Representation id) and names a segment by its $Number$ or $Time$ value.
//
// The package is plain Go without net/http, so that it builds for js/wasm.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// ErrMalformed is wrapped by every error of Parse, ParseAt and Rewrite.
var ErrMalformed = errors.New("manifest: malformed")

// Limits enforced on every manifest.
const (
	// MaxSize bounds the manifest text (4 MiB).
	MaxSize = 4 << 20
	// MaxSegments bounds the segments (and renditions) of one manifest.
	MaxSegments = 100000
	// MaxURLLength bounds every URI and resolved URL (4 KiB).
	MaxURLLength = 4096
)

// Kind says what a manifest is.
type Kind int

// The kinds of manifest.
const (
	// HLSMaster is an HLS multivariant (master) playlist: renditions only.
	HLSMaster Kind = iota + 1
	// HLSMedia is an HLS media playlist: the segments of one rendition.
	HLSMedia
	// DASH is an MPEG-DASH MPD: renditions and segments of every Representation.
	DASH
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case HLSMaster:
		return "HLS master"
	case HLSMedia:
		return "HLS media"
	case DASH:
		return "DASH"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Manifest is what Parse found in a manifest.
type Manifest struct {
	// Kind is the manifest's kind.
	Kind Kind
	// URL is the manifest's absolute URL, as given to Parse.
	URL string
	// Live is true for a live manifest: an HLS media playlist without
	// EXT-X-ENDLIST that is not of type VOD, or a dynamic MPD.
	Live bool
	// TargetDuration is HLS's EXT-X-TARGETDURATION (raised to the longest
	// segment, as the decoder does), or DASH's maxSegmentDuration (or the
	// longest segment when absent).
	TargetDuration time.Duration
	// Renditions are an HLS master's variants and EXT-X-MEDIA renditions
	// with their absolute playlist URLs, or one per DASH Representation.
	Renditions []Rendition
	// Segments are an HLS media playlist's segments (each EXT-X-MAP first,
	// before the first segment that uses it), or every DASH
	// Representation's segments (for a dynamic MPD: the current window).
	Segments []Segment

	index *segmentIndex // built by Parse; nil for a hand-built Manifest
}

// Rendition is one rendition of a manifest: an HLS media playlist or a DASH
// Representation.
type Rendition struct {
	// ID identifies the rendition inside its manifest: the DASH
	// Representation id; for HLS the STABLE-VARIANT-ID/STABLE-RENDITION-ID,
	// else "variant:<index>" or "<type>:<group>:<name>".
	ID string
	// URL is an HLS rendition's absolute media playlist URL ("" for DASH).
	URL string
	// Type is "video", "audio" or "subtitles" ("" when unknown).
	Type string
	// Bandwidth is the declared bandwidth in bits per second (0 if none).
	Bandwidth int
	// Codecs is the declared codecs string.
	Codecs string
	// Width and Height are the declared resolution (0 if none).
	Width, Height int
	// Channel is the channel of the rendition's swarm: the same value its
	// segments carry ("" when the URL is not http(s)).
	Channel string
}

// ByteRange is the byte sub-range [Start, End) of a resource.
type ByteRange struct {
	// Start is the offset of the first byte.
	Start int64
	// End is the offset just past the last byte.
	End int64
}

// Len is the number of bytes in the range.
func (r ByteRange) Len() int64 { return r.End - r.Start }

// String renders the range as an HTTP Range header value would.
func (r ByteRange) String() string { return fmt.Sprintf("bytes=%d-%d", r.Start, r.End-1) }

// Segment is one shareable resource of a manifest.
type Segment struct {
	// URL is the segment's absolute URL (without fragment).
	URL string
	// Range is nil when the segment is the whole resource at URL, else its
	// sub-range (EXT-X-BYTERANGE, SegmentList mediaRange, Initialization range).
	Range *ByteRange
	// Channel is the channel of the segment's swarm: HLS → identity.ChannelID
	// of the media playlist URL; DASH → ChannelID of the MPD URL + "#" +
	// Representation id.
	Channel string
	// Name names the segment inside its swarm. HLS: the media sequence
	// number in decimal; "init" for EXT-X-MAP, or "init:<n>" when the
	// playlist has several (n: the discontinuity sequence number where it
	// is first used, with ".<k>" added for a k-th map of the same one).
	// DASH: the $Number$ value, or the $Time$ value when the media template
	// uses $Time$; "init" for the initialization segment; "file" for a
	// SegmentBase (or BaseURL-only) Representation's single file. In an MPD
	// with several Periods, names are prefixed with "<Period id>/".
	Name string
	// Start is the segment's position on the presentation timeline: for HLS
	// cumulative from the first segment of the playlist; for DASH the
	// Period's start plus the segment's time in it.
	Start time.Duration
	// Duration is the segment's duration (0 for an initialization segment).
	Duration time.Duration
	// Init marks an initialization segment (EXT-X-MAP, DASH Initialization).
	Init bool
}

// ResourceName is the segment's name in its swarm: Name tagged with its URL
// (identity.URLName), since Channel drops the query, so that two streams
// whose playlist URLs differ only in the query never mix their segments.
func (s Segment) ResourceName() string { return identity.URLName(s.Name, s.URL) }

// Parse reads an HLS playlist (text starting with #EXTM3U) or a DASH MPD
// (XML whose root element is MPD) fetched from manifestURL, an absolute
// http(s) URL. A dynamic MPD's window is computed at time.Now().
// Every error wraps ErrMalformed.
func Parse(text []byte, manifestURL string) (*Manifest, error) {
	return ParseAt(text, manifestURL, time.Now())
}

// ParseAt is Parse with the wall-clock time now used for a dynamic MPD's
// window (availabilityStartTime, timeShiftBufferDepth).
func ParseAt(text []byte, manifestURL string, now time.Time) (*Manifest, error) {
	if len(text) > MaxSize {
		return nil, fmt.Errorf("%w: manifest is %d bytes, more than %d", ErrMalformed, len(text), MaxSize)
	}
	base, err := parseManifestURL(manifestURL)
	if err != nil {
		return nil, err
	}
	m := &Manifest{URL: manifestURL}
	switch detect(text) {
	case formatHLS:
		err = parseHLS(text, base, m)
	case formatDASH:
		err = parseDASH(text, base, now, m)
	default:
		err = fmt.Errorf("%w: neither an HLS playlist (#EXTM3U) nor a DASH MPD", ErrMalformed)
	}
	if err != nil {
		return nil, err
	}
	m.index = buildIndex(m.Segments)
	return m, nil
}

// Rewrite returns text with the URIs a player fetches media through made
// to go through proxy, which maps an absolute http(s) URL to its proxied
// form (docs/browser-runtime.md: "<scope>__p2pmedia__/https/host/path?q").
//
// HLS: media segment, EXT-X-MAP, variant/EXT-X-MEDIA/EXT-X-I-FRAME-STREAM-INF
// and EXT-X-RENDITION-REPORT URIs. Keys (EXT-X-KEY, EXT-X-SESSION-KEY) and
// LL-HLS EXT-X-PART/EXT-X-PRELOAD-HINT URIs pass through to the origin
// untouched. DASH: BaseURL, Location, SegmentTemplate media/initialization/
// index/bitstreamSwitching, SegmentURL media/index, and the sourceURL of
// Initialization, RepresentationIndex and BitstreamSwitching.
//
// A relative reference stays as it is when it resolves to the same place
// under the proxied manifest URL (a path-relative reference without ".."
// does); one that would not (a "/path" or "//host" reference, or ".." that
// climbs out of the origin's path) is replaced by proxy of its absolute URL.
// An absolute http(s) URI is replaced by proxy(it). Everything else is kept
// byte for byte. Every error wraps ErrMalformed; on error the caller should
// serve the original text.
func Rewrite(text []byte, manifestURL string, proxy func(absURL string) string) ([]byte, error) {
	if len(text) > MaxSize {
		return nil, fmt.Errorf("%w: manifest is %d bytes, more than %d", ErrMalformed, len(text), MaxSize)
	}
	if proxy == nil {
		return nil, fmt.Errorf("%w: nil proxy function", ErrMalformed)
	}
	base, err := parseManifestURL(manifestURL)
	if err != nil {
		return nil, err
	}
	rw := &rewriter{proxy: proxy}
	switch detect(text) {
	case formatHLS:
		return rw.rewriteHLS(text, base)
	case formatDASH:
		return rw.rewriteDASH(text, base)
	}
	return nil, fmt.Errorf("%w: neither an HLS playlist (#EXTM3U) nor a DASH MPD", ErrMalformed)
}

type format int

const (
	formatUnknown format = iota
	formatHLS
	formatDASH
)

// detect tells HLS from DASH by the first bytes, after an optional UTF-8
// byte order mark and white space.
func detect(text []byte) format {
	t := bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
	t = bytes.TrimLeft(t, " \t\r\n")
	switch {
	case bytes.HasPrefix(t, []byte("#EXTM3U")):
		return formatHLS
	case bytes.HasPrefix(t, []byte("<")):
		return formatDASH // the XML decoder checks that the root is MPD
	}
	return formatUnknown
}

func parseManifestURL(manifestURL string) (*url.URL, error) {
	if len(manifestURL) > MaxURLLength {
		return nil, fmt.Errorf("%w: manifest URL longer than %d bytes", ErrMalformed, MaxURLLength)
	}
	u, err := url.Parse(manifestURL)
	if err != nil {
		return nil, fmt.Errorf("%w: manifest URL %q: %v", ErrMalformed, manifestURL, err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: manifest URL %q is not an absolute http(s) URL", ErrMalformed, manifestURL)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// trimURL strips what a browser's URL parser strips from both ends of a
// URL: C0 controls and spaces.
func trimURL(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// resolve resolves the reference ref against base and drops the fragment.
func resolve(base *url.URL, ref string) (*url.URL, error) {
	ref = trimURL(ref)
	if len(ref) > MaxURLLength {
		return nil, fmt.Errorf("%w: URI longer than %d bytes", ErrMalformed, MaxURLLength)
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: URI %q: %v", ErrMalformed, ref, err)
	}
	u := base.ResolveReference(r)
	u.Fragment, u.RawFragment = "", ""
	abs := u.String()
	if len(abs) > MaxURLLength {
		return nil, fmt.Errorf("%w: URL longer than %d bytes", ErrMalformed, MaxURLLength)
	}
	if _, err := url.Parse(abs); err != nil {
		// "//::" parses as a reference, but what it resolves to does not.
		return nil, fmt.Errorf("%w: URI %q resolves to %q: %v", ErrMalformed, ref, abs, err)
	}
	return u, nil
}

// channelOf is identity.ChannelID, or "" for a URL that cannot be one.
func channelOf(u string) string {
	c, err := identity.ChannelID(u)
	if err != nil {
		return ""
	}
	return c
}

// normalizeURL gives the form URLs are compared in by Lookup: parsed and
// re-serialised, without fragment, lowercase host, no default port.
func normalizeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	u.Fragment, u.RawFragment = "", ""
	u.Host = strings.ToLower(u.Host)
	if (u.Scheme == "https" && strings.HasSuffix(u.Host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(u.Host, ":80")) {
		u.Host = u.Host[:strings.LastIndexByte(u.Host, ':')]
	}
	return u.String()
}

type rangeKey struct {
	url        string
	start, end int64
}

type segmentIndex struct {
	byURL   map[string][]int // normalized URL → indexes into Segments, in order
	byRange map[rangeKey]int // exact (URL, range) → first index
}

func buildIndex(segs []Segment) *segmentIndex {
	ix := &segmentIndex{byURL: make(map[string][]int), byRange: make(map[rangeKey]int)}
	norm := make(map[string]string) // segments often share a URL
	for i, s := range segs {
		n, ok := norm[s.URL]
		if !ok {
			n = normalizeURL(s.URL)
			norm[s.URL] = n
		}
		ix.byURL[n] = append(ix.byURL[n], i)
		if s.Range != nil {
			k := rangeKey{n, s.Range.Start, s.Range.End}
			if _, ok := ix.byRange[k]; !ok {
				ix.byRange[k] = i
			}
		}
	}
	return ix
}

// Lookup maps a request for absURL (with byte range r, nil for none) back
// to its segment. A request without range matches a whole-URL segment. A
// ranged request matches, in this order, a segment with exactly that range,
// a segment whose range contains it, or a whole-URL segment (the request is
// then a part of that resource). ok is false when nothing matches.
func (m *Manifest) Lookup(absURL string, r *ByteRange) (Segment, bool) {
	if r != nil && (r.Start < 0 || r.End <= r.Start) {
		return Segment{}, false
	}
	n := normalizeURL(absURL)
	var ids []int
	if m.index != nil {
		if r != nil {
			if i, ok := m.index.byRange[rangeKey{n, r.Start, r.End}]; ok {
				return m.Segments[i], true
			}
		}
		ids = m.index.byURL[n]
	} else {
		for i, s := range m.Segments {
			if normalizeURL(s.URL) == n {
				ids = append(ids, i)
			}
		}
	}
	if r != nil {
		for _, i := range ids {
			if sr := m.Segments[i].Range; sr != nil && *sr == *r {
				return m.Segments[i], true
			}
		}
		for _, i := range ids {
			if sr := m.Segments[i].Range; sr != nil && sr.Start <= r.Start && r.End <= sr.End {
				return m.Segments[i], true
			}
		}
	}
	for _, i := range ids {
		if m.Segments[i].Range == nil {
			return m.Segments[i], true
		}
	}
	return Segment{}, false
}
