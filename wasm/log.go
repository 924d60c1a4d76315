//go:build js && wasm

package main

import (
	"context"
	"log/slog"
	"strings"
	"syscall/js"

	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// newLogger returns the engine's logger for the page's logLevel: records at
// or above it go to the console, errors to console.error, the rest to
// console.warn. "none" (or an empty level) discards everything.
func newLogger(level string) *slog.Logger {
	var min slog.Level
	switch level {
	case "debug":
		min = slog.LevelDebug
	case "warn":
		min = slog.LevelWarn
	case "error":
		min = slog.LevelError
	default:
		return slog.New(slog.DiscardHandler)
	}
	opts := &slog.HandlerOptions{
		Level: min,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // the console stamps its own time
			}
			return a
		},
	}
	return slog.New(&levelHandler{
		min:  min,
		err:  slog.NewTextHandler(consoleWriter("error"), opts),
		warn: slog.NewTextHandler(consoleWriter("warn"), opts),
	})
}

// consoleWriter writes each formatted record to one console method.
type consoleWriter string

// Write implements io.Writer.
func (w consoleWriter) Write(p []byte) (int, error) {
	line := "p2pmedia: " + strings.TrimSuffix(string(p), "\n")
	_ = jsutil.Try(func() { js.Global().Get("console").Call(string(w), line) })
	return len(p), nil
}

// levelHandler sends error records to one handler and the others to
// another.
type levelHandler struct {
	min       slog.Level
	err, warn slog.Handler
}

// Enabled implements slog.Handler.
func (h *levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

// Handle implements slog.Handler.
func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		return h.err.Handle(ctx, r)
	}
	return h.warn.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &levelHandler{min: h.min, err: h.err.WithAttrs(as), warn: h.warn.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{min: h.min, err: h.err.WithGroup(name), warn: h.warn.WithGroup(name)}
}
