//go:build js && wasm

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"syscall/js"
	"testing"
)

func TestWebCryptoSHA256(t *testing.T) {
	for _, n := range []int{0, 1, 512 << 10} {
		data := make([]byte, n)
		rand.Read(data)
		got, err := webCryptoSHA256(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		if want := sha256.Sum256(data); got != want {
			t.Errorf("%d bytes: %x, want %x", n, got, want)
		}
	}
}

// TestPieceSHA256Fallback checks the engine's digest with WebCrypto and,
// as on a page outside a secure context, without crypto.subtle.
func TestPieceSHA256Fallback(t *testing.T) {
	data := make([]byte, 70000)
	rand.Read(data)
	want := sha256.Sum256(data)
	if got, err := pieceSHA256(context.Background(), data); err != nil || got != want {
		t.Fatalf("with WebCrypto: %x, %v; want %x", got, err, want)
	}
	crypto := js.Global().Get("crypto")
	js.Global().Get("Object").Call("defineProperty", js.Global(), "crypto", map[string]any{"value": js.Undefined(), "configurable": true, "writable": true})
	defer js.Global().Get("Object").Call("defineProperty", js.Global(), "crypto", map[string]any{"value": crypto, "configurable": true, "writable": true})
	if _, err := webCryptoSHA256(context.Background(), data); err == nil {
		t.Fatal("webCryptoSHA256 without crypto.subtle succeeded: the fallback is not exercised")
	}
	if got, err := pieceSHA256(context.Background(), data); err != nil || got != want {
		t.Errorf("without crypto.subtle: %x, %v; want %x", got, err, want)
	}
}

// The two ways to hash a piece in the browser, on the same V8: Go's sha256
// compiled to wasm, and WebCrypto with the copy into JS it needs.
func BenchmarkPieceSHA256(b *testing.B) {
	data := make([]byte, 512<<10)
	rand.Read(data)
	b.Run("go", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for range b.N {
			sha256.Sum256(data)
		}
	})
	b.Run("webcrypto", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for range b.N {
			if _, err := webCryptoSHA256(context.Background(), data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
