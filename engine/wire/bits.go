package wire

import "math/bits"

// Bits is a bitfield with one bit per piece, most significant bit first as
// in BitTorrent: piece i is bit 7-i%8 of byte i/8. Bitfield.Bits converts to
// and from it.
type Bits []byte

// NewBits returns an all-zero bitfield of n bits (n < 0 counts as 0).
func NewBits(n int) Bits {
	if n <= 0 {
		return Bits{}
	}
	return make(Bits, (n+7)/8)
}

// Has reports whether bit i is set; it is false for an i out of range.
func (b Bits) Has(i int) bool {
	if i < 0 || i/8 >= len(b) {
		return false
	}
	return b[i/8]&(0x80>>(i%8)) != 0
}

// Set sets bit i; it does nothing for an i out of range.
func (b Bits) Set(i int) {
	if i < 0 || i/8 >= len(b) {
		return
	}
	b[i/8] |= 0x80 >> (i % 8)
}

// Clear clears bit i; it does nothing for an i out of range.
func (b Bits) Clear(i int) {
	if i < 0 || i/8 >= len(b) {
		return
	}
	b[i/8] &^= 0x80 >> (i % 8)
}

// Count returns the number of bits set.
func (b Bits) Count() int {
	n := 0
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return n
}
