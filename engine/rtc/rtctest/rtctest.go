//go:build !js

// Package rtctest helps tests and benchmarks run real pion peers on
// loopback: loopback APIs, connected pairs, and throughput measurements of a
// raw pion data channel and of an rtc connection.
package rtctest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/engine/transport"
)

// Flow-control marks of the raw baseline in RawThroughput; they match the
// rtc defaults.
const (
	rawHighWater = rtc.DefaultHighWater
	rawLowWater  = rtc.DefaultLowWater
)

// LoopbackAPI returns an rtc.NewLoopbackAPI API whose socket is closed when
// the test ends. The two ends of a connection need one API each.
func LoopbackAPI(t testing.TB) *webrtc.API {
	t.Helper()
	api, closer, err := rtc.NewLoopbackAPI()
	if err != nil {
		t.Fatalf("loopback API: %v", err)
	}
	t.Cleanup(func() {
		if err := closer.Close(); err != nil {
			t.Errorf("close loopback API: %v", err)
		}
	})
	return api
}

// Pair connects c1 (offerer) to c2 (answerer), exchanging the SDP directly,
// and returns both open ends: a from c1, b from c2. Both are closed when the
// test ends. It must be called from the test's goroutine.
func Pair(t testing.TB, c1, c2 *rtc.Connector) (a, b transport.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b, err := Connect(ctx, c1, c2)
	if err != nil {
		t.Fatalf("pair: %v", err)
	}
	t.Cleanup(func() {
		_ = a.Close()
		_ = b.Close()
	})
	return a, b
}

// Connect is Pair without a testing.TB: it connects c1 (offerer) to c2
// (answerer) and returns both open ends, or closes everything on error.
func Connect(ctx context.Context, c1, c2 *rtc.Connector) (a, b transport.Conn, err error) {
	offer, err := c1.Offer(ctx)
	if err != nil {
		return nil, nil, err
	}
	answer, err := c2.Answer(ctx, offer.SDP())
	if err != nil {
		_ = offer.Close()
		return nil, nil, err
	}
	type result struct {
		c   transport.Conn
		err error
	}
	waited := make(chan result, 1)
	go func() {
		c, err := answer.Wait(ctx)
		waited <- result{c, err}
	}()
	a, errA := offer.Accept(ctx, answer.SDP())
	if errA != nil {
		// Unblock Wait, which then fails or returns a conn to close.
		_ = answer.Close()
	}
	r := <-waited
	if err := errors.Join(errA, r.err); err != nil {
		if a != nil {
			_ = a.Close()
		}
		if r.c != nil {
			_ = r.c.Close()
		}
		_ = offer.Close()
		_ = answer.Close()
		return nil, nil, err
	}
	return a, r.c, nil
}

