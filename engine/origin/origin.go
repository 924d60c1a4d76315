// Package origin fetches resources and byte ranges of them from their HTTP
// origin with net/http.
//
// It is the engine's fetcher for native builds (tests, the demo, servers);
// in the browser the engine uses a fetcher built on the Fetch API instead,
// which keeps net/http out of the WebAssembly binaries.
package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// Client fetches resources from their origin. Its zero value is ready to
// use with http.DefaultClient.
type Client struct {
	// HTTP is the client requests go through; nil means http.DefaultClient.
	HTTP *http.Client
	// Header holds headers added to every request (for example cookies or
	// authorization an origin requires). Range is always set by the Client,
	// and Accept-Encoding defaults to identity so that byte offsets refer to
	// the resource itself.
	Header http.Header
}

// StatusError reports an origin response with an unexpected status, such as
// 404 Not Found or 416 Range Not Satisfiable.
type StatusError struct {
	// URL is the requested URL.
	URL string
	// Code is the response's status code.
	Code int
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("origin: %s: status %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// Stat returns the size and validators of the resource at rawURL.
//
// It asks with HEAD. When the origin refuses HEAD (403, 405 or 501) or gives
// no Content-Length, it asks for the first byte with a ranged GET and reads
// the size from Content-Range (or from Content-Length when the origin
// ignores the range). A status that is neither success nor one of those is
// returned as a *StatusError.
func (c *Client) Stat(ctx context.Context, rawURL string) (identity.ResourceInfo, error) {
	resp, err := c.do(ctx, http.MethodHead, rawURL, "")
	if err != nil {
		return identity.ResourceInfo{}, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && resp.ContentLength >= 0:
		return infoOf(resp, resp.ContentLength), nil
	case resp.StatusCode == http.StatusOK,
		resp.StatusCode == http.StatusForbidden, // URLs signed for GET only (S3, GCS, CloudFront)
		resp.StatusCode == http.StatusMethodNotAllowed,
		resp.StatusCode == http.StatusNotImplemented:
		return c.statGet(ctx, rawURL)
	default:
		return identity.ResourceInfo{}, &StatusError{URL: rawURL, Code: resp.StatusCode}
	}
}

// statGet is Stat's fallback: GET with "Range: bytes=0-0".
func (c *Client) statGet(ctx context.Context, rawURL string) (identity.ResourceInfo, error) {
	resp, err := c.do(ctx, http.MethodGet, rawURL, "bytes=0-0")
	if err != nil {
		return identity.ResourceInfo{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		_, size, err := byterange.ParseContentRange(resp.Header.Get("Content-Range"))
		if err == nil && size < 0 {
			err = errors.New("unknown size")
		}
		if err != nil {
			return identity.ResourceInfo{}, fmt.Errorf("origin: stat %s: Content-Range %q: %w", rawURL, resp.Header.Get("Content-Range"), err)
		}
		return infoOf(resp, size), nil
	case http.StatusOK:
		if resp.ContentLength < 0 {
			return identity.ResourceInfo{}, fmt.Errorf("origin: stat %s: origin gives neither Content-Length nor Content-Range", rawURL)
		}
		return infoOf(resp, resp.ContentLength), nil
	case http.StatusRequestedRangeNotSatisfiable:
		// The first byte is out of range only for an empty resource.
		_, size, err := byterange.ParseContentRange(resp.Header.Get("Content-Range"))
		if errors.Is(err, byterange.ErrUnsatisfiable) && size == 0 {
			return infoOf(resp, 0), nil
		}
	}
	return identity.ResourceInfo{}, &StatusError{URL: rawURL, Code: resp.StatusCode}
}

// Fetch returns the info of the resource at rawURL and a body yielding its
// bytes [start, end).
//
// It asks with a ranged GET. A 206 response must carry exactly the asked
// range in its Content-Range and the resource's size; a 200 response (the
// origin ignored the range) must carry a Content-Length, and Fetch skips its
// first start bytes. Any other status is returned as a *StatusError.
//
// end may pass the end of the resource (a caller that does not know the size
// yet asks for its first bytes): the range then stops at the resource's end,
// which must lie past start. The body yields exactly that many bytes: it fails
// with io.ErrUnexpectedEOF when the origin sends fewer, and stops at the
// range's end when it sends more. The caller must close it.
func (c *Client) Fetch(ctx context.Context, rawURL string, start, end int64) (identity.ResourceInfo, io.ReadCloser, error) {
	if start < 0 || end <= start {
		return identity.ResourceInfo{}, nil, fmt.Errorf("origin: fetch %s: invalid range [%d, %d)", rawURL, start, end)
	}
	want := byterange.Range{Start: start, End: end}
	resp, err := c.do(ctx, http.MethodGet, rawURL, byterange.Header(want))
	if err != nil {
		return identity.ResourceInfo{}, nil, err
	}
	var info identity.ResourceInfo
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		got, size, err := byterange.ParseContentRange(cr)
		switch {
		case err != nil:
			err = fmt.Errorf("Content-Range %q: %w", cr, err)
		case size < 0:
			err = fmt.Errorf("Content-Range %q: unknown size", cr)
		case got != want && (got.Start != start || got.End != size || size >= end):
			err = fmt.Errorf("asked bytes [%d, %d), got Content-Range %q", start, end, cr)
		}
		if err != nil {
			resp.Body.Close()
			return identity.ResourceInfo{}, nil, fmt.Errorf("origin: fetch %s: %w", rawURL, err)
		}
		info = infoOf(resp, size)
	case http.StatusOK:
		if resp.ContentLength <= start {
			resp.Body.Close()
			if resp.ContentLength < 0 {
				return identity.ResourceInfo{}, nil, fmt.Errorf("origin: fetch %s: origin ignored the range and gives no Content-Length", rawURL)
			}
			return identity.ResourceInfo{}, nil, fmt.Errorf("origin: fetch %s: asked bytes [%d, %d) of a %d-byte resource", rawURL, start, end, resp.ContentLength)
		}
		info = infoOf(resp, resp.ContentLength)
		if _, err := io.CopyN(io.Discard, resp.Body, start); err != nil {
			resp.Body.Close()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return identity.ResourceInfo{}, nil, fmt.Errorf("origin: fetch %s: skipping %d bytes: %w", rawURL, start, err)
		}
	default:
		resp.Body.Close()
		return identity.ResourceInfo{}, nil, &StatusError{URL: rawURL, Code: resp.StatusCode}
	}
	return info, &body{rc: resp.Body, left: min(end, info.Size) - start, url: rawURL}, nil
}

// do sends one request with the client's headers and, if rangeHeader is not
// empty, a Range header.
func (c *Client) do(ctx context.Context, method, rawURL, rangeHeader string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("origin: %s %s: %w", method, rawURL, err)
	}
	for k, vs := range c.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "identity")
	}
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	} else {
		req.Header.Del("Range")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error repeats the method and URL: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("origin: %s %s: %w", method, rawURL, err)
	}
	return resp, nil
}

// infoOf returns the resource info of a response for a resource of size
// bytes.
func infoOf(resp *http.Response, size int64) identity.ResourceInfo {
	return identity.ResourceInfo{
		Size:         size,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
	}
}

// body yields exactly left more bytes of a response body.
type body struct {
	rc   io.ReadCloser
	left int64
	url  string
}

// Read implements io.Reader. It returns io.ErrUnexpectedEOF when the
// response ends early and io.EOF once the promised bytes are read, whatever
// follows them.
func (b *body) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0:
		return n, io.EOF
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return n, io.ErrUnexpectedEOF
	case err != nil:
		return n, fmt.Errorf("origin: reading %s: %w", b.url, err)
	}
	return n, nil
}

// Close implements io.Closer; it closes the response body.
func (b *body) Close() error { return b.rc.Close() }
