package swarm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
	"sync"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/hashsource"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/rtc/rtctest"
)

// BenchmarkSwarm runs the swarm scenarios of `make bench-native` and prints
// one BENCH line for each.
func BenchmarkSwarm(b *testing.B) {
	for _, sc := range []swarmtest.Scenario{
		{Peers: 4, Size: 24 << 20, Bitrate: 2 << 20, JoinEvery: 3 * time.Second, BufferAhead: 5 * time.Second, Startup: 2 * time.Second},
		{Peers: 8, Size: 24 << 20, Bitrate: 2 << 20, JoinEvery: 2 * time.Second, BufferAhead: 5 * time.Second, Startup: 2 * time.Second},
	} {
		b.Run(fmt.Sprintf("peers=%d", sc.Peers), func(b *testing.B) {
			for range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				res := swarmtest.Run(ctx, b, sc)
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

// BenchmarkVerifyCost sets the rate at which one core hashes pieces (what
// verification costs) against the rate at which one peer delivers verified
// pieces, in the same run; plain_p2p_mib_s is the latter without hashes.
func BenchmarkVerifyCost(b *testing.B) {
	const size = 64 << 20
	data := swarmtest.Media(size)
	for range b.N {
		l := int64(identity.DefaultPieceLength)
		start := time.Now()
		for off := int64(0); off < size; off += l {
			sha256.Sum256(data[off:min(off+l, size)])
		}
		hashRate := float64(size) / (1 << 20) / time.Since(start).Seconds()

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		url := swarmtest.Origin(b, data)
		hashes := &hashsource.Service{Base: hashService(b, url), Get: hashsource.HTTPGetter{}}
		if _, err := hashes.PieceHashes(ctx, url, l); err != nil {
			b.Fatal(err)
		}
		verified, err := engineThroughput(ctx, b, url, size, func(c *engine.Config) { c.Hashes = hashes })
		if err != nil {
			b.Fatal(err)
		}
		plain, err := engineThroughput(ctx, b, url, size)
		if err != nil {
			b.Fatal(err)
		}
		cancel()
		fmt.Printf("BENCH verify_cost mib_s=%.1f p2p_mib_s=%.1f ratio=%.2f plain_p2p_mib_s=%.1f\n", hashRate, verified, hashRate/verified, plain)
		b.ReportMetric(hashRate/verified, "ratio")
	}
}

// EngineThroughput measures how fast one engine downloads a whole resource
// from another that holds it, in MiB/s.
// The engines take opts; with a Hashes among them, from a service that
// hashed the resource before the leech opens it.
func EngineThroughput(ctx context.Context, t testing.TB, size int64, opts ...func(*engine.Config)) (float64, error) {
	return engineThroughput(ctx, t, swarmtest.Origin(t, swarmtest.Media(size)), size, opts...)
}

func engineThroughput(ctx context.Context, t testing.TB, url string, size int64, opts ...func(*engine.Config)) (float64, error) {
	announce := swarmtest.Tracker(t)
	seed := swarmtest.NewEngine(t, announce, opts...)
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
	leech := swarmtest.NewEngine(t, announce, opts...)
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
	sc := swarmtest.LiveScenario{Peers: 4, Segments: 15, SegmentSize: 1 << 20, SegmentDuration: time.Second, Latency: 4 * time.Second, ReloadJitter: 300 * time.Millisecond}
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		res := swarmtest.RunLive(ctx, b, sc)
		cancel()
		fmt.Println(res.Line(sc))
		b.ReportMetric(res.FetchesPerSegment, "fetches/segment")
	}
}