// ConnThroughput sends total bytes from a to b in messages of msgSize bytes
// and returns the rate in MiB/s, timed from the first Send until b received
// every byte. Each message of 8 bytes or more starts with its index, which b
// checks, so loss and reordering show without a per-byte cost.
func ConnThroughput(ctx context.Context, a, b transport.Conn, total int64, msgSize int) (float64, error) {
	if msgSize <= 0 || msgSize > a.MaxMessageSize() || total <= 0 {
		return 0, fmt.Errorf("rtctest: bad throughput parameters: total %d, message size %d, limit %d", total, msgSize, a.MaxMessageSize())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sent := make(chan error, 1)
	start := time.Now()
	go func() {
		buf := make([]byte, msgSize)
		var off int64
		for i := uint64(0); off < total; i++ {
			n := int64(msgSize)
			if total-off < n {
				n = total - off
			}
			if n >= 8 {
				binary.BigEndian.PutUint64(buf, i)
			}
			if err := a.Send(ctx, buf[:n]); err != nil {
				sent <- fmt.Errorf("send at byte %d: %w", off, err)
				return
			}
			off += n
		}
		sent <- nil
	}()
	var got int64
	for i := uint64(0); got < total; i++ {
		m, err := b.Recv(ctx)
		if err != nil {
			cancel()
			if serr := <-sent; serr != nil {
				return 0, fmt.Errorf("rtctest: %w (receiver: %v)", serr, err)
			}
			return 0, fmt.Errorf("rtctest: recv at byte %d: %w", got, err)
		}
		if len(m) >= 8 && binary.BigEndian.Uint64(m) != i {
			cancel()
			<-sent
			return 0, fmt.Errorf("rtctest: message %d arrived as message %d", binary.BigEndian.Uint64(m), i)
		}
		got += int64(len(m))
	}
	elapsed := time.Since(start)
	if err := <-sent; err != nil {
		return 0, fmt.Errorf("rtctest: %w", err)
	}
	return mibPerSec(total, elapsed), nil
}

// RawThroughput measures the baseline ConnThroughput is compared with: a raw
// pion data channel pair with no rtc wrapper. The sender's peer connection
// comes from api; the receiver's from its own rtc.NewLoopbackAPI (one API
// cannot connect to itself). The sender pushes total bytes in msgSize
// messages with its own flow control (send while bufferedAmount ≤ 1 MiB,
// wait for the 256 KiB low-threshold event otherwise); the receiver counts
// bytes in OnMessage. The rate in MiB/s is timed from the first send until
// the receiver got every byte.
func RawThroughput(ctx context.Context, api *webrtc.API, total int64, msgSize int) (float64, error) {
	if msgSize <= 0 || msgSize > rtc.DefaultMaxMessageSize || total <= 0 {
		return 0, fmt.Errorf("rtctest: bad throughput parameters: total %d, message size %d", total, msgSize)
	}
	recvAPI, closer, err := rtc.NewLoopbackAPI()
	if err != nil {
		return 0, fmt.Errorf("rtctest: %w", err)
	}
	defer closer.Close()

	pcA, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, fmt.Errorf("rtctest: sender peer connection: %w", err)
	}
	defer pcA.Close()
	pcB, err := recvAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, fmt.Errorf("rtctest: receiver peer connection: %w", err)
	}
	defer pcB.Close()

	received := make(chan struct{})
	var got int64 // owned by the receiver's read loop
	pcB.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			if got >= total {
				return
			}
			got += int64(len(m.Data))
			if got >= total {
				close(received)
			}
		})
	})
	dc, err := pcA.CreateDataChannel("raw", nil)
	if err != nil {
		return 0, fmt.Errorf("rtctest: create data channel: %w", err)
	}
	opened := make(chan struct{})
	dc.OnOpen(func() { close(opened) })
	closed := make(chan struct{})
	var closeOnce sync.Once
	dc.OnClose(func() { closeOnce.Do(func() { close(closed) }) })
	low := make(chan struct{}, 1)
	dc.SetBufferedAmountLowThreshold(rawLowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case low <- struct{}{}:
		default:
		}
	})

	if err := exchange(ctx, pcA, pcB); err != nil {
		return 0, fmt.Errorf("rtctest: %w", err)
	}
	select {
	case <-opened:
	case <-ctx.Done():
		return 0, fmt.Errorf("rtctest: wait for raw channel: %w", ctx.Err())
	}

	start := time.Now()
	buf := make([]byte, msgSize)
	for off := int64(0); off < total; {
		for dc.BufferedAmount() > rawHighWater {
			select {
			case <-low:
			case <-closed:
				return 0, errors.New("rtctest: raw channel closed")
			case <-ctx.Done():
				return 0, fmt.Errorf("rtctest: raw send: %w", ctx.Err())
			}
		}
		n := int64(msgSize)
		if total-off < n {
			n = total - off
		}
		if err := dc.Send(buf[:n]); err != nil {
			return 0, fmt.Errorf("rtctest: raw send: %w", err)
		}
		off += n
	}
	select {
	case <-received:
	case <-closed:
		return 0, errors.New("rtctest: raw channel closed")
	case <-ctx.Done():
		return 0, fmt.Errorf("rtctest: raw receive: %w", ctx.Err())
	}
	return mibPerSec(total, time.Since(start)), nil
}

// exchange runs a complete (non-trickle) offer/answer between two peer
// connections.
func exchange(ctx context.Context, offerer, answerer *webrtc.PeerConnection) error {
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if offer, err = gatherLocal(ctx, offerer, offer); err != nil {
		return err
	}
	if err := answerer.SetRemoteDescription(offer); err != nil {
		return fmt.Errorf("apply offer: %w", err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if answer, err = gatherLocal(ctx, answerer, answer); err != nil {
		return err
	}
	if err := offerer.SetRemoteDescription(answer); err != nil {
		return fmt.Errorf("apply answer: %w", err)
	}
	return nil
}

func gatherLocal(ctx context.Context, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return desc, fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return desc, fmt.Errorf("gather: %w", ctx.Err())
	}
	return *pc.LocalDescription(), nil
}

func mibPerSec(n int64, d time.Duration) float64 {
	return float64(n) / (1 << 20) / d.Seconds()
}
