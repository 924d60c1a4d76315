package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, that its errors wrap
// ErrMalformed, and that whatever decodes re-encodes to the very same bytes,
// which decode to an equal message.
func FuzzDecode(f *testing.F) {
	for _, tc := range validCases {
		if len(tc.enc) <= 4096 {
			f.Add(tc.enc)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%x): error %v does not wrap ErrMalformed", b, err)
			}
			if m != nil {
				t.Fatalf("Decode(%x) returned %+v with its error", b, m)
			}
			return
		}
		if !bytes.Equal(b, in) {
			t.Fatalf("Decode modified its input")
		}
		if m.Type() != Type(b[0]) {
			t.Fatalf("Decode(%x) = %T, type %v, want %v", b, m, m.Type(), Type(b[0]))
		}
		enc, err := Append(nil, m)
		if err != nil {
			t.Fatalf("Append(%+v) of a decoded message: %v", m, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, enc)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode of re-encoded %x: %v", enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-decoded %+v, want %+v", m2, m)
		}
	})
}
