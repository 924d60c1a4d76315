package tracker

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// tokenBucket is the policy of a rate limit: events may come at rate per
// second on average and up to burst at once. It holds no clock: every call
// passes the time, which keeps it a pure function of its inputs.
//
// Instead of a token count it keeps the time at which the bucket is full
// again, one period (1/rate) later per token taken: the same policy, exact in
// integer time, with nothing to refill.
type tokenBucket struct {
	period time.Duration // time to earn one token
	burst  int           // tokens the bucket holds when full
	full   time.Time     // when the bucket is full again; full at or before it
}

// Bounds of a token bucket's period, so that any positive rate gives a
// period that neither rounds to zero nor overflows.
const (
	minPeriod = time.Nanosecond
	maxPeriod = 24 * time.Hour
)

// newTokenBucket returns a full bucket allowing rate events per second and
// burst at once (rate > 0, burst ≥ 1; smaller values are raised to those).
func newTokenBucket(rate float64, burst int) tokenBucket {
	period := maxPeriod
	if rate > 0 && float64(time.Second)/rate < float64(maxPeriod) {
		period = max(time.Duration(float64(time.Second)/rate), minPeriod)
	}
	// A burst whose refill time would overflow a Duration is as good as
	// unlimited: cap it there.
	burst = min(max(burst, 1), int(min(math.MaxInt64/int64(period), math.MaxInt)))
	return tokenBucket{period: period, burst: burst}
}

// allow takes a token at now and reports true, or reports false and takes
// nothing when the bucket is empty.
func (b *tokenBucket) allow(now time.Time) bool {
	full := b.full
	if full.Before(now) {
		full = now
	}
	// Taking a token must leave the bucket full again within burst periods.
	if full.Sub(now) > time.Duration(b.burst-1)*b.period {
		return false
	}
	b.full = full.Add(b.period)
	return true
}

// addrKey is the key of the per-address connection cap for client address
// a: the address itself for IPv4, and its /64 for IPv6, the block one
// subscriber or office gets (an attacker holding a /64 would otherwise have
// 2^64 addresses).
func addrKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.WithZone("").Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// clientAddr returns the address of the client of r: the TCP peer's, or,
// with trustProxy, the last hop of X-Forwarded-For (the address the proxy in
// front of the tracker saw) when it holds one. The zero Addr means unknown.
func clientAddr(r *http.Request, trustProxy bool) netip.Addr {
	if trustProxy {
		if v := r.Header.Values("X-Forwarded-For"); len(v) > 0 {
			hops := strings.Split(v[len(v)-1], ",")
			if a, ok := parseHost(strings.TrimSpace(hops[len(hops)-1])); ok {
				return a
			}
		}
	}
	a, _ := parseHost(r.RemoteAddr)
	return a
}

// parseHost parses "ip" or "ip:port" (with brackets for IPv6).
func parseHost(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a, true
	}
	return netip.Addr{}, false
}
