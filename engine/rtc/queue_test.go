package rtc

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func msg(i, n int) []byte { return bytes.Repeat([]byte{byte(i)}, n) }

// popWait pops the next message, waiting for a push.
func popWait(q *msgQueue) []byte {
	for {
		if m, ok := q.pop(); ok {
			return m
		}
		<-q.readable
	}
}

func TestQueueOrder(t *testing.T) {
	for _, limit := range []int{0, 1 << 20} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			q := newMsgQueue(limit, 0)
			// Interleave pushes and pops so the ring compacts and grows.
			next := 0
			for i := range 1000 {
				if err := q.push(msg(i, i%50)); err != nil {
					t.Fatalf("push on an open queue: %v", err)
				}
				if i%3 == 0 {
					if m := popWait(q); !bytes.Equal(m, msg(next, next%50)) {
						t.Fatalf("pop %d: got %v", next, m)
					}
					next++
				}
			}
			for ; next < 1000; next++ {
				if m := popWait(q); !bytes.Equal(m, msg(next, next%50)) {
					t.Fatalf("pop %d: got %v", next, m)
				}
			}
			if m, ok := q.pop(); ok {
				t.Fatalf("pop from an empty queue = %v", m)
			}
		})
	}
}

func TestQueueBoundedPushWaitsForRoom(t *testing.T) {
	const size = 1000
	limit := 4 * (size + msgOverhead)
	q := newMsgQueue(limit, 0)
	for i := range 4 {
		q.push(msg(i, size))
	}
	pushed := make(chan error)
	go func() { pushed <- q.push(msg(4, size)) }()
	// The fifth message cannot be queued before a pop makes room.
	for i := range 4 {
		if m := popWait(q); !bytes.Equal(m, msg(i, size)) {
			t.Fatalf("pop %d: wrong message", i)
		}
	}
	if err := <-pushed; err != nil {
		t.Fatalf("blocked push: %v", err)
	}
	if m := popWait(q); !bytes.Equal(m, msg(4, size)) {
		t.Fatal("the blocked message did not come last")
	}
}

func TestQueueCostStaysWithinLimit(t *testing.T) {
	limit := 10_000
	q := newMsgQueue(limit, 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			q.push(msg(i, (i*37)%3000))
		}
	}()
	for i := range 2000 {
		q.mu.Lock()
		cost := q.cost
		q.mu.Unlock()
		if cost > limit {
			t.Fatalf("queued cost %d above limit %d", cost, limit)
		}
		if m := popWait(q); len(m) != (i*37)%3000 {
			t.Fatalf("pop %d: %d bytes", i, len(m))
		}
	}
	<-done
}

func TestQueueOversizedMessageFitsWhenEmpty(t *testing.T) {
	q := newMsgQueue(100, 0)
	if err := q.push(msg(1, 1000)); err != nil {
		t.Fatalf("push of an oversized message into an empty queue: %v", err)
	}
	if m := popWait(q); len(m) != 1000 {
		t.Fatalf("got %d bytes", len(m))
	}
}

func TestQueueCloseUnblocksPush(t *testing.T) {
	q := newMsgQueue(100, 0)
	q.push(msg(0, 100))
	pushed := make(chan error)
	go func() { pushed <- q.push(msg(1, 100)) }()
	q.close(false)
	if err := <-pushed; !errors.Is(err, ErrClosed) {
		t.Fatalf("push into a full, closed queue = %v, want ErrClosed", err)
	}
	if err := q.push(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close = %v, want ErrClosed", err)
	}
	q.close(false) // idempotent
	if m, ok := q.pop(); !ok || !bytes.Equal(m, msg(0, 100)) {
		t.Fatal("a message queued before close was lost")
	}
}

// TestQueueCap fills an unbounded (js) queue that nobody reads up to its cap:
// the message that would pass it is refused with ErrRecvOverflow, which
// blames the peer, and fits tells beforehand; the queue never holds more.
func TestQueueCap(t *testing.T) {
	const size = 1000
	maxCost := 10 * (size + msgOverhead)
	for _, limit := range []int{0, 1 << 20} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			q := newMsgQueue(limit, maxCost)
			for i := range 10 {
				if !q.fits(size) {
					t.Fatalf("message %d does not fit below the cap", i)
				}
				if err := q.push(msg(i, size)); err != nil {
					t.Fatalf("push %d below the cap: %v", i, err)
				}
			}
			if q.fits(1) {
				t.Error("a message past the cap fits")
			}
			err := q.push(msg(10, 1))
			if !errors.Is(err, ErrRecvOverflow) {
				t.Fatalf("push past the cap = %v, want ErrRecvOverflow", err)
			}
			var f interface{ PeerFault() bool }
			if !errors.As(err, &f) || !f.PeerFault() {
				t.Errorf("%v does not blame the peer", err)
			}
			if q.cost > maxCost {
				t.Errorf("queued cost %d above the cap %d", q.cost, maxCost)
			}
			// Reading makes room again.
			if m := popWait(q); !bytes.Equal(m, msg(0, size)) {
				t.Fatal("pop: wrong message")
			}
			if err := q.push(msg(10, size)); err != nil {
				t.Fatalf("push after a pop: %v", err)
			}
			q.close(true)
			if _, ok := q.pop(); ok || q.cost != 0 {
				t.Errorf("a discarding close kept messages (cost %d)", q.cost)
			}
		})
	}
}

// TestQueueCapRefusesOneHugeMessage: even an empty queue refuses a single
// message above the cap.
func TestQueueCapRefusesOneHugeMessage(t *testing.T) {
	q := newMsgQueue(0, 4096)
	if q.fits(8192) {
		t.Error("an 8 KiB message fits a 4 KiB cap")
	}
	if err := q.push(make([]byte, 8192)); !errors.Is(err, ErrRecvOverflow) {
		t.Fatalf("push = %v, want ErrRecvOverflow", err)
	}
}
