package rtc

import (
	"fmt"
	"sync"
)

// msgOverhead is what each queued message counts for beyond its bytes, so
// that a flood of empty messages is bounded too.
const msgOverhead = 64

// errQueueClosed is returned by push once the queue is closed.
var errQueueClosed = fmt.Errorf("%w: receive queue closed", ErrClosed)

// msgQueue is the FIFO of received messages between the data channel's
// message callback (one producer) and Recv (one consumer). With a limit, push
// blocks while the queued cost is above it; with limit 0 it never blocks.
// With a maxCost (the cap), a push that would take the queued cost above
// it fails with ErrRecvOverflow instead: the peer sent more than its reader
// may be made to hold.
type msgQueue struct {
	limit    int
	maxCost  int
	readable chan struct{} // a token after each push
	writable chan struct{} // a token after each pop
	closing  chan struct{} // closed by close

	mu     sync.Mutex
	items  [][]byte
	head   int
	cost   int
	closed bool
}

func newMsgQueue(limit, maxCost int) *msgQueue {
	return &msgQueue{
		limit:    limit,
		maxCost:  maxCost,
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
		closing:  make(chan struct{}),
	}
}

// fits reports whether a message of n bytes would stay within the cap now.
// With one producer, a push that follows fits and finds the queue no fuller:
// the js build checks before it copies a message out of JS.
func (q *msgQueue) fits(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.maxCost <= 0 || q.cost+n+msgOverhead <= q.maxCost
}

// push appends m, waiting for room while the queue is over its limit. A
// message always fits into an empty queue, unless it is above the cap. It
// returns an error wrapping ErrRecvOverflow, dropping m, when m would take
// the queue above its cap; and errQueueClosed, dropping m and every later
// message, once the queue is closed.
func (q *msgQueue) push(m []byte) error {
	cost := len(m) + msgOverhead
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return errQueueClosed
		}
		if q.limit <= 0 || q.cost == 0 || q.cost+cost <= q.limit {
			if q.maxCost > 0 && q.cost+cost > q.maxCost {
				queued := q.cost
				q.mu.Unlock()
				return fmt.Errorf("%w: %d bytes unread, %d more would pass the cap of %d", ErrRecvOverflow, queued, cost, q.maxCost)
			}
			q.items = append(q.items, m)
			q.cost += cost
			q.mu.Unlock()
			signal(q.readable)
			return nil
		}
		q.mu.Unlock()
		select {
		case <-q.writable:
		case <-q.closing:
		}
	}
}

// pop removes and returns the oldest message, if any.
func (q *msgQueue) pop() ([]byte, bool) {
	q.mu.Lock()
	if q.head == len(q.items) {
		q.mu.Unlock()
		return nil, false
	}
	m := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	q.cost -= len(m) + msgOverhead
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 32 && 2*q.head >= len(q.items):
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.mu.Unlock()
	signal(q.writable)
	return m, true
}

// close makes push fail from now on and wakes a blocked push. With discard
// it also frees the queued messages: nobody will read them.
func (q *msgQueue) close(discard bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.closing)
	}
	if discard {
		q.items, q.head, q.cost = nil, 0, 0
	}
}

// signal leaves a token in ch unless one is already there.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
