//go:build linux

// Package chrome starts Debian's Chromium inside a test network namespace and
// drives it with chromedp, so that browser tests stay in go test.
//
// Launch starts one headless browser per call with the flags that keep
// Chromium quiet on a closed network (no background requests) and a
// fresh profile directory. The browser talks DevTools over a pipe
// (--remote-debugging-pipe): a DevTools port would listen on the namespace's
// own loopback, out of reach of the test process. [Browser.NewContext] opens a
// page in a browser context of its own (separate storage, cookies and service
// workers), the way each viewer of a swarm test needs it.
package chrome

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pmedia/p2pmedia/internal/netns"
)

// DefaultExecPath is the browser that Launch starts when Options.ExecPath is
// empty: Debian's chromium package.
const DefaultExecPath = "/usr/bin/chromium"

// baseDisabledFeatures are always disabled. WebRtcHideLocalIpsWithMdns makes
// Chromium put the namespace's real address into ICE candidates instead of an
// mDNS name that nobody on a closed network resolves.
var baseDisabledFeatures = []string{"WebRtcHideLocalIpsWithMdns"}

// reservedFlags are switches that Launch sets itself; Options.Flags must not
// repeat them (Chromium keeps only the last --disable-features).
var reservedFlags = []string{
	"--disable-features",
	"--user-data-dir",
	"--remote-debugging",
	"--host-resolver-rules",
	"--unsafely-treat-insecure-origin-as-secure",
}

// noise are fragments of output lines that Chromium prints on every start
// in a container without a system bus, and Debian's launcher script's
// complaint about a large /dev/shm; they are dropped from the log.
var noise = []string{
	":ERROR:dbus/",
	"/usr/bin/chromium: 9: [:",
}

// repetitive are fragments of output lines that Chromium can print hundreds
// of times a second (a full UDP send buffer under a bulk transfer): the first
// one is logged, the rest only counted, and Close logs the count.
var repetitive = []string{
	"failed with error 11", // EAGAIN on a UDP send
}

// waitDelay bounds how long Close waits for the browser's output after the
// process exits (a leftover child can hold the pipe open).
const waitDelay = 2 * time.Second

// Options configures Launch.
type Options struct {
	// ExecPath is the browser binary. Empty means DefaultExecPath.
	ExecPath string

	// DisableFeatures are Chromium features to disable besides the ones
	// Launch always disables. They all go into one --disable-features switch.
	DisableFeatures []string

	// SecureOrigins are plain-HTTP origins, such as "http://10.200.0.2:8080",
	// that the browser treats as secure, so that service workers and
	// crypto.subtle work on pages served from the namespace's address.
	// (http://127.0.0.1 is secure without this.)
	SecureOrigins []string

	// Flags are further command-line switches, such as "--mute-audio". The
	// switches Launch sets itself (profile, DevTools, features, resolver,
	// secure origins) are refused here.
	Flags []string

	// Logf receives the browser's own output and the console messages of
	// every page, one line per call. It may be called from several
	// goroutines, and never after Close returns. Nil discards them.
	Logf func(format string, args ...any)
}

// Browser is one running Chromium process inside a namespace.
type Browser struct {
	cmd        *exec.Cmd
	dir        string
	logf       func(format string, args ...any)
	out        *lineWriter
	exited     chan struct{} // closed when cmd.Wait returns
	root       context.Context
	rootCancel context.CancelFunc
	allocStop  context.CancelFunc

	mu     sync.Mutex
	closed bool
	nextID int
	pages  map[int]context.CancelFunc
}

