// Package version holds the release version, set at build time from the
// repository's VERSION file (see the Makefile), so that the binaries, the
// wasm programs and the npm package all report the same number.
package version

// Version is the release version; "dev" in builds without the Makefile.
var Version = "dev"
