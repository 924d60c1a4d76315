//go:build !js

package rtc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/engine/rtc/rtctest"
)

// benchTotal is the bytes moved per benchmark iteration.
const benchTotal = 32 << 20

var benchSizes = []int{16 << 10, 65535}

// BenchmarkRawThroughput measures a raw pion data channel pair on loopback,
// the baseline of BenchmarkConnThroughput. Each iteration connects a new
// pair; the MiB/s metric times the transfer alone.
func BenchmarkRawThroughput(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("msg=%d", size), func(b *testing.B) {
			api := rtctest.LoopbackAPI(b)
			b.SetBytes(benchTotal)
			var sum float64
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				mib, err := rtctest.RawThroughput(ctx, api, benchTotal, size)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				sum += mib
			}
			b.ReportMetric(sum/float64(b.N), "MiB/s")
		})
	}
}

// BenchmarkConnThroughput measures rtc connections on loopback with the
// default flow-control marks, over one pair per message size.
func BenchmarkConnThroughput(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("msg=%d", size), func(b *testing.B) {
			c1 := rtc.NewConnector(rtc.Config{API: rtctest.LoopbackAPI(b)})
			c2 := rtc.NewConnector(rtc.Config{API: rtctest.LoopbackAPI(b)})
			a, c := rtctest.Pair(b, c1, c2)
			b.SetBytes(benchTotal)
			b.ResetTimer()
			var sum float64
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				mib, err := rtctest.ConnThroughput(ctx, a, c, benchTotal, size)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				sum += mib
			}
			b.ReportMetric(sum/float64(b.N), "MiB/s")
		})
	}
}
