package engine

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/origin"
	"github.com/p2pmedia/p2pmedia/engine/store"
	"github.com/p2pmedia/p2pmedia/engine/wire"
)

// BenchmarkPieceAssembly measures the receive path of a peer download:
// decoding piece frames, checking them and assembling them into a piece,
// then storing and publishing the complete piece.
func BenchmarkPieceAssembly(b *testing.B) {
	const size = 64 << 20
	e, err := New(Config{Fetcher: &origin.Client{}, Store: store.NewMemory(size * 2)})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	sw, err := e.Join("bench.example/media.bin", false)
	if err != nil {
		b.Fatal(err)
	}
	r, err := sw.ResourceWithInfo("", "http://bench.example/media.bin", identity.ResourceInfo{Size: size, ETag: `"x"`})
	if err != nil {
		b.Fatal(err)
	}
	p := &peer{s: sw, maxSend: 65535, wakeW: make(chan struct{}, 1), remote: map[wire.ResourceRef]*remoteResource{},
		announced: map[wire.ResourceRef]bool{}, downloads: map[uint32]*piece{}, rate: defaultPeerRate}
	p.ctx, p.cancel = context.WithCancel(sw.ctx)

	l := int(sw.id.PieceLength)
	payload := make([]byte, l)
	var frames [][]byte
	for off := 0; off < l; off += p.maxSend - wire.PieceHeaderLen {
		n := min(l-off, p.maxSend-wire.PieceHeaderLen)
		f, err := wire.Append(nil, &wire.Piece{ID: 1, Offset: uint32(off), Data: payload[off : off+n]})
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, f)
	}
	b.SetBytes(int64(l))
	b.ResetTimer()
	for i := range b.N {
		index := i % r.PieceCount()
		start, end, _ := r.PieceRange(index)
		sw.mu.Lock()
		for r.pieces[index] != nil {
			// The last assembly of this index is still being stored.
			sw.mu.Unlock()
			runtime.Gosched()
			sw.mu.Lock()
		}
		r.have.Clear(index)
		pc := r.wantLocked(index, start, end)
		pc.waiters = 1
		pc.deadline = time.Now().Add(time.Hour)
		p.nextID = 0
		sw.startP2PLocked(pc, p, time.Now())
		p.ctrl = p.ctrl[:0]
		sw.mu.Unlock()
		for _, f := range frames {
			m, err := wire.Decode(f)
			if err != nil {
				b.Fatal(err)
			}
			if err := p.handle(m); err != nil {
				b.Fatal(err)
			}
		}
		<-pc.done
	}
}
