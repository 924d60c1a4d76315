//go:build !js

package hashsource

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// HTTPGetter is a Getter over net/http.
type HTTPGetter struct {
	// Client makes the requests (http.DefaultClient when nil).
	Client *http.Client
}

// Get implements Getter.
func (g HTTPGetter) Get(ctx context.Context, url string, max int) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	c := g.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return 0, nil, err
	}
	if len(body) > max {
		return 0, nil, fmt.Errorf("body longer than %d bytes", max)
	}
	return resp.StatusCode, body, nil
}
