//go:build !js

package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/origin"
	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/engine/rtc/rtctest"
	"github.com/p2pmedia/p2pmedia/engine/trackerclient"
	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/engine/transport"
	"github.com/p2pmedia/p2pmedia/engine/wire"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// pieceLen is the piece length of every engine of these tests: small pieces
// keep the files small and the tests fast.
const pieceLen = 64 << 10

// waitLimit bounds every wait for something that must happen; reaching it is
// a failure (a hang guard, not a speed requirement).
const waitLimit = 20 * time.Second

// withPieceLength sets the tests' piece length.
func withPieceLength(c *engine.Config) { c.PieceLength = pieceLen }

// httpOnly removes the peer network: every byte comes over HTTP.
func httpOnly(c *engine.Config) { c.Connector, c.Announce = nil, nil }

// newEngine starts an engine with the tests' piece length on its own loopback
// WebRTC API, a memory store and the origin client; it is closed when the
// test ends.
func newEngine(t testing.TB, announce string, opts ...func(*engine.Config)) *engine.Engine {
	t.Helper()
	return swarmtest.NewEngine(t, announce, append([]func(*engine.Config){withPieceLength}, opts...)...)
}

// recorder keeps every event an engine emits.
type recorder struct {
	mu  sync.Mutex
	evs []engine.Event
}

// option installs the recorder as the engine's OnEvent.
func (r *recorder) option() func(*engine.Config) {
	return func(c *engine.Config) { c.OnEvent = r.add }
}

func (r *recorder) add(ev engine.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// events returns a copy of the events so far.
func (r *recorder) events() []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]engine.Event(nil), r.evs...)
}

// any reports whether some event satisfies pred.
func (r *recorder) any(pred func(engine.Event) bool) bool {
	for _, ev := range r.events() {
		if pred(ev) {
			return true
		}
	}
	return false
}

// exception reports whether an exception with code was emitted.
func (r *recorder) exception(code string) bool {
	return r.any(func(ev engine.Event) bool { return ev.Kind == engine.EventException && ev.Exception.Code == code })
}

