// Package trackerclient is the engine's WebTorrent tracker client: it keeps
// one WebSocket connection to one tracker, announces swarms with WebRTC
// offers, relays answers, and reports what the tracker sends through
// callbacks.
//
// It survives what real trackers do: messages it cannot decode (garbage,
// oversize frames, unknown actions, invalid binary strings) are logged and
// dropped without closing the socket; a tracker that closes the socket or
// cannot be reached is retried forever with exponential back-off and full
// jitter until Close. It never re-announces by itself: the caller announces
// again when OnConnect reports the socket up.
//
// A tracker may refuse the peer id as another connection's in a swarm (ours
// does, until that connection stops or closes): someone else may have
// claimed it first, or this peer's own previous connection is not gone yet.
// With Config.FreshPeerID the client then takes a fresh id (Events.OnPeerID),
// drops the socket, which ends whatever the tracker holds under the old
// one, and reconnects, so that every swarm is announced again under the new
// id. Without it, the refusal is a failure of that swarm like any other.
//
// It is plain Go over github.com/coder/websocket and builds both natively and
// for js/wasm, where the browser's WebSocket carries it.
package trackerclient

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

const (
	defaultMinBackoff = time.Second
	defaultMaxBackoff = 60 * time.Second

	// defaultStableAfter is how long a connection must stay up for the
	// back-off to start again from MinBackoff after it drops.
	defaultStableAfter = 10 * time.Second

	// defaultDialTimeout bounds one connection attempt (TCP, TLS and the
	// WebSocket handshake).
	defaultDialTimeout = 15 * time.Second

	// closeWait bounds the wait for the tracker's reply to the closing
	// handshake; the socket goes on closing in the background.
	closeWait = 5 * time.Second

	// MaxOffersSent is the most offers one announce carries (the usual
	// WebTorrent client's limit); further offers are not sent.
	MaxOffersSent = 5

	// MaxNumWant is the largest numwant an announce may ask for.
	MaxNumWant = 1000

	// unknownLeft is sent as "left" when the amount left is unknown: the
	// largest integer a JSON number holds exactly. A JSON null would read as
	// 0 (complete) in bittorrent-tracker.
	unknownLeft = 1<<53 - 1
)

// ErrNotConnected is returned by Announce and Answer while the socket to the
// tracker is down. The caller announces again on OnConnect(true, nil).
var ErrNotConnected = errors.New("trackerclient: not connected to the tracker")

// ErrClosed is returned by Announce and Answer after Close.
var ErrClosed = errors.New("trackerclient: client closed")

// ErrPeerIDInUse is wrapped by the error OnConnect reports when a client
// with Config.FreshPeerID dropped the socket because the tracker refused its
// peer id as held by another connection in a swarm; the reconnection uses a
// fresh id.
var ErrPeerIDInUse = errors.New("trackerclient: the tracker says another connection holds the peer id")

// Config configures a Client.
type Config struct {
	// URL is the tracker's ws:// or wss:// URL.
	URL string
	// PeerID is this peer's id, sent with every announce and answer (until
	// the tracker refuses it, with FreshPeerID).
	PeerID trackermsg.ID
	// FreshPeerID makes the client take a fresh peer id when the tracker
	// refuses the current one as another connection's, and reconnect under
	// it (Events.OnPeerID): the first 8 bytes, the client prefix of an
	// Azureus-style id, are kept, the rest is random. It is for a caller
	// that can tell its peers the new id. Without it the id never changes:
	// the refusal goes to OnFailure, the socket stays up, and the caller's
	// next announce of that swarm tries again (the holder is most often this
	// peer's own previous connection, which the tracker frees once it finds
	// it gone).
	FreshPeerID bool
	// MinBackoff is the first reconnection delay's upper bound (default 1 s).
	// The bound doubles after each failed attempt up to MaxBackoff; the delay
	// is drawn uniformly below it ("full jitter"). It starts again from
	// MinBackoff after a connection that stayed up for 10 s.
	MinBackoff time.Duration
	// MaxBackoff caps the reconnection delay (default 60 s).
	MaxBackoff time.Duration
	// Logger receives the client's diagnostics (default: discarded).
	Logger *slog.Logger
}

