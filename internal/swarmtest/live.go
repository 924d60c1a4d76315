package swarmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// LiveScenario describes a live stream: a new segment appears every
// SegmentDuration; every viewer learns of it a little later (its own
// playlist reload) and plays it Latency after it appeared.
type LiveScenario struct {
	Peers           int
	Segments        int
	SegmentSize     int64
	SegmentDuration time.Duration
	Latency         time.Duration
	// ReloadJitter spreads the moments viewers learn of a segment.
	ReloadJitter time.Duration
}

// LiveResult is the outcome of a live scenario.
type LiveResult struct {
	HTTP, P2P         int64
	FetchesPerSegment float64 // origin copies of each segment, swarm-wide
	// RequestsPerSegment counts every origin request (HEAD included) per
	// segment, swarm-wide.
	RequestsPerSegment float64
	Share              float64
	DeadlineMisses     int
	Identical          bool
}

// Line renders the result as a BENCH line.
func (r LiveResult) Line(sc LiveScenario) string {
	return fmt.Sprintf("BENCH live_native peers=%d segments=%d http_fetches_per_segment=%.2f origin_requests_per_segment=%.2f p2p_share=%.2f deadline_misses=%d identical=%t",
		sc.Peers, sc.Segments, r.FetchesPerSegment, r.RequestsPerSegment, r.Share, r.DeadlineMisses, r.Identical)
}

// RunLive runs a live scenario.
func RunLive(ctx context.Context, t testing.TB, sc LiveScenario) LiveResult {
	t.Helper()
	segs := make([][]byte, sc.Segments)
	for i := range segs {
		segs[i] = Media(sc.SegmentSize)
		segs[i][0], segs[i][1] = byte(i), byte(i>>8) // distinct segments
	}
	start := time.Now().Add(time.Second)
	var served, requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/live/seg-"), ".ts"))
		if err != nil || n < 0 || n >= len(segs) || time.Now().Before(start.Add(time.Duration(n)*sc.SegmentDuration)) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"seg-%d"`, n))
		cw := &countingWriter{ResponseWriter: w, n: &served}
		http.ServeContent(cw, r, "seg.ts", start, bytes.NewReader(segs[n]))
	}))
	t.Cleanup(srv.Close)
	announce := Tracker(t)
	res := LiveResult{Identical: true}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, sc.Peers)
	for v := range sc.Peers {
		e := NewEngine(t, announce)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw, err := e.Join("live.example/stream/index.m3u8", false)
			if err != nil {
				errs <- err
				return
			}
			rng := rand.New(rand.NewPCG(uint64(v), 7))
			var segWG sync.WaitGroup
			for n := range sc.Segments {
				appear := start.Add(time.Duration(n) * sc.SegmentDuration)
				learn := appear.Add(time.Duration(rng.Int64N(int64(sc.ReloadJitter) + 1)))
				select {
				case <-time.After(time.Until(learn)):
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
				segWG.Add(1)
				go func() {
					defer segWG.Done()
					url := fmt.Sprintf("%s/live/seg-%d.ts", srv.URL, n)
					// Like a live player, ask for the segment as soon as the
					// playlist lists it; it is due Latency after it appeared.
					due := appear.Add(sc.Latency)
					r, err := sw.LiveResource(ctx, strconv.Itoa(n), url, time.Until(due)/2)
					if err != nil {
						errs <- fmt.Errorf("viewer %d segment %d: %w", v, n, err)
						return
					}
					h := sha256.New()
					for i := range r.PieceCount() {
						b, err := r.ReadPiece(ctx, i, due)
						if err != nil {
							errs <- fmt.Errorf("viewer %d segment %d piece %d: %w", v, n, i, err)
							return
						}
						h.Write(b)
					}
					want := sha256.Sum256(segs[n])
					mu.Lock()
					if time.Now().After(due) {
						res.DeadlineMisses++
					}
					res.Identical = res.Identical && bytes.Equal(h.Sum(nil), want[:])
					mu.Unlock()
				}()
			}
			segWG.Wait()
			st := e.Stats()
			mu.Lock()
			res.HTTP += st.HTTPDownloaded
			res.P2P += st.P2PDownloaded
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res.FetchesPerSegment = float64(served.Load()) / float64(int64(sc.Segments)*sc.SegmentSize)
	res.RequestsPerSegment = float64(requests.Load()) / float64(sc.Segments)
	if tot := res.HTTP + res.P2P; tot > 0 {
		res.Share = float64(res.P2P) / float64(tot)
	}
	return res
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	k, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(k))
	return k, err
}
