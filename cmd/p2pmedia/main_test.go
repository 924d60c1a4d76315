package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/tracker"
)

// hangGuard turns a hang into a failure; nothing here is timed.
const hangGuard = 20 * time.Second

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no command", nil, 2, "Usage: p2pmedia <command>"},
		{"unknown command", []string{"serve"}, 2, `unknown command "serve"`},
		{"unknown flag", []string{"tracker", "--port", "8000"}, 2, "flag provided but not defined: -port"},
		{"extra argument", []string{"tracker", "now"}, 2, `unexpected argument "now"`},
		{"listen without port", []string{"tracker", "--listen", "127.0.0.1"}, 2, "want host:port"},
		{"listen with bad port", []string{"tracker", "--listen", "127.0.0.1:http"}, 2, "is not a number"},
		{"listen with port out of range", []string{"tracker", "--listen", "127.0.0.1:70000"}, 2, "is not a number from 0 to 65535"},
		{"listen with bad host", []string{"tracker", "--listen", "a b:80"}, 2, "not an IP address or host name"},
		{"short interval", []string{"tracker", "--interval", "500ms"}, 2, "at least 1s"},
		{"bad interval", []string{"tracker", "--interval", "soon"}, 2, "invalid value"},
		{"peer timeout below interval", []string{"tracker", "--interval", "2m", "--peer-timeout", "1m"}, 2, "longer than -interval"},
		{"negative peer timeout", []string{"tracker", "--peer-timeout", "-1s"}, 2, "must not be negative"},
		{"zero max conns", []string{"tracker", "--max-conns", "0"}, 2, "at least 1"},
		{"zero max swarms", []string{"tracker", "--max-swarms-per-conn", "0"}, 2, "at least 1"},
		{"too many offers", []string{"tracker", "--max-offers", "21"}, 2, "between 1 and 20"},
		{"zero max conns per ip", []string{"tracker", "--max-conns-per-ip", "0"}, 2, "at least 1"},
		{"zero announce rate", []string{"tracker", "--announce-rate", "0"}, 2, "positive number"},
		{"infinite announce rate", []string{"tracker", "--announce-rate", "+Inf"}, 2, "positive number"},
		{"NaN announce rate", []string{"tracker", "--announce-rate", "NaN"}, 2, "positive number"},
		{"zero announce burst", []string{"tracker", "--announce-burst", "0"}, 2, "at least 1"},
		{"bad log level", []string{"tracker", "--log-level", "loud"}, 2, "want debug, info"},
		{"bad log format", []string{"tracker", "--log-format", "xml"}, 2, "want text or json"},
		{"port in use", []string{"tracker", "--listen", "127.0.0.1:PORT"}, 1, "listen on 127.0.0.1:"},
	}
	busy := busyPort(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "PORT", busy)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.message) {
				t.Fatalf("run(%q) = %d, stderr %q; want %d and %q", args, code, stderr.String(), tt.code, tt.message)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// busyPort returns the port of a listener held open for the test.
func busyPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestRunHelp(t *testing.T) {
	tests := []struct {
		args []string
		out  func(stdout, stderr string) string
		want string
	}{
		{[]string{"help"}, func(o, _ string) string { return o }, "tracker"},
		{[]string{"--help"}, func(o, _ string) string { return o }, "tracker"},
		{[]string{"tracker", "-h"}, func(_, e string) string { return e }, "-listen"},
		{[]string{"tracker", "-h"}, func(_, e string) string { return e }, "-max-conns-per-ip"},
		{[]string{"tracker", "-h"}, func(_, e string) string { return e }, "-announce-rate"},
		{[]string{"tracker", "-h"}, func(_, e string) string { return e }, "-announce-burst"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, want 0", tt.args, code)
		}
		if got := tt.out(stdout.String(), stderr.String()); !strings.Contains(got, tt.want) {
			t.Fatalf("run(%q) printed %q, want %q", tt.args, got, tt.want)
		}
	}
}

var urlLine = regexp.MustCompile(`^tracker: (ws://127\.0\.0\.1:\d+/) \(stats: (http://127\.0\.0\.1:\d+/stats)\)$`)

// startTracker runs "p2pmedia tracker" through start and returns the
// WebSocket and stats URLs it prints, and its exit status channel.
func startTracker(t *testing.T, start func(args []string, stdout, stderr io.Writer) int) (wsURL, statsURL string, exited <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var logs lockedBuffer
	go func() {
		code := start([]string{"tracker", "--listen", "127.0.0.1:0", "--log-level", "debug", "--interval", "30s"}, pw, &logs)
		_ = pw.Close()
		done <- code
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tracker logs:\n%s", logs.String())
		}
	})
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("tracker printed nothing (exit %d): %s", <-done, logs.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := urlLine.FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("tracker printed %q", lines.Text())
	}
	return m[1], m[2], done
}

