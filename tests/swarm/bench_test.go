package swarm

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/rtc/rtctest"
)

// BenchmarkSwarm runs the swarm scenarios of `make bench-native` and prints
// one BENCH line for each.
func BenchmarkSwarm(b *testing.B) {
	for _, sc := range []Scenario{
		{Peers: 4, Size: 24 << 20, Bitrate: 2 << 20, JoinEvery: 3 * time.Second, BufferAhead: 5 * time.Second, Startup: 2 * time.Second},
		{Peers: 8, Size: 24 << 20, Bitrate: 2 << 20, JoinEvery: 2 * time.Second, BufferAhead: 5 * time.Second, Startup: 2 * time.Second},
	} {
		b.Run(fmt.Sprintf("peers=%d", sc.Peers), func(b *testing.B) {
			for range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				res := Run(ctx, b, sc)
				cancel()
				fmt.Println(res.Line(sc))
				b.ReportMetric(res.Share, "p2p_share")
				b.ReportMetric(float64(res.DeadlineMisses), "misses")
			}
		})
	}
}

// BenchmarkP2PThroughput compares the engine's piece transfer between two
// peers with a raw pion data channel on the same loopback, in the same run.
func BenchmarkP2PThroughput(b *testing.B) {
	const size = 64 << 20
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		eng, err := EngineThroughput(ctx, b, size)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := rtctest.RawThroughput(ctx, rtctest.LoopbackAPI(b), size, 65535)
		if err != nil {
			b.Fatal(err)
		}
		cancel()
		fmt.Printf("BENCH p2p_throughput engine_mib_s=%.1f raw_mib_s=%.1f ratio=%.2f\n", eng, raw, eng/raw)
		b.ReportMetric(eng/raw, "ratio")
	}
}

// EngineThroughput measures how fast one engine downloads a whole resource
// from another that holds it, in MiB/s.
func EngineThroughput(ctx context.Context, t testing.TB, size int64) (float64, error) {
	url := Origin(t, Media(size))
	announce := Tracker(t)
	seed := NewEngine(t, announce)
	sw, err := seed.JoinURL(url)
	if err != nil {
		return 0, err
	}
	r, err := sw.Resource(ctx, "", url)
	if err != nil {
		return 0, err
	}
	for i := range r.PieceCount() {
		if _, err := r.ReadPiece(ctx, i, time.Now()); err != nil {
			return 0, err
		}
	}
	leech := NewEngine(t, announce)
	lsw, err := leech.JoinURL(url)
	if err != nil {
		return 0, err
	}
	lr, err := lsw.Resource(ctx, "", url)
	if err != nil {
		return 0, err
	}
	for lsw.PeerCount() == 0 || !lsw.PeerHolds(lr, r.PieceCount()-1) {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("peers did not meet: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	http0 := leech.Stats().HTTPDownloaded
	start := time.Now()
	far := start.Add(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, lr.PieceCount())
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := lr.ReadPiece(ctx, i, far); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range lr.PieceCount() {
		next <- i
	}
	close(next)
	wg.Wait()
	el := time.Since(start)
	close(errs)
	for err := range errs {
		return 0, err
	}
	if got := leech.Stats().HTTPDownloaded - http0; got != 0 {
		return 0, fmt.Errorf("leech fetched %d bytes over HTTP, want all from its peer", got)
	}
	return float64(size) / (1 << 20) / el.Seconds(), nil
}

// BenchmarkLive runs the live scenario of `make bench-native`: four viewers,
// one elected origin fetch per segment.
func BenchmarkLive(b *testing.B) {
	sc := LiveScenario{Peers: 4, Segments: 15, SegmentSize: 1 << 20, SegmentDuration: time.Second, Latency: 4 * time.Second, ReloadJitter: 300 * time.Millisecond}
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		res := RunLive(ctx, b, sc)
		cancel()
		fmt.Println(res.Line(sc))
		b.ReportMetric(res.FetchesPerSegment, "fetches/segment")
	}
}
