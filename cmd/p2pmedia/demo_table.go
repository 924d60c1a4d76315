package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// viewerStatusJS reads a demo page's window.__demo (examples/demo.js) into the
// shape of viewerStatus. Sizes are in KB (1024 bytes), as the engine's stats
// event reports them.
const viewerStatusJS = `(() => {
  const d = window.__demo;
  if (!d) return {state: 'loading'};
  const s = d.stats || {};
  const e = d.errors || [];
  const last = e.length ? e[e.length - 1] : null;
  return {
    state: d.state || (d.ended ? 'ended' : d.playing ? 'playing' : 'loading'),
    position: d.position || 0,
    duration: d.duration || 0,
    http: s.totalHTTPDownloaded || 0,
    p2p: s.totalP2PDownloaded || 0,
    upload: s.totalP2PUploaded || 0,
    peers: (d.peers || []).length,
    tracker: typeof d.serverConnected === 'boolean' ? d.serverConnected : null,
    errors: e.length,
    lastError: last ? String((last.code ? last.code + ': ' : '') + (last.message || last)) : '',
  };
})()`

// viewerStatus is one viewer's state as its page reports it.
type viewerStatus struct {
	State     string  `json:"state"`
	Position  float64 `json:"position"` // seconds
	Duration  float64 `json:"duration"` // seconds; 0 while unknown
	HTTPKB    float64 `json:"http"`
	P2PKB     float64 `json:"p2p"`
	UploadKB  float64 `json:"upload"`
	Peers     int     `json:"peers"`
	Tracker   *bool   `json:"tracker"` // nil until the engine reports it
	Errors    int     `json:"errors"`
	LastError string  `json:"lastError"`
}

// viewerRow is one line of the viewers table.
type viewerRow struct {
	Label  string
	Status viewerStatus
	// Note is a problem of the viewer itself (its page failed to open, the
	// page stopped answering), shown under the table.
	Note string
}

// tableHeader is the heading line of the viewers table; renderTable's cells
// line up under it.
const tableHeader = "VIEWER  STATE      POSITION       HTTP MiB  P2P MiB  P2P %  UP MiB  PEERS  TRACKER"

// renderTable writes the viewers table, a totals line and the viewers' notes
// and last page errors, and returns the number of lines written.
func renderTable(w io.Writer, rows []viewerRow) int {
	var b strings.Builder
	b.WriteString(tableHeader + "\n")
	lines := 1
	var httpKB, p2pKB, upKB float64
	for _, r := range rows {
		s := r.Status
		httpKB += s.HTTPKB
		p2pKB += s.P2PKB
		upKB += s.UploadKB
		fmt.Fprintf(&b, "%-6s  %-9s  %-13s  %8s  %7s  %5s  %6s  %5d  %s\n",
			clip(r.Label, 6), clip(s.State, 9), position(s.Position, s.Duration),
			mib(s.HTTPKB), mib(s.P2PKB), share(s.HTTPKB, s.P2PKB), mib(s.UploadKB), s.Peers, trackerState(s.Tracker))
		lines++
	}
	fmt.Fprintf(&b, "%-6s  %-9s  %-13s  %8s  %7s  %5s  %6s\n",
		"total", "", "", mib(httpKB), mib(p2pKB), share(httpKB, p2pKB), mib(upKB))
	lines++
	for _, r := range rows {
		note := r.Note
		if note == "" && r.Status.Errors > 0 {
			note = fmt.Sprintf("%d page error(s), last: %s", r.Status.Errors, r.Status.LastError)
		}
		if note != "" {
			fmt.Fprintf(&b, "  viewer %s: %s\n", r.Label, clip(oneLine(note), 100))
			lines++
		}
	}
	_, _ = io.WriteString(w, b.String())
	return lines
}

// mib formats a size in KB as MiB with two decimals.
func mib(kb float64) string {
	return fmt.Sprintf("%.2f", kb/1024)
}

// share formats the P2P share of the downloaded bytes as a percentage, or
// "-" before anything was downloaded.
func share(httpKB, p2pKB float64) string {
	total := httpKB + p2pKB
	if total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*p2pKB/total)
}

// position formats a playhead and duration as m:ss / m:ss.
func position(pos, dur float64) string {
	if dur <= 0 || math.IsInf(dur, 0) || math.IsNaN(dur) {
		return clock(pos)
	}
	return clock(pos) + " / " + clock(dur)
}

// clock formats seconds as m:ss.
func clock(sec float64) string {
	if sec < 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		sec = 0
	}
	s := int(sec)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// trackerState describes the engine's tracker connection.
func trackerState(connected *bool) string {
	switch {
	case connected == nil:
		return "-"
	case *connected:
		return "connected"
	default:
		return "down"
	}
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

// oneLine replaces line breaks and tabs with spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// isTerminal reports whether w is a terminal, where the live table redraws
// itself in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
