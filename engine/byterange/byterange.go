// Package byterange parses and formats HTTP byte ranges (RFC 9110, section
// 14): the Range request header and the Content-Range response header.
//
// It supports single ranges only, which is all a media element, a player or
// the engine ever asks for. It depends on strings and strconv alone, so that
// it stays small in WebAssembly binaries.
package byterange

import (
	"errors"
	"strconv"
	"strings"
)

// Range is a span of bytes [Start, End) of a representation; End is
// exclusive.
type Range struct {
	// Start is the offset of the first byte.
	Start int64
	// End is the offset just past the last byte.
	End int64
}

// Len returns the number of bytes in the range.
func (r Range) Len() int64 { return r.End - r.Start }

// ErrUnsatisfiable reports a well-formed range that selects no byte of the
// representation; a server answers it with 416 Range Not Satisfiable.
var ErrUnsatisfiable = errors.New("byterange: range not satisfiable")

// ErrMalformed reports a header that is not a valid byte range. A server
// ignores a malformed Range header and answers 200 with the whole
// representation.
var ErrMalformed = errors.New("byterange: malformed range")

// ErrMultipart reports a Range header that asks for several ranges, which
// this package does not support. A server may ignore the header and answer
// 200 with the whole representation.
var ErrMultipart = errors.New("byterange: multiple ranges not supported")

// maxInt64 is the largest offset or size a range can hold.
const maxInt64 = 1<<63 - 1

// isOWS reports whether c is optional whitespace (RFC 9110, section 5.6.3).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes leading and trailing optional whitespace.
func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// saturate returns the value of the digit string s (see isDigits), or
// maxInt64 when it does not fit.
func saturate(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return maxInt64
	}
	return v
}

// lessDecimal reports whether the digit string a is numerically smaller than
// the digit string b, whatever their magnitude.
func lessDecimal(a, b string) bool {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// cutUnit splits "unit<sep>rest" and reports whether unit is "bytes"
// (case-insensitive, as range units are) once trimmed of whitespace.
func cutUnit(s string, sep byte) (rest string, ok bool) {
	i := strings.IndexByte(s, sep)
	if i < 0 || !strings.EqualFold(trimOWS(s[:i]), "bytes") {
		return "", false
	}
	return s[i+1:], true
}

// ParseRange parses a Range request header ("bytes=a-b", "bytes=a-" or
// "bytes=-n") against a representation of size bytes.
//
// Whitespace around the unit, the '=', the '-' and list commas is tolerated,
// as are empty list elements. The returned range satisfies
// 0 <= Start < End <= size: a last position beyond the representation is
// clamped, and a suffix longer than it selects all of it.
//
// The errors are ErrMalformed (not a byte range, including a-b with b < a:
// serve the whole representation), ErrMultipart (several ranges) and
// ErrUnsatisfiable (a start at or past size, a zero-length suffix, or any
// range of an empty representation: answer 416). A negative size counts as
// an empty representation. Numbers of any length are handled without
// overflow.
func ParseRange(header string, size int64) (Range, error) {
	set, ok := cutUnit(header, '=')
	if !ok {
		return Range{}, ErrMalformed
	}
	var spec string
	n := 0
	for _, elem := range strings.Split(set, ",") {
		elem = trimOWS(elem)
		if elem == "" {
			continue
		}
		if !wellFormed(elem) {
			return Range{}, ErrMalformed
		}
		spec = elem
		n++
	}
	switch {
	case n == 0:
		return Range{}, ErrMalformed
	case n > 1:
		return Range{}, ErrMultipart
	}
	return resolve(spec, size)
}

// wellFormed reports whether spec is "a-b" (a <= b), "a-" or "-n", with
// optional whitespace around the '-'.
func wellFormed(spec string) bool {
	i := strings.IndexByte(spec, '-')
	if i < 0 {
		return false
	}
	first, last := trimOWS(spec[:i]), trimOWS(spec[i+1:])
	switch {
	case first == "":
		return isDigits(last)
	case !isDigits(first):
		return false
	case last == "":
		return true
	default:
		return isDigits(last) && !lessDecimal(last, first)
	}
}

// resolve turns a well-formed range spec into a range of a representation
// of size bytes.
func resolve(spec string, size int64) (Range, error) {
	if size <= 0 {
		return Range{}, ErrUnsatisfiable
	}
	i := strings.IndexByte(spec, '-')
	first, last := trimOWS(spec[:i]), trimOWS(spec[i+1:])
	if first == "" {
		n := saturate(last)
		if n == 0 {
			return Range{}, ErrUnsatisfiable
		}
		if n > size {
			n = size
		}
		return Range{Start: size - n, End: size}, nil
	}
	start := saturate(first)
	if start >= size {
		return Range{}, ErrUnsatisfiable
	}
	end := size
	if last != "" {
		// last >= start, so last+1 overflows only when last is saturated,
		// and then it exceeds size anyway.
		if l := saturate(last); l < size-1 {
			end = l + 1
		}
	}
	return Range{Start: start, End: end}, nil
}

// ParseContentRange parses a Content-Range response header.
//
// "bytes a-b/size" yields the range [a, b+1) and size; "bytes a-b/*" yields
// the range and size -1 (unknown). "bytes */size", which comes with a 416
// response, yields ErrUnsatisfiable together with size. Anything else,
// including a last position before the first or at or past a known size,
// and numbers beyond int64, yields ErrMalformed.
func ParseContentRange(header string) (r Range, size int64, err error) {
	rest, ok := cutUnit(trimOWS(header), ' ')
	if !ok {
		return Range{}, 0, ErrMalformed
	}
	rest = trimOWS(rest)
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return Range{}, 0, ErrMalformed
	}
	resp, complete := trimOWS(rest[:slash]), trimOWS(rest[slash+1:])
	size = -1
	if complete != "*" {
		if size, ok = parseInt(complete); !ok {
			return Range{}, 0, ErrMalformed
		}
	}
	if resp == "*" {
		if size < 0 {
			return Range{}, 0, ErrMalformed
		}
		return Range{}, size, ErrUnsatisfiable
	}
	dash := strings.IndexByte(resp, '-')
	if dash < 0 {
		return Range{}, 0, ErrMalformed
	}
	first, ok1 := parseInt(trimOWS(resp[:dash]))
	last, ok2 := parseInt(trimOWS(resp[dash+1:]))
	if !ok1 || !ok2 || last < first || last == maxInt64 || (size >= 0 && last >= size) {
		return Range{}, 0, ErrMalformed
	}
	return Range{Start: first, End: last + 1}, size, nil
}

