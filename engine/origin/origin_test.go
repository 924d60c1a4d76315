package origin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/engine/identity"
)

// engineFetcher is a copy of the engine's HTTP fetcher interface.
type engineFetcher interface {
	Stat(ctx context.Context, url string) (identity.ResourceInfo, error)
	Fetch(ctx context.Context, url string, start, end int64) (identity.ResourceInfo, io.ReadCloser, error)
}

var _ engineFetcher = (*Client)(nil)

const (
	size = 10000
	etag = `"v1"`
)

var (
	content = func() []byte {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i*7 + i>>8)
		}
		return b
	}()
	modTime      = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	lastModified = modTime.Format(http.TimeFormat)
)

// serveFile serves data with http.ServeContent, an ETag and a Last-Modified.
func serveFile(w http.ResponseWriter, r *http.Request, data []byte) {
	w.Header().Set("ETag", etag)
	http.ServeContent(w, r, "media.mp4", modTime, bytes.NewReader(data))
}

// askedRange parses the request's Range against the content.
func askedRange(t *testing.T, r *http.Request) byterange.Range {
	rg, err := byterange.ParseRange(r.Header.Get("Range"), size)
	if err != nil {
		t.Errorf("%s %s: Range %q: %v", r.Method, r.URL.Path, r.Header.Get("Range"), err)
	}
	return rg
}

// startChunked sends a 206 header for rg with the given Content-Range and
// no Content-Length, so that the body is chunked and its end is up to the
// handler.
func startChunked(w http.ResponseWriter, contentRange string) {
	w.Header().Set("Content-Range", contentRange)
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusPartialContent)
	w.(http.Flusher).Flush()
}

func newServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) { serveFile(w, r, content) })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { serveFile(w, r, nil) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/file", http.StatusFound)
	})
	mux.HandleFunc("/nohead", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		serveFile(w, r, content)
	})
	mux.HandleFunc("/nohead-empty", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotImplemented)
			return
		}
		serveFile(w, r, nil)
	})
	mux.HandleFunc("/empty-416", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Range", byterange.Unsatisfied(0))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
	})
	mux.HandleFunc("/bogus-416", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Range", byterange.Unsatisfied(5))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.WriteHeader(http.StatusOK)
		w.Write(content[:10])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/signed", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		serveFile(w, r, content)
	})
	mux.HandleFunc("/nolength", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusOK) // no Content-Length
			return
		}
		serveFile(w, r, content)
	})
	mux.HandleFunc("/ignore", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastModified)
		w.Header().Set("Content-Length", strconv.Itoa(size))
		if r.Method != http.MethodHead {
			w.Write(content)
		}
	})
	mux.HandleFunc("/ignore-chunked", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if r.Method != http.MethodHead {
			w.Write(content)
		}
	})
	mux.HandleFunc("/ignore-short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.WriteHeader(http.StatusOK)
		w.Write(content[:100])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		rg := askedRange(t, r)
		startChunked(w, byterange.ContentRange(rg, size))
		w.Write(content[rg.Start : rg.Start+rg.Len()/2])
	})
	mux.HandleFunc("/short-length", func(w http.ResponseWriter, r *http.Request) {
		rg := askedRange(t, r)
		w.Header().Set("Content-Range", byterange.ContentRange(rg, size))
		w.Header().Set("Content-Length", strconv.FormatInt(rg.Len(), 10))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(content[rg.Start : rg.Start+rg.Len()/2])
	})
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		rg := askedRange(t, r)
		startChunked(w, byterange.ContentRange(rg, size))
		w.Write(content[rg.Start:])
	})
	mux.HandleFunc("/lie", func(w http.ResponseWriter, r *http.Request) {
		rg := askedRange(t, r)
		rg.Start++
		startChunked(w, byterange.ContentRange(rg, size))
		w.Write(content[rg.Start:rg.End])
	})
	mux.HandleFunc("/lie-size", func(w http.ResponseWriter, r *http.Request) {
		startChunked(w, byterange.ContentRange(askedRange(t, r), -1))
	})
	mux.HandleFunc("/garbage-range", func(w http.ResponseWriter, r *http.Request) {
		startChunked(w, "bytes=0-1")
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		rg := askedRange(t, r)
		w.Header().Set("Content-Range", byterange.ContentRange(rg, size))
		w.Header().Set("Content-Length", strconv.FormatInt(rg.Len(), 10))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(content[rg.Start : rg.Start+rg.Len()/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // closes the connection mid-body
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Token") != "secret" || r.Header.Get("Accept-Encoding") != "identity" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		serveFile(w, r, content)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestStat(t *testing.T) {
	srv := newServer(t)
	full := identity.ResourceInfo{Size: size, ETag: etag, LastModified: lastModified}
	tests := []struct {
		path   string
		want   identity.ResourceInfo
		status int // expected *StatusError code, 0 for success
	}{
		{"/file", full, 0},
		{"/redirect", full, 0},
		{"/empty", identity.ResourceInfo{Size: 0, ETag: etag, LastModified: lastModified}, 0},
		{"/nohead", full, 0},   // 405 → GET bytes=0-0
		{"/signed", full, 0},   // 403 → GET bytes=0-0
		{"/nolength", full, 0}, // no length → GET bytes=0-0
		{"/nohead-empty", identity.ResourceInfo{Size: 0, ETag: etag, LastModified: lastModified}, 0}, // 501 → GET → 200
		{"/empty-416", identity.ResourceInfo{Size: 0}, 0},                                            // 405 → GET → 416 bytes */0
		{"/bogus-416", identity.ResourceInfo{}, http.StatusRequestedRangeNotSatisfiable},
		{"/ignore", full, 0},
		{"/missing", identity.ResourceInfo{}, http.StatusNotFound},
		{"/auth", identity.ResourceInfo{}, http.StatusForbidden}, // 403 on HEAD and GET
	}
	var c Client
	for _, tt := range tests {
		got, err := c.Stat(context.Background(), srv.URL+tt.path)
		if tt.status != 0 {
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.status || se.URL != srv.URL+tt.path {
				t.Errorf("Stat(%s) error = %v, want status %d", tt.path, err, tt.status)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Stat(%s) = %+v, %v, want %+v", tt.path, got, err, tt.want)
		}
	}

	// A 200 without any length cannot be sized.
	if _, err := c.Stat(context.Background(), srv.URL+"/ignore-chunked"); err == nil || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("Stat(/ignore-chunked) error = %v, want an error naming the URL", err)
	}
}

// fetchAll fetches [start, end) and reads the whole body.
func fetchAll(c *Client, url string, start, end int64) (identity.ResourceInfo, []byte, error, error) {
	info, rc, err := c.Fetch(context.Background(), url, start, end)
	if err != nil {
		return info, nil, err, nil
	}
	defer rc.Close()
	data, readErr := io.ReadAll(rc)
	return info, data, nil, readErr
}

func TestFetch(t *testing.T) {
	srv := newServer(t)
	full := identity.ResourceInfo{Size: size, ETag: etag, LastModified: lastModified}
	tests := []struct {
		name       string
		path       string
		start, end int64
		want       identity.ResourceInfo
		status     int  // expected *StatusError code
		fetchErr   bool // Fetch itself fails
		shortBody  bool // the body fails with io.ErrUnexpectedEOF
	}{
		{name: "range", path: "/file", start: 100, end: 612, want: full},
		{name: "first byte", path: "/file", start: 0, end: 1, want: full},
		{name: "last bytes", path: "/file", start: size - 10, end: size, want: full},
		{name: "whole", path: "/file", start: 0, end: size, want: full},
		{name: "redirect", path: "/redirect", start: 5, end: 50, want: full},
		{name: "origin ignores range", path: "/ignore", start: 1234, end: 5678, want: full},
		{name: "origin ignores range at end", path: "/ignore", start: 9000, end: size, want: full},
		{name: "longer body is cut", path: "/long", start: 10, end: 20, want: identity.ResourceInfo{Size: size, ETag: etag}},
		{name: "chunked short body", path: "/short", start: 10, end: 1010, shortBody: true},
		{name: "short body under Content-Length", path: "/short-length", start: 10, end: 1010, shortBody: true},
		{name: "closed mid-body", path: "/abort", start: 0, end: 4000, shortBody: true},
		{name: "closed while skipping", path: "/ignore-short", start: 500, end: 600, fetchErr: true},
		{name: "lying Content-Range", path: "/lie", start: 10, end: 20, fetchErr: true},
		{name: "unknown size", path: "/lie-size", start: 10, end: 20, fetchErr: true},
		{name: "malformed Content-Range", path: "/garbage-range", start: 0, end: 2, fetchErr: true},
		{name: "range past the end stops at the end", path: "/file", start: size - 10, end: size + 10, want: full},
		{name: "first bytes of a smaller resource", path: "/file", start: 0, end: 4 * size, want: full},
		{name: "ignored range past the end", path: "/ignore", start: size - 10, end: size + 10, want: full},
		{name: "ignored range without length", path: "/ignore-chunked", start: 0, end: 10, fetchErr: true},
		{name: "not found", path: "/missing", start: 0, end: 10, status: http.StatusNotFound},
		{name: "unsatisfiable", path: "/file", start: size, end: size + 10, status: http.StatusRequestedRangeNotSatisfiable},
		{name: "forbidden", path: "/auth", start: 0, end: 10, status: http.StatusForbidden},
		{name: "empty range", path: "/file", start: 10, end: 10, fetchErr: true},
		{name: "negative start", path: "/file", start: -1, end: 10, fetchErr: true},
	}
	c := &Client{HTTP: &http.Client{}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := srv.URL + tt.path
			info, data, err, readErr := fetchAll(c, url, tt.start, tt.end)
			switch {
			case tt.status != 0:
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tt.status || se.URL != url {
					t.Errorf("Fetch error = %v, want status %d", err, tt.status)
				}
			case tt.fetchErr:
				if err == nil || !strings.Contains(err.Error(), url) {
					t.Errorf("Fetch error = %v, want an error naming %s", err, url)
				}
			case err != nil:
				t.Errorf("Fetch error = %v", err)
			case tt.shortBody:
				if !errors.Is(readErr, io.ErrUnexpectedEOF) {
					t.Errorf("read error = %v, want io.ErrUnexpectedEOF", readErr)
				}
				if int64(len(data)) >= tt.end-tt.start || !bytes.Equal(data, content[tt.start:tt.start+int64(len(data))]) {
					t.Errorf("read %d bytes of %d, or wrong bytes", len(data), tt.end-tt.start)
				}
			default:
				if readErr != nil {
					t.Errorf("read error = %v", readErr)
				}
				if end := min(tt.end, size); !bytes.Equal(data, content[tt.start:end]) {
					t.Errorf("read %d bytes, want bytes [%d, %d)", len(data), tt.start, end)
				}
				if info != tt.want {
					t.Errorf("info = %+v, want %+v", info, tt.want)
				}
			}
		})
	}
}

func TestHeader(t *testing.T) {
	srv := newServer(t)
	c := &Client{Header: http.Header{"X-Token": {"secret"}, "Range": {"bytes=0-"}}}
	info, err := c.Stat(context.Background(), srv.URL+"/auth")
	if err != nil || info.Size != size {
		t.Fatalf("Stat with header = %+v, %v", info, err)
	}
	_, data, err, readErr := fetchAll(c, srv.URL+"/auth", 3, 9)
	if err != nil || readErr != nil || !bytes.Equal(data, content[3:9]) {
		t.Fatalf("Fetch with header = %v, %v, %d bytes", err, readErr, len(data))
	}
	if got := c.Header.Get("Accept-Encoding"); got != "" {
		t.Errorf("Client.Header modified: Accept-Encoding %q", got)
	}
}

func TestErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv := newServer(t)
	var c Client
	if _, err := c.Stat(ctx, srv.URL+"/file"); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("Stat with canceled context = %v", err)
	}
	if _, _, err := c.Fetch(ctx, srv.URL+"/file", 0, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with canceled context = %v", err)
	}

	// Canceling while the body is read fails the read; /stall sends 10
	// bytes and waits for the request to end.
	ctx, cancel = context.WithCancel(context.Background())
	_, rc, err := c.Fetch(ctx, srv.URL+"/stall", 0, size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel = %v, want context.Canceled", err)
	}
	rc.Close()

	if _, err := c.Stat(context.Background(), "://bad"); err == nil || !strings.Contains(err.Error(), "://bad") {
		t.Errorf("Stat(bad URL) = %v", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL + "/file"
	closed.Close()
	if _, err := c.Stat(context.Background(), url); err == nil || !strings.Contains(err.Error(), url) || strings.Count(err.Error(), url) != 1 {
		t.Errorf("Stat of a closed server = %v, want one mention of %s", err, url)
	}
	if _, _, err := c.Fetch(context.Background(), url, 0, 1); err == nil || !strings.Contains(err.Error(), url) {
		t.Errorf("Fetch of a closed server = %v", err)
	}

	se := &StatusError{URL: "http://127.0.0.1/x", Code: 404}
	if got := se.Error(); !strings.Contains(got, "404") || !strings.Contains(got, "http://127.0.0.1/x") {
		t.Errorf("StatusError.Error() = %q", got)
	}
}
