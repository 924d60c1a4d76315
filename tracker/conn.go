package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

var (
	errSlowReader = errors.New("client does not read its messages fast enough")
	errFinished   = errors.New("connection finished")
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
		s.log.Warn("connection refused: too many connections", "remote", r.RemoteAddr, "max_conns", s.cfg.MaxConns)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	defer s.admitted.Add(-1)

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
	c := &conn{
		srv:    s,
		ws:     ws,
		log:    s.log.With("conn", s.nextID.Add(1), "remote", r.RemoteAddr),
		ctx:    ctx,
		cancel: cancel,
		out:    make(chan []byte, s.cfg.WriteQueue),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		peers:  make(map[trackermsg.ID]*peer),
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
		if !s.handle(c, data) {
			c.log.Warn("closing connection: too many malformed messages", "bad_messages", c.bad)
			return websocket.StatusPolicyViolation, "too many malformed messages", errors.New("too many malformed messages")
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
