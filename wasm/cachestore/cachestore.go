//go:build js && wasm

// Package cachestore is the engine's piece store in the browser: pieces live
// in Cache Storage, outside the Go heap (wasm memory never shrinks), bounded
// by a byte limit with least-recently-used eviction.
//
// Cache Storage is per origin and outlives the page, so the cache may hold
// pieces of an earlier session that no index knows about. For simplicity the
// store deletes its cache when it starts and keeps its index in memory.
// Several pages of one origin share the cache: one page starting clears the
// others' pieces, which they then miss and fetch again (a miss is never an
// error the viewer sees), and each page bounds only its own pieces.
//
// Go memory holds the index (a few dozen bytes per piece) and hot copies of
// the most recently stored or read pieces, up to HotBytes, so that uploads of
// fresh pieces to several peers skip the Cache Storage round trip. Where
// Cache Storage is missing or unusable (an opaque origin, a browser that
// refuses it, private modes that throw), the store falls back to an
// in-memory store with its own, smaller limit.
package cachestore

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall/js"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/store"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// DefaultName is the Cache Storage cache the engine uses.
const DefaultName = "p2pmedia-v1"

// DefaultHotBytes bounds the hot copies kept in Go memory.
const DefaultHotBytes = 4 << 20

// keyPrefix makes piece keys into the http(s) URLs Cache Storage requires.
// The .invalid domain never resolves: the URLs are names, never fetched.
const keyPrefix = "https://p2pmedia.invalid/piece/"

// Config configures a Store.
type Config struct {
	// Name is the Cache Storage cache (DefaultName if empty).
	Name string
	// Limit bounds the bytes of pieces in Cache Storage.
	Limit int64
	// MemoryLimit bounds the fallback in-memory store.
	MemoryLimit int64
	// HotBytes bounds the hot copies kept in memory (DefaultHotBytes if 0);
	// the most recent piece is always kept.
	HotBytes int64
}

// Store is a piece store in Cache Storage. It implements engine.Store and is
// safe for concurrent use. Its methods wait until the cache is open.
type Store struct {
	cfg   Config
	ready chan struct{}
	cache js.Value // set before ready is closed, unless the fallback is used
	// mem is the fallback, set before ready is closed; Close swaps it for an
	// empty one.
	mem atomic.Pointer[store.Memory]

	mu      sync.Mutex
	size    int64      // bytes of the pieces in the index
	lru     *list.List // of *entry, most recently used first
	index   map[identity.PieceKey]*list.Element
	hot     []hotPiece // most recently used last
	hotSize int64
	onEvict func(identity.PieceKey)
	closed  bool
}

type entry struct {
	key     identity.PieceKey
	size    int64
	pending bool // being written: not readable yet
}

type hotPiece struct {
	key  identity.PieceKey
	data []byte
}

// New returns a store and opens its cache in the background (deleting what
// an earlier session left in it). Until then, its methods wait.
func New(cfg Config) *Store {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.HotBytes <= 0 {
		cfg.HotBytes = DefaultHotBytes
	}
	s := &Store{
		cfg:   cfg,
		ready: make(chan struct{}),
		lru:   list.New(),
		index: make(map[identity.PieceKey]*list.Element),
	}
	go s.open()
	return s
}

// open opens the cache, or sets up the memory fallback.
func (s *Store) open() {
	defer close(s.ready)
	cache, err := openCache(s.cfg.Name)
	if err == nil {
		s.cache = cache
		return
	}
	m := store.NewMemory(s.cfg.MemoryLimit)
	s.mu.Lock()
	m.OnEvict(s.onEvict)
	s.mem.Store(m)
	s.mu.Unlock()
}

func openCache(name string) (js.Value, error) {
	caches := js.Global().Get("caches")
	if !jsutil.IsObject(caches) {
		return js.Value{}, errors.New("cachestore: Cache Storage unavailable")
	}
	ctx := context.Background()
	p, err := jsutil.Call(caches, "delete", name)
	if err == nil {
		_, err = jsutil.Await(ctx, p)
	}
	if err == nil {
		p, err = jsutil.Call(caches, "open", name)
	}
	var cache js.Value
	if err == nil {
		cache, err = jsutil.Await(ctx, p)
	}
	if err == nil && !jsutil.IsObject(cache) {
		err = errors.New("caches.open gave no cache")
	}
	if err != nil {
		return js.Value{}, fmt.Errorf("cachestore: opening %s: %w", name, err)
	}
	return cache, nil
}

