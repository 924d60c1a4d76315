package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
	"github.com/p2pmedia/p2pmedia/engine/wire"
)

// ErrChanged is returned when the origin's copy of a resource no longer
// matches the version this peer reads (its size or validators changed).
var ErrChanged = errors.New("engine: resource changed at the origin")

// Changed returns an error wrapping ErrChanged when info, what the origin
// answered for the resource's URL, is not the resource: another size, or
// another ETag where both have one.
func (r *Resource) Changed(info identity.ResourceInfo) error {
	if info.Size != r.info.Size || (info.ETag != "" && r.info.ETag != "" && info.ETag != r.info.ETag) {
		return fmt.Errorf("%w: %s now has size %d etag %q (was %d %q)", ErrChanged, r.url, info.Size, info.ETag, r.info.Size, r.info.ETag)
	}
	return nil
}

// Resource is one resource of a swarm (a progressive file, or one segment),
// cut into pieces. Its methods are safe for concurrent use.
type Resource struct {
	s    *Swarm
	name string
	url  string
	info identity.ResourceInfo
	ref  wire.ResourceRef
	n    int
	have wire.Bits

	// Guarded by s.mu.
	pieces   map[int]*piece
	playhead int64
	rate     float64 // bytes per second of playback; 0: no playhead
	live     bool
	edgeWait bool // wait for the peers at the swarm's edge (FollowEdge)
	fromPeer bool // info came from a peer's announcement, not the origin
	// p2pPieces counts the pieces this peer took from peers (not the origin).
	p2pPieces int
	lastUsed  time.Time
	headAt    time.Time
	gone      bool

	// hashes are the publisher's hashes of this version, nil without a
	// hash source; set at creation.
	hashes *hashes
	// whole holds the resource's pieces with bytes from peers until they
	// are checked against the hashes of the ranges they overlap (a
	// SegmentHasher's), nil for piece hashes or none; set at creation.
	whole *wholeCheck
}

// piece is a piece being read or fetched.
type piece struct {
	r          *Resource
	index      int
	start, end int64
	buf        []byte
	got        int // bytes [0, got) of buf are filled
	waiters    int
	deadline   time.Time // zero: no deadline (prefetch only)
	prefetch   bool
	origin     bool // elected live fetch: over HTTP now, even with no reader
	// needed: pieces from peers of its resource wait for this one to check
	// a range they share (wholeCheck), and are due as a read of it would be.
	needed   bool
	done     chan struct{}
	finished bool // done is closed; data and err are set
	data     []byte
	err      error

	src        source
	peer       *peer
	reqID      uint32
	started    time.Time
	startGot   int
	lastByte   time.Time
	httpCancel context.CancelFunc
	httpFails  int
	notBefore  time.Time
	excluded   map[*peer]bool
	// contributors are the peers whose bytes are in buf: the piece is
	// validated before use when there are any.
	contributors map[*peer]bool
	// finisher is the peer whose download completed the piece, if one did.
	finisher *peer
}

type source int

const (
	srcNone source = iota
	srcHTTP
	srcP2P
	srcFinishing // complete, being validated and stored
	srcDirect    // the caller of DirectSpan fetches it from the origin
)

func (pc *piece) size() int { return int(pc.end - pc.start) }

