//go:build js && wasm

package main

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/manifest"
)

// Bounds of the segment map (docs/browser-runtime.md, "Manifests").
const (
	// maxVersions is how many parsed versions of one manifest URL are kept:
	// a live playlist's segments stay known for that many reloads after
	// leaving its window.
	maxVersions = 3
	// maxManifests bounds the manifest URLs remembered; the least recently
	// loaded go first.
	maxManifests = 32
	// maxSegmentEntries bounds the segments held over every kept version;
	// past it the least recently loaded manifests go (the newest stays).
	maxSegmentEntries = 60000
	// maxParents bounds the media playlist URLs learned from master
	// playlists; the map is cleared when full.
	maxParents = 1024
	// liveEdge is how many segments per rendition, newest first, are opened
	// ahead of the player when a live manifest is first loaded or moved by
	// more than that.
	liveEdge = 3
	// activeWindow: a DASH Representation counts as played when the player
	// asked for one of its segments this recently; only those are opened
	// ahead of the player.
	activeWindow = 30 * time.Second
)

// mediaKind says what the segment map knows of a URL.
type mediaKind int

const (
	// kindUnknown: no manifest lists the URL; it is a progressive file.
	kindUnknown mediaKind = iota
	// kindSegment: a segment that is the whole resource at its URL.
	kindSegment
	// kindFile: a file holding segments as byte ranges (EXT-X-BYTERANGE,
	// DASH SegmentList mediaRange or Initialization range); shared as one
	// resource.
	kindFile
)

// mediaRef is what the segment map knows of a media URL.
type mediaRef struct {
	kind mediaKind
	// seg is the segment (kindSegment).
	seg manifest.Segment
	// segs are the file's segments ordered by Range.Start (kindFile).
	segs []manifest.Segment
	// live and target are the listing manifest's Live flag and target
	// duration.
	live   bool
	target time.Duration
	// prev names the segment before seg in its playlist, in the same
	// swarm ("" for none): a VOD segment that the viewers reach together
	// follows it at the swarm's edge (engine.Resource.FollowEdge).
	prev string
	// prevURL is the URL of that segment.
	prevURL string
	// whole is true for a DASH Representation that is one file
	// (SegmentBase): its playback time grows with the byte offset.
	whole bool
	// root is the URL of the manifest the player started from: the HLS
	// master playlist (when it went through the page), else the media
	// playlist, or the MPD. A channelId function is called with it.
	root string
	// rendition names the rendition independently of the host: the HLS
	// rendition id from the master playlist (else the media playlist's
	// path), or the DASH Representation id. A custom channel id is combined
	// with it, one swarm per rendition.
	rendition string
}

// mpVersion is one parsed version of a manifest, indexed by URL.
type mpVersion struct {
	m         *manifest.Manifest
	root      string
	rendition map[string]string // segment channel → rendition key
	whole     map[string]int    // normalized URL → its whole-URL segment
	ranged    map[string][]int  // normalized URL → its ranged segments
}

// parent is what a master playlist says of one of its media playlists.
type parent struct {
	root string // the master playlist's URL
	id   string // the rendition's id in it
}

// segmentMap remembers the segments of the manifests the page loaded for
// its player, so that a request for a segment joins its rendition's swarm
// under the segment's name. It is safe for concurrent use.
type segmentMap struct {
	mu       sync.Mutex
	lists    map[string][]*mpVersion // normalized manifest URL → versions, oldest first
	order    []string                // manifest URLs, least recently loaded first
	entries  int                     // segments held over every version
	parents  map[string]parent       // normalized media playlist URL → its master
	active   map[string]time.Time    // segment channel → last player request
	lastLive map[string]map[string]bool
}

func newSegmentMap() *segmentMap {
	return &segmentMap{
		lists:    make(map[string][]*mpVersion),
		parents:  make(map[string]parent),
		active:   make(map[string]time.Time),
		lastLive: make(map[string]map[string]bool),
	}
}

// normalizeURL gives the form URLs are compared in: parsed and
// re-serialised, without fragment, lowercase host, no default port. A URL
// that does not parse is compared as it is.
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
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

// pathKey is the rendition key of a media playlist no master introduced:
// its URL's path, without host and query.
func pathKey(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.EscapedPath()
}

