//go:build js

package trackerclient

import "context"

// dialContext returns the context websocket.Dial gets for a dial bounded by
// ctx. In the browser the library answers the end of the dial's context by
// closing the connecting socket with status 1008, which WebSocket.close
// refuses: the socket would open later, out of reach, and stay open. The
// library's dial is therefore never cancelled there; the browser ends it
// (open or failed), and dial closes a socket that opens too late.
func dialContext(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}
