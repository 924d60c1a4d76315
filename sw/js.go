//go:build js && wasm

package main

import "syscall/js"

// The service worker's own helpers; those both programs use are in
// internal/jsutil.

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
