//go:build !js

package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// directMax is engine.MaxDirect in pieces of the tests' length.
const directMax = engine.MaxDirect / pieceLen

// TestDirectSpan checks which bytes a lone peer hands to the caller: up to
// maxDirect past the start, to a piece boundary, the whole request or none
// when it takes no less, and none from a piece it holds or is fetching.
func TestDirectSpan(t *testing.T) {
	data := swarmtest.Media(int64(directMax+4)*pieceLen + 777)
	size := int64(len(data))
	e := newEngine(t, "", httpOnly)
	_, r := join(t, e, swarmtest.Origin(t, data))
	checkReads(t, readPieces(r, []int{directMax + 1}, in(0)), data, false)
	held := int64(directMax+1) * pieceLen
	for _, c := range []struct {
		name       string
		start, end int64
		partial    bool
		want       int64
	}{
		{"whole file, no less", 0, size, false, 0},
		{"whole file, less taken", 0, size, true, directMax * pieceLen},
		{"mid-piece start", 100, size, true, directMax * pieceLen},
		{"small range", 10, 1000, false, 1000},
		{"up to a held piece", held - 3*pieceLen - 5, size, true, held},
		{"in a held piece", held + 5, size, true, held + 5},
		{"last bytes", size - 10, size, false, size},
		{"past the end", size, size + 10, true, size},
		{"negative", -1, 10, true, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := r.DirectSpan(c.start, c.end, c.partial)
			if got != c.want {
				t.Errorf("DirectSpan(%d, %d, %t) = %d, want %d", c.start, c.end, c.partial, got, c.want)
			}
			// Handed over, its whole pieces are not handed again until
			// released (the piece the span starts inside may be).
			if boundary := (c.start/pieceLen + 1) * pieceLen; c.start >= 0 && got > boundary {
				if again := r.DirectSpan(c.start, c.end, true); again > boundary {
					t.Errorf("DirectSpan again = %d, want at most %d", again, boundary)
				}
				r.Release(c.start, boundary)
			}
			r.Release(c.start, got)
			if again := r.DirectSpan(c.start, c.end, c.partial); again != got {
				t.Errorf("DirectSpan after Release = %d, want %d", again, got)
			}
			r.Release(c.start, got)
		})
	}
	if got, want := e.Stats().HTTPDownloaded, int64(pieceLen); got != want {
		t.Errorf("HTTPDownloaded %d, want %d (the one piece read): DirectSpan fetched bytes itself", got, want)
	}
}

// TestDirectWrite has a lone peer (a tracker that counts nobody else) hand
// its first bytes to the caller, take them back through Write in chunks
// that do not fall on piece boundaries, serve them to a reader already
// waiting and from its store, and give them to a second peer, which is not
// alone and gets no span.
func TestDirectWrite(t *testing.T) {
	data := swarmtest.Media(6*pieceLen + 777)
	size := int64(len(data))
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)
	a := newEngine(t, announce)
	_, ra := join(t, a, url)
	var end int64
	waitFor(t, "the tracker to say A is alone", func() bool {
		end = ra.DirectSpan(100, size, true)
		return end > 100
	})
	if end != size {
		t.Fatalf("DirectSpan(100, %d) = %d, want the whole rest", size, end)
	}
	// A reader of a handed-over piece waits for the caller's bytes.
	waiting := make(chan readResult, 1)
	go func() { waiting <- readPieces(ra, []int{2}, in(0))[0] }()
	const chunk = 10000
	for off := int64(100); off < size; off += chunk {
		ra.Write(off, data[off:min(off+chunk, size)])
	}
	select {
	case res := <-waiting:
		checkReads(t, []readResult{res}, data, false)
	case <-time.After(waitLimit):
		t.Fatal("the reader of a written piece is still waiting")
	}
	if ra.Have(0) {
		t.Error("piece 0, written in part, is held")
	}
	for i := 1; i < ra.PieceCount(); i++ {
		if !ra.Have(i) {
			t.Errorf("piece %d written but not held", i)
		}
	}
	checkReads(t, readPieces(ra, []int{1, 6}, in(0)), data, false)
	if got, want := a.Stats().HTTPDownloaded, size-100; got != want {
		t.Errorf("A: HTTPDownloaded %d, want the %d bytes written", got, want)
	}

	b := newEngine(t, announce)
	_, rb := join(t, b, url)
	checkFromPeer(t, b, rb, []int{1, 2, 3, 4, 5, 6}, data)
	if got := rb.DirectSpan(0, size, true); got != 0 {
		t.Errorf("B, with A connected: DirectSpan = %d, want 0", got)
	}
}

