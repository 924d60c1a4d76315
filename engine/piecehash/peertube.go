package piecehash

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Bounds of a PeerTube list.
const (
	// MaxPeerTubeFiles bounds the file names of a segments-sha256.json (a
	// VOD list has one per resolution; a live one, one per segment of the
	// window the server keeps).
	MaxPeerTubeFiles = 4096
	// MaxPeerTubeRanges bounds the byte ranges of one file (one per segment
	// of a fragmented MP4 rendition).
	MaxPeerTubeRanges = 1 << 16
	// MaxPeerTubeEntries bounds the hashes of a whole list.
	MaxPeerTubeEntries = 1 << 17
	// MaxPeerTubeDocumentSize bounds an encoded PeerTube list.
	MaxPeerTubeDocumentSize = 16 << 20
	// MaxPeerTubeNameLength bounds a file name.
	MaxPeerTubeNameLength = 256
	// maxOffset bounds byte offsets: the integers a JavaScript number
	// holds exactly, as PeerTube's server writes them.
	maxOffset = 1<<53 - 1
)

// PeerTubeList is a decoded PeerTube segments-sha256.json: for each segment
// file name, either the SHA-256 of the whole file (live streams: one file a
// segment) or that of each byte range of it (VOD: one fragmented MP4 a
// resolution, one range a segment).
//
// PeerTube's server writes it as
//
//	{ "<file name>": "<hex sha256>" }                          (live)
//	{ "<file name>": { "<first>-<last>": "<hex sha256>" } }    (VOD)
//
// where first and last are the inclusive byte offsets of an
// EXT-X-BYTERANGE of the resolution's playlist.
type PeerTubeList struct {
	files map[string]peerTubeFile
}

// peerTubeFile holds the hashes of one file: whole is set for a whole-file
// hash, ranges (sorted, disjoint) otherwise.
type peerTubeFile struct {
	whole  *Hash
	ranges []peerTubeRange
}

// peerTubeRange is the hash of bytes [start, end) of a file.
type peerTubeRange struct {
	start, end int64
	hash       Hash
}

// DecodePeerTube parses and validates a segments-sha256.json: a JSON object
// whose keys are file names (non-empty, at most MaxPeerTubeNameLength
// bytes, no '/', '\\' or control character, unique) and whose values are
// either 64 hex digits or an object of canonical "first-last" decimal
// ranges (first ≤ last, no leading zeros, disjoint) to 64 hex digits.
func DecodePeerTube(data []byte) (*PeerTubeList, error) {
	if len(data) > MaxPeerTubeDocumentSize {
		return nil, fmt.Errorf("%w: PeerTube list of %d bytes exceeds %d", ErrInvalid, len(data), MaxPeerTubeDocumentSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	l := &PeerTubeList{files: make(map[string]peerTubeFile)}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	entries := 0
	for dec.More() {
		name, err := readKey(dec)
		if err != nil {
			return nil, err
		}
		if err := validFileName(name); err != nil {
			return nil, err
		}
		if _, dup := l.files[name]; dup {
			return nil, fmt.Errorf("%w: file %q appears twice", ErrInvalid, name)
		}
		if len(l.files) == MaxPeerTubeFiles {
			return nil, fmt.Errorf("%w: more than %d files", ErrInvalid, MaxPeerTubeFiles)
		}
		f, err := readFile(dec, name, MaxPeerTubeEntries-entries)
		if err != nil {
			return nil, err
		}
		entries += max(1, len(f.ranges))
		l.files[name] = f
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the PeerTube list", ErrInvalid)
	}
	return l, nil
}

// readFile reads one file's value: a hash string or an object of ranges,
// of at most budget entries.
func readFile(dec *json.Decoder, name string, budget int) (peerTubeFile, error) {
	tok, err := dec.Token()
	if err != nil {
		return peerTubeFile{}, fmt.Errorf("%w: file %q: %v", ErrInvalid, name, err)
	}
	switch v := tok.(type) {
	case string:
		h, err := ParseHash(v)
		if err != nil {
			return peerTubeFile{}, fmt.Errorf("file %q: %w", name, err)
		}
		return peerTubeFile{whole: &h}, nil
	case json.Delim:
		if v != '{' {
			break
		}
		var f peerTubeFile
		for dec.More() {
			key, err := readKey(dec)
			if err != nil {
				return peerTubeFile{}, fmt.Errorf("file %q: %w", name, err)
			}
			start, end, err := parsePeerTubeRange(key)
			if err != nil {
				return peerTubeFile{}, fmt.Errorf("file %q: %w", name, err)
			}
			if len(f.ranges) == MaxPeerTubeRanges || len(f.ranges) == budget {
				return peerTubeFile{}, fmt.Errorf("%w: file %q: more than %d ranges", ErrInvalid, name, min(MaxPeerTubeRanges, budget))
			}
			var raw json.RawMessage
			var s string
			if err := dec.Decode(&raw); err != nil {
				return peerTubeFile{}, fmt.Errorf("%w: file %q, range %q: %v", ErrInvalid, name, key, err)
			}
			if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
				return peerTubeFile{}, fmt.Errorf("%w: file %q, range %q: want a hex string, got %.80s", ErrInvalid, name, key, raw)
			}
			h, err := ParseHash(s)
			if err != nil {
				return peerTubeFile{}, fmt.Errorf("file %q, range %q: %w", name, key, err)
			}
			f.ranges = append(f.ranges, peerTubeRange{start: start, end: end, hash: h})
		}
		if err := expectDelim(dec, '}'); err != nil {
			return peerTubeFile{}, err
		}
		slices.SortFunc(f.ranges, func(a, b peerTubeRange) int { return cmpInt64(a.start, b.start) })
		for i := 1; i < len(f.ranges); i++ {
			if f.ranges[i].start < f.ranges[i-1].end {
				return peerTubeFile{}, fmt.Errorf("%w: file %q: ranges %s and %s overlap", ErrInvalid, name,
					formatPeerTubeRange(f.ranges[i-1]), formatPeerTubeRange(f.ranges[i]))
			}
		}
		return f, nil
	}
	return peerTubeFile{}, fmt.Errorf("%w: file %q: want a hex string or an object of ranges, got %v", ErrInvalid, name, tok)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func formatPeerTubeRange(r peerTubeRange) string {
	return strconv.FormatInt(r.start, 10) + "-" + strconv.FormatInt(r.end-1, 10)
}

// parsePeerTubeRange parses "first-last" (inclusive) into [first, last+1).
func parsePeerTubeRange(s string) (start, end int64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		start, ok = parseOffset(a)
	}
	if ok {
		end, ok = parseOffset(b)
	}
	if !ok || end < start {
		return 0, 0, fmt.Errorf("%w: range %.80q: want \"first-last\", decimal byte offsets with first ≤ last ≤ %d", ErrInvalid, s, int64(maxOffset))
	}
	return start, end + 1, nil
}

// parseOffset parses a canonical decimal (digits only, no leading zero)
// no larger than maxOffset.
func parseOffset(s string) (int64, bool) {
	if s == "" || len(s) > 16 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v <= maxOffset
}

// validFileName checks a file name of a PeerTube list.
func validFileName(name string) error {
	if name == "" || len(name) > MaxPeerTubeNameLength {
		return fmt.Errorf("%w: file name %.80q: want 1 to %d bytes", ErrInvalid, name, MaxPeerTubeNameLength)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return fmt.Errorf("%w: file name %q has a '/', '\\' or control character", ErrInvalid, name)
		}
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%w: file name %q", ErrInvalid, name)
	}
	return nil
}

