package swarm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/p2pmedia/p2pmedia/internal/swarmtest"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/hashsource"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
	"github.com/p2pmedia/p2pmedia/engine/store"
)

// peerTubeStream is a PeerTube-like live stream on an HTTP origin: segment
// files under /live/, and beside them the segments-sha256.json that
// PeerTube's server writes, {"<file>": "<hex sha256>"}, computed from the
// segments' bytes.
type peerTubeStream struct {
	playlist string   // the URL its swarm is joined by
	names    []string // segment file names, in order
	urls     []string // their URLs
	data     [][]byte // their bytes
}

func newPeerTubeStream(t *testing.T, sizes ...int64) *peerTubeStream {
	t.Helper()
	all := swarmtest.Media(func() (n int64) {
		for _, s := range sizes {
			n += s
		}
		return n
	}())
	st := &peerTubeStream{}
	files := map[string][]byte{}
	list := map[string]string{}
	for i, size := range sizes {
		name := fmt.Sprintf("0-%06d.ts", i+1)
		b := all[:size]
		all = all[size:]
		sum := sha256.Sum256(b)
		files[name], list[name] = b, hex.EncodeToString(sum[:])
		st.names, st.data = append(st.names, name), append(st.data, b)
	}
	doc, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/live/")
		if name == hashsource.PeerTubeListName {
			w.Header().Set("Content-Type", "application/json")
			w.Write(doc)
			return
		}
		b, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(b)
		w.Header().Set("ETag", fmt.Sprintf(`"%x"`, sum[:8]))
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(srv.Close)
	st.playlist = srv.URL + "/live/0.m3u8"
	for _, name := range st.names {
		st.urls = append(st.urls, srv.URL+"/live/"+name)
	}
	return st
}

// segment opens segment i of the stream in e's swarm of the playlist.
func (st *peerTubeStream) segment(ctx context.Context, t *testing.T, e *engine.Engine, i int) *engine.Resource {
	t.Helper()
	s, err := e.JoinURL(st.playlist)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Resource(ctx, fmt.Sprint(i+1), st.urls[i])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readAll reads every segment, piece after piece as a player would, and
// returns how many of their bytes differ from the origin's.
func (st *peerTubeStream) readAll(ctx context.Context, t *testing.T, e *engine.Engine) (corrupted int) {
	t.Helper()
	for i := range st.urls {
		corrupted += corrupt(readResource(ctx, t, st.segment(ctx, t, e, i)), st.data[i])
	}
	return corrupted
}

// size is the bytes of every segment.
func (st *peerTubeStream) size() (n int64) {
	for _, b := range st.data {
		n += int64(len(b))
	}
	return n
}

// peerTubeHashes is the hash source of a viewer of a PeerTube stream: the
// list beside each segment.
func peerTubeHashes() *hashsource.PeerTube {
	return &hashsource.PeerTube{Get: hashsource.HTTPGetter{}}
}

// TestPeerTubePoisonerBanned: a poisoner holds every segment of a
// PeerTube stream and uploads them flipped. An engine without hashes plays
// its bytes; one that checks whole segments against PeerTube's
// segments-sha256.json reads the origin's bytes, and bans the poisoner,
// the one sender of the first segment's pieces.
func TestPeerTubePoisonerBanned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	st := newPeerTubeStream(t, 1200<<10, 700<<10, 1500<<10+77)
	announce := swarmtest.Tracker(t)
	poisoner := swarmtest.NewEngine(t, announce, func(c *engine.Config) {
		c.Store = poisonStore{Memory: store.NewMemory(256 << 20), poison: flip}
	})
	if n := st.readAll(ctx, t, poisoner); n != 0 {
		t.Fatalf("the poisoner read %d corrupt bytes from the origin", n)
	}

	// The control, alone with the poisoner, plays its bytes: the pieces of
	// the test are in the way of the honest engine. It leaves before the
	// honest one comes, as it would pass them on.
	c := swarmtest.NewEngine(t, announce)
	waitPeers(ctx, t, c, st.playlist, 1)
	if n := st.readAll(ctx, t, c); n == 0 {
		t.Fatal("an engine without hashes read clean bytes: the poisoner's pieces were not in its way")
	}
	c.Close()

	var x exceptions
	a := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = peerTubeHashes(), x.on })
	waitPeers(ctx, t, a, st.playlist, 1)
	if n := st.readAll(ctx, t, a); n != 0 {
		t.Errorf("the honest engine read %d corrupt bytes", n)
	}
	checkPoisonerBanned(t, a, &x, poisoner)
}

