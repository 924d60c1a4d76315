package piecehash

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

const kib = 1024

// sample returns n deterministic bytes.
func sample(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// listOf builds the list of data[start:end] cut in pieces of l.
func listOf(t testing.TB, data []byte, start, end, l int64) *List {
	t.Helper()
	sums, err := Sum(bytes.NewReader(data[start:end]), end-start, l)
	if err != nil {
		t.Fatal(err)
	}
	return &List{Version: FormatVersion, URL: "https://cdn.example.com/a.mp4", Size: int64(len(data)),
		ETag: `"v1"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT", Start: start, End: end, PieceLength: l, Pieces: sums}
}

func TestRoundTripAndVerify(t *testing.T) {
	data := sample(100*kib + 3)
	for _, tc := range []struct {
		name       string
		start, end int64
		pieces     int
	}{
		{"whole", 0, int64(len(data)), 7},
		{"range", 20 * kib, 60*kib + 1, 3},
		{"exact", 0, 32 * kib, 2},
		{"empty", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listOf(t, data, tc.start, tc.end, 16*kib)
			enc, err := l.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode(%s): %v", enc, err)
			}
			if len(got.Pieces) != tc.pieces {
				t.Fatalf("%d pieces, want %d", len(got.Pieces), tc.pieces)
			}
			for i := range got.Pieces {
				s, e, _ := got.PieceRange(i)
				if err := got.Verify(i, data[s:e]); err != nil {
					t.Errorf("Verify(%d): %v", i, err)
				}
				bad := bytes.Clone(data[s:e])
				bad[len(bad)/2] ^= 1
				if err := got.Verify(i, bad); !errors.Is(err, ErrMismatch) {
					t.Errorf("Verify(%d, flipped byte) = %v, want ErrMismatch", i, err)
				}
				if err := got.Verify(i, data[s:e-1]); !errors.Is(err, ErrMismatch) {
					t.Errorf("Verify(%d, short) = %v, want ErrMismatch", i, err)
				}
			}
			if err := got.Verify(len(got.Pieces), nil); !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify(past the end) = %v, want ErrInvalid", err)
			}
			if err := got.Verify(-1, nil); !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify(-1) = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestEncodeEmptyHasArray(t *testing.T) {
	l := &List{Version: 1, URL: "u", PieceLength: 16 * kib}
	enc, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(enc, []byte(`"pieces":[]`)) {
		t.Errorf("Encode = %s, want an empty pieces array", enc)
	}
}

// hx is a valid hash in hex.
var hx = strings.Repeat("ab", 32)

func TestDecodeErrors(t *testing.T) {
	doc := func(fields string) string {
		return `{"version":1,"url":"https://a/b.mp4","etag":"","lastModified":"",` + fields + `}`
	}
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not json", `{`, "unexpected end"},
		{"trailing", doc(`"size":1,"start":0,"end":1,"pieceLength":16384,"pieces":["`+hx+`"]`) + `x`, "invalid character"},
		{"array", `[]`, "cannot unmarshal array"},
		{"version", `{"version":2,"url":"u","size":0,"start":0,"end":0,"pieceLength":16384,"pieces":[]}`, "version 2"},
		{"no url", `{"version":1,"size":0,"start":0,"end":0,"pieceLength":16384,"pieces":[]}`, "no url"},
		{"no pieces", doc(`"size":0,"start":0,"end":0,"pieceLength":16384`), "no pieces array"},
		{"null pieces", doc(`"size":0,"start":0,"end":0,"pieceLength":16384,"pieces":null`), "no pieces array"},
		{"too few", doc(`"size":16385,"start":0,"end":16385,"pieceLength":16384,"pieces":["` + hx + `"]`), "1 pieces, want 2"},
		{"too many", doc(`"size":1,"start":0,"end":1,"pieceLength":16384,"pieces":["` + hx + `","` + hx + `"]`), "2 pieces, want 1"},
		{"short hex", doc(`"size":1,"start":0,"end":1,"pieceLength":16384,"pieces":["abcd"]`), "4 characters"},
		{"long hex", doc(`"size":1,"start":0,"end":1,"pieceLength":16384,"pieces":["` + hx + `00"]`), "66 characters"},
		{"not hex", doc(`"size":1,"start":0,"end":1,"pieceLength":16384,"pieces":["` + strings.Repeat("zz", 32) + `"]`), "not hex"},
		{"null piece", doc(`"size":1,"start":0,"end":1,"pieceLength":16384,"pieces":[null]`), "want a hex string"},
		{"number piece", doc(`"size":1,"start":0,"end":1,"pieceLength":16384,"pieces":[1]`), "want a hex string"},
		{"piece length zero", doc(`"size":0,"start":0,"end":0,"pieceLength":0,"pieces":[]`), "pieceLength 0"},
		{"piece length odd", doc(`"size":0,"start":0,"end":0,"pieceLength":1000,"pieces":[]`), "pieceLength 1000"},
		{"piece length huge", doc(`"size":0,"start":0,"end":0,"pieceLength":33554432,"pieces":[]`), "pieceLength 33554432"},
		{"negative size", doc(`"size":-1,"start":0,"end":0,"pieceLength":16384,"pieces":[]`), "size -1"},
		{"size too big", doc(`"size":1099511627777,"start":0,"end":0,"pieceLength":16384,"pieces":[]`), "size 1099511627777"},
		{"end past size", doc(`"size":1,"start":0,"end":2,"pieceLength":16384,"pieces":["` + hx + `"]`), "range [0, 2)"},
		{"end before start", doc(`"size":9,"start":5,"end":4,"pieceLength":16384,"pieces":[]`), "range [5, 4)"},
		{"negative start", doc(`"size":9,"start":-1,"end":4,"pieceLength":16384,"pieces":["` + hx + `"]`), "range [-1, 4)"},
		{"too many pieces", doc(`"size":1099511627776,"start":0,"end":1099511627776,"pieceLength":16384,"pieces":[]`), "more than 65536"},
		{"string size", doc(`"size":"1","start":0,"end":1,"pieceLength":16384,"pieces":[]`), "cannot unmarshal string"},
		{"long etag", `{"version":1,"url":"u","etag":"` + strings.Repeat("e", 257) + `","size":0,"start":0,"end":0,"pieceLength":16384,"pieces":[]}`, "ETag longer"},
		{"long url", `{"version":1,"url":"` + strings.Repeat("u", MaxURLLength+1) + `","size":0,"start":0,"end":0,"pieceLength":16384,"pieces":[]}`, "url longer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.doc))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode = %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
	if _, err := Decode(make([]byte, MaxDocumentSize+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Decode(oversized) = %v, want ErrInvalid", err)
	}
}

func TestDecodeUppercaseHexAndUnknownFields(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	up := strings.ToUpper(Hash(sum).String())
	l, err := Decode([]byte(`{"version":1,"url":"u","size":1,"start":0,"end":1,"pieceLength":16384,"pieces":["` + up + `"],"later":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(0, []byte("x")); err != nil {
		t.Error(err)
	}
}

func TestSum(t *testing.T) {
	data := sample(50 * kib)
	sums, err := Sum(bytes.NewReader(data), int64(len(data)), 16*kib)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 4 {
		t.Fatalf("%d sums, want 4", len(sums))
	}
	for i, s := range sums {
		want := sha256.Sum256(data[i*16*kib : min((i+1)*16*kib, len(data))])
		if s != want {
			t.Errorf("piece %d: %s, want %x", i, s, want)
		}
	}
	// The same bytes written in odd chunks give the same sums.
	s := NewSummer(16 * kib)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1000+len(rest)%777)
		s.Write(rest[:n])
		rest = rest[n:]
	}
	if got := s.Sums(); fmt.Sprint(got) != fmt.Sprint(sums) {
		t.Error("chunked writes gave other sums")
	}
	if _, err := Sum(bytes.NewReader(data[:10]), 11, 16*kib); err != io.ErrUnexpectedEOF {
		t.Errorf("Sum(short reader) = %v, want io.ErrUnexpectedEOF", err)
	}
}

func FuzzDecodePieces(f *testing.F) {
	data := sample(40 * kib)
	for _, r := range [][2]int64{{0, 40 * kib}, {0, 0}, {3, 16*kib + 3}} {
		enc, err := listOf(f, data, r[0], r[1], 16*kib).Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte(`{"version":1,"url":"u","size":1,"start":0,"end":1,"pieceLength":16384,"pieces":["` + hx + `"]}`))
	f.Add([]byte(`{"version":1,"url":"u","size":1,"start":0,"end":1,"pieceLength":16384,"pieces":[null]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		l, err := Decode(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// What decodes re-encodes to a document that decodes the same.
		enc, err := l.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded list: %v", err)
		}
		l2, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(l)): %v", err)
		}
		if fmt.Sprint(l) != fmt.Sprint(l2) {
			t.Fatalf("round trip changed the list: %v != %v", l, l2)
		}
		for i := range l.Pieces {
			s, e, ok := l.PieceRange(i)
			if !ok || s < l.Start || e > l.End || s >= e {
				t.Fatalf("piece %d: range [%d, %d) ok=%v outside [%d, %d)", i, s, e, ok, l.Start, l.End)
			}
		}
	})
}
