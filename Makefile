# The two commands a newcomer needs: `make demo` and `make test`.
SHELL   := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VERSION := $(shell cat VERSION)
GO      ?= go
DIST    := build/dist
LDFLAGS := -s -w -X github.com/p2pmedia/p2pmedia/internal/version.Version=$(VERSION)
WASM    := GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="$(LDFLAGS)"
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# fail a target with "context deadline exceeded" as time runs out on a loaded
# machine (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 300000x

.PHONY: all deps build wasm js players package tracker demo test test-js test-go test-package fuzz bench-native bench-browser clean hashes-worker workerd

all: build

## deps: install system packages (Chromium, iproute2, brotli, Node.js) if missing
deps:
	bash scripts/install-deps.sh
	$(GO) mod download

## build: the two wasm programs, the JS shim and loader, wasm_exec.js, the binary
build: wasm js bin/p2pmedia

wasm:
	mkdir -p $(DIST)
	$(WASM) -o $(DIST)/p2p-engine.wasm ./wasm
	$(WASM) -o $(DIST)/p2p-sw.wasm ./sw
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(DIST)/wasm_exec.js

## js: the shim and loader, and the wasm programs' pre-compressed .br/.gz twins
js: wasm
	mkdir -p $(DIST)
	cd js && npm ci --no-audit --no-fund --loglevel=error
	node js/build.mjs --version $(VERSION) --out $(DIST) --compress

## package: the npm package build/p2pmedia-engine-$(VERSION).tgz (npm pack; its prepack builds js/dist)
package: wasm js
	cd js && npm pack --pack-destination ../build --loglevel=error

bin/p2pmedia: FORCE
	$(GO) build -trimpath -ldflags="$(LDFLAGS)" -o bin/p2pmedia ./cmd/p2pmedia
FORCE:

## hashes-worker: the piece-hash service as a Cloudflare Worker, in build/hashes-worker
## (syumai/workers' JS glue and app.wasm; deploy steps in docs/hashes.md)
hashes-worker:
	$(GO) run github.com/syumai/workers/cmd/workers-assets-gen -mode=go -o build/hashes-worker
	$(WASM) -o build/hashes-worker/app.wasm ./cmd/p2pmedia-hashes-worker

## workerd: Cloudflare's Workers runtime (npm workerd, pinned in tests/workers), for its test
workerd:
	cd tests/workers && npm ci --no-audit --no-fund --loglevel=error

## tracker: run the WebTorrent tracker on 127.0.0.1:8000
tracker: bin/p2pmedia
	./bin/p2pmedia tracker --listen 127.0.0.1:8000

## players: the demo pages' player libraries (hls.js, Video.js, Shaka Player), pinned in
## examples/package-lock.json, into examples/node_modules (served under /vendor/)
players:
	cd examples && npm ci --no-audit --no-fund --loglevel=error

## demo: build everything and serve the demo on 127.0.0.1
demo: deps build players
	./bin/p2pmedia demo --dist $(DIST) --examples examples

## test: everything CI runs (installs what it needs first)
test: deps build players hashes-worker workerd test-js test-package test-go fuzz

test-js:
	cd js && npm test

## test-package: the package installed into a fresh Vite project, loaded from a
## second origin as from a CDN, and Video.js through the engine, in Chromium
test-package: package
	$(GO) test -count=1 -timeout 10m -run '^(TestPackageVite|TestPackageCDN|TestVideoJS)$$' ./tests/browser

## test-go: vet, then every Go test (the package tests ran in test-package)
test-go:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./engine/... ./internal/jsutil ./wasm/... ./sw/... ./cmd/p2pmedia-hashes-worker
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/tests/browser$$')
	# The browser tests alone: the native swarm scenarios beside them would
	# starve their Chromium viewers on a 2-core machine.
	$(GO) test -count=1 -timeout 20m -skip '^(TestPackageVite|TestPackageCDN|TestVideoJS)$$' ./tests/browser
	PATH="$$($(GO) env GOROOT)/lib/wasm:$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 ./internal/jsutil ./sw/... ./wasm/... ./engine/rtc

## fuzz: each fuzz target for a short, bounded time
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./engine/wire
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./engine/trackermsg
	$(GO) test -run '^$$' -fuzz '^FuzzParseRange$$' -fuzztime $(FUZZTIME) ./engine/byterange
	$(GO) test -run '^$$' -fuzz '^FuzzParseContentRange$$' -fuzztime $(FUZZTIME) ./engine/byterange
	$(GO) test -run '^$$' -fuzz '^FuzzParseHLS$$' -fuzztime $(FUZZTIME) ./engine/manifest
	$(GO) test -run '^$$' -fuzz '^FuzzParseDASH$$' -fuzztime $(FUZZTIME) ./engine/manifest
	$(GO) test -run '^$$' -fuzz '^FuzzRewrite$$' -fuzztime $(FUZZTIME) ./engine/manifest
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePieces$$' -fuzztime $(FUZZTIME) ./engine/piecehash
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePeerTube$$' -fuzztime $(FUZZTIME) ./engine/piecehash
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeAnswer$$' -fuzztime $(FUZZTIME) ./engine/piecehash

## bench-native: swarm scenarios and P2P throughput, natively (prints BENCH lines)
bench-native: deps
	mkdir -p build
	$(GO) test -run '^$$' -bench 'Swarm|Live|P2PThroughput|VerifyCost' -benchtime 1x -timeout 30m ./tests/swarm | tee build/bench-native.txt | grep -E '^BENCH|^ok|FAIL'
	$(GO) test -run '^$$' -bench . -benchmem ./engine/wire ./engine

## bench-browser: browser scenarios (prints BENCH lines)
bench-browser: deps build players
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./tests/browser/... | grep -E '^BENCH|^ok|FAIL'

clean:
	rm -rf build bin
