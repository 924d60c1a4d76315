package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// liveWindow is the number of segments in a live media playlist.
const liveWindow = 5

// liveStream turns the demo's VOD HLS stream (a master playlist and media
// playlists of equal segment counts, MPEG-TS segments) into a live stream
// that advances in real time and loops over the VOD segments for ever.
//
//	GET /master.m3u8           the VOD master playlist, unchanged: its relative
//	                           URIs name the live media playlists
//	GET /<rendition>/<list>    the live media playlist of a rendition: the
//	                           last liveWindow segments, no EXT-X-ENDLIST
//	GET /<rendition>/seg-N.ts  segment N (the media sequence number): the VOD
//	                           segment N mod (segments per loop), with an ETag
//	                           of its own; 404 outside the playlist's window
//
// The media sequence number of the window's first segment is the number of
// whole target durations elapsed since the stream started. A loop's first
// segment carries EXT-X-DISCONTINUITY (the timestamps start again) and
// EXT-X-DISCONTINUITY-SEQUENCE counts the loops that left the window.
type liveStream struct {
	dir        string // the VOD stream's directory
	master     []byte
	renditions map[string]*liveRendition
	loop       int           // segments per loop
	step       time.Duration // how often the window moves: the target duration
	target     int           // EXT-X-TARGETDURATION, seconds
	start      time.Time
	now        func() time.Time
}

// liveRendition is one media playlist of the VOD stream.
type liveRendition struct {
	name        string // the directory of the rendition, relative to liveStream.dir
	playlist    string // the media playlist's file name
	version     int    // EXT-X-VERSION, 0 when absent
	independent bool   // EXT-X-INDEPENDENT-SEGMENTS
	segments    []vodSegment
}

// vodSegment is one segment of a VOD media playlist.
type vodSegment struct {
	duration string // the EXTINF duration, as written
	file     string // the segment's file name in the rendition's directory
}

// newLiveStream reads the VOD stream whose master playlist is
// dir/master.m3u8 and returns the live stream made of it. The stream starts
// at now(); now is the clock every request reads.
func newLiveStream(dir string, now func() time.Time) (*liveStream, error) {
	master, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil {
		return nil, fmt.Errorf("live: reading the master playlist: %w", err)
	}
	uris, err := masterURIs(master)
	if err != nil {
		return nil, fmt.Errorf("live: %s: %w", filepath.Join(dir, "master.m3u8"), err)
	}
	l := &liveStream{dir: dir, master: master, renditions: make(map[string]*liveRendition), now: now}
	for _, uri := range uris {
		name, file, ok := strings.Cut(uri, "/")
		if !ok || !cleanName(name) || !cleanName(file) || strings.Contains(file, "/") || !strings.HasSuffix(file, ".m3u8") {
			return nil, fmt.Errorf("live: media playlist URI %q: want <rendition>/<name>.m3u8", uri)
		}
		if _, dup := l.renditions[name]; dup {
			continue
		}
		body, err := os.ReadFile(filepath.Join(dir, name, file))
		if err != nil {
			return nil, fmt.Errorf("live: reading the media playlist: %w", err)
		}
		r, target, err := parseVODPlaylist(body)
		if err != nil {
			return nil, fmt.Errorf("live: %s: %w", path.Join(name, file), err)
		}
		r.name, r.playlist = name, file
		for _, s := range r.segments {
			fi, err := os.Stat(filepath.Join(dir, name, s.file))
			if err != nil || !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("live: %s: segment %s is not a readable file", path.Join(name, file), s.file)
			}
		}
		switch {
		case l.loop == 0:
			l.loop = len(r.segments)
		case l.loop != len(r.segments):
			return nil, fmt.Errorf("live: %s has %d segments and another rendition %d: a loop needs equal counts",
				path.Join(name, file), len(r.segments), l.loop)
		}
		l.target = max(l.target, target)
		l.renditions[name] = r
	}
	if len(l.renditions) == 0 {
		return nil, errors.New("live: the master playlist names no media playlist")
	}
	l.step = time.Duration(l.target) * time.Second
	l.start = now()
	return l, nil
}

// masterURIs returns the URIs of the media playlists a master playlist
// names: the lines after EXT-X-STREAM-INF and the URI attributes of
// EXT-X-MEDIA.
func masterURIs(master []byte) ([]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(master))
	first := true
	var uris []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return nil, errors.New("no #EXTM3U on the first line")
			}
			first = false
			continue
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-MEDIA:"):
			if uri, ok := quotedAttr(strings.TrimPrefix(line, "#EXT-X-MEDIA:"), "URI"); ok {
				uris = append(uris, uri)
			}
		case strings.HasPrefix(line, "#"):
		default:
			uris = append(uris, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if first {
		return nil, errors.New("empty playlist")
	}
	return uris, nil
}

// quotedAttr returns the value of the quoted attribute name of an HLS
// attribute list.
func quotedAttr(list, name string) (string, bool) {
	for list != "" {
		key, rest, ok := strings.Cut(list, "=")
		if !ok {
			return "", false
		}
		if !strings.HasPrefix(rest, `"`) {
			_, list, _ = strings.Cut(rest, ",")
			continue
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return "", false
		}
		if strings.TrimSpace(key) == name {
			return rest[1 : end+1], true
		}
		list = strings.TrimPrefix(rest[end+2:], ",")
	}
	return "", false
}

