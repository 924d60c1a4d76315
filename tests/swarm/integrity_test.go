package swarm

import (
	"bytes"
	"context"
	"errors"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/hashsource"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/origin"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
	"github.com/p2pmedia/p2pmedia/engine/store"
	"github.com/p2pmedia/p2pmedia/hashservice"
)

// poisonStore is a poisoner's store: every piece it hands out (to upload)
// is altered by poison, while what it keeps is the origin's.
type poisonStore struct {
	*store.Memory
	poison func(m *store.Memory, key identity.PieceKey, b []byte) []byte
}

func (p poisonStore) Get(ctx context.Context, key identity.PieceKey) ([]byte, error) {
	b, err := p.Memory.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return p.poison(p.Memory, key, b), nil
}

// flip inverts every byte.
func flip(_ *store.Memory, _ identity.PieceKey, b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = ^c
	}
	return out
}

// otherPiece sends the next piece instead, valid bytes of the resource but
// not the ones asked for; the last piece is sent flipped.
func otherPiece(m *store.Memory, key identity.PieceKey, b []byte) []byte {
	next := key
	next.Index++
	if o, err := m.Get(context.Background(), next); err == nil && len(o) == len(b) {
		return o
	}
	return flip(m, key, b)
}

// hashService serves the piece-hash service for the origin at originURL.
func hashService(t testing.TB, originURL string) string {
	t.Helper()
	host := strings.TrimPrefix(originURL, "http://")
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	h, err := hashservice.New(hashservice.Config{Allow: []string{"http://" + host}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// exceptions records an engine's exceptions.
type exceptions struct {
	mu   sync.Mutex
	list []engine.Exception
}

func (x *exceptions) on(ev engine.Event) {
	if ev.Kind == engine.EventException {
		x.mu.Lock()
		x.list = append(x.list, ev.Exception)
		x.mu.Unlock()
	}
}

func (x *exceptions) bans() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, e := range x.list {
		if e.Code == engine.CodePeer && strings.Contains(e.Message, "banned") {
			n++
		}
	}
	return n
}

// readAll reads the resource at url from its swarm, with far deadlines so
// that a peer that holds a piece is asked for it, and returns the bytes.
func readAll(ctx context.Context, t *testing.T, e *engine.Engine, url string) []byte {
	t.Helper()
	s, err := e.JoinURL(url)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Resource(ctx, "", url)
	if err != nil {
		t.Fatal(err)
	}
	return readResource(ctx, t, r)
}

// waitPeers waits until e's swarm of url has n peers.
func waitPeers(ctx context.Context, t *testing.T, e *engine.Engine, url string, n int) {
	t.Helper()
	s, err := e.JoinURL(url)
	if err != nil {
		t.Fatal(err)
	}
	for s.PeerCount() < n {
		if ctx.Err() != nil {
			t.Fatalf("%d peers, want %d: the test would show nothing", s.PeerCount(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPoisonerBanned puts a poisoner, a real engine whose uploads are
// altered, in a swarm with two honest engines that check pieces against the
// piece-hash service: each reads the origin's bytes, bans the poisoner after
// its first bad piece, and takes pieces from the other honest one. Without
// a hash source the same poisoner's bytes get through, which shows that the
// scenario puts its pieces in their way.
func TestPoisonerBanned(t *testing.T) {
	data := swarmtest.Media(2 << 20)
	for _, tc := range []struct {
		name   string
		poison func(*store.Memory, identity.PieceKey, []byte) []byte
	}{{"flipped bytes", flip}, {"another piece", otherPiece}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			url := swarmtest.Origin(t, data)
			announce := swarmtest.Tracker(t)
			hashes := &hashsource.Service{Base: hashService(t, url), Get: hashsource.HTTPGetter{}}

			poisoner := swarmtest.NewEngine(t, announce, func(c *engine.Config) {
				c.Store = poisonStore{Memory: store.NewMemory(256 << 20), poison: tc.poison}
			})
			if got := readAll(ctx, t, poisoner, url); !bytes.Equal(got, data) {
				t.Fatal("the poisoner did not read the origin's bytes")
			}

			// The control: an engine without hashes, alone with the
			// poisoner, plays its bytes. It leaves before the honest ones
			// come, as it would pass them on.
			c := swarmtest.NewEngine(t, announce)
			waitPeers(ctx, t, c, url, 1)
			if got := readAll(ctx, t, c, url); corrupt(got, data) == 0 {
				t.Fatal("an engine without hashes read clean bytes: the poisoner's pieces were not in its way")
			}
			c.Close()

			var xa, xb exceptions
			a := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = hashes, xa.on })
			waitPeers(ctx, t, a, url, 1)
			if got := readAll(ctx, t, a, url); !bytes.Equal(got, data) {
				t.Errorf("the first honest engine read %d corrupt bytes", corrupt(got, data))
			}
			b := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = hashes, xb.on })
			waitPeers(ctx, t, b, url, 1) // a: the poisoner is banned by now, or b bans it
			if got := readAll(ctx, t, b, url); !bytes.Equal(got, data) {
				t.Errorf("the second honest engine read %d corrupt bytes", corrupt(got, data))
			}
			for name, x := range map[string]*exceptions{"first": &xa, "second": &xb} {
				if n := x.bans(); n > 1 {
					t.Errorf("the %s honest engine banned %d peers; want at most the poisoner", name, n)
				}
			}
			if xa.bans() != 1 {
				t.Errorf("the first honest engine, which met the poisoner alone, banned %d peers; want 1", xa.bans())
			}
			for _, p := range a.Peers() {
				if p.ID == poisoner.PeerID() {
					t.Errorf("the first honest engine is still connected to the poisoner")
				}
			}
			if st := b.Stats(); st.P2PDownloaded == 0 {
				t.Errorf("the second honest engine took nothing from the first: %+v", st)
			}

		})
	}
}

// corrupt counts the bytes of got that differ from want.
func corrupt(got, want []byte) int {
	n := max(0, len(want)-len(got))
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			n++
		}
	}
	return n
}