// readKey reads an object key.
func readKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: want an object key, got %v", ErrInvalid, tok)
	}
	return s, nil
}

// expectDelim reads the delimiter want.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: want %q, got %v", ErrInvalid, want, tok)
	}
	return nil
}

// Len returns the number of files in the list.
func (l *PeerTubeList) Len() int { return len(l.files) }

// Contains reports whether the list has hashes of the file name, of the
// whole file or of byte ranges of it.
func (l *PeerTubeList) Contains(name string) bool {
	_, ok := l.files[name]
	return ok
}

// RangeHash is the SHA-256 of bytes [Start, End) of a file.
type RangeHash struct {
	Start, End int64
	Hash       Hash
}

// Ranges returns the hashes the list holds of byte ranges of the file
// name, sorted and disjoint; nil when it has none (the file is not named,
// or hashed whole).
func (l *PeerTubeList) Ranges(name string) []RangeHash {
	f := l.files[name]
	if len(f.ranges) == 0 {
		return nil
	}
	out := make([]RangeHash, len(f.ranges))
	for i, r := range f.ranges {
		out[i] = RangeHash{Start: r.start, End: r.end, Hash: r.hash}
	}
	return out
}

// Lookup returns the hash the list holds for bytes [start, end) of the file
// name; start 0 and end -1 ask for the whole-file hash. ok is false when
// the list holds no hash for exactly that file and range.
func (l *PeerTubeList) Lookup(name string, start, end int64) (h Hash, ok bool) {
	f, found := l.files[name]
	if !found {
		return Hash{}, false
	}
	if end < 0 {
		if start != 0 || f.whole == nil {
			return Hash{}, false
		}
		return *f.whole, true
	}
	i, found := slices.BinarySearchFunc(f.ranges, start, func(r peerTubeRange, s int64) int { return cmpInt64(r.start, s) })
	if !found || f.ranges[i].end != end {
		return Hash{}, false
	}
	return f.ranges[i].hash, true
}

// Verify reports whether data is bytes [start, end) of the file name, or
// the whole file when end is -1 (start 0). Its errors wrap ErrMismatch for
// bytes that differ and ErrInvalid when the list holds no such hash.
func (l *PeerTubeList) Verify(name string, start, end int64, data []byte) error {
	want, ok := l.Lookup(name, start, end)
	if !ok {
		if end < 0 {
			return fmt.Errorf("%w: no hash of the whole file %q", ErrInvalid, name)
		}
		return fmt.Errorf("%w: no hash of bytes [%d, %d) of %q", ErrInvalid, start, end, name)
	}
	if end >= 0 && int64(len(data)) != end-start {
		return fmt.Errorf("%w: %q [%d, %d): %d bytes", ErrMismatch, name, start, end, len(data))
	}
	if sha256.Sum256(data) != want {
		return fmt.Errorf("%w: %q", ErrMismatch, name)
	}
	return nil
}

// SegmentName returns the name a PeerTube list knows a segment URL by: the
// last element of its path, unescaped, without the query (as PeerTube's
// player takes it).
func SegmentName(segmentURL string) (string, error) {
	u, err := url.Parse(segmentURL)
	if err != nil {
		return "", fmt.Errorf("%w: segment URL: %v", ErrInvalid, err)
	}
	name := path.Base(u.Path)
	if err := validFileName(name); err != nil {
		return "", err
	}
	return name, nil
}
