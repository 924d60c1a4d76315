//go:build !js

package rtc

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/pion/ice/v2"
	"github.com/pion/webrtc/v3"
)

// LoopbackReadBuffer is the read buffer NewLoopbackAPI asks for on its UDP
// socket. The default (208 KiB on Linux) drops packets and caps a channel at
// 4–7 MiB/s; 4 MiB gives 21–65 MiB/s. The kernel caps it at
// net.core.rmem_max.
const LoopbackReadBuffer = 4 << 20

// NewLoopbackAPI returns an API whose peer connections only use 127.0.0.1:
// UDP4 host candidates on the loopback interface, no mDNS, and one ICE UDP
// mux on a socket with a LoopbackReadBuffer read buffer. No packet leaves the
// machine. It is meant for tests and tools.
//
// All connections of the API share the socket's port, and the mux tells them
// apart by remote address, so the two ends of one connection need two APIs:
// give each peer its own. Close frees the socket; close the API's peer
// connections first.
func NewLoopbackAPI() (*webrtc.API, io.Closer, error) { return newLoopbackAPI(nil) }

// newLoopbackAPI is NewLoopbackAPI with a hook that may adjust the setting
// engine (tests shorten ICE timeouts with it).
func newLoopbackAPI(tune func(*webrtc.SettingEngine)) (*webrtc.API, io.Closer, error) {
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, fmt.Errorf("rtc: loopback socket: %w", err)
	}
	if err := udp.SetReadBuffer(LoopbackReadBuffer); err != nil {
		_ = udp.Close()
		return nil, nil, fmt.Errorf("rtc: loopback socket read buffer: %w", err)
	}
	mux := webrtc.NewICEUDPMux(nil, udp)

	var s webrtc.SettingEngine
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(true)
	s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetICEUDPMux(mux)
	if tune != nil {
		tune(&s)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(s)), &loopbackCloser{mux: mux, udp: udp}, nil
}

// loopbackCloser closes a loopback API's mux and socket.
type loopbackCloser struct {
	mux ice.UDPMux
	udp *net.UDPConn
}

// Close closes the mux, which closes the socket, and the socket in case it
// did not.
func (l *loopbackCloser) Close() error {
	err := l.mux.Close()
	if uerr := l.udp.Close(); uerr != nil && !errors.Is(uerr, net.ErrClosed) {
		err = errors.Join(err, uerr)
	}
	if err != nil {
		return fmt.Errorf("rtc: close loopback API: %w", err)
	}
	return nil
}
