//go:build js && wasm

package main

import "testing"

// TestWarmUp checks that the warm-up's made-up request and response pass
// every step of a direct response, so that none of them stays for the first
// real request to compile.
func TestWarmUp(t *testing.T) {
	if !warmUp() {
		t.Fatal("warmUp stopped at a step: the steps after it stay cold")
	}
}
