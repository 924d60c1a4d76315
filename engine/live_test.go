//go:build !js

package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// countingOrigin serves data with ranges and an ETag, and counts the
// requests it gets by method.
type countingOrigin struct {
	URL string
	mu  sync.Mutex
	n   map[string]int
}

func newCountingOrigin(t *testing.T, data []byte) *countingOrigin {
	o := &countingOrigin{n: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.n[r.Method]++
		o.mu.Unlock()
		w.Header().Set("ETag", `"seg"`)
		http.ServeContent(w, r, "seg.ts", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL + "/live/seg-7.ts"
	return o
}

func (o *countingOrigin) requests() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return map[string]int{"GET": o.n["GET"], "HEAD": o.n["HEAD"]}
}

// readAll reads every piece of r and fails t unless they make data.
func readAll(t *testing.T, r *engine.Resource, data []byte, deadline time.Duration) {
	t.Helper()
	checkReads(t, readPieces(r, all(r.PieceCount()), in(deadline)), data, false)
}

// TestLiveResource: a live segment is opened without a request of its own.
// A lone viewer is its own elected fetcher and learns the segment's size from
// the response to its first piece; a second viewer learns it from the first
// one's announcement and asks the origin nothing.
func TestLiveResource(t *testing.T) {
	data := swarmtest.Media(3*pieceLen + 999)
	o := newCountingOrigin(t, data)
	announce := swarmtest.Tracker(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	a := newEngine(t, announce)
	sa, err := a.JoinURL("http://live.example/stream.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	ra, err := sa.LiveResource(ctx, "7", o.URL, time.Second)
	if err != nil {
		t.Fatalf("A: LiveResource: %v", err)
	}
	if got := ra.Info().Size; got != int64(len(data)) {
		t.Fatalf("A: size %d, want %d", got, len(data))
	}
	readAll(t, ra, data, 0)
	if got, want := o.requests(), map[string]int{"GET": pieceCount(data), "HEAD": 0}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("A alone: origin requests %v, want %v (one GET per piece, the first opening the segment)", got, want)
	}

	b := newEngine(t, announce)
	sb, err := b.JoinURL("http://live.example/stream.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to connect to A", func() bool { return len(b.Peers()) == 1 })
	before := o.requests()
	rb, err := sb.LiveResource(ctx, "7", o.URL, 10*time.Second)
	if err != nil {
		t.Fatalf("B: LiveResource: %v", err)
	}
	readAll(t, rb, data, 10*time.Second)
	if got := o.requests(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("B: origin requests went from %v to %v, want none: the segment is A's to give", before, got)
	}
	if st := b.Stats(); st.P2PDownloaded != int64(len(data)) || st.HTTPDownloaded != 0 {
		t.Errorf("B: stats %+v, want the whole segment from A", st)
	}
}

// TestLiveResourceErrors: an origin that cannot be reached and an invalid
// name give errors, not resources.
func TestLiveResourceErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	e := newEngine(t, "", httpOnly)
	sw, err := e.JoinURL("http://live.example/stream.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	missing := newCountingOrigin(t, nil).URL + "-missing"
	if _, err := sw.LiveResource(ctx, "8", "http://127.0.0.1:1/nothing-listens.ts", time.Second); err == nil {
		t.Error("LiveResource of an unreachable origin succeeded")
	}
	if _, err := sw.LiveResource(ctx, "", missing, time.Second); err == nil {
		t.Error("LiveResource with an empty name succeeded")
	}
}
