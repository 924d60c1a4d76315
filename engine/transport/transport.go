// Package transport defines the peer-to-peer transport the swarm runs over: a
// reliable, ordered, message-oriented channel between two peers and the
// signaling-level factory that creates one from an SDP offer/answer exchange.
//
// The engine depends only on these interfaces. Package rtc implements them with
// pion/webrtc, natively (Go tests, tools) and in the browser (pion's js build
// wraps the browser's RTCPeerConnection).
package transport

import (
	"context"
	"errors"
)

// Conn is an open, reliable, ordered message channel to one remote peer.
// Implementations are safe for one concurrent sender and one concurrent
// receiver.
type Conn interface {
	// Send queues one message. It blocks while the channel's send buffer is
	// above its high-water mark, so callers never queue unbounded data. It
	// fails once the channel is closed or ctx is done. msg may be reused by the
	// caller after Send returns.
	Send(ctx context.Context, msg []byte) error
	// Recv returns the next message. The returned slice belongs to the caller.
	Recv(ctx context.Context) ([]byte, error)
	// MaxMessageSize is the largest message this side may send to the peer.
	MaxMessageSize() int
	// Close tears the connection down; pending Send and Recv calls fail.
	Close() error
}

// Offer is an outgoing connection attempt waiting for the remote answer.
type Offer interface {
	// SDP is the complete (non-trickle) offer SDP, ready for a tracker.
	SDP() string
	// Accept applies the remote answer and waits until the channel is open.
	Accept(ctx context.Context, answerSDP string) (Conn, error)
	// Close abandons the attempt and frees its resources.
	Close() error
}

// Answer is an incoming connection attempt whose answer has been created.
type Answer interface {
	// SDP is the complete (non-trickle) answer SDP to relay back.
	SDP() string
	// Wait blocks until the channel is open.
	Wait(ctx context.Context) (Conn, error)
	// Close abandons the attempt and frees its resources.
	Close() error
}

// Connector creates peer connections for the swarm's signaling.
type Connector interface {
	// Offer starts a connection and gathers its offer completely.
	Offer(ctx context.Context) (Offer, error)
	// Answer accepts a remote offer and gathers the answer completely.
	Answer(ctx context.Context, offerSDP string) (Answer, error)
}

// PeerFault is implemented by the errors of a Conn that blame the remote
// peer rather than the network: it broke a bound of the transport (sent more
// than the receiver may be made to hold, say). The swarm bans such a peer.
type PeerFault interface {
	error
	// PeerFault reports whether the error blames the peer.
	PeerFault() bool
}

// IsPeerFault reports whether err, or an error it wraps, blames the peer.
func IsPeerFault(err error) bool {
	var f PeerFault
	return errors.As(err, &f) && f.PeerFault()
}
