//go:build !js

package trackerclient

import "context"

// dialContext returns the context websocket.Dial gets for a dial bounded by
// ctx: ctx itself, since the native library aborts a dial cleanly when its
// context ends (see dial_js.go for the browser).
func dialContext(ctx context.Context) context.Context { return ctx }
