//go:build js && wasm

// The tests run under Node.js (go_js_wasm_exec), which has no Cache
// Storage: they cover the fallback. TestEngineWasm (tests/browser) covers
// Cache Storage in Chromium, eviction included.
package cachestore_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/store"
	"github.com/p2pmedia/p2pmedia/wasm/cachestore"
)

func key(i int) identity.PieceKey {
	return identity.PieceKey{Swarm: identity.InfoHash{1}, Resource: "r", Version: 7, Index: i}
}

func TestFallback(t *testing.T) {
	ctx := context.Background()
	s := cachestore.New(cachestore.Config{Limit: 1 << 20, MemoryLimit: 10})
	var mu sync.Mutex
	var evicted []int
	// Registered before the store is open: it must reach the fallback.
	s.OnEvict(func(k identity.PieceKey) {
		mu.Lock()
		evicted = append(evicted, k.Index)
		mu.Unlock()
	})
	if b, err := s.Backend(ctx); err != nil || b != "memory" {
		t.Fatalf("Backend = %q, %v; want memory without Cache Storage", b, err)
	}
	for i := range 3 {
		if err := s.Put(ctx, key(i), bytes.Repeat([]byte{byte(i)}, 4)); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	mu.Lock()
	got := slices.Clone(evicted)
	mu.Unlock()
	if !slices.Equal(got, []int{0}) {
		t.Errorf("evicted %v, want [0] (10-byte limit, three 4-byte pieces)", got)
	}
	if _, err := s.Get(ctx, key(0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of an evicted piece = %v, want ErrNotFound", err)
	}
	if d, err := s.Get(ctx, key(2)); err != nil || !bytes.Equal(d, []byte{2, 2, 2, 2}) {
		t.Errorf("Get = %v, %v", d, err)
	}
	if err := s.Put(ctx, key(9), make([]byte, 11)); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Put over the limit = %v, want ErrTooLarge", err)
	}
	if err := s.Delete(ctx, key(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, key(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete = %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, key(2)); !errors.Is(err, store.ErrNotFound) || s.Size() != 0 {
		t.Errorf("after Close: Get = %v, Size = %d; want nothing held", err, s.Size())
	}
}
