// Package tracker is a WebTorrent tracker: it introduces peers of the same
// swarm to each other by relaying WebRTC offers and answers over WebSocket.
//
// It speaks the protocol of bittorrent-tracker, wt-tracker and aquatic_ws (see
// package trackermsg), so any WebTorrent client can use it. Server is an
// http.Handler: a WebSocket upgrade on any path opens a tracker connection,
// and GET /stats reports counters as JSON.
//
// Every connection has one reader (the HTTP handler goroutine) and one writer
// goroutine fed by a bounded queue. A client that lets its queue fill up, or
// takes longer than Config.WriteTimeout to accept one message, is
// disconnected; it never slows down the others. When a connection ends, its
// goroutines stop and its peers leave every swarm.
//
// A peer id is a claim, not an identity: in each swarm it belongs to the
// connection that announced it until that connection sends "stopped" or
// closes, and only that connection may announce, offer or answer under it
// there. Strangers are confined further by a cap on the connections of one
// address and a token bucket on each connection's announces.
package tracker

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
)

// Defaults of Config.
const (
	DefaultInterval         = 120 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultWriteQueue       = 64
	DefaultMaxSwarmsPerConn = 64
	DefaultMaxOffersRelayed = trackermsg.MaxOffers
	DefaultMaxConns         = 10000
	DefaultMaxBadMessages   = 20
	DefaultProbeTimeout     = 10 * time.Second

	// DefaultMaxConnsPerAddr leaves room for a large office behind one NAT:
	// a page holds one connection per tracker (two while reconnecting), and
	// a viewer may have a few pages open.
	DefaultMaxConnsPerAddr = 500

	// DefaultAnnounceBurst and DefaultAnnounceRate never refuse the
	// engine's client in DefaultMaxSwarmsPerConn swarms: on connecting it
	// announces each swarm, then again with offers, and once more if the
	// swarm grew meanwhile (the burst); after that, each swarm announces at
	// most once per engine retry delay, two seconds, and otherwise once per
	// interval (the rate).
	DefaultAnnounceBurst = 4 * DefaultMaxSwarmsPerConn
	DefaultAnnounceRate  = DefaultMaxSwarmsPerConn / 2 // per second
)

// refusalBurstFactor sets how many announces beyond the rate a connection
// may have refused at once, as a multiple of AnnounceBurst, before it is
// closed. Refusals earn their allowance back at AnnounceRate, so only a
// client that keeps announcing at more than twice the rate is closed; an
// engine joining MaxSwarmsPerConn swarms at once never is.
const refusalBurstFactor = 4

// maxScrapeAll bounds the swarms listed by a scrape without info_hash, which
// keeps the reply well under trackermsg.MaxMessageSize.
const maxScrapeAll = 300

// Config tunes a Server. A zero or negative field takes its default.
type Config struct {
	// Interval is the announce interval advertised to clients (default 120 s;
	// advertised in whole seconds, at least 1).
	Interval time.Duration
	// PeerTimeout removes a peer from a swarm it has not announced to for
	// this long (default 2×Interval + 30 s).
	PeerTimeout time.Duration
	// IdleTimeout closes a connection that sent no message for this long
	// (default PeerTimeout).
	IdleTimeout time.Duration
	// WriteTimeout bounds sending one message to a client; a client slower
	// than that is disconnected (default 10 s).
	WriteTimeout time.Duration
	// WriteQueue is how many messages may wait for one client; a client that
	// lets its queue fill up is disconnected (default 64).
	WriteQueue int
	// MaxSwarmsPerConn bounds the swarms one connection may join (default 64).
	MaxSwarmsPerConn int
	// MaxOffersRelayed bounds the offers relayed for one announce (default
	// and upper bound trackermsg.MaxOffers, 20). Fewer are relayed when the
	// announce carries fewer offers, asks for a smaller numwant, or the swarm
	// has fewer other peers.
	MaxOffersRelayed int
	// MaxConns bounds the open connections; more are refused with HTTP 503
	// (default 10000).
	MaxConns int
	// MaxBadMessages is how many malformed or unexpected messages a
	// connection may send in its lifetime, each answered with a failure
	// reason; one more closes it with status 1008 (default 20).
	MaxBadMessages int
	// MaxConnsPerAddr bounds the open connections from one client address
	// (an IPv6 /64 counts as one); more are refused with HTTP 429 (default
	// 500).
	MaxConnsPerAddr int
	// AnnounceRate is how many announces per second one connection may send
	// on average, and AnnounceBurst how many at once (defaults 32 and 256). An
	// announce beyond them is answered with a failure reason and not
	// applied; "stopped" is never refused. A connection that keeps sending
	// more than twice the rate is closed with status 1008.
	AnnounceRate  float64
	AnnounceBurst int
	// TrustProxy takes the client address from the last hop of
	// X-Forwarded-For instead of the TCP peer, for a tracker behind a
	// reverse proxy that sets it. Off, the header is ignored: any client
	// could set it.
	TrustProxy bool
	// ProbeTimeout bounds the wait for the pong of the ping sent to a
	// connection holding a peer id that another connection claims; one that
	// does not answer is gone (a socket its client dropped without closing)
	// and is disconnected, which frees the id (default 10 s).
	ProbeTimeout time.Duration
	// Logger receives structured logs (default: discarded).
	Logger *slog.Logger
}