// parseInt parses a non-negative decimal made of digits only.
func parseInt(s string) (int64, bool) {
	if !isDigits(s) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// ContentRange formats the Content-Range header of a 206 response carrying r
// out of a representation of size bytes: "bytes a-b/size", where b is
// End-1. A negative size is written as "*" (unknown). r must not be empty.
func ContentRange(r Range, size int64) string {
	b := make([]byte, 0, 64)
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, r.Start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.End-1, 10)
	b = append(b, '/')
	if size < 0 {
		b = append(b, '*')
	} else {
		b = strconv.AppendInt(b, size, 10)
	}
	return string(b)
}

// Unsatisfied formats the Content-Range header of a 416 response for a
// representation of size bytes: "bytes */size".
func Unsatisfied(size int64) string {
	return "bytes */" + strconv.FormatInt(size, 10)
}

// Header formats the Range request header asking for r: "bytes=a-b", where
// b is End-1. r must not be empty.
func Header(r Range) string {
	b := make([]byte, 0, 48)
	b = append(b, "bytes="...)
	b = strconv.AppendInt(b, r.Start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.End-1, 10)
	return string(b)
}

// PieceSpanEnd returns where a span of a size-byte resource cut in pieces
// of length pieceLength ends when it starts at start and takes whole pieces
// up to most bytes past start: at least to the end of the piece holding
// start, else at the last piece end within start+most. A direct response
// (engine.Resource.DirectSpan, and the service worker under a lease) ends
// there.
func PieceSpanEnd(start, size, pieceLength, most int64) int64 {
	if size-start <= most {
		return size
	}
	end := (start/pieceLength + 1) * pieceLength
	for end+pieceLength-start <= most {
		end += pieceLength
	}
	return min(end, size)
}
