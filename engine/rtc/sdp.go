package rtc

import (
	"strconv"
	"strings"
)

// sdpMaxMessageSize returns the a=max-message-size (RFC 8841) of an SDP when
// it is present and limits the size. 0 ("no limit"), values too large for an
// int and malformed values are not reported.
func sdpMaxMessageSize(sdp string) (int, bool) {
	for line := range strings.Lines(sdp) {
		v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=max-message-size:")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