// lyingFetcher is a poisoner's origin client: every request goes to its own
// server instead of the origin, which serves what the poisoner wants peers
// to take for the origin's.
type lyingFetcher struct {
	origin.Client
	to string // the URL of the poisoner's server
}

func (f *lyingFetcher) Stat(ctx context.Context, _ string) (identity.ResourceInfo, error) {
	return f.Client.Stat(ctx, f.to)
}

func (f *lyingFetcher) Fetch(ctx context.Context, _ string, start, end int64) (identity.ResourceInfo, io.ReadCloser, error) {
	return f.Client.Fetch(ctx, f.to, start, end)
}

// TestLivePoisonerLies: a poisoner holds a live segment before the origin
// lists it, under the name and URL the playlist will give it, and
// announces it with the origin's size and ETag over flipped bytes, or with
// a size and ETag of its own. An engine without hashes adopts what it
// announced and plays its bytes; one with the piece-hash service opens
// nothing while the origin has no such segment, then reads the origin's
// bytes once it has, banning the poisoner where it sent a bad piece.
func TestLivePoisonerLies(t *testing.T) {
	data := swarmtest.Media(3<<20 + 77)
	const etag = `"live-9"`
	flipped := flip(nil, identity.PieceKey{}, data)
	for _, tc := range []struct {
		name     string
		body     []byte
		etag     string
		wantBans int
	}{
		{"origin's size and ETag over flipped bytes", flipped, etag, 1},
		{"size and ETag of its own", flipped[:len(data)/2], `"forged"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			var listed atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !listed.Load() {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("ETag", etag)
				http.ServeContent(w, r, "seg.ts", time.Time{}, bytes.NewReader(data))
			}))
			t.Cleanup(srv.Close)
			lies := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", tc.etag)
				http.ServeContent(w, r, "seg.ts", time.Time{}, bytes.NewReader(tc.body))
			}))
			t.Cleanup(lies.Close)
			const playlist = "http://live.example/stream.m3u8"
			segURL := srv.URL + "/live/seg-9.ts"
			name := identity.URLName("9", segURL)
			announce := swarmtest.Tracker(t)
			hashes := &hashsource.Service{Base: hashService(t, srv.URL), Get: hashsource.HTTPGetter{}}

			poisoner := swarmtest.NewEngine(t, announce, func(c *engine.Config) {
				c.Fetcher = &lyingFetcher{to: lies.URL + "/seg.ts"}
			})
			ps := joinLive(t, poisoner, playlist)
			pr, err := ps.LiveResource(ctx, name, segURL, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := readResource(ctx, t, pr); !bytes.Equal(got, tc.body) {
				t.Fatal("the poisoner does not hold its own segment")
			}

			// The control: without hashes, what the poisoner announced is
			// taken for the origin's.
			c := swarmtest.NewEngine(t, announce)
			cs := joinLive(t, c, playlist)
			waitPeers(ctx, t, c, playlist, 1)
			cr, err := cs.LiveResource(ctx, name, segURL, 5*time.Second)
			if err != nil {
				t.Fatalf("control: %v", err)
			}
			if got := readResource(ctx, t, cr); corrupt(got, data) == 0 {
				t.Fatal("an engine without hashes read the origin's bytes: the poisoner's segment was not in its way")
			}
			c.Close()

			var x exceptions
			a := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = hashes, x.on })
			as := joinLive(t, a, playlist)
			waitPeers(ctx, t, a, playlist, 1)
			if r, err := as.LiveResource(ctx, name, segURL, 5*time.Second); err == nil {
				t.Fatalf("before the origin lists the segment, it opened as %+v", r.Info())
			}
			listed.Store(true)
			r, err := as.LiveResource(ctx, name, segURL, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got := readResource(ctx, t, r); !bytes.Equal(got, data) {
				t.Errorf("the honest engine read %d corrupt bytes", corrupt(got, data))
			}
			if n := x.bans(); n != tc.wantBans {
				t.Errorf("the honest engine banned %d peers, want %d", n, tc.wantBans)
			}
		})
	}
}

// joinLive joins e to the live swarm of playlist.
func joinLive(t *testing.T, e *engine.Engine, playlist string) *engine.Swarm {
	t.Helper()
	s, err := e.JoinURL(playlist)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readResource reads every piece of r, with far deadlines so that a peer
// that holds a piece is asked for it.
func readResource(ctx context.Context, t *testing.T, r *engine.Resource) []byte {
	t.Helper()
	var got []byte
	for i := range r.PieceCount() {
		b, err := r.ReadPiece(ctx, i, time.Now().Add(5*time.Second))
		if err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		got = append(got, b...)
	}
	return got
}

// gate holds a hash source's answers until open is closed, and then fails
// them with err when it is set.
type gate struct {
	open chan struct{}
	err  error
}

func newGate(err error) gate { return gate{open: make(chan struct{}), err: err} }

// pass waits for the gate to open and returns the error to answer with.
func (g *gate) pass(ctx context.Context) error {
	select {
	case <-g.open:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gatedHashes is a piece-hash source behind a gate.
type gatedHashes struct {
	engine.HashSource
	gate
}

func (g *gatedHashes) PieceHashes(ctx context.Context, mediaURL string, pieceLength int64) (*piecehash.List, error) {
	if err := g.pass(ctx); err != nil {
		return nil, err
	}
	return g.HashSource.PieceHashes(ctx, mediaURL, pieceLength)
}

// TestHashesLate has an honest seed and a leech whose hash source answers
// only after the leech's peer sent every piece. The pieces wait for their
// hashes, unused, rather than going to HTTP: with hashes that match, the
// leech reads them all from its peer; with none, it reads them again from
// the origin and blames nobody.
func TestHashesLate(t *testing.T) {
	data := swarmtest.Media(2 << 20)
	for _, tc := range []struct {
		name string
		err  error
	}{{"hashes come", nil}, {"hashes fail", errors.New("hash service down")}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			url := swarmtest.Origin(t, data)
			announce := swarmtest.Tracker(t)
			seed := swarmtest.NewEngine(t, announce)
			if got := readAll(ctx, t, seed, url); !bytes.Equal(got, data) {
				t.Fatal("the seed did not read the origin's bytes")
			}
			gate := &gatedHashes{HashSource: &hashsource.Service{Base: hashService(t, url), Get: hashsource.HTTPGetter{}}, gate: newGate(tc.err)}
			var x exceptions
			leech := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = gate, x.on })
			waitPeers(ctx, t, leech, url, 1)
			s, err := leech.JoinURL(url)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Resource(ctx, "", url)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan []byte, 1)
			// Not urgent (HTTPWindow) before the peer sent everything;
			// due soon enough for HTTP to take over when hashes fail.
			go func() { got <- readBy(ctx, r, time.Now().Add(12*time.Second)) }()
			for leech.Stats().P2PDownloaded < int64(len(data)) {
				if ctx.Err() != nil {
					t.Fatalf("the peer sent %d bytes before the hashes came, want all %d: pieces wait for peers until their hashes come", leech.Stats().P2PDownloaded, len(data))
				}
				time.Sleep(10 * time.Millisecond)
			}
			select {
			case <-got:
				t.Fatal("the leech read the resource before its hashes came")
			default:
			}
			close(gate.open)
			if b := <-got; !bytes.Equal(b, data) {
				t.Fatalf("the leech read %d corrupt bytes", corrupt(b, data))
			}
			st := leech.Stats()
			switch {
			case tc.err == nil && st.HTTPDownloaded != 0:
				t.Errorf("with hashes that match, the leech fetched %d bytes over HTTP", st.HTTPDownloaded)
			case tc.err != nil && st.HTTPDownloaded < int64(len(data)):
				t.Errorf("without hashes, the leech fetched %d bytes over HTTP, want all %d again", st.HTTPDownloaded, len(data))
			}
			if n := x.bans(); n != 0 || s.PeerCount() != 1 {
				t.Errorf("%d bans, %d peers: an honest peer is not to blame for the hash source", n, s.PeerCount())
			}
		})
	}
}

// readBy reads every piece of r at once, due by deadline, and returns the
// bytes (nil on an error).
func readBy(ctx context.Context, r *engine.Resource, deadline time.Time) []byte {
	pieces := make([][]byte, r.PieceCount())
	var wg sync.WaitGroup
	var failed atomic.Bool
	for i := range pieces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := r.ReadPiece(ctx, i, deadline)
			pieces[i] = b
			failed.CompareAndSwap(false, err != nil)
		}()
	}
	wg.Wait()
	if failed.Load() {
		return nil
	}
	return bytes.Join(pieces, nil)
}
