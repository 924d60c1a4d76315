//go:build !js

package hashsource_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/hashsource"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

var _ engine.SegmentHasher = (*hashsource.PeerTube)(nil)

func TestDefaultPeerTubeURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://pt.example/static/streaming-playlists/hls/live/uuid/0-000042.ts", "https://pt.example/static/streaming-playlists/hls/live/uuid/segments-sha256.json"},
		{"http://127.0.0.1:8080/a/b.mp4?token=x#t=1", "http://127.0.0.1:8080/a/segments-sha256.json"},
		{"https://pt.example/seg.ts", "https://pt.example/segments-sha256.json"},
		{"https://pt.example/dir/", "https://pt.example/dir/segments-sha256.json"},
		{"/relative/seg.ts", ""},
		{"ftp://pt.example/seg.ts", ""},
		{"https://%zz/seg.ts", ""},
	} {
		got, err := hashsource.DefaultPeerTubeURL(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("DefaultPeerTubeURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// peerTubeServer serves a PeerTube list at /live/segments-sha256.json whose
// entries the test sets, and counts its requests.
type peerTubeServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	doc     map[string]any // file name → hex hash, or range → hex hash
	status  int
	fetches atomic.Int32
}

func newPeerTubeServer(t *testing.T) *peerTubeServer {
	s := &peerTubeServer{doc: map[string]any{}, status: http.StatusOK}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status != http.StatusOK {
			http.Error(w, "no", s.status)
			return
		}
		json.NewEncoder(w).Encode(s.doc)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// add lists the whole segment name with the hash of data.
func (s *peerTubeServer) add(name string, data []byte) piecehash.Hash {
	h := piecehash.Hash(sha256.Sum256(data))
	s.mu.Lock()
	s.doc[name] = h.String()
	s.mu.Unlock()
	return h
}

func (s *peerTubeServer) seg(name string) string { return s.srv.URL + "/live/" + name }

func TestPeerTubeSegmentHash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newPeerTubeServer(t)
	want1 := s.add("0-000001.ts", []byte("one"))
	s.mu.Lock()
	s.doc["f-720-fragmented.mp4"] = map[string]string{"0-99": strings.Repeat("ab", 32)}
	s.mu.Unlock()
	pt := &hashsource.PeerTube{Get: hashsource.HTTPGetter{}}

	for range 3 {
		if h, err := pt.SegmentHash(ctx, s.seg("0-000001.ts")+"?v=1"); err != nil || h != want1 {
			t.Fatalf("SegmentHash = %v, %v; want %v", h, err, want1)
		}
	}
	if n := s.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for three hashes of one list, want 1 (cached)", n)
	}

	// A segment the list does not name yet: the list is fetched again, no
	// sooner than a second after the previous fetch, until it names it.
	// Concurrent callers share the fetches.
	want2 := piecehash.Hash(sha256.Sum256([]byte("two")))
	time.AfterFunc(1500*time.Millisecond, func() { s.add("0-000002.ts", []byte("two")) })
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := pt.SegmentHash(ctx, s.seg("0-000002.ts"))
			if err == nil && h != want2 {
				err = fmt.Errorf("hash %v, want %v", h, want2)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(t0)
	// Fetches at about 1 s and 2 s after the first one.
	if n := s.fetches.Load(); n != 3 {
		t.Errorf("%d fetches in all, want 3: one per second of waiting, shared by the callers", n)
	}
	if el < 1500*time.Millisecond || el > 5*time.Second {
		t.Errorf("the new segment's hash came after %v, want after it was listed (1.5 s), at the next fetch", el)
	}

	// Hashes of byte ranges are not those of a whole file: refused at once.
	before := s.fetches.Load()
	if _, err := pt.SegmentHash(ctx, s.seg("f-720-fragmented.mp4")); !errors.Is(err, hashsource.ErrUnusable) {
		t.Errorf("SegmentHash of a ranged file = %v, want ErrUnusable", err)
	}
	if s.fetches.Load() != before {
		t.Error("a ranged file had the list fetched again")
	}
	// SegmentHashes gives them, and a whole-file hash as the one range
	// [0, size).
	ab := piecehash.Hash(bytes.Repeat([]byte{0xab}, 32))
	if got, err := pt.SegmentHashes(ctx, s.seg("f-720-fragmented.mp4"), 1000); err != nil || fmt.Sprint(got) != fmt.Sprint([]piecehash.RangeHash{{Start: 0, End: 100, Hash: ab}}) {
		t.Errorf("SegmentHashes of a ranged file = %v, %v; want [0, 100)", got, err)
	}
	if got, err := pt.SegmentHashes(ctx, s.seg("0-000001.ts"), 3); err != nil || fmt.Sprint(got) != fmt.Sprint([]piecehash.RangeHash{{Start: 0, End: 3, Hash: want1}}) {
		t.Errorf("SegmentHashes of a whole file = %v, %v; want [0, 3)", got, err)
	}

	// A segment that never comes: the wait ends with the context, or
	// after three more fetches that do not name it.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := pt.SegmentHash(short, s.seg("9-000009.ts")); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "does not name") {
		t.Errorf("SegmentHash of an unlisted segment = %v, want a deadline saying it is not named", err)
	}
	before = s.fetches.Load()
	t0 = time.Now()
	if _, err := pt.SegmentHash(ctx, s.seg("9-000009.ts")); !errors.Is(err, hashsource.ErrNoList) {
		t.Errorf("SegmentHash of a segment never listed = %v, want ErrNoList", err)
	}
	if n, el := s.fetches.Load()-before, time.Since(t0); n != 3 || el < 2*time.Second || el > 6*time.Second {
		t.Errorf("a segment never listed: %d fetches in %v, want 3, a second apart", n, el)
	}
}

func TestPeerTubeErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newPeerTubeServer(t)
	s.status = http.StatusNotFound
	pt := &hashsource.PeerTube{Get: hashsource.HTTPGetter{}}
	if _, err := pt.SegmentHash(ctx, s.seg("0-000001.ts")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("SegmentHash with a 404 list = %v, want an error naming the status", err)
	}
	// The failure answers for a second, without a new fetch; then the
	// list is fetched again.
	if _, err := pt.SegmentHash(ctx, s.seg("0-000002.ts")); err == nil || s.fetches.Load() != 1 {
		t.Errorf("second SegmentHash = %v after %d fetches, want the first failure again, 1 fetch", err, s.fetches.Load())
	}
	s.mu.Lock()
	s.status = http.StatusOK
	s.mu.Unlock()
	want := s.add("0-000002.ts", []byte("two"))
	time.Sleep(1100 * time.Millisecond)
	if h, err := pt.SegmentHash(ctx, s.seg("0-000002.ts")); err != nil || h != want || s.fetches.Load() != 2 {
		t.Errorf("after a second: %v, %v, %d fetches; want the hash from a second fetch", h, err, s.fetches.Load())
	}

	if _, err := pt.PieceHashes(ctx, s.seg("0-000002.ts"), 1<<19); !errors.Is(err, hashsource.ErrUnusable) {
		t.Errorf("PieceHashes = %v, want ErrUnusable", err)
	}
	none := &hashsource.PeerTube{Get: hashsource.HTTPGetter{}, URL: func(string) (string, error) { return "", nil }}
	if _, err := none.SegmentHash(ctx, s.seg("0-000002.ts")); !errors.Is(err, hashsource.ErrNoList) {
		t.Errorf("SegmentHash without a list = %v, want ErrNoList", err)
	}
	bad := &hashsource.PeerTube{Get: hashsource.HTTPGetter{}, URL: func(string) (string, error) { return "", errors.New("site says no") }}
	if _, err := bad.SegmentHash(ctx, s.seg("0-000002.ts")); err == nil || !strings.Contains(err.Error(), "site says no") {
		t.Errorf("SegmentHash with a failing URL function = %v", err)
	}
	if _, err := pt.SegmentHash(ctx, s.srv.URL+"/"); !errors.Is(err, piecehash.ErrInvalid) {
		t.Error("SegmentHash of a URL without a file name succeeded")
	}

	// A document that is not a PeerTube list.
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `["x"]`) }))
	defer junk.Close()
	if _, err := pt.SegmentHash(ctx, junk.URL+"/a/0-1.ts"); !errors.Is(err, piecehash.ErrInvalid) {
		t.Errorf("SegmentHash with a malformed list = %v, want piecehash.ErrInvalid", err)
	}
}

