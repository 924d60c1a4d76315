package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/p2pmedia/p2pmedia/engine/trackermsg"
	"github.com/p2pmedia/p2pmedia/tracker"
)

// shutdownTimeout bounds a clean shutdown of the tracker command.
const shutdownTimeout = 15 * time.Second

// runTracker serves a WebTorrent tracker until ctx ends.
func runTracker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("p2pmedia tracker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8000", "`address` to listen on, host:port (port 0 picks a free one)")
	interval := fs.Duration("interval", tracker.DefaultInterval, "announce interval advertised to clients (at least 1s)")
	peerTimeout := fs.Duration("peer-timeout", 0, "drop peers that stopped announcing for this long (default 2×interval + 30s)")
	maxConns := fs.Int("max-conns", tracker.DefaultMaxConns, "maximum open connections")
	maxSwarms := fs.Int("max-swarms-per-conn", tracker.DefaultMaxSwarmsPerConn, "maximum swarms one connection may join")
	maxOffers := fs.Int("max-offers", tracker.DefaultMaxOffersRelayed, fmt.Sprintf("maximum offers relayed per announce (1 to %d)", trackermsg.MaxOffers))
	maxPerIP := fs.Int("max-conns-per-ip", tracker.DefaultMaxConnsPerAddr, "maximum open connections from one client address (an IPv6 /64 counts as one); more get HTTP 429. A page holds one connection, so the default leaves room for a large office behind one NAT")
	announceRate := fs.Float64("announce-rate", tracker.DefaultAnnounceRate, "announces per second one connection may send on average (the refill rate of its token bucket); more get a failure reason, and a connection that keeps sending over twice as many is closed. The default is what an engine in -max-swarms-per-conn swarms may need")
	announceBurst := fs.Int("announce-burst", tracker.DefaultAnnounceBurst, "announces one connection may send at once (the size of its token bucket): an engine announces each swarm two or three times on connecting")
	trustProxy := fs.Bool("trust-proxy", false, "take the client address from the last hop of X-Forwarded-For (only behind a reverse proxy that sets it)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: p2pmedia tracker [flags]")
		fmt.Fprintln(fs.Output(), "\nServes a WebTorrent tracker: WebSocket on /, JSON counters on /stats.")
		fmt.Fprintln(fs.Output(), "\nFlags:")
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
	switch {
	case *interval < time.Second:
		return usagef("-interval %v: must be at least 1s", *interval)
	case *peerTimeout < 0:
		return usagef("-peer-timeout %v: must not be negative", *peerTimeout)
	case *peerTimeout != 0 && *peerTimeout <= *interval:
		return usagef("-peer-timeout %v: must be longer than -interval %v", *peerTimeout, *interval)
	case *maxConns < 1:
		return usagef("-max-conns %d: must be at least 1", *maxConns)
	case *maxSwarms < 1:
		return usagef("-max-swarms-per-conn %d: must be at least 1", *maxSwarms)
	case *maxOffers < 1 || *maxOffers > trackermsg.MaxOffers:
		return usagef("-max-offers %d: must be between 1 and %d", *maxOffers, trackermsg.MaxOffers)
	case *maxPerIP < 1:
		return usagef("-max-conns-per-ip %d: must be at least 1", *maxPerIP)
	case !(*announceRate > 0) || math.IsInf(*announceRate, 0):
		return usagef("-announce-rate %v: must be a positive number", *announceRate)
	case *announceBurst < 1:
		return usagef("-announce-burst %d: must be at least 1", *announceBurst)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("-log-level %q: want debug, info, warn or error", *logLevel)
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		return usagef("-log-format %q: want text or json", *logFormat)
	}
	logger := slog.New(handler)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	srv := tracker.New(tracker.Config{
		Interval:         *interval,
		PeerTimeout:      *peerTimeout,
		MaxConns:         *maxConns,
		MaxSwarmsPerConn: *maxSwarms,
		MaxOffersRelayed: *maxOffers,
		MaxConnsPerAddr:  *maxPerIP,
		AnnounceRate:     *announceRate,
		AnnounceBurst:    *announceBurst,
		TrustProxy:       *trustProxy,
		Logger:           logger,
	})
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	addr := displayAddr(ln.Addr())
	logger.Info("tracker listening", "addr", ln.Addr().String(), "interval", *interval, "max_conns", *maxConns,
		"max_conns_per_ip", *maxPerIP, "announce_rate", *announceRate, "announce_burst", *announceBurst, "trust_proxy", *trustProxy)
	fmt.Fprintf(stdout, "tracker: ws://%s/ (stats: http://%s/stats)\n", addr, addr)

	var serveErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case serveErr = <-served:
		serveErr = fmt.Errorf("serve: %w", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Shutdown stops accepting and waits for plain HTTP requests; the
	// tracker's WebSocket connections are hijacked, so srv.Close ends them.
	if err := hs.Shutdown(sctx); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("shutdown: %w", err)
	}
	if err := srv.Close(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("close tracker: %w", err)
	}
	if serveErr == nil {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	}
	if serveErr == nil {
		logger.Info("tracker stopped")
	}
	return serveErr
}

// validateListen checks a -listen value before trying to listen on it.
func validateListen(listen string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("-listen %q: want host:port, like 127.0.0.1:8000: %v", listen, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("-listen %q: port %q is not a number from 0 to 65535", listen, port)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return usagef("-listen %q: %q is not an IP address or host name", listen, host)
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// displayAddr returns the address to print for clients: the listener's,
// with "localhost" in place of an unspecified (all interfaces) IP.
func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ta.IP == nil || ta.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(ta.Port))
	}
	return ta.String()
}
