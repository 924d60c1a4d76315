//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"syscall/js"

	"github.com/pion/webrtc/v3"

	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

const (
	// defaultDiskCacheLimit applies when the page gives no diskCacheLimit
	// (the shim resolves the public option; this is the pc default).
	defaultDiskCacheLimit = 1500 << 20
	// maxMemoryStore bounds the in-memory fallback store: wasm memory never
	// shrinks, so it stays well below the disk limits.
	maxMemoryStore = 128 << 20
)

// config is WasmConfig (docs/browser-runtime.md) read into Go.
type config struct {
	announce    []string
	token       string
	channelID   string   // a custom channel id for every URL, if set
	channelFn   js.Value // a function(url) → channel id, if set
	pieceLength int64
	webRTC      webrtc.Configuration
	p2pEnabled  bool
	diskLimit   int64
	minBuffer   int
	logLevel    string
	mediaElem   js.Value // an HTMLMediaElement, or undefined
	// hashService is the base URL of the piece-hash service, if set.
	hashService string
	// hashListFn is a function(url) → the URL of url's hash list, if set.
	hashListFn js.Value
	// peerTube is set when the hashes are PeerTube's, of whole segments
	// (hashSource: {peertube: …}): those of the list at peerTubeURL when
	// set, else of the list peerTubeFn (a function(url) → URL or null)
	// names when set, else of the segments-sha256.json beside each segment.
	peerTube    bool
	peerTubeURL string
	peerTubeFn  js.Value
	// validatePiece is the site's function(info, bytes) → boolean or a
	// promise of one, if set.
	validatePiece js.Value
}

// parseConfig reads a WasmConfig. Values of the wrong type are errors
// naming the option; absent optional ones take their defaults.
func parseConfig(v js.Value) (config, error) {
	if !jsutil.IsObject(v) {
		return config{}, errors.New("p2pmedia: newEngine: config must be an object")
	}
	c := config{
		announce:    jsutil.Strings(v, "announce"),
		token:       jsutil.String(v, "token", ""),
		p2pEnabled:  jsutil.Bool(v, "p2pEnabled", true),
		logLevel:    jsutil.String(v, "logLevel", "error"),
		webRTC:      webRTCConfig(jsutil.Get(v, "webRTCConfig")),
		mediaElem:   js.Undefined(),
		channelFn:   js.Undefined(),
		pieceLength: 0,

		hashListFn:    js.Undefined(),
		peerTubeFn:    js.Undefined(),
		validatePiece: js.Undefined(),
	}
	switch h := v.Get("hashSource"); h.Type() {
	case js.TypeString:
		c.hashService = h.String()
	case js.TypeFunction:
		c.hashListFn = h
	case js.TypeObject:
		if err := c.parsePeerTube(h.Get("peertube")); err != nil {
			return config{}, err
		}
	case js.TypeUndefined, js.TypeNull:
	default:
		return config{}, errors.New("p2pmedia: hashSource must be a string, a function or {peertube: …}")
	}
	switch f := v.Get("validatePiece"); f.Type() {
	case js.TypeFunction:
		c.validatePiece = f
	case js.TypeUndefined, js.TypeNull:
	default:
		return config{}, errors.New("p2pmedia: validatePiece must be a function")
	}
	switch ch := v.Get("channelId"); ch.Type() {
	case js.TypeString:
		c.channelID = ch.String()
	case js.TypeFunction:
		c.channelFn = ch
	case js.TypeUndefined, js.TypeNull:
	default:
		return config{}, errors.New("p2pmedia: channelId must be a string or a function")
	}
	var err error
	if c.pieceLength, err = integer(v, "pieceLength", 0); err != nil {
		return config{}, err
	}
	if c.diskLimit, err = integer(v, "diskCacheLimit", defaultDiskCacheLimit); err != nil {
		return config{}, err
	}
	mb, err := integer(v, "minBufferCount", 0)
	if err != nil {
		return config{}, err
	}
	if mb > math.MaxInt32 {
		return config{}, fmt.Errorf("p2pmedia: minBufferCount %d is too large", mb)
	}
	c.minBuffer = int(mb)
	if m := v.Get("mediaElem"); m.Type() == js.TypeObject {
		c.mediaElem = m
	}
	return c, nil
}

// parsePeerTube reads pt, the peertube field of hashSource {peertube: pt}:
// true for the segments-sha256.json beside each segment, the absolute
// http(s) URL of one list, or a function(url) → the URL of the list of the
// segment at url, or null for none.
func (c *config) parsePeerTube(pt js.Value) error {
	switch pt.Type() {
	case js.TypeBoolean:
		if !pt.Bool() {
			return errPeerTube
		}
	case js.TypeString:
		u, err := url.Parse(pt.String())
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("p2pmedia: hashSource.peertube %.200q is not an absolute http(s) URL", pt.String())
		}
		c.peerTubeURL = pt.String()
	case js.TypeFunction:
		c.peerTubeFn = pt
	default:
		return errPeerTube
	}
	c.peerTube = true
	return nil
}

var errPeerTube = errors.New("p2pmedia: hashSource.peertube must be true, the URL of a segments-sha256.json or a function(url) returning one")

// integer reads a non-negative integer option; def when absent.
func integer(v js.Value, name string, def int64) (int64, error) {
	f := v.Get(name)
	switch f.Type() {
	case js.TypeUndefined, js.TypeNull:
		return def, nil
	case js.TypeNumber:
		x := f.Float()
		if x >= 0 && x <= 1<<53 && x == math.Trunc(x) {
			return int64(x), nil
		}
	}
	return 0, fmt.Errorf("p2pmedia: %s must be a non-negative integer", name)
}

// webRTCConfig converts the RTCConfiguration fields pion's js build passes
// on: iceServers (urls, username, credential) and iceTransportPolicy.
func webRTCConfig(v js.Value) webrtc.Configuration {
	var c webrtc.Configuration
	if servers := jsutil.Get(v, "iceServers"); jsutil.IsArray(servers) {
		for i, n := 0, servers.Length(); i < n; i++ {
			s := servers.Index(i)
			urls := jsutil.Strings(s, "urls")
			if len(urls) == 0 {
				urls = jsutil.Strings(s, "url") // the legacy spelling
			}
			if len(urls) == 0 {
				continue
			}
			srv := webrtc.ICEServer{URLs: urls, Username: jsutil.String(s, "username", "")}
			if cred := jsutil.Get(s, "credential"); cred.Type() == js.TypeString {
				srv.Credential = cred.String()
			}
			c.ICEServers = append(c.ICEServers, srv)
		}
	}
	if p := jsutil.String(v, "iceTransportPolicy", ""); p != "" {
		c.ICETransportPolicy = webrtc.NewICETransportPolicy(p)
	}
	return c
}
