package hashservice

import "container/list"

// cache holds answers by key, least recently used first out, within a
// bound on the bytes of their bodies. It is not safe for concurrent use:
// the Handler's mutex guards it.
type cache struct {
	max, used int64
	order     *list.List // of *cacheEntry, most recent first
	byKey     map[string]*list.Element
}

type cacheEntry struct {
	key string
	a   *answer
}

// entryOverhead is what an entry costs beside its body: its key, etag,
// list and bookkeeping, roughly.
const entryOverhead = 512

func newCache(maxBytes int64) *cache {
	return &cache{max: maxBytes, order: list.New(), byKey: make(map[string]*list.Element)}
}

func entrySize(key string, a *answer) int64 {
	return int64(len(key)+len(a.body)+len(a.list.Pieces)*32) + entryOverhead
}

// get returns the answer cached for key, fresh or not, or nil.
func (c *cache) get(key string) *answer {
	e, ok := c.byKey[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).a
}

// put caches a for key, evicting the least recently used answers to stay
// within the bound; an answer larger than the whole bound is not cached.
func (c *cache) put(key string, a *answer) {
	c.remove(key)
	n := entrySize(key, a)
	if n > c.max {
		return
	}
	for c.used+n > c.max {
		c.remove(c.order.Back().Value.(*cacheEntry).key)
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, a: a})
	c.used += n
}

func (c *cache) remove(key string) {
	e, ok := c.byKey[key]
	if !ok {
		return
	}
	ce := e.Value.(*cacheEntry)
	c.used -= entrySize(ce.key, ce.a)
	c.order.Remove(e)
	delete(c.byKey, key)
}

// len returns the number of answers cached.
func (c *cache) len() int { return len(c.byKey) }