// withDefaults returns cfg with every unset field at its default.
func (cfg Config) withDefaults() Config {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.PeerTimeout <= 0 {
		cfg.PeerTimeout = 2*cfg.Interval + 30*time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = cfg.PeerTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.WriteQueue <= 0 {
		cfg.WriteQueue = DefaultWriteQueue
	}
	if cfg.MaxSwarmsPerConn <= 0 {
		cfg.MaxSwarmsPerConn = DefaultMaxSwarmsPerConn
	}
	if cfg.MaxOffersRelayed <= 0 || cfg.MaxOffersRelayed > trackermsg.MaxOffers {
		cfg.MaxOffersRelayed = DefaultMaxOffersRelayed
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxBadMessages <= 0 {
		cfg.MaxBadMessages = DefaultMaxBadMessages
	}
	if cfg.MaxConnsPerAddr <= 0 {
		cfg.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if cfg.AnnounceRate <= 0 {
		cfg.AnnounceRate = DefaultAnnounceRate
	}
	if cfg.AnnounceBurst <= 0 {
		cfg.AnnounceBurst = DefaultAnnounceBurst
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Stats is a snapshot of a Server's state and counters, as served on /stats.
type Stats struct {
	// Swarms is the number of swarms with at least one peer.
	Swarms int `json:"swarms"`
	// Peers is the number of (swarm, peer) memberships.
	Peers int `json:"peers"`
	// Connections is the number of connections counted against MaxConns:
	// from the WebSocket handshake until their goroutines have stopped.
	Connections int `json:"connections"`
	// MessagesIn counts messages received from clients.
	MessagesIn uint64 `json:"messages_in"`
	// MessagesOut counts messages written to clients.
	MessagesOut uint64 `json:"messages_out"`
	// OffersRelayed counts offers queued for delivery to another peer.
	OffersRelayed uint64 `json:"offers_relayed"`
	// AnswersRelayed counts answers queued for delivery to the offering peer.
	AnswersRelayed uint64 `json:"answers_relayed"`
	// AnswersDropped counts answers to a peer that is not in the swarm.
	AnswersDropped uint64 `json:"answers_dropped"`
	// AnswersRefused counts answers from a connection that has not
	// announced in the answer's swarm.
	AnswersRefused uint64 `json:"answers_refused"`
	// PeerIDsRefused counts announces refused because another connection
	// holds their peer_id in the swarm.
	PeerIDsRefused uint64 `json:"peer_ids_refused"`
	// HolderPongs counts pings to a connection holding a claimed peer id
	// that it answered: it keeps the id.
	HolderPongs uint64 `json:"holder_pongs"`
	// HoldersGone counts such pings left unanswered: the connection was
	// disconnected and its ids freed.
	HoldersGone uint64 `json:"holders_gone"`
	// AnnouncesLimited counts announces beyond the rate: refused, except
	// "stopped".
	AnnouncesLimited uint64 `json:"announces_limited"`
	// ConnsRefused counts connections refused by MaxConns or
	// MaxConnsPerAddr.
	ConnsRefused uint64 `json:"conns_refused"`
	// BadMessages counts malformed or unexpected messages.
	BadMessages uint64 `json:"bad_messages"`
	// SlowDisconnects counts clients disconnected for not reading fast enough.
	SlowDisconnects uint64 `json:"slow_disconnects"`
	// Goroutines is runtime.NumGoroutine() of the whole process.
	Goroutines int `json:"goroutines"`
}

// Server is a WebTorrent tracker. It is an http.Handler; create it with New
// and stop it with Close.
type Server struct {
	cfg      Config
	log      *slog.Logger
	interval int // Config.Interval in seconds, as advertised

	mu       sync.Mutex // guards the fields below and every swarm, peer and conn.peers
	swarms   map[trackermsg.ID]*swarm
	conns    map[*conn]struct{}
	numPeers int
	closed   bool

	addrMu  sync.Mutex
	perAddr map[netip.Addr]int // open connections by addrKey; guarded by addrMu

	now func() time.Time // the clock of the announce rate limits

	admitted atomic.Int64  // connections counted against MaxConns (Stats.Connections)
	nextID   atomic.Uint64 // connection ids, for logs
	handlers sync.WaitGroup
	stop     chan struct{}
	swept    chan struct{}
	once     sync.Once

	messagesIn      atomic.Uint64
	messagesOut     atomic.Uint64
	offersRelayed   atomic.Uint64
	answersRelayed  atomic.Uint64
	answersDropped  atomic.Uint64
	answersRefused  atomic.Uint64
	peerIDsRefused  atomic.Uint64
	holderPongs     atomic.Uint64
	holdersGone     atomic.Uint64
	limited         atomic.Uint64
	connsRefused    atomic.Uint64
	badMessages     atomic.Uint64
	slowDisconnects atomic.Uint64
}

// New returns a running Server configured by cfg. It starts a goroutine that
// expires silent peers; Close stops it.
func New(cfg Config) *Server {
	return newServer(cfg, time.Now)
}

// newServer is New with the clock of the rate limits, which tests set.
func newServer(cfg Config, now func() time.Time) *Server {
	cfg = cfg.withDefaults()
	interval := int(cfg.Interval.Round(time.Second) / time.Second)
	if interval < 1 {
		interval = 1
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		interval: interval,
		swarms:   make(map[trackermsg.ID]*swarm),
		conns:    make(map[*conn]struct{}),
		perAddr:  make(map[netip.Addr]int),
		now:      now,
		stop:     make(chan struct{}),
		swept:    make(chan struct{}),
	}
	go s.expireLoop()
	return s
}

// ServeHTTP serves GET /stats as JSON and a WebSocket tracker connection on
// any other path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/stats" {
		s.serveStats(w, r)
		return
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "this is a WebTorrent tracker: connect with a WebSocket", http.StatusUpgradeRequired)
		return
	}
	s.serveWebSocket(w, r)
}

// Stats returns a snapshot of the server's state and counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Swarms: len(s.swarms), Peers: s.numPeers}
	s.mu.Unlock()
	st.Connections = int(s.admitted.Load())
	st.MessagesIn = s.messagesIn.Load()
	st.MessagesOut = s.messagesOut.Load()
	st.OffersRelayed = s.offersRelayed.Load()
	st.AnswersRelayed = s.answersRelayed.Load()
	st.AnswersDropped = s.answersDropped.Load()
	st.AnswersRefused = s.answersRefused.Load()
	st.PeerIDsRefused = s.peerIDsRefused.Load()
	st.HolderPongs = s.holderPongs.Load()
	st.HoldersGone = s.holdersGone.Load()
	st.AnnouncesLimited = s.limited.Load()
	st.ConnsRefused = s.connsRefused.Load()
	st.BadMessages = s.badMessages.Load()
	st.SlowDisconnects = s.slowDisconnects.Load()
	st.Goroutines = runtime.NumGoroutine()
	return st
}

// Close refuses new connections, closes open ones with status 1001 (going
// away) and returns once every connection's goroutines have stopped. A client
// that does not answer the close handshake is cut off after a few seconds.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		close(s.stop)

		var closing sync.WaitGroup
		for _, c := range conns {
			closing.Go(func() {
				_ = c.ws.Close(websocket.StatusGoingAway, "tracker shutting down")
			})
		}
		closing.Wait()
		s.handlers.Wait()
		<-s.swept
		s.log.Info("tracker closed")
	})
	return nil
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, err := json.Marshal(s.Stats())
	if err != nil {
		http.Error(w, "encoding stats failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(append(b, '\n'))
}

// expireLoop removes peers that stopped announcing, until Close.
func (s *Server) expireLoop() {
	defer close(s.swept)
	every := s.cfg.PeerTimeout / 4
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			if n := s.expire(now); n > 0 {
				s.log.Debug("expired silent peers", "peers", n)
			}
		}
	}
}

// expire removes the peers not seen for PeerTimeout and returns their number.
func (s *Server) expire(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sw := range s.swarms {
		// Walk backwards: removal moves the last peer into the hole, and that
		// one has been checked already.
		for i := len(sw.list) - 1; i >= 0; i-- {
			if p := sw.list[i]; now.Sub(p.lastSeen) > s.cfg.PeerTimeout {
				s.removePeerLocked(p)
				n++
			}
		}
	}
	return n
}

// headerHasToken reports whether the comma-separated header key contains
// token, ignoring case.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
