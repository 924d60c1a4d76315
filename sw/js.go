//go:build js && wasm

package main

import (
	"errors"
	"syscall/js"
)

// errCancelled reports that the consumer of a stream cancelled it.
var errCancelled = errors.New("p2p-sw: cancelled")

// object returns a new, empty JavaScript object.
func object() js.Value { return js.Global().Get("Object").New() }

// header returns the value of the header name of a Request or Response, or ""
// when it has none.
func header(r js.Value, name string) string {
	v := r.Get("headers").Call("get", name)
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// result is what a settled promise gave.
type result struct {
	v   js.Value
	err error
}

// await waits for the promise p to settle and returns its value, or its
// rejection reason as a js.Error. It must run on a goroutine of its own,
// never inside a js.FuncOf callback.
func await(p js.Value) (js.Value, error) { return awaitDone(p, nil) }

// awaitDone is await that gives up with errCancelled when done is closed
// first. The callbacks stay registered until p settles and release
// themselves then.
func awaitDone(p js.Value, done <-chan struct{}) (js.Value, error) {
	ch := make(chan result, 1)
	var onOK, onErr js.Func
	settle := func(r result) {
		ch <- r
		onOK.Release()
		onErr.Release()
	}
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		settle(result{v: arg(args, 0)})
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		settle(result{err: js.Error{Value: arg(args, 0)}})
		return nil
	})
	p.Call("then", onOK, onErr)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-done:
		return js.Undefined(), errCancelled
	}
}

// arg returns args[i], or undefined when there are fewer arguments.
func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// promise returns a JavaScript promise settled by fn, which runs on a
// goroutine of its own: resolved with its value, or rejected with its error.
// A panic in fn (a JavaScript exception thrown at a call) rejects the promise
// instead of ending the program.
func promise(fn func() (js.Value, error)) js.Value {
	exec := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := arg(args, 0), arg(args, 1)
		go func() {
			v, err := protect(fn)
			if err != nil {
				reject.Invoke(errorValue(err))
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

// protect runs fn and turns a panic into an error.
func protect(fn func() (js.Value, error)) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = errors.New("p2p-sw: panic")
			}
		}
	}()
	return fn()
}

// errorValue returns err as a JavaScript value: the original value of a
// js.Error, or a new Error with err's message.
func errorValue(err error) js.Value {
	var je js.Error
	if errors.As(err, &je) {
		return je.Value
	}
	return js.Global().Get("Error").New(err.Error())
}

// number returns v as an integer when it is a JavaScript number holding an
// integer that a double represents exactly.
func number(v js.Value) (int64, bool) {
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

// str returns v as a string when it is a JavaScript string, and "" otherwise.
func str(v js.Value) string {
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// strList returns the strings of the JavaScript array v, at most max of
// them; anything else gives none.
func strList(v js.Value, max int) []string {
	if !js.Global().Get("Array").Call("isArray", v).Bool() {
		return nil
	}
	n := min(v.Length(), max)
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if s := str(v.Index(i)); s != "" {
			out = append(out, s)
		}
	}
	return out
}