// Launch starts a headless Chromium inside n and connects chromedp to it. ctx
// limits the start only: the browser runs until Close. The profile directory
// is a fresh temporary directory that Close removes.
func Launch(ctx context.Context, n *netns.Net, opts Options) (*Browser, error) {
	for _, f := range opts.Flags {
		for _, r := range reservedFlags {
			if strings.HasPrefix(f, r) {
				return nil, fmt.Errorf("chrome: flag %q is set by Launch; use Options instead", f)
			}
		}
	}
	if n == nil {
		return nil, errors.New("chrome: no network namespace")
	}
	execPath := opts.ExecPath
	if execPath == "" {
		execPath = DefaultExecPath
	}
	if _, err := os.Stat(execPath); err != nil {
		return nil, fmt.Errorf("chrome: browser not found (apt-get install chromium): %w", err)
	}
	dir, err := os.MkdirTemp("", "p2pt-chromium-*")
	if err != nil {
		return nil, fmt.Errorf("chrome: creating the profile directory: %w", err)
	}
	b := &Browser{
		dir:    dir,
		exited: make(chan struct{}),
		pages:  make(map[int]context.CancelFunc),
	}
	if opts.Logf != nil {
		b.logf = opts.Logf
	} else {
		b.logf = func(string, ...any) {}
	}

	// fd 3: the browser reads commands; fd 4: it writes replies and events.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("chrome: creating the command pipe: %w", err)
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("chrome: creating the reply pipe: %w", err)
	}

	b.cmd = n.Command(context.WithoutCancel(ctx), execPath, launchFlags(dir, n.Addr(), opts)...)
	b.cmd.ExtraFiles = []*os.File{cmdR, respW}
	// Chromium's crash handlers keep their database under the config
	// directory; keep it in the temporary directory too.
	b.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	b.out = &lineWriter{log: b.log, prefix: "chromium: "}
	b.cmd.Stdout = b.out
	b.cmd.Stderr = b.out
	b.cmd.WaitDelay = waitDelay
	// Its own process group, so that Close ends the renderers too; and
	// killed if the test process dies first.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = b.cmd.Start()
	cmdR.Close()
	respW.Close()
	if err != nil {
		cmdW.Close()
		respR.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("chrome: starting %s: %w", execPath, err)
	}
	go func() {
		b.cmd.Wait()
		close(b.exited)
	}()

	alloc := &pipeAllocator{conn: chromedp.NewPipeConn(respR, cmdW)}
	allocCtx, allocStop := chromedp.NewAllocatorContext(context.WithoutCancel(ctx), alloc)
	b.allocStop = allocStop
	b.root, b.rootCancel = chromedp.NewContext(allocCtx, chromedp.WithBrowserOption(
		chromedp.WithBrowserLogf(b.prefixed("chromedp: ")),
		chromedp.WithBrowserErrorf(b.prefixed("chromedp error: ")),
	))
	// A start that outlives ctx is ended by killing the browser.
	stop := context.AfterFunc(ctx, b.kill)
	err = chromedp.Do(b.root)
	stop()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("chrome: connecting to the browser: %w", err), b.Close())
	}
	return b, nil
}

// launchFlags returns the command line of the browser.
func launchFlags(dir, addr string, opts Options) []string {
	disabled := append(append([]string{}, baseDisabledFeatures...), opts.DisableFeatures...)
	flags := []string{
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--no-first-run",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--autoplay-policy=no-user-gesture-required",
		"--disable-features=" + strings.Join(disabled, ","),
		// No name resolves; the namespace's address and loopback stay
		// reachable (MAP * catches IP literals too).
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE " + addr + ", EXCLUDE 127.0.0.1, EXCLUDE localhost",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		"--remote-debugging-pipe",
	}
	if len(opts.SecureOrigins) > 0 {
		flags = append(flags, "--unsafely-treat-insecure-origin-as-secure="+strings.Join(opts.SecureOrigins, ","))
	}
	flags = append(flags, opts.Flags...)
	return append(flags, "about:blank")
}

// NewContext opens a new page in a browser context of its own (its own
// storage, cookies, cache and service workers) and returns a chromedp context
// bound to that page. Use it with chromedp.Do and chromedp.Run; derive
// timeouts from it rather than passing it a deadline up front. The page's
// console messages and uncaught exceptions go to Options.Logf, prefixed with
// label. The cancel func closes the page and disposes of its browser context;
// Close does that for pages still open.
func (b *Browser) NewContext(label string) (context.Context, context.CancelFunc, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, nil, errors.New("chrome: browser is closed")
	}
	id := b.nextID
	b.nextID++
	b.mu.Unlock()

	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("chrome: opening page %s: %w", label, err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			where := ""
			if m.URL != "" {
				where = fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			b.log("%s: console %s%s", label, m, where)
		}
	}()
	var once sync.Once
	closePage := func() {
		once.Do(func() {
			cancel()
			<-done
			b.mu.Lock()
			delete(b.pages, id)
			b.mu.Unlock()
		})
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		closePage()
		return nil, nil, errors.New("chrome: browser is closed")
	}
	b.pages[id] = closePage
	b.mu.Unlock()
	return ctx, closePage, nil
}

