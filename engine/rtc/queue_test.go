package rtc

import (
	"bytes"
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
			q := newMsgQueue(limit)
			// Interleave pushes and pops so the ring compacts and grows.
			next := 0
			for i := range 1000 {
				if !q.push(msg(i, i%50)) {
					t.Fatal("push failed on an open queue")
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
	q := newMsgQueue(limit)
	for i := range 4 {
		q.push(msg(i, size))
	}
	pushed := make(chan bool)
	go func() { pushed <- q.push(msg(4, size)) }()
	// The fifth message cannot be queued before a pop makes room.
	for i := range 4 {
		if m := popWait(q); !bytes.Equal(m, msg(i, size)) {
			t.Fatalf("pop %d: wrong message", i)
		}
	}
	if !<-pushed {
		t.Fatal("blocked push failed")
	}
	if m := popWait(q); !bytes.Equal(m, msg(4, size)) {
		t.Fatal("the blocked message did not come last")
	}
}

func TestQueueCostStaysWithinLimit(t *testing.T) {
	limit := 10_000
	q := newMsgQueue(limit)
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
	q := newMsgQueue(100)
	if !q.push(msg(1, 1000)) {
		t.Fatal("push of an oversized message into an empty queue failed")
	}
	if m := popWait(q); len(m) != 1000 {
		t.Fatalf("got %d bytes", len(m))
	}
}

func TestQueueCloseUnblocksPush(t *testing.T) {
	q := newMsgQueue(100)
	q.push(msg(0, 100))
	pushed := make(chan bool)
	go func() { pushed <- q.push(msg(1, 100)) }()
	q.close()
	if <-pushed {
		t.Fatal("push into a full, closed queue succeeded")
	}
	if q.push(nil) {
		t.Fatal("push after close succeeded")
	}
	q.close() // idempotent
	if m, ok := q.pop(); !ok || !bytes.Equal(m, msg(0, 100)) {
		t.Fatal("a message queued before close was lost")
	}
}
