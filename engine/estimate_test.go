package engine

import (
	"testing"
	"time"
)

// TestTransferEstimate checks that the first measurement replaces the prior
// guess and later ones are blended in.
func TestTransferEstimate(t *testing.T) {
	type sample struct {
		latency time.Duration
		n       int
		d       time.Duration
	}
	prior := transferEstimate{latency: 300 * time.Millisecond, rate: 2 << 20}
	for _, c := range []struct {
		name        string
		samples     []sample
		wantLatency time.Duration
		wantRate    float64
	}{
		{"prior only", nil, 300 * time.Millisecond, 2 << 20},
		{"a probe sets the latency, not the rate", []sample{{10 * time.Millisecond, 0, 0}}, 10 * time.Millisecond, 2 << 20},
		{"first body sets the rate", []sample{{20 * time.Millisecond, 1 << 20, 100 * time.Millisecond}}, 20 * time.Millisecond, 10 << 20},
		{"too short a body leaves the rate", []sample{{20 * time.Millisecond, 1 << 20, 5 * time.Millisecond}}, 20 * time.Millisecond, 2 << 20},
		{"later samples are blended", []sample{
			{10 * time.Millisecond, 1 << 20, 100 * time.Millisecond},
			{110 * time.Millisecond, 1 << 20, 50 * time.Millisecond},
		}, 40 * time.Millisecond, 0.7*(10<<20) + 0.3*(20<<20)},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := prior
			for _, s := range c.samples {
				e.observe(s.latency, s.n, s.d)
			}
			if d := e.latency - c.wantLatency; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("latency %v, want %v", e.latency, c.wantLatency)
			}
			if d := e.rate - c.wantRate; d < -1 || d > 1 {
				t.Errorf("rate %.0f B/s, want %.0f", e.rate, c.wantRate)
			}
		})
	}
}
