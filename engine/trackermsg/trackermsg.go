// Package trackermsg encodes and decodes the JSON messages of the WebTorrent
// tracker protocol over WebSocket, as bittorrent-tracker, wt-tracker and
// aquatic_ws speak it. It is shared by the engine's tracker client and the
// tracker server.
//
// info_hash, peer_id, to_peer_id and offer_id are 20-byte values carried as
// "binary strings": one JSON character per byte, U+0000 to U+00FF. ID handles
// that mapping; a character above U+00FF is rejected.
package trackermsg

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxMessageSize is the largest message accepted (wt-tracker's cap).
const MaxMessageSize = 64 * 1024

// MaxOffers is the most offers one announce may carry.
const MaxOffers = 20

// MaxSDPLen bounds one SDP blob.
const MaxSDPLen = 16 * 1024

// Actions.
const (
	ActionAnnounce = "announce"
	ActionScrape   = "scrape"
)

// Announce events.
const (
	EventStarted   = "started"
	EventStopped   = "stopped"
	EventCompleted = "completed"
	EventUpdate    = "update"
)

// ReasonPeerIDInUse starts the failure reason of an announce whose peer_id
// another connection holds in that swarm (our tracker's refusal). A client
// that gets it is announcing under an id it does not hold there.
const ReasonPeerIDInUse = "peer_id is in use by another connection"

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("trackermsg: malformed message")

// ID is a 20-byte identifier carried as a binary string.
type ID [20]byte

// String returns the ID in lowercase hex (for logs).
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// BinaryString returns the ID as a Go string of 20 runes U+0000..U+00FF.
func (id ID) BinaryString() string {
	r := make([]rune, len(id))
	for i, b := range id {
		r[i] = rune(b)
	}
	return string(r)
}

// ParseBinaryString decodes a binary string of exactly 20 characters.
func ParseBinaryString(s string) (ID, error) {
	var id ID
	n := 0
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return id, fmt.Errorf("%w: invalid UTF-8 in binary string", ErrMalformed)
			}
		}
		if r > 0xFF {
			return id, fmt.Errorf("%w: binary string has character U+%04X above U+00FF", ErrMalformed, r)
		}
		if n >= len(id) {
			return id, fmt.Errorf("%w: binary string longer than %d characters", ErrMalformed, len(id))
		}
		id[n] = byte(r)
		n++
	}
	if n != len(id) {
		return id, fmt.Errorf("%w: binary string has %d characters, want %d", ErrMalformed, n, len(id))
	}
	return id, nil
}

// MarshalJSON encodes the ID as a binary string.
func (id ID) MarshalJSON() ([]byte, error) { return json.Marshal(id.BinaryString()) }

// UnmarshalJSON decodes a binary string.
func (id *ID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: id is not a string", ErrMalformed)
	}
	v, err := ParseBinaryString(s)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// SDP is an offer or answer session description.
type SDP struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// Offer is one entry of an announce's offers list.
type Offer struct {
	Offer   SDP `json:"offer"`
	OfferID ID  `json:"offer_id"`
}

// ScrapeFile is a scrape response's per-swarm counts.
type ScrapeFile struct {
	Complete   int `json:"complete"`
	Incomplete int `json:"incomplete"`
	Downloaded int `json:"downloaded"`
}

