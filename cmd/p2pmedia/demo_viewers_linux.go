//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/internal/chrome"
	"github.com/p2pmedia/p2pmedia/internal/netns"
)

// Timing of the viewers. None of it is a measurement: they only bound waits.
const (
	viewerStagger    = 3 * time.Second  // between two viewers opening the page
	viewerNavTimeout = 30 * time.Second // for a page to load
	viewerPollEvery  = time.Second      // table refresh
	viewerPollWait   = 2 * time.Second  // for one page to answer a poll
	recentLogLines   = 4                // browser lines kept under the live table
)

// browserNoise are fragments of browser output lines that say nothing about
// the demo: a headless browser in a container has no sound card.
var browserNoise = []string{"ALSA lib ", "/alsa/alsa_util.cc"}

// viewerSet is the --viewers part of the demo: a network namespace where the
// demo server listens too, one headless Chromium inside it, and a page in a
// browser context of its own per viewer.
type viewerSet struct {
	n       *netns.Net
	browser *chrome.Browser
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stdout  io.Writer
	stderr  io.Writer
	tty     bool
	viewers []*viewer

	mu   sync.Mutex
	logs []string // the last browser lines, shown under the table on a terminal
}

// viewer is one browser page watching the demo.
type viewer struct {
	label string

	mu   sync.Mutex
	page context.Context // nil until the page has loaded
	row  viewerRow
}

// startViewers sets up the namespace opts.ns, serves hs there too (on the
// namespace's address and the port of mainAddr; Serve's result goes to
// served), launches Chromium inside it and opens opts.viewers pages on
// opts.viewerPage, a few seconds apart, while a table of their stats is
// printed every second. Close undoes all of it.
func startViewers(ctx context.Context, opts demoOptions, hs *http.Server, mainAddr net.Addr, served chan<- error, stdout, stderr io.Writer) (_ *viewerSet, err error) {
	n, err := netns.Setup(opts.ns)
	if err != nil {
		return nil, fmt.Errorf("setting up network namespace %s: %w", opts.ns, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	port := "0"
	if ta, ok := mainAddr.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
	}
	ln, err := n.Listen("tcp4", net.JoinHostPort(n.Addr(), port))
	if err != nil {
		return nil, err
	}
	go func() { served <- hs.Serve(ln) }()
	origin := "http://" + ln.Addr().String()
	pageURL := origin + "/" + opts.viewerPage + ".html?autoplay=1"
	fmt.Fprintf(stdout, "demo: also serving %s/ inside network namespace %s\n", origin, n.Name())

	vs := &viewerSet{n: n, stdout: stdout, stderr: stderr, tty: isTerminal(stdout)}
	lctx, cancelLaunch := context.WithTimeout(ctx, 30*time.Second)
	defer cancelLaunch()
	vs.browser, err = chrome.Launch(lctx, n, chrome.Options{
		SecureOrigins: []string{origin},
		Flags:         []string{"--mute-audio"},
		Logf:          vs.logf,
	})
	if err != nil {
		return nil, fmt.Errorf("starting Chromium: %w", err)
	}
	fmt.Fprintf(stdout, "demo: %d viewer(s) open %s, %v apart; Ctrl-C stops them\n", opts.viewers, pageURL, viewerStagger)

	for i := range opts.viewers {
		v := &viewer{label: fmt.Sprint(i + 1)}
		v.row = viewerRow{Label: v.label, Status: viewerStatus{State: "waiting"}}
		vs.viewers = append(vs.viewers, v)
	}
	var vctx context.Context
	vctx, vs.cancel = context.WithCancel(ctx)
	vs.wg.Go(func() { vs.open(vctx, pageURL) })
	vs.wg.Go(func() { vs.refresh(vctx) })
	return vs, nil
}

// Close stops the table, closes the browser and deletes the namespace. The
// server's listener in the namespace is left to http.Server.Shutdown.
func (vs *viewerSet) Close() error {
	vs.cancel()
	vs.wg.Wait()
	return errors.Join(vs.browser.Close(), vs.n.Close())
}

// open opens the viewers' pages one after the other.
func (vs *viewerSet) open(ctx context.Context, pageURL string) {
	for i, v := range vs.viewers {
		if i > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(viewerStagger):
			}
		}
		v.setState("opening", "")
		page, _, err := vs.browser.NewContext("viewer " + v.label)
		if err != nil {
			v.setState("error", err.Error())
			continue
		}
		nctx, cancel := context.WithTimeout(page, viewerNavTimeout)
		stop := context.AfterFunc(ctx, cancel)
		err = chromedp.Do(nctx, chromedp.Navigate(pageURL))
		stop()
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				v.setState("error", fmt.Sprintf("opening %s: %v", pageURL, err))
			}
			continue
		}
		v.mu.Lock()
		v.page = page
		v.row.Status.State = "loading"
		v.mu.Unlock()
	}
}

// refresh polls the pages and redraws the table every second.
func (vs *viewerSet) refresh(ctx context.Context) {
	t := time.NewTicker(viewerPollEvery)
	defer t.Stop()
	drawn := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, v := range vs.viewers {
			wg.Go(func() { v.poll(ctx) })
		}
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		drawn = vs.draw(drawn)
	}
}

// poll reads the page's window.__demo.
func (v *viewer) poll(ctx context.Context) {
	v.mu.Lock()
	page := v.page
	v.mu.Unlock()
	if page == nil {
		return
	}
	pctx, cancel := context.WithTimeout(page, viewerPollWait)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	st, err := chromedp.Run(pctx, chromedp.Evaluate[viewerStatus](viewerStatusJS))
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			v.row.Note = fmt.Sprintf("page not answering: %v", err)
		}
		return
	}
	v.row.Status = st
	v.row.Note = ""
}

// setState sets the viewer's state and note.
func (v *viewer) setState(state, note string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.row.Status.State = state
	v.row.Note = note
}

// draw prints the table; on a terminal it first erases the previous one
// (drawn lines) and adds the last browser lines under it. It returns the
// number of lines printed.
func (vs *viewerSet) draw(drawn int) int {
	rows := make([]viewerRow, len(vs.viewers))
	for i, v := range vs.viewers {
		v.mu.Lock()
		rows[i] = v.row
		v.mu.Unlock()
	}
	var b strings.Builder
	if vs.tty && drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", drawn)
	}
	if !vs.tty {
		fmt.Fprintf(&b, "--- %s\n", time.Now().Format(time.TimeOnly))
	}
	lines := renderTable(&b, rows)
	if vs.tty {
		vs.mu.Lock()
		for _, l := range vs.logs {
			fmt.Fprintf(&b, "  | %s\n", clip(oneLine(l), 110))
			lines++
		}
		vs.mu.Unlock()
	}
	_, _ = io.WriteString(vs.stdout, b.String())
	return lines
}

// logf receives the browser's output and the pages' console messages: on a
// terminal it keeps the last few for the table, elsewhere it writes them to
// stderr.
func (vs *viewerSet) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	for _, n := range browserNoise {
		if strings.Contains(line, n) {
			return
		}
	}
	if !vs.tty {
		fmt.Fprintln(vs.stderr, "browser: "+line)
		return
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	vs.logs = append(vs.logs, line)
	if len(vs.logs) > recentLogLines {
		vs.logs = vs.logs[len(vs.logs)-recentLogLines:]
	}
}
