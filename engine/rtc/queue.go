package rtc

import "sync"

// msgOverhead is what each queued message counts for beyond its bytes, so
// that a flood of empty messages is bounded too.
const msgOverhead = 64

// msgQueue is the FIFO of received messages between the data channel's
// message callback (one producer) and Recv (one consumer). With a limit, push
// blocks while the queued cost is above it; with limit 0 it never blocks.
type msgQueue struct {
	limit    int
	readable chan struct{} // a token after each push
	writable chan struct{} // a token after each pop
	closing  chan struct{} // closed by close

	mu     sync.Mutex
	items  [][]byte
	head   int
	cost   int
	closed bool
}

func newMsgQueue(limit int) *msgQueue {
	return &msgQueue{
		limit:    limit,
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
		closing:  make(chan struct{}),
	}
}

// push appends m, waiting for room while the queue is over its limit. A
// message always fits into an empty queue. It reports false, dropping m and
// every later message, once the queue is closed.
func (q *msgQueue) push(m []byte) bool {
	cost := len(m) + msgOverhead
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return false
		}
		if q.limit <= 0 || q.cost == 0 || q.cost+cost <= q.limit {
			q.items = append(q.items, m)
			q.cost += cost
			q.mu.Unlock()
			signal(q.readable)
			return true
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

// close makes push fail from now on and wakes a blocked push.
func (q *msgQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.closing)
	}
}

// signal leaves a token in ch unless one is already there.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
