package rtc

import "github.com/p2pmedia/p2pmedia/engine/transport"

// RecvQueueLimit exports recvQueueLimit for tests.
const RecvQueueLimit = recvQueueLimit

// BufferedAmount returns the buffered amount of c's data channel.
func BufferedAmount(c transport.Conn) uint64 { return c.(*conn).dc.BufferedAmount() }

// Queued returns the number of messages in c's receive queue.
func Queued(c transport.Conn) int {
	q := c.(*conn).q
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// WaitClosed waits until c is closed, for whatever reason.
func WaitClosed(c transport.Conn) { <-c.(*conn).done }
