package piecehash

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeAnswer(t *testing.T) {
	data := sample(40 * kib)
	enc, err := listOf(t, data, 0, int64(len(data)), 16*kib).Encode()
	if err != nil {
		t.Fatal(err)
	}
	l, err := DecodeAnswer(200, enc)
	if err != nil || len(l.Pieces) != 3 {
		t.Fatalf("DecodeAnswer(200, list) = %v, %v", l, err)
	}
	if _, err := DecodeAnswer(200, []byte(`{"error":"x"}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("DecodeAnswer(200, error body) = %v, want ErrInvalid", err)
	}
	tests := []struct {
		status    int
		body      string
		msg       string
		origin    int
		temporary bool
	}{
		{403, `{"error":"origin https://x is not in this service's allowlist"}`, "origin https://x is not in this service's allowlist", 0, false},
		{502, `{"error":"origin answered 404","originStatus":404}`, "origin answered 404", 404, false},
		{502, `{"error":"origin answered 503","originStatus":503}`, "origin answered 503", 503, true},
		{503, `{"error":"busy"}`, "busy", 0, true},
		{504, `{"error":"slow","originStatus":7}`, "slow", 0, true},
		{500, `<html>oops</html>`, "not the service's JSON error (17 bytes)", 0, false},
		{400, "{\"error\":\"a\\nb\"}", "a b", 0, false},
	}
	for _, tt := range tests {
		_, err := DecodeAnswer(tt.status, []byte(tt.body))
		var se *ServiceError
		if !errors.As(err, &se) || !errors.Is(err, ErrService) {
			t.Fatalf("DecodeAnswer(%d, %s) = %v, want a *ServiceError", tt.status, tt.body, err)
		}
		if se.Status != tt.status || se.Message != tt.msg || se.OriginStatus != tt.origin || se.Temporary() != tt.temporary {
			t.Errorf("DecodeAnswer(%d, %s) = %+v (temporary %v)", tt.status, tt.body, se, se.Temporary())
		}
	}
	_, err = DecodeAnswer(400, []byte(`{"error":"`+strings.Repeat("é", 2000)+`"}`))
	var se *ServiceError
	if !errors.As(err, &se) || len(se.Message) > MaxErrorMessageLength+len("…") || !utf8.ValidString(se.Message) {
		t.Errorf("long message: %d bytes, valid %v", len(se.Message), utf8.ValidString(se.Message))
	}
}

func FuzzDecodeAnswer(f *testing.F) {
	f.Add(200, []byte(`{"version":1,"url":"u","size":1,"start":0,"end":1,"pieceLength":16384,"pieces":["`+hx+`"]}`))
	f.Add(502, []byte(`{"error":"origin answered 404","originStatus":404}`))
	f.Add(503, []byte(`{"error":"busy"}`))
	f.Add(500, []byte(`not json`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		l, err := DecodeAnswer(status, body)
		switch {
		case err == nil:
			if status != 200 || l == nil || l.Validate() != nil {
				t.Fatalf("DecodeAnswer(%d) accepted %v", status, l)
			}
		case status == 200:
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeAnswer(200): %v does not wrap ErrInvalid", err)
			}
		default:
			var se *ServiceError
			if !errors.As(err, &se) || se.Status != status || len(se.Message) > MaxErrorMessageLength+len("…") || !utf8.ValidString(se.Message) {
				t.Fatalf("DecodeAnswer(%d) = %v", status, err)
			}
			if se.OriginStatus != 0 && (se.OriginStatus < 100 || se.OriginStatus > 999) {
				t.Fatalf("origin status %d", se.OriginStatus)
			}
			for _, r := range se.Message {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("control character in %q", se.Message)
				}
			}
		}
	})
}
