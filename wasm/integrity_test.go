//go:build js && wasm

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"syscall/js"
	"testing"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/hashsource"
	"github.com/p2pmedia/p2pmedia/wasm/jsfetch"
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

// TestPeerTubeHashSource reads the three forms of hashSource {peertube: …}
// into the engine's PeerTube source and where it looks for each segment's
// list.
func TestPeerTubeHashSource(t *testing.T) {
	const seg = "https://pt.example/static/streaming-playlists/hls/live/u/0-000042.ts"
	for _, tc := range []struct{ expr, want string }{
		{`{hashSource: {peertube: true}}`, "https://pt.example/static/streaming-playlists/hls/live/u/segments-sha256.json"},
		{`{hashSource: {peertube: "https://pt.example/u-segments-sha256.json"}}`, "https://pt.example/u-segments-sha256.json"},
		{`{hashSource: {peertube: (u) => u.replace(/[^/]*$/, "list.json")}}`, "https://pt.example/static/streaming-playlists/hls/live/u/list.json"},
		{`{hashSource: {peertube: () => null}}`, ""},
	} {
		c, err := parseConfig(eval(tc.expr))
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		w := &wasmEngine{fetcher: &jsfetch.Fetcher{}}
		pt, ok := w.hashSource(c).(*hashsource.PeerTube)
		if !ok {
			t.Fatalf("%s: hash source %T, want a PeerTube", tc.expr, w.hashSource(c))
		}
		if _, ok := engine.HashSource(pt).(engine.SegmentHasher); !ok {
			t.Fatal("the PeerTube source is no SegmentHasher")
		}
		urlOf := pt.URL
		if urlOf == nil {
			urlOf = hashsource.DefaultPeerTubeURL
		}
		if got, err := urlOf(seg); err != nil || got != tc.want {
			t.Errorf("%s: list of %s = %q, %v; want %q", tc.expr, seg, got, err, tc.want)
		}
	}
}
