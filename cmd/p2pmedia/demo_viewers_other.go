//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
)

// viewerSet is the --viewers part of the demo, which needs Linux network
// namespaces.
type viewerSet struct{}

// startViewers reports that --viewers is not available on this system.
func startViewers(context.Context, demoOptions, *http.Server, net.Addr, chan<- error, io.Writer, io.Writer) (*viewerSet, error) {
	return nil, errors.New("--viewers needs Linux network namespaces")
}

// Close does nothing.
func (*viewerSet) Close() error { return nil }
