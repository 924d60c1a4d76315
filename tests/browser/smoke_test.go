//go:build linux

package browser_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/internal/chrome"
	"github.com/p2pmedia/p2pmedia/internal/netns"
)

const (
	payloadSize = 8 << 20
	chunkSize   = 64 << 10
)

// mailbox is the test server's signaling endpoint: POST /signal/{key} stores
// a body once, GET /signal/{key} waits until it is there.
type mailbox struct {
	mu    sync.Mutex
	slots map[string]*slot
}

type slot struct {
	ready chan struct{}
	body  []byte
}

func (m *mailbox) slot(key string) *slot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.slots[key]
	if !ok {
		s = &slot{ready: make(chan struct{})}
		m.slots[key] = s
	}
	return s
}

func (m *mailbox) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s := m.slot(r.PathValue("key"))
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-s.ready:
		http.Error(w, "already posted", http.StatusConflict)
	default:
		s.body = body
		close(s.ready)
	}
}

func (m *mailbox) get(w http.ResponseWriter, r *http.Request) {
	s := m.slot(r.PathValue("key"))
	select {
	case <-s.ready:
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.body)
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
		http.Error(w, "nothing posted", http.StatusGatewayTimeout)
	}
}

// serve starts the test's HTTP server inside the namespace: the pages of
// testdata, the payload, and the signaling mailbox.
func serve(t *testing.T, n *netns.Net, payload []byte) *httptest.Server {
	t.Helper()
	l, err := n.Listen("tcp4", net.JoinHostPort(n.Addr(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	mb := &mailbox{slots: make(map[string]*slot)}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(os.DirFS("testdata")))
	mux.HandleFunc("GET /payload", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Write(payload)
	})
	mux.HandleFunc("POST /signal/{key...}", mb.post)
	mux.HandleFunc("GET /signal/{key...}", mb.get)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// setupNet makes the test's namespaces and tears them down at the end, also
// when the test fails.
func setupNet(t *testing.T, name string) *netns.Net {
	t.Helper()
	n, err := netns.Setup(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// sendReport and recvReport are what rawdc.send and rawdc.receive resolve
// with.
type recvReport struct {
	Received   int      `json:"received"`
	Messages   int      `json:"messages"`
	SHA256     string   `json:"sha256"`
	Seconds    float64  `json:"seconds"`
	Candidates []string `json:"candidates"`
}

type sendReport struct {
	Sent       int        `json:"sent"`
	Messages   int        `json:"messages"`
	SHA256     string     `json:"sha256"`
	Seconds    float64    `json:"seconds"`
	Candidates []string   `json:"candidates"`
	Receiver   recvReport `json:"receiver"`
}

// call evaluates rawdc.<fn>(args) in the page and decodes what its promise
// resolves with.
func call[T any](ctx context.Context, fn string, args any) (T, error) {
	js, err := json.Marshal(args)
	if err != nil {
		var zero T
		return zero, err
	}
	return chromedp.Run(ctx, chromedp.Evaluate[T](fmt.Sprintf("rawdc.%s(%s)", fn, js), chromedp.EvalAwaitPromise))
}

// checkCandidates asserts that the host candidates of an SDP carry only the
// namespace's address (or an IPv6 link-local one of its interface), and no
// mDNS name.
func checkCandidates(t *testing.T, who string, cands []string, addr string) {
	t.Helper()
	if len(cands) == 0 {
		t.Errorf("%s gathered no ICE candidates", who)
	}
	for _, c := range cands {
		f := strings.Fields(c) // candidate:<foundation> <component> <proto> <prio> <addr> <port> typ <type>
		if len(f) < 8 {
			t.Errorf("%s: malformed candidate %q", who, c)
			continue
		}
		if f[4] != addr && !strings.HasPrefix(f[4], "fe80:") {
			t.Errorf("%s: candidate address %s outside the namespace: %q", who, f[4], c)
		}
		if f[7] != "host" {
			t.Errorf("%s: candidate of type %s with empty ICE servers: %q", who, f[7], c)
		}
	}
}

// nsInode returns the inode number that identifies the namespace bound at
// path.
func nsInode(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("no inode for %s", path)
	}
	return st.Ino, nil
}

// processesOutside counts the processes of the browser's process group that
// are in the namespace n, and lists those that are not.
func processesOutside(t *testing.T, n *netns.Net, pgid int) (inside int, outside []string) {
	t.Helper()
	want, err := nsInode(filepath.Join("/run/netns", n.Name()))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the parenthesized command: state ppid pgrp ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			continue
		}
		if link == fmt.Sprintf("net:[%d]", want) {
			inside++
		} else {
			outside = append(outside, fmt.Sprintf("pid %d in %s", pid, link))
		}
	}
	return inside, outside
}

func TestRawDataChannelBetweenBrowserContexts(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	payload := make([]byte, payloadSize)
	rand.NewChaCha8([32]byte{'p', '2', 'p', 't'}).Read(payload)
	sum := sha256.Sum256(payload)
	wantSum := hex.EncodeToString(sum[:])

	n := setupNet(t, "p2pt-smoke")
	srv := serve(t, n, payload)

	b, err := chrome.Launch(ctx, n, chrome.Options{
		SecureOrigins: []string{srv.URL},
		Logf:          t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})

	pages := map[string]context.Context{}
	for _, label := range []string{"A", "B"} {
		page, closePage, err := b.NewContext(label)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closePage)
		pages[label] = page
		nctx, ncancel := context.WithTimeout(page, 20*time.Second)
		err = chromedp.Do(nctx, chromedp.Navigate(srv.URL+"/rawdc.html"))
		ncancel()
		if err != nil {
			t.Fatalf("page %s: navigating: %v", label, err)
		}
		secure, err := chromedp.Run(page, chromedp.Evaluate[bool]("window.isSecureContext"))
		if err != nil || !secure {
			t.Fatalf("page %s: isSecureContext = %v, %v; want true", label, secure, err)
		}
	}
	idA := chromedp.FromContext(pages["A"]).BrowserContextID
	idB := chromedp.FromContext(pages["B"]).BrowserContextID
	if idA == "" || idA == idB {
		t.Fatalf("pages share a browser context: %q and %q", idA, idB)
	}

	inside, outside := processesOutside(t, n, b.Pid())
	if inside == 0 || len(outside) > 0 {
		t.Fatalf("browser processes: %d inside the namespace, outside: %v", inside, outside)
	}

	signal := "/signal/rawdc-1"
	var (
		wg     sync.WaitGroup
		sent   sendReport
		recv   recvReport
		errA   error
		errB   error
		runCtx = func(page context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(page, 45*time.Second)
		}
	)
	wg.Go(func() {
		c, cancel := runCtx(pages["B"])
		defer cancel()
		recv, errB = call[recvReport](c, "receive", map[string]any{"signal": signal, "total": payloadSize})
	})
	wg.Go(func() {
		c, cancel := runCtx(pages["A"])
		defer cancel()
		sent, errA = call[sendReport](c, "send", map[string]any{"signal": signal, "payload": "/payload", "chunk": chunkSize})
	})
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("sender: %v; receiver: %v", errA, errB)
	}

	if sent.Sent != payloadSize || sent.SHA256 != wantSum {
		t.Errorf("sender sent %d bytes with SHA-256 %s, want %d and %s", sent.Sent, sent.SHA256, payloadSize, wantSum)
	}
	if recv.Received != payloadSize || recv.SHA256 != wantSum {
		t.Errorf("receiver got %d bytes with SHA-256 %s, want %d and %s", recv.Received, recv.SHA256, payloadSize, wantSum)
	}
	if want := payloadSize / chunkSize; recv.Messages != want || sent.Messages != want {
		t.Errorf("messages: sent %d, received %d, want %d", sent.Messages, recv.Messages, want)
	}
	if sent.Receiver.SHA256 != recv.SHA256 {
		t.Errorf("the sender saw the receiver's hash as %s, the receiver reported %s", sent.Receiver.SHA256, recv.SHA256)
	}
	checkCandidates(t, "sender", sent.Candidates, n.Addr())
	checkCandidates(t, "receiver", recv.Candidates, n.Addr())

	const mib = 1 << 20
	t.Logf("raw RTCDataChannel, %d MiB in %d KiB messages: %.1f MiB/s at the receiver (first to last message, %.3f s), %.1f MiB/s at the sender (first send to acknowledgement)",
		payloadSize/mib, chunkSize>>10, float64(payloadSize)/mib/recv.Seconds, recv.Seconds, float64(payloadSize)/mib/sent.Seconds)
	t.Logf("candidates: sender %q, receiver %q", sent.Candidates, recv.Candidates)
	t.Logf("test time so far: %v", time.Since(start).Round(time.Millisecond))
}
