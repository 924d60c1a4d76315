package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/p2pmedia/p2pmedia/engine/transport"
)

// offerPool holds offers made ahead of need. A browser takes a few hundred
// milliseconds to gather an offer; with offers at hand, a swarm that hears
// from its tracker that other peers are there sends its offers at once
// (Swarm.onResponse), and the connections that let a late joiner take its
// first pieces from peers start that much sooner. The pool holds up to
// poolSize offers (within Config.MaxOffers) while P2P runs, and refills as
// swarms take them.
//
// Offers made together share the page's one thread, and with the start of
// playback: the first of five made at once comes later than the first of
// two (in Chromium on two busy cores, about 550 ms against 300), and five
// slow a lone viewer's start-up. A swarm that needs offers while the pool
// is still making them waits for those (take) rather than start more.
type offerPool struct {
	e *Engine

	mu      sync.Mutex
	ready   []transport.Offer
	making  int
	on      bool
	changed chan struct{} // closed and replaced when ready or making changes
}

// poolSize is how many offers the pool holds: a late joiner most often
// finds one or two peers counted; more are made when needed.
const poolSize = 2

// take returns up to n offers from the pool: the ready ones and, when they
// are fewer than n, those being made at the call, as they come (until ctx
// ends). It starts refilling the pool.
func (op *offerPool) take(ctx context.Context, n int) []transport.Offer {
	var out []transport.Offer
	op.mu.Lock()
	want := min(n, len(op.ready)+op.making)
	for len(out) < want {
		if k := len(op.ready); k > 0 {
			out = append(out, op.ready[k-1])
			op.ready = op.ready[:k-1]
			continue
		}
		if op.making == 0 {
			break // those being made failed
		}
		ch := op.changedLocked()
		op.mu.Unlock()
		select {
		case <-ch:
			op.mu.Lock()
		case <-ctx.Done():
			op.mu.Lock()
			want = len(out)
		}
	}
	op.mu.Unlock()
	op.fill()
	return out
}

// changedLocked returns the channel closed at the pool's next change.
func (op *offerPool) changedLocked() chan struct{} {
	if op.changed == nil {
		op.changed = make(chan struct{})
	}
	return op.changed
}

// notifyLocked wakes those waiting in take.
func (op *offerPool) notifyLocked() {
	if op.changed != nil {
		close(op.changed)
		op.changed = nil
	}
}

// start lets the pool fill; stop empties it and keeps it empty.
func (op *offerPool) start() {
	op.mu.Lock()
	op.on = true
	op.mu.Unlock()
	op.fill()
}

func (op *offerPool) stop() {
	op.mu.Lock()
	op.on = false
	drop := op.ready
	op.ready = nil
	op.notifyLocked()
	op.mu.Unlock()
	for _, o := range drop {
		o.Close()
	}
}

// fill starts making the offers the pool lacks.
func (op *offerPool) fill() {
	conn := op.e.cfg.Connector
	op.mu.Lock()
	defer op.mu.Unlock()
	if !op.on || conn == nil {
		return
	}
	for ; len(op.ready)+op.making < min(op.e.cfg.MaxOffers, poolSize); op.making++ {
		op.e.wg.Add(1)
		go func() {
			defer op.e.wg.Done()
			ctx, cancel := context.WithTimeout(op.e.ctx, connectTimeout)
			o, err := conn.Offer(ctx)
			cancel()
			op.mu.Lock()
			op.making--
			keep := err == nil && op.on
			if keep {
				op.ready = append(op.ready, o)
			}
			op.notifyLocked()
			op.mu.Unlock()
			switch {
			case err != nil && op.e.ctx.Err() == nil:
				op.e.exception(CodeSignal, fmt.Errorf("create offer: %w", err))
			case err == nil && !keep:
				o.Close()
			}
		}()
	}
}