// wait blocks until the cache is open.
func (s *Store) wait(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Backend tells where pieces live: "cache" (Cache Storage) or "memory" (the
// fallback). It waits until the store is open.
func (s *Store) Backend(ctx context.Context) (string, error) {
	if err := s.wait(ctx); err != nil {
		return "", err
	}
	if s.mem.Load() != nil {
		return "memory", nil
	}
	return "cache", nil
}

func url(k identity.PieceKey) string { return keyPrefix + k.String() }

// Get returns a stored piece; the error wraps store.ErrNotFound when the
// piece is absent (also when the browser dropped it from the cache).
func (s *Store) Get(ctx context.Context, key identity.PieceKey) ([]byte, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	if m := s.mem.Load(); m != nil {
		return m.Get(ctx, key)
	}
	s.mu.Lock()
	if d, ok := s.hotGetLocked(key); ok {
		if el, ok := s.index[key]; ok {
			s.lru.MoveToFront(el)
		}
		s.mu.Unlock()
		return d, nil
	}
	el, ok := s.index[key]
	if !ok || el.Value.(*entry).pending || s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("cachestore: get %v: %w", key, store.ErrNotFound)
	}
	s.lru.MoveToFront(el)
	s.mu.Unlock()

	data, err := s.read(ctx, key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.mu.Lock()
			s.removeLocked(key, el)
			s.mu.Unlock()
		}
		return nil, err
	}
	s.mu.Lock()
	if s.index[key] == el {
		s.hotAddLocked(key, data)
	}
	s.mu.Unlock()
	return data, nil
}

// read copies a piece out of the cache into a new Go slice.
func (s *Store) read(ctx context.Context, key identity.PieceKey) ([]byte, error) {
	p, err := jsutil.Call(s.cache, "match", url(key))
	var resp js.Value
	if err == nil {
		resp, err = jsutil.Await(ctx, p)
	}
	if err == nil && !jsutil.IsObject(resp) {
		return nil, fmt.Errorf("cachestore: get %v: %w", key, store.ErrNotFound)
	}
	if err == nil {
		p, err = jsutil.Call(resp, "arrayBuffer")
	}
	var buf js.Value
	if err == nil {
		buf, err = jsutil.Await(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("cachestore: get %v: %w", key, err)
	}
	u := js.Global().Get("Uint8Array").New(buf)
	data := make([]byte, u.Get("length").Int())
	js.CopyBytesToGo(data, u)
	return data, nil
}

// Put stores a piece, taking ownership of data, and evicts the least
// recently used pieces to stay within the limit, reporting each to OnEvict.
// Data larger than the limit is refused with an error wrapping
// store.ErrTooLarge.
func (s *Store) Put(ctx context.Context, key identity.PieceKey, data []byte) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	if m := s.mem.Load(); m != nil {
		return m.Put(ctx, key, data)
	}
	n := int64(len(data))
	if n > s.cfg.Limit {
		return fmt.Errorf("cachestore: put %v: %d bytes: %w (%d bytes)", key, n, store.ErrTooLarge, s.cfg.Limit)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("cachestore: put %v: store closed", key)
	}
	if el, ok := s.index[key]; ok {
		s.removeLocked(key, el)
	}
	var victims []identity.PieceKey
	for s.size+n > s.cfg.Limit {
		old := s.lru.Back().Value.(*entry)
		s.removeLocked(old.key, s.lru.Back())
		victims = append(victims, old.key)
	}
	e := &entry{key: key, size: n, pending: true}
	el := s.lru.PushFront(e)
	s.index[key] = el
	s.size += n
	fn := s.onEvict
	s.mu.Unlock()

	for _, k := range victims {
		s.deleteCached(ctx, k)
	}
	if fn != nil {
		for _, k := range victims {
			fn(k)
		}
	}

	err := s.write(ctx, key, data)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.index[key]; cur != el {
		if !ok && err == nil {
			// Evicted or deleted while it was written: that delete may
			// have reached Cache Storage first, so the copy just written
			// would outlive its entry, beyond the limit.
			s.mu.Unlock()
			s.deleteCached(ctx, key)
			s.mu.Lock()
		}
		return nil // replaced or deleted meanwhile
	}
	if err != nil {
		s.removeLocked(key, el)
		return err
	}
	e.pending = false
	s.hotAddLocked(key, data)
	return nil
}

