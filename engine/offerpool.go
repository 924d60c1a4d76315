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
// Config.MaxOffers offers while P2P runs, and refills as swarms take them.
type offerPool struct {
	e *Engine

	mu     sync.Mutex
	ready  []transport.Offer
	making int
	on     bool
}

// take returns an offer from the pool, or nil when it is empty, and starts
// refilling it.
func (op *offerPool) take() transport.Offer {
	op.mu.Lock()
	var o transport.Offer
	if n := len(op.ready); n > 0 {
		o = op.ready[n-1]
		op.ready = op.ready[:n-1]
	}
	op.mu.Unlock()
	op.fill()
	return o
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
	for ; len(op.ready)+op.making < op.e.cfg.MaxOffers; op.making++ {
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
