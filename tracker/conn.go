package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

var (
	errSlowReader    = errors.New("client does not read its messages fast enough")
	errFinished      = errors.New("connection finished")
	errTooManyBad    = errors.New("too many malformed messages")
	errAnnouncesFast = errors.New("announcing too fast for too long")
)

// conn is one client's WebSocket connection.
type conn struct {
	srv *Server
	ws  *websocket.Conn
	log *slog.Logger

	// ctx ends when the connection must stop at once (slow client, write
	// error, end of the handler); cancelling it during a read or write
	// closes the socket.
	ctx    context.Context
	cancel context.CancelCauseFunc
	out    chan []byte   // messages for the writer goroutine
	quit   chan struct{} // closed when the writer must flush its queue and stop
	done   chan struct{} // closed when the writer goroutine has returned
	gone   atomic.Bool   // set once the reader stopped: nothing more is queued
	slowed atomic.Bool   // set once the client was disconnected for being slow

	peers map[trackermsg.ID]*peer // this connection's peer in each swarm, by info hash; guarded by srv.mu
	bad   int                     // malformed messages so far; reader goroutine only

	// announces limits the announces; refusals the announces refused by
	// it, beyond which the connection is closed. Reader goroutine only.
	announces, refusals tokenBucket

	probing bool           // a ping to this connection is out; guarded by srv.mu
	probes  sync.WaitGroup // that ping's goroutine
}

// serveWebSocket runs one tracker connection until it ends.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "tracker shutting down", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done()

	if !s.admit() {
		s.connsRefused.Add(1)
		s.log.Warn("connection refused: too many connections", "remote", r.RemoteAddr, "max_conns", s.cfg.MaxConns)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	defer s.admitted.Add(-1)

	addr := clientAddr(r, s.cfg.TrustProxy)
	key := addrKey(addr)
	if !s.admitAddr(key) {
		s.connsRefused.Add(1)
		s.log.Warn("connection refused: too many connections from one address", "remote", r.RemoteAddr, "addr", addr, "max_conns_per_addr", s.cfg.MaxConnsPerAddr)
		http.Error(w, "too many connections from your address", http.StatusTooManyRequests)
		return
	}
	defer s.releaseAddr(key)

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// A public tracker serves pages of every origin, like the other
		// WebTorrent trackers; there is no cookie-based state to protect.
		InsecureSkipVerify: true,
	})
	if err != nil {
		s.log.Debug("websocket handshake failed", "remote", r.RemoteAddr, "err", err)
		return // Accept has written the HTTP error.
	}
	ws.SetReadLimit(trackermsg.MaxMessageSize)

	ctx, cancel := context.WithCancelCause(context.Background())
	log := s.log.With("conn", s.nextID.Add(1), "remote", r.RemoteAddr)
	if s.cfg.TrustProxy {
		log = log.With("addr", addr)
	}
	c := &conn{
		srv:       s,
		ws:        ws,
		log:       log,
		ctx:       ctx,
		cancel:    cancel,
		out:       make(chan []byte, s.cfg.WriteQueue),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		peers:     make(map[trackermsg.ID]*peer),
		announces: newTokenBucket(s.cfg.AnnounceRate, s.cfg.AnnounceBurst),
		refusals:  newTokenBucket(s.cfg.AnnounceRate, min(s.cfg.AnnounceBurst, math.MaxInt/refusalBurstFactor)*refusalBurstFactor),
	}
	defer cancel(errFinished)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close(websocket.StatusGoingAway, "tracker shutting down")
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.log.Debug("connection opened")

	go c.writeLoop()
	code, reason, cause := c.readLoop()

	c.gone.Store(true)
	s.unregister(c)
	close(c.quit)
	<-c.done
	if code != 0 {
		_ = ws.Close(code, reason)
	} else {
		_ = ws.CloseNow()
	}
	cancel(errFinished)
	c.probes.Wait()
	c.log.Debug("connection closed", "cause", cause)
}

