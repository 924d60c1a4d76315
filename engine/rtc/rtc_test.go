//go:build !js

package rtc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/engine/rtc/rtctest"
	"github.com/p2pmedia/p2pmedia/engine/transport"
)

// testTimeout bounds every wait of a test; tests assert outcomes, not times.
const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// connectors returns two connectors on their own loopback APIs; cfg's API is
// replaced.
func connectors(t *testing.T, cfg1, cfg2 rtc.Config) (*rtc.Connector, *rtc.Connector) {
	t.Helper()
	cfg1.API = rtctest.LoopbackAPI(t)
	cfg2.API = rtctest.LoopbackAPI(t)
	return rtc.NewConnector(cfg1), rtc.NewConnector(cfg2)
}

func pair(t *testing.T) (a, b transport.Conn) {
	t.Helper()
	c1, c2 := connectors(t, rtc.Config{}, rtc.Config{})
	return rtctest.Pair(t, c1, c2)
}

// message returns message seq of the given size: a pattern that depends on
// both seq and position, so lost, reordered or shifted bytes show.
func message(seq, size int) []byte {
	m := make([]byte, size)
	for j := range m {
		m[j] = byte(seq*131) ^ byte(j) ^ byte(j>>8)*7
	}
	if size >= 4 {
		binary.BigEndian.PutUint32(m, uint32(seq))
	}
	return m
}

// sizes is the test's selection of message sizes in 1..65535: every size up
// to 300, each power of two and its neighbours, and random ones.
func sizes() []int {
	var s []int
	for n := 1; n <= 300; n++ {
		s = append(s, n)
	}
	for p := 512; p <= 65536; p *= 2 {
		s = append(s, p-1, p, p+1)
	}
	s = s[:len(s)-2] // 65536 and 65537 exceed the limit
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		s = append(s, 1+r.IntN(65535))
	}
	return s
}

