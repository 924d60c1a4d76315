//go:build linux

package browser_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/manifest"
	"github.com/p2pmedia/p2pmedia/engine/origin"
	"github.com/p2pmedia/p2pmedia/engine/rtc"
	"github.com/p2pmedia/p2pmedia/engine/store"
	"github.com/p2pmedia/p2pmedia/internal/netns"
)

// poisonerEnv makes the test binary run as a poisoner (see TestMain): a
// native engine, inside a test's network namespace so that the browsers'
// WebRTC reaches it, that holds media from the origin and uploads every
// piece with its bytes inverted.
const poisonerEnv = "P2PT_POISONER"

// flipStore is the poisoner's store: it keeps the origin's bytes and hands
// out (to upload) every piece inverted.
type flipStore struct{ *store.Memory }

func (f flipStore) Get(ctx context.Context, key identity.PieceKey) ([]byte, error) {
	b, err := f.Memory.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = ^c
	}
	return out, nil
}

// runPoisoner is the poisoner process. Its arguments are the tracker's URL,
// then the media it holds: "file:<URL>" for a progressive file (the swarm
// of its URL, as a page's engine joins it), "hls:<URL>" for every segment
// of every rendition of an HLS master playlist (each rendition's swarm).
// Once it holds them all it prints "ready <peer id>" and serves its peers
// until it is killed or its stdin closes.
func runPoisoner(args []string) error {
	if len(args) < 2 {
		return errors.New("poisoner: want a tracker URL and media")
	}
	e, err := engine.New(engine.Config{
		Fetcher:   &origin.Client{},
		Store:     flipStore{store.NewMemory(512 << 20)},
		Connector: rtc.NewConnector(rtc.Config{}),
		Announce:  []string{args[0]},
	})
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, a := range args[1:] {
		kind, u, _ := strings.Cut(a, ":")
		switch kind {
		case "file":
			s, err := e.JoinURL(u)
			if err != nil {
				return err
			}
			if err := holdResource(ctx, s, identity.URLName("", u), u); err != nil {
				return err
			}
		case "hls":
			if err := holdHLS(ctx, e, u); err != nil {
				return err
			}
		default:
			return fmt.Errorf("poisoner: %q: want file:<URL> or hls:<URL>", a)
		}
	}
	fmt.Println("ready", e.PeerID())
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// holdResource reads every piece of the resource name at u into the swarm.
func holdResource(ctx context.Context, s *engine.Swarm, name, u string) error {
	r, err := s.Resource(ctx, name, u)
	if err != nil {
		return err
	}
	for i := range r.PieceCount() {
		if _, err := r.ReadPiece(ctx, i, time.Now().Add(time.Second)); err != nil {
			return fmt.Errorf("poisoner: %s piece %d: %w", u, i, err)
		}
	}
	return nil
}

// holdHLS holds every whole-file segment of every rendition of the master
// playlist at u, each in its rendition's swarm under its name there.
func holdHLS(ctx context.Context, e *engine.Engine, u string) error {
	master, err := getManifest(ctx, u)
	if err != nil {
		return err
	}
	for _, rend := range master.Renditions {
		m, err := getManifest(ctx, rend.URL)
		if err != nil {
			return err
		}
		for _, seg := range m.Segments {
			if seg.Range != nil {
				continue
			}
			s, err := e.Join(seg.Channel, false)
			if err != nil {
				return err
			}
			if err := holdResource(ctx, s, seg.ResourceName(), seg.URL); err != nil {
				return err
			}
		}
	}
	return nil
}

func getManifest(ctx context.Context, u string) (*manifest.Manifest, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("poisoner: %s: %s", u, resp.Status)
	}
	text, err := io.ReadAll(io.LimitReader(resp.Body, manifest.MaxSize))
	if err != nil {
		return nil, err
	}
	return manifest.Parse(text, u)
}

// startPoisoner runs a poisoner (runPoisoner) inside n for the tracker and
// media given, waits until it holds them, and returns its peer id. It is
// stopped when the test ends.
func startPoisoner(tb testing.TB, n *netns.Net, tracker string, media ...string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := n.Command(ctx, os.Args[0], append([]string{tracker}, media...)...)
	cmd.Env = append(os.Environ(), poisonerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the poisoner: %v", err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		id, ok := strings.CutPrefix(strings.TrimSpace(l), "ready ")
		if !ok {
			tb.Fatalf("poisoner: %q; stderr: %s", l, stderr.String())
		}
		return id
	case <-time.After(2 * time.Minute):
		tb.Fatalf("the poisoner did not get ready in 2 minutes; stderr: %s", stderr.String())
	}
	return ""
}

// bansOf counts the exception messages that say the peer id was banned.
func bansOf(id string, messages []string) int {
	n := 0
	for _, m := range messages {
		if strings.Contains(m, "peer "+id+" banned") {
			n++
		}
	}
	return n
}
