package bttracker

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var url string
	t.Run("running", func(t *testing.T) {
		url = Start(t)
		if !strings.HasPrefix(url, "ws://127.0.0.1:") {
			t.Fatalf("URL %q, want ws://127.0.0.1:<port>", url)
		}
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.CloseNow()
		id := strings.Repeat("\u00e9", 20) // a binary string: 20 bytes of 0xe9
		req, _ := json.Marshal(map[string]any{"action": "announce", "info_hash": id, "peer_id": id,
			"numwant": 0, "uploaded": 0, "downloaded": 0, "left": 1, "event": "started"})
		if err := c.Write(ctx, websocket.MessageText, req); err != nil {
			t.Fatalf("write: %v", err)
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var resp struct {
			Action     string `json:"action"`
			InfoHash   string `json:"info_hash"`
			Interval   int    `json:"interval"`
			Incomplete int    `json:"incomplete"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("response %s: %v", b, err)
		}
		if resp.Action != "announce" || resp.InfoHash != id || resp.Interval <= 0 || resp.Incomplete != 1 {
			t.Fatalf("response %s", b)
		}
	})
	// The tracker stopped with the test that started it.
	if c, _, err := websocket.Dial(ctx, url, nil); err == nil {
		c.CloseNow()
		t.Fatalf("tracker at %s still running after its test ended", url)
	}
}
