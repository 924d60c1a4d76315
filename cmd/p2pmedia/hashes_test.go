package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// verifyList checks that doc is a hash list of data in pieces of l.
func verifyList(t *testing.T, doc, data []byte, l int64) *piecehash.List {
	t.Helper()
	list, err := piecehash.Decode(doc)
	if err != nil {
		t.Fatalf("Decode: %v\n%s", err, doc)
	}
	if list.Size != int64(len(data)) || list.Start != 0 || list.End != int64(len(data)) || list.PieceLength != l {
		t.Fatalf("list of %d bytes [%d, %d) in %d, want %d in %d", list.Size, list.Start, list.End, list.PieceLength, len(data), l)
	}
	for i := range list.Pieces {
		s, e, _ := list.PieceRange(i)
		if err := list.Verify(i, data[s:e]); err != nil {
			t.Errorf("piece %d: %v", i, err)
		}
	}
	return list
}

func mediaBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/301)
	}
	return b
}

func TestHashCommand(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"a.mp4":         mediaBytes(40*1024 + 3),
		"sub/b c.ts":    mediaBytes(5000),
		"sub/empty.m4s": {},
		".hidden/c.mp4": mediaBytes(10),
		"notes.txt":     []byte("not media"),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"hash", "--piece-length", "16384", dir, "--base-url", "https://cdn.example/v/"}, &stdout, &stderr); code != 0 {
		t.Fatalf("hash DIR: exit %d: %s", code, stderr.String())
	}
	for name, wantURL := range map[string]string{"a.mp4": "https://cdn.example/v/a.mp4", "sub/b c.ts": "https://cdn.example/v/sub/b%20c.ts", "sub/empty.m4s": "https://cdn.example/v/sub/empty.m4s"} {
		doc, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)) + hashListSuffix)
		if err != nil {
			t.Fatal(err)
		}
		if l := verifyList(t, doc, files[name], 16384); l.URL != wantURL || l.ETag != "" || l.LastModified != "" {
			t.Errorf("%s: url %q etag %q lastModified %q, want url %q and no validators", name, l.URL, l.ETag, l.LastModified, wantURL)
		}
	}
	for _, name := range []string{".hidden/c.mp4", "notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)) + hashListSuffix); err == nil {
			t.Errorf("%s got a hash list", name)
		}
	}
	if n := strings.Count(stdout.String(), "\n"); n != 3 {
		t.Errorf("printed %d lines, want 3: %q", n, stdout.String())
	}

	// One FILE, default piece length, no base URL: the url is the file's
	// name, relative to the list beside it. The pieces are those the service
	// answers for the same file.
	file := filepath.Join(dir, "a.mp4")
	if code := run(context.Background(), []string{"hash", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("hash FILE: exit %d: %s", code, stderr.String())
	}
	doc, _ := os.ReadFile(file + hashListSuffix)
	l := verifyList(t, doc, files["a.mp4"], defaultPieceLength)
	if l.URL != "a.mp4" {
		t.Errorf("url %q, want a.mp4", l.URL)
	}
	o := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer o.Close()
	svc := startHashes(t, "--allow", o.URL)
	resp, body := get(t, svc+"?pieceLength=524288&url="+url.QueryEscape(o.URL+"/a.mp4"), nil)
	answer := verifyList(t, body, files["a.mp4"], defaultPieceLength)
	if resp.StatusCode != 200 || len(answer.Pieces) != len(l.Pieces) || answer.Pieces[0] != l.Pieces[0] || answer.Pieces[len(l.Pieces)-1] != l.Pieces[len(l.Pieces)-1] {
		t.Errorf("service and hash differ: %s / %s", body, doc)
	}
}

var hashesURLLine = regexp.MustCompile(`^hashes: (http://127\.0\.0\.1:\d+/v1/pieces)$`)

// startHashes runs "p2pmedia hashes" on a free port with flags and returns
// the URL of its endpoint; it stops when the test ends and must exit 0.
func startHashes(t *testing.T, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"hashes", "--listen", "127.0.0.1:0"}, flags...), pw, &stderr)
		_ = pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		cancel()
		t.Fatalf("hashes printed nothing (exit %d): %s", <-done, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := hashesURLLine.FindStringSubmatch(lines.Text())
	if m == nil {
		cancel()
		t.Fatalf("hashes printed %q", lines.Text())
	}
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("hashes exit status %d, want 0; stderr: %s", code, stderr.String())
			}
		case <-time.After(hangGuard):
			t.Error("hashes did not stop")
		}
	})
	return m[1]
}

