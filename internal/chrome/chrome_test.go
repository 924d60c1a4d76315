//go:build linux

package chrome_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/internal/chrome"
	"github.com/p2pmedia/p2pmedia/internal/netns"
)

// logRecorder keeps the lines that Launch logs and passes them on to t.
type logRecorder struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	r.t.Log(line)
}

func (r *logRecorder) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func TestLaunchRefusesReservedFlags(t *testing.T) {
	for _, flag := range []string{
		"--disable-features=Foo",
		"--user-data-dir=/tmp/x",
		"--remote-debugging-port=9222",
		"--host-resolver-rules=MAP * 1.2.3.4",
		"--unsafely-treat-insecure-origin-as-secure=http://x",
	} {
		// The flags are checked before anything starts, so no namespace is
		// needed.
		if b, err := chrome.Launch(t.Context(), nil, chrome.Options{Flags: []string{flag}}); err == nil {
			b.Close()
			t.Errorf("Launch with %q succeeded, want an error", flag)
		}
	}
}

func TestBrowserContextsAreSeparate(t *testing.T) {
	n, err := netns.Setup("p2pt-chrome")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	// On 127.0.0.1 inside the namespace: a secure context without flags.
	l, err := n.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><link rel="icon" href="data:,"><script>console.log("hello from", location.pathname)</script>`)
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)

	rec := &logRecorder{t: t}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b, err := chrome.Launch(ctx, n, chrome.Options{Logf: rec.logf})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			b.Close()
		}
	})

	var pages []context.Context
	for _, label := range []string{"one", "two"} {
		page, closePage, err := b.NewContext(label)
		if err != nil {
			t.Fatal(err)
		}
		defer closePage()
		pages = append(pages, page)
		nctx, ncancel := context.WithTimeout(page, 20*time.Second)
		err = chromedp.Do(nctx, chromedp.Navigate(srv.URL+"/"+label))
		ncancel()
		if err != nil {
			t.Fatalf("navigating page %s: %v", label, err)
		}
	}

	// Storage set in one context is not visible in the other, although the
	// origin is the same.
	if err := chromedp.Do(pages[0], chromedp.Evaluate[chromedp.Void](`localStorage.setItem("k", "v")`)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		page int
		want string
	}{
		{0, "v"},
		{1, ""},
	}
	for _, tt := range tests {
		got, err := chromedp.Run(pages[tt.page], chromedp.Evaluate[string](`localStorage.getItem("k") ?? ""`))
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("page %d: localStorage k = %q, want %q", tt.page, got, tt.want)
		}
	}

	// Console messages reach the log, prefixed with the page's label.
	deadline := time.Now().Add(5 * time.Second)
	for !(rec.has("one: console log: hello from /one") && rec.has("two: console log: hello from /two")) {
		if time.Now().After(deadline) {
			t.Fatal("console messages of the pages did not reach Logf")
		}
		time.Sleep(20 * time.Millisecond)
	}

	pid := b.Pid()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Nothing of the process group runs any more (zombies that init has not
	// reaped yet are dead).
	if live := liveInGroup(t, pid); len(live) > 0 {
		t.Errorf("processes of group %d still running after Close: %v", pid, live)
	}
	// Nor does anything else in the namespace (the crash handlers run in
	// sessions of their own).
	if live := liveInNamespace(t, n); len(live) > 0 {
		t.Errorf("processes still running in %s after Close: %v", n.Name(), live)
	}
	if _, _, err := b.NewContext("late"); err == nil {
		t.Error("NewContext after Close succeeded")
	}
}

// liveInNamespace lists the processes in n that are not zombies.
func liveInNamespace(t *testing.T, n *netns.Net) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", n.Name()).Output()
	if err != nil {
		t.Fatalf("ip netns pids: %v", err)
	}
	var live []string
	for _, pid := range strings.Fields(string(out)) {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 0 && f[0] != "Z" && f[0] != "X" {
			live = append(live, pid+" "+f[0])
		}
	}
	return live
}

// liveInGroup lists the processes of process group pgid that are not zombies.
func liveInGroup(t *testing.T, pgid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// After the parenthesized command: state ppid pgrp ...
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			live = append(live, e.Name()+" "+f[0])
		}
	}
	return live
}
