//go:build !js

package rtc

import "github.com/pion/webrtc/v3"

// recvQueueLimit bounds the receive queue natively (bytes plus a small
// per-message overhead). When it is full pion's read loop waits, the SCTP
// receive window closes and the sender's buffered amount rises.
const recvQueueLimit = 1 << 20

// platform holds what differs between the native and the js build. Natively
// there is nothing to hold.
type platform struct{}

// platformReceives is false natively: messages come through pion's
// OnMessage, in order, from its read loop.
const platformReceives = false

func newPlatform(*webrtc.PeerConnection, string, func(int, func() []byte)) *platform {
	return &platform{}
}

// createDataChannel creates the offerer's data channel.
func (*platform) createDataChannel(pc *webrtc.PeerConnection, label string, init *webrtc.DataChannelInit) (*webrtc.DataChannel, error) {
	return pc.CreateDataChannel(label, init)
}

// release frees what newPlatform set up.
func (*platform) release() {}