func TestHashesCommand(t *testing.T) {
	data := mediaBytes(100 * 1024)
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "m.mp4", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), bytes.NewReader(data))
	}))
	defer o.Close()
	svc := startHashes(t, "--allow", "cdn.example.com, "+o.URL, "--max-size", "50000", "--cache-ttl", "1m")
	q := "?pieceLength=16384&url=" + url.QueryEscape(o.URL+"/m.mp4")
	resp, body := get(t, svc+q+"&start=1000&end=40000", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=60" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("range: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	l, err := piecehash.Decode(body)
	if err != nil || l.Start != 1000 || l.End != 40000 || l.Verify(0, data[1000:1000+16384]) != nil {
		t.Errorf("range answer %s: %v", body, err)
	}
	if resp, body := get(t, svc+q, nil); resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(body, []byte(`"error":`)) {
		t.Errorf("past --max-size: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, svc+"?pieceLength=16384&url="+url.QueryEscape("http://127.0.0.1:1/m.mp4"), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("origin outside --allow: %d", resp.StatusCode)
	}
}

func TestHashUsageErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args    []string
		code    int
		message string
	}{
		{[]string{"hash"}, 2, "name a media FILE or a DIR"},
		{[]string{"hash", dir, dir}, 2, "unexpected argument"},
		{[]string{"hash", "--piece-length", "1000", dir}, 2, "-piece-length 1000: must be a positive multiple of 16384"},
		{[]string{"hash", "--base-url", "cdn.example.com", dir}, 2, "want an absolute http(s) URL"},
		{[]string{"hash", filepath.Join(dir, "none.mp4")}, 1, "no such file"},
		{[]string{"hash", dir}, 1, "no media file under"},
		{[]string{"hashes"}, 2, "-allow: name the origins"},
		{[]string{"hashes", "--allow", "*"}, 2, "origin pattern"},
		{[]string{"hashes", "--allow", "cdn.example.com", "--max-size", "0"}, 2, "-max-size 0: must be at least 1"},
		{[]string{"hashes", "--allow", "cdn.example.com", "--timeout", "0s"}, 2, "-timeout 0s: must be positive"},
		{[]string{"hashes", "--allow", "cdn.example.com", "--listen", "127.0.0.1"}, 2, "want host:port"},
		{[]string{"hashes", "--allow", "cdn.example.com", "now"}, 2, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.message) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.message)
		}
	}
}

func TestDemoHashes(t *testing.T) {
	base := startDemo(t, fakeDist(t))
	data, err := os.ReadFile(filepath.Join(examplesDir, "media", "sample.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	svc := base + demoHashesPrefix + "/v1/pieces?pieceLength=524288&url="
	// The demo's own media, by the address the page used, another name of
	// the same origin, or the port of a proxy in front of the demo: each is
	// fetched from the demo itself.
	for _, media := range []string{base + "/media/sample.mp4", "http://localhost:" + u.Port() + "/media/sample.mp4", "http://127.0.0.1:1/media/sample.mp4"} {
		resp, body := get(t, svc+url.QueryEscape(media), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", media, resp.StatusCode, body)
		}
		if l := verifyList(t, body, data, 524288); l.URL != media || l.ETag == "" {
			t.Errorf("%s: url %q etag %q", media, l.URL, l.ETag)
		}
	}
	// A live segment, as the live stream's playlists name it.
	seg := base + "/live/master.m3u8"
	for range 2 {
		seg = firstURI(t, seg)
	}
	resp, segment := get(t, seg, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("live segment %s: %d", seg, resp.StatusCode)
	}
	if resp, body := get(t, svc+url.QueryEscape(seg), nil); resp.StatusCode != 200 {
		t.Errorf("live segment %s: %d %s", seg, resp.StatusCode, body)
	} else {
		verifyList(t, body, segment, 524288)
	}
	for _, bad := range []string{"https://" + u.Host + "/media/sample.mp4", "https://cdn.example.com/media/sample.mp4"} {
		if resp, body := get(t, svc+url.QueryEscape(bad), nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", bad, resp.StatusCode, body)
		}
	}
	if resp, body := get(t, svc+url.QueryEscape(base+"/media/none.mp4"), nil); resp.StatusCode != http.StatusBadGateway || !bytes.Contains(body, []byte(`"originStatus":404`)) {
		t.Errorf("missing media: %d %s", resp.StatusCode, body)
	}
}

// firstURI returns the first URI line of the playlist at u, resolved.
func firstURI(t *testing.T, u string) string {
	t.Helper()
	resp, body := get(t, u, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", u, resp.StatusCode)
	}
	for line := range strings.Lines(string(body)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			base, _ := url.Parse(u)
			ref, err := base.Parse(line)
			if err != nil {
				t.Fatal(err)
			}
			return ref.String()
		}
	}
	t.Fatalf("%s names no URI:\n%s", u, body)
	return ""
}
