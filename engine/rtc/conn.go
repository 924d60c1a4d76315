package rtc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/p2pmedia/p2pmedia/engine/transport"
)

// conn is one peer connection with its single data channel, from the first
// SDP to the close. It implements transport.Conn once the channel is open.
type conn struct {
	pc            *webrtc.PeerConnection
	plat          *platform
	highWater     uint64
	lowWater      uint64
	gatherTimeout time.Duration
	// maxMsg is lowered by limitMessageSize before the conn is handed out
	// and read-only afterwards.
	maxMsg int

	q   *msgQueue
	low chan struct{} // a token per OnBufferedAmountLow event

	opened   chan struct{} // closed when the data channel opens
	openOnce sync.Once

	done      chan struct{} // closed when the conn is closed for any reason
	closeOnce sync.Once
	cause     error // why; written before done is closed
	// local: closed on this side (Close, or a receive queue overflow), so
	// Recv fails at once; written before done is closed.
	local bool

	owned atomic.Bool // the conn was handed out: Offer/Answer Close no longer free it

	mu     sync.Mutex
	dc     *webrtc.DataChannel // written once by attach, before opened is closed
	closed bool
}

var _ transport.Conn = (*conn)(nil)

func newConn(cfg Config) (*conn, error) {
	pc, err := cfg.API.NewPeerConnection(cfg.WebRTC)
	if err != nil {
		return nil, fmt.Errorf("rtc: new peer connection: %w", err)
	}
	c := &conn{
		pc:            pc,
		highWater:     cfg.HighWater,
		lowWater:      cfg.LowWater,
		gatherTimeout: cfg.GatherTimeout,
		maxMsg:        cfg.MaxMessageSize,
		q:             newMsgQueue(recvQueueLimit, cfg.MaxRecvQueue),
		low:           make(chan struct{}, 1),
		opened:        make(chan struct{}),
		done:          make(chan struct{}),
	}
	c.plat = newPlatform(pc, cfg.Label, c.receive)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateClosed:
			_ = c.shutdown(fmt.Errorf("%w: peer connection %s", ErrClosed, s), false)
		}
	})
	return c, nil
}

// attach makes dc the conn's data channel. It reports false if the conn
// already has one or is closed; the caller then closes dc.
func (c *conn) attach(dc *webrtc.DataChannel) bool {
	c.mu.Lock()
	if c.dc != nil || c.closed {
		c.mu.Unlock()
		return false
	}
	c.dc = dc
	c.mu.Unlock()

	dc.SetBufferedAmountLowThreshold(c.lowWater)
	dc.OnBufferedAmountLow(func() { signal(c.low) })
	if !platformReceives {
		// This runs in pion's read loop: a full queue holds it, which
		// stops reading and lets SCTP throttle the sender.
		dc.OnMessage(func(m webrtc.DataChannelMessage) { c.push(m.Data) })
	}
	dc.OnClose(func() {
		_ = c.shutdown(fmt.Errorf("%w: data channel closed", ErrClosed), false)
	})
	dc.OnOpen(c.markOpen)
	if dc.ReadyState() == webrtc.DataChannelStateOpen {
		c.markOpen()
	}
	return true
}

func (c *conn) markOpen() { c.openOnce.Do(func() { close(c.opened) }) }

// receive queues a message of n bytes, which read copies out, unless it
// would overflow the receive queue: read is not called then, so that a
// message past the cap is never copied, and the conn closes.
func (c *conn) receive(n int, read func() []byte) {
	if !c.q.fits(n) {
		c.overflow(fmt.Errorf("%w: a %d-byte message would pass the cap of %d", ErrRecvOverflow, n, c.q.maxCost))
		return
	}
	c.push(read())
}

// push queues a received message; one past the queue's cap closes the conn.
func (c *conn) push(m []byte) {
	if err := c.q.push(m); errors.Is(err, ErrRecvOverflow) {
		c.overflow(err)
	}
}

