// Package bttracker runs bittorrent-tracker, the WebTorrent project's tracker
// from npm, as a real third-party WebSocket tracker on 127.0.0.1 for tests.
//
// The tracker lives in tests/interop (package.json pins its version,
// package-lock.json its dependencies, bt-tracker.mjs starts it). Start
// installs it there with npm the first time, so tests need node and npm.
package bttracker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for the tracker's LISTENING line.
	startTimeout = 30 * time.Second
	// installTimeout bounds npm's install of the tracker.
	installTimeout = 5 * time.Minute
	// stopTimeout bounds the wait for the tracker to exit once its stdin
	// is closed; it is killed after that.
	stopTimeout = 10 * time.Second
)

// Start runs a fresh bittorrent-tracker listening for WebSocket connections on
// an ephemeral port of 127.0.0.1 and returns its ws:// URL. The tracker stops
// when the test ends. Start fails the test when node or npm is missing or the
// tracker does not start.
func Start(t testing.TB) (wsURL string) {
	t.Helper()
	dir, err := interopDir()
	if err != nil {
		t.Fatalf("bttracker: %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("bttracker: node (Node.js) is needed to run bittorrent-tracker but was not found in PATH: %v", err)
	}
	if err := ensureInstalled(dir); err != nil {
		t.Fatalf("bttracker: %v", err)
	}

	cmd := exec.Command(node, filepath.Join(dir, "bt-tracker.mjs"))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("bttracker: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("bttracker: %v", err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("bttracker: start node: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	stop := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-exited
		}
	}

	ports := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "LISTENING "); ok {
				if port, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
					ports <- port
					break
				}
			}
		}
		// Keep draining so the tracker never blocks on a full pipe.
		io.Copy(io.Discard, stdout)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case port := <-ports:
		t.Cleanup(func() {
			stop()
			if t.Failed() && stderr.Len() > 0 {
				t.Logf("bittorrent-tracker stderr:\n%s", stderr.String())
			}
		})
		return fmt.Sprintf("ws://127.0.0.1:%d", port)
	case err := <-exited:
		exited <- err // for stop
		stop()
		t.Fatalf("bttracker: tracker exited before listening (%v); stderr:\n%s", err, stderr.String())
	case <-timer.C:
		stop()
		t.Fatalf("bttracker: tracker did not print LISTENING within %v; stderr:\n%s", startTimeout, stderr.String())
	}
	return ""
}

// interopDir returns the tests/interop directory, the parent of this
// package's source directory.
func interopDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the package's source file")
	}
	dir := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(dir, "bt-tracker.mjs")); err != nil {
		return "", fmt.Errorf("tests/interop not found next to the package source: %w", err)
	}
	return dir, nil
}

// ensureInstalled installs the npm dependencies of dir unless they are there.
// It installs into a staging directory and renames it into place, so test
// binaries of several packages starting at once never see a half-installed
// node_modules.
func ensureInstalled(dir string) error {
	want := filepath.Join(dir, "node_modules", "bittorrent-tracker", "package.json")
	if _, err := os.Stat(want); err == nil {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is needed to install bittorrent-tracker into %s but was not found in PATH: %w", dir, err)
	}
	staging, err := os.MkdirTemp(dir, ".npm-staging-")
	if err != nil {
		return fmt.Errorf("install bittorrent-tracker: %w", err)
	}
	defer os.RemoveAll(staging)
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("install bittorrent-tracker: %w", err)
		}
		if err := os.WriteFile(filepath.Join(staging, name), b, 0o644); err != nil {
			return fmt.Errorf("install bittorrent-tracker: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	// npm ci installs exactly what package-lock.json records. Install
	// scripts stay off: bittorrent-tracker's optional WebRTC native module
	// cannot build offline, and the server does not need it.
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = staging
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	if err := os.Rename(filepath.Join(staging, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		// Another test binary may have won the race: fine if it is there.
		if _, statErr := os.Stat(want); statErr == nil {
			return nil
		}
		return fmt.Errorf("install bittorrent-tracker: %w", err)
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