// parseVODPlaylist reads what the live stream needs of a VOD media
// playlist: its segments, version, EXT-X-INDEPENDENT-SEGMENTS and target
// duration. Features a loop cannot repeat (byte ranges, initialisation
// sections, keys) are refused.
func parseVODPlaylist(body []byte) (*liveRendition, int, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	r := &liveRendition{}
	target := 0
	pending := "" // the duration of an EXTINF waiting for its URI
	first := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return nil, 0, errors.New("no #EXTM3U on the first line")
			}
			first = false
			continue
		}
		tag, value, _ := strings.Cut(line, ":")
		var err error
		switch {
		case line == "":
		case tag == "#EXT-X-VERSION":
			r.version, err = strconv.Atoi(value)
		case tag == "#EXT-X-TARGETDURATION":
			target, err = strconv.Atoi(value)
			if err == nil && target <= 0 {
				err = errors.New("not positive")
			}
		case tag == "#EXT-X-INDEPENDENT-SEGMENTS":
			r.independent = true
		case tag == "#EXTINF":
			d, _, _ := strings.Cut(value, ",")
			var f float64
			f, err = strconv.ParseFloat(d, 64)
			if err == nil && (f <= 0 || f > 3600) {
				err = errors.New("out of range")
			}
			pending = d
		case tag == "#EXT-X-BYTERANGE", tag == "#EXT-X-MAP", tag == "#EXT-X-KEY", tag == "#EXT-X-DISCONTINUITY":
			return nil, 0, fmt.Errorf("%s: not supported in a loop", tag)
		case strings.HasPrefix(line, "#"):
		default:
			if pending == "" {
				return nil, 0, fmt.Errorf("segment %q without EXTINF", line)
			}
			if !cleanName(line) || strings.Contains(line, "/") {
				return nil, 0, fmt.Errorf("segment URI %q: want a file name in the playlist's directory", line)
			}
			r.segments = append(r.segments, vodSegment{duration: pending, file: line})
			pending = ""
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	if target == 0 {
		return nil, 0, errors.New("no EXT-X-TARGETDURATION")
	}
	if len(r.segments) == 0 {
		return nil, 0, errors.New("no segments")
	}
	return r, target, nil
}

// firstSeq returns the media sequence number of the first segment of the
// window at t.
func (l *liveStream) firstSeq(t time.Time) uint64 {
	elapsed := t.Sub(l.start)
	if elapsed < 0 {
		return 0
	}
	return uint64(elapsed / l.step)
}

// inWindow reports whether segment seq is in the window at t.
func (l *liveStream) inWindow(seq uint64, t time.Time) bool {
	first := l.firstSeq(t)
	return seq >= first && seq < first+liveWindow
}

// playlist returns the media playlist of r at t.
func (l *liveStream) playlist(r *liveRendition, t time.Time) []byte {
	first := l.firstSeq(t)
	loop := uint64(l.loop)
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n")
	if r.version > 0 {
		fmt.Fprintf(&b, "#EXT-X-VERSION:%d\n", r.version)
	}
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", l.target)
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	// The first segment's discontinuity sequence number: the loops begun
	// before it. A loop's first segment keeps its EXT-X-DISCONTINUITY only
	// while a segment precedes it in the window; once it is the first one,
	// the count above includes it.
	fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", first/loop)
	if r.independent {
		b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	}
	for seq := first; seq < first+liveWindow; seq++ {
		if seq%loop == 0 && seq != first {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXTINF:%s,\nseg-%d.ts\n", r.segments[seq%loop].duration, seq)
	}
	return b.Bytes()
}

// ServeHTTP implements http.Handler for the paths described on liveStream.
func (l *liveStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range mediaCORS {
		w.Header().Set(k, v)
	}
	now := l.now()
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "master.m3u8" {
		servePlaylist(w, r, l.master, l.start)
		return
	}
	name, file, ok := strings.Cut(p, "/")
	rend := l.renditions[name]
	if !ok || rend == nil {
		http.NotFound(w, r)
		return
	}
	if file == rend.playlist {
		moved := l.start.Add(time.Duration(l.firstSeq(now)) * l.step)
		servePlaylist(w, r, l.playlist(rend, now), moved)
		return
	}
	seq, ok := segmentSeq(file)
	if !ok || !l.inWindow(seq, now) {
		http.NotFound(w, r)
		return
	}
	seg := rend.segments[seq%uint64(l.loop)]
	f, fi, err := openRegular(filepath.Join(l.dir, rend.name), seg.file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	// The segment appeared when the window first held it.
	avail := l.start
	if seq >= liveWindow {
		avail = avail.Add(time.Duration(seq-liveWindow+1) * l.step)
	}
	w.Header().Set("Content-Type", contentType(seg.file))
	w.Header().Set("ETag", fmt.Sprintf(`"%s-%d"`, strings.Trim(fileETag(fi, ""), `"`), seq))
	http.ServeContent(w, r, seg.file, avail, f)
}

// servePlaylist serves a playlist that changes over time: a cache must
// revalidate it each time, against modTime, when it last changed.
func servePlaylist(w http.ResponseWriter, r *http.Request, body []byte, modTime time.Time) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", contentType(".m3u8"))
	http.ServeContent(w, r, "", modTime, bytes.NewReader(body))
}

// segmentSeq parses the media sequence number of a live segment's file name
// seg-<seq>.ts, written without leading zeros.
func segmentSeq(file string) (uint64, bool) {
	s, ok := strings.CutPrefix(file, "seg-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".ts")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(seq, 10) != s {
		return 0, false
	}
	return seq, true
}
