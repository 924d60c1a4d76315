package rtc

import "testing"

func TestSDPMaxMessageSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		sdp  string
		want int
		ok   bool
	}{
		{"absent", "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n", 0, false},
		{"chromium", "v=0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n", 262144, true},
		{"LF only", "v=0\na=max-message-size:65536\n", 65536, true},
		{"last line", "v=0\r\na=max-message-size:1000", 1000, true},
		{"spaces", "a=max-message-size: 1200 \r\n", 1200, true},
		{"zero means no limit", "a=max-message-size:0\r\n", 0, false},
		{"negative", "a=max-message-size:-5\r\n", 0, false},
		{"garbage", "a=max-message-size:lots\r\n", 0, false},
		{"overflow", "a=max-message-size:99999999999999999999999\r\n", 0, false},
		{"other attribute", "a=max-message-sizes:10\r\n", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sdpMaxMessageSize(tc.sdp)
			if got != tc.want || ok != tc.ok {
				t.Errorf("sdpMaxMessageSize = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
