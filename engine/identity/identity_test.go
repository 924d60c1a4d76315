package identity

import (
	"crypto/sha1"
	"errors"
	"strings"
	"testing"
)

func TestChannelID(t *testing.T) {
	tests := []struct {
		url, want string
		ok        bool
	}{
		{"https://cdn.example.com/v/a.mp4", "cdn.example.com/v/a.mp4", true},
		{"http://cdn.example.com/v/a.mp4?token=1&x=2", "cdn.example.com/v/a.mp4", true},
		{"https://cdn.example.com:8443/a.mp4#t=10", "cdn.example.com:8443/a.mp4", true},
		{"https://cdn.example.com/a%20b.mp4", "cdn.example.com/a%20b.mp4", true},
		{"HTTPS://cdn.example.com/a.mp4", "cdn.example.com/a.mp4", true},
		{"ftp://cdn.example.com/a.mp4", "", false},
		{"/relative/a.mp4", "", false},
		{"https://", "", false},
		{"::bad", "", false},
	}
	for _, tt := range tests {
		got, err := ChannelID(tt.url)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ChannelID(%q) = %q, %v; want %q, ok=%t", tt.url, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ChannelID(%q) error %v does not wrap ErrInvalid", tt.url, err)
		}
	}
}

func TestValidatePieceLength(t *testing.T) {
	for _, tt := range []struct {
		n  int64
		ok bool
	}{
		{DefaultPieceLength, true}, {PieceLengthUnit, true}, {MaxPieceLength, true}, {3 * PieceLengthUnit, true},
		{0, false}, {-PieceLengthUnit, false}, {1000, false}, {PieceLengthUnit + 1, false}, {MaxPieceLength + PieceLengthUnit, false},
	} {
		if err := ValidatePieceLength(tt.n); (err == nil) != tt.ok {
			t.Errorf("ValidatePieceLength(%d) = %v, want ok=%t", tt.n, err, tt.ok)
		}
	}
}

func TestNewSwarm(t *testing.T) {
	a, err := NewSwarm("", "cdn.example.com/a.mp4", false, DefaultPieceLength)
	if err != nil {
		t.Fatal(err)
	}
	if a.InfoHash != sha1.Sum([]byte(a.Key)) {
		t.Error("info hash is not SHA-1 of the key")
	}
	// Every part of the identity changes the swarm.
	for _, tt := range []struct {
		name          string
		token, ch     string
		custom        bool
		l             int64
		wantSameAsA   bool
		wantErrSubstr bool
	}{
		{"same", "", "cdn.example.com/a.mp4", false, DefaultPieceLength, true, false},
		{"other channel", "", "cdn.example.com/b.mp4", false, DefaultPieceLength, false, false},
		{"other piece length", "", "cdn.example.com/a.mp4", false, 2 * DefaultPieceLength, false, false},
		{"token", "t", "cdn.example.com/a.mp4", false, DefaultPieceLength, false, false},
		{"custom with token", "t", "my-channel", true, DefaultPieceLength, false, false},
	} {
		b, err := NewSwarm(tt.token, tt.ch, tt.custom, tt.l)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (b.InfoHash == a.InfoHash) != tt.wantSameAsA {
			t.Errorf("%s: same swarm = %t, want %t", tt.name, b.InfoHash == a.InfoHash, tt.wantSameAsA)
		}
	}
	// Length prefixes keep token/channel boundaries apart.
	x, _ := NewSwarm("ab", "c/d", false, DefaultPieceLength)
	y, _ := NewSwarm("a", "bc/d", false, DefaultPieceLength)
	if x.InfoHash == y.InfoHash {
		t.Error("token and channel id boundaries collide")
	}
	for _, bad := range []struct {
		token, ch string
		custom    bool
		l         int64
	}{
		{"", "", false, DefaultPieceLength},
		{"", "my-channel", true, DefaultPieceLength},
		{"t", "x", false, 1000},
	} {
		if _, err := NewSwarm(bad.token, bad.ch, bad.custom, bad.l); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewSwarm(%q, %q, %t, %d) = %v, want ErrInvalid", bad.token, bad.ch, bad.custom, bad.l, err)
		}
	}
}