// Resource returns the resource called name in the swarm, fetched from url.
// On first use it learns the resource's size and validators from the origin.
// A resource whose validators changed at the origin is replaced by its new
// version.
func (s *Swarm) Resource(ctx context.Context, name, url string) (*Resource, error) {
	if err := identity.ValidateName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if r, ok := s.resources[name]; ok && r.url == url && !r.gone {
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()
	t0 := time.Now()
	info, err := s.e.cfg.Fetcher.Stat(ctx, url)
	if err == nil {
		s.mu.Lock()
		s.http.observe(time.Since(t0), 0, 0)
		s.mu.Unlock()
	}
	if err != nil {
		s.e.exception(CodeHTTP, fmt.Errorf("stat %s: %w", url, err))
		return nil, fmt.Errorf("engine: stat %s: %w", url, err)
	}
	return s.resourceWithInfo(name, url, info)
}

// ResourceWithInfo registers a resource whose size and validators the caller
// already knows (from a response it made itself), avoiding a request.
func (s *Swarm) ResourceWithInfo(name, url string, info identity.ResourceInfo) (*Resource, error) {
	if err := identity.ValidateName(name); err != nil {
		return nil, err
	}
	return s.resourceWithInfo(name, url, info)
}

func (s *Swarm) resourceWithInfo(name, url string, info identity.ResourceInfo) (*Resource, error) {
	return s.resourceWith(name, url, info, nil)
}

// resourceWith is resourceWithInfo with the publisher's hashes when the
// caller has them already (nil: the hash source is asked, if any).
func (s *Swarm) resourceWith(name, url string, info identity.ResourceInfo, known *piecehash.List) (*Resource, error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	n := identity.PieceCount(info.Size, s.id.PieceLength)
	if n > wire.MaxPieceCount {
		return nil, fmt.Errorf("engine: resource %s of %d bytes has more than %d pieces", url, info.Size, wire.MaxPieceCount)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	ref := wire.ResourceRef{Name: name, Version: info.Version()}
	if r, ok := s.resources[name]; ok && !r.gone {
		if r.ref == ref {
			r.url, r.lastUsed = url, time.Now()
			return r, nil
		}
		r.goneLocked(ErrChanged)
	}
	r := &Resource{s: s, name: name, url: url, info: info, ref: ref, n: n, have: wire.NewBits(n), pieces: map[int]*piece{}, lastUsed: time.Now()}
	s.resources[name] = r
	switch {
	case known != nil:
		r.hashes = &hashes{done: make(chan struct{}), list: known, err: matchInfo(known, info, n)}
		close(r.hashes.done)
	case s.e.cfg.Hashes != nil:
		s.newHashesLocked(r)
	}
	return r, nil
}

// Info returns the resource's size and validators.
func (r *Resource) Info() identity.ResourceInfo { return r.info }

// Name returns the resource's name inside its swarm.
func (r *Resource) Name() string { return r.name }

// PieceCount returns the number of pieces.
func (r *Resource) PieceCount() int { return r.n }

// PieceLength returns the swarm's piece length.
func (r *Resource) PieceLength() int64 { return r.s.id.PieceLength }

// PieceRange returns the byte range [start, end) of piece i.
func (r *Resource) PieceRange(i int) (start, end int64, ok bool) {
	return identity.PieceRange(i, r.info.Size, r.s.id.PieceLength)
}

func (r *Resource) key(i int) identity.PieceKey {
	return identity.PieceKey{Swarm: r.s.id.InfoHash, Resource: r.name, Version: r.ref.Version, Index: i}
}

// SetPlayhead tells the scheduler where playback is (a byte offset of this
// resource) and how fast it consumes bytes, so that pieces ahead get
// deadlines and are fetched from peers before they are needed. A rate of 0
// clears the playhead.
func (r *Resource) SetPlayhead(offset int64, bytesPerSecond float64) {
	s := r.s
	s.mu.Lock()
	r.playhead, r.rate, r.headAt = offset, max(bytesPerSecond, 0), time.Now()
	r.lastUsed = r.headAt
	s.mu.Unlock()
	s.kick()
}

// SetLive marks the resource as a live segment: every peer learns it at about
// the same time, so only the few peers elected for it fetch it from the
// origin, at once, and the others wait for them (falling back to HTTP when
// waiting longer would miss their deadline).
func (r *Resource) SetLive(live bool) {
	r.s.mu.Lock()
	r.live = live
	r.s.mu.Unlock()
	r.s.kick()
}

// ReadPiece returns piece i, waiting until it is available. deadline is when
// the consumer needs it (zero: as soon as possible); the scheduler uses it to
// choose between peers and HTTP. The returned slice must not be modified.
func (r *Resource) ReadPiece(ctx context.Context, i int, deadline time.Time) ([]byte, error) {
	start, end, ok := r.PieceRange(i)
	if !ok {
		return nil, fmt.Errorf("engine: piece %d out of range [0, %d)", i, r.n)
	}
	s := r.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if r.gone {
		s.mu.Unlock()
		return nil, ErrChanged
	}
	r.lastUsed = time.Now()
	if _, ok := s.resources[r.name]; !ok {
		s.resources[r.name] = r // collected while idle: in use again
	}
	if r.have.Has(i) {
		s.mu.Unlock()
		data, err := s.e.cfg.Store.Get(ctx, r.key(i))
		if err == nil && len(data) == int(end-start) {
			return data, nil
		}
		// The store lost it: fetch it again, and tell peers.
		s.mu.Lock()
		if r.have.Has(i) {
			r.have.Clear(i)
			s.broadcastDropLocked(r, i)
		}
	}
	pc := r.wantLocked(i, start, end)
	pc.waiters++
	if deadline.IsZero() {
		deadline = time.Now()
	}
	if pc.deadline.IsZero() || pc.prefetch || deadline.Before(pc.deadline) {
		pc.deadline = deadline
	}
	pc.prefetch = false
	s.mu.Unlock()
	s.kick()

	select {
	case <-pc.done:
		if pc.err != nil {
			return nil, pc.err
		}
		return pc.data, nil
	case <-ctx.Done():
		s.mu.Lock()
		pc.waiters--
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

// wantLocked returns the in-flight state of piece i, creating it.
func (r *Resource) wantLocked(i int, start, end int64) *piece {
	if pc, ok := r.pieces[i]; ok {
		return pc
	}
	pc := &piece{r: r, index: i, start: start, end: end, done: make(chan struct{})}
	r.pieces[i] = pc
	return pc
}

// finishLocked completes pc with data or err, wakes its waiters and forgets
// it.
func (r *Resource) finishLocked(pc *piece, data []byte, err error) {
	if r.pieces[pc.index] == pc {
		delete(r.pieces, pc.index)
	}
	r.publishLocked(pc, data, err)
}

// publishLocked completes pc with data or err and wakes its waiters; a
// reader that comes later and still finds pc in r.pieces gets the same.
func (r *Resource) publishLocked(pc *piece, data []byte, err error) {
	if pc.finished {
		return
	}
	pc.finished = true
	pc.data, pc.err = data, err
	pc.buf = nil
	close(pc.done)
}

// goneLocked retires a resource version: pending reads fail with err.
func (r *Resource) goneLocked(err error) {
	r.gone = true
	if r.whole != nil {
		r.closeWholeLocked()
	}
	r.failAllLocked(err)
}

func (r *Resource) failAllLocked(err error) {
	for _, pc := range r.pieces {
		r.s.stopLocked(pc)
		r.finishLocked(pc, nil, err)
	}
}

// Have reports whether this peer holds piece i.
func (r *Resource) Have(i int) bool {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.have.Has(i)
}
