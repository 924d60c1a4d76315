package wire

import (
	"testing"
)

const benchPayload = 64 * 1024

func BenchmarkAppendPiece(b *testing.B) {
	p := &Piece{ID: 1, Offset: 65536, Data: make([]byte, benchPayload)}
	dst := make([]byte, 0, PieceHeaderLen+benchPayload)
	b.SetBytes(benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = Append(dst[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePiece(b *testing.B) {
	enc, err := Append(nil, &Piece{ID: 1, Offset: 65536, Data: make([]byte, benchPayload)})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBitfield(b *testing.B) {
	// A 1 GiB resource in 512 KiB pieces, half of them held.
	const pieces = 2048
	bits := NewBits(pieces)
	for i := 0; i < pieces; i += 2 {
		bits.Set(i)
	}
	enc, err := Append(nil, &Bitfield{
		Resource:     ResourceRef{Name: "video.mp4", Version: 0x1234},
		Size:         pieces * 512 * 1024,
		ETag:         `"5f3e1c2a-40000000"`,
		LastModified: "Wed, 21 Oct 2015 07:28:00 GMT",
		PieceCount:   pieces,
		Bits:         bits,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
