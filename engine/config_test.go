//go:build !js

package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/engine"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/origin"
	"github.com/p2pmedia/p2pmedia/engine/store"
)

// TestConfigValidation checks that New refuses every invalid option with an
// error that wraps ErrConfig and names the option, and accepts the zero
// values of the optional ones.
func TestConfigValidation(t *testing.T) {
	valid := func() engine.Config {
		return engine.Config{Fetcher: &origin.Client{}, Store: store.NewMemory(1 << 20)}
	}
	tests := []struct {
		name   string
		modify func(*engine.Config)
		option string // "" for a valid config
	}{
		{"zero values are defaults", func(*engine.Config) {}, ""},
		{"PieceLength 16 KiB", func(c *engine.Config) { c.PieceLength = 16 << 10 }, ""},
		{"PieceLength 16 MiB", func(c *engine.Config) { c.PieceLength = 16 << 20 }, ""},
		{"PieceLength 1000", func(c *engine.Config) { c.PieceLength = 1000 }, "PieceLength"},
		{"PieceLength -16384", func(c *engine.Config) { c.PieceLength = -16384 }, "PieceLength"},
		{"PieceLength 17 MiB", func(c *engine.Config) { c.PieceLength = 17 << 20 }, "PieceLength"},
		{"negative MinBufferCount", func(c *engine.Config) { c.MinBufferCount = -1 }, "MinBufferCount"},
		{"missing Fetcher", func(c *engine.Config) { c.Fetcher = nil }, "Fetcher"},
		{"missing Store", func(c *engine.Config) { c.Store = nil }, "Store"},
		{"negative MaxPeers", func(c *engine.Config) { c.MaxPeers = -1 }, "MaxPeers"},
		{"MaxOffers above 10", func(c *engine.Config) { c.MaxOffers = 11 }, "MaxOffers"},
		{"negative HTTPWindow", func(c *engine.Config) { c.HTTPWindow = -time.Second }, "HTTPWindow"},
		{"negative P2PStallTimeout", func(c *engine.Config) { c.P2PStallTimeout = -time.Second }, "P2PStallTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.modify(&cfg)
			e, err := engine.New(cfg)
			if tt.option == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				e.Close()
				return
			}
			if err == nil {
				e.Close()
				t.Fatalf("New accepted an invalid %s", tt.option)
			}
			if !errors.Is(err, engine.ErrConfig) {
				t.Errorf("error %q does not wrap ErrConfig", err)
			}
			// The option's name, as Config spells it or as the page's
			// API does (pieceLength).
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.option)) {
				t.Errorf("error %q does not name %s", err, tt.option)
			}
		})
	}
}

// TestJoinCustomChannel checks that a custom channel id needs a token.
func TestJoinCustomChannel(t *testing.T) {
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"without token", "", false},
		{"with token", "site-token", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := engine.New(engine.Config{Fetcher: &origin.Client{}, Store: store.NewMemory(1 << 20), Token: tt.token})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			sw, err := e.Join("my-channel", true)
			if !tt.ok {
				if err == nil {
					t.Fatal("Join accepted a custom channel id without a token")
				}
				if !errors.Is(err, identity.ErrInvalid) || !strings.Contains(err.Error(), "token") {
					t.Errorf("error %q does not say a token is required", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Join: %v", err)
			}
			if id := sw.ID(); id.ChannelID != "my-channel" || id.Token != tt.token {
				t.Errorf("swarm %+v, want channel my-channel with the token", id)
			}
		})
	}
}