// transfer sends messages of the given sizes from a to b and checks that b
// receives them intact and in order.
func transfer(t *testing.T, a, b transport.Conn, sizes []int) {
	t.Helper()
	ctx := testCtx(t)
	sent := make(chan error, 1)
	go func() {
		for i, n := range sizes {
			if err := a.Send(ctx, message(i, n)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i, n := range sizes {
		m, err := b.Recv(ctx)
		if err != nil {
			t.Fatalf("recv message %d: %v", i, err)
		}
		if want := message(i, n); !bytes.Equal(m, want) {
			t.Fatalf("message %d: got %d bytes, want %d bytes of message %d", i, len(m), len(want), i)
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
}

func TestMessagesArriveIntactAndInOrder(t *testing.T) {
	a, b := pair(t)
	if a.MaxMessageSize() != rtc.DefaultMaxMessageSize || b.MaxMessageSize() != rtc.DefaultMaxMessageSize {
		t.Fatalf("MaxMessageSize = %d, %d; want %d", a.MaxMessageSize(), b.MaxMessageSize(), rtc.DefaultMaxMessageSize)
	}
	s := sizes()
	t.Run("offerer to answerer", func(t *testing.T) { transfer(t, a, b, s) })
	t.Run("answerer to offerer", func(t *testing.T) { transfer(t, b, a, s) })
}

func TestSendRejectsOversizedMessage(t *testing.T) {
	a, b := pair(t)
	ctx := testCtx(t)
	for _, n := range []int{65536, 65537, 1 << 20} {
		if err := a.Send(ctx, make([]byte, n)); !errors.Is(err, rtc.ErrMessageTooLarge) {
			t.Errorf("Send(%d bytes) = %v, want ErrMessageTooLarge", n, err)
		}
	}
	// The channel still works, up to the limit.
	transfer(t, a, b, []int{65535, 1})
}

// withMaxMessageSize adds an a=max-message-size attribute to an SDP's
// application section.
func withMaxMessageSize(t *testing.T, sdp string, n int) string {
	t.Helper()
	i := strings.Index(sdp, "a=sctp-port:")
	if i < 0 {
		t.Fatalf("no a=sctp-port in SDP:\n%s", sdp)
	}
	end := i + strings.Index(sdp[i:], "\r\n") + 2
	return sdp[:end] + "a=max-message-size:" + strconv.Itoa(n) + "\r\n" + sdp[end:]
}

func TestMaxMessageSizeFollowsPeerSDP(t *testing.T) {
	c1, c2 := connectors(t, rtc.Config{}, rtc.Config{})
	ctx := testCtx(t)
	offer, err := c1.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer offer.Close()
	answer, err := c2.Answer(ctx, withMaxMessageSize(t, offer.SDP(), 2000))
	if err != nil {
		t.Fatal(err)
	}
	defer answer.Close()
	a, err := offer.Accept(ctx, withMaxMessageSize(t, answer.SDP(), 1000))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := answer.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := a.MaxMessageSize(); got != 1000 {
		t.Errorf("offerer MaxMessageSize = %d, want the answer's 1000", got)
	}
	if got := b.MaxMessageSize(); got != 2000 {
		t.Errorf("answerer MaxMessageSize = %d, want the offer's 2000", got)
	}
	if err := a.Send(ctx, make([]byte, 1001)); !errors.Is(err, rtc.ErrMessageTooLarge) {
		t.Errorf("Send(1001 bytes) = %v, want ErrMessageTooLarge", err)
	}
	transfer(t, a, b, []int{1000})
	transfer(t, b, a, []int{2000})
}

// waitStalled waits until the sender's progress counter stops moving while
// its buffered amount is above lowWater (a blocked Send waits for the amount
// to fall to lowWater), and fails the test if the sender finishes instead.
func waitStalled(t *testing.T, a transport.Conn, lowWater uint64, progress *atomic.Int64, finished <-chan error) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	last, still := int64(-1), 0
	for time.Now().Before(deadline) {
		select {
		case err := <-finished:
			t.Fatalf("sender finished (err %v) while the receiver was not reading", err)
		case <-time.After(10 * time.Millisecond):
		}
		n := progress.Load()
		if n == last && rtc.BufferedAmount(a) > lowWater {
			still++
			if still == 30 {
				return
			}
			continue
		}
		last, still = n, 0
	}
	t.Fatal("sender never stalled")
}

func TestSendBlocksAtHighWaterUntilReceiverDrains(t *testing.T) {
	const (
		highWater = 256 << 10
		lowWater  = 64 << 10
		msgSize   = 16 << 10
		count     = 512 // 8 MiB, far beyond what the path can hold
		sctpRecv  = 1 << 20
		// What the path can hold while the receiver does not read: the
		// sender's buffer, the receive queue, the message held in the read
		// callback, the SCTP receive window, and slack for chunks in flight.
		bound = highWater + msgSize + rtc.RecvQueueLimit + msgSize + sctpRecv + 256<<10
	)
	c1, c2 := connectors(t, rtc.Config{HighWater: highWater, LowWater: lowWater}, rtc.Config{})
	a, b := rtctest.Pair(t, c1, c2)
	ctx := testCtx(t)

	var sentBytes atomic.Int64
	var maxBuffered atomic.Uint64
	finished := make(chan error, 1)
	go func() {
		for i := range count {
			if err := a.Send(ctx, message(i, msgSize)); err != nil {
				finished <- err
				return
			}
			if ba := rtc.BufferedAmount(a); ba > maxBuffered.Load() {
				maxBuffered.Store(ba)
			}
			sentBytes.Add(msgSize)
		}
		finished <- nil
	}()

	waitStalled(t, a, lowWater, &sentBytes, finished)
	stalledAt := sentBytes.Load()
	t.Logf("sender stalled after %d KiB with %d KiB buffered", stalledAt>>10, rtc.BufferedAmount(a)>>10)
	if stalledAt > bound {
		t.Errorf("sender got %d bytes through a receiver that does not read; the path holds at most %d", stalledAt, bound)
	}

	for i := range count {
		m, err := b.Recv(ctx)
		if err != nil {
			t.Fatalf("recv message %d: %v", i, err)
		}
		if !bytes.Equal(m, message(i, msgSize)) {
			t.Fatalf("message %d corrupted or out of order", i)
		}
	}
	if err := <-finished; err != nil {
		t.Fatalf("send: %v", err)
	}
	if got, limit := maxBuffered.Load(), uint64(highWater+msgSize); got > limit {
		t.Errorf("buffered amount reached %d, above high water + one message (%d)", got, limit)
	}
}

func TestCloseUnblocksBlockedSend(t *testing.T) {
	const lowWater = 16 << 10
	c1, c2 := connectors(t, rtc.Config{HighWater: 64 << 10, LowWater: lowWater}, rtc.Config{})
	a, _ := rtctest.Pair(t, c1, c2)
	ctx := testCtx(t)
	var sent atomic.Int64
	finished := make(chan error, 1)
	go func() {
		msg := make([]byte, 32<<10)
		for {
			if err := a.Send(ctx, msg); err != nil {
				finished <- err
				return
			}
			sent.Add(1)
		}
	}()
	waitStalled(t, a, lowWater, &sent, finished)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-finished; !errors.Is(err, rtc.ErrClosed) {
		t.Fatalf("blocked Send after Close = %v, want ErrClosed", err)
	}
}

func TestLocalClose(t *testing.T) {
	a, _ := pair(t)
	ctx := testCtx(t)
	recvd := make(chan error, 1)
	go func() {
		_, err := a.Recv(ctx)
		recvd <- err
	}()
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-recvd; !errors.Is(err, rtc.ErrClosed) {
		t.Errorf("pending Recv after Close = %v, want ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := a.Send(ctx, []byte("x")); !errors.Is(err, rtc.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if _, err := a.Recv(ctx); !errors.Is(err, rtc.ErrClosed) {
		t.Errorf("Recv after Close = %v, want ErrClosed", err)
	}
}

func TestPeerCloseFailsPendingRecv(t *testing.T) {
	for _, closer := range []string{"offerer", "answerer"} {
		t.Run(closer+" closes", func(t *testing.T) {
			a, b := pair(t)
			if closer == "answerer" {
				a, b = b, a
			}
			ctx := testCtx(t)
			recvd := make(chan error, 1)
			go func() {
				_, err := b.Recv(ctx)
				recvd <- err
			}()
			start := time.Now()
			if err := a.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			err := <-recvd
			if !errors.Is(err, rtc.ErrClosed) {
				t.Fatalf("peer's pending Recv = %v, want ErrClosed", err)
			}
			t.Logf("peer's Recv failed %v after Close: %v", time.Since(start), err)
			if err := b.Send(ctx, []byte("x")); !errors.Is(err, rtc.ErrClosed) {
				t.Errorf("peer's Send after the close = %v, want ErrClosed", err)
			}
		})
	}
}

func TestPeerCloseKeepsReceivedMessages(t *testing.T) {
	a, b := pair(t)
	ctx := testCtx(t)
	const n = 10
	for i := range n {
		if err := a.Send(ctx, message(i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until b has every message queued, then close a.
	for rtc.Queued(b) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d messages arrived", rtc.Queued(b), n)
		case <-time.After(time.Millisecond):
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	rtc.WaitClosed(b)
	for i := range n {
		m, err := b.Recv(ctx)
		if err != nil {
			t.Fatalf("recv message %d after the peer closed: %v", i, err)
		}
		if !bytes.Equal(m, message(i, 100)) {
			t.Fatalf("message %d corrupted", i)
		}
	}
	if _, err := b.Recv(ctx); !errors.Is(err, rtc.ErrClosed) {
		t.Errorf("Recv after the queued messages = %v, want ErrClosed", err)
	}
}

func TestAcceptRejectsBadAnswer(t *testing.T) {
	c1, c2 := connectors(t, rtc.Config{}, rtc.Config{})
	ctx := testCtx(t)
	valid := func() string {
		other, err := c1.Offer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		ans, err := c2.Answer(ctx, other.SDP())
		if err != nil {
			t.Fatal(err)
		}
		defer ans.Close()
		return ans.SDP()
	}()
	for _, tc := range []struct{ name, sdp string }{
		{"empty", ""},
		{"garbage", "garbage"},
		{"truncated", valid[:len(valid)/3]},
		{"no fingerprint", strings.ReplaceAll(valid, "a=fingerprint:", "a=x-fingerprint:")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offer, err := c1.Offer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c, err := offer.Accept(ctx, tc.sdp)
			if err == nil {
				c.Close()
				t.Fatal("Accept succeeded")
			}
			t.Logf("Accept: %v", err)
			if err := offer.Close(); err != nil {
				t.Errorf("Close after a failed Accept = %v", err)
			}
		})
	}
}

func TestAnswerRejectsBadOffer(t *testing.T) {
	_, c2 := connectors(t, rtc.Config{}, rtc.Config{})
	for _, sdp := range []string{"", "garbage", "v=0\r\n"} {
		if ans, err := c2.Answer(testCtx(t), sdp); err == nil {
			ans.Close()
			t.Errorf("Answer(%q) succeeded", sdp)
		}
	}
}

func TestContext(t *testing.T) {
	c1, c2 := connectors(t, rtc.Config{}, rtc.Config{})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	short := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("Offer", func(t *testing.T) {
		if o, err := c1.Offer(canceled); !errors.Is(err, context.Canceled) {
			if o != nil {
				o.Close()
			}
			t.Errorf("Offer(canceled) = %v, want context.Canceled", err)
		}
	})
	t.Run("Answer", func(t *testing.T) {
		offer, err := c1.Offer(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		defer offer.Close()
		if a, err := c2.Answer(canceled, offer.SDP()); !errors.Is(err, context.Canceled) {
			if a != nil {
				a.Close()
			}
			t.Errorf("Answer(canceled) = %v, want context.Canceled", err)
		}
	})
	t.Run("Wait without Accept", func(t *testing.T) {
		offer, err := c1.Offer(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		defer offer.Close()
		answer, err := c2.Answer(testCtx(t), offer.SDP())
		if err != nil {
			t.Fatal(err)
		}
		defer answer.Close()
		if _, err := answer.Wait(short(t)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("Accept of an abandoned answer", func(t *testing.T) {
		offer, err := c1.Offer(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		defer offer.Close()
		answer, err := c2.Answer(testCtx(t), offer.SDP())
		if err != nil {
			t.Fatal(err)
		}
		if err := answer.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := offer.Accept(short(t), answer.SDP()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Accept = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("Recv and Send", func(t *testing.T) {
		a, b := rtctest.Pair(t, c1, c2)
		if _, err := b.Recv(short(t)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Recv = %v, want context.DeadlineExceeded", err)
		}
		if err := a.Send(canceled, []byte("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("Send(canceled) = %v, want context.Canceled", err)
		}
		// A canceled call leaves the connection usable.
		transfer(t, a, b, []int{10, 20})
	})
}

// TestNoGoroutineLeak opens and closes many connections, accepted or
// abandoned, and checks that the goroutine count returns near its baseline.
func TestNoGoroutineLeak(t *testing.T) {
	c1, c2 := connectors(t, rtc.Config{}, rtc.Config{})
	ctx := testCtx(t)
	// Warm up: the first connection starts pion's long-lived goroutines.
	a, b, err := rtctest.Connect(ctx, c1, c2)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	baseline := settle(t, -1)

	for range 20 {
		a, b, err := rtctest.Connect(ctx, c1, c2)
		if err != nil {
			t.Fatal(err)
		}
		transfer(t, a, b, []int{1000})
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}

		offer, err := c1.Offer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		answer, err := c2.Answer(ctx, offer.SDP())
		if err != nil {
			t.Fatal(err)
		}
		if err := offer.Close(); err != nil {
			t.Fatal(err)
		}
		if err := answer.Close(); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, baseline)
}

// settle waits for the goroutine count to stop falling and returns it. With
// a baseline ≥ 0 it fails unless the count gets within a few of it.
func settle(t *testing.T, baseline int) int {
	t.Helper()
	const slack = 3
	deadline := time.Now().Add(testTimeout)
	n := runtime.NumGoroutine()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if baseline < 0 && m == n {
			return n
		}
		if baseline >= 0 && m <= baseline+slack {
			t.Logf("goroutines: %d, baseline %d", m, baseline)
			return m
		}
		n = m
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Fatalf("goroutines: %d, baseline %d\n%s", n, baseline, buf)
	return n
}

// TestVanishedPeerClosesConn cuts a connected peer off without a close (its
// socket goes away) and checks that the ICE state change fails the other
// side's pending Recv.
func TestVanishedPeerClosesConn(t *testing.T) {
	cfgs := make([]rtc.Config, 2)
	closers := make([]io.Closer, 2)
	for i := range cfgs {
		api, closer, err := rtc.NewLoopbackAPIWithICETimeouts(500*time.Millisecond, time.Second, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closer.Close() })
		cfgs[i].API, closers[i] = api, closer
	}
	a, _ := rtctest.Pair(t, rtc.NewConnector(cfgs[0]), rtc.NewConnector(cfgs[1]))
	ctx := testCtx(t)
	recvd := make(chan error, 1)
	go func() {
		_, err := a.Recv(ctx)
		recvd <- err
	}()
	if err := closers[1].Close(); err != nil {
		t.Fatal(err)
	}
	err := <-recvd
	if !errors.Is(err, rtc.ErrClosed) {
		t.Fatalf("Recv from a vanished peer = %v, want ErrClosed", err)
	}
	t.Logf("Recv: %v", err)
	if err := a.Send(ctx, []byte("x")); !errors.Is(err, rtc.ErrClosed) {
		t.Errorf("Send to a vanished peer = %v, want ErrClosed", err)
	}
}

// TestRecvOverflowClosesConn has a peer send far more than the receiver's
// MaxRecvQueue while nobody reads: the receiving conn closes with
// ErrRecvOverflow (which blames the peer), frees what it queued, and the
// sender's conn closes too.
func TestRecvOverflowClosesConn(t *testing.T) {
	const maxQueue = 256 << 10 // below the native 1 MiB at which the read loop waits
	c1, c2 := connectors(t, rtc.Config{}, rtc.Config{MaxRecvQueue: maxQueue})
	a, b := rtctest.Pair(t, c1, c2)
	ctx := testCtx(t)
	sent := make(chan error, 1)
	go func() {
		m := make([]byte, 16<<10)
		for range 4 * maxQueue / len(m) {
			if err := a.Send(ctx, m); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	rtc.WaitClosed(b)
	_, err := b.Recv(ctx)
	if !errors.Is(err, rtc.ErrRecvOverflow) || !errors.Is(err, rtc.ErrClosed) {
		t.Fatalf("Recv after overflow = %v, want ErrRecvOverflow and ErrClosed", err)
	}
	var f interface{ PeerFault() bool }
	if !errors.As(err, &f) || !f.PeerFault() {
		t.Errorf("%v does not blame the peer", err)
	}
	if n := rtc.Queued(b); n != 0 {
		t.Errorf("%d messages still queued after overflow", n)
	}
	t.Logf("Recv: %v; sender: %v", err, <-sent)
	rtc.WaitClosed(a)
}
