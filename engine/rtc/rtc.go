// Package rtc implements the transport interfaces with pion/webrtc: one
// ordered, reliable data channel per peer connection, set up with complete
// (non-trickle) SDP as WebTorrent trackers relay it.
//
// The same code runs natively (tests, tools) and in the browser, where pion's
// js build wraps the page's RTCPeerConnection. Natively, received messages go
// to a bounded queue whose full state holds pion's read loop, so a slow reader
// throttles the sender through SCTP flow control. In js a callback must never
// block, so the queue grows, up to a cap (Config.MaxRecvQueue): a peer that
// sends more than that ahead of its reader is at fault, and the conn closes
// with ErrRecvOverflow, which the engine counts against the peer.
package rtc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/p2pmedia/p2pmedia/engine/transport"
)

// Defaults applied by NewConnector to zero Config fields.
const (
	// DefaultLabel is the label of the data channel.
	DefaultLabel = "p2pmedia"
	// DefaultHighWater is the buffered amount above which Send blocks.
	DefaultHighWater = 1 << 20
	// DefaultLowWater is the buffered amount at which blocked senders wake.
	DefaultLowWater = 256 << 10
	// DefaultGatherTimeout bounds ICE gathering for one offer or answer.
	DefaultGatherTimeout = 5 * time.Second
	// DefaultMaxMessageSize is the largest message sent by default. Native
	// pion reads messages into a 65,535-byte buffer and a larger message
	// kills the receiving channel, so no frame may exceed it.
	DefaultMaxMessageSize = 65535
	// DefaultMaxRecvQueue caps the bytes received and not yet read: 64
	// messages of DefaultMaxMessageSize. The engine asks a peer for at most
	// three pieces at a time (1.5 MiB at the default piece length), so an
	// honest peer stays well below it.
	DefaultMaxRecvQueue = 64 * DefaultMaxMessageSize
)

var (
	// ErrClosed is wrapped by the errors of a Conn, Offer or Answer that was
	// closed, locally or by the peer, or whose peer connection failed.
	ErrClosed = errors.New("rtc: connection closed")
	// ErrMessageTooLarge is wrapped by the error Send returns for a message
	// larger than MaxMessageSize.
	ErrMessageTooLarge = errors.New("rtc: message too large")
	// ErrRecvOverflow is wrapped, with ErrClosed, by the errors of a Conn
	// whose peer sent more than Config.MaxRecvQueue bytes ahead of Recv: the
	// conn was closed. It has a method PeerFault reporting true: the error
	// blames the peer, not the network.
	ErrRecvOverflow error = peerFault("rtc: receive queue overflow")
)

// peerFault is an error that blames the remote peer.
type peerFault string

func (e peerFault) Error() string { return string(e) }

// PeerFault reports that the peer broke a bound of the transport.
func (peerFault) PeerFault() bool { return true }

// Config configures a Connector. The zero value is usable.
type Config struct {
	// WebRTC is the peer connection configuration (ICE servers etc.).
	WebRTC webrtc.Configuration
	// API creates the peer connections; nil means webrtc.NewAPI() defaults.
	API *webrtc.API
	// Label is the data channel label, DefaultLabel if empty. The answering
	// side only accepts a channel with this label.
	Label string
	// HighWater is the buffered amount above which Send blocks
	// (DefaultHighWater if 0).
	HighWater uint64
	// LowWater is the bufferedAmountLowThreshold that wakes blocked senders
	// (DefaultLowWater if 0; at most HighWater).
	LowWater uint64
	// GatherTimeout bounds ICE gathering (DefaultGatherTimeout if 0). When it
	// expires the SDP carries the candidates gathered so far.
	GatherTimeout time.Duration
	// MaxMessageSize caps outgoing messages (DefaultMaxMessageSize if 0). A
	// peer's a=max-message-size from its SDP lowers it further.
	MaxMessageSize int
	// MaxRecvQueue caps the bytes (plus 64 per message) received and not
	// yet read (DefaultMaxRecvQueue if 0). A message that would pass it
	// closes the conn with ErrRecvOverflow. In js nothing else bounds the
	// queue; natively the read loop waits at 1 MiB, so only a lower cap
	// matters there.
	MaxRecvQueue int
}