// overflow closes the conn for a peer that sent more than the receive queue
// may hold. Recv fails at once, and the queued messages are freed: they
// came from a peer at fault.
func (c *conn) overflow(err error) {
	_ = c.shutdown(fmt.Errorf("%w: %w", ErrClosed, err), true)
}

// limitMessageSize lowers maxMsg to the peer's a=max-message-size.
func (c *conn) limitMessageSize(remoteSDP string) {
	if n, ok := sdpMaxMessageSize(remoteSDP); ok && n < c.maxMsg {
		c.maxMsg = n
	}
}

// gather sets desc as the local description and waits until ICE gathering
// completes, the gather timeout expires (the SDP then holds the candidates
// found so far), the conn fails or ctx is done.
func (c *conn) gather(ctx context.Context, desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(desc); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	timer := time.NewTimer(c.gatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
	case <-c.done:
		return "", c.cause
	case <-ctx.Done():
		return "", fmt.Errorf("gather ICE candidates: %w", ctx.Err())
	}
	local := c.pc.LocalDescription()
	if local == nil {
		return "", errors.New("no local description")
	}
	return local.SDP, nil
}

// waitOpen waits until the data channel is open and hands the conn out. On
// failure the conn is closed.
func (c *conn) waitOpen(ctx context.Context) (transport.Conn, error) {
	select {
	case <-c.opened:
		c.owned.Store(true)
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("rtc: data channel did not open: %w", c.cause)
	case <-ctx.Done():
		_ = c.Close()
		return nil, fmt.Errorf("rtc: wait for data channel: %w", ctx.Err())
	}
}

// abandon closes a conn that was not handed out.
func (c *conn) abandon() error {
	if c.owned.Load() {
		return nil
	}
	return c.Close()
}

// Send sends msg once the channel's buffered amount is at or below the high
// water mark, waiting for the low-water event while it is above.
func (c *conn) Send(ctx context.Context, msg []byte) error {
	if len(msg) > c.maxMsg {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(msg), c.maxMsg)
	}
	for c.dc.BufferedAmount() > c.highWater {
		select {
		case <-c.low:
		case <-c.done:
			return c.cause
		case <-ctx.Done():
			return fmt.Errorf("rtc: send: %w", ctx.Err())
		}
	}
	select {
	case <-c.done:
		return c.cause
	case <-ctx.Done():
		return fmt.Errorf("rtc: send: %w", ctx.Err())
	default:
	}
	if err := c.dc.Send(msg); err != nil {
		select {
		case <-c.done:
			return c.cause
		default:
		}
		return fmt.Errorf("rtc: send: %w", err)
	}
	return nil
}

// Recv returns the next message. After the peer closed the channel it
// returns the messages already received before the error; after Close it
// fails at once.
func (c *conn) Recv(ctx context.Context) ([]byte, error) {
	for {
		select {
		case <-c.done:
			if c.local {
				return nil, c.cause
			}
		default:
		}
		if m, ok := c.q.pop(); ok {
			return m, nil
		}
		select {
		case <-c.q.readable:
		case <-c.done:
			if m, ok := c.q.pop(); ok && !c.local {
				return m, nil
			}
			return nil, c.cause
		case <-ctx.Done():
			return nil, fmt.Errorf("rtc: recv: %w", ctx.Err())
		}
	}
}

// MaxMessageSize is the largest message Send accepts.
func (c *conn) MaxMessageSize() int { return c.maxMsg }

// Close closes the data channel and the peer connection. It is idempotent.
func (c *conn) Close() error {
	if err := c.shutdown(ErrClosed, true); err != nil {
		return fmt.Errorf("rtc: close: %w", err)
	}
	return nil
}

// shutdown closes the conn once, recording cause, and frees everything.
func (c *conn) shutdown(cause error, local bool) error {
	var err error
	c.closeOnce.Do(func() {
		c.cause, c.local = cause, local
		c.q.close(local) // unblocks a read callback waiting for room
		close(c.done)
		c.mu.Lock()
		c.closed = true
		dc := c.dc
		c.mu.Unlock()
		if dc != nil {
			_ = dc.Close()
		}
		err = c.pc.Close()
		c.plat.release()
	})
	return err
}
