package byterange

import (
	"errors"
	"testing"
)

const huge = "99999999999999999999999999" // beyond int64

func TestParseRange(t *testing.T) {
	tests := []struct {
		header string
		size   int64
		want   Range
		err    error
	}{
		// Plain forms.
		{"bytes=0-99", 1000, Range{0, 100}, nil},
		{"bytes=0-0", 1000, Range{0, 1}, nil},
		{"bytes=500-", 1000, Range{500, 1000}, nil},
		{"bytes=-100", 1000, Range{900, 1000}, nil},
		{"bytes=999-999", 1000, Range{999, 1000}, nil},
		{"bytes=0-", 1, Range{0, 1}, nil},
		// Clamping.
		{"bytes=0-1999", 1000, Range{0, 1000}, nil},
		{"bytes=500-1000", 1000, Range{500, 1000}, nil},
		{"bytes=-5000", 1000, Range{0, 1000}, nil},
		{"bytes=-1000", 1000, Range{0, 1000}, nil},
		// Whitespace, case and empty list elements.
		{"  bytes = 10 - 19 ", 1000, Range{10, 20}, nil},
		{"bytes=\t-5\t", 10, Range{5, 10}, nil},
		{"Bytes=1-2", 10, Range{1, 3}, nil},
		{"BYTES=1-", 10, Range{1, 10}, nil},
		{"bytes=, 1-2 ,,", 10, Range{1, 3}, nil},
		{"bytes=007-009", 10, Range{7, 10}, nil},
		// Overflow.
		{"bytes=0-" + huge, 1000, Range{0, 1000}, nil},
		{"bytes=-" + huge, 1000, Range{0, 1000}, nil},
		{"bytes=" + huge + "-", 1000, Range{}, ErrUnsatisfiable},
		{"bytes=" + huge + "-" + huge + "9", 1000, Range{}, ErrUnsatisfiable},
		{"bytes=9223372036854775806-9223372036854775807", 9223372036854775807, Range{9223372036854775806, 9223372036854775807}, nil},
		{"bytes=0-9223372036854775807", 9223372036854775807, Range{0, 9223372036854775807}, nil},
		// Unsatisfiable.
		{"bytes=1000-", 1000, Range{}, ErrUnsatisfiable},
		{"bytes=1000-2000", 1000, Range{}, ErrUnsatisfiable},
		{"bytes=-0", 1000, Range{}, ErrUnsatisfiable},
		{"bytes=-000", 1000, Range{}, ErrUnsatisfiable},
		{"bytes=0-0", 0, Range{}, ErrUnsatisfiable},
		{"bytes=0-", 0, Range{}, ErrUnsatisfiable},
		{"bytes=-1", 0, Range{}, ErrUnsatisfiable},
		{"bytes=0-", -5, Range{}, ErrUnsatisfiable},
		// Malformed: served as if there were no Range header.
		{"", 1000, Range{}, ErrMalformed},
		{"bytes", 1000, Range{}, ErrMalformed},
		{"bytes=", 1000, Range{}, ErrMalformed},
		{"bytes= , ", 1000, Range{}, ErrMalformed},
		{"bytes=-", 1000, Range{}, ErrMalformed},
		{"bytes=5", 1000, Range{}, ErrMalformed},
		{"bytes=9-5", 1000, Range{}, ErrMalformed},
		{"bytes=" + huge + "9-" + huge, 1000, Range{}, ErrMalformed},
		{"bytes=1-2-3", 1000, Range{}, ErrMalformed},
		{"bytes=+1-2", 1000, Range{}, ErrMalformed},
		{"bytes=1-+2", 1000, Range{}, ErrMalformed},
		{"bytes=--1", 1000, Range{}, ErrMalformed},
		{"bytes=0x1-2", 1000, Range{}, ErrMalformed},
		{"bytes=1 0-20", 1000, Range{}, ErrMalformed},
		{"items=0-5", 1000, Range{}, ErrMalformed},
		{"bytes 0-5", 1000, Range{}, ErrMalformed},
		{"bytes=0-5,x", 1000, Range{}, ErrMalformed},
		{"bytes=9-5", 0, Range{}, ErrMalformed},
		// Several ranges.
		{"bytes=0-1,5-6", 1000, Range{}, ErrMultipart},
		{"bytes=0-1, -5", 1000, Range{}, ErrMultipart},
		{"bytes=0-1,0-1", 1000, Range{}, ErrMultipart},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.header, tt.size)
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("ParseRange(%q, %d) error = %v, want %v", tt.header, tt.size, err, tt.err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseRange(%q, %d) = %+v, want %+v", tt.header, tt.size, got, tt.want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		header string
		want   Range
		size   int64
		err    error
	}{
		{"bytes 0-99/1000", Range{0, 100}, 1000, nil},
		{"bytes 999-999/1000", Range{999, 1000}, 1000, nil},
		{"bytes 0-0/1", Range{0, 1}, 1, nil},
		{"bytes 10-19/*", Range{10, 20}, -1, nil},
		{"Bytes  10 - 19 / 20 ", Range{10, 20}, 20, nil},
		{" bytes 0-9223372036854775806/9223372036854775807", Range{0, 9223372036854775807}, 9223372036854775807, nil},
		{"bytes */1000", Range{}, 1000, ErrUnsatisfiable},
		{"bytes */0", Range{}, 0, ErrUnsatisfiable},
		{"bytes * / 7", Range{}, 7, ErrUnsatisfiable},
		{"", Range{}, 0, ErrMalformed},
		{"bytes", Range{}, 0, ErrMalformed},
		{"bytes ", Range{}, 0, ErrMalformed},
		{"bytes=0-1/2", Range{}, 0, ErrMalformed},
		{"bytes0-1/2", Range{}, 0, ErrMalformed},
		{"items 0-1/2", Range{}, 0, ErrMalformed},
		{"bytes */*", Range{}, 0, ErrMalformed},
		{"bytes 0-1", Range{}, 0, ErrMalformed},
		{"bytes 0-/10", Range{}, 0, ErrMalformed},
		{"bytes -1/10", Range{}, 0, ErrMalformed},
		{"bytes 5-4/10", Range{}, 0, ErrMalformed},
		{"bytes 0-10/10", Range{}, 0, ErrMalformed},
		{"bytes 0-0/0", Range{}, 0, ErrMalformed},
		{"bytes 0-1/-5", Range{}, 0, ErrMalformed},
		{"bytes +0-1/5", Range{}, 0, ErrMalformed},
		{"bytes 0-1/" + huge, Range{}, 0, ErrMalformed},
		{"bytes 0-" + huge + "/*", Range{}, 0, ErrMalformed},
		{"bytes 0-9223372036854775807/*", Range{}, 0, ErrMalformed},
		{"bytes 0-1/2/3", Range{}, 0, ErrMalformed},
		{"bytes 0-1,3-4/5", Range{}, 0, ErrMalformed},
	}
	for _, tt := range tests {
		got, size, err := ParseContentRange(tt.header)
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("ParseContentRange(%q) error = %v, want %v", tt.header, err, tt.err)
			continue
		}
		if got != tt.want || size != tt.size {
			t.Errorf("ParseContentRange(%q) = %+v, %d, want %+v, %d", tt.header, got, size, tt.want, tt.size)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		r        Range
		size     int64
		header   string
		content  string
		unsatisf string
	}{
		{Range{0, 100}, 1000, "bytes=0-99", "bytes 0-99/1000", "bytes */1000"},
		{Range{999, 1000}, 1000, "bytes=999-999", "bytes 999-999/1000", "bytes */1000"},
		{Range{5, 6}, -1, "bytes=5-5", "bytes 5-5/*", "bytes */-1"},
	}
	for _, tt := range tests {
		if got := Header(tt.r); got != tt.header {
			t.Errorf("Header(%+v) = %q, want %q", tt.r, got, tt.header)
		}
		if got := ContentRange(tt.r, tt.size); got != tt.content {
			t.Errorf("ContentRange(%+v, %d) = %q, want %q", tt.r, tt.size, got, tt.content)
		}
		if got := Unsatisfied(tt.size); got != tt.unsatisf {
			t.Errorf("Unsatisfied(%d) = %q, want %q", tt.size, got, tt.unsatisf)
		}
		if got := tt.r.Len(); got != tt.r.End-tt.r.Start {
			t.Errorf("%+v.Len() = %d", tt.r, got)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, size := range []int64{1, 2, 7, 1000, 1<<63 - 1} {
		for _, r := range []Range{{0, 1}, {0, size}, {size - 1, size}, {size / 2, size}} {
			if r.Start >= r.End {
				continue
			}
			got, err := ParseRange(Header(r), size)
			if err != nil || got != r {
				t.Errorf("ParseRange(Header(%+v), %d) = %+v, %v", r, size, got, err)
			}
			got, gotSize, err := ParseContentRange(ContentRange(r, size))
			if err != nil || got != r || gotSize != size {
				t.Errorf("ParseContentRange(ContentRange(%+v, %d)) = %+v, %d, %v", r, size, got, gotSize, err)
			}
		}
		if _, got, err := ParseContentRange(Unsatisfied(size)); !errors.Is(err, ErrUnsatisfiable) || got != size {
			t.Errorf("ParseContentRange(Unsatisfied(%d)) = %d, %v", size, got, err)
		}
	}
}

func isKnown(err error) bool {
	return err == nil || err == ErrMalformed || err == ErrUnsatisfiable || err == ErrMultipart
}

func FuzzParseRange(f *testing.F) {
	seeds := []struct {
		h    string
		size int64
	}{
		{"bytes=0-99", 1000},
		{"bytes=500-", 1000},
		{"bytes=-100", 1000},
		{"bytes=0-1,5-6", 1000},
		{"bytes=9-5", 10},
		{"bytes=-0", 10},
		{"bytes=0-" + huge, 0},
		{" Bytes = 1 - 2 ,", 3},
	}
	for _, s := range seeds {
		f.Add(s.h, s.size)
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		r, err := ParseRange(h, size)
		if !isKnown(err) {
			t.Fatalf("ParseRange(%q, %d): unexpected error %v", h, size, err)
		}
		if err != nil {
			if r != (Range{}) {
				t.Fatalf("ParseRange(%q, %d) = %+v with error %v", h, size, r, err)
			}
			return
		}
		if r.Start < 0 || r.Start >= r.End || r.End > size {
			t.Fatalf("ParseRange(%q, %d) = %+v: out of bounds", h, size, r)
		}
		if got, err := ParseRange(Header(r), size); err != nil || got != r {
			t.Fatalf("ParseRange(Header(%+v), %d) = %+v, %v", r, size, got, err)
		}
		got, gotSize, err := ParseContentRange(ContentRange(r, size))
		if err != nil || got != r || gotSize != size {
			t.Fatalf("ParseContentRange(ContentRange(%+v, %d)) = %+v, %d, %v", r, size, got, gotSize, err)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{
		"bytes 0-99/1000",
		"bytes 10-19/*",
		"bytes */1000",
		"bytes */*",
		"bytes 0-10/10",
		"bytes 0-" + huge + "/*",
		" Bytes  1 - 2 / 3 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r, size, err := ParseContentRange(h)
		switch {
		case errors.Is(err, ErrUnsatisfiable):
			if size < 0 {
				t.Fatalf("ParseContentRange(%q): unsatisfied with size %d", h, size)
			}
			if _, got, err := ParseContentRange(Unsatisfied(size)); !errors.Is(err, ErrUnsatisfiable) || got != size {
				t.Fatalf("ParseContentRange(Unsatisfied(%d)) = %d, %v", size, got, err)
			}
			return
		case err != nil:
			if err != ErrMalformed {
				t.Fatalf("ParseContentRange(%q): unexpected error %v", h, err)
			}
			return
		}
		if r.Start < 0 || r.Start >= r.End || size < -1 || (size >= 0 && r.End > size) {
			t.Fatalf("ParseContentRange(%q) = %+v, %d: out of bounds", h, r, size)
		}
		got, gotSize, err := ParseContentRange(ContentRange(r, size))
		if err != nil || got != r || gotSize != size {
			t.Fatalf("ParseContentRange(ContentRange(%+v, %d)) = %+v, %d, %v", r, size, got, gotSize, err)
		}
		if size >= 0 {
			if got, err := ParseRange(Header(r), size); err != nil || got != r {
				t.Fatalf("ParseRange(Header(%+v), %d) = %+v, %v", r, size, got, err)
			}
		}
	})
}

func TestPieceSpanEnd(t *testing.T) {
	for _, c := range []struct {
		start, size, l, most, want int64
	}{
		{0, 100, 10, 1000, 100}, // the whole rest fits
		{0, 100, 10, 35, 30},    // three whole pieces
		{5, 100, 10, 35, 40},    // from inside a piece: ends within start+most
		{5, 100, 10, 3, 10},     // at least the piece holding start
		{0, 95, 10, 95, 95},     // the short last piece fits
		{85, 95, 10, 5, 90},     // the piece holding start, not the last
		{60, 95, 10, 30, 90},    // 95-60 > 30: stops at the boundary
		{60, 95, 10, 35, 95},    // the short last piece ends within most
	} {
		if got := PieceSpanEnd(c.start, c.size, c.l, c.most); got != c.want {
			t.Errorf("PieceSpanEnd(%d, %d, %d, %d) = %d, want %d", c.start, c.size, c.l, c.most, got, c.want)
		}
	}
}
