//go:build js && wasm

package main

import (
	"net/http"

	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
	"github.com/syumai/workers/cloudflare/fetch"

	"github.com/p2pmedia/p2pmedia/hashservice"
)

func main() {
	workers.Serve(http.HandlerFunc(serve))
}

// serve answers one request. Every request runs a fresh program, so the
// Handler is made for it, with the Worker's environment and a Store in the
// Cache API under the request's host.
func serve(w http.ResponseWriter, r *http.Request) {
	cfg, err := configFromEnv(cloudflare.Getenv)
	if err == nil {
		cfg.Fetcher = newFetcher(fetch.NewClient().HTTPClient(fetch.RedirectModeManual))
		cfg.Store = newCacheStore(r.Host)
		var h *hashservice.Handler
		if h, err = hashservice.New(cfg); err == nil {
			h.ServeHTTP(w, r)
			return
		}
	}
	hashservice.WriteError(w, r, &hashservice.Error{Status: http.StatusInternalServerError, Message: "the service is misconfigured: " + err.Error()})
}
