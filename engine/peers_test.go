//go:build !js

package engine_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/wire"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// fixture is an origin, a tracker, a scripted peer and the engine under
// test, connected to each other.
type fixture struct {
	data []byte
	url  string
	// announce is the tracker's URL, set by start.
	announce string
	info     identity.ResourceInfo
	ref      wire.ResourceRef
	fp       *fakePeer
	e        *engine.Engine
	sw       *engine.Swarm
	r        *engine.Resource
	ev       recorder
	// engine is e, for scripts running before it is assigned.
	engine atomic.Pointer[engine.Engine]
}

// newFixture serves size bytes of media.
func newFixture(t *testing.T, size int) *fixture {
	f := &fixture{data: swarmtest.Media(int64(size))}
	f.url = swarmtest.Origin(t, f.data)
	f.info = stat(t, f.url)
	f.ref = refOf("", f.info)
	return f
}

// start connects the scripted peer to a new engine configured by opts, and
// waits until the handshakes are done.
func (f *fixture) start(t *testing.T, onOpen func(*fakePeer), onMessage func(*fakePeer, wire.Message), opts ...func(*engine.Config)) {
	t.Helper()
	f.announce = swarmtest.Tracker(t)
	f.fp = newFakePeer(t, f.announce, swarmOf(t, f.url), onOpen, onMessage)
	f.e = newEngine(t, f.announce, append([]func(*engine.Config){f.ev.option()}, opts...)...)
	f.engine.Store(f.e)
	f.sw, f.r = join(t, f.e, f.url)
	f.fp.waitOpen(t)
}

// claimAll is an onOpen script: a bitfield claiming every piece.
func (f *fixture) claimAll(fp *fakePeer) { fp.send(bitfieldAll("", f.info)) }

// waitHolds waits until the engine knows the scripted peer claims every piece.
func (f *fixture) waitHolds(t *testing.T) {
	t.Helper()
	waitFor(t, "the engine to learn the peer's pieces", func() bool {
		for i := range f.r.PieceCount() {
			if !f.sw.PeerHolds(f.r, i) {
				return false
			}
		}
		return true
	})
}

// waitDropped waits until the engine dropped the scripted peer for a fault.
func (f *fixture) waitDropped(t *testing.T) {
	t.Helper()
	waitFor(t, "a PEER_EXPT exception", func() bool { return f.ev.exception(engine.CodePeer) })
	waitFor(t, "the peer to be dropped", func() bool { return f.sw.PeerCount() == 0 })
}

// corrupt returns a copy of b with every byte flipped.
func corrupt(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = ^b[i]
	}
	return out
}