// TestDirectStalled checks that a handed-over piece whose bytes stop
// coming goes back to the scheduler: its reader gets it over HTTP.
func TestDirectStalled(t *testing.T) {
	data := swarmtest.Media(3 * pieceLen)
	e := newEngine(t, "", httpOnly)
	_, r := join(t, e, swarmtest.Origin(t, data))
	if got := r.DirectSpan(0, int64(len(data)), false); got != int64(len(data)) {
		t.Fatalf("DirectSpan = %d, want the whole file", got)
	}
	r.Write(0, data[:pieceLen/2])
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	got, err := r.ReadPiece(ctx, 0, time.Now())
	if err != nil || string(got) != string(pieceOf(data, 0)) {
		t.Fatalf("ReadPiece(0) = %d bytes, %v; want piece 0", len(got), err)
	}
	if st := e.Stats().HTTPDownloaded; st != pieceLen {
		t.Errorf("HTTPDownloaded %d, want %d: half written, the rest of the stalled piece over HTTP", st, pieceLen)
	}
	// A late write of the stalled bytes changes nothing.
	r.Write(pieceLen/2, data[pieceLen/2:pieceLen])
	if !r.Have(0) {
		t.Error("piece 0 lost")
	}
}

// TestClaim has a peer that is not alone take bytes it did not fetch
// itself (a response the service worker gave the player straight from the
// origin): the pieces it neither holds nor fetches are stored, served and
// given to a peer; a piece it held keeps its bytes; all bytes count as
// HTTP once.
func TestClaim(t *testing.T) {
	data := swarmtest.Media(5*pieceLen + 777)
	size := int64(len(data))
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)
	a := newEngine(t, announce)
	sa, ra := join(t, a, url)
	b := newEngine(t, announce)
	_, rb := join(t, b, url)
	checkReads(t, readPieces(ra, []int{3}, in(0)), data, false)
	waitFor(t, "A and B to connect", func() bool { return sa.PeerCount() == 1 })

	from, end := int64(100), int64(4*pieceLen+50)
	ra.Claim(from, end)
	for off := from; off < end; off += 7000 {
		ra.Write(off, data[off:min(off+7000, end)])
	}
	for i, want := range []bool{false, true, true, true, false, false} {
		if got := ra.Have(i); got != want {
			t.Errorf("A: Have(%d) = %t, want %t", i, got, want)
		}
	}
	if got, want := a.Stats().HTTPDownloaded, int64(pieceLen)+end-from; got != want {
		t.Errorf("A: HTTPDownloaded %d, want %d: piece 3 read, then the claimed bytes", got, want)
	}
	checkFromPeer(t, b, rb, []int{1, 2, 3}, data)
	if got := ra.DirectSpan(0, size, true); got != 0 {
		t.Errorf("A, with B connected: DirectSpan = %d, want 0", got)
	}
}

// TestAlone checks that Alone waits for the tracker's answer: true for a
// lone peer, false once another peer is connected, true at once with P2P
// off.
func TestAlone(t *testing.T) {
	data := swarmtest.Media(2 * pieceLen)
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	_, off := join(t, newEngine(t, "", httpOnly), url)
	if !off.Alone(ctx) {
		t.Error("P2P off: Alone = false")
	}
	sa, ra := join(t, newEngine(t, announce), url)
	if !ra.Alone(ctx) {
		t.Error("A, alone at the tracker: Alone = false")
	}
	join(t, newEngine(t, announce), url)
	waitFor(t, "A and B to connect", func() bool { return sa.PeerCount() == 1 })
	if ra.Alone(ctx) {
		t.Error("A, with B connected: Alone = true")
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, rc := join(t, newEngine(t, announce), url); rc.Alone(done) {
		t.Error("C, its context done before any answer: Alone = true")
	}
}

// checkFromPeer checks that engine b reads the pieces of r on time and
// right, all from its peer: it downloads nothing over HTTP.
func checkFromPeer(t *testing.T, b *engine.Engine, r *engine.Resource, pieces []int, data []byte) {
	t.Helper()
	checkReads(t, readPieces(r, pieces, in(20*time.Second)), data, true)
	if st := b.Stats(); st.HTTPDownloaded != 0 {
		t.Errorf("B: stats %+v, want every piece from its peer", st)
	}
}
