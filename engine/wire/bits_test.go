package wire

import (
	"bytes"
	"testing"
)

func TestBits(t *testing.T) {
	tests := []struct {
		n    int
		set  []int
		want []byte
	}{
		{0, nil, []byte{}},
		{-3, nil, []byte{}},
		{1, []int{0}, []byte{0x80}},
		{8, []int{0, 7}, []byte{0x81}},
		{9, []int{8}, []byte{0x00, 0x80}},
		{20, []int{1, 9, 19}, []byte{0x40, 0x40, 0x10}},
	}
	for _, tc := range tests {
		b := NewBits(tc.n)
		for _, i := range tc.set {
			b.Set(i)
		}
		if !bytes.Equal(b, tc.want) {
			t.Errorf("NewBits(%d) after Set(%v) = %08b, want %08b", tc.n, tc.set, b, tc.want)
		}
		if b.Count() != len(tc.set) {
			t.Errorf("NewBits(%d): Count = %d, want %d", tc.n, b.Count(), len(tc.set))
		}
		for i := -1; i <= tc.n+8; i++ {
			want := false
			for _, s := range tc.set {
				want = want || s == i
			}
			if b.Has(i) != want {
				t.Errorf("NewBits(%d): Has(%d) = %v, want %v", tc.n, i, b.Has(i), want)
			}
		}
		for _, i := range tc.set {
			b.Clear(i)
		}
		if b.Count() != 0 {
			t.Errorf("NewBits(%d): Count after Clear = %d, want 0", tc.n, b.Count())
		}
	}
}

func TestBitsOutOfRange(t *testing.T) {
	b := NewBits(8)
	for _, i := range []int{-1, 8, 1 << 30} {
		b.Set(i)
		b.Clear(i)
		if b.Has(i) {
			t.Errorf("Has(%d) = true out of range", i)
		}
	}
	if b.Count() != 0 {
		t.Errorf("out-of-range Set changed the bits: %08b", b)
	}
}

// TestBitsInBitfield checks that Bits built with NewBits/Set is what a
// Bitfield message carries.
func TestBitsInBitfield(t *testing.T) {
	b := NewBits(11)
	b.Set(0)
	b.Set(10)
	enc, err := Append(nil, &Bitfield{Resource: ref, Size: 11 << 19, PieceCount: 11, Bits: b})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	got := Bits(m.(*Bitfield).Bits)
	if !got.Has(0) || !got.Has(10) || got.Count() != 2 {
		t.Fatalf("decoded bits %08b, want pieces 0 and 10", got)
	}
}
