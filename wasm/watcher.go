//go:build js && wasm

package main

import (
	"math"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/internal/mediaurl"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

const (
	// watchInterval is how often the media element is read.
	watchInterval = 250 * time.Millisecond
	// startupSlack is the deadline of the playhead's piece before playback
	// starts (or while paused): the player is waiting, but not yet stalling.
	startupSlack = time.Second
	// unknownSlack is the deadline of a piece of a resource no known media
	// element plays (no element, or one playing something else).
	unknownSlack = 2 * time.Second
	// segmentLead is how long before the playhead reaches a segment the
	// segment is due: a player appends a segment only once it has all of
	// it, and needs time to demux and append it.
	segmentLead = time.Second
	// maxExtrapolation bounds how far the playhead is moved forward from the
	// last reading of a playing element.
	maxExtrapolation = time.Second
)

// playState is one reading of the media element.
type playState struct {
	known    bool    // an element was found
	url      string  // the original URL it plays, "" when not proxied
	t, dur   float64 // currentTime and duration in seconds
	rate     float64 // playbackRate
	paused   bool
	ready    int // readyState
	at       time.Time
	hasTimes bool // dur is finite and positive
}

// playing reports whether the element moves through its media: it is not
// paused, and it has enough data to move on (HAVE_FUTURE_DATA) or has
// moved already. Before its first frames it is starting, not playing: its
// first segments are due a little later (startupSlack) rather than now.
func (st playState) playing() bool {
	return !st.paused && st.rate > 0 && (st.ready >= 3 || st.t > 0)
}

// watcher reads the page's media element every watchInterval and tells the
// engine where playback is. The interval callback only reads the element
// and hands the reading to a goroutine: it never blocks.
type watcher struct {
	w     *wasmEngine
	elem  js.Value // configured element; undefined: find one
	found js.Value // the element found when none was configured
	snaps chan playState
	tick  js.Func
	timer js.Value
	// wanted is set once a request arrived: only then is the document
	// searched for an element.
	wanted atomic.Bool

	mu    sync.Mutex
	state playState
	last  struct { // the playhead last given to the engine
		r      *engine.Resource
		offset int64
		rate   float64
	}
	stopped bool
}

func newWatcher(w *wasmEngine, elem js.Value) *watcher {
	wt := &watcher{w: w, elem: elem, found: js.Undefined(), snaps: make(chan playState, 1)}
	wt.tick = js.FuncOf(func(js.Value, []js.Value) any {
		wt.read()
		return nil
	})
	_ = jsutil.Try(func() {
		wt.timer = js.Global().Call("setInterval", wt.tick, watchInterval.Milliseconds())
	})
	go wt.run()
	return wt
}

// element returns the media element to watch, searching the document for
// the first video or audio element when none was configured.
func (wt *watcher) element() js.Value {
	if jsutil.IsObject(wt.elem) {
		return wt.elem
	}
	if jsutil.IsObject(wt.found) && jsutil.Bool(wt.found, "isConnected", true) {
		return wt.found
	}
	wt.found = js.Undefined()
	if !wt.wanted.Load() {
		return wt.found
	}
	doc := js.Global().Get("document")
	if !jsutil.IsObject(doc) {
		return wt.found
	}
	if el, err := jsutil.Call(doc, "querySelector", "video,audio"); err == nil && jsutil.IsObject(el) {
		wt.found = el
	}
	return wt.found
}

// read runs in the interval callback: it reads the element and passes the
// reading on, replacing one not yet consumed.
func (wt *watcher) read() {
	var st playState
	_ = jsutil.Try(func() {
		el := wt.element()
		if !jsutil.IsObject(el) {
			return
		}
		st = playState{
			known:  true,
			t:      jsutil.Number(el, "currentTime", 0),
			dur:    jsutil.Number(el, "duration", 0),
			rate:   jsutil.Number(el, "playbackRate", 1),
			paused: jsutil.Bool(el, "paused", true),
			ready:  int(jsutil.Number(el, "readyState", 0)),
			at:     time.Now(),
		}
		st.hasTimes = st.dur > 0 && !math.IsInf(st.dur, 0)
		if st.ready < 1 {
			st.hasTimes = false // HAVE_NOTHING: no metadata yet
		}
		st.url, _ = mediaurl.Original(jsutil.String(el, "currentSrc", ""))
	})
	select {
	case <-wt.snaps:
	default:
	}
	wt.snaps <- st
}

// run consumes readings until stop.
func (wt *watcher) run() {
	for st := range wt.snaps {
		wt.update(st)
	}
}

// update records a reading and moves the engine's playhead.
func (wt *watcher) update(st playState) {
	var r *engine.Resource
	if st.known && st.url != "" && st.hasTimes {
		r = wt.w.lookup(st.url)
	}
	var offset int64
	var rate float64
	if r != nil {
		size := float64(r.Info().Size)
		offset = int64(min(max(st.t/st.dur, 0), 1) * size)
		if st.playing() {
			rate = size / st.dur * st.rate
		}
	}
	wt.mu.Lock()
	if wt.stopped {
		wt.mu.Unlock()
		return
	}
	wt.state = st
	prev := wt.last
	changed := r != prev.r || offset != prev.offset || rate != prev.rate
	wt.last.r, wt.last.offset, wt.last.rate = r, offset, rate
	wt.mu.Unlock()
	if prev.r != nil && prev.r != r {
		prev.r.SetPlayhead(prev.offset, 0)
	}
	if r != nil && (changed || rate > 0) {
		r.SetPlayhead(offset, rate)
	}
}

// deadline returns when piece bytes starting at pieceStart of the resource
// at url (size bytes) are needed, from the last reading of the element:
// while it plays, when the playhead reaches pieceStart (now, for a piece
// behind it); while paused or before playback starts, startupSlack plus the
// time playback at rate 1 would take to reach pieceStart; without a known
// duration, startupSlack; when no element plays url, unknownSlack.
func (wt *watcher) deadline(url string, size, pieceStart int64, now time.Time) time.Time {
	wt.wanted.Store(true)
	wt.mu.Lock()
	st := wt.state
	wt.mu.Unlock()
	switch {
	case !st.known || st.url != url:
		return now.Add(unknownSlack)
	case !st.hasTimes || size <= 0:
		return now.Add(startupSlack)
	}
	bps := float64(size) / st.dur // bytes per second at rate 1
	pos := st.t / st.dur * float64(size)
	if st.playing() {
		speed := bps * st.rate
		pos += speed * min(now.Sub(st.at), maxExtrapolation).Seconds()
		ahead := max(float64(pieceStart)-pos, 0)
		return now.Add(seconds(ahead / speed))
	}
	ahead := max(float64(pieceStart)-pos, 0)
	return now.Add(startupSlack + seconds(ahead/bps))
}

// mediaDeadline returns when piece bytes starting at pieceStart of the
// resource at url (size bytes) are needed, ref being what the segment map
// knew of url (docs/browser-runtime.md, "Manifests"):
//
//   - a live segment: within the manifest's target duration (the player
//     asked for it now; the peer elected for it may deliver meanwhile);
//   - a VOD segment: segmentLead before the playhead reaches the segment's
//     start (for a DASH Representation in one file, the start plus the
//     piece's share of the duration);
//   - a file of byte-range segments: segmentLead before the playhead
//     reaches the first segment that ends after pieceStart;
//   - anything else: deadline's progressive rule.
func (wt *watcher) mediaDeadline(url string, ref mediaRef, size, pieceStart int64, now time.Time) time.Time {
	switch ref.kind {
	case kindSegment:
		if ref.live {
			if ref.target <= 0 {
				return now.Add(unknownSlack)
			}
			return now.Add(ref.target)
		}
		at := ref.seg.Start
		if ref.whole && size > 0 && ref.seg.Duration > 0 {
			at += time.Duration(float64(pieceStart) / float64(size) * float64(ref.seg.Duration))
		}
		return wt.timeDeadline(ref.root, at, now)
	case kindFile:
		for _, s := range ref.segs {
			if s.Range.End > pieceStart {
				return wt.timeDeadline(ref.root, s.Start, now)
			}
		}
		return now.Add(unknownSlack)
	}
	return wt.deadline(url, size, pieceStart, now)
}

// timeDeadline returns when a segment starting at at, a time on the
// presentation timeline of the stream whose manifest is root, is due:
// while the element plays, segmentLead before the playhead reaches at (now,
// for a time behind the playhead or within segmentLead of it); while
// paused or before playback starts, startupSlack plus the time playback at
// rate 1 would take; when no element is found, or the element plays another
// proxied URL, unknownSlack. An element playing from a MediaSource (a
// blob: URL) is taken to play the stream.
func (wt *watcher) timeDeadline(root string, at time.Duration, now time.Time) time.Time {
	wt.wanted.Store(true)
	wt.mu.Lock()
	st := wt.state
	wt.mu.Unlock()
	if !st.known || (st.url != "" && normalizeURL(st.url) != normalizeURL(root)) {
		return now.Add(unknownSlack)
	}
	if st.playing() {
		pos := st.t + st.rate*min(now.Sub(st.at), maxExtrapolation).Seconds()
		return now.Add(max(seconds(max(at.Seconds()-pos, 0)/st.rate)-segmentLead, 0))
	}
	return now.Add(startupSlack + seconds(max(at.Seconds()-st.t, 0)))
}

// The service worker's piece timeout (docs/browser-runtime.md), and what
// capDeadline keeps of it.
const (
	defaultPieceBudget = 8 * time.Second
	pieceBudgetMargin  = time.Second
)

// capDeadline keeps a piece's deadline within the time the service worker
// waits for it, budget (0: its default), less a margin: past it the
// service worker fetches the bytes from the origin itself, which the swarm
// never sees.
func capDeadline(deadline, now time.Time, budget time.Duration) time.Time {
	if budget <= 0 {
		budget = defaultPieceBudget
	}
	limit := max(budget-pieceBudgetMargin, budget/2)
	if deadline.After(now.Add(limit)) {
		return now.Add(limit)
	}
	return deadline
}

// seconds converts a number of seconds to a Duration, saturating.
func seconds(s float64) time.Duration {
	if s >= math.MaxInt64/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(s * float64(time.Second))
}

// stop clears the interval and ends the goroutine. It must be called from
// JS's thread of control (a callback) or a goroutine; it does not block.
func (wt *watcher) stop() {
	wt.mu.Lock()
	if wt.stopped {
		wt.mu.Unlock()
		return
	}
	wt.stopped = true
	wt.mu.Unlock()
	_ = jsutil.Try(func() { js.Global().Call("clearInterval", wt.timer) })
	wt.tick.Release()
	close(wt.snaps)
}