// admit counts a new connection against MaxConns, or reports false when
// there is no room.
func (s *Server) admit() bool {
	for {
		n := s.admitted.Load()
		if n >= int64(s.cfg.MaxConns) {
			return false
		}
		if s.admitted.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// admitAddr counts a new connection from address key against
// MaxConnsPerAddr, or reports false when that address has no room.
func (s *Server) admitAddr(key netip.Addr) bool {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	if s.perAddr[key] >= s.cfg.MaxConnsPerAddr {
		return false
	}
	s.perAddr[key]++
	return true
}

// releaseAddr uncounts a connection from address key.
func (s *Server) releaseAddr(key netip.Addr) {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	if s.perAddr[key]--; s.perAddr[key] <= 0 {
		delete(s.perAddr, key)
	}
}

// probeLocked checks, unless a check is under way, that c is still there:
// it pings c, and disconnects it when no pong comes within ProbeTimeout.
// Called when another connection claims a peer id that c holds: a client
// that dropped its socket without closing it (a laptop changing networks)
// would otherwise keep its ids from its own next connection until they
// expire (PeerTimeout). A live client answers pings by itself (browsers do,
// and every WebSocket library while it reads), so a claim never takes an id
// from one.
//
// c holds a peer, so it is not unregistered yet, and the probes.Add below
// happens before serveWebSocket waits for probes.
func (c *conn) probeLocked() {
	if c.probing {
		return
	}
	c.probing = true
	c.probes.Add(1)
	go func() {
		defer c.probes.Done()
		timeout := c.srv.cfg.ProbeTimeout
		ctx, cancel := context.WithTimeout(c.ctx, timeout)
		err := c.ws.Ping(ctx)
		cancel()
		c.srv.mu.Lock()
		c.probing = false
		c.srv.mu.Unlock()
		switch {
		case err == nil:
			c.srv.holderPongs.Add(1)
		case c.ctx.Err() == nil && !errors.Is(err, net.ErrClosed):
			c.srv.holdersGone.Add(1)
			c.log.Info("disconnecting a client that does not answer pings", "timeout", timeout, "err", err)
			c.cancel(fmt.Errorf("no pong within %v: %w", timeout, err))
		}
	}()
}

// readLoop handles the client's messages until the connection fails, goes
// idle or misbehaves. It returns why it stopped, and a non-zero code when the
// connection should end with a close handshake of that status (after the
// writer flushed its queue).
func (c *conn) readLoop() (code websocket.StatusCode, reason string, cause error) {
	s := c.srv
	for {
		ctx, cancel := context.WithTimeout(c.ctx, s.cfg.IdleTimeout)
		_, data, err := c.ws.Read(ctx)
		idle := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		if err != nil {
			switch {
			case c.ctx.Err() != nil:
				cause = context.Cause(c.ctx)
			case idle:
				cause = fmt.Errorf("idle for %v", s.cfg.IdleTimeout)
			case errors.Is(err, websocket.ErrMessageTooBig):
				cause = fmt.Errorf("message larger than %d bytes", trackermsg.MaxMessageSize)
			case websocket.CloseStatus(err) != -1:
				cause = fmt.Errorf("closed with status %d", websocket.CloseStatus(err))
			default:
				cause = fmt.Errorf("read: %w", err)
			}
			c.cancel(cause)
			return 0, "", cause
		}
		s.messagesIn.Add(1)
		if err := s.handle(c, data); err != nil {
			c.log.Warn("closing connection", "reason", err, "bad_messages", c.bad)
			return websocket.StatusPolicyViolation, err.Error(), err
		}
	}
}

// writeLoop writes queued messages until the connection stops. Asked to quit,
// it first flushes what is queued.
func (c *conn) writeLoop() {
	defer close(c.done)
	for {
		select {
		case <-c.ctx.Done():
			return
		case b := <-c.out:
			if !c.write(b) {
				return
			}
		case <-c.quit:
			for {
				select {
				case b := <-c.out:
					if !c.write(b) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// write sends one message; on failure it stops the connection.
func (c *conn) write(b []byte) bool {
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.WriteTimeout)
	err := c.ws.Write(ctx, websocket.MessageText, b)
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	cancel()
	switch {
	case err == nil:
		c.srv.messagesOut.Add(1)
		return true
	case timedOut:
		c.slow("write timed out")
	default:
		c.cancel(fmt.Errorf("write: %w", err))
	}
	return false
}

// send queues m for the client. It never blocks: if the queue is full the
// client is too slow and is disconnected.
func (c *conn) send(m *trackermsg.Message) bool {
	b, err := trackermsg.Encode(m)
	if err != nil {
		c.log.Error("encoding a message failed", "action", m.Action, "err", err)
		return false
	}
	if c.gone.Load() || c.ctx.Err() != nil {
		return false
	}
	select {
	case c.out <- b:
		return true
	default:
		c.slow("write queue full")
		return false
	}
}

// slow disconnects a client that does not keep up with its messages.
func (c *conn) slow(reason string) {
	if !c.slowed.CompareAndSwap(false, true) {
		return
	}
	c.cancel(errSlowReader)
	c.srv.slowDisconnects.Add(1)
	c.log.Warn("disconnecting slow client", "reason", reason, "write_queue", c.srv.cfg.WriteQueue, "write_timeout", c.srv.cfg.WriteTimeout)
}