// TestPeerTubeFromPeer: an honest seed holds a PeerTube stream; a leech
// that checks whole segments takes every byte of them from the seed, and
// they are the origin's.
func TestPeerTubeFromPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st := newPeerTubeStream(t, 1200<<10, 700<<10, 1500<<10+77)
	announce := swarmtest.Tracker(t)
	seed := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes = peerTubeHashes() })
	if n := st.readAll(ctx, t, seed); n != 0 {
		t.Fatalf("the seed read %d corrupt bytes from the origin", n)
	}
	var x exceptions
	leech := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = peerTubeHashes(), x.on })
	waitPeers(ctx, t, leech, st.playlist, 1)
	if n := st.readAll(ctx, t, leech); n != 0 {
		t.Errorf("the leech read %d corrupt bytes", n)
	}
	s := leech.Stats()
	if s.P2PDownloaded != st.size() || s.HTTPDownloaded != 0 {
		t.Errorf("the leech took %d bytes from its peer and %d over HTTP; want all %d from its peer", s.P2PDownloaded, s.HTTPDownloaded, st.size())
	}
	if n := x.bans(); n != 0 {
		t.Errorf("the leech banned %d honest peers", n)
	}
}

// gatedSegments is a PeerTube source behind a gate.
type gatedSegments struct {
	*hashsource.PeerTube
	gate
}

func (g *gatedSegments) SegmentHashes(ctx context.Context, mediaURL string, size int64) ([]piecehash.RangeHash, error) {
	if err := g.pass(ctx); err != nil {
		return nil, err
	}
	return g.PeerTube.SegmentHashes(ctx, mediaURL, size)
}

