// Command p2pmedia is the P2P media engine's binary. Its subcommands run the
// parts that live outside the browser.
//
// Usage:
//
//	p2pmedia <command> [flags]
//
// Commands:
//
//	tracker   run a WebTorrent tracker (WebSocket on /, JSON counters on /stats)
//	demo      serve the demo pages, the built engine, sample media and a tracker;
//	          with --viewers N, also drive N headless Chromium viewers
//	hashes    serve the piece-hash service for the origins of --allow
//	hash      write the piece hashes of media files, as the service answers them
//
// Run "p2pmedia <command> -h" for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand of p2pmedia.
type command struct {
	name    string
	summary string
	// run runs the command until it is done or ctx ends (SIGINT, SIGTERM).
	// It returns a usageError for bad flags or arguments.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands, in the order usage shows them.
func commands() []command {
	return []command{
		{name: "tracker", summary: "run a WebTorrent tracker (WebSocket on /, JSON counters on /stats)", run: runTracker},
		{name: "demo", summary: "serve the demo pages, the engine, sample media and a tracker on 127.0.0.1", run: runDemo},
		{name: "hashes", summary: "serve the piece-hash service (GET /v1/pieces) for the origins of --allow", run: runHashes},
		{name: "hash", summary: "write FILE.p2phashes.json, the piece hashes of each media file of FILE|DIR", run: runHash},
	}
}

// usageError reports bad flags or arguments; p2pmedia exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(runWithSignals(os.Args[1:], os.Stdout, os.Stderr))
}

// runWithSignals runs p2pmedia until its command ends or the process gets
// SIGINT or SIGTERM, and returns the exit status.
func runWithSignals(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdout, stderr)
}

// run dispatches args to a subcommand and returns the exit status: 0 on
// success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "p2pmedia %s: %v\n", c.name, err)
			fmt.Fprintf(stderr, "Run 'p2pmedia %s -h' for usage.\n", c.name)
			return 2
		default:
			fmt.Fprintf(stderr, "p2pmedia %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "p2pmedia: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: p2pmedia <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'p2pmedia <command> -h' for a command's flags.")
}
