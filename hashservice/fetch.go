package hashservice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
)

// Fetcher gets byte ranges of media from their origin. The service's logic
// is the same natively (HTTPFetcher over net/http) and on Cloudflare
// Workers (HTTPFetcher over the Workers fetch API); only this differs.
type Fetcher interface {
	// GetRange sends one GET for bytes [start, end) of rawURL, with
	// "Accept-Encoding: identity" so that offsets refer to the resource
	// itself, and returns the origin's response as it came: it must not
	// follow redirects (the service checks every hop against its
	// allowlist). The caller closes the body.
	GetRange(ctx context.Context, rawURL string, start, end int64) (*http.Response, error)
}

// HTTPFetcher is a Fetcher over an *http.Client.
type HTTPFetcher struct {
	client *http.Client
}

// NewHTTPFetcher returns a Fetcher sending its requests through c (nil for
// a client like http.DefaultClient). It uses a copy of c that returns
// redirects instead of following them.
func NewHTTPFetcher(c *http.Client) *HTTPFetcher {
	var cc http.Client
	if c != nil {
		cc = *c
	}
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &HTTPFetcher{client: &cc}
}

// GetRange implements Fetcher.
func (f *HTTPFetcher) GetRange(ctx context.Context, rawURL string, start, end int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	req.Header.Set("Range", byterange.Header(byterange.Range{Start: start, End: end}))
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := f.client.Do(req)
	if err != nil {
		// *url.Error repeats the method and URL: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	return resp, nil
}