func TestResourceVersion(t *testing.T) {
	base := ResourceInfo{Size: 100, ETag: `"a"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT"}
	for _, tt := range []struct {
		name string
		o    ResourceInfo
		same bool
	}{
		{"equal", base, true},
		{"size", ResourceInfo{Size: 101, ETag: base.ETag, LastModified: base.LastModified}, false},
		{"etag", ResourceInfo{Size: 100, ETag: `"b"`, LastModified: base.LastModified}, false},
		{"weak etag", ResourceInfo{Size: 100, ETag: `W/"a"`, LastModified: base.LastModified}, false},
		{"last-modified", ResourceInfo{Size: 100, ETag: base.ETag}, false},
		{"etag/lm boundary", ResourceInfo{Size: 100, ETag: `"a"` + "\x00", LastModified: ""}, false},
	} {
		if got := tt.o.Version() == base.Version(); got != tt.same {
			t.Errorf("%s: same version = %t, want %t", tt.name, got, tt.same)
		}
	}
	if err := (ResourceInfo{Size: -1}).Validate(); err == nil {
		t.Error("negative size validated")
	}
	long := make([]byte, MaxValidatorLen+1)
	if err := (ResourceInfo{ETag: string(long)}).Validate(); err == nil {
		t.Error("oversized ETag validated")
	}
	if err := ValidateName(string(long[:MaxNameLen+1])); err == nil {
		t.Error("oversized name validated")
	}
	if err := ValidateName("a\x00b"); err == nil {
		t.Error("name with NUL validated")
	}
}

func TestPieces(t *testing.T) {
	const l = 512 * 1024
	tests := []struct {
		size  int64
		count int
		last  [2]int64
	}{
		{0, 0, [2]int64{}},
		{1, 1, [2]int64{0, 1}},
		{l, 1, [2]int64{0, l}},
		{l + 1, 2, [2]int64{l, l + 1}},
		{2 * 1024 * 1024, 4, [2]int64{3 * l, 4 * l}},
		{24<<20 + 5, 49, [2]int64{48 * l, 24<<20 + 5}},
	}
	for _, tt := range tests {
		n := PieceCount(tt.size, l)
		if n != tt.count {
			t.Errorf("PieceCount(%d) = %d, want %d", tt.size, n, tt.count)
			continue
		}
		var covered int64
		for i := range n {
			s, e, ok := PieceRange(i, tt.size, l)
			if !ok || s != covered || e <= s || e-s > l {
				t.Fatalf("size %d piece %d = [%d,%d) ok=%t", tt.size, i, s, e, ok)
			}
			covered = e
			if i == n-1 && [2]int64{s, e} != tt.last {
				t.Errorf("size %d last piece [%d,%d), want %v", tt.size, s, e, tt.last)
			}
		}
		if covered != tt.size {
			t.Errorf("size %d: pieces cover %d bytes", tt.size, covered)
		}
		if _, _, ok := PieceRange(n, tt.size, l); ok {
			t.Errorf("size %d: piece %d past the end accepted", tt.size, n)
		}
		if _, _, ok := PieceRange(-1, tt.size, l); ok {
			t.Errorf("size %d: piece -1 accepted", tt.size)
		}
	}
	for _, tt := range []struct {
		start, end, size int64
		first, last      int
		ok               bool
	}{
		{0, 1, 10 * l, 0, 0, true},
		{0, l, 10 * l, 0, 0, true},
		{0, l + 1, 10 * l, 0, 1, true},
		{l - 1, l + 1, 10 * l, 0, 1, true},
		{5 * l, 10 * l, 10 * l, 5, 9, true},
		{5, 5, 10 * l, 0, 0, false},
		{-1, 5, 10 * l, 0, 0, false},
		{0, 10*l + 1, 10 * l, 0, 0, false},
	} {
		f, la, ok := PiecesSpanning(tt.start, tt.end, tt.size, l)
		if ok != tt.ok || (ok && (f != tt.first || la != tt.last)) {
			t.Errorf("PiecesSpanning(%d,%d,%d) = %d,%d,%t want %d,%d,%t", tt.start, tt.end, tt.size, f, la, ok, tt.first, tt.last, tt.ok)
		}
	}
}

func TestPieceKeyString(t *testing.T) {
	sw, _ := NewSwarm("", "cdn.example.com/a.mp4", false, DefaultPieceLength)
	a := PieceKey{Swarm: sw.InfoHash, Resource: "seg/1 2", Version: 7, Index: 3}.String()
	b := PieceKey{Swarm: sw.InfoHash, Resource: "seg/1 2", Version: 7, Index: 4}.String()
	c := PieceKey{Swarm: sw.InfoHash, Resource: "seg/1", Version: 7, Index: 3}.String()
	if a == b || a == c {
		t.Errorf("keys collide: %q %q %q", a, b, c)
	}
	if want := sw.InfoHash.String() + "/seg%2F1%202/0000000000000007/3"; a != want {
		t.Errorf("key %q, want %q", a, want)
	}
}

func TestURLName(t *testing.T) {
	a := URLName("12", "https://cdn.example.com/live/seg12.ts?ch=A")
	for _, tc := range []struct {
		name, other string
		same        bool
	}{
		{"other query", URLName("12", "https://cdn.example.com/live/seg12.ts?ch=B"), false},
		{"no query", URLName("12", "https://cdn.example.com/live/seg12.ts"), false},
		{"other path", URLName("12", "https://cdn.example.com/live2/seg12.ts?ch=A"), false},
		{"other host", URLName("12", "https://cdn2.example.com/live/seg12.ts?ch=A"), false},
		{"other base", URLName("13", "https://cdn.example.com/live/seg12.ts?ch=A"), false},
		{"http", URLName("12", "http://cdn.example.com/live/seg12.ts?ch=A"), true},
		{"fragment", URLName("12", "https://cdn.example.com/live/seg12.ts?ch=A#t=1"), true},
	} {
		if (tc.other == a) != tc.same {
			t.Errorf("%s: %q vs %q, same=%v want %v", tc.name, tc.other, a, tc.other == a, tc.same)
		}
	}
	if !strings.HasPrefix(a, "12@") || len(a) != len("12@")+16 {
		t.Errorf("URLName = %q, want 12@ and 16 hex digits", a)
	}
	if err := ValidateName(URLName(strings.Repeat("x", MaxNameLen-17), "https://a/b")); err != nil {
		t.Errorf("a name of MaxNameLen-17 bytes with its tag: %v", err)
	}
}
