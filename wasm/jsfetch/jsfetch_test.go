//go:build js && wasm

// The tests run under Node.js (go_js_wasm_exec), whose fetch is the real
// Fetch API; the origin is a Node HTTP server on 127.0.0.1 driven from Go.
package jsfetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/wasm/jsfetch"
	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// reply is what the test origin answers.
type reply struct {
	status int
	header map[string]any
	body   []byte
	hang   bool // send the body, then never end the response
}

// nodeServer starts a Node HTTP server whose handler is fn, and returns its
// base URL. The handler runs in a JS callback: it must not block.
func nodeServer(t *testing.T, fn func(method, path, rangeHeader string) reply) string {
	t.Helper()
	req := js.Global().Get("require")
	if req.Type() != js.TypeFunction {
		t.Fatal("no require: run the tests with go_js_wasm_exec (Node.js)")
	}
	handler := js.FuncOf(func(_ js.Value, args []js.Value) any {
		rq, rs := args[0], args[1]
		rng := jsutil.String(rq.Get("headers"), "range", "")
		r := fn(rq.Get("method").String(), rq.Get("url").String(), rng)
		rs.Call("writeHead", r.status, r.header)
		if r.hang {
			rs.Call("write", jsutil.Uint8Array(r.body))
			return nil
		}
		rs.Call("end", jsutil.Uint8Array(r.body))
		return nil
	})
	srv := req.Invoke("http").Call("createServer", handler)
	listen := js.Global().Get("Function").New("srv",
		`return new Promise((r) => srv.listen(0, "127.0.0.1", () => r(srv.address().port)))`)
	port, err := jsutil.Await(context.Background(), listen.Invoke(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Call("closeAllConnections")
		srv.Call("close")
		handler.Release()
	})
	return "http://127.0.0.1:" + strconv.Itoa(port.Int())
}

const lastModified = "Tue, 02 Jan 2024 03:04:05 GMT"

