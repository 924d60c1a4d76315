//go:build js

package rtc

import (
	"fmt"
	"sync"
	"syscall/js"

	"github.com/pion/webrtc/v3"
)

// recvQueueLimit is 0 in js: the receive queue never holds the callback,
// because a message callback that blocks deadlocks the wasm runtime. It is
// capped instead (Config.MaxRecvQueue): a peer that sends past the cap is
// at fault and the conn closes.
const recvQueueLimit = 0

// platformReceives is true in js: the platform takes the channel's messages
// itself. pion's js OnMessage hands each message to a goroutine of its own,
// and goroutines do not run in the order they were started: two messages
// arriving together could reach the queue swapped (a handshake after the
// bitfield that followed it, a piece's frames out of order).
const platformReceives = true

// platform sets binaryType "arraybuffer" on every data channel of one
// RTCPeerConnection: pion never sets it and Firefox defaults to Blob, which
// pion reads by blocking on a FileReader. It also receives the messages of
// the first channel with the connection's label, in order, from the same
// event that delivers them. pion's DataChannel hides its JS value, so the
// channels are caught where the page creates or receives them.
type platform struct {
	pc       js.Value
	label    string
	listener js.Func // "datachannel" event listener
	onMsg    js.Func // "message" event listener of the adopted channel

	mu       sync.Mutex
	channels []js.Value
	adopted  js.Value // the channel whose messages go to recv
}

// newPlatform returns the platform of pc. recv takes each message of the
// adopted channel: its length, and a function that copies it into Go, which
// recv calls only when it keeps the message.
func newPlatform(pc *webrtc.PeerConnection, label string, recv func(n int, read func() []byte)) *platform {
	p := &platform{pc: pc.JSValue(), label: label}
	p.listener = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			p.track(args[0].Get("channel"))
		}
		return nil
	})
	p.onMsg = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			data := args[0].Get("data")
			recv(messageLen(data), func() []byte { return messageBytes(data) })
		}
		return nil
	})
	p.pc.Call("addEventListener", "datachannel", p.listener)
	return p
}

// messageLen is the length of a message's data, an ArrayBuffer or a string
// (whose UTF-16 length bounds its UTF-8 length within a factor of 3).
func messageLen(data js.Value) int {
	if data.Type() == js.TypeString {
		return 3 * data.Length()
	}
	return data.Get("byteLength").Int()
}

// messageBytes copies a message's data (an ArrayBuffer, as binaryType is
// set; a string from a peer that sends text) into Go.
func messageBytes(data js.Value) []byte {
	if data.Type() == js.TypeString {
		return []byte(data.String())
	}
	u := js.Global().Get("Uint8Array").New(data)
	b := make([]byte, u.Length())
	js.CopyBytesToGo(b, u)
	return b
}

// track sets binaryType on ch, adopts it when it is the first channel with
// the connection's label (as conn.attach does), and remembers it for
// release.
func (p *platform) track(ch js.Value) {
	if ch.Type() != js.TypeObject {
		return
	}
	ch.Set("binaryType", "arraybuffer")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.channels = append(p.channels, ch)
	if p.adopted.IsUndefined() && ch.Get("label").String() == p.label {
		p.adopted = ch
		ch.Call("addEventListener", "message", p.onMsg)
	}
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
	p.mu.Lock()
	adopted := p.adopted
	p.mu.Unlock()
	if !adopted.IsUndefined() {
		adopted.Call("removeEventListener", "message", p.onMsg)
	}
	p.onMsg.Release()
}
