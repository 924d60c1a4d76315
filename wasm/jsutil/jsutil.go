//go:build js && wasm

// Package jsutil holds the few helpers every browser-side package needs to
// call JavaScript safely from Go: waiting for a promise without blocking the
// JS event loop, turning thrown JS values into Go errors, and reading
// optional fields of JS objects without panicking.
//
// Await must only be called from a goroutine, never from inside a js.FuncOf
// callback: the promise settles on the JS event loop, which a blocked
// callback holds, and the program deadlocks.
package jsutil

import (
	"context"
	"strings"
	"syscall/js"
)

// Error is a JavaScript exception or promise rejection as a Go error.
type Error struct {
	// Name is the error's name ("TypeError", "AbortError", ...), empty when
	// the thrown value was not an Error object.
	Name string
	// Message is the error's message, or the thrown value as a string.
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Name == "" {
		return e.Message
	}
	return e.Name + ": " + e.Message
}

// ErrorOf converts a thrown or rejected JS value into an *Error.
func ErrorOf(v js.Value) *Error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if msg.Type() == js.TypeString {
			e := &Error{Message: msg.String()}
			if name.Type() == js.TypeString {
				e.Name = name.String()
			}
			return e
		}
	}
	return &Error{Message: stringify(v)}
}

// stringify renders any JS value with String(v), which never throws for the
// values a rejection carries in practice; a throwing toString gives "?".
func stringify(v js.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "?"
		}
	}()
	return js.Global().Call("String", v).String()
}

// Try runs fn and returns the JS exception it raised, if any, as an *Error;
// so do the panics of syscall/js for a property of undefined or a call of a
// non-function, which a page's odd environment can cause. Other panics
// propagate.
func Try(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case js.Error:
				err = ErrorOf(e.Value)
			case *js.ValueError:
				err = &Error{Name: "ValueError", Message: e.Error()}
			case string: // syscall/js: a method that is not a function
				if !strings.HasPrefix(e, "syscall/js: ") {
					panic(r)
				}
				err = &Error{Name: "TypeError", Message: e}
			default:
				panic(r)
			}
		}
	}()
	fn()
	return nil
}

// Call calls v[method](args...) and returns the result, or the exception it
// threw (or the reason it could not be called) as an error.
func Call(v js.Value, method string, args ...any) (res js.Value, err error) {
	err = Try(func() { res = v.Call(method, args...) })
	return res, err
}

// result is what a promise settled with.
type result struct {
	v   js.Value
	err error
}

// Await waits until the promise p settles and returns its value or its
// rejection as an *Error, or ctx's error when ctx ends first (the promise is
// then left to settle on its own). A value that is not a promise is returned
// as is. Await must not be called from a js.FuncOf callback.
func Await(ctx context.Context, p js.Value) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil
	}
	ch := make(chan result, 1)
	var onOK, onErr js.Func
	// Only one of the two runs, once: it releases both, so nothing leaks
	// when ctx ends before the promise settles.
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: arg(args)}
		onOK.Release()
		onErr.Release()
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: ErrorOf(arg(args))}
		onOK.Release()
		onErr.Release()
		return nil
	})
	if _, err := Call(p, "then", onOK, onErr); err != nil {
		onOK.Release()
		onErr.Release()
		return js.Undefined(), err
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

func arg(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// IsObject reports whether v is a non-null object or a function, whose
// properties can be read.
func IsObject(v js.Value) bool {
	t := v.Type()
	return t == js.TypeObject || t == js.TypeFunction
}

// Get returns v[name], or undefined when v is not an object.
func Get(v js.Value, name string) js.Value {
	if !IsObject(v) {
		return js.Undefined()
	}
	return v.Get(name)
}

// String returns v[name] when it is a string, def otherwise.
func String(v js.Value, name, def string) string {
	if f := Get(v, name); f.Type() == js.TypeString {
		return f.String()
	}
	return def
}

// Number returns v[name] when it is a number, def otherwise (NaN included).
func Number(v js.Value, name string, def float64) float64 {
	if f := Get(v, name); f.Type() == js.TypeNumber {
		if x := f.Float(); x == x {
			return x
		}
	}
	return def
}

// Bool returns v[name] when it is a boolean, def otherwise.
func Bool(v js.Value, name string, def bool) bool {
	if f := Get(v, name); f.Type() == js.TypeBoolean {
		return f.Bool()
	}
	return def
}

// Strings returns v[name] as a list of strings: a string gives one element,
// an array gives its string elements; anything else gives nil.
func Strings(v js.Value, name string) []string {
	f := Get(v, name)
	switch {
	case f.Type() == js.TypeString:
		return []string{f.String()}
	case IsArray(f):
		var out []string
		for i, n := 0, f.Length(); i < n; i++ {
			if e := f.Index(i); e.Type() == js.TypeString {
				out = append(out, e.String())
			}
		}
		return out
	}
	return nil
}

// IsArray reports whether v is a JS array.
func IsArray(v js.Value) bool {
	return v.Type() == js.TypeObject && js.Global().Get("Array").Call("isArray", v).Bool()
}

// Uint8Array returns a new Uint8Array holding a copy of b, in a fresh
// ArrayBuffer of exactly len(b) bytes.
func Uint8Array(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}