// TestSlowPeer has a peer claim every piece and then never send data, or
// send it far too slowly: every read still completes before its 3 s
// deadline with the origin's bytes, over HTTP (resuming what the slow peer
// sent), and the silent peer is dropped after its strikes.
func TestSlowPeer(t *testing.T) {
	tests := []struct {
		name    string
		trickle bool
	}{
		{"silent", false},
		{"trickling", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 4*pieceLen)
			var mu sync.Mutex
			cancelled := map[uint32]bool{}
			onMessage := func(fp *fakePeer, m wire.Message) {
				switch m := m.(type) {
				case *wire.Cancel:
					mu.Lock()
					cancelled[m.ID] = true
					mu.Unlock()
				case *wire.Request:
					if !tt.trickle {
						return
					}
					piece := pieceOf(f.data, int(m.Piece))
					go func() {
						for off := int(m.Offset); off < len(piece); off += 1024 {
							select {
							case <-time.After(300 * time.Millisecond):
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
			f.start(t, f.claimAll, onMessage)
			f.waitHolds(t)
			checkReads(t, readPieces(f.r, all(f.r.PieceCount()), in(3*time.Second)), f.data, true)
			if n := f.fp.count(isRequest); n < 3 {
				t.Errorf("the peer got %d requests, want at least 3 (the test needs the engine to try it)", n)
			}
			st := f.e.Stats()
			if st.HTTPDownloaded+st.P2PDownloaded != int64(len(f.data)) {
				t.Errorf("stats %+v: HTTP and P2P add up to %d bytes, want %d", st, st.HTTPDownloaded+st.P2PDownloaded, len(f.data))
			}
			if tt.trickle {
				if st.P2PDownloaded == 0 {
					t.Error("none of the trickled bytes were kept")
				}
				return
			}
			if st.P2PDownloaded != 0 {
				t.Errorf("P2PDownloaded %d from a silent peer", st.P2PDownloaded)
			}
			f.waitDropped(t)
		})
	}
}

// TestBadPeerData has a peer claim every piece and answer requests with bad
// data: wrong bytes (caught by Config.Validate), data at a wrong offset or
// for a request never made (protocol violations, no Validate needed), or a
// Reject. Reads still get the origin's bytes before their deadline; the
// faulty peers are dropped, the rejecting one is not.
func TestBadPeerData(t *testing.T) {
	tests := []struct {
		name     string
		validate bool
		answer   func(f *fixture, fp *fakePeer, req *wire.Request)
		dropped  bool
	}{
		{"wrong bytes with Validate", true, func(f *fixture, fp *fakePeer, req *wire.Request) {
			piece := corrupt(pieceOf(f.data, int(req.Piece)))
			fp.sendData(req.ID, int(req.Offset), piece[req.Offset:], 16<<10)
		}, true},
		{"data at a wrong offset", false, func(f *fixture, fp *fakePeer, req *wire.Request) {
			piece := pieceOf(f.data, int(req.Piece))
			fp.send(&wire.Piece{ID: req.ID, Offset: req.Offset + 1024, Data: piece[req.Offset+1024 : req.Offset+2048]})
		}, true},
		{"data for an unknown request", false, func(f *fixture, fp *fakePeer, req *wire.Request) {
			piece := pieceOf(f.data, int(req.Piece))
			fp.send(&wire.Piece{ID: req.ID + 1000, Offset: req.Offset, Data: piece[req.Offset : req.Offset+1024]})
		}, true},
		{"reject", false, func(f *fixture, fp *fakePeer, req *wire.Request) {
			fp.send(&wire.Reject{ID: req.ID, Reason: wire.RejectAbsent})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 4*pieceLen)
			var opts []func(*engine.Config)
			if tt.validate {
				opts = append(opts, func(c *engine.Config) { c.Validate = hashValidator(f.data) })
			}
			onMessage := func(fp *fakePeer, m wire.Message) {
				if req, ok := m.(*wire.Request); ok {
					tt.answer(f, fp, req)
				}
			}
			f.start(t, f.claimAll, onMessage, opts...)
			f.waitHolds(t)
			checkReads(t, readPieces(f.r, all(f.r.PieceCount()), in(3*time.Second)), f.data, true)
			if n := f.fp.count(isRequest); n == 0 {
				t.Fatal("the engine never asked the peer: the test proves nothing")
			}
			if st := f.e.Stats(); st.HTTPDownloaded != int64(len(f.data)) {
				t.Errorf("stats %+v, want every piece over HTTP", st)
			}
			if tt.dropped {
				f.waitDropped(t)
				return
			}
			if f.ev.exception(engine.CodePeer) || f.sw.PeerCount() != 1 {
				t.Errorf("a peer that only rejected was dropped (peers %d)", f.sw.PeerCount())
			}
			for i := range f.r.PieceCount() {
				if f.fp.count(func(m wire.Message) bool { r, ok := m.(*wire.Request); return ok && int(r.Piece) == i }) > 0 && f.sw.PeerHolds(f.r, i) {
					t.Errorf("piece %d: the engine still believes the peer that rejected it holds it", i)
				}
			}
		})
	}
}

// TestMalformedMessages has a peer send one malformed or out-of-place
// message after the handshakes: the engine drops it, reports PEER_EXPT and
// keeps serving reads.
func TestMalformedMessages(t *testing.T) {
	encode := func(m wire.Message) []byte {
		b, err := wire.Append(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		msgs func(f *fixture, fp *fakePeer) [][]byte
	}{
		{"garbage", func(*fixture, *fakePeer) [][]byte { return [][]byte{{0xff, 0x00, 0x13, 0x37}} }},
		{"unknown type", func(*fixture, *fakePeer) [][]byte { return [][]byte{{99}} }},
		{"truncated request", func(f *fixture, _ *fakePeer) [][]byte {
			b := encode(&wire.Request{ID: 1, Resource: f.ref, Piece: 0})
			return [][]byte{b[:len(b)/2]}
		}},
		{"second handshake", func(f *fixture, fp *fakePeer) [][]byte {
			return [][]byte{encode(&wire.Handshake{Version: wire.Version, InfoHash: fp.sw.InfoHash, PeerID: fp.id, MaxMessageSize: 65535})}
		}},
		{"have for an unannounced resource", func(f *fixture, _ *fakePeer) [][]byte {
			return [][]byte{encode(&wire.Have{Resource: f.ref, Piece: 0})}
		}},
		{"have past the last piece", func(f *fixture, _ *fakePeer) [][]byte {
			return [][]byte{encode(bitfieldAll("", f.info)), encode(&wire.Have{Resource: f.ref, Piece: uint32(pieceCount(f.data))})}
		}},
		{"oversized bitfield", func(f *fixture, _ *fakePeer) [][]byte {
			bf := bitfieldAll("", f.info)
			bf.PieceCount += 64
			bf.Bits = append(bf.Bits, make([]byte, 8)...)
			return [][]byte{encode(bf)}
		}},
		{"reject of an unknown request", func(*fixture, *fakePeer) [][]byte {
			return [][]byte{encode(&wire.Reject{ID: 77, Reason: wire.RejectBusy})}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 2*pieceLen)
			onOpen := func(fp *fakePeer) {
				for _, b := range tt.msgs(f, fp) {
					fp.sendRaw(b)
				}
			}
			f.start(t, onOpen, nil)
			f.waitDropped(t)
			checkReads(t, readPieces(f.r, all(f.r.PieceCount()), in(0)), f.data, false)
			if st := f.e.Stats(); st.HTTPDownloaded != int64(len(f.data)) {
				t.Errorf("stats %+v, want every piece over HTTP", st)
			}
		})
	}
}

// halfThenClose is a script answering the first request with the first half
// of the piece (as given by piece) and then closing the connection, once the
// engine counted the half.
func halfThenClose(f *fixture, piece func(i int) []byte) func(*fakePeer, wire.Message) {
	var once sync.Once
	return func(fp *fakePeer, m wire.Message) {
		req, ok := m.(*wire.Request)
		if !ok {
			return
		}
		once.Do(func() {
			go func() {
				p := piece(int(req.Piece))
				if fp.sendData(req.ID, int(req.Offset), p[req.Offset:pieceLen/2], 16<<10) != nil {
					return
				}
				for f.engine.Load().Stats().P2PDownloaded < pieceLen/2 {
					select {
					case <-time.After(5 * time.Millisecond):
					case <-fp.ctx.Done():
						return
					}
				}
				fp.closeConn()
			}()
		})
	}
}

// TestPeerLeavesMidPiece has a peer send half a piece and disconnect: the
// read completes before its deadline with the origin's bytes, the other half
// coming over HTTP.
func TestPeerLeavesMidPiece(t *testing.T) {
	f := newFixture(t, 2*pieceLen)
	f.start(t, f.claimAll, halfThenClose(f, func(i int) []byte { return pieceOf(f.data, i) }))
	f.waitHolds(t)
	checkReads(t, readPieces(f.r, []int{0}, in(3*time.Second)), f.data, true)
	if st := f.e.Stats(); st.P2PDownloaded != pieceLen/2 || st.HTTPDownloaded != pieceLen/2 {
		t.Errorf("stats %+v, want half of piece 0 from the peer and the rest over HTTP", st)
	}
	waitFor(t, "the peer to be gone", func() bool { return f.sw.PeerCount() == 0 })
	checkReads(t, readPieces(f.r, []int{1}, in(3*time.Second)), f.data, true)
	if st := f.e.Stats(); st.HTTPDownloaded != 3*pieceLen/2 {
		t.Errorf("stats %+v, want piece 1 over HTTP", st)
	}
}

// TestValidateResumedPiece has a peer send half a piece of wrong bytes and
// disconnect, with Config.Validate set: the engine must not hand out the
// piece its HTTP fetch completed on top of the peer's bytes without
// validating it.
func TestValidateResumedPiece(t *testing.T) {
	f := newFixture(t, 2*pieceLen)
	f.start(t, f.claimAll, halfThenClose(f, func(i int) []byte { return corrupt(pieceOf(f.data, i)) }),
		func(c *engine.Config) { c.Validate = hashValidator(f.data) })
	f.waitHolds(t)
	res := readPieces(f.r, []int{0}, in(3*time.Second))
	checkReads(t, res, f.data, true)
	if res[0].err == nil && !bytes.Equal(res[0].data, pieceOf(f.data, 0)) {
		t.Log("the piece was finished over HTTP after the peer's corrupt half and handed out unvalidated")
	}
}

// TestRetryAfterFailedConnection has the only other peer of the swarm fail
// the handshake: the engine reports SIGNAL_EXPT and offers again within a
// few seconds (minRetry), not at the tracker's interval (15 s at least).
func TestRetryAfterFailedConnection(t *testing.T) {
	f := newFixture(t, pieceLen)
	f.announce = swarmtest.Tracker(t)
	f.fp = newFakePeer(t, f.announce, swarmOf(t, f.url), nil, nil)
	f.fp.badHandshake.Store(true)
	f.e = newEngine(t, f.announce, f.ev.option())
	f.sw, f.r = join(t, f.e, f.url)
	waitFor(t, "the engine's first offer", func() bool { return f.fp.offers.Load() >= 1 })
	waitFor(t, "a SIGNAL_EXPT", func() bool { return f.ev.exception(engine.CodeSignal) })
	deadline := time.Now().Add(6 * time.Second)
	for f.fp.offers.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no new offer within 6 s of a failed handshake (%d offers)", f.fp.offers.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHoldingsStillArriving has a peer announce many other resources, slowly,
// before the one a read needs. Until the peer's Ready, what it holds is not
// all known: the engine keeps waiting for it, and takes the piece from the
// peer, not from the origin.
func TestHoldingsStillArriving(t *testing.T) {
	f := newFixture(t, pieceLen)
	onOpen := func(fp *fakePeer) {
		for i := range 20 {
			name := fmt.Sprintf("other-%d", i)
			fp.send(bitfieldAll(name, identity.ResourceInfo{Size: pieceLen, ETag: `"` + name + `"`}))
			time.Sleep(25 * time.Millisecond)
		}
		fp.send(bitfieldAll("", f.info))
	}
	onMessage := func(fp *fakePeer, m wire.Message) {
		if req, ok := m.(*wire.Request); ok {
			go fp.sendData(req.ID, int(req.Offset), pieceOf(f.data, int(req.Piece))[req.Offset:], 16<<10)
		}
	}
	f.announce = swarmtest.Tracker(t)
	f.fp = newFakePeer(t, f.announce, swarmOf(t, f.url), onOpen, onMessage)
	f.e = newEngine(t, f.announce, f.ev.option())
	f.engine.Store(f.e)
	f.sw, f.r = join(t, f.e, f.url)
	// The read is due in 3 s: within the HTTP window from the start, so
	// only the wait for the peer's holdings keeps it off the origin.
	checkReads(t, readPieces(f.r, []int{0}, in(3*time.Second)), f.data, true)
	if st := f.e.Stats(); st.HTTPDownloaded != 0 || st.P2PDownloaded != pieceLen {
		t.Errorf("stats %+v, want the piece from the peer only", st)
	}
}
