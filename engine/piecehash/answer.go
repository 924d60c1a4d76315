package piecehash

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxErrorMessageLength bounds the message of a ServiceError that
// DecodeAnswer keeps; a longer one is cut.
const MaxErrorMessageLength = 1024

// ErrService is wrapped by the *ServiceError of DecodeAnswer.
var ErrService = errors.New("piecehash: the hash service refused")

// ServiceError is an error answer of the piece-hash service: its HTTP
// status and the JSON body {"error": message, "originStatus": n}
// (docs/hashes.md).
type ServiceError struct {
	// Status is the HTTP status of the answer.
	Status int
	// Message is the body's "error", or a description of the body when it
	// was not the service's JSON (a proxy's error page, say).
	Message string
	// OriginStatus is the status the media's origin answered the service
	// with, when that made it fail (0 otherwise).
	OriginStatus int
}

// Error implements error.
func (e *ServiceError) Error() string {
	s := fmt.Sprintf("piecehash: hash service answered %d: %s", e.Status, e.Message)
	if e.OriginStatus != 0 {
		s += fmt.Sprintf(" (origin status %d)", e.OriginStatus)
	}
	return s
}

// Unwrap returns ErrService.
func (e *ServiceError) Unwrap() error { return ErrService }

// Temporary reports whether asking again later may succeed: the service was
// busy (503) or timed out (504), or the origin failed with a 5xx.
func (e *ServiceError) Temporary() bool {
	return e.Status == 503 || e.Status == 504 || e.Status == 502 && e.OriginStatus >= 500
}

// DecodeAnswer decodes an answer of the piece-hash service given its HTTP
// status and body: a 200's List (Decode), or for any other status a
// *ServiceError (wrapping ErrService). A 200 whose body is not a valid List
// fails with an error wrapping ErrInvalid. A 304 has no body: the caller
// keeps the List it revalidated, and gets a *ServiceError with Status 304.
func DecodeAnswer(status int, body []byte) (*List, error) {
	if status == 200 {
		return Decode(body)
	}
	e := &ServiceError{Status: status}
	var raw struct {
		Error        *string `json:"error"`
		OriginStatus int     `json:"originStatus"`
	}
	if len(body) <= MaxDocumentSize && json.Unmarshal(body, &raw) == nil && raw.Error != nil {
		e.Message = cut(*raw.Error)
		if raw.OriginStatus >= 100 && raw.OriginStatus <= 999 {
			e.OriginStatus = raw.OriginStatus
		}
	} else {
		e.Message = fmt.Sprintf("not the service's JSON error (%d bytes)", len(body))
	}
	return nil, e
}

// cut bounds a message to MaxErrorMessageLength bytes of valid UTF-8 with
// no control characters.
func cut(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	if len(s) <= MaxErrorMessageLength {
		return s
	}
	n := MaxErrorMessageLength
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
