package store

import (
	"context"
	"errors"
	"math/rand"
	"reflect"
	"sync"
	"testing"

	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// engineStore is a copy of the engine's piece store interface.
type engineStore interface {
	Get(ctx context.Context, key identity.PieceKey) ([]byte, error)
	Put(ctx context.Context, key identity.PieceKey, data []byte) error
	Delete(ctx context.Context, key identity.PieceKey) error
	OnEvict(fn func(identity.PieceKey))
}

var _ engineStore = (*Memory)(nil)

// key returns a distinct piece key for each i.
func key(i int) identity.PieceKey {
	return identity.PieceKey{Swarm: identity.InfoHash{1}, Resource: "seg", Version: 7, Index: i}
}

// recorder collects evicted keys in order.
type recorder struct {
	mu   sync.Mutex
	keys []identity.PieceKey
}

func (r *recorder) evict(k identity.PieceKey) {
	r.mu.Lock()
	r.keys = append(r.keys, k)
	r.mu.Unlock()
}

func (r *recorder) take() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, k := range r.keys {
		out = append(out, k.Index)
	}
	r.keys = nil
	return out
}

type op struct {
	kind string // "put", "get", "del"
	i    int
	n    int // data length for put
}

func TestMemoryLRU(t *testing.T) {
	tests := []struct {
		name    string
		limit   int64
		ops     []op
		evicted []int // in order, over all ops
		present []int
	}{
		{
			name:    "evicts oldest put",
			limit:   10,
			ops:     []op{{"put", 1, 4}, {"put", 2, 4}, {"put", 3, 4}},
			evicted: []int{1},
			present: []int{2, 3},
		},
		{
			name:    "get refreshes",
			limit:   10,
			ops:     []op{{"put", 1, 4}, {"put", 2, 4}, {"get", 1, 0}, {"put", 3, 4}},
			evicted: []int{2},
			present: []int{1, 3},
		},
		{
			name:    "several evicted oldest first",
			limit:   10,
			ops:     []op{{"put", 1, 3}, {"put", 2, 3}, {"put", 3, 3}, {"get", 1, 0}, {"put", 4, 9}},
			evicted: []int{2, 3, 1},
			present: []int{4},
		},
		{
			name:    "exact fit evicts nothing",
			limit:   10,
			ops:     []op{{"put", 1, 5}, {"put", 2, 5}},
			evicted: nil,
			present: []int{1, 2},
		},
		{
			name:    "replace is not an eviction and refreshes",
			limit:   10,
			ops:     []op{{"put", 1, 4}, {"put", 2, 4}, {"put", 1, 6}, {"put", 3, 4}},
			evicted: []int{2},
			present: []int{1, 3},
		},
		{
			name:    "replace with larger data evicts others",
			limit:   10,
			ops:     []op{{"put", 1, 4}, {"put", 2, 4}, {"put", 1, 10}},
			evicted: []int{2},
			present: []int{1},
		},
		{
			name:    "delete frees room without callback",
			limit:   10,
			ops:     []op{{"put", 1, 5}, {"put", 2, 5}, {"del", 1, 0}, {"del", 1, 0}, {"put", 3, 5}},
			evicted: nil,
			present: []int{2, 3},
		},
		{
			name:    "missed get changes nothing",
			limit:   10,
			ops:     []op{{"put", 1, 5}, {"put", 2, 5}, {"get", 9, 0}, {"put", 3, 5}},
			evicted: []int{1},
			present: []int{2, 3},
		},
		{
			name:    "too large is refused and evicts nothing",
			limit:   10,
			ops:     []op{{"put", 1, 5}, {"put", 2, 11}, {"put", 3, 5}},
			evicted: nil,
			present: []int{1, 3},
		},
		{
			name:    "empty pieces fit a zero limit",
			limit:   0,
			ops:     []op{{"put", 1, 0}, {"put", 2, 0}},
			evicted: nil,
			present: []int{1, 2},
		},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(tt.limit)
			var rec recorder
			m.OnEvict(rec.evict)
			for _, o := range tt.ops {
				switch o.kind {
				case "put":
					err := m.Put(ctx, key(o.i), make([]byte, o.n))
					if tooLarge := int64(o.n) > tt.limit; tooLarge != errors.Is(err, ErrTooLarge) || (!tooLarge && err != nil) {
						t.Fatalf("Put(%d, %d bytes) = %v", o.i, o.n, err)
					}
				case "get":
					m.Get(ctx, key(o.i))
				case "del":
					if err := m.Delete(ctx, key(o.i)); err != nil {
						t.Fatalf("Delete(%d) = %v", o.i, err)
					}
				}
			}
			if got := rec.take(); !reflect.DeepEqual(got, tt.evicted) {
				t.Errorf("evicted %v, want %v", got, tt.evicted)
			}
			var size int64
			for _, i := range tt.present {
				data, err := m.Get(ctx, key(i))
				if err != nil {
					t.Errorf("Get(%d) = %v, want present", i, err)
				}
				size += int64(len(data))
			}
			if m.Len() != len(tt.present) || m.Size() != size {
				t.Errorf("Len, Size = %d, %d, want %d, %d", m.Len(), m.Size(), len(tt.present), size)
			}
		})
	}
}