// TestPeerTubeCacheBound: the source keeps a bounded number of lists, the
// least recently used going first.
func TestPeerTubeCacheBound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newPeerTubeServer(t)
	s.add("0-1.ts", []byte("x"))
	pt := &hashsource.PeerTube{Get: hashsource.HTTPGetter{}, URL: func(u string) (string, error) {
		return s.srv.URL + "/" + strings.TrimPrefix(u, s.srv.URL+"/live/") + "/segments-sha256.json", nil
	}}
	// Twelve list URLs (one per "directory"), then the first again.
	for i := range 12 {
		if _, err := pt.SegmentHash(ctx, s.srv.URL+fmt.Sprintf("/live/d%d/0-1.ts", i)); err != nil {
			t.Fatal(err)
		}
	}
	n := s.fetches.Load()
	if _, err := pt.SegmentHash(ctx, s.srv.URL+"/live/d11/0-1.ts"); err != nil || s.fetches.Load() != n {
		t.Errorf("the last list used was fetched again (%v): want it cached", err)
	}
	if _, err := pt.SegmentHash(ctx, s.srv.URL+"/live/d0/0-1.ts"); err != nil || s.fetches.Load() != n+1 {
		t.Errorf("the first of twelve lists was not fetched again (%v, %d fetches): want the cache bounded", err, s.fetches.Load()-n)
	}
}
