//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/syumai/workers/cloudflare/cache"

	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// cacheStore is a hashservice.Store in the Workers Cache API (one cache per
// data center). Its entries live for cacheLifetime, longer than an answer is
// fresh, so that a stale answer is revalidated with one origin request
// rather than computed anew; the time it was computed travels in a header.
type cacheStore struct {
	host  string // the Worker's own host, under which the entries are keyed
	cache *cache.Cache
}

// cacheLifetime is how long the Cache API keeps an entry.
const cacheLifetime = 24 * time.Hour

// atHeader carries when an entry's answer was computed (Unix milliseconds).
const atHeader = "X-P2pmedia-Computed-At"

func newCacheStore(host string) *cacheStore {
	return &cacheStore{host: host, cache: cache.New()}
}

// request is the Cache API's key for a service key: a URL under the
// Worker's host that no client request names.
func (s *cacheStore) request(ctx context.Context, key string) (*http.Request, error) {
	sum := sha256.Sum256([]byte(key))
	return http.NewRequestWithContext(ctx, http.MethodGet, "https://"+s.host+"/__cache/v1/pieces/"+hex.EncodeToString(sum[:]), nil)
}

// Load implements hashservice.Store.
func (s *cacheStore) Load(ctx context.Context, key string) ([]byte, time.Time, bool) {
	req, err := s.request(ctx, key)
	if err != nil {
		return nil, time.Time{}, false
	}
	resp, err := s.cache.Match(req, nil)
	if err != nil {
		return nil, time.Time{}, false
	}
	defer resp.Body.Close()
	ms, err := strconv.ParseInt(resp.Header.Get(atHeader), 10, 64)
	if err != nil {
		return nil, time.Time{}, false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, piecehash.MaxDocumentSize+1))
	if err != nil {
		return nil, time.Time{}, false
	}
	return body, time.UnixMilli(ms), true
}

// Save implements hashservice.Store.
func (s *cacheStore) Save(ctx context.Context, key string, body []byte, at time.Time) {
	req, err := s.request(ctx, key)
	if err != nil {
		return
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "max-age="+strconv.Itoa(int(cacheLifetime/time.Second)))
	hdr.Set(atHeader, strconv.FormatInt(at.UnixMilli(), 10))
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	s.cache.Put(req, &http.Response{
		StatusCode:    http.StatusOK,
		Header:        hdr,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	})
}