// Events are the client's callbacks. Every callback is optional. They are
// called one at a time from the client's own goroutine and must not block
// long; they may call Announce, Answer and Connected, but must not call Close
// or wait for it. No callback runs after Close returns.
type Events struct {
	// OnConnect reports the socket up (connected true, err nil) or down
	// (connected false, with the cause). Down is reported after every failed
	// connection attempt too, so it may come several times in a row.
	OnConnect func(connected bool, err error)
	// OnOffer delivers an offer another peer of swarm infoHash sent through
	// the tracker; reply with Answer(ctx, infoHash, fromPeer, offerID, sdp).
	OnOffer func(infoHash, fromPeer, offerID trackermsg.ID, sdp string)
	// OnAnswer delivers a peer's answer to the offer offerID this client
	// announced.
	OnAnswer func(infoHash, fromPeer, offerID trackermsg.ID, sdp string)
	// OnResponse delivers the tracker's reply to an announce of infoHash: the
	// interval it asks for between announces and the swarm's seeder
	// (complete) and leecher (incomplete) counts, -1 where it gave none.
	OnResponse func(infoHash trackermsg.ID, interval time.Duration, complete, incomplete int)
	// OnFailure delivers a "failure reason" from the tracker; infoHash is the
	// swarm it concerns, or nil when the tracker did not say. With
	// FreshPeerID, a refusal of the peer id is not delivered here: it ends
	// the connection (OnPeerID, then OnConnect with ErrPeerIDInUse).
	OnFailure func(infoHash *trackermsg.ID, reason string)
	// OnPeerID reports the fresh peer id the client took after the tracker
	// refused the old one (FreshPeerID only). It comes before OnConnect reports the socket
	// down, and every announce and answer from then on carries the new id:
	// whatever the caller tells peers about itself must carry it too.
	OnPeerID func(peerID trackermsg.ID)
}

// Announce is one announce of a swarm.
type Announce struct {
	// InfoHash is the swarm.
	InfoHash trackermsg.ID
	// Event is "", "started", "stopped" or "completed"; anything else is
	// refused (wt-tracker closes the socket on any other event).
	Event string
	// NumWant is how many peers the client wants offers relayed to, 0 to
	// MaxNumWant. It is always sent, as an integer.
	NumWant int
	// Uploaded and Downloaded count bytes; they must not be negative.
	Uploaded, Downloaded int64
	// Left is the number of bytes left to download; a negative Left means
	// unknown and is sent as a large number, never as null.
	Left int64
	// Offers are this peer's WebRTC offers with complete (non-trickle) SDP.
	// At most MaxOffersSent are sent. An empty Offer.Type means "offer".
	Offers []trackermsg.Offer
}

// Client is a connection to one WebTorrent tracker, re-established until
// Close. Its methods are safe for concurrent use.
type Client struct {
	url         string
	freshPeerID bool
	ev          Events
	log         *slog.Logger

	minBackoff, maxBackoff time.Duration
	stableAfter            time.Duration
	dialTimeout            time.Duration
	now                    func() time.Time
	onRetry                func(attempt int, bound, delay time.Duration)

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	conn   *websocket.Conn // nil while down
	closed bool
	peerID trackermsg.ID
}

// options are knobs tests turn; New uses the defaults.
type options struct {
	stableAfter time.Duration
	dialTimeout time.Duration
	now         func() time.Time
	// onRetry observes each reconnection delay before it is waited.
	onRetry func(attempt int, bound, delay time.Duration)
}

// New validates cfg and returns a client that connects to the tracker in the
// background and reconnects until Close.
func New(cfg Config, ev Events) (*Client, error) {
	return newClient(cfg, ev, options{})
}

func newClient(cfg Config, ev Events, opt options) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("trackerclient: tracker URL %q: %w", cfg.URL, err)
	}
	if (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("trackerclient: tracker URL %q is not an absolute ws:// or wss:// URL", cfg.URL)
	}
	if cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 {
		return nil, fmt.Errorf("trackerclient: negative back-off (min %v, max %v)", cfg.MinBackoff, cfg.MaxBackoff)
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = defaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(defaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.MinBackoff > cfg.MaxBackoff {
		return nil, fmt.Errorf("trackerclient: MinBackoff %v exceeds MaxBackoff %v", cfg.MinBackoff, cfg.MaxBackoff)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.stableAfter <= 0 {
		opt.stableAfter = defaultStableAfter
	}
	if opt.dialTimeout <= 0 {
		opt.dialTimeout = defaultDialTimeout
	}
	if opt.now == nil {
		opt.now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		url:         u.String(),
		peerID:      cfg.PeerID,
		freshPeerID: cfg.FreshPeerID,
		ev:          ev,
		log:         log.With("tracker", u.Redacted()),
		minBackoff:  cfg.MinBackoff,
		maxBackoff:  cfg.MaxBackoff,
		stableAfter: opt.stableAfter,
		dialTimeout: opt.dialTimeout,
		now:         opt.now,
		onRetry:     opt.onRetry,
		ctx:         ctx,
		cancel:      cancel,
		done:        make(chan struct{}),
	}
	go c.run()
	return c, nil
}

// Connected reports whether the socket to the tracker is up.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// PeerID returns the peer id the client announces under now: Config.PeerID,
// or the last fresh one it took (Events.OnPeerID).
func (c *Client) PeerID() trackermsg.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peerID
}

// Close closes the socket, stops reconnecting and returns once the client's
// goroutine has exited. Later calls do nothing.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	<-c.done
	return nil
}

