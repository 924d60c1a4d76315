// Package swarmtest runs whole-swarm scenarios natively: a local HTTP origin, the
// project's tracker and several engines connected by real pion peers on
// loopback, each consuming a file front to back at a steady bitrate like a
// player would. Tests assert on the results; benchmarks print them.
package swarmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/origin"
	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/engine/rtc/rtctest"
	"github.com/p2pmedia/p2pmedia/engine/store"
	"github.com/p2pmedia/p2pmedia/tracker"
)

// Scenario describes a swarm run.
type Scenario struct {
	// Peers is the number of viewers.
	Peers int
	// Size is the media file's size in bytes.
	Size int64
	// Bitrate is the playback rate in bytes per second.
	Bitrate float64
	// JoinEvery is the delay between two viewers' arrivals.
	JoinEvery time.Duration
	// BufferAhead is how far ahead of the playhead the simulated player reads.
	BufferAhead time.Duration
	// Startup is the time the player allows itself before the first frame.
	Startup time.Duration
	// Announce, if set, replaces the project's tracker (e.g. a third-party one).
	Announce string
}

// PeerResult is what one viewer saw.
type PeerResult struct {
	HTTP, P2P, Uploaded int64
	Misses              int
	Identical           bool
	Peers               int
}

// Result is the outcome of a scenario.
type Result struct {
	Peers          []PeerResult
	HTTP, P2P      int64
	Share          float64
	DeadlineMisses int
	Identical      bool
}

// Line renders the result as the BENCH line of `make bench-native`.
func (r Result) Line(sc Scenario) string {
	const mib = 1 << 20
	return fmt.Sprintf("BENCH swarm peers=%d size_mib=%d http_mib=%.1f p2p_mib=%.1f p2p_share=%.2f deadline_misses=%d identical=%t",
		sc.Peers, sc.Size/mib, float64(r.HTTP)/mib, float64(r.P2P)/mib, r.Share, r.DeadlineMisses, r.Identical)
}

// Origin serves data at /media.bin with Range and ETag support, like a CDN.
func Origin(t testing.TB, data []byte) string {
	t.Helper()
	sum := sha256.Sum256(data)
	etag := fmt.Sprintf(`"%x"`, sum[:8])
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		http.ServeContent(w, r, "media.bin", mod, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/media.bin"
}

// Tracker starts the project's tracker and returns its ws:// URL.
func Tracker(t testing.TB) string {
	t.Helper()
	srv := tracker.New(tracker.Config{Logger: slog.New(slog.DiscardHandler)})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		srv.Close()
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// Media returns size bytes of deterministic pseudo-random data.
func Media(size int64) []byte {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	return data
}

// NewEngine starts an engine on loopback WebRTC with a memory store.
func NewEngine(t testing.TB, announce string, opts ...func(*engine.Config)) *engine.Engine {
	t.Helper()
	cfg := engine.Config{
		Fetcher:   &origin.Client{},
		Store:     store.NewMemory(256 << 20),
		Connector: rtc.NewConnector(rtc.Config{API: rtctest.LoopbackAPI(t)}),
		Announce:  []string{announce},
	}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// Run runs the scenario and returns its result.
func Run(ctx context.Context, t testing.TB, sc Scenario) Result {
	t.Helper()
	data := Media(sc.Size)
	want := sha256.Sum256(data)
	url := Origin(t, data)
	announce := sc.Announce
	if announce == "" {
		announce = Tracker(t)
	}
	res := Result{Peers: make([]PeerResult, sc.Peers), Identical: true}
	var wg sync.WaitGroup
	engines := make([]*engine.Engine, sc.Peers)
	for i := range sc.Peers {
		engines[i] = NewEngine(t, announce)
	}
	errs := make(chan error, sc.Peers)
	for i := range sc.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Duration(i) * sc.JoinEvery):
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			}
			pr, err := consume(ctx, engines[i], url, sc, want)
			if err != nil {
				errs <- fmt.Errorf("viewer %d: %w", i, err)
				return
			}
			res.Peers[i] = pr
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, e := range engines {
		st := e.Stats()
		pr := &res.Peers[i]
		pr.HTTP, pr.P2P, pr.Uploaded = st.HTTPDownloaded, st.P2PDownloaded, st.P2PUploaded
		pr.Peers = len(e.Peers())
		res.HTTP += pr.HTTP
		res.P2P += pr.P2P
		res.DeadlineMisses += pr.Misses
		res.Identical = res.Identical && pr.Identical
	}
	if tot := res.HTTP + res.P2P; tot > 0 {
		res.Share = float64(res.P2P) / float64(tot)
	}
	return res
}

// consume plays the file front to back: piece i is due when the playhead,
// moving at the bitrate from the end of the start-up delay, reaches it; the
// player asks for it BufferAhead earlier.
func consume(ctx context.Context, e *engine.Engine, url string, sc Scenario, want [32]byte) (PeerResult, error) {
	var pr PeerResult
	sw, err := e.JoinURL(url)
	if err != nil {
		return pr, err
	}
	r, err := sw.Resource(ctx, "", url)
	if err != nil {
		return pr, err
	}
	h := sha256.New()
	t0 := time.Now().Add(sc.Startup)
	rate := sc.Bitrate
	for i := range r.PieceCount() {
		start, _, _ := r.PieceRange(i)
		due := t0.Add(time.Duration(float64(start) / rate * float64(time.Second)))
		if wait := time.Until(due.Add(-sc.BufferAhead)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return pr, ctx.Err()
			}
		}
		if el := time.Since(t0); el >= 0 {
			r.SetPlayhead(int64(el.Seconds()*rate), rate)
		}
		b, err := r.ReadPiece(ctx, i, due)
		if err != nil {
			return pr, fmt.Errorf("piece %d: %w", i, err)
		}
		if time.Now().After(due) {
			pr.Misses++
		}
		h.Write(b)
	}
	r.SetPlayhead(0, 0)
	pr.Identical = bytes.Equal(h.Sum(nil), want[:])
	return pr, nil
}
