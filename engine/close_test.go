//go:build !js

package engine_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/origin"
	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/engine/rtc/rtctest"
	"github.com/p2pmedia/p2pmedia/engine/store"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
	"github.com/p2pmedia/p2pmedia/tracker"
)

// hangingOrigin is an origin whose GETs never answer: each signals started
// and then waits for the client to give up (or the test to end).
func hangingOrigin(t *testing.T, started chan<- struct{}) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL + "/media.bin"
}

// TestCloseReleasesGoroutines runs three connected engines, closes them and
// checks that the goroutines they started are gone.
func TestCloseReleasesGoroutines(t *testing.T) {
	const n = 3
	data := swarmtest.Media(4 * pieceLen)
	url := swarmtest.Origin(t, data)
	announce := swarmtest.Tracker(t)
	apis := make([]*webrtc.API, n)
	for i := range apis {
		apis[i] = rtctest.LoopbackAPI(t)
	}
	tr := &http.Transport{}
	fetcher := &origin.Client{HTTP: &http.Client{Transport: tr}}

	base := runtime.NumGoroutine()
	engines := make([]*engine.Engine, n)
	for i := range engines {
		e, err := engine.New(engine.Config{
			Fetcher: fetcher, Store: store.NewMemory(64 << 20), PieceLength: pieceLen,
			Connector: rtc.NewConnector(rtc.Config{API: apis[i]}), Announce: []string{announce},
		})
		if err != nil {
			t.Fatal(err)
		}
		engines[i] = e
		t.Cleanup(func() { e.Close() })
		_, r := join(t, e, url)
		deadline := in(20 * time.Second)
		if i == 0 {
			deadline = in(0)
		}
		checkReads(t, readPieces(r, all(r.PieceCount()), deadline), data, false)
	}
	for i, e := range engines {
		if len(e.Peers()) == 0 {
			t.Errorf("engine %d has no peers: the test needs connected engines", i)
		}
	}
	for _, e := range engines {
		e.Close()
	}
	tr.CloseIdleConnections()

	const slack = 4
	end := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+slack {
		if time.Now().After(end) {
			var buf bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines 10 s after Close, %d before the engines started:\n%s", runtime.NumGoroutine(), base, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gatedStore is a memory store whose Put waits for release, like a slow
// persistent store; entered is closed when the first Put starts.
type gatedStore struct {
	*store.Memory
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedStore) Put(ctx context.Context, k identity.PieceKey, data []byte) error {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.Memory.Put(ctx, k, data)
}

// TestCloseWhileStoringPiece closes the engine while a piece fetched over
// HTTP is being stored: the pending read returns (with the piece or
// ErrClosed), Close returns once the store does, and nothing panics.
func TestCloseWhileStoringPiece(t *testing.T) {
	data := swarmtest.Media(2 * pieceLen)
	url := swarmtest.Origin(t, data)
	gs := &gatedStore{Memory: store.NewMemory(1 << 20), entered: make(chan struct{}), release: make(chan struct{})}
	e := newEngine(t, "", httpOnly, func(c *engine.Config) { c.Store = gs })
	_, r := join(t, e, url)
	res := make(chan error, 1)
	go func() {
		_, err := r.ReadPiece(context.Background(), 0, time.Time{})
		res <- err
	}()
	select {
	case <-gs.entered:
	case <-time.After(waitLimit):
		t.Fatal("the piece was never stored")
	}
	closed := make(chan struct{})
	go func() {
		e.Close()
		close(closed)
	}()
	select {
	case err := <-res:
		if err != nil && !errors.Is(err, engine.ErrClosed) {
			t.Errorf("ReadPiece: %v, want the piece or ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadPiece still blocked 5 s after Close")
	}
	close(gs.release)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close still blocked 5 s after the store returned")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestCloseAnnouncesStopped checks that Close leaves the swarm at the
// tracker with a "stopped" announce, as documented, before closing the
// tracker connection.
func TestCloseAnnouncesStopped(t *testing.T) {
	var logs syncBuffer
	srv := tracker.New(tracker.Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		srv.Close()
		hs.Close()
	})
	announce := "ws" + strings.TrimPrefix(hs.URL, "http")
	url := swarmtest.Origin(t, swarmtest.Media(pieceLen))
	e := newEngine(t, announce)
	join(t, e, url)
	waitFor(t, "the engine to join at the tracker", func() bool { return strings.Contains(logs.String(), "peer joined") })
	e.Close()
	waitFor(t, "the tracker connection to close", func() bool { return strings.Contains(logs.String(), "connection closed") })
	if !strings.Contains(logs.String(), "peer stopped") {
		t.Error("Close closed the tracker connection without announcing stopped")
	}
}
