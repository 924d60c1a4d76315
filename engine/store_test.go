//go:build !js

package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/store"
	"github.com/p2pmedia/p2pmedia/engine/wire"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
)

// TestStoreEviction gives engine A a store of two pieces and has it read
// four: the evicted pieces are announced as Drop, a peer asking for one gets
// a Reject, and a later engine B takes the pieces A still holds from A and
// the others over HTTP.
func TestStoreEviction(t *testing.T) {
	f := newFixture(t, 4*pieceLen)
	mem := store.NewMemory(2 * pieceLen)
	f.start(t, nil, nil, func(c *engine.Config) { c.Store = mem })
	a, ra, fp := f.e, f.r, f.fp
	waitFor(t, "A to register the scripted peer", func() bool { return f.sw.PeerCount() == 1 })
	for i := range ra.PieceCount() {
		checkReads(t, readPieces(ra, []int{i}, in(0)), f.data, false)
	}
	if mem.Len() != 2 {
		t.Errorf("store holds %d pieces, want 2", mem.Len())
	}
	for i, want := range []bool{false, false, true, true} {
		if ra.Have(i) != want {
			t.Errorf("A: Have(%d) = %t, want %t", i, !want, want)
		}
	}

	// What the peer was told A holds, replaying Bitfield, Have and Drop.
	view := func() []bool {
		held := make([]bool, ra.PieceCount())
		for _, m := range fp.messages() {
			switch m := m.(type) {
			case *wire.Bitfield:
				if m.Resource == f.ref {
					for i := range held {
						held[i] = wire.Bits(m.Bits).Has(i)
					}
				}
			case *wire.Have:
				if m.Resource == f.ref {
					held[m.Piece] = true
				}
			case *wire.Drop:
				if m.Resource == f.ref {
					held[m.Piece] = false
				}
			}
		}
		return held
	}
	waitFor(t, "the peer to learn that A holds pieces 2 and 3 only", func() bool {
		v := view()
		return !v[0] && !v[1] && v[2] && v[3]
	})
	for i := range 2 {
		if fp.count(func(m wire.Message) bool {
			d, ok := m.(*wire.Drop)
			return ok && d.Resource == f.ref && int(d.Piece) == i
		}) != 1 {
			t.Errorf("evicted piece %d was not announced with one Drop", i)
		}
	}

	// The peer asks for an evicted piece, then for a held one.
	fp.send(&wire.Request{ID: 1, Resource: f.ref, Piece: 0})
	waitFor(t, "a reply to the request of piece 0", func() bool {
		return fp.count(func(m wire.Message) bool { r, ok := m.(*wire.Reject); return ok && r.ID == 1 }) > 0 ||
			fp.count(func(m wire.Message) bool { p, ok := m.(*wire.Piece); return ok && p.ID == 1 }) > 0
	})
	if fp.count(func(m wire.Message) bool {
		r, ok := m.(*wire.Reject)
		return ok && r.ID == 1 && r.Reason == wire.RejectAbsent
	}) != 1 {
		t.Errorf("request of evicted piece 0 not rejected as absent: %v", fp.messages())
	}
	fp.send(&wire.Request{ID: 2, Resource: f.ref, Piece: 3})
	got := func() []byte {
		var b []byte
		for _, m := range fp.messages() {
			if p, ok := m.(*wire.Piece); ok && p.ID == 2 && int(p.Offset) == len(b) {
				b = append(b, p.Data...)
			}
		}
		return b
	}
	waitFor(t, "piece 3 from A", func() bool { return len(got()) >= pieceLen })
	if !bytes.Equal(got(), pieceOf(f.data, 3)) {
		t.Error("A sent piece 3 with bytes that differ from the origin's")
	}
	if st := a.Stats(); st.P2PUploaded != pieceLen {
		t.Errorf("A: P2PUploaded %d, want one piece", st.P2PUploaded)
	}

	// B finds the held pieces at A and the evicted ones elsewhere.
	b := newEngine(t, f.announce)
	sb, rb := join(t, b, f.url)
	waitFor(t, "B to learn A's pieces", func() bool { return sb.PeerHolds(rb, 2) && sb.PeerHolds(rb, 3) })
	if sb.PeerHolds(rb, 0) || sb.PeerHolds(rb, 1) {
		t.Error("B believes A holds an evicted piece")
	}
	checkReads(t, readPieces(rb, all(rb.PieceCount()), in(3*time.Second)), f.data, true)
	if st := b.Stats(); st.P2PDownloaded != 2*pieceLen || st.HTTPDownloaded != 2*pieceLen {
		t.Errorf("B: stats %+v, want pieces 2 and 3 from A and 0 and 1 over HTTP", st)
	}
}

// TestStoreRefusesPiece gives the engine a store too small for a piece:
// reads still return the origin's bytes, the failure is reported, and the
// engine does not claim pieces its store does not hold.
func TestStoreRefusesPiece(t *testing.T) {
	data := swarmtest.Media(2 * pieceLen)
	url := swarmtest.Origin(t, data)
	var ev recorder
	mem := store.NewMemory(pieceLen / 2)
	e := newEngine(t, "", httpOnly, ev.option(), func(c *engine.Config) { c.Store = mem })
	_, r := join(t, e, url)
	checkReads(t, readPieces(r, all(r.PieceCount()), in(0)), data, false)
	waitFor(t, "a STORE_EXPT exception", func() bool { return ev.exception(engine.CodeStore) })
	if mem.Len() != 0 {
		t.Fatalf("the store holds %d pieces, want none", mem.Len())
	}
	for i := range r.PieceCount() {
		if r.Have(i) {
			t.Errorf("Have(%d) is true but the store refused the piece (it would be announced to peers)", i)
		}
	}
}