// TestPeerTubeHashLate: a leech's peer sends a whole segment before its
// hash comes. The pieces wait for it, unpublished: when it comes, they are
// read from the peer; when it fails, or does not come while HTTP could
// still fetch them in time, they are fetched again from the origin, and the
// peer is not blamed.
func TestPeerTubeHashLate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		open     bool // the hash comes once the peer sent the segment
		err      error
		deadline time.Duration
		fromPeer bool
	}{
		{"hash comes", true, nil, 12 * time.Second, true},
		{"hash fails", true, errors.New("PeerTube is down"), 12 * time.Second, false},
		{"hash too late", false, nil, 6 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st := newPeerTubeStream(t, 1500<<10+77)
			announce := swarmtest.Tracker(t)
			seed := swarmtest.NewEngine(t, announce)
			if n := st.readAll(ctx, t, seed); n != 0 {
				t.Fatalf("the seed read %d corrupt bytes from the origin", n)
			}
			gate := &gatedSegments{PeerTube: peerTubeHashes(), gate: newGate(tc.err)}
			var x exceptions
			leech := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = gate, x.on })
			waitPeers(ctx, t, leech, st.playlist, 1)
			r := st.segment(ctx, t, leech, 0)
			t0 := time.Now()
			got := make(chan []byte, 1)
			// Not urgent (HTTPWindow) before the peer sent everything.
			go func() { got <- readBy(ctx, r, t0.Add(tc.deadline)) }()
			for leech.Stats().P2PDownloaded < st.size() {
				if ctx.Err() != nil {
					t.Fatalf("the peer sent %d bytes, want all %d: pieces are asked of peers while the hash is on its way", leech.Stats().P2PDownloaded, st.size())
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			select {
			case <-got:
				t.Fatal("the leech read the segment before its hash came")
			default:
			}
			if tc.open {
				close(gate.open)
			}
			b := <-got
			if !bytes.Equal(b, st.data[0]) {
				t.Fatalf("the leech read %d corrupt bytes", corrupt(b, st.data[0]))
			}
			if el := time.Since(t0); el > tc.deadline {
				t.Errorf("the segment came after %v, past its deadline %v", el, tc.deadline)
			}
			s := leech.Stats()
			switch {
			case tc.fromPeer && s.HTTPDownloaded != 0:
				t.Errorf("with a hash that matches, the leech fetched %d bytes over HTTP", s.HTTPDownloaded)
			case !tc.fromPeer && s.HTTPDownloaded < st.size():
				t.Errorf("without the hash, the leech fetched %d bytes over HTTP, want all %d again", s.HTTPDownloaded, st.size())
			}
			if n, peers := x.bans(), leech.Peers(); n != 0 || len(peers) != 1 {
				t.Errorf("%d bans, %d peers: an honest peer is not to blame for the hash source", n, len(peers))
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use: a log's.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPeerTubeTooLarge: a segment larger than engine.MaxSegmentHashSize
// would have to be held in memory whole before its bytes from peers could
// be checked: a leech with PeerTube's list reads it from the origin, though
// a seed holds it, and says so in its log.
func TestPeerTubeTooLarge(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st := newPeerTubeStream(t, engine.MaxSegmentHashSize+1)
	announce := swarmtest.Tracker(t)
	seed := swarmtest.NewEngine(t, announce)
	if b := readBy(ctx, st.segment(ctx, t, seed, 0), time.Now()); !bytes.Equal(b, st.data[0]) {
		t.Fatal("the seed did not read the origin's bytes")
	}
	var log lockedBuffer
	leech := swarmtest.NewEngine(t, announce, func(c *engine.Config) {
		c.Hashes = peerTubeHashes()
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	waitPeers(ctx, t, leech, st.playlist, 1)
	if b := readBy(ctx, st.segment(ctx, t, leech, 0), time.Now().Add(6*time.Second)); !bytes.Equal(b, st.data[0]) {
		t.Fatalf("the leech read %d corrupt bytes", corrupt(b, st.data[0]))
	}
	if s := leech.Stats(); s.P2PDownloaded != 0 || s.HTTPDownloaded != st.size() {
		t.Errorf("the leech took %d bytes from its peer and %d over HTTP; want all %d over HTTP", s.P2PDownloaded, s.HTTPDownloaded, st.size())
	}
	if !strings.Contains(log.String(), "too large to check whole") {
		t.Errorf("the leech's log does not say why the segment came from the origin:\n%s", log.String())
	}
}

// peerTubeVOD is a PeerTube-like VOD rendition on an HTTP origin: one
// fragmented MP4 of byte-range segments, and the segments-sha256.json that
// PeerTube's server writes for it, {"<file>": {"<first>-<last>": "<hex
// sha256>"}}, with a range per segment but none for the init segment.
type peerTubeVOD struct {
	url  string // the file's
	list string // the list's
	data []byte
}

// newPeerTubeVOD serves a file of an init segment of init bytes followed by
// segments of the given sizes.
func newPeerTubeVOD(t *testing.T, init int64, sizes ...int64) *peerTubeVOD {
	t.Helper()
	size := init
	for _, s := range sizes {
		size += s
	}
	v := &peerTubeVOD{data: swarmtest.Media(size)}
	ranges := map[string]string{}
	at := init
	for _, s := range sizes {
		sum := sha256.Sum256(v.data[at : at+s])
		ranges[fmt.Sprintf("%d-%d", at, at+s-1)] = hex.EncodeToString(sum[:])
		at += s
	}
	const name = "f-720-fragmented.mp4"
	doc, err := json.Marshal(map[string]map[string]string{name: ranges})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/vod/uuid-segments-sha256.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(doc)
		case "/vod/" + name:
			sum := sha256.Sum256(v.data)
			w.Header().Set("ETag", fmt.Sprintf(`"%x"`, sum[:8]))
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(v.data))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	v.url, v.list = srv.URL+"/vod/"+name, srv.URL+"/vod/uuid-segments-sha256.json"
	return v
}

// hashSource is the hash source of a viewer given the VOD's list (as its
// playlist's segmentsSha256Url names it).
func (v *peerTubeVOD) hashSource() *hashsource.PeerTube {
	return &hashsource.PeerTube{URL: func(string) (string, error) { return v.list, nil }, Get: hashsource.HTTPGetter{}}
}

// read reads the whole file in e's swarm of it, named as the browser names
// a file of byte-range segments, and returns its bytes.
func (v *peerTubeVOD) read(ctx context.Context, t *testing.T, e *engine.Engine) []byte {
	t.Helper()
	s, err := e.JoinURL(v.url)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Resource(ctx, identity.URLName("", v.url), v.url)
	if err != nil {
		t.Fatal(err)
	}
	return readResource(ctx, t, r)
}

// vodSegments are the segments of the VOD tests: an unlisted init
// segment, then segments of 300 and 700 KiB, none aligned to the engine's
// 512 KiB pieces, whose first piece thus holds bytes of the init segment.
var vodSegments = []int64{300 << 10, 700 << 10, 300 << 10, 700 << 10, 300<<10 + 77}

const vodInit = 100 << 10

// TestPeerTubeVODPoisonerBanned: a poisoner holds a PeerTube VOD file and
// uploads it flipped. An engine without hashes plays its bytes; one that
// checks the byte ranges of the file against PeerTube's list reads the
// origin's bytes, and bans the poisoner.
func TestPeerTubeVODPoisonerBanned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	v := newPeerTubeVOD(t, vodInit, vodSegments...)
	announce := swarmtest.Tracker(t)
	poisoner := swarmtest.NewEngine(t, announce, func(c *engine.Config) {
		c.Store = poisonStore{Memory: store.NewMemory(256 << 20), poison: flip}
	})
	if n := corrupt(v.read(ctx, t, poisoner), v.data); n != 0 {
		t.Fatalf("the poisoner read %d corrupt bytes from the origin", n)
	}

	// The control leaves before the honest engine comes, as it would pass
	// the poisoner's pieces on.
	c := swarmtest.NewEngine(t, announce)
	waitPeers(ctx, t, c, v.url, 1)
	if n := corrupt(v.read(ctx, t, c), v.data); n == 0 {
		t.Fatal("an engine without hashes read clean bytes: the poisoner's pieces were not in its way")
	}
	c.Close()

	var x exceptions
	a := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = v.hashSource(), x.on })
	waitPeers(ctx, t, a, v.url, 1)
	if n := corrupt(v.read(ctx, t, a), v.data); n != 0 {
		t.Errorf("the honest engine read %d corrupt bytes", n)
	}
	checkPoisonerBanned(t, a, &x, poisoner)
}

// TestPeerTubeVODFromPeer: an honest seed holds a PeerTube VOD file; a leech
// that checks its byte ranges takes the pieces inside listed ranges from the
// seed, and the first, which holds the unlisted init segment, from the
// origin, and they are the origin's bytes.
func TestPeerTubeVODFromPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	v := newPeerTubeVOD(t, vodInit, vodSegments...)
	announce := swarmtest.Tracker(t)
	seed := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes = v.hashSource() })
	if n := corrupt(v.read(ctx, t, seed), v.data); n != 0 {
		t.Fatalf("the seed read %d corrupt bytes from the origin", n)
	}
	var x exceptions
	leech := swarmtest.NewEngine(t, announce, func(c *engine.Config) { c.Hashes, c.OnEvent = v.hashSource(), x.on })
	waitPeers(ctx, t, leech, v.url, 1)
	if n := corrupt(v.read(ctx, t, leech), v.data); n != 0 {
		t.Errorf("the leech read %d corrupt bytes", n)
	}
	first := int64(512 << 10) // the piece with the init segment
	size := int64(len(v.data))
	if s := leech.Stats(); s.P2PDownloaded < size-first || s.HTTPDownloaded < first {
		t.Errorf("the leech took %d bytes from its peer and %d over HTTP; want the %d of the listed ranges' pieces from its peer, the %d of the first over HTTP",
			s.P2PDownloaded, s.HTTPDownloaded, size-first, first)
	}
	if n := x.bans(); n != 0 {
		t.Errorf("the leech banned %d honest peers", n)
	}
}

// checkPoisonerBanned checks that the honest engine a, whose exceptions x
// recorded, took bytes from poisoner, banned it and nobody else, and said
// why.
func checkPoisonerBanned(t *testing.T, a *engine.Engine, x *exceptions, poisoner *engine.Engine) {
	t.Helper()
	if n := x.bans(); n != 1 {
		t.Errorf("the honest engine banned %d peers, want 1: the poisoner", n)
	}
	for _, p := range a.Peers() {
		if p.ID == poisoner.PeerID() {
			t.Error("the honest engine is still connected to the poisoner")
		}
	}
	if st := a.Stats(); st.P2PDownloaded == 0 {
		t.Errorf("the poisoner sent nothing to the honest engine (%+v): the test shows nothing", st)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range x.list {
		if e.Code == engine.CodePeer && !strings.Contains(e.Message, engine.ErrBadPiece.Error()) {
			t.Errorf("ban %q does not say the bytes were bad", e.Message)
		}
	}
}