// Pid returns the process id of the browser's main process.
func (b *Browser) Pid() int { return b.cmd.Process.Pid }

// Close closes the open pages, kills the browser's process group and its
// crash handlers, waits for the browser, and removes its temporary directory
// (profile and crash database). Calling it again is harmless.
func (b *Browser) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	pages := make([]context.CancelFunc, 0, len(b.pages))
	for _, p := range b.pages {
		pages = append(pages, p)
	}
	b.mu.Unlock()

	select {
	case <-b.exited:
	default:
		for _, p := range pages {
			p()
		}
	}
	b.rootCancel()
	b.allocStop()
	b.kill()
	<-b.exited
	b.killStragglers()
	b.out.flush()

	b.mu.Lock()
	b.closed = true // no more log lines from here on
	b.mu.Unlock()
	if err := os.RemoveAll(b.dir); err != nil {
		return fmt.Errorf("chrome: removing the profile directory: %w", err)
	}
	return nil
}

// kill sends SIGKILL to the browser's process group.
func (b *Browser) kill() {
	if err := syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		b.log("chrome: killing the process group %d: %v", b.cmd.Process.Pid, err)
	}
}

// killStragglers kills the processes that the browser started outside its
// process group: Chromium's crash handlers, which run in a session of their
// own. They are found by the temporary directory in their command line, which
// belongs to this browser alone.
func (b *Browser) killStragglers() {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.log("chrome: listing processes: %v", err)
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(b.dir+"/")) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			b.log("chrome: killing process %d: %v", pid, err)
		}
	}
}

// log passes a line to Options.Logf unless the browser is closed.
func (b *Browser) log(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.logf(format, args...)
	}
}

// prefixed returns a logger that puts prefix before each line.
func (b *Browser) prefixed(prefix string) func(string, ...any) {
	return func(format string, args ...any) { b.log(prefix+format, args...) }
}

// pipeAllocator hands chromedp the DevTools pipe of a browser that Launch
// started. It attaches to that browser (chromedp does not own the process),
// and only once: a pipe carries a single connection.
type pipeAllocator struct {
	conn *chromedp.PipeConn
	mu   sync.Mutex
	used bool
	wg   sync.WaitGroup
}

// Allocate implements chromedp.Allocator.
func (a *pipeAllocator) Allocate(ctx context.Context, opts ...chromedp.BrowserOption) (*chromedp.Browser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used {
		return nil, errors.New("chrome: the DevTools pipe is already in use")
	}
	a.used = true
	// The connection outlives ctx until its pages are closed.
	connCtx, cancel := context.WithCancel(context.Background())
	a.wg.Go(func() {
		<-ctx.Done()
		chromedp.Cancel(ctx)
		cancel()
	})
	return chromedp.NewBrowserTransport(connCtx, a.conn, opts...)
}

// Wait implements chromedp.Allocator.
func (a *pipeAllocator) Wait() { a.wg.Wait() }

// Attaches implements chromedp.Attacher: Launch, not chromedp, owns the
// process.
func (a *pipeAllocator) Attaches() bool { return true }

// lineWriter splits the browser's output into lines for a logger, dropping
// noise and collapsing repetitive lines.
type lineWriter struct {
	log     func(format string, args ...any)
	prefix  string
	mu      sync.Mutex
	buf     []byte
	repeats map[string]int // repetitive fragment -> lines seen
}

// Write implements io.Writer.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// line logs one line unless it is noise or a repetition.
func (w *lineWriter) line(line string) {
	if line == "" {
		return
	}
	for _, n := range noise {
		if strings.Contains(line, n) {
			return
		}
	}
	for _, r := range repetitive {
		if strings.Contains(line, r) {
			if w.repeats == nil {
				w.repeats = make(map[string]int)
			}
			w.repeats[r]++
			if w.repeats[r] > 1 {
				return
			}
		}
	}
	w.log("%s%s", w.prefix, line)
}

// flush logs how many repetitive lines were dropped.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for r, k := range w.repeats {
		if k > 1 {
			w.log("%s%d more lines with %q", w.prefix, k-1, r)
		}
	}
	w.repeats = nil
}
