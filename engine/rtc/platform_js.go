//go:build js

package rtc

import (
	"fmt"
	"sync"
	"syscall/js"

	"github.com/pion/webrtc/v3"
)

// recvQueueLimit is 0 in js: the receive queue is unbounded, because a
// message callback that blocks deadlocks the wasm runtime. The peer protocol
// bounds the data in flight.
const recvQueueLimit = 0

// platform sets binaryType "arraybuffer" on every data channel of one
// RTCPeerConnection: pion never sets it and Firefox defaults to Blob, which
// pion reads by blocking on a FileReader. pion's DataChannel hides its JS
// value, so the channels are caught where the page creates or receives them.
type platform struct {
	pc       js.Value
	listener js.Func // "datachannel" event listener

	mu       sync.Mutex
	channels []js.Value
}

func newPlatform(pc *webrtc.PeerConnection) *platform {
	p := &platform{pc: pc.JSValue()}
	p.listener = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			p.track(args[0].Get("channel"))
		}
		return nil
	})
	p.pc.Call("addEventListener", "datachannel", p.listener)
	return p
}

// track sets binaryType on ch and remembers it for release.
func (p *platform) track(ch js.Value) {
	if ch.Type() != js.TypeObject {
		return
	}
	ch.Set("binaryType", "arraybuffer")
	p.mu.Lock()
	p.channels = append(p.channels, ch)
	p.mu.Unlock()
}

// createDataChannel creates the offerer's data channel through pion while a
// wrapper of the RTCPeerConnection's createDataChannel, set as an own
// property for the duration of the call, catches the JS channel. The wrapper
// runs synchronously and never blocks.
func (p *platform) createDataChannel(pc *webrtc.PeerConnection, label string, init *webrtc.DataChannelInit) (*webrtc.DataChannel, error) {
	orig := p.pc.Get("createDataChannel")
	var callErr error
	hook := js.FuncOf(func(this js.Value, args []js.Value) (res any) {
		defer func() {
			if r := recover(); r != nil {
				callErr = fmt.Errorf("createDataChannel: %v", r)
				res = js.Null()
			}
		}()
		a := make([]any, 0, len(args)+1)
		a = append(a, this)
		for _, v := range args {
			a = append(a, v)
		}
		ch := orig.Call("call", a...)
		p.track(ch)
		return ch
	})
	defer hook.Release()
	p.pc.Set("createDataChannel", hook)
	defer p.pc.Delete("createDataChannel")

	dc, err := pc.CreateDataChannel(label, init)
	if err == nil {
		err = callErr
	}
	if err != nil {
		return nil, err
	}
	return dc, nil
}

// release detaches every handler pion left on the closed connection and its
// channels (pion releases its js.Funcs on Close, but a late event would still
// call them) and removes the datachannel listener.
func (p *platform) release() {
	p.mu.Lock()
	channels := p.channels
	p.channels = nil
	p.mu.Unlock()
	for _, ch := range channels {
		for _, h := range []string{"onopen", "onclose", "onclosing", "onmessage", "onerror", "onbufferedamountlow"} {
			ch.Set(h, js.Null())
		}
	}
	for _, h := range []string{"onicecandidate", "onicegatheringstatechange", "oniceconnectionstatechange",
		"onconnectionstatechange", "onsignalingstatechange", "ondatachannel", "onnegotiationneeded"} {
		p.pc.Set(h, js.Null())
	}
	p.pc.Call("removeEventListener", "datachannel", p.listener)
	p.listener.Release()
}
