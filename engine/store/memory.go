// Package store holds pieces in memory for the engine.
//
// Memory is a piece store bounded by the total size of the pieces it holds;
// it drops the least recently used pieces to make room for new ones.
package store

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// ErrNotFound is wrapped by the error Get returns for a piece the store does
// not hold.
var ErrNotFound = errors.New("store: piece not found")

// ErrTooLarge is wrapped by the error Put returns for a piece larger than the
// store's limit.
var ErrTooLarge = errors.New("store: piece larger than the store's limit")

// entry is one stored piece.
type entry struct {
	key  identity.PieceKey
	data []byte
}

// Memory is an in-memory piece store bounded by the total number of data
// bytes it holds. When a Put needs room it evicts the least recently used
// pieces, where Get and Put count as uses, and reports each evicted key to
// the OnEvict callback.
//
// Memory is safe for concurrent use. The zero value is not usable: call
// NewMemory.
type Memory struct {
	limit int64

	mu      sync.Mutex
	size    int64
	lru     *list.List // of *entry, most recently used first
	index   map[identity.PieceKey]*list.Element
	onEvict func(identity.PieceKey)
}

// NewMemory returns an empty store that holds at most limit bytes of piece
// data. A limit of zero or less gives a store that holds only empty pieces.
func NewMemory(limit int64) *Memory {
	if limit < 0 {
		limit = 0
	}
	return &Memory{
		limit: limit,
		lru:   list.New(),
		index: make(map[identity.PieceKey]*list.Element),
	}
}

// Get returns the data of the piece key and marks it as recently used. The
// returned slice is the one the store holds: callers must not modify it. The
// error wraps ErrNotFound when the piece is absent, and is the context's
// error when ctx is done.
func (m *Memory) Get(ctx context.Context, key identity.PieceKey) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	el, ok := m.index[key]
	if ok {
		m.lru.MoveToFront(el)
	}
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("store: get %v: %w", key, ErrNotFound)
	}
	return el.Value.(*entry).data, nil
}

// Put stores data as the piece key, replacing any piece already stored under
// that key, and marks it as recently used. The store takes ownership of
// data: the caller must not modify it afterwards. To make room, Put evicts
// least recently used pieces and then calls the OnEvict callback once per
// evicted key, oldest first, before it returns. Data larger than the store's
// limit is refused with an error wrapping ErrTooLarge, and leaves the store
// unchanged.
func (m *Memory) Put(ctx context.Context, key identity.PieceKey, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := int64(len(data))
	if n > m.limit {
		return fmt.Errorf("store: put %v: %d bytes: %w (%d bytes)", key, n, ErrTooLarge, m.limit)
	}
	var evicted []identity.PieceKey
	m.mu.Lock()
	if el, ok := m.index[key]; ok {
		m.size -= int64(len(el.Value.(*entry).data))
		m.lru.Remove(el)
		delete(m.index, key)
	}
	for m.size+n > m.limit {
		el := m.lru.Back()
		e := el.Value.(*entry)
		m.lru.Remove(el)
		delete(m.index, e.key)
		m.size -= int64(len(e.data))
		evicted = append(evicted, e.key)
	}
	m.index[key] = m.lru.PushFront(&entry{key: key, data: data})
	m.size += n
	fn := m.onEvict
	m.mu.Unlock()

	if fn != nil {
		for _, k := range evicted {
			fn(k)
		}
	}
	return nil
}

// Delete removes the piece key. Deleting an absent piece is not an error.
// Delete does not call the OnEvict callback.
func (m *Memory) Delete(ctx context.Context, key identity.PieceKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.index[key]; ok {
		m.size -= int64(len(el.Value.(*entry).data))
		m.lru.Remove(el)
		delete(m.index, key)
	}
	return nil
}

// OnEvict sets the function called with the key of each piece the store
// drops to make room, replacing any previous one (nil for none). It is
// called from the goroutine of the Put that caused the eviction, outside the
// store's lock, after the piece is gone; it must not block. Replacing a
// piece under the same key, and Delete, are not evictions.
func (m *Memory) OnEvict(fn func(identity.PieceKey)) {
	m.mu.Lock()
	m.onEvict = fn
	m.mu.Unlock()
}

// Len returns the number of pieces the store holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.index)
}

// Size returns the total number of data bytes the store holds; it never
// exceeds the limit given to NewMemory.
func (m *Memory) Size() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.size
}
