package manifest

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// parseXSDuration reads a non-negative xs:duration ("PT4S", "P1DT2H3M4.5S").
// A year counts 365 days and a month 30 days.
func parseXSDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%w: duration %q", ErrMalformed, s)
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != 'P' {
		return 0, bad
	}
	s = s[1:]
	inTime, any, afterT := false, false, false
	var total time.Duration
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime, afterT, s = true, true, s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 || i >= len(s) {
			return 0, bad
		}
		num, unit := s[:i], s[i]
		s = s[i+1:]
		var mult time.Duration
		switch {
		case !inTime && unit == 'Y':
			mult = 365 * 24 * time.Hour
		case !inTime && unit == 'M':
			mult = 30 * 24 * time.Hour
		case !inTime && unit == 'D':
			mult = 24 * time.Hour
		case inTime && unit == 'H':
			mult = time.Hour
		case inTime && unit == 'M':
			mult = time.Minute
		case inTime && unit == 'S':
			mult = time.Second
		default:
			return 0, bad
		}
		d, ok := scaleDecimal(num, mult)
		if !ok || total > math.MaxInt64-d {
			return 0, bad
		}
		total += d
		any, afterT = true, false
	}
	if !any || afterT {
		return 0, bad
	}
	return total, nil
}

// scaleDecimal is num (digits with an optional fraction) times mult.
func scaleDecimal(num string, mult time.Duration) (time.Duration, bool) {
	ip, fp, _ := strings.Cut(num, ".")
	if strings.Contains(fp, ".") || (ip == "" && fp == "") {
		return 0, false
	}
	var v uint64
	if ip != "" {
		n, err := strconv.ParseUint(ip, 10, 63)
		if err != nil {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(mult))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		v = lo
	}
	if len(fp) > 9 {
		fp = fp[:9]
	}
	if fp != "" {
		f, err := strconv.ParseUint(fp, 10, 64)
		if err != nil {
			return 0, false
		}
		frac, ok := mulDiv(f, uint64(mult), pow10(len(fp)))
		if !ok || v > math.MaxInt64-frac {
			return 0, false
		}
		v += frac
	}
	return time.Duration(v), true
}

func pow10(n int) uint64 {
	p := uint64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// parseXSDateTime reads an xs:dateTime; without a zone it is UTC.
func parseXSDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: date-time %q", ErrMalformed, s)
}

// mulDiv is a*b/c rounded down, ok false when it does not fit in an int64.
func mulDiv(a, b, c uint64) (uint64, bool) {
	if c == 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, c)
	if q > math.MaxInt64 {
		return 0, false
	}
	return q, true
}

// unitsToDuration converts a (possibly negative) count of timescale units.
func unitsToDuration(units int64, ts uint64) (time.Duration, error) {
	neg := units < 0
	u := uint64(units)
	if neg {
		u = uint64(-(units + 1)) + 1 // |units| without overflow at MinInt64
	}
	q, ok := mulDiv(u, uint64(time.Second), ts)
	if !ok {
		return 0, fmt.Errorf("%w: DASH time %d/%d out of range", ErrMalformed, units, ts)
	}
	if neg {
		return -time.Duration(q), nil
	}
	return time.Duration(q), nil
}

// durationToUnits converts a non-negative duration to timescale units,
// rounded down (or to the nearest unit when round is set).
func durationToUnits(d time.Duration, ts uint64, round bool) (int64, error) {
	if d < 0 {
		return 0, fmt.Errorf("%w: negative DASH time", ErrMalformed)
	}
	u := uint64(d)
	if round {
		// a*ts/1e9 + 1/2, computed as (a*ts + 5e8)/1e9 without overflow
		hi, lo := bits.Mul64(u, ts)
		lo2, carry := bits.Add64(lo, uint64(time.Second/2), 0)
		hi += carry
		if hi >= uint64(time.Second) {
			return 0, fmt.Errorf("%w: DASH time out of range", ErrMalformed)
		}
		q, _ := bits.Div64(hi, lo2, uint64(time.Second))
		if q > math.MaxInt64 {
			return 0, fmt.Errorf("%w: DASH time out of range", ErrMalformed)
		}
		return int64(q), nil
	}
	q, ok := mulDiv(u, ts, uint64(time.Second))
	if !ok {
		return 0, fmt.Errorf("%w: DASH time out of range", ErrMalformed)
	}
	return int64(q), nil
}

// satSub is a-b, saturating.
func satSub(a, b time.Duration) time.Duration {
	d := a - b
	if (b > 0 && d > a) || (b < 0 && d < a) {
		if b > 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return d
}