// Message is any tracker message, from client or server. Which fields are set
// depends on its kind: an announce, a relayed offer, an answer, an announce
// response, a scrape, a scrape response or a failure.
type Message struct {
	Action string `json:"action,omitempty"`
	// InfoHash is the swarm of an announce, relayed offer, answer or response.
	InfoHash *ID `json:"info_hash,omitempty"`
	// InfoHashes lists the swarms of a scrape (encoded as info_hash).
	InfoHashes []ID `json:"-"`
	PeerID     *ID  `json:"peer_id,omitempty"`
	ToPeerID   *ID  `json:"to_peer_id,omitempty"`
	OfferID    *ID  `json:"offer_id,omitempty"`

	NumWant    *int     `json:"numwant,omitempty"`
	Uploaded   *float64 `json:"uploaded,omitempty"`
	Downloaded *float64 `json:"downloaded,omitempty"`
	Left       *float64 `json:"left,omitempty"`
	Event      string   `json:"event,omitempty"`
	Offers     []Offer  `json:"offers,omitempty"`

	Offer  *SDP `json:"offer,omitempty"`
	Answer *SDP `json:"answer,omitempty"`

	Interval    *int `json:"interval,omitempty"`
	MinInterval *int `json:"min interval,omitempty"`
	Complete    *int `json:"complete,omitempty"`
	Incomplete  *int `json:"incomplete,omitempty"`

	Files map[string]ScrapeFile `json:"-"`

	FailureReason  string `json:"failure reason,omitempty"`
	WarningMessage string `json:"warning message,omitempty"`
}

// IsFailure reports whether the message is a tracker error.
func (m *Message) IsFailure() bool { return m.FailureReason != "" }

// Kind classifies a decoded message.
type Kind int

// Message kinds.
const (
	KindUnknown          Kind = iota
	KindAnnounce              // client → tracker: announce (maybe with offers)
	KindRelayedOffer          // tracker → client: an offer from another peer
	KindAnswer                // client → tracker, or tracker → client: an answer
	KindAnnounceResponse      // tracker → client: interval and counts
	KindScrape                // client → tracker
	KindScrapeResponse        // tracker → client
	KindFailure               // tracker → client: failure reason
)

// Kind tells what the message is, from the fields that are set.
func (m *Message) Kind() Kind {
	switch {
	case m.FailureReason != "":
		return KindFailure
	case m.Action == ActionScrape && m.Files != nil:
		return KindScrapeResponse
	case m.Action == ActionScrape:
		return KindScrape
	case m.Action != ActionAnnounce:
		return KindUnknown
	case m.Answer != nil:
		return KindAnswer
	case m.Offer != nil:
		return KindRelayedOffer
	case m.Interval != nil || m.Complete != nil || m.Incomplete != nil:
		return KindAnnounceResponse
	case m.PeerID != nil:
		return KindAnnounce
	}
	return KindUnknown
}

// wireMessage is Message as it travels: info_hash is a string or a list, and
// files is present (possibly empty) exactly when Files is non-nil.
type wireMessage struct {
	Message
	RawInfoHash json.RawMessage        `json:"info_hash,omitempty"`
	RawFiles    *map[string]ScrapeFile `json:"files,omitempty"`
}

// Encode returns the JSON text of m.
//
// info_hash is written as one binary string when InfoHash is set (for a
// scrape, when InfoHashes is nil or holds just InfoHash), and as a list when
// only InfoHashes is set. files is written, even empty, when Files is non-nil.
func Encode(m *Message) ([]byte, error) {
	w := wireMessage{Message: *m}
	w.InfoHash = nil
	single := m.InfoHash != nil && (m.Action != ActionScrape || m.InfoHashes == nil ||
		(len(m.InfoHashes) == 1 && m.InfoHashes[0] == *m.InfoHash))
	switch {
	case single:
		b, err := json.Marshal(m.InfoHash)
		if err != nil {
			return nil, fmt.Errorf("trackermsg: encode info_hash: %w", err)
		}
		w.RawInfoHash = b
	case m.InfoHashes != nil:
		b, err := json.Marshal(m.InfoHashes)
		if err != nil {
			return nil, fmt.Errorf("trackermsg: encode info_hash list: %w", err)
		}
		w.RawInfoHash = b
	}
	if m.Files != nil {
		files := m.Files
		w.RawFiles = &files
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("trackermsg: encode %q message: %w", m.Action, err)
	}
	return b, nil
}