// Announce sends an announce of a.InfoHash. It returns ErrNotConnected while
// the socket is down, ErrClosed after Close, and an error without sending
// anything when a is invalid or encodes to more than
// trackermsg.MaxMessageSize bytes.
func (c *Client) Announce(ctx context.Context, a Announce) error {
	m, err := c.announceMessage(a)
	if err != nil {
		return err
	}
	return c.send(ctx, "announce", m)
}

func (c *Client) announceMessage(a Announce) (*trackermsg.Message, error) {
	switch a.Event {
	case "", trackermsg.EventStarted, trackermsg.EventStopped, trackermsg.EventCompleted:
	default:
		return nil, fmt.Errorf("trackerclient: announce: unsupported event %q", a.Event)
	}
	if a.NumWant < 0 || a.NumWant > MaxNumWant {
		return nil, fmt.Errorf("trackerclient: announce: numwant %d out of range 0..%d", a.NumWant, MaxNumWant)
	}
	if a.Uploaded < 0 || a.Downloaded < 0 {
		return nil, fmt.Errorf("trackerclient: announce: negative byte count (uploaded %d, downloaded %d)", a.Uploaded, a.Downloaded)
	}
	offers := a.Offers
	if len(offers) > MaxOffersSent {
		offers = offers[:MaxOffersSent]
	}
	var sent []trackermsg.Offer
	if len(offers) > 0 {
		sent = make([]trackermsg.Offer, len(offers))
	}
	for i, o := range offers {
		if o.Offer.Type == "" {
			o.Offer.Type = "offer"
		}
		if err := checkSDP(o.Offer, "offer"); err != nil {
			return nil, fmt.Errorf("trackerclient: announce: offer %d: %w", i, err)
		}
		sent[i] = o
	}
	left := float64(a.Left)
	if a.Left < 0 {
		left = unknownLeft
	}
	infoHash, peerID := a.InfoHash, c.PeerID()
	numWant := a.NumWant
	uploaded, downloaded := float64(a.Uploaded), float64(a.Downloaded)
	return &trackermsg.Message{
		Action:     trackermsg.ActionAnnounce,
		InfoHash:   &infoHash,
		PeerID:     &peerID,
		NumWant:    &numWant,
		Uploaded:   &uploaded,
		Downloaded: &downloaded,
		Left:       &left,
		Event:      a.Event,
		Offers:     sent,
	}, nil
}

// Answer sends this peer's answer sdp to the offer offerID that toPeer sent
// through the tracker for swarm infoHash. Its errors are Announce's.
func (c *Client) Answer(ctx context.Context, infoHash, toPeer, offerID trackermsg.ID, sdp string) error {
	answer := trackermsg.SDP{Type: "answer", SDP: sdp}
	if err := checkSDP(answer, "answer"); err != nil {
		return fmt.Errorf("trackerclient: answer: %w", err)
	}
	peerID := c.PeerID()
	return c.send(ctx, "answer", &trackermsg.Message{
		Action:   trackermsg.ActionAnnounce,
		InfoHash: &infoHash,
		PeerID:   &peerID,
		ToPeerID: &toPeer,
		OfferID:  &offerID,
		Answer:   &answer,
	})
}

func checkSDP(s trackermsg.SDP, want string) error {
	if s.Type != want {
		return fmt.Errorf("type %q, want %q", s.Type, want)
	}
	if s.SDP == "" {
		return errors.New("empty SDP")
	}
	if len(s.SDP) > trackermsg.MaxSDPLen {
		return fmt.Errorf("SDP of %d bytes exceeds %d", len(s.SDP), trackermsg.MaxSDPLen)
	}
	return nil
}

