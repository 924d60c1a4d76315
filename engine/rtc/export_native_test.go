//go:build !js

package rtc

import (
	"io"
	"time"

	"github.com/pion/webrtc/v3"
)

// NewLoopbackAPIWithICETimeouts is NewLoopbackAPI with ICE disconnected and
// failed timeouts and keep-alive interval of the given lengths.
func NewLoopbackAPIWithICETimeouts(disconnected, failed, keepAlive time.Duration) (*webrtc.API, io.Closer, error) {
	return newLoopbackAPI(func(s *webrtc.SettingEngine) { s.SetICETimeouts(disconnected, failed, keepAlive) })
}