// Connector creates data channel connections from SDP offers and answers. It
// implements transport.Connector and is safe for concurrent use.
type Connector struct {
	cfg Config
}

var _ transport.Connector = (*Connector)(nil)

// NewConnector returns a Connector for cfg, with defaults for zero fields.
func NewConnector(cfg Config) *Connector {
	if cfg.API == nil {
		cfg.API = webrtc.NewAPI()
	}
	if cfg.Label == "" {
		cfg.Label = DefaultLabel
	}
	if cfg.HighWater == 0 {
		cfg.HighWater = DefaultHighWater
	}
	if cfg.LowWater == 0 {
		cfg.LowWater = DefaultLowWater
	}
	if cfg.LowWater > cfg.HighWater {
		// A sender waits while above HighWater for the amount to cross
		// LowWater: a threshold above HighWater might never be crossed.
		cfg.LowWater = cfg.HighWater
	}
	if cfg.GatherTimeout <= 0 {
		cfg.GatherTimeout = DefaultGatherTimeout
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MaxRecvQueue <= 0 {
		cfg.MaxRecvQueue = DefaultMaxRecvQueue
	}
	return &Connector{cfg: cfg}
}

// Offer creates a peer connection with the data channel and gathers its
// complete offer SDP. The returned Offer must be accepted or closed.
func (c *Connector) Offer(ctx context.Context) (transport.Offer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rtc: offer: %w", err)
	}
	p, err := newConn(c.cfg)
	if err != nil {
		return nil, err
	}
	ordered := true
	dc, err := p.plat.createDataChannel(p.pc, c.cfg.Label, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: create data channel: %w", err)
	}
	p.attach(dc)
	desc, err := p.pc.CreateOffer(nil)
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: create offer: %w", err)
	}
	sdp, err := p.gather(ctx, desc)
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: offer: %w", err)
	}
	return &offer{c: p, sdp: sdp}, nil
}

// Answer creates a peer connection for a remote offer and gathers its
// complete answer SDP. The returned Answer must be waited for or closed.
func (c *Connector) Answer(ctx context.Context, offerSDP string) (transport.Answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rtc: answer: %w", err)
	}
	p, err := newConn(c.cfg)
	if err != nil {
		return nil, err
	}
	label := c.cfg.Label
	p.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != label || !p.attach(dc) {
			_ = dc.Close()
		}
	})
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: apply offer: %w", err)
	}
	p.limitMessageSize(offerSDP)
	desc, err := p.pc.CreateAnswer(nil)
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: create answer: %w", err)
	}
	sdp, err := p.gather(ctx, desc)
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("rtc: answer: %w", err)
	}
	return &answer{c: p, sdp: sdp}, nil
}

// offer implements transport.Offer.
type offer struct {
	c   *conn
	sdp string
}

// SDP returns the complete offer SDP.
func (o *offer) SDP() string { return o.sdp }

// Accept applies the answer and waits for the channel to open. On error the
// attempt is over and its resources are freed.
func (o *offer) Accept(ctx context.Context, answerSDP string) (transport.Conn, error) {
	if err := o.c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answerSDP}); err != nil {
		_ = o.c.Close()
		return nil, fmt.Errorf("rtc: apply answer: %w", err)
	}
	o.c.limitMessageSize(answerSDP)
	return o.c.waitOpen(ctx)
}

// Close frees the attempt unless Accept succeeded; then the Conn owns it.
func (o *offer) Close() error { return o.c.abandon() }

// answer implements transport.Answer.
type answer struct {
	c   *conn
	sdp string
}

// SDP returns the complete answer SDP.
func (a *answer) SDP() string { return a.sdp }

// Wait waits for the channel to open. On error the attempt is over and its
// resources are freed.
func (a *answer) Wait(ctx context.Context) (transport.Conn, error) { return a.c.waitOpen(ctx) }

// Close frees the attempt unless Wait succeeded; then the Conn owns it.
func (a *answer) Close() error { return a.c.abandon() }