// connected reports whether a serverConnected event with value up was emitted.
func (r *recorder) connected(up bool) bool {
	return r.any(func(ev engine.Event) bool { return ev.Kind == engine.EventServerConnected && ev.Connected == up })
}

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// join joins the swarm of url and registers its resource "".
func join(t testing.TB, e *engine.Engine, url string) (*engine.Swarm, *engine.Resource) {
	t.Helper()
	sw, err := e.JoinURL(url)
	if err != nil {
		t.Fatalf("JoinURL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := sw.Resource(ctx, "", url)
	if err != nil {
		t.Fatalf("Resource: %v", err)
	}
	return sw, r
}

// swarmOf is the identity of the swarm the engines of these tests join for url.
func swarmOf(t testing.TB, url string) identity.Swarm {
	t.Helper()
	ch, err := identity.ChannelID(url)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.NewSwarm("", ch, false, pieceLen)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// stat returns the origin's size and validators for url, as an engine sees them.
func stat(t testing.TB, url string) identity.ResourceInfo {
	t.Helper()
	info, err := (&origin.Client{}).Stat(context.Background(), url)
	if err != nil {
		t.Fatalf("stat %s: %v", url, err)
	}
	return info
}

// pieceOf returns piece i of data.
func pieceOf(data []byte, i int) []byte {
	start, end, _ := identity.PieceRange(i, int64(len(data)), pieceLen)
	return data[start:end]
}

// pieceCount is the number of pieces of data.
func pieceCount(data []byte) int { return identity.PieceCount(int64(len(data)), pieceLen) }

// readResult is the outcome of one ReadPiece.
type readResult struct {
	index    int
	data     []byte
	err      error
	deadline time.Time
	done     time.Time
}

// readPieces reads the pieces at once, each with the deadline deadline(i)
// computed when the read starts, and returns when all reads returned.
func readPieces(r *engine.Resource, indexes []int, deadline func(i int) time.Time) []readResult {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	out := make([]readResult, len(indexes))
	var wg sync.WaitGroup
	for k, i := range indexes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := deadline(i)
			b, err := r.ReadPiece(ctx, i, d)
			out[k] = readResult{index: i, data: b, err: err, deadline: d, done: time.Now()}
		}()
	}
	wg.Wait()
	return out
}

// checkReads asserts every read succeeded with data's bytes and, when
// onTime, before its deadline.
func checkReads(t testing.TB, res []readResult, data []byte, onTime bool) {
	t.Helper()
	for _, rr := range res {
		switch {
		case rr.err != nil:
			t.Errorf("ReadPiece(%d): %v", rr.index, rr.err)
		case !bytes.Equal(rr.data, pieceOf(data, rr.index)):
			t.Errorf("ReadPiece(%d): %d bytes that differ from the origin's", rr.index, len(rr.data))
		case onTime && !rr.deadline.IsZero() && rr.done.After(rr.deadline):
			t.Errorf("ReadPiece(%d) returned %v after its deadline", rr.index, rr.done.Sub(rr.deadline))
		}
	}
}

// all returns the indexes 0..n-1.
func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// in returns a deadline function: d after the read starts (zero d: as soon
// as possible).
func in(d time.Duration) func(int) time.Time {
	return func(int) time.Time {
		if d == 0 {
			return time.Time{}
		}
		return time.Now().Add(d)
	}
}

// hashValidator accepts exactly data's pieces, by SHA-256.
func hashValidator(data []byte) engine.Validator {
	sums := make([][32]byte, pieceCount(data))
	for i := range sums {
		sums[i] = sha256.Sum256(pieceOf(data, i))
	}
	return func(p engine.PieceRef, b []byte) error {
		i := p.Index
		if i < 0 || i >= len(sums) {
			return fmt.Errorf("piece %d out of range", i)
		}
		if sha256.Sum256(b) != sums[i] {
			return fmt.Errorf("piece %d: SHA-256 mismatch", i)
		}
		return nil
	}
}

// fakePeer is a scripted remote peer built from the engine's own parts: it
// joins the swarm at the tracker, answers the first offer relayed to it with
// a real pion connection, exchanges handshakes, and then does whatever its
// script says with the wire messages.
type fakePeer struct {
	t      testing.TB
	id     trackermsg.ID
	sw     identity.Swarm
	conn   transport.Conn // set before open is closed
	remote trackermsg.ID  // the engine's peer id, set before open is closed
	tc     *trackerclient.Client
	ctx    context.Context
	cancel context.CancelFunc

	open     chan struct{}
	failed   chan error
	readDone chan struct{}
	answered atomic.Bool
	offers   atomic.Int32 // offers the tracker relayed to it
	// badHandshake: it opens the connection with a byte that is no
	// message, instead of its handshake, and stops there.
	badHandshake atomic.Bool

	onOpen    func(*fakePeer)
	onMessage func(*fakePeer, wire.Message)

	sendMu sync.Mutex
	mu     sync.Mutex
	msgs   []wire.Message
	errs   []error
}

// newFakePeer starts a fake peer of swarm sw at the tracker announce and
// returns once the tracker counts it in the swarm, so that the next engine
// to announce sends it an offer. onOpen runs after the handshakes, before
// any message is read, and is followed by a Ready; onMessage runs on the
// reader goroutine for every message from the engine. Either may be nil.
func newFakePeer(t testing.TB, announce string, sw identity.Swarm, onOpen func(*fakePeer), onMessage func(*fakePeer, wire.Message)) *fakePeer {
	t.Helper()
	return newFakePeerWith(t, announce, sw, rtc.Config{API: rtctest.LoopbackAPI(t)}, onOpen, onMessage)
}

// newFakePeerWith is newFakePeer with its connections made by a connector
// configured by rcfg (a fixed certificate, say).
func newFakePeerWith(t testing.TB, announce string, sw identity.Swarm, rcfg rtc.Config, onOpen func(*fakePeer), onMessage func(*fakePeer, wire.Message)) *fakePeer {
	t.Helper()
	fp := &fakePeer{
		t: t, sw: sw,
		open: make(chan struct{}), failed: make(chan error, 1), readDone: make(chan struct{}),
		onOpen: onOpen, onMessage: onMessage,
	}
	copy(fp.id[:], "-FAKE00-")
	if _, err := rand.Read(fp.id[8:]); err != nil {
		t.Fatal(err)
	}
	fp.ctx, fp.cancel = context.WithCancel(context.Background())
	connector := rtc.NewConnector(rcfg)
	responded := make(chan struct{}, 1)
	ih := trackermsg.ID(sw.InfoHash)
	tc, err := trackerclient.New(trackerclient.Config{URL: announce, PeerID: fp.id}, trackerclient.Events{
		OnResponse: func(got trackermsg.ID, _ time.Duration, _, _ int) {
			if got == ih {
				select {
				case responded <- struct{}{}:
				default:
				}
			}
		},
		OnOffer: func(got, from, offerID trackermsg.ID, sdp string) {
			if got == ih {
				fp.offers.Add(1)
			}
			if got == ih && fp.answered.CompareAndSwap(false, true) {
				go fp.accept(connector, from, offerID, sdp)
			}
		},
	})
	if err != nil {
		t.Fatalf("fake peer tracker client: %v", err)
	}
	fp.tc = tc
	t.Cleanup(fp.close)
	waitFor(t, "fake peer connected to the tracker", tc.Connected)
	if err := tc.Announce(fp.ctx, trackerclient.Announce{InfoHash: ih, Event: trackermsg.EventStarted, Left: -1}); err != nil {
		t.Fatalf("fake peer announce: %v", err)
	}
	select {
	case <-responded:
	case <-time.After(waitLimit):
		t.Fatal("fake peer: no announce response")
	}
	return fp
}

// accept answers the engine's offer, waits for the channel and exchanges
// handshakes.
func (fp *fakePeer) accept(connector *rtc.Connector, from, offerID trackermsg.ID, sdp string) {
	err := func() error {
		ctx, cancel := context.WithTimeout(fp.ctx, waitLimit)
		defer cancel()
		a, err := connector.Answer(ctx, sdp)
		if err != nil {
			return err
		}
		if err := fp.tc.Answer(ctx, trackermsg.ID(fp.sw.InfoHash), from, offerID, a.SDP()); err != nil {
			a.Close()
			return err
		}
		conn, err := a.Wait(ctx)
		if err != nil {
			a.Close()
			return err
		}
		fp.conn, fp.remote = conn, from
		if fp.badHandshake.Load() {
			if err := fp.sendRaw([]byte{0xff}); err != nil {
				return err
			}
			return errors.New("sent a bad handshake, as told")
		}
		hs := &wire.Handshake{Version: wire.Version, InfoHash: fp.sw.InfoHash, PeerID: fp.id, MaxMessageSize: uint32(conn.MaxMessageSize())}
		if err := fp.send(hs); err != nil {
			return err
		}
		b, err := conn.Recv(ctx)
		if err != nil {
			return err
		}
		m, err := wire.Decode(b)
		if err != nil {
			return err
		}
		rh, ok := m.(*wire.Handshake)
		if !ok || rh.InfoHash != fp.sw.InfoHash || trackermsg.ID(rh.PeerID) != from {
			return fmt.Errorf("bad handshake from the engine: %#v", m)
		}
		return nil
	}()
	if err != nil {
		fp.failed <- fmt.Errorf("fake peer: connect: %w", err)
		close(fp.readDone)
		return
	}
	if fp.onOpen != nil {
		fp.onOpen(fp)
	}
	fp.send(&wire.Ready{}) // what onOpen announced is all it holds; fails where onOpen broke the connection
	close(fp.open)
	fp.readLoop()
}

func (fp *fakePeer) readLoop() {
	defer close(fp.readDone)
	for {
		b, err := fp.conn.Recv(fp.ctx)
		if err != nil {
			return
		}
		m, err := wire.Decode(b)
		fp.mu.Lock()
		if err != nil {
			fp.errs = append(fp.errs, err)
		} else {
			fp.msgs = append(fp.msgs, m)
		}
		fp.mu.Unlock()
		if err == nil && fp.onMessage != nil {
			fp.onMessage(fp, m)
		}
	}
}

// waitOpen waits until the fake peer is connected to an engine and its
// onOpen has run.
func (fp *fakePeer) waitOpen(t testing.TB) {
	t.Helper()
	select {
	case <-fp.open:
	case err := <-fp.failed:
		t.Fatal(err)
	case <-time.After(waitLimit):
		t.Fatal("fake peer: no engine connected")
	}
}

// send encodes and sends one message.
func (fp *fakePeer) send(m wire.Message) error {
	b, err := wire.Append(nil, m)
	if err != nil {
		return err
	}
	return fp.sendRaw(b)
}

// sendRaw sends bytes as one data channel message.
func (fp *fakePeer) sendRaw(b []byte) error {
	fp.sendMu.Lock()
	defer fp.sendMu.Unlock()
	return fp.conn.Send(fp.ctx, b)
}

// sendData sends data as Piece messages of at most chunk bytes for request
// id, starting at piece offset off.
func (fp *fakePeer) sendData(id uint32, off int, data []byte, chunk int) error {
	for len(data) > 0 {
		n := min(chunk, len(data))
		if err := fp.send(&wire.Piece{ID: id, Offset: uint32(off), Data: data[:n]}); err != nil {
			return err
		}
		off += n
		data = data[n:]
	}
	return nil
}

// messages returns the messages received from the engine so far.
func (fp *fakePeer) messages() []wire.Message {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]wire.Message(nil), fp.msgs...)
}

