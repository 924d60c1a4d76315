package engine

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/piecehash"
	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

// TestJudgeDownload checks the verdicts on peer downloads against a fixed
// clock: a stall and a measured pace that misses a deadline the peer had
// time for strike it; an urgent piece moves to HTTP at its last safe moment
// without blame when the pace was not measured or the deadline was tight
// from the start; on-time peers keep their downloads, however slow.
func TestJudgeDownload(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const stall = 2 * time.Second
	const piece = 512 << 10
	tests := []struct {
		name string
		d    downloadState
		now  time.Duration // after t0
		want verdict
	}{
		{"silent past the stall timeout", downloadState{started: t0, lastByte: t0, remaining: piece, peerRate: defaultPeerRate}, 2100 * time.Millisecond, strikeStalled},
		{"silent within the stall timeout, no deadline", downloadState{started: t0, lastByte: t0, remaining: piece, peerRate: defaultPeerRate}, time.Second, keepDownload},
		{"trickling a prefetch piece due in 30 s", downloadState{
			started: t0, lastByte: t0.Add(590 * time.Millisecond), deadline: t0.Add(30 * time.Second),
			progress: 2 << 10, remaining: piece - 2<<10, peerRate: defaultPeerRate,
		}, 600 * time.Millisecond, strikeSlow},
		{"trickling, not measured long enough", downloadState{
			started: t0, lastByte: t0.Add(290 * time.Millisecond), deadline: t0.Add(30 * time.Second),
			progress: 1 << 10, remaining: piece - 1<<10, peerRate: defaultPeerRate,
		}, 300 * time.Millisecond, keepDownload},
		{"slow but on time for a far deadline", downloadState{
			started: t0, lastByte: t0.Add(time.Second), deadline: t0.Add(30 * time.Second),
			progress: 100 << 10, remaining: piece - 100<<10, peerRate: defaultPeerRate,
		}, time.Second, keepDownload},
		{"prefetch piece whose deadline passed before the request", downloadState{
			started: t0, lastByte: t0.Add(900 * time.Millisecond), deadline: t0.Add(-time.Second),
			progress: 1 << 10, remaining: piece, peerRate: defaultPeerRate,
		}, time.Second, keepDownload},
		{"urgent, late, measured: struck and handed over", downloadState{
			started: t0, lastByte: t0.Add(2650 * time.Millisecond), deadline: t0.Add(3 * time.Second),
			progress: 8 << 10, remaining: piece - 8<<10, urgent: true, httpTime: 100 * time.Millisecond, peerRate: defaultPeerRate,
		}, 2700 * time.Millisecond, strikeSlow},
		{"urgent, late, before HTTP's last safe moment", downloadState{
			started: t0, lastByte: t0.Add(time.Second), deadline: t0.Add(3 * time.Second),
			progress: 8 << 10, remaining: piece - 8<<10, urgent: true, httpTime: 100 * time.Millisecond, peerRate: defaultPeerRate,
		}, time.Second, keepDownload},
		{"urgent, tight from the start, unmeasured: handed over without blame", downloadState{
			started: t0, lastByte: t0, deadline: t0.Add(400 * time.Millisecond),
			remaining: piece, urgent: true, httpTime: 100 * time.Millisecond, peerRate: 100 << 10,
		}, 100 * time.Millisecond, handOver},
		{"urgent, fast enough", downloadState{
			started: t0, lastByte: t0.Add(300 * time.Millisecond), deadline: t0.Add(time.Second),
			progress: 400 << 10, remaining: piece - 400<<10, urgent: true, httpTime: 100 * time.Millisecond, peerRate: defaultPeerRate,
		}, 600 * time.Millisecond, keepDownload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeDownload(tt.d, t0.Add(tt.now), stall); got != tt.want {
				t.Errorf("judgeDownload = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPeerRateAfter checks the rate estimate's updates: partial progress of
// a download counts once long enough, the first sample below the prior
// replaces it, and the rest are blended in.
func TestPeerRateAfter(t *testing.T) {
	const prior = defaultPeerRate
	tests := []struct {
		name         string
		rate         float64
		measured     bool
		n            int
		d            time.Duration
		complete     bool
		want         float64
		wantMeasured bool
	}{
		{"trickle replaces the prior", prior, false, 3 << 10, time.Second, false, 3 << 10, true},
		{"nothing in 2 s replaces the prior", prior, false, 0, 2 * time.Second, false, 0, true},
		{"too short a part tells nothing", prior, false, 1 << 10, 100 * time.Millisecond, false, prior, false},
		{"a fast whole piece is blended", prior, false, 512 << 10, 50 * time.Millisecond, true, 0.7*prior + 0.3*(10<<20), true},
		{"later samples are blended", 100 << 10, true, 1 << 20, time.Second, false, 0.7*(100<<10) + 0.3*(1<<20), true},
		{"a slow sample after a measured one is blended", 4 << 20, true, 1 << 10, time.Second, false, 0.7*(4<<20) + 0.3*(1<<10), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, measured := peerRateAfter(tt.rate, tt.measured, tt.n, tt.d, tt.complete)
			if math.Abs(got-tt.want) > 1 || measured != tt.wantMeasured {
				t.Errorf("peerRateAfter = %.0f, %v; want %.0f, %v", got, measured, tt.want, tt.wantMeasured)
			}
		})
	}
}

// TestPeerSlots: each strike costs a peer a slot, down to one; maxStrikes
// ban before a peer could be left with none.
func TestPeerSlots(t *testing.T) {
	for strikes, want := range []int{maxPerPeer, maxPerPeer - 1, maxPerPeer - 2, 1, 1} {
		if got := peerSlots(strikes); got != want {
			t.Errorf("peerSlots(%d) = %d, want %d", strikes, got, want)
		}
	}
	if maxStrikes > maxPerPeer {
		t.Errorf("maxStrikes %d leaves a struck peer slots it should have lost", maxStrikes)
	}
}

// TestBanList fills a ban list past its cap: it keeps the cap, forgets the
// least recently seen entries first, and a hit refreshes an entry.
func TestBanList(t *testing.T) {
	const max = 8
	b := newBanList(max)
	id := func(i int) banKey {
		var x trackermsg.ID
		copy(x[:], fmt.Sprintf("peer-%d", i))
		return idKey(x)
	}
	for i := range max {
		b.add(id(i))
	}
	b.add(fingerprintKey(""))
	if b.len() != max {
		t.Fatalf("len %d after %d bans and an empty fingerprint, want %d", b.len(), max, max)
	}
	if !b.has(id(0)) { // refreshes 0: 1 is now the oldest
		t.Fatal("a ban is missing")
	}
	for i := max; i < 3*max; i++ {
		b.add(id(i))
		if i == max {
			if b.has(id(1)) || !b.has(id(0)) {
				t.Fatal("the ban refreshed by a hit went before the oldest")
			}
		}
		if b.len() > max {
			t.Fatalf("len %d above the cap %d", b.len(), max)
		}
	}
	for i := 2 * max; i < 3*max; i++ {
		if !b.has(id(i)) {
			t.Errorf("recent ban %d forgotten", i)
		}
	}
	if b.has(fingerprintKey("sha-256 aa")) {
		t.Error("a fingerprint never banned is banned")
	}
}

// TestSDPFingerprint takes the certificate fingerprint from an SDP,
// normalised, and nothing from an SDP without one.
func TestSDPFingerprint(t *testing.T) {
	sdp := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:SHA-256  AB:CD:EF\r\na=fingerprint:sha-1 00\r\n"
	if got, want := sdpFingerprint(sdp), "sha-256 ab:cd:ef"; got != want {
		t.Errorf("sdpFingerprint = %q, want %q", got, want)
	}
	if got := sdpFingerprint("v=0\r\na=setup:actpass\r\n"); got != "" {
		t.Errorf("sdpFingerprint without one = %q", got)
	}
}

// TestHashGiveUp: a piece from peers waits for its hashes until HTTP's
// time for it and the switch margin before its deadline, without end when
// it has none.
func TestHashGiveUp(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name     string
		deadline time.Time
		httpTime time.Duration
		want     time.Time
	}{
		{"no deadline", time.Time{}, time.Second, time.Time{}},
		{"start-up, small piece", now.Add(time.Second), 20 * time.Millisecond, now.Add(time.Second - 20*time.Millisecond - switchMargin)},
		{"far, large piece", now.Add(10 * time.Second), 3 * time.Second, now.Add(7*time.Second - switchMargin)},
		{"HTTP already too slow", now.Add(time.Second), 2 * time.Second, now.Add(-time.Second - switchMargin)},
	} {
		if got := hashGiveUp(tc.deadline, tc.httpTime); !got.Equal(tc.want) {
			t.Errorf("%s: hashGiveUp = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestHoldPolicy checks which pieces held for the check of their whole
// resource stop waiting (at or past their give-up time), and the time by
// which the rest of the resource is wanted: the earliest of the others.
func TestHoldPolicy(t *testing.T) {
	now := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	for _, tc := range []struct {
		name      string
		deadlines map[int]time.Time
		due       time.Time
		late      []int
	}{
		{"none held", nil, time.Time{}, nil},
		{"no deadline", map[int]time.Time{0: {}, 3: {}}, time.Time{}, nil},
		{"far", map[int]time.Time{0: at(5 * time.Second), 1: at(3 * time.Second)}, at(3 * time.Second), nil},
		{"just before giving up", map[int]time.Time{2: at(time.Millisecond)}, at(time.Millisecond), nil},
		{"giving up", map[int]time.Time{2: at(0)}, time.Time{}, []int{2}},
		{"past", map[int]time.Time{4: at(-time.Second), 1: at(-time.Millisecond)}, time.Time{}, []int{1, 4}},
		{"mixed", map[int]time.Time{0: at(-time.Second / 2), 1: {}, 2: at(8 * time.Second), 3: at(2 * time.Second)}, at(2 * time.Second), []int{0}},
	} {
		due, late := holdPolicy(tc.deadlines, now)
		if !due.Equal(tc.due) || fmt.Sprint(late) != fmt.Sprint(tc.late) {
			t.Errorf("%s: holdPolicy = %v, %v; want %v, %v", tc.name, due.Sub(now), late, tc.due.Sub(now), tc.late)
		}
	}
}

// TestUnitsOf: which hashed ranges a piece overlaps, and whether they cover
// all of its bytes (only then may it come from peers).
func TestUnitsOf(t *testing.T) {
	// An unlisted init segment [0, 100), then ranges [100, 400), [400, 1100)
	// and, after a gap, [1200, 1500).
	ranges := []piecehash.RangeHash{{Start: 100, End: 400}, {Start: 400, End: 1100}, {Start: 1200, End: 1500}}
	for _, tc := range []struct {
		name       string
		start, end int64
		i, j       int
		covered    bool
	}{
		{"init only", 0, 100, 0, 0, false},
		{"init and a range", 0, 200, 0, 1, false},
		{"inside one", 150, 300, 0, 1, true},
		{"exactly one", 100, 400, 0, 1, true},
		{"across two", 300, 600, 0, 2, true},
		{"across two and the gap", 300, 1150, 0, 2, false},
		{"the gap", 1100, 1200, 2, 2, false},
		{"across the gap", 1000, 1300, 1, 3, false},
		{"the last", 1200, 1500, 2, 3, true},
		{"past the last", 1400, 1600, 2, 3, false},
		{"after every range", 1500, 1600, 3, 3, false},
	} {
		i, j, covered := unitsOf(ranges, tc.start, tc.end)
		if i != tc.i || j != tc.j || covered != tc.covered {
			t.Errorf("%s: unitsOf([%d, %d)) = %d, %d, %v; want %d, %d, %v", tc.name, tc.start, tc.end, i, j, covered, tc.i, tc.j, tc.covered)
		}
	}
}

// TestCheckRanges: the ranges a SegmentHasher gives are those of the
// resource's version, in order.
func TestCheckRanges(t *testing.T) {
	rg := func(start, end int64) piecehash.RangeHash { return piecehash.RangeHash{Start: start, End: end} }
	for _, tc := range []struct {
		name   string
		ranges []piecehash.RangeHash
		ok     bool
	}{
		{"whole", []piecehash.RangeHash{rg(0, 1000)}, true},
		{"with gaps", []piecehash.RangeHash{rg(100, 400), rg(400, 900), rg(950, 1000)}, true},
		{"none", nil, false},
		{"empty range", []piecehash.RangeHash{rg(100, 100)}, false},
		{"past the end", []piecehash.RangeHash{rg(100, 1001)}, false},
		{"overlapping", []piecehash.RangeHash{rg(0, 500), rg(499, 1000)}, false},
		{"unsorted", []piecehash.RangeHash{rg(500, 1000), rg(0, 500)}, false},
		{"negative", []piecehash.RangeHash{rg(-1, 10)}, false},
	} {
		if err := checkRanges(tc.ranges, 1000); (err == nil) != tc.ok {
			t.Errorf("%s: checkRanges = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestHoldingsDue: a peer's holdings are waited for from when it joins
// until the swarm heard a peer's holdings, or for holdingsWait at most.
func TestHoldingsDue(t *testing.T) {
	joined := time.Unix(1000, 0)
	for _, tc := range []struct {
		name  string
		heard bool
		after time.Duration
		want  bool
	}{
		{"just joined", false, 0, true},
		{"still within the wait", false, holdingsWait - time.Millisecond, true},
		{"never sent them", false, holdingsWait, false},
		{"a peer's holdings heard", true, time.Millisecond, false},
	} {
		if got := holdingsDue(tc.heard, joined, joined.Add(tc.after)); got != tc.want {
			t.Errorf("%s: holdingsDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}
