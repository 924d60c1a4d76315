package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWaitHashes: hashes that came are used even past the deadline (a
// select between two ready channels would pick either); hashes on their way
// are waited for until the give-up time, or without end when there is none.
func TestWaitHashes(t *testing.T) {
	s := &Swarm{ctx: context.Background()}
	ready := &hashes{done: make(chan struct{})}
	close(ready.done)
	for range 200 {
		if err := s.waitHashes(ready, time.Now().Add(-time.Hour)); err != nil {
			t.Fatalf("ready hashes, give-up time passed: %v", err)
		}
	}
	pending := &hashes{done: make(chan struct{})}
	t0 := time.Now()
	err := s.waitHashes(pending, t0.Add(50*time.Millisecond))
	if !errors.Is(err, errUnverifiable) {
		t.Fatalf("pending hashes: %v, want errUnverifiable", err)
	}
	if el := time.Since(t0); el < 40*time.Millisecond {
		t.Errorf("gave up after %v, before the give-up time", el)
	}
	go func() { time.Sleep(20 * time.Millisecond); close(pending.done) }()
	if err := s.waitHashes(pending, time.Time{}); err != nil {
		t.Errorf("no give-up time: %v", err)
	}
}
