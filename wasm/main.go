//go:build js && wasm

// Command wasm is the page-side engine, compiled to p2p-engine.wasm. It runs
// the swarm (engine/) in the page with the browser's fetch (wasm/jsfetch),
// Cache Storage (wasm/cachestore), WebRTC (engine/rtc over pion's js build)
// and WebSocket (coder/websocket's js build), and serves the service
// worker's piece requests over a MessagePort.
//
// On start it sets globalThis.__p2pmedia = {version, protocolVersion,
// newEngine(cfg, emit)} as docs/browser-runtime.md describes, then waits
// forever. newEngine returns the WasmEngine object, or an Error object when
// the configuration is invalid (a Go callback cannot throw into JS).
//
// Every JS callback here returns at once: work that waits for anything
// (a promise, a lock held across I/O, a timer) runs in a goroutine.
//
// Go memory: the pieces being fetched (the engine's buffers), the hot copies
// of the store (a few MiB), the piece a port request is answering (copied
// into a fresh ArrayBuffer that is transferred to the service worker), and
// pion's copy of each data channel message. Stored pieces live in Cache
// Storage, or, where it is unusable, in a memory store bounded by
// min(diskCacheLimit, 128 MiB).
package main

import (
	"syscall/js"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/internal/version"
)

func main() {
	api := js.Global().Get("Object").New()
	api.Set("version", version.Version)
	api.Set("protocolVersion", identity.ProtocolVersion)
	api.Set("newEngine", js.FuncOf(func(_ js.Value, args []js.Value) any {
		cfg, emit := js.Undefined(), js.Undefined()
		if len(args) > 0 {
			cfg = args[0]
		}
		if len(args) > 1 {
			emit = args[1]
		}
		w, err := newWasmEngine(cfg, emit)
		if err != nil {
			return js.Global().Get("Error").New(err.Error())
		}
		return w.object()
	}))
	js.Global().Set("__p2pmedia", api)
	select {}
}
