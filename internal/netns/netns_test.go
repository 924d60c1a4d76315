//go:build linux

package netns_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/internal/netns"
)

// helperEnv makes the test binary act as a small client inside the namespace
// (see TestMain) instead of running the tests.
const helperEnv = "P2PT_NETNS_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helper(mode, os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper runs inside the namespace. "tcp" dials addr and prints the line it
// reads; "udp" sends "ping" to addr; "route" prints the interfaces and the
// default gateway that the process sees.
func helper(mode, addr string) error {
	switch mode {
	case "tcp":
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		fmt.Print(line)
		return nil
	case "udp":
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("ping"))
		return err
	case "route":
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, ifc := range ifs {
			addrs, _ := ifc.Addrs()
			fmt.Printf("if %s %v %v\n", ifc.Name, ifc.Flags&net.FlagUp != 0, addrs)
		}
		routes, err := os.ReadFile("/proc/net/route")
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(routes), "\n")[1:] {
			f := strings.Fields(l)
			if len(f) > 2 && f[1] == "00000000" {
				fmt.Printf("default %s via %s\n", f[0], f[2])
			}
		}
		return nil
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// runHelper runs the test binary in helper mode inside n and returns its
// output.
func runHelper(t *testing.T, n *netns.Net, mode, arg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := n.Command(ctx, os.Args[0], arg)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("helper %s %s: %v: %s", mode, arg, err, stderr)
	}
	return string(out)
}

func setup(t *testing.T, name string) *netns.Net {
	t.Helper()
	n, err := netns.Setup(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func namespaces(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestSetupRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "../etc", "a b", "-x", "x/y", strings.Repeat("n", 41)} {
		if n, err := netns.Setup(name); err == nil {
			n.Close()
			t.Errorf("Setup(%q) succeeded, want an error", name)
		}
	}
}

func TestNamespaceHasRouteAndInterfaces(t *testing.T) {
	n := setup(t, "p2pt-nstest")
	out := runHelper(t, n, "route", "-")
	for _, want := range []string{
		"if lo true",
		"if v0 true [" + n.Addr() + "/24",
		"default v0 via 0100C80A", // 10.200.0.1, little-endian hex
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inside the namespace: missing %q in\n%s", want, out)
		}
	}
	// The test process itself stays in its own namespace.
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifs {
		if ifc.Name == "v0" || ifc.Name == "v1" {
			t.Errorf("interface %s is visible outside the namespace", ifc.Name)
		}
	}
}

func TestListenInsideNamespace(t *testing.T) {
	n := setup(t, "p2pt-nstest")

	l, err := n.Listen("tcp", n.Addr()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s\n", c.LocalAddr())
			c.Close()
		}
	}()
	pc, err := n.ListenPacket("udp4", n.Addr()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	// Every thread of the test process is back in the process's namespace:
	// listening on the namespace's address fails here.
	for range 20 {
		if l2, err := net.Listen("tcp", n.Addr()+":0"); err == nil {
			l2.Close()
			t.Fatalf("listening on %s worked outside the namespace", n.Addr())
		}
	}

	got := runHelper(t, n, "tcp", l.Addr().String())
	if want := "hello from " + l.Addr().String() + "\n"; got != want {
		t.Errorf("tcp reply = %q, want %q", got, want)
	}

	runHelper(t, n, "udp", pc.LocalAddr().String())
	buf := make([]byte, 16)
	if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	k, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:k]) != "ping" || !strings.HasPrefix(from.String(), n.Addr()+":") {
		t.Errorf("udp: got %q from %v", buf[:k], from)
	}
}

func TestSetupIsIdempotentAndCloseRemoves(t *testing.T) {
	const name = "p2pt-nsidem"
	first, err := netns.Setup(name)
	if err != nil {
		t.Fatal(err)
	}
	// A second Setup of the same name, as after a crashed run, replaces the
	// leftovers and works.
	n := setup(t, name)
	l, err := n.Listen("tcp", n.Addr()+":0")
	if err != nil {
		t.Fatalf("listening after a second Setup: %v", err)
	}
	l.Close()
	for _, want := range []string{name, name + "-gw"} {
		if !contains(namespaces(t), want) {
			t.Errorf("namespace %s missing after Setup", want)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("Close of the replaced Net: %v", err)
	}
	for _, gone := range []string{name, name + "-gw"} {
		if contains(namespaces(t), gone) {
			t.Errorf("namespace %s still listed after Close", gone)
		}
	}
}