// decodeErrors returns the engine's messages that did not decode.
func (fp *fakePeer) decodeErrors() []error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]error(nil), fp.errs...)
}

// count returns how many received messages satisfy pred.
func (fp *fakePeer) count(pred func(wire.Message) bool) int {
	n := 0
	for _, m := range fp.messages() {
		if pred(m) {
			n++
		}
	}
	return n
}

// closeConn closes the connection to the engine (the tracker client stays).
func (fp *fakePeer) closeConn() {
	if c := fp.conn; c != nil {
		c.Close()
	}
}

func (fp *fakePeer) close() {
	fp.cancel()
	select {
	case <-fp.open:
		fp.conn.Close()
		<-fp.readDone
	default:
		if fp.answered.Load() {
			// accept is still connecting, or failed: it ends with fp.ctx.
			<-fp.readDone
			if fp.conn != nil {
				fp.conn.Close()
			}
		}
	}
	fp.tc.Close()
}

// bitfieldAll is a Bitfield claiming every piece of the resource name with
// info.
func bitfieldAll(name string, info identity.ResourceInfo) *wire.Bitfield {
	n := identity.PieceCount(info.Size, pieceLen)
	bits := wire.NewBits(n)
	for i := range n {
		bits.Set(i)
	}
	return &wire.Bitfield{
		Resource: refOf(name, info), Size: info.Size, ETag: info.ETag, LastModified: info.LastModified,
		PieceCount: uint32(n), Bits: bits,
	}
}

// refOf is the wire reference of a resource version.
func refOf(name string, info identity.ResourceInfo) wire.ResourceRef {
	return wire.ResourceRef{Name: name, Version: info.Version()}
}

// isRequest reports whether m is a Request.
func isRequest(m wire.Message) bool { _, ok := m.(*wire.Request); return ok }
