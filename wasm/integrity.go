//go:build js && wasm

package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"syscall/js"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/hashsource"
	"github.com/p2pmedia/p2pmedia/wasm/jsfetch"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// validateTimeout bounds a validatePiece call; a piece it has not accepted
// by then is refused.
const validateTimeout = 5 * time.Second

// hashSource is the engine's hash source of the hashSource option: the
// piece-hash service at a base URL, the hash list a site's function names
// for each media URL, or PeerTube's lists of segment hashes; nil without
// the option.
func (w *wasmEngine) hashSource(cfg config) engine.HashSource {
	switch {
	case cfg.hashService != "":
		return &hashsource.Service{Base: cfg.hashService, Get: w.fetcher}
	case cfg.hashListFn.Type() == js.TypeFunction:
		return &hashsource.Lists{Get: w.fetcher, URL: listURLFunc(cfg.hashListFn, "hashSource")}
	case cfg.peerTube:
		pt := &hashsource.PeerTube{Get: freshGetter{w.fetcher}}
		switch {
		case cfg.peerTubeURL != "":
			u := cfg.peerTubeURL
			pt.URL = func(string) (string, error) { return u, nil }
		case cfg.peerTubeFn.Type() == js.TypeFunction:
			pt.URL = listURLFunc(cfg.peerTubeFn, "hashSource.peertube")
		}
		return pt
	}
	return nil
}

// listURLFunc makes fn, a site's function(url) → the URL of a hash list or
// null (the option named option), a hash source's function of a media URL.
func listURLFunc(fn js.Value, option string) func(mediaURL string) (string, error) {
	return func(mediaURL string) (string, error) {
		r, err := callFn(fn, mediaURL)
		if err != nil {
			return "", fmt.Errorf("option %q: %w", option, err)
		}
		switch r.Type() {
		case js.TypeString:
			return r.String(), nil
		case js.TypeUndefined, js.TypeNull:
			return "", nil
		}
		return "", fmt.Errorf("option %q returned neither a URL nor null", option)
	}
}

// freshGetter is the Getter of PeerTube lists: a live stream's changes with
// every segment, so the browser's cached copy is revalidated each time.
type freshGetter struct{ f *jsfetch.Fetcher }

// Get implements hashsource.Getter.
func (g freshGetter) Get(ctx context.Context, url string, max int) (int, []byte, error) {
	return g.f.GetFresh(ctx, url, max)
}

// validator is the engine's Validate of the validatePiece option: the
// site's function gets {url, index, start, end} and a copy of the piece,
// and accepts it by returning (or resolving to) true.
func (w *wasmEngine) validator(fn js.Value) engine.Validator {
	return func(p engine.PieceRef, data []byte) error {
		info := map[string]any{"url": p.URL, "index": p.Index, "start": p.Start, "end": p.End}
		r, err := callFn(fn, info, jsutil.Uint8Array(data))
		if err == nil && r.InstanceOf(js.Global().Get("Promise")) {
			ctx, cancel := context.WithTimeout(w.ctx, validateTimeout)
			r, err = jsutil.Await(ctx, r)
			cancel()
		}
		switch {
		case err != nil:
			return fmt.Errorf("validatePiece failed: %w", err)
		case !(r.Type() == js.TypeBoolean && r.Bool()):
			return errors.New("validatePiece refused it")
		}
		return nil
	}
}

// callFn calls a site's function, turning a throw into an error.
func callFn(fn js.Value, args ...any) (v js.Value, err error) {
	err = jsutil.Try(func() { v = fn.Invoke(args...) })
	return v, err
}

// pieceSHA256 is the engine's Config.Digest: WebCrypto's SHA-256 (see
// BenchmarkPieceSHA256), else Go's where the page has no crypto.subtle (an
// insecure context) or it failed.
func pieceSHA256(ctx context.Context, data []byte) ([32]byte, error) {
	sum, err := webCryptoSHA256(ctx, data)
	if err != nil {
		if ctx.Err() != nil {
			return sum, err
		}
		return sha256.Sum256(data), nil
	}
	return sum, nil
}

// webCryptoSHA256 returns the SHA-256 of data computed by the browser's
// WebCrypto (crypto.subtle.digest), which hashes natively and off the
// page's thread, where Go's sha256 compiled to wasm runs on it.
func webCryptoSHA256(ctx context.Context, data []byte) (sum [32]byte, err error) {
	subtle := js.Global().Get("crypto")
	if subtle.Type() == js.TypeObject {
		subtle = subtle.Get("subtle")
	}
	if subtle.Type() != js.TypeObject {
		return sum, errors.New("no crypto.subtle")
	}
	p, err := jsutil.Call(subtle, "digest", "SHA-256", jsutil.Uint8Array(data))
	if err != nil {
		return sum, fmt.Errorf("crypto.subtle.digest: %w", err)
	}
	v, err := jsutil.Await(ctx, p)
	if err != nil {
		return sum, fmt.Errorf("crypto.subtle.digest: %w", err)
	}
	b := js.Global().Get("Uint8Array").New(v)
	if n := b.Get("length").Int(); n != len(sum) {
		return sum, fmt.Errorf("crypto.subtle.digest gave %d bytes", n)
	}
	js.CopyBytesToGo(sum[:], b)
	return sum, nil
}
