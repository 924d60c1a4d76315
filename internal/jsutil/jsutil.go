//go:build js && wasm

// Package jsutil holds the few helpers both browser-side programs (the page
// wasm and the service worker's) need to call JavaScript safely from Go:
// waiting for a promise without blocking the JS event loop, turning thrown
// JS values into Go errors and back, handing Go work to JS as a promise, and
// reading optional values and fields of JS objects without panicking.
//
// Await must only be called from a goroutine, never from inside a js.FuncOf
// callback: the promise settles on the JS event loop, which a blocked
// callback holds, and the program deadlocks.
package jsutil

import (
	"errors"
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
	// Value is the thrown value itself (undefined when the error did not
	// come from JS): ErrorValue gives it back to JS unchanged.
	Value js.Value
}

// Context is what Await needs of a context.Context: defined here, so that
// the service worker's program, which waits with AwaitDone, does without
// the context package.
type Context interface {
	Done() <-chan struct{}
	Err() error
}

// ErrCancelled is AwaitDone's error when its done channel closes first.
var ErrCancelled = errors.New("jsutil: cancelled")

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
			e := &Error{Message: msg.String(), Value: v}
			if name.Type() == js.TypeString {
				e.Name = name.String()
			}
			return e
		}
	}
	return &Error{Message: stringify(v), Value: v}
}

// ErrorValue returns err as a JS value: the thrown value of an *Error that
// came from JS, else a new Error with err's message.
func ErrorValue(err error) js.Value {
	var je *Error
	if errors.As(err, &je) && !je.Value.IsUndefined() {
		return je.Value
	}
	return js.Global().Get("Error").New(err.Error())
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
			var ok bool
			if err, ok = jsPanic(r); !ok {
				panic(r)
			}
		}
	}()
	fn()
	return nil
}

// panicError describes a panic that is not a JS one. Not with fmt, which
// the service worker's program does without: it is large.
func panicError(r any) error {
	switch e := r.(type) {
	case error:
		return errors.New("jsutil: panic: " + e.Error())
	case string:
		return errors.New("jsutil: panic: " + e)
	}
	return errors.New("jsutil: panic")
}

// jsPanic returns the panic value r as an *Error when it is one that
// calling JS raises, and false for any other.
func jsPanic(r any) (error, bool) {
	switch e := r.(type) {
	case js.Error:
		return ErrorOf(e.Value), true
	case *js.ValueError:
		return &Error{Name: "ValueError", Message: e.Error()}, true
	case string: // syscall/js: a method that is not a function
		if strings.HasPrefix(e, "syscall/js: ") {
			return &Error{Name: "TypeError", Message: e}, true
		}
	}
	return nil, false
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
func Await(ctx Context, p js.Value) (js.Value, error) {
	v, err := AwaitDone(p, ctx.Done())
	if err == ErrCancelled {
		return v, ctx.Err()
	}
	return v, err
}

// AwaitDone is Await that gives up with ErrCancelled when done closes
// first.
func AwaitDone(p js.Value, done <-chan struct{}) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil
	}
	ch := make(chan result, 1)
	var onOK, onErr js.Func
	// Only one of the two runs, once: it releases both, so nothing leaks
	// when ctx ends before the promise settles.
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: Arg(args, 0)}
		onOK.Release()
		onErr.Release()
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: ErrorOf(Arg(args, 0))}
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
	case <-done:
		return js.Undefined(), ErrCancelled
	}
}

// Promise returns a JS promise settled by fn, which runs on a goroutine of
// its own: resolved with its value, or rejected with its error (see
// ErrorValue). A JS exception thrown inside fn rejects the promise instead of
// ending the program.
func Promise(fn func() (js.Value, error)) js.Value {
	exec := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := Arg(args, 0), Arg(args, 1)
		go func() {
			v, err := Protect(fn)
			if err != nil {
				reject.Invoke(ErrorValue(err))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(exec) // calls exec at once
	exec.Release()
	return p
}

// Protect runs fn and turns any panic into an error: the JS ones as Try
// does, the others (a bug, whatever input caused it) wrapped, so that one
// request's failure does not end the program that serves the others.
func Protect(fn func() (js.Value, error)) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			v = js.Undefined()
			var ok bool
			if err, ok = jsPanic(r); !ok {
				err = panicError(r)
			}
		}
	}()
	return fn()
}

// Arg returns args[i], or undefined when there are fewer arguments.
func Arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// AsString returns v when it is a JS string, "" otherwise.
func AsString(v js.Value) string {
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// AsInt returns v when it is a JS number holding an integer that a double
// represents exactly.
func AsInt(v js.Value) (int64, bool) {
	if v.Type() != js.TypeNumber {
		return 0, false
	}
	f := v.Float()
	const maxExact = 1 << 53
	if f != f || f < -maxExact || f > maxExact || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// AsStrings returns the non-empty strings of the JS array v, at most max of
// them; anything else gives none.
func AsStrings(v js.Value, max int) []string {
	if !IsArray(v) {
		return nil
	}
	n := min(v.Length(), max)
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if s := AsString(v.Index(i)); s != "" {
			out = append(out, s)
		}
	}
	return out
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
