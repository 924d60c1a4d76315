package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"HASHES_ALLOW":          " cdn.example.com, *.media.example ,",
		"HASHES_MAX_SIZE":       "1000000",
		"HASHES_TIMEOUT":        "30s",
		"HASHES_CACHE_TTL":      "1m",
		"HASHES_CHUNK_SIZE":     "65536",
		"HASHES_MAX_CONCURRENT": "2",
	}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Allow, "|") != "cdn.example.com|*.media.example" || cfg.MaxSize != 1000000 || cfg.Timeout != 30*time.Second ||
		cfg.CacheTTL != time.Minute || cfg.ChunkSize != 65536 || cfg.MaxConcurrent != 2 {
		t.Errorf("configFromEnv = %+v", cfg)
	}
	for k, v := range map[string]string{
		"HASHES_ALLOW":          " , ",
		"HASHES_MAX_SIZE":       "-1",
		"HASHES_TIMEOUT":        "soon",
		"HASHES_CACHE_TTL":      "0s",
		"HASHES_CHUNK_SIZE":     "1e6",
		"HASHES_MAX_CONCURRENT": "0",
	} {
		bad := map[string]string{"HASHES_ALLOW": "cdn.example.com", k: v}
		if _, err := configFromEnv(func(k string) string { return bad[k] }); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: error %v, want one naming %s", k, v, err, k)
		}
	}
}