// record adds a parsed manifest and returns the segments a live manifest
// revealed that should be opened ahead of the player (see liveFresh). A
// master playlist's renditions are remembered as the parents of their
// media playlists.
func (sm *segmentMap) record(m *manifest.Manifest, now time.Time) []manifest.Segment {
	key := normalizeURL(m.URL)
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if m.Kind == manifest.HLSMaster {
		if len(sm.parents)+len(m.Renditions) > maxParents {
			clear(sm.parents)
		}
		for _, r := range m.Renditions {
			if r.URL != "" {
				sm.parents[normalizeURL(r.URL)] = parent{root: m.URL, id: r.ID}
			}
		}
		return nil
	}
	v := &mpVersion{
		m:         m,
		root:      m.URL,
		rendition: make(map[string]string),
		whole:     make(map[string]int),
		ranged:    make(map[string][]int),
	}
	switch m.Kind {
	case manifest.HLSMedia:
		rk := pathKey(m.URL)
		if p, ok := sm.parents[key]; ok {
			v.root, rk = p.root, p.id
		}
		for _, s := range m.Segments {
			v.rendition[s.Channel] = rk
		}
	case manifest.DASH:
		for _, r := range m.Renditions {
			v.rendition[r.Channel] = r.ID
		}
	}
	for i, s := range m.Segments {
		n := normalizeURL(s.URL)
		if s.Range == nil {
			if _, ok := v.whole[n]; !ok {
				v.whole[n] = i
			}
		} else {
			v.ranged[n] = append(v.ranged[n], i)
		}
	}
	for _, ids := range v.ranged {
		slices.SortStableFunc(ids, func(a, b int) int {
			ra, rb := m.Segments[a].Range, m.Segments[b].Range
			switch {
			case ra.Start < rb.Start:
				return -1
			case ra.Start > rb.Start:
				return 1
			}
			return 0
		})
	}

	sm.lists[key] = append(sm.lists[key], v)
	sm.entries += len(m.Segments)
	if vs := sm.lists[key]; len(vs) > maxVersions {
		sm.entries -= len(vs[0].m.Segments)
		vs[0] = nil
		sm.lists[key] = vs[1:]
	}
	sm.touchLocked(key)
	for len(sm.order) > 1 && (len(sm.order) > maxManifests || sm.entries > maxSegmentEntries) {
		sm.dropLocked(sm.order[0])
	}

	if !m.Live {
		delete(sm.lastLive, key)
		return nil
	}
	return sm.liveFreshLocked(key, m, now)
}

// touchLocked moves a manifest URL to the end of the order.
func (sm *segmentMap) touchLocked(key string) {
	if i := slices.Index(sm.order, key); i >= 0 {
		sm.order = slices.Delete(sm.order, i, i+1)
	}
	sm.order = append(sm.order, key)
}

// dropLocked forgets every version of a manifest URL.
func (sm *segmentMap) dropLocked(key string) {
	for _, v := range sm.lists[key] {
		sm.entries -= len(v.m.Segments)
	}
	delete(sm.lists, key)
	delete(sm.lastLive, key)
	if i := slices.Index(sm.order, key); i >= 0 {
		sm.order = slices.Delete(sm.order, i, i+1)
	}
}

// liveFreshLocked returns the media segments of a live manifest that its
// previous load did not list, at most liveEdge per rendition (the newest),
// for the renditions the player plays: an HLS media playlist is one
// rendition the player is loading; a DASH Representation counts when the
// player asked for one of its segments within activeWindow.
func (sm *segmentMap) liveFreshLocked(key string, m *manifest.Manifest, now time.Time) []manifest.Segment {
	prev := sm.lastLive[key]
	seen := make(map[string]bool, len(m.Segments))
	perChannel := make(map[string][]manifest.Segment)
	var channels []string
	for _, s := range m.Segments {
		if s.Init || s.Range != nil {
			continue
		}
		n := normalizeURL(s.URL)
		seen[n] = true
		if prev[n] {
			continue
		}
		if m.Kind == manifest.DASH {
			if at, ok := sm.active[s.Channel]; !ok || now.Sub(at) > activeWindow {
				continue
			}
		}
		if _, ok := perChannel[s.Channel]; !ok {
			channels = append(channels, s.Channel)
		}
		perChannel[s.Channel] = append(perChannel[s.Channel], s)
	}
	sm.lastLive[key] = seen
	var out []manifest.Segment
	for _, c := range channels {
		segs := perChannel[c]
		out = append(out, segs[max(len(segs)-liveEdge, 0):]...)
	}
	return out
}

// played records that the player asked for a segment of channel.
func (sm *segmentMap) played(channel string, now time.Time) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if len(sm.active) >= maxManifests*16 {
		for c, at := range sm.active {
			if now.Sub(at) > activeWindow {
				delete(sm.active, c)
			}
		}
	}
	sm.active[channel] = now
}

// previous returns the name and URL of the media segment before segs[k]
// in the same channel, "" when there is none (or segs[k] is an init
// segment).
func previous(segs []manifest.Segment, k int) (name, url string) {
	if segs[k].Init {
		return "", ""
	}
	for i := k - 1; i >= 0; i-- {
		if s := segs[i]; s.Channel == segs[k].Channel && !s.Init {
			return s.Name, s.URL
		}
	}
	return "", ""
}

// lookup returns what the kept manifests say of a media URL, the most
// recently loaded first.
func (sm *segmentMap) lookup(mediaURL string) mediaRef {
	n := normalizeURL(mediaURL)
	sm.mu.Lock()
	defer sm.mu.Unlock()
	for i := len(sm.order) - 1; i >= 0; i-- {
		vs := sm.lists[sm.order[i]]
		for j := len(vs) - 1; j >= 0; j-- {
			v := vs[j]
			ref := mediaRef{live: v.m.Live, target: v.m.TargetDuration, root: v.root}
			if k, ok := v.whole[n]; ok {
				ref.kind, ref.seg = kindSegment, v.m.Segments[k]
				ref.prev, ref.prevURL = previous(v.m.Segments, k)
				ref.rendition = v.rendition[ref.seg.Channel]
				ref.whole = v.m.Kind == manifest.DASH && !ref.seg.Init && strings.HasSuffix(ref.seg.Name, "file")
				return ref
			}
			if ids, ok := v.ranged[n]; ok {
				ref.kind = kindFile
				ref.segs = make([]manifest.Segment, len(ids))
				for x, k := range ids {
					ref.segs[x] = v.m.Segments[k]
				}
				ref.rendition = v.rendition[ref.segs[0].Channel]
				return ref
			}
		}
	}
	return mediaRef{}
}