// write copies data into a new Response in the cache.
func (s *Store) write(ctx context.Context, key identity.PieceKey, data []byte) error {
	var p js.Value
	err := jsutil.Try(func() {
		resp := js.Global().Get("Response").New(jsutil.Uint8Array(data))
		p = s.cache.Call("put", url(key), resp)
	})
	if err == nil {
		_, err = jsutil.Await(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("cachestore: put %v: %w", key, err)
	}
	return nil
}

// deleteCached removes a piece from the cache, ignoring failures: an entry
// left behind is harmless and goes when the next session clears the cache.
func (s *Store) deleteCached(ctx context.Context, key identity.PieceKey) {
	if p, err := jsutil.Call(s.cache, "delete", url(key)); err == nil {
		_, _ = jsutil.Await(ctx, p)
	}
}

// Delete removes a piece; deleting an absent piece is not an error. It does
// not call OnEvict.
func (s *Store) Delete(ctx context.Context, key identity.PieceKey) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	if m := s.mem.Load(); m != nil {
		return m.Delete(ctx, key)
	}
	s.mu.Lock()
	el, ok := s.index[key]
	if ok {
		s.removeLocked(key, el)
	}
	s.mu.Unlock()
	if ok {
		s.deleteCached(ctx, key)
	}
	return nil
}

// OnEvict registers fn to be told of pieces the store drops to make room.
// It is called from the Put that needed the room, after the piece is gone.
func (s *Store) OnEvict(fn func(identity.PieceKey)) {
	s.mu.Lock()
	s.onEvict = fn
	if m := s.mem.Load(); m != nil {
		m.OnEvict(fn)
	}
	s.mu.Unlock() // open copies fn to a fallback it makes later
}

// Close forgets every piece, frees the hot copies and deletes the cache.
// Later calls fail as if the store were empty.
func (s *Store) Close(ctx context.Context) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.closed = true
	s.index = make(map[identity.PieceKey]*list.Element)
	s.lru.Init()
	s.size = 0
	s.hot, s.hotSize = nil, 0
	s.mu.Unlock()
	if s.mem.Load() != nil {
		s.mem.Store(store.NewMemory(0)) // drop the pieces; later Gets miss
		return nil
	}
	p, err := jsutil.Call(js.Global().Get("caches"), "delete", s.cfg.Name)
	if err == nil {
		_, err = jsutil.Await(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("cachestore: deleting %s: %w", s.cfg.Name, err)
	}
	return nil
}

// Size returns the bytes of the pieces stored in Cache Storage (or in the
// fallback).
func (s *Store) Size() int64 {
	if m := s.mem.Load(); m != nil {
		return m.Size()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

func (s *Store) removeLocked(key identity.PieceKey, el *list.Element) {
	if s.index[key] != el {
		return
	}
	delete(s.index, key)
	s.lru.Remove(el)
	s.size -= el.Value.(*entry).size
	s.hotDropLocked(key)
}

func (s *Store) hotGetLocked(key identity.PieceKey) ([]byte, bool) {
	for i := len(s.hot) - 1; i >= 0; i-- {
		if h := s.hot[i]; h.key == key {
			copy(s.hot[i:], s.hot[i+1:])
			s.hot[len(s.hot)-1] = h
			return h.data, true
		}
	}
	return nil, false
}

func (s *Store) hotAddLocked(key identity.PieceKey, data []byte) {
	s.hotDropLocked(key)
	s.hot = append(s.hot, hotPiece{key: key, data: data})
	s.hotSize += int64(len(data))
	for len(s.hot) > 1 && s.hotSize > s.cfg.HotBytes {
		s.hotSize -= int64(len(s.hot[0].data))
		s.hot[0] = hotPiece{}
		s.hot = s.hot[1:]
	}
}

func (s *Store) hotDropLocked(key identity.PieceKey) {
	for i, h := range s.hot {
		if h.key == key {
			s.hotSize -= int64(len(h.data))
			copy(s.hot[i:], s.hot[i+1:])
			s.hot[len(s.hot)-1] = hotPiece{}
			s.hot = s.hot[:len(s.hot)-1]
			return
		}
	}
}
