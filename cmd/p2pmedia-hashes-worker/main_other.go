//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main explains how to build the Worker: natively there is nothing to run.
func main() {
	fmt.Fprintln(os.Stderr, "p2pmedia-hashes-worker is a Cloudflare Worker: build it with 'make hashes-worker' (GOOS=js GOARCH=wasm) and run it in workerd or deploy it with wrangler; natively, run 'p2pmedia hashes'")
	os.Exit(2)
}
