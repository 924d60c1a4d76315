package engine

import "time"

// The decisions about slow peers are pure functions of a download's state
// and the clock, so that they are tested on their own (policy_test.go).

const (
	// minJudge is how long a download runs before its pace may strike its
	// peer, so that one request's latency is not taken for a slow peer.
	minJudge = 500 * time.Millisecond
	// minRateSample is the shortest part of a download that tells a peer's
	// rate; a whole piece tells it however fast it came.
	minRateSample = 200 * time.Millisecond
	// minPeerRate is the floor of every rate estimate (bytes/s).
	minPeerRate = 1024
	// requestLatency is added to every estimate of a peer's time.
	requestLatency = 50 * time.Millisecond
)

// verdict is what the scheduler does with a peer download under way.
type verdict int

const (
	// keepDownload: let it run.
	keepDownload verdict = iota
	// handOver: HTTP takes over, keeping the bytes; the peer is not to
	// blame (its pace was not measured long enough, or the deadline was
	// tight from the start).
	handOver
	// strikeStalled: nothing came for the stall timeout; the peer is
	// struck and not asked for the piece again.
	strikeStalled
	// strikeSlow: the peer's measured pace misses a deadline it had time
	// for; it is struck and not asked for the piece again.
	strikeSlow
)

func (v verdict) String() string {
	switch v {
	case keepDownload:
		return "keep"
	case handOver:
		return "hand over to HTTP"
	case strikeStalled:
		return "stalled"
	case strikeSlow:
		return "too slow for its deadline"
	}
	return "unknown verdict"
}

// downloadState is what judgeDownload looks at.
type downloadState struct {
	started  time.Time // the request went out
	lastByte time.Time // the last data came (started when none yet)
	deadline time.Time // the piece is due (zero: no deadline)
	// progress is the bytes received since started; remaining those
	// still to come.
	progress, remaining int
	// urgent: a reader waits for the piece (or it is within
	// MinBufferCount): HTTP takes over when the peer would be late.
	urgent bool
	// httpTime is HTTP's estimated time for the remaining bytes.
	httpTime time.Duration
	// peerRate is the peer's rate estimate (bytes/s).
	peerRate float64
}

// observedRate is the pace of a download that moved n bytes in d, and
// whether d is long enough to tell it.
func observedRate(n int, d time.Duration) (float64, bool) {
	if d < minRateSample || n <= 0 {
		return 0, false
	}
	return float64(n) / d.Seconds(), true
}

// transferTime is how long n bytes take at rate.
func transferTime(n int, rate float64) time.Duration {
	return requestLatency + time.Duration(float64(n)/max(rate, minPeerRate)*float64(time.Second))
}

// judgeDownload decides at now about a peer download in state d, with
// stall the longest silence allowed. The peer is to blame when it stalls,
// or when its pace, measured for minJudge at least, would finish after a
// deadline that lay ahead when the request went out. An urgent piece moves
// to HTTP at the last moment HTTP can still make its deadline, when the
// peer would not; a piece nobody waits for stays with a peer that is on
// time, however slowly.
func judgeDownload(d downloadState, now time.Time, stall time.Duration) verdict {
	if now.Sub(d.lastByte) > stall {
		return strikeStalled
	}
	if d.deadline.IsZero() {
		return keepDownload
	}
	elapsed := now.Sub(d.started)
	rate, measured := observedRate(d.progress, elapsed)
	if !measured {
		rate = d.peerRate
	}
	done := now.Add(transferTime(d.remaining, rate))
	slow := measured && elapsed >= minJudge && d.deadline.After(d.started) && done.After(d.deadline)
	if d.urgent {
		latest := d.deadline.Add(-d.httpTime - switchMargin)
		switch {
		case now.Before(latest) || !done.After(d.deadline.Add(-switchMargin)):
			return keepDownload
		case slow:
			return strikeSlow
		default:
			return handOver
		}
	}
	if slow {
		return strikeSlow
	}
	return keepDownload
}

// peerRateAfter returns a peer's rate estimate after a download that moved
// n bytes in d, from rate, the estimate before, which was measured or the
// prior guess (defaultPeerRate). A part of a download (complete false)
// shorter than minRateSample tells nothing. The first sample below the
// prior replaces it: the prior is optimistic, and a slow peer must lose its
// place at once, not over many samples; other samples are blended in.
func peerRateAfter(rate float64, measured bool, n int, d time.Duration, complete bool) (float64, bool) {
	if d <= 0 || n <= 0 && complete || !complete && d < minRateSample {
		return rate, measured
	}
	r := float64(n) / d.Seconds()
	if !measured && r < rate {
		return r, true
	}
	return 0.7*rate + 0.3*r, true
}

// peerSlots is how many downloads a peer with strikes may have at once:
// each strike costs it one, down to one.
func peerSlots(strikes int) int {
	return max(maxPerPeer-strikes, 1)
}

// hashGiveUp is when a piece from peers due at deadline (zero: none) stops
// waiting for its hashes, httpTime being HTTP's estimated time for it: the
// last moment at which the origin can still deliver it in time, with the
// margin a late peer download keeps. Zero: no end.
func hashGiveUp(deadline time.Time, httpTime time.Duration) time.Time {
	if deadline.IsZero() {
		return time.Time{}
	}
	return deadline.Add(-httpTime - switchMargin)
}
