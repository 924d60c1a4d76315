package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/p2pmedia/p2pmedia/hashservice"
)

// hashesShutdownWait bounds how long a stop waits for answers in flight.
const hashesShutdownWait = 5 * time.Second

// runHashes serves the piece-hash service (GET /v1/pieces, docs/hashes.md)
// for the origins of --allow until ctx ends.
func runHashes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("p2pmedia hashes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "`address` to serve on, host:port (port 0 picks a free one)")
	allow := fs.String("allow", "", "`origins` whose media the service hashes, comma-separated: host (http or https on the default port), *.domain, or scheme://host[:port] (required)")
	maxSize := fs.Int64("max-size", hashservice.DefaultMaxSize, "`bytes` one answer may hash; a larger resource or range gets 413")
	maxConcurrent := fs.Int("max-concurrent", hashservice.DefaultMaxConcurrent, "answers computed at once; one more gets 503")
	timeout := fs.Duration("timeout", hashservice.DefaultTimeout, "bound on computing one answer; past it, 504")
	cacheBytes := fs.Int64("cache-bytes", hashservice.DefaultCacheBytes, "`bytes` of answers kept in memory (0 keeps none)")
	cacheTTL := fs.Duration("cache-ttl", hashservice.DefaultCacheTTL, "how long an answer is fresh (its Cache-Control max-age); then the origin's validators are checked again")
	chunkSize := fs.Int64("chunk-size", hashservice.DefaultChunkSize, "`bytes` of each ranged request to an origin")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "Usage: p2pmedia hashes --allow ORIGIN[,ORIGIN...] [flags]")
		fmt.Fprintln(out, "\nServes the piece-hash service: GET /v1/pieces?url=URL&pieceLength=N[&start=A&end=B]")
		fmt.Fprintln(out, "answers the SHA-256 of every piece of the media at URL, fetched from its")
		fmt.Fprintln(out, "origin, as JSON (docs/hashes.md). Only the origins of --allow are fetched.")
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := validateListen(*listen); err != nil {
		return err
	}
	var origins []string
	for o := range strings.SplitSeq(*allow, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	switch {
	case len(origins) == 0:
		return usagef("-allow: name the origins whose media the service hashes, like -allow cdn.example.com")
	case *maxSize < 1:
		return usagef("-max-size %d: must be at least 1", *maxSize)
	case *maxConcurrent < 1:
		return usagef("-max-concurrent %d: must be at least 1", *maxConcurrent)
	case *timeout <= 0:
		return usagef("-timeout %v: must be positive", *timeout)
	case *cacheBytes < 0:
		return usagef("-cache-bytes %d: must not be negative", *cacheBytes)
	case *cacheTTL <= 0:
		return usagef("-cache-ttl %v: must be positive", *cacheTTL)
	case *chunkSize < 1:
		return usagef("-chunk-size %d: must be at least 1", *chunkSize)
	}
	if *cacheBytes == 0 {
		*cacheBytes = -1 // Config's "none"
	}
	h, err := hashservice.New(hashservice.Config{
		Allow:         origins,
		MaxSize:       *maxSize,
		MaxConcurrent: *maxConcurrent,
		Timeout:       *timeout,
		CacheBytes:    *cacheBytes,
		CacheTTL:      *cacheTTL,
		ChunkSize:     *chunkSize,
	})
	if err != nil {
		return usagef("-allow: %v", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "hashes: http://%s%s\n", displayAddr(ln.Addr()), hashservice.Path)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		serveErr = fmt.Errorf("serve: %w", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), hashesShutdownWait)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		if err := hs.Close(); err != nil && serveErr == nil {
			serveErr = fmt.Errorf("close server: %w", err)
		}
	}
	return serveErr
}

// demoHashesPrefix is where "p2pmedia demo" serves its piece-hash service:
// GET /__hashes/v1/pieces?url=…&pieceLength=…[&start=…&end=…].
const demoHashesPrefix = "/__hashes"

// newDemoHashes returns the demo's piece-hash service, to mount under
// demoHashesPrefix. It hashes the demo's own media: any http URL, by
// whatever host name, address or port a page reached the demo (a proxy in
// front of it, say), is fetched from the demo's own listener at addr and
// nowhere else, so it is no proxy to anyone's origin.
func newDemoHashes(addr net.Addr) (http.Handler, error) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("demo hashes: listener address %v is not TCP", addr)
	}
	dialAddr := addr.String()
	if ta.IP == nil || ta.IP.IsUnspecified() {
		dialAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	var d net.Dialer
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", dialAddr)
		},
		DisableCompression: true,
	}}
	h, err := hashservice.New(hashservice.Config{
		Allowed: func(u *url.URL) bool { return u.Scheme == "http" },
		Fetcher: hashservice.NewHTTPFetcher(client),
	})
	if err != nil {
		return nil, fmt.Errorf("demo hashes: %w", err)
	}
	return http.StripPrefix(demoHashesPrefix, h), nil
}
