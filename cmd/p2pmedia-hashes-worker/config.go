// Command p2pmedia-hashes-worker is the piece-hash service (package
// hashservice) as a Cloudflare Worker, built with github.com/syumai/workers:
//
//	make hashes-worker                      # build/hashes-worker/{worker.mjs,app.wasm,...}
//	cd cmd/p2pmedia-hashes-worker && npx wrangler deploy
//
// It answers GET /v1/pieces exactly as "p2pmedia hashes" does (docs/hashes.md).
// Its settings come from the Worker's environment variables (wrangler.toml
// [vars], or bindings of a workerd config):
//
//	HASHES_ALLOW           origins it may fetch, comma-separated (required)
//	HASHES_MAX_SIZE        bytes one answer may hash
//	HASHES_TIMEOUT         bound on computing one answer (a Go duration)
//	HASHES_CACHE_TTL       how long an answer stays fresh (a Go duration)
//	HASHES_CHUNK_SIZE      bytes of each ranged origin request
//	HASHES_MAX_CONCURRENT  answers one program computes at once
//
// Every request runs a fresh Go program, so answers are kept across requests
// in the Workers Cache API of the data center, not in the program's memory.
// The program builds only for GOOS=js GOARCH=wasm; it needs the JS glue of
// syumai/workers (workers-assets-gen) and runs in workerd, not under
// wasm_exec.js in a browser.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/p2pmedia/p2pmedia/hashservice"
)

// configFromEnv builds the service's configuration from the Worker's
// environment; getenv returns "" for a variable that is not set, which
// leaves the default.
func configFromEnv(getenv func(string) string) (hashservice.Config, error) {
	var cfg hashservice.Config
	for _, o := range strings.Split(getenv("HASHES_ALLOW"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.Allow = append(cfg.Allow, o)
		}
	}
	if len(cfg.Allow) == 0 {
		return cfg, fmt.Errorf("HASHES_ALLOW is empty: set it to the origins the service may fetch, comma-separated")
	}
	ints := []struct {
		name string
		dst  *int64
	}{{"HASHES_MAX_SIZE", &cfg.MaxSize}, {"HASHES_CHUNK_SIZE", &cfg.ChunkSize}}
	for _, v := range ints {
		if s := getenv(v.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n <= 0 {
				return cfg, fmt.Errorf("%s %q: want a positive number of bytes", v.name, s)
			}
			*v.dst = n
		}
	}
	if s := getenv("HASHES_MAX_CONCURRENT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("HASHES_MAX_CONCURRENT %q: want a positive number", s)
		}
		cfg.MaxConcurrent = n
	}
	durs := []struct {
		name string
		dst  *time.Duration
	}{{"HASHES_TIMEOUT", &cfg.Timeout}, {"HASHES_CACHE_TTL", &cfg.CacheTTL}}
	for _, v := range durs {
		if s := getenv(v.name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return cfg, fmt.Errorf("%s %q: want a positive duration like 30s or 5m", v.name, s)
			}
			*v.dst = d
		}
	}
	return cfg, nil
}
