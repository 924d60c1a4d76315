package swarm

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/hashsource"
	"github.com/p2pmedia/p2pmedia/engine/identity"
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
func hashService(t *testing.T, originURL string) string {
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
	data := Media(2 << 20)
	for _, tc := range []struct {
		name   string
		poison func(*store.Memory, identity.PieceKey, []byte) []byte
	}{{"flipped bytes", flip}, {"another piece", otherPiece}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			url := Origin(t, data)
			announce := Tracker(t)
			hashes := &hashsource.Service{Base: hashService(t, url), Get: hashsource.HTTPGetter{}}

			poisoner := NewEngine(t, announce, func(c *engine.Config) {
				c.Store = poisonStore{Memory: store.NewMemory(256 << 20), poison: tc.poison}
			})
			if got := readAll(ctx, t, poisoner, url); !bytes.Equal(got, data) {
				t.Fatal("the poisoner did not read the origin's bytes")
			}

			// The control: an engine without hashes, alone with the
			// poisoner, plays its bytes. It leaves before the honest ones
			// come, as it would pass them on.
			c := NewEngine(t, announce)
			waitPeers(ctx, t, c, url, 1)
			if got := readAll(ctx, t, c, url); corrupt(got, data) == 0 {
				t.Fatal("an engine without hashes read clean bytes: the poisoner's pieces were not in its way")
			}
			c.Close()

			var xa, xb exceptions
			a := NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = hashes, xa.on })
			waitPeers(ctx, t, a, url, 1)
			if got := readAll(ctx, t, a, url); !bytes.Equal(got, data) {
				t.Errorf("the first honest engine read %d corrupt bytes", corrupt(got, data))
			}
			b := NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = hashes, xb.on })
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
