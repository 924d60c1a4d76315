#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine:
# Chromium for the browser tests, iproute2 for their network namespaces,
# brotli for measuring compressed sizes, Node.js and npm for the JS build and
# the third-party tracker. Go modules and npm packages are fetched by the
# Makefile targets that use them. Idempotent; a no-op when all is present.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v ip >/dev/null || need+=(iproute2)
command -v brotli >/dev/null || need+=(brotli)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
