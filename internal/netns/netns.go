//go:build linux

// Package netns gives browser tests a closed network of their own: a pair of
// Linux network namespaces joined by a veth pair, so that a browser doing
// WebRTC inside them gathers ICE candidates (Chromium needs an interface that
// carries a default route) while nothing it sends can leave the machine.
//
// The test namespace, <name>, holds one end of the pair (v0) with the address
// [Net.Addr] and a default route through the other end (v1), which sits in the
// namespace <name>-gw. The gateway namespace has no further route, so packets
// for any other host end there.
//
// Servers of the test process join the namespace through [Net.Listen] and
// [Net.ListenPacket]: the socket is created inside the namespace and keeps it
// for its whole life. Programs run inside it through [Net.Command].
//
// Everything here needs root and the ip command of iproute2.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The addresses of the two ends of the veth pair. They exist only inside the
// namespaces of one Net, so every Net can use the same ones.
const (
	innerAddr = "10.200.0.2" // v0, in <name>
	gwAddr    = "10.200.0.1" // v1, in <name>-gw
	prefixLen = "/24"
	innerLink = "v0"
	gwLink    = "v1"
)

// netnsDir is where ip netns keeps the bind mounts that name namespaces.
const netnsDir = "/run/netns"

// validName is what Setup accepts as a namespace name: safe as a file name and
// as an argument of ip.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`)

// Net is a test network: the namespace <name>, where browsers and servers run,
// and <name>-gw, which only carries the default route. Close deletes both.
type Net struct {
	name   string
	gw     string
	ipPath string
}

// Setup creates the namespaces <name> and <name>-gw, the veth pair between
// them, their addresses, and a default route in <name>, and brings every link
// up, loopback included. Leftovers of an earlier run with the same name (a
// crashed test) are torn down first, so Setup can be called again safely.
// It needs root and the ip command.
func Setup(name string) (*Net, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("netns: invalid namespace name %q", name)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("netns: network namespaces need root (run the browser tests as root)")
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		return nil, fmt.Errorf("netns: the ip command of iproute2 is needed: %w", err)
	}
	n := &Net{name: name, gw: name + "-gw", ipPath: ipPath}
	if err := n.remove(); err != nil {
		return nil, fmt.Errorf("netns: removing leftovers of an earlier run: %w", err)
	}
	steps := [][]string{
		{"netns", "add", n.name},
		{"netns", "add", n.gw},
		{"link", "add", innerLink, "netns", n.name, "type", "veth", "peer", "name", gwLink, "netns", n.gw},
		{"-n", n.name, "addr", "add", innerAddr + prefixLen, "dev", innerLink},
		{"-n", n.gw, "addr", "add", gwAddr + prefixLen, "dev", gwLink},
		{"-n", n.name, "link", "set", "lo", "up"},
		{"-n", n.gw, "link", "set", "lo", "up"},
		{"-n", n.name, "link", "set", innerLink, "up"},
		{"-n", n.gw, "link", "set", gwLink, "up"},
		{"-n", n.name, "route", "add", "default", "via", gwAddr},
	}
	for _, args := range steps {
		if err := n.ip(args...); err != nil {
			return nil, errors.Join(fmt.Errorf("netns: setting up %s: %w", n.name, err), n.remove())
		}
	}
	return n, nil
}

// Name returns the name of the namespace where browsers and servers run.
func (n *Net) Name() string { return n.name }

// Addr returns the IPv4 address of the namespace's outward interface (v0), as
// a string without a port. Servers that browsers in the namespace reach
// listen on it (or on 127.0.0.1 inside the namespace).
func (n *Net) Addr() string { return innerAddr }

// Close kills any process still left inside the two namespaces and deletes
// them. Calling it again is harmless.
func (n *Net) Close() error {
	if err := n.remove(); err != nil {
		return fmt.Errorf("netns: tearing down %s: %w", n.name, err)
	}
	return nil
}

// Command returns a command that runs the program name inside the namespace,
// through ip netns exec. The program's pid is that of the returned command,
// since ip replaces itself with the program.
func (n *Net) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, n.ipPath, append([]string{"netns", "exec", n.name, name}, args...)...)
}

// Listen announces on the local network address inside the namespace, as
// net.Listen does. The listener stays in the namespace; the calling goroutine
// and the rest of the process do not enter it.
func (n *Net) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: listening on %s %s in %s: %w", network, addr, n.name, err)
	}
	return l, nil
}

// ListenPacket announces on the local network address inside the namespace,
// as net.ListenPacket does.
func (n *Net) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.do(func() error {
		var err error
		c, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: listening on %s %s in %s: %w", network, addr, n.name, err)
	}
	return c, nil
}

// do runs fn on a fresh OS thread that has entered the namespace, and returns
// the thread to the process's own namespace afterwards. fn must create its
// sockets on the calling goroutine and start no goroutine that relies on the
// namespace. If the thread cannot switch back, it stays locked and Go ends it
// when the goroutine returns, so no thread in the wrong namespace is reused.
func (n *Net) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := n.onLockedThread(fn)
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// onLockedThread enters the namespace on the current (locked) thread, runs fn
// and goes back. restored reports whether the thread is in its original
// namespace again.
func (n *Net) onLockedThread(fn func() error) (restored bool, err error) {
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return true, fmt.Errorf("opening the thread's namespace: %w", err)
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join(netnsDir, n.name))
	if err != nil {
		return true, fmt.Errorf("opening the namespace: %w", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("entering the namespace: %w", err)
	}
	fnErr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return false, errors.Join(fnErr, fmt.Errorf("leaving the namespace: %w", err))
	}
	return true, fnErr
}

// remove kills what still runs in the two namespaces and deletes those that
// exist.
func (n *Net) remove() error {
	var errs []error
	for _, name := range []string{n.name, n.gw} {
		if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := n.killAll(name); err != nil {
			errs = append(errs, err)
		}
		if err := n.ip("netns", "delete", name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killAll sends SIGKILL to every process inside the namespace name. Only the
// tests put processes there, so whatever is left is a leftover of them.
func (n *Net) killAll(name string) error {
	out, err := exec.Command(n.ipPath, "netns", "pids", name).Output()
	if err != nil {
		return fmt.Errorf("listing the processes in %s: %w", name, exitDetail(err))
	}
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("killing process %d in %s: %w", pid, name, err)
		}
	}
	return nil
}

// ip runs the ip command with args.
func (n *Net) ip(args ...string) error {
	if out, err := exec.Command(n.ipPath, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// exitDetail adds the standard error of a failed command to its error.
func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
