//go:build !js

package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/engine/rtc/rtctest"
	"github.com/p2pmedia/p2pmedia/engine/trackerclient"
	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/engine/wire"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// The tests of this file each have a hostile peer, built on fakePeer, cross
// one bound of what a peer may make the engine hold or do. Each checks that
// the engine raises PEER_EXPT and bans the peer (an offer under its id is
// refused afterwards), that the live heap stays within a stated limit while
// the attack runs, and that reads still get the origin's bytes.

// attackBytes is what each hostile peer tries to make the engine take.
const attackBytes = 32 << 20

// heapLimit bounds the live heap's growth during each attack. The heap
// holds both ends of the connection (the engine and the hostile peer, with
// pion's SCTP buffers on each side, which fill under a flood whatever the
// engine keeps), so it is that much above the engine's own bound; what
// matters is that it stays far below attackBytes.
const heapLimit = 12 << 20

// logRecorder is a slog.Handler that keeps the message and "peer"
// attribute of every record, at every level.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct{ msg, peer string }

func (l *logRecorder) option() func(*engine.Config) {
	return func(c *engine.Config) { c.Logger = slog.New(l) }
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "peer" {
			rec.peer = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// has reports whether a record with msg about peer was logged.
func (l *logRecorder) has(msg, peer string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r.msg == msg && r.peer == peer {
			return true
		}
	}
	return false
}

// heapWatch samples the live heap (after a GC) while an attack runs.
type heapWatch struct {
	base       uint64
	peak       atomic.Uint64
	stop, done chan struct{}
}

// liveHeap runs a GC and returns the heap it found live: read from
// runtime/metrics, since runtime.ReadMemStats's HeapAlloc after the GC
// also counts what the flood allocated meanwhile.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// watchHeap starts sampling; growth stops it.
func watchHeap() *heapWatch {
	w := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	w.base = liveHeap()
	w.peak.Store(w.base)
	go func() {
		defer close(w.done)
		for {
			if v := liveHeap(); v > w.peak.Load() {
				w.peak.Store(v)
			}
			select {
			case <-w.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return w
}

// growth stops the sampling and returns how far the live heap rose above
// where it was when watchHeap was called.
func (w *heapWatch) growth() int64 {
	close(w.stop)
	<-w.done
	return int64(w.peak.Load()) - int64(w.base)
}

// checkHeap asserts the live heap grew by less than limit during the attack
// that sent sent bytes.
func checkHeap(t *testing.T, w *heapWatch, limit int64, sent int64) {
	t.Helper()
	g := w.growth()
	t.Logf("live heap grew by %.2f MiB (limit %.2f MiB) while the peer sent %.2f MiB of an attempted %d MiB",
		float64(g)/(1<<20), float64(limit)/(1<<20), float64(sent)/(1<<20), attackBytes>>20)
	if g >= limit {
		t.Errorf("live heap grew by %d bytes, limit %d", g, limit)
	}
}

// newCertificate returns a fresh DTLS certificate.
func newCertificate(t *testing.T) webrtc.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := webrtc.GenerateCertificate(key)
	if err != nil {
		t.Fatal(err)
	}
	return *c
}

// reoffer announces offers made with rcfg to swarm sw through tc, as the
// peer whose id tc announces under, and closes them when the test ends.
// There are as many as an announce carries, so that the tracker, which
// relays each to another peer of the swarm, relays one to the engine.
func reoffer(t *testing.T, tc *trackerclient.Client, sw identity.Swarm, rcfg rtc.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c := rtc.NewConnector(rcfg)
	var offers []trackermsg.Offer
	for range trackerclient.MaxOffersSent {
		o, err := c.Offer(ctx)
		if err != nil {
			t.Fatalf("offer: %v", err)
		}
		t.Cleanup(func() { o.Close() })
		var offerID trackermsg.ID
		rand.Read(offerID[:])
		offers = append(offers, trackermsg.Offer{Offer: trackermsg.SDP{Type: "offer", SDP: o.SDP()}, OfferID: offerID})
	}
	err := tc.Announce(ctx, trackerclient.Announce{
		InfoHash: trackermsg.ID(sw.InfoHash), NumWant: len(offers), Left: -1, Offers: offers,
	})
	if err != nil {
		t.Fatalf("announce the offer: %v", err)
	}
}

// trackerClient connects a tracker client under a fresh id to announce and
// joins swarm sw with it.
func trackerClient(t *testing.T, announce string, sw identity.Swarm) (*trackerclient.Client, trackermsg.ID) {
	t.Helper()
	var id trackermsg.ID
	copy(id[:], "-FAKE01-")
	rand.Read(id[8:])
	tc, err := trackerclient.New(trackerclient.Config{URL: announce, PeerID: id}, trackerclient.Events{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	waitFor(t, "the tracker client to connect", tc.Connected)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := tc.Announce(ctx, trackerclient.Announce{InfoHash: trackermsg.ID(sw.InfoHash), Event: trackermsg.EventStarted, Left: -1}); err != nil {
		t.Fatal(err)
	}
	return tc, id
}

// checkBanned asserts that the engine of sw raised PEER_EXPT banning fp for
// a reason that contains why, no longer has it as a peer, has its id on the
// ban list, and refuses a fresh offer from it under the same id.
func checkBanned(t *testing.T, ev *recorder, logs *logRecorder, sw *engine.Swarm, fp *fakePeer, why string) {
	t.Helper()
	id := fp.id.String()
	var msg string
	waitFor(t, "PEER_EXPT banning the peer", func() bool {
		return ev.any(func(e engine.Event) bool {
			if e.Kind == engine.EventException && e.Exception.Code == engine.CodePeer && strings.Contains(e.Exception.Message, id) {
				msg = e.Exception.Message
				return true
			}
			return false
		})
	})
	t.Logf("PEER_EXPT: %s", msg)
	if !strings.Contains(msg, "banned") || !strings.Contains(msg, why) {
		t.Errorf("PEER_EXPT %q does not say the peer was banned for %q", msg, why)
	}
	waitFor(t, "the peer to be gone", func() bool {
		_, _, ok := engine.PeerRate(sw, fp.id)
		return !ok
	})
	if !engine.IsBanned(sw, fp.id) {
		t.Fatal("the peer is not on the ban list")
	}
	reoffer(t, fp.tc, fp.sw, rtc.Config{API: rtctest.LoopbackAPI(t)})
	waitFor(t, "the engine to refuse the banned id's new offer", func() bool { return logs.has("refused a banned peer", id) })
}

// foreignBitfield is a bitfield of a resource the engine does not have
// open, of about 60 KB (a frame holds 64 KiB).
func foreignBitfield(i int) *wire.Bitfield {
	const n = 480_000
	name := fmt.Sprintf("other-%d", i)
	info := identity.ResourceInfo{Size: n * pieceLen, ETag: `"` + name + `"`}
	return &wire.Bitfield{Resource: refOf(name, info), Size: info.Size, ETag: info.ETag, PieceCount: n, Bits: wire.NewBits(n)}
}

// flood sends the messages next(i) until the connection fails or
// attackBytes went, counting the bytes in sent.
func flood(fp *fakePeer, sent *atomic.Int64, next func(i int) wire.Message) error {
	for i := 0; sent.Load() < attackBytes; i++ {
		b, err := wire.Append(nil, next(i))
		if err != nil {
			return err
		}
		if err := fp.sendRaw(b); err != nil {
			return err
		}
		sent.Add(int64(len(b)))
	}
	return nil
}

// TestHostileForeignHoldings has a peer announce 32 MiB of bitfields of
// resources the engine never opened (with one of the resource it reads, which
// is kept): the engine bans it once they pass maxForeignHoldings (1 MiB),
// refuses its id and also a fresh id whose connection presents the same
// certificate, and reads the origin's bytes.
func TestHostileForeignHoldings(t *testing.T) {
	f := newFixture(t, 4*pieceLen)
	var logs logRecorder
	cert := newCertificate(t)
	rcfg := rtc.Config{API: rtctest.LoopbackAPI(t), WebRTC: webrtc.Configuration{Certificates: []webrtc.Certificate{cert}}}
	begin := make(chan struct{})
	var sent atomic.Int64
	flooded := make(chan error, 1)
	onOpen := func(fp *fakePeer) {
		f.claimAll(fp)
		go func() {
			<-begin
			flooded <- flood(fp, &sent, func(i int) wire.Message { return foreignBitfield(i) })
		}()
	}
	f.announce = swarmtest.Tracker(t)
	f.fp = newFakePeerWith(t, f.announce, swarmOf(t, f.url), rcfg, onOpen, nil)
	f.e = newEngine(t, f.announce, f.ev.option(), logs.option())
	f.sw, f.r = join(t, f.e, f.url)
	f.fp.waitOpen(t)
	f.waitHolds(t)

	w := watchHeap()
	close(begin)
	select {
	case err := <-flooded:
		if err == nil {
			t.Errorf("the engine took all %d MiB of bitfields", attackBytes>>20)
		}
	case <-time.After(waitLimit):
		t.Fatal("the flood neither ended nor failed")
	}
	checkHeap(t, w, heapLimit, sent.Load())
	checkBanned(t, &f.ev, &logs, f.sw, f.fp, "not open here")

	// A fresh id whose connection presents the banned one's certificate.
	tc, id := trackerClient(t, f.announce, f.fp.sw)
	reoffer(t, tc, f.fp.sw, rcfg)
	waitFor(t, "the engine to refuse the banned certificate under a fresh id", func() bool { return logs.has("refused a banned peer", id.String()) })

	checkReads(t, readPieces(f.r, all(f.r.PieceCount()), in(3*time.Second)), f.data, true)
}

// TestHostileCancelledData has a peer stay silent on a request until the
// engine cancels it (a stall), then send 32 MiB of data for the cancelled
// request: the engine takes what was outstanding (one piece) and bans it
// at the next frame.
func TestHostileCancelledData(t *testing.T) {
	f := newFixture(t, 4*pieceLen)
	var logs logRecorder
	var sent atomic.Int64
	flooded := make(chan error, 1)
	var once sync.Once
	junk := make([]byte, 60_000)
	onMessage := func(fp *fakePeer, m wire.Message) {
		if c, ok := m.(*wire.Cancel); ok {
			once.Do(func() {
				go func() {
					flooded <- flood(fp, &sent, func(i int) wire.Message {
						return &wire.Piece{ID: c.ID, Offset: uint32(i * len(junk) % pieceLen), Data: junk}
					})
				}()
			})
		}
	}
	f.start(t, f.claimAll, onMessage, logs.option(), func(c *engine.Config) { c.P2PStallTimeout = 300 * time.Millisecond })
	f.waitHolds(t)

	w := watchHeap()
	// One piece, so that one stall (one strike) is all the peer gets
	// before its data for the cancelled request.
	checkReads(t, readPieces(f.r, []int{0}, in(3*time.Second)), f.data, true)
	select {
	case err := <-flooded:
		if err == nil {
			t.Errorf("the engine took all %d MiB for a cancelled request", attackBytes>>20)
		}
	case <-time.After(waitLimit):
		t.Fatal("the flood neither ended nor failed")
	}
	checkHeap(t, w, heapLimit, sent.Load())
	checkBanned(t, &f.ev, &logs, f.sw, f.fp, "cancelled request")
	checkReads(t, readPieces(f.r, all(f.r.PieceCount()), in(3*time.Second)), f.data, true)
	if st := f.e.Stats(); st.HTTPDownloaded != int64(len(f.data)) || st.P2PDownloaded != 0 {
		t.Errorf("stats %+v, want every byte over HTTP", st)
	}
}

// TestHostileRecvQueue has a peer send 32 MiB of valid bitfields (of a
// resource the engine has open, which no other bound limits) while the
// engine's reader is held: the connection's receive queue passes its cap
// (rtc.Config.MaxRecvQueue, 256 KiB here: natively the read loop waits at
// 1 MiB, so only a lower cap is crossed; in the browser nothing else bounds
// it), the conn closes with rtc.ErrRecvOverflow, and the engine bans the
// peer for it.
func TestHostileRecvQueue(t *testing.T) {
	const maxQueue = 256 << 10
	f := newFixture(t, 4*pieceLen)
	var logs logRecorder
	const n = 480_000
	bigInfo := identity.ResourceInfo{Size: n * pieceLen, ETag: `"big"`}
	bits := wire.NewBits(n)
	for i := 0; i < n; i += 3 {
		bits.Set(i)
	}
	big := &wire.Bitfield{Resource: refOf("big", bigInfo), Size: bigInfo.Size, ETag: bigInfo.ETag, PieceCount: n, Bits: bits}
	begin := make(chan struct{})
	var sent atomic.Int64
	flooded := make(chan error, 1)
	onOpen := func(fp *fakePeer) {
		go func() {
			<-begin
			flooded <- flood(fp, &sent, func(int) wire.Message { return big })
		}()
	}
	f.start(t, onOpen, nil, logs.option(), func(c *engine.Config) {
		c.Connector = rtc.NewConnector(rtc.Config{API: rtctest.LoopbackAPI(t), MaxRecvQueue: maxQueue})
	})
	if _, err := f.sw.ResourceWithInfo("big", f.url+"?big", bigInfo); err != nil {
		t.Fatal(err)
	}

	w := watchHeap()
	release := engine.HoldSwarm(f.sw)
	close(begin)
	select {
	case err := <-flooded:
		if err == nil {
			t.Errorf("the engine's queue took all %d MiB", attackBytes>>20)
		}
	case <-time.After(waitLimit):
		release()
		t.Fatal("the flood neither ended nor failed")
	}
	release()
	checkHeap(t, w, heapLimit, sent.Load())
	checkBanned(t, &f.ev, &logs, f.sw, f.fp, "receive queue overflow")
	checkReads(t, readPieces(f.r, all(f.r.PieceCount()), in(3*time.Second)), f.data, true)
}

// trickler is a script that answers each request with 1 KiB every 100 ms
// until the engine cancels it.
func trickler(data []byte) func(*fakePeer, wire.Message) {
	var mu sync.Mutex
	cancelled := map[uint32]bool{}
	return func(fp *fakePeer, m wire.Message) {
		switch m := m.(type) {
		case *wire.Cancel:
			mu.Lock()
			cancelled[m.ID] = true
			mu.Unlock()
		case *wire.Request:
			piece := pieceOf(data, int(m.Piece))
			go func() {
				for off := int(m.Offset); off < len(piece); off += 1024 {
					select {
					case <-time.After(100 * time.Millisecond):
					case <-fp.ctx.Done():
						return
					}
					mu.Lock()
					stop := cancelled[m.ID]
					mu.Unlock()
					if stop || fp.send(&wire.Piece{ID: m.ID, Offset: uint32(off), Data: piece[off:min(off+1024, len(piece))]}) != nil {
						return
					}
				}
			}()
		}
	}
}

// TestHostileSlowPeers has two peers that claim every piece and trickle
// 10 KiB/s, beside an honest peer that holds the even pieces, while the
// engine plays the file: the tricklers' rate estimates fall to what they
// deliver, they are struck for missing their deadlines, banned after
// maxStrikes, and every read gets the origin's bytes on time, some from the
// honest peer.
func TestHostileSlowPeers(t *testing.T) {
	const pieces = 16
	data := swarmtest.Media(pieces * pieceLen)
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)
	seeder := newEngine(t, announce)
	ssw, sr := join(t, seeder, url)
	var even []int
	for i := 0; i < pieces; i += 2 {
		even = append(even, i)
	}
	checkReads(t, readPieces(sr, even, in(0)), data, false)

	sw := swarmOf(t, url)
	info := stat(t, url)
	claimAll := func(fp *fakePeer) { fp.send(bitfieldAll("", info)) }
	slow := []*fakePeer{
		newFakePeer(t, announce, sw, claimAll, trickler(data)),
		newFakePeer(t, announce, sw, claimAll, trickler(data)),
	}
	var ev recorder
	var logs logRecorder
	e := newEngine(t, announce, ev.option(), logs.option())
	esw, r := join(t, e, url)
	for _, fp := range slow {
		fp.waitOpen(t)
	}
	waitFor(t, "the engine to learn every peer's pieces", func() bool {
		if esw.PeerCount() != 3 {
			return false
		}
		for i := range pieces {
			if !esw.PeerHolds(r, i) {
				return false
			}
		}
		return true
	})
	_ = ssw

	// Watch the tricklers' rate estimates fall from the prior guess.
	rated := make([]atomic.Bool, len(slow))
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			for k, fp := range slow {
				if rate, measured, ok := engine.PeerRate(esw, fp.id); ok && measured && rate < 64<<10 {
					rated[k].Store(true)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	w := watchHeap()
	const playback = 6 * time.Second
	start := time.Now()
	r.SetPlayhead(0, float64(len(data))/playback.Seconds())
	res := readPieces(r, all(pieces), func(i int) time.Time {
		return start.Add(time.Second + time.Duration(i)*playback/pieces)
	})
	checkReads(t, res, data, true)
	checkHeap(t, w, heapLimit, 0)
	close(stop)
	<-watched
	for k, fp := range slow {
		if n := fp.count(isRequest); n == 0 {
			t.Fatalf("trickler %d never got a request: the test proves nothing", k)
		}
		if !rated[k].Load() {
			t.Errorf("trickler %d: its rate estimate never fell below 64 KiB/s", k)
		}
	}
	var fromSeeder int64
	for _, p := range e.Peers() {
		if p.ID == seeder.PeerID() {
			fromSeeder = p.Downloaded
		}
	}
	st := e.Stats()
	t.Logf("stats %+v; from the honest peer %d bytes (%d of %d even pieces)", st, fromSeeder, fromSeeder/pieceLen, len(even))
	if fromSeeder == 0 {
		t.Error("the honest peer gave nothing: the tricklers kept it out")
	}
	for _, fp := range slow {
		checkBanned(t, &ev, &logs, esw, fp, "strikes")
	}
}