// Decode parses and validates one message. It accepts what the known trackers
// and clients send and rejects, with an error wrapping ErrMalformed, anything
// oversized, ill-typed or inconsistent.
func Decode(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(data), MaxMessageSize)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var w wireMessage
	if err := json.Unmarshal(data, &w); err != nil {
		if errors.Is(err, ErrMalformed) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m := w.Message
	if len(w.RawInfoHash) > 0 && string(w.RawInfoHash) != "null" {
		if w.RawInfoHash[0] == '[' {
			if err := json.Unmarshal(w.RawInfoHash, &m.InfoHashes); err != nil {
				if errors.Is(err, ErrMalformed) {
					return nil, err
				}
				return nil, fmt.Errorf("%w: info_hash list: %v", ErrMalformed, err)
			}
			if len(m.InfoHashes) > MaxOffers*5 {
				return nil, fmt.Errorf("%w: too many info hashes", ErrMalformed)
			}
		} else {
			var id ID
			if err := json.Unmarshal(w.RawInfoHash, &id); err != nil {
				return nil, err
			}
			m.InfoHash = &id
			if m.Action == ActionScrape {
				m.InfoHashes = []ID{id}
			}
		}
	}
	if w.RawFiles != nil {
		m.Files = *w.RawFiles
		if m.Files == nil {
			m.Files = map[string]ScrapeFile{}
		}
	}
	if len(m.Offers) == 0 {
		// "offers": [] means no offers; keep one representation of that.
		m.Offers = nil
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Message) validate() error {
	if len(m.Offers) > MaxOffers {
		return fmt.Errorf("%w: %d offers exceeds %d", ErrMalformed, len(m.Offers), MaxOffers)
	}
	for _, o := range m.Offers {
		if err := checkSDP(&o.Offer, "offer"); err != nil {
			return err
		}
	}
	if m.Offer != nil {
		if err := checkSDP(m.Offer, "offer"); err != nil {
			return err
		}
	}
	if m.Answer != nil {
		if err := checkSDP(m.Answer, "answer"); err != nil {
			return err
		}
	}
	if m.NumWant != nil && (*m.NumWant < 0 || *m.NumWant > 1000) {
		return fmt.Errorf("%w: numwant %d out of range", ErrMalformed, *m.NumWant)
	}
	switch m.Event {
	case "", EventStarted, EventStopped, EventCompleted, EventUpdate:
	default:
		return fmt.Errorf("%w: unknown event %q", ErrMalformed, m.Event)
	}
	if m.Interval != nil && *m.Interval < 0 {
		return fmt.Errorf("%w: negative interval", ErrMalformed)
	}
	switch m.Kind() {
	case KindAnnounce:
		if m.InfoHash == nil {
			return fmt.Errorf("%w: announce without info_hash", ErrMalformed)
		}
	case KindRelayedOffer:
		if m.InfoHash == nil || m.PeerID == nil || m.OfferID == nil {
			return fmt.Errorf("%w: offer needs info_hash, peer_id and offer_id", ErrMalformed)
		}
	case KindAnswer:
		if m.InfoHash == nil || m.PeerID == nil || m.OfferID == nil {
			return fmt.Errorf("%w: answer needs info_hash, peer_id and offer_id", ErrMalformed)
		}
	case KindScrape:
	case KindAnnounceResponse, KindScrapeResponse, KindFailure:
	default:
		if m.Action == "" {
			return fmt.Errorf("%w: no action", ErrMalformed)
		}
		if m.Action == ActionAnnounce {
			return fmt.Errorf("%w: announce without peer_id", ErrMalformed)
		}
		return fmt.Errorf("%w: unknown action %q", ErrMalformed, m.Action)
	}
	return nil
}

func checkSDP(s *SDP, want string) error {
	if s.Type != want {
		return fmt.Errorf("%w: %s has type %q", ErrMalformed, want, s.Type)
	}
	if s.SDP == "" || len(s.SDP) > MaxSDPLen {
		return fmt.Errorf("%w: %s SDP empty or longer than %d bytes", ErrMalformed, want, MaxSDPLen)
	}
	return nil
}