// useTracker announces to the tracker and checks /stats.
func useTracker(t *testing.T, wsURL, statsURL string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	ih, pid := trackermsg.ID{1}, trackermsg.ID{2}
	b, err := trackermsg.Encode(&trackermsg.Message{Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &pid, Event: trackermsg.EventStarted})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	_, b, err = ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := trackermsg.Decode(b)
	if err != nil || m.Kind() != trackermsg.KindAnnounceResponse || *m.Interval != 30 || *m.Incomplete != 1 {
		t.Fatalf("announce answered with %s (%v)", b, err)
	}

	resp, err := http.Get(statsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st tracker.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Peers != 1 || st.Connections != 1 {
		t.Fatalf("/stats = %+v (%v)", st, err)
	}
	return ws
}

// goingAway reports, on the returned channel, how the tracker ended ws: nil
// for a close with status 1001 (going away).
func goingAway(ws *websocket.Conn) <-chan error {
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		_, _, err := ws.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusGoingAway {
			res <- fmt.Errorf("client saw %v, want close status %d", err, websocket.StatusGoingAway)
			return
		}
		res <- nil
	}()
	return res
}

func TestTrackerCommandStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wsURL, statsURL, exited := startTracker(t, func(args []string, stdout, stderr io.Writer) int {
		return run(ctx, args, stdout, stderr)
	})
	ws := useTracker(t, wsURL, statsURL)
	closed := goingAway(ws)
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit status %d, want 0", code)
		}
	case <-time.After(hangGuard):
		t.Fatal("tracker did not stop")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(statsURL); err == nil {
		t.Fatal("tracker still serving after shutdown")
	}
}

// TestTrackerLimitFlags checks that the per-address cap and the announce
// burst given as flags reach the tracker.
func TestTrackerLimitFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wsURL, statsURL, exited := startTracker(t, func(args []string, stdout, stderr io.Writer) int {
		return run(ctx, append(args, "--max-conns-per-ip", "1", "--announce-burst", "1", "--announce-rate", "0.001"), stdout, stderr)
	})
	ws := useTracker(t, wsURL, statsURL) // its one announce takes the burst
	dctx, dcancel := context.WithTimeout(context.Background(), hangGuard)
	defer dcancel()
	if c, _, err := websocket.Dial(dctx, wsURL, nil); err == nil {
		_ = c.CloseNow()
		t.Fatal("second connection from one address accepted with -max-conns-per-ip 1")
	} else if !strings.Contains(err.Error(), "429") {
		t.Fatalf("second connection: %v, want HTTP 429", err)
	}
	ih, pid := trackermsg.ID{1}, trackermsg.ID{2}
	b, err := trackermsg.Encode(&trackermsg.Message{Action: trackermsg.ActionAnnounce, InfoHash: &ih, PeerID: &pid})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(dctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	if _, b, err = ws.Read(dctx); err != nil {
		t.Fatal(err)
	}
	if m, err := trackermsg.Decode(b); err != nil || !strings.Contains(m.FailureReason, "too fast") {
		t.Fatalf("second announce answered with %s (%v), want a failure reason", b, err)
	}
	cancel()
	if code := <-exited; code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
}

func TestTrackerCommandStopsOnSIGTERM(t *testing.T) {
	wsURL, statsURL, exited := startTracker(t, runWithSignals)
	ws := useTracker(t, wsURL, statsURL)
	closed := goingAway(ws)
	// runWithSignals has registered for SIGTERM before printing the URL, so
	// the signal reaches it instead of ending the test binary.
	p, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal: %v", err)
	}
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit status %d, want 0", code)
		}
	case <-time.After(hangGuard):
		t.Fatal("tracker did not stop on SIGTERM")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
