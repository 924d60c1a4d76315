package manifest

import (
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mediaDir holds the committed sample streams.
const mediaDir = "../../examples/media"

// cdn is where the tests pretend the samples are served from.
const cdn = "https://cdn.example.com/media/"

// fixedNow is the wall clock of tests that do not care about it.
var fixedNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// testProxy maps a URL to the proxied form of docs/browser-runtime.md.
func testProxy(abs string) string {
	u, err := url.Parse(abs)
	if err != nil || u.Host == "" || u.Host == "." || u.Host == ".." || (u.Scheme != "http" && u.Scheme != "https") {
		return "" // a dot host would read as a dot segment of the proxied path
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	s := "https://site.test/app/__p2pmedia__/" + u.Scheme + "/" + u.Host + p
	if u.RawQuery != "" || u.ForceQuery {
		s += "?" + u.RawQuery
	}
	return s
}

func readSample(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mediaDir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// localPath maps a sample's cdn URL back to the file on disk.
func localPath(t testing.TB, u string) string {
	t.Helper()
	rel, ok := strings.CutPrefix(u, cdn)
	if !ok {
		t.Fatalf("URL %s is not under %s", u, cdn)
	}
	return filepath.Join(mediaDir, filepath.FromSlash(rel))
}

func mustParse(t testing.TB, text, manifestURL string) *Manifest {
	t.Helper()
	m, err := ParseAt([]byte(text), manifestURL, fixedNow)
	if err != nil {
		t.Fatalf("ParseAt: %v\n%s", err, text)
	}
	return m
}

func sec(f float64) time.Duration { return time.Duration(math.Round(f * float64(time.Second))) }
