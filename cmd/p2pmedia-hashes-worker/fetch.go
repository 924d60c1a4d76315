//go:build js && wasm

package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/p2pmedia/p2pmedia/hashservice"
)

// fetcher is the service's Fetcher over the Workers fetch API: a
// hashservice.HTTPFetcher whose client sends fetch() with redirect
// "manual", with the responses mended where syumai/workers converts them
// otherwise than net/http would.
type fetcher struct {
	http *hashservice.HTTPFetcher
}

func newFetcher(c *http.Client) *fetcher {
	return &fetcher{http: hashservice.NewHTTPFetcher(c)}
}

// GetRange implements hashservice.Fetcher.
func (f *fetcher) GetRange(ctx context.Context, rawURL string, start, end int64) (*http.Response, error) {
	resp, err := f.http.GetRange(ctx, rawURL, start, end)
	if err != nil {
		return nil, err
	}
	// syumai/workers splits every header value at its commas (a
	// Last-Modified date has one): join the parts again, as fetch's Headers
	// gave them.
	for k, vs := range resp.Header {
		if len(vs) > 1 {
			resp.Header[k] = []string{strings.Join(vs, ",")}
		}
	}
	// It reads a missing Content-Length as 0; net/http says -1 (unknown).
	if resp.Header.Get("Content-Length") == "" {
		resp.ContentLength = -1
	}
	return resp, nil
}