var content = func() []byte {
	b := make([]byte, 1000)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// origin serves content under paths that each show one behaviour of real
// origins.
func origin(method, path, rangeHeader string) reply {
	size := len(content)
	full := reply{status: 200, header: map[string]any{
		"Content-Length": strconv.Itoa(size), "ETag": `"e1"`, "Last-Modified": lastModified,
	}, body: content}
	head := func(r reply) reply {
		if method == "HEAD" {
			r.body = nil
		}
		return r
	}
	// ranged answers bytes=a-b with 206 and a Content-Range.
	ranged := func(cr bool, short int) reply {
		var a, b int
		if _, err := fmt.Sscanf(rangeHeader, "bytes=%d-%d", &a, &b); err != nil || a > b || b >= size {
			return head(full)
		}
		h := map[string]any{"ETag": `"e1"`, "Last-Modified": lastModified}
		if cr {
			h["Content-Range"] = fmt.Sprintf("bytes %d-%d/%d", a, b, size)
		}
		body := content[a : b+1-short]
		if short == 0 {
			h["Content-Length"] = strconv.Itoa(len(body))
		}
		return reply{status: 206, header: h, body: body}
	}
	switch path {
	case "/ok":
		if method == "HEAD" {
			return head(full)
		}
		return ranged(true, 0)
	case "/norange": // ignores Range
		return head(full)
	case "/nohead": // refuses HEAD
		if method == "HEAD" {
			return reply{status: 405}
		}
		return ranged(true, 0)
	case "/gzip": // a HEAD length that is not the resource's
		if method == "HEAD" {
			return reply{status: 200, header: map[string]any{"Content-Length": "50", "Content-Encoding": "gzip"}}
		}
		return ranged(true, 0)
	case "/hidden": // Content-Range not exposed (as cross-origin without Access-Control-Expose-Headers)
		if method == "HEAD" {
			return head(full)
		}
		return ranged(false, 0)
	case "/short": // ends early
		return ranged(true, 10)
	case "/wrong": // answers another range
		return reply{status: 206, header: map[string]any{"Content-Range": fmt.Sprintf("bytes 0-9/%d", size)}, body: content[:10]}
	case "/hang": // starts the body and stalls
		return reply{status: 206, header: map[string]any{"Content-Range": fmt.Sprintf("bytes 0-%d/%d", size-1, size)}, body: content[:100], hang: true}
	}
	return reply{status: 404, body: []byte("not found")}
}

func TestStat(t *testing.T) {
	base := nodeServer(t, origin)
	want := identity.ResourceInfo{Size: int64(len(content)), ETag: `"e1"`, LastModified: lastModified}
	tests := []struct {
		path     string
		want     identity.ResourceInfo
		wantCode int // a *StatusError with this code
	}{
		{path: "/ok", want: want},
		{path: "/nohead", want: want},
		{path: "/gzip", want: want},
		{path: "/missing", wantCode: 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var f jsfetch.Fetcher
			got, err := f.Stat(context.Background(), base+tt.path)
			if tt.wantCode != 0 {
				var se *jsfetch.StatusError
				if !errors.As(err, &se) || se.Code != tt.wantCode {
					t.Fatalf("Stat = %+v, %v; want status %d", got, err, tt.wantCode)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Stat = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestFetch(t *testing.T) {
	base := nodeServer(t, origin)
	tests := []struct {
		path       string
		start, end int64
		stat       bool   // Stat first (the engine always does)
		wantErr    string // in the error of Fetch or of reading the body
	}{
		{path: "/ok", start: 0, end: 1000},
		{path: "/ok", start: 100, end: 612},
		{path: "/ok", start: 999, end: 1000},
		{path: "/norange", start: 300, end: 700},
		{path: "/norange", start: 0, end: 1001},
		{path: "/norange", start: 1000, end: 1200, wantErr: "1000-byte resource"},
		{path: "/ok", start: 0, end: 4096}, // first bytes of a resource of unknown size
		{path: "/hidden", start: 10, end: 20, stat: true},
		{path: "/hidden", start: 10, end: 20, wantErr: "Content-Range"},
		{path: "/short", start: 0, end: 500, wantErr: io.ErrUnexpectedEOF.Error()},
		{path: "/wrong", start: 100, end: 200, wantErr: "got Content-Range"},
		{path: "/missing", start: 0, end: 10, wantErr: "status 404"},
		{path: "/ok", start: 10, end: 10, wantErr: "invalid range"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s[%d,%d)stat=%v", tt.path, tt.start, tt.end, tt.stat), func(t *testing.T) {
			var f jsfetch.Fetcher
			ctx := context.Background()
			if tt.stat {
				if _, err := f.Stat(ctx, base+tt.path); err != nil {
					t.Fatal(err)
				}
			}
			info, body, err := f.Fetch(ctx, base+tt.path, tt.start, tt.end)
			var got []byte
			if err == nil {
				// Small reads cross chunk boundaries.
				got, err = io.ReadAll(struct{ io.Reader }{io.LimitReader(body, 1<<20)})
				body.Close()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Fetch = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != int64(len(content)) || info.LastModified != lastModified {
				t.Errorf("info = %+v", info)
			}
			if !bytes.Equal(got, content[tt.start:min(tt.end, int64(len(content)))]) {
				t.Errorf("body: %d bytes, want bytes [%d, %d)", len(got), tt.start, tt.end)
			}
		})
	}
}

func TestFetchSmallReads(t *testing.T) {
	base := nodeServer(t, origin)
	var f jsfetch.Fetcher
	_, body, err := f.Fetch(context.Background(), base+"/ok", 5, 905)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	var got []byte
	buf := make([]byte, 7)
	for {
		n, err := body.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, content[5:905]) {
		t.Fatalf("read %d bytes in 7-byte reads, want bytes [5, 905)", len(got))
	}
}

func TestFetchCancel(t *testing.T) {
	base := nodeServer(t, origin)
	var f jsfetch.Fetcher
	ctx, cancel := context.WithCancel(context.Background())
	_, body, err := f.Fetch(ctx, base+"/hang", 0, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	buf := make([]byte, len(content))
	n, err := io.ReadAtLeast(body, buf, 100)
	if err != nil || !bytes.Equal(buf[:n], content[:n]) {
		t.Fatalf("first bytes: %d, %v", n, err)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := io.ReadFull(body, buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("read of a stalled body after cancel = %v, want context.Canceled", err)
	}
	// A cancelled context fails at once.
	if _, _, err := f.Fetch(ctx, base+"/ok", 0, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with a cancelled context = %v", err)
	}
}