// send encodes m and writes it on the current socket.
func (c *Client) send(ctx context.Context, what string, m *trackermsg.Message) error {
	b, err := trackermsg.Encode(m)
	if err != nil {
		return fmt.Errorf("trackerclient: encode %s: %w", what, err)
	}
	if len(b) > trackermsg.MaxMessageSize {
		return fmt.Errorf("trackerclient: %s of %d bytes exceeds %d", what, len(b), trackermsg.MaxMessageSize)
	}
	c.mu.Lock()
	conn, closed := c.conn, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case conn == nil:
		return ErrNotConnected
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("trackerclient: %s: %w", what, err)
	}
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.mu.Lock()
		closed = c.closed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("trackerclient: %s: %w", what, ctxErr)
		}
		return fmt.Errorf("trackerclient: %s: %w (%w)", what, ErrNotConnected, err)
	}
	return nil
}

// run connects, reads and reconnects until Close.
func (c *Client) run() {
	defer close(c.done)
	attempt := 0
	for {
		conn, err := c.dial()
		if c.ctx.Err() != nil {
			if conn != nil {
				closeConn(conn)
			}
			return
		}
		if err != nil {
			c.log.Debug("tracker connection failed", "attempt", attempt, "err", err)
			c.emitConnect(false, err)
		} else {
			up := c.now()
			c.setConn(conn)
			c.log.Debug("tracker connected")
			c.emitConnect(true, nil)
			err = c.readLoop(conn)
			c.setConn(nil)
			closeConn(conn)
			if c.ctx.Err() != nil {
				return
			}
			if c.now().Sub(up) >= c.stableAfter {
				attempt = 0
			}
			c.log.Debug("tracker connection lost", "err", err)
			c.emitConnect(false, err)
		}
		if !c.wait(attempt) {
			return
		}
		attempt++
	}
}

// dial opens a socket to the tracker. It gives up after dialTimeout or on
// Close; a socket the library opens after that is closed as soon as it is
// open (in the browser, the library cannot abort a dial: see dialContext).
func (c *Client) dial() (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.dialTimeout)
	defer cancel()
	type result struct {
		conn *websocket.Conn
		err  error
	}
	dialed := make(chan result, 1)
	go func() {
		conn, _, err := websocket.Dial(dialContext(ctx), c.url, nil)
		dialed <- result{conn, err}
	}()
	select {
	case r := <-dialed:
		if r.err != nil {
			return nil, fmt.Errorf("trackerclient: connect: %w", r.err)
		}
		// The limit is enforced by readMessage, which drops an oversize
		// message instead of closing the socket as the library's limit
		// would.
		r.conn.SetReadLimit(-1)
		return r.conn, nil
	case <-ctx.Done():
		go func() {
			if r := <-dialed; r.conn != nil {
				closeConn(r.conn)
			}
		}()
		return nil, fmt.Errorf("trackerclient: connect: %w", ctx.Err())
	}
}

// closeConn closes conn with status 1000 (normal closure) and waits at
// most closeWait for the closing handshake.
//
// The socket is never closed with CloseNow, nor left to the library's own
// close when a read's context ends: in the browser those close with status
// 1001 or 1008, which WebSocket.close refuses (it takes only 1000 and
// 3000–4999), so the library reports an error and the socket stays open
// after the client is gone (github.com/coder/websocket issue 478). Natively,
// a socket whose read was cancelled is closed already and this returns at
// once.
func closeConn(conn *websocket.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func (c *Client) setConn(conn *websocket.Conn) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
}

// backoffBound is the upper bound of the delay before reconnection attempt
// attempt+1: MinBackoff doubled attempt times, capped at MaxBackoff.
func backoffBound(minBackoff, maxBackoff time.Duration, attempt int) time.Duration {
	d := minBackoff
	for i := 0; i < attempt && d < maxBackoff; i++ {
		if d > maxBackoff/2 {
			return maxBackoff
		}
		d *= 2
	}
	return min(d, maxBackoff)
}

