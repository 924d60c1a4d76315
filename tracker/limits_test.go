package tracker

import (
	"math"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		at   time.Duration
		want bool
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{
			name: "burst at once, then refused", rate: 1, burst: 3,
			steps: []step{{0, true}, {0, true}, {0, true}, {0, false}, {0, false}},
		},
		{
			name: "one token back per period", rate: 2, burst: 2,
			steps: []step{
				{0, true}, {0, true}, {0, false},
				{499 * time.Millisecond, false}, {500 * time.Millisecond, true}, {500 * time.Millisecond, false},
				{time.Second, true}, {time.Second, false},
			},
		},
		{
			name: "refills to the burst and no further", rate: 10, burst: 2,
			steps: []step{{0, true}, {0, true}, {time.Hour, true}, {time.Hour, true}, {time.Hour, false}},
		},
		{
			name: "a refusal takes nothing", rate: 1, burst: 1,
			steps: []step{{0, true}, {0, false}, {500 * time.Millisecond, false}, {time.Second, true}},
		},
		{
			name: "steady at the rate is never refused", rate: 4, burst: 1,
			steps: []step{{0, true}, {250 * time.Millisecond, true}, {500 * time.Millisecond, true}, {750 * time.Millisecond, true}, {time.Second, true}},
		},
		{
			name: "a clock going back refuses, never grants", rate: 1, burst: 1,
			steps: []step{{10 * time.Second, true}, {0, false}, {11 * time.Second, true}},
		},
		{
			name: "burst below one is one", rate: 1, burst: 0,
			steps: []step{{0, true}, {0, false}},
		},
		{
			name: "tiny rate: one a day at least", rate: 1e-12, burst: 1,
			steps: []step{{0, true}, {23 * time.Hour, false}, {24 * time.Hour, true}},
		},
		{
			name: "huge burst does not overflow", rate: 1e-12, burst: math.MaxInt,
			steps: []step{{0, true}, {0, true}, {time.Duration(math.MaxInt64), true}},
		},
		{
			name: "huge rate", rate: 1e18, burst: 1,
			steps: []step{{0, true}, {0, false}, {time.Nanosecond, true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTokenBucket(tt.rate, tt.burst)
			for i, s := range tt.steps {
				if got := b.allow(at(s.at)); got != s.want {
					t.Fatalf("step %d at %v: allow %v, want %v", i, s.at, got, s.want)
				}
			}
		})
	}
}

// TestDefaultAnnounceLimitsFitTheEngine plays the busiest schedule of the
// engine's tracker client through the default limits: DefaultMaxSwarmsPerConn
// swarms each announcing three times on connecting, then every engine retry
// delay (two seconds) for ten minutes. None may be refused.
func TestDefaultAnnounceLimitsFitTheEngine(t *testing.T) {
	const swarms, retry = DefaultMaxSwarmsPerConn, 2 * time.Second
	b := newTokenBucket(DefaultAnnounceRate, DefaultAnnounceBurst)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 * swarms {
		if !b.allow(t0) {
			t.Fatalf("start-up announce %d of %d refused", i+1, 3*swarms)
		}
	}
	for at := retry; at <= 10*time.Minute; at += retry {
		for i := range swarms {
			// The swarms' timers are not in step: spread them over the delay.
			now := t0.Add(at + time.Duration(i)*retry/swarms)
			if !b.allow(now) {
				t.Fatalf("announce of swarm %d at %v refused", i, now.Sub(t0))
			}
		}
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1%eth0", "2001:db8:1:2::"},
		{"::1", "::"},
	}
	for _, tt := range tests {
		if got := addrKey(netip.MustParseAddr(tt.in)); got != netip.MustParseAddr(tt.want) {
			t.Errorf("addrKey(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if a, b := addrKey(netip.MustParseAddr("2001:db8:1:2::1")), addrKey(netip.MustParseAddr("2001:db8:1:3::1")); a == b {
		t.Errorf("two /64s share the key %s", a)
	}
}

func TestClientAddr(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string
		trust  bool
		want   string
	}{
		{name: "TCP peer", remote: "192.0.2.1:5000", want: "192.0.2.1"},
		{name: "IPv6 TCP peer", remote: "[2001:db8::1]:5000", want: "2001:db8::1"},
		{name: "header ignored unless trusted", remote: "192.0.2.1:5000", xff: []string{"198.51.100.9"}, want: "192.0.2.1"},
		{name: "trusted: last hop", remote: "10.0.0.1:5000", xff: []string{"203.0.113.5, 198.51.100.9"}, trust: true, want: "198.51.100.9"},
		{name: "trusted: last header", remote: "10.0.0.1:5000", xff: []string{"203.0.113.5", "198.51.100.9"}, trust: true, want: "198.51.100.9"},
		{name: "trusted: hop with port", remote: "10.0.0.1:5000", xff: []string{"[2001:db8::2]:443"}, trust: true, want: "2001:db8::2"},
		{name: "trusted: garbage falls back", remote: "10.0.0.1:5000", xff: []string{"unknown"}, trust: true, want: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tt.trust); got != netip.MustParseAddr(tt.want) {
				t.Fatalf("clientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}