func TestMemoryGetPutDelete(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(100)
	if _, err := m.Get(ctx, key(1)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of absent piece = %v, want ErrNotFound", err)
	}
	data := []byte("piece data")
	if err := m.Put(ctx, key(1), data); err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, key(1))
	if err != nil || string(got) != "piece data" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if &got[0] != &data[0] {
		t.Error("Get returned a copy, want the stored slice")
	}
	if _, err := m.Get(ctx, key(2)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of another key = %v, want ErrNotFound", err)
	}
	if err := m.Put(ctx, key(1), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, key(1)); string(got) != "new" || m.Size() != 3 || m.Len() != 1 {
		t.Errorf("after replace: %q, Size %d, Len %d", got, m.Size(), m.Len())
	}
	for range 2 {
		if err := m.Delete(ctx, key(1)); err != nil {
			t.Fatalf("Delete = %v", err)
		}
	}
	if _, err := m.Get(ctx, key(1)); !errors.Is(err, ErrNotFound) || m.Size() != 0 || m.Len() != 0 {
		t.Errorf("after delete: Get error %v, Size %d, Len %d", err, m.Size(), m.Len())
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Put(canceled, key(3), data); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with canceled context = %v", err)
	}
	if _, err := m.Get(canceled, key(3)); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with canceled context = %v", err)
	}
	if err := m.Delete(canceled, key(3)); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with canceled context = %v", err)
	}
	if m.Len() != 0 {
		t.Errorf("Len = %d after canceled Put", m.Len())
	}

	if err := NewMemory(-1).Put(ctx, key(1), []byte{1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Put into a negative-limit store = %v, want ErrTooLarge", err)
	}
}

// TestMemoryLimit replays random operations against a model of the store
// and checks the limit and the bookkeeping after each one.
func TestMemoryLimit(t *testing.T) {
	ctx := context.Background()
	const limit = 1000
	rng := rand.New(rand.NewSource(1))
	m := NewMemory(limit)
	model := map[int]int{} // index → length
	m.OnEvict(func(k identity.PieceKey) {
		if _, ok := model[k.Index]; !ok {
			t.Errorf("evicted %d, which the model does not hold", k.Index)
		}
		if _, err := m.Get(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Errorf("evicted piece %d still present: %v", k.Index, err)
		}
		delete(model, k.Index)
	})
	for step := range 5000 {
		i := rng.Intn(40)
		switch rng.Intn(4) {
		case 0, 1:
			n := rng.Intn(300)
			if err := m.Put(ctx, key(i), make([]byte, n)); err != nil {
				t.Fatal(err)
			}
			model[i] = n
		case 2:
			_, err := m.Get(ctx, key(i))
			if _, ok := model[i]; ok != (err == nil) {
				t.Fatalf("step %d: Get(%d) = %v, model holds it: %v", step, i, err, ok)
			}
		case 3:
			m.Delete(ctx, key(i))
			delete(model, i)
		}
		var size int64
		for _, n := range model {
			size += int64(n)
		}
		if m.Size() > limit || m.Size() != size || m.Len() != len(model) {
			t.Fatalf("step %d: Size %d, Len %d; model %d bytes in %d pieces, limit %d", step, m.Size(), m.Len(), size, len(model), limit)
		}
	}
}

func TestMemoryConcurrent(t *testing.T) {
	ctx := context.Background()
	const limit = 4096
	m := NewMemory(limit)
	var (
		mu      sync.Mutex
		evicted int
	)
	m.OnEvict(func(k identity.PieceKey) {
		// Calling back into the store proves the callback runs outside its
		// lock. (Another goroutine may already have put k again, so
		// absence is checked in TestMemoryLimit instead.)
		m.Get(ctx, k)
		mu.Lock()
		evicted++
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for range 2000 {
				i := rng.Intn(64)
				switch rng.Intn(3) {
				case 0:
					data := make([]byte, 1+rng.Intn(256))
					data[0] = byte(i)
					if err := m.Put(ctx, key(i), data); err != nil {
						t.Error(err)
						return
					}
				case 1:
					if data, err := m.Get(ctx, key(i)); err == nil && data[0] != byte(i) {
						t.Errorf("Get(%d) returned data of piece %d", i, data[0])
						return
					}
				case 2:
					m.Delete(ctx, key(i))
				}
				if s := m.Size(); s > limit {
					t.Errorf("Size %d exceeds limit %d", s, limit)
					return
				}
			}
		}()
	}
	wg.Wait()
	var size int64
	for i := range 64 {
		if data, err := m.Get(ctx, key(i)); err == nil {
			size += int64(len(data))
		}
	}
	if m.Size() != size || size > limit {
		t.Errorf("Size %d, sum of held pieces %d, limit %d", m.Size(), size, limit)
	}
	if evicted == 0 {
		t.Error("no evictions: the test did not fill the store")
	}
}

func BenchmarkMemoryPutGet(b *testing.B) {
	ctx := context.Background()
	const piece = identity.DefaultPieceLength
	m := NewMemory(64 * piece) // half the keys below: Puts evict
	data := make([]byte, piece)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := key(i % 128)
		if err := m.Put(ctx, k, data); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