// wait sleeps a random delay below the back-off bound of attempt. It
// reports false when the client was closed meanwhile.
func (c *Client) wait(attempt int) bool {
	bound := backoffBound(c.minBackoff, c.maxBackoff, attempt)
	delay := rand.N(bound + 1)
	if c.onRetry != nil {
		c.onRetry(attempt, bound, delay)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// readLoop dispatches the socket's messages until it fails.
func (c *Client) readLoop(conn *websocket.Conn) error {
	for {
		data, err := readMessage(c.ctx, conn)
		if errors.Is(err, errTooBig) {
			c.log.Warn("dropped oversize tracker message", "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("trackerclient: read: %w", err)
		}
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		if err := c.dispatch(data); err != nil {
			return err
		}
	}
}

var errTooBig = fmt.Errorf("message exceeds %d bytes", trackermsg.MaxMessageSize)

// readMessage reads one message of at most trackermsg.MaxMessageSize bytes.
// A larger one is read to its end and discarded, and errTooBig returned: the
// socket stays usable.
func readMessage(ctx context.Context, conn *websocket.Conn) ([]byte, error) {
	_, r, err := conn.Reader(ctx)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, trackermsg.MaxMessageSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) <= trackermsg.MaxMessageSize {
		return data, nil
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: got %d", errTooBig, int64(len(data))+n)
}

// dispatch decodes one message and calls the matching callback. What it
// cannot use is logged and dropped. It returns an error when the connection
// must end: the tracker refused the peer id, and the client took a fresh
// one.
func (c *Client) dispatch(data []byte) error {
	m, err := trackermsg.Decode(data)
	if err != nil {
		c.log.Warn("dropped undecodable tracker message", "err", err, "len", len(data))
		return nil
	}
	if m.WarningMessage != "" {
		c.log.Warn("tracker warning", "message", m.WarningMessage)
	}
	kind := m.Kind()
	if (kind == trackermsg.KindRelayedOffer || kind == trackermsg.KindAnswer) &&
		(m.InfoHash == nil || m.PeerID == nil || m.OfferID == nil) {
		// Decode refuses these already; never trust that with a nil pointer.
		c.log.Warn("dropped incomplete offer or answer")
		return nil
	}
	peerID := c.PeerID()
	switch kind {
	case trackermsg.KindFailure:
		if strings.HasPrefix(m.FailureReason, trackermsg.ReasonPeerIDInUse) && c.freshPeerID {
			return c.renew(m)
		}
		c.log.Warn("tracker failure", "reason", m.FailureReason)
		if c.ev.OnFailure != nil {
			c.ev.OnFailure(m.InfoHash, m.FailureReason)
		}
	case trackermsg.KindAnnounceResponse:
		if m.InfoHash == nil {
			c.log.Warn("dropped announce response without info_hash")
			return nil
		}
		var interval time.Duration
		if m.Interval != nil {
			interval = time.Duration(*m.Interval) * time.Second
		}
		if c.ev.OnResponse != nil {
			c.ev.OnResponse(*m.InfoHash, interval, deref(m.Complete), deref(m.Incomplete))
		}
	case trackermsg.KindRelayedOffer:
		if *m.PeerID == peerID {
			c.log.Debug("dropped our own relayed offer")
			return nil
		}
		if c.ev.OnOffer != nil {
			c.ev.OnOffer(*m.InfoHash, *m.PeerID, *m.OfferID, m.Offer.SDP)
		}
	case trackermsg.KindAnswer:
		if *m.PeerID == peerID || (m.ToPeerID != nil && *m.ToPeerID != peerID) {
			c.log.Warn("dropped answer not meant for this peer", "from", m.PeerID.String())
			return nil
		}
		if c.ev.OnAnswer != nil {
			c.ev.OnAnswer(*m.InfoHash, *m.PeerID, *m.OfferID, m.Answer.SDP)
		}
	default:
		c.log.Debug("dropped unexpected tracker message", "kind", int(kind), "action", m.Action)
	}
	return nil
}

// renew takes a fresh peer id after the tracker refused the current
// one in failure m, reports it, and returns the error that ends the
// connection.
func (c *Client) renew(m *trackermsg.Message) error {
	c.mu.Lock()
	old := c.peerID
	c.peerID = newPeerID(old)
	fresh := c.peerID
	c.mu.Unlock()
	swarm := "?"
	if m.InfoHash != nil {
		swarm = m.InfoHash.String()
	}
	c.log.Warn("tracker refused the peer id; reconnecting under a fresh one", "swarm", swarm, "old", old.String(), "new", fresh.String())
	if c.ev.OnPeerID != nil && c.ctx.Err() == nil {
		c.ev.OnPeerID(fresh)
	}
	return fmt.Errorf("%w (swarm %s): %q", ErrPeerIDInUse, swarm, m.FailureReason)
}

// newPeerID returns a random peer id that keeps the client prefix of old
// ("-XX0000-", the Azureus style WebTorrent uses), if it has one.
func newPeerID(old trackermsg.ID) trackermsg.ID {
	var id trackermsg.ID
	keep := 0
	if old[0] == '-' && old[7] == '-' {
		keep = 8
		copy(id[:], old[:keep])
	}
	_, _ = crand.Read(id[keep:]) // crypto/rand.Read never returns an error
	return id
}

func (c *Client) emitConnect(connected bool, err error) {
	if c.ev.OnConnect != nil && c.ctx.Err() == nil {
		c.ev.OnConnect(connected, err)
	}
}

func deref(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}
