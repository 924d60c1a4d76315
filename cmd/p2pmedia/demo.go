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
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/p2pmedia/p2pmedia/tracker"
)

// Limits and defaults of the demo command.
const (
	// maxViewers bounds --viewers: every viewer is a browser page with its
	// own engine, and the machine the demo runs on may be small.
	maxViewers = 16
	// demoTrackerInterval is the announce interval of the embedded tracker:
	// shorter than a public tracker's, so that viewers that come and go find
	// each other quickly.
	demoTrackerInterval = 30 * time.Second
	// demoShutdownWait bounds how long a stop waits for requests in flight.
	demoShutdownWait = 5 * time.Second
	// defaultViewerPage is the page the --viewers browsers open.
	defaultViewerPage = "mp4"
	// defaultNamespace is the network namespace of the --viewers browsers.
	defaultNamespace = "p2pdemo"
)

// validPageName is what --viewer-page accepts: a page of the examples
// directory, without ".html".
var validPageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// validNamespace mirrors the names netns.Setup accepts, so that a bad --ns
// is a usage error before anything starts.
var validNamespace = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,36}$`)

// demoOptions are the parsed flags of the demo command.
type demoOptions struct {
	listen     string
	dist       string
	examples   string
	viewers    int
	viewerPage string
	ns         string
}

// runDemo serves the demo site (pages, build output, sample media and a
// tracker) until ctx ends, and with --viewers drives headless browsers that
// watch it inside a network namespace.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseDemoFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if missing := missingDist(opts.dist); len(missing) > 0 {
		fmt.Fprintf(stderr, "demo: warning: %s lacks %s; run 'make build' (the pages play over plain HTTP until then)\n",
			opts.dist, strings.Join(missing, ", "))
	}

	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.listen, err)
	}
	hashes, err := newDemoHashes(ln.Addr())
	if err != nil {
		ln.Close()
		return err
	}
	trk := tracker.New(tracker.Config{Interval: demoTrackerInterval, Logger: logger})
	hs := &http.Server{
		Handler:           newDemoHandler(opts.dist, opts.examples, trk, hashes),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 2)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "demo: open http://%s/\n", displayAddr(ln.Addr()))

	var serveErr error
	var viewers *viewerSet
	if opts.viewers > 0 {
		viewers, serveErr = startViewers(ctx, opts, hs, ln.Addr(), served, stdout, stderr)
		switch {
		case serveErr != nil && ctx.Err() != nil:
			serveErr = nil // interrupted while starting: a clean stop
		case serveErr != nil:
			serveErr = fmt.Errorf("viewers: %w", serveErr)
		}
	}
	if serveErr == nil {
		select {
		case <-ctx.Done():
		case serveErr = <-served:
			serveErr = fmt.Errorf("serve: %w", serveErr)
		}
	}
	if viewers != nil {
		if err := viewers.Close(); err != nil && serveErr == nil {
			serveErr = fmt.Errorf("viewers: %w", err)
		}
	}

	// Shutdown waits for requests in flight; a player still streaming media
	// is cut off after demoShutdownWait. The tracker's WebSocket
	// connections are hijacked, so trk.Close ends them.
	sctx, cancel := context.WithTimeout(context.Background(), demoShutdownWait)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		if err := hs.Close(); err != nil && serveErr == nil {
			serveErr = fmt.Errorf("close server: %w", err)
		}
	}
	if err := trk.Close(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("close tracker: %w", err)
	}
	if serveErr == nil {
		fmt.Fprintln(stdout, "demo: stopped")
	}
	return serveErr
}

// parseDemoFlags parses and checks the demo command's flags.
func parseDemoFlags(args []string, stderr io.Writer) (demoOptions, error) {
	var o demoOptions
	fs := flag.NewFlagSet("p2pmedia demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "`address` to serve the demo on, host:port (port 0 picks a free one)")
	fs.StringVar(&o.dist, "dist", "build/dist", "`directory` of the built browser files (make build)")
	fs.StringVar(&o.examples, "examples", "examples", "`directory` of the demo pages, with the sample media in media/")
	fs.IntVar(&o.viewers, "viewers", 0, fmt.Sprintf("start this many headless Chromium viewers in a network namespace (0 to %d; needs root)", maxViewers))
	fs.StringVar(&o.viewerPage, "viewer-page", defaultViewerPage, "`page` the viewers open: the name of an examples/<page>.html")
	fs.StringVar(&o.ns, "ns", defaultNamespace, "`name` of the network namespace of the viewers")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "Usage: p2pmedia demo [flags]")
		fmt.Fprintln(out, "\nServes the demo pages, the built engine (/dist/), the sample media (/media/),")
		fmt.Fprintln(out, "a WebTorrent tracker (/tracker) and the piece-hash service for its own media")
		fmt.Fprintln(out, "(/__hashes/v1/pieces, docs/hashes.md) from one process. With --viewers, also")
		fmt.Fprintln(out, "runs headless browsers that watch a page inside a network namespace and")
		fmt.Fprintln(out, "prints what each one downloads over HTTP and from peers.")
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := validateListen(o.listen); err != nil {
		return o, err
	}
	if err := checkDir("-dist", o.dist, "run 'make build' first"); err != nil {
		return o, err
	}
	if err := checkDir("-examples", o.examples, "it is the examples directory of the repository"); err != nil {
		return o, err
	}
	for _, f := range []string{"index.html", "sw.js", filepath.Join("media", "sample.mp4")} {
		if fi, err := os.Stat(filepath.Join(o.examples, f)); err != nil || !fi.Mode().IsRegular() {
			return o, usagef("-examples %q: no %s in it; it is the examples directory of the repository", o.examples, f)
		}
	}
	if o.viewers < 0 || o.viewers > maxViewers {
		return o, usagef("-viewers %d: must be between 0 and %d", o.viewers, maxViewers)
	}
	o.viewerPage = strings.TrimSuffix(o.viewerPage, ".html")
	if !validPageName.MatchString(o.viewerPage) {
		return o, usagef("-viewer-page %q: want the name of a page, like mp4 or mp3", o.viewerPage)
	}
	if fi, err := os.Stat(filepath.Join(o.examples, o.viewerPage+".html")); err != nil || !fi.Mode().IsRegular() {
		return o, usagef("-viewer-page %q: no %s.html in %s (pages: %s)", o.viewerPage, o.viewerPage, o.examples,
			strings.Join(demoPages(o.examples), ", "))
	}
	if !validNamespace.MatchString(o.ns) {
		return o, usagef("-ns %q: want letters, digits, '.', '_' or '-', at most 37 characters", o.ns)
	}
	return o, nil
}

// checkDir returns a usage error unless dir is a directory.
func checkDir(flagName, dir, hint string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usagef("%s %q: no such directory; %s", flagName, dir, hint)
	case err != nil:
		return usagef("%s %q: %v", flagName, dir, err)
	case !fi.IsDir():
		return usagef("%s %q: not a directory", flagName, dir)
	}
	return nil
}

// demoPages lists the demo pages of the examples directory (without
// ".html"), except the index.
func demoPages(examples string) []string {
	matches, _ := filepath.Glob(filepath.Join(examples, "*.html"))
	var pages []string
	for _, m := range matches {
		name := strings.TrimSuffix(filepath.Base(m), ".html")
		if name != "index" && validPageName.MatchString(name) {
			pages = append(pages, name)
		}
	}
	slices.Sort(pages)
	return pages
}

// distFiles are the build outputs the demo pages load (docs/browser-runtime.md).
var distFiles = []string{"p2p-engine.min.js", "p2p-sw.js", "p2p-engine.wasm", "p2p-sw.wasm", "wasm_exec.js"}

// missingDist lists the build outputs that dir lacks (neither the file nor a
// compressed twin).
func missingDist(dir string) []string {
	var missing []string
	for _, f := range distFiles {
		found := false
		for _, ext := range []string{"", ".br", ".gz"} {
			if fi, err := os.Stat(filepath.Join(dir, f+ext)); err == nil && fi.Mode().IsRegular() {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, f)
		}
	}
	return missing
}
