package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

// EventKind tells which field of an Event is set.
type EventKind int

// Event kinds, matching the public API's events.
const (
	// EventPeerID carries this peer's id (PeerID): at start, and again
	// whenever a tracker refused it and the engine took a fresh one.
	EventPeerID EventKind = iota + 1
	// EventPeers carries the connected peers (Peers) whenever they change.
	EventPeers
	// EventStats carries the running totals (Stats).
	EventStats
	// EventServerConnected carries whether any tracker is connected.
	EventServerConnected
	// EventException carries an error the engine recovered from.
	EventException
)

// Exception codes.
const (
	// CodeTracker: a tracker could not be reached or answered with a failure.
	CodeTracker = "TRACKER_EXPT"
	// CodeSignal: a peer connection could not be signaled or opened.
	CodeSignal = "SIGNAL_EXPT"
	// CodePeer: a peer misbehaved (bad message, bad data, a bound of its
	// state crossed, too many strikes) and was banned from its swarm.
	CodePeer = "PEER_EXPT"
	// CodeHTTP: the origin failed a request.
	CodeHTTP = "HTTP_EXPT"
	// CodeStore: the piece store failed.
	CodeStore = "STORE_EXPT"
)

// Stats are the engine's running totals in bytes and bytes per second.
type Stats struct {
	HTTPDownloaded  int64
	P2PDownloaded   int64
	P2PUploaded     int64
	P2PDownloadRate float64
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	// ID is the peer's id in hex.
	ID string
	// Swarm is the swarm's channel id.
	Swarm string
	// Downloaded and Uploaded count bytes exchanged with this peer.
	Downloaded, Uploaded int64
}

// Exception is a recovered error reported to the page.
type Exception struct {
	Code    string
	Message string
}

// Event is one engine event; Kind tells which field is set.
type Event struct {
	Kind      EventKind
	PeerID    string
	Peers     []PeerInfo
	Stats     Stats
	Connected bool
	Exception Exception
}

// counters are the engine's byte totals, updated lock-free on hot paths.
type counters struct {
	http, p2pDown, p2pUp atomic.Int64
	rate                 rateMeter
}

// rateMeter measures a byte rate over a sliding window of one-second buckets.
type rateMeter struct {
	mu      sync.Mutex
	buckets [5]int64
	stamp   [5]int64 // unix second of each bucket
}

func (r *rateMeter) add(n int64, now time.Time) {
	s := now.Unix()
	i := s % int64(len(r.buckets))
	r.mu.Lock()
	if r.stamp[i] != s {
		r.stamp[i], r.buckets[i] = s, 0
	}
	r.buckets[i] += n
	r.mu.Unlock()
}

// rate returns bytes per second over the completed seconds of the window.
func (r *rateMeter) rate(now time.Time) float64 {
	s := now.Unix()
	var sum int64
	r.mu.Lock()
	for i := range r.buckets {
		if age := s - r.stamp[i]; age >= 1 && age <= int64(len(r.buckets)-1) {
			sum += r.buckets[i]
		}
	}
	r.mu.Unlock()
	return float64(sum) / float64(len(r.buckets)-1)
}

// emitter delivers events in order on one goroutine without ever blocking
// the engine: stats events coalesce, the others queue.
type emitter struct {
	fn     func(Event)
	mu     sync.Mutex
	queue  []Event
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

func newEmitter(fn func(Event)) *emitter {
	e := &emitter{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go e.run()
	return e
}

const maxQueuedEvents = 1024

func (e *emitter) emit(ev Event) {
	if e.fn == nil {
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	if ev.Kind == EventStats || ev.Kind == EventPeers {
		// Only the latest state matters.
		for i := range e.queue {
			if e.queue[i].Kind == ev.Kind {
				e.queue[i] = ev
				e.mu.Unlock()
				return
			}
		}
	}
	if len(e.queue) < maxQueuedEvents {
		e.queue = append(e.queue, ev)
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
	e.mu.Unlock()
}

func (e *emitter) run() {
	defer close(e.done)
	for {
		_, ok := <-e.wake
		for {
			e.mu.Lock()
			if len(e.queue) == 0 {
				e.mu.Unlock()
				break
			}
			ev := e.queue[0]
			e.queue = e.queue[1:]
			e.mu.Unlock()
			e.fn(ev)
		}
		if !ok {
			return
		}
	}
}

// close delivers what is queued, then stops.
func (e *emitter) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	close(e.wake)
	e.mu.Unlock()
	<-e.done
}
