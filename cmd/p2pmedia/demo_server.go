package main

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// demoHandler serves the demo site: the pages of the examples directory, the
// built browser files, the sample media and the embedded tracker.
//
//	GET /             examples/index.html
//	GET /<name>.html  a top-level page of examples (also .js, .css, .svg, .png, .ico)
//	GET /sw.js        examples/sw.js, with Service-Worker-Allowed: /
//	GET /dist/...     the build output, with its .br/.gz twin when the client accepts it
//	GET /media/...    examples/media, with Range, ETag and CORS
//	GET /tracker      the WebSocket tracker (and /tracker/stats)
//	GET /vendor/...   the players' dist files: /vendor/<package>/<file> is
//	                  examples/node_modules/<package>/dist/<file>, for hls.js,
//	                  video.js and shaka-player (installed by npm ci in examples)
//	GET /live/...     a live HLS stream looping over media/hls (liveStream)
//	GET /__hashes/v1/pieces?url=…&pieceLength=…[&start=…&end=…]
//	                  the piece-hash service for the demo's own media
//	                  (newDemoHashes, docs/hashes.md)
//
// Files are looked up per request, so a rebuild of the dist directory shows
// up without a restart; paths cannot leave their directory (os.OpenInRoot).
type demoHandler struct {
	dist     string // the build output (build/dist)
	examples string // the examples directory: pages, sw.js, demo.js, demo.css
	media    string // examples/media
	mux      *http.ServeMux
}

// newDemoHandler returns the demo site's handler. tracker serves the paths
// under /tracker with that prefix removed, as a tracker.Server expects;
// hashes serves those under /__hashes/ (nil: none).
func newDemoHandler(dist, examples string, tracker, hashes http.Handler) *demoHandler {
	h := &demoHandler{
		dist:     dist,
		examples: examples,
		media:    filepath.Join(examples, "media"),
		mux:      http.NewServeMux(),
	}
	h.mux.HandleFunc("GET /{$}", h.serveIndex)
	h.mux.HandleFunc("GET /sw.js", h.serveSW)
	h.mux.HandleFunc("GET /{file}", h.serveSite)
	h.mux.HandleFunc("GET /dist/", h.serveDist)
	h.mux.HandleFunc("GET /media/", h.serveMedia)
	h.mux.HandleFunc("OPTIONS /media/", h.serveMediaPreflight)
	h.mux.HandleFunc("GET /vendor/{pkg}/{file...}", h.serveVendor)
	h.mux.Handle("GET /live/", http.StripPrefix("/live", newLiveHandler(filepath.Join(h.media, "hls"))))
	h.mux.HandleFunc("OPTIONS /live/", h.serveMediaPreflight)
	trk := http.StripPrefix("/tracker", tracker)
	h.mux.Handle("GET /tracker", trk)
	h.mux.Handle("GET /tracker/", trk)
	if hashes != nil {
		h.mux.Handle(demoHashesPrefix+"/", hashes)
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *demoHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// siteExts are the extensions of the top-level files of examples that the
// site serves; anything else there (READMEs, scripts) is not published.
var siteExts = map[string]bool{".html": true, ".js": true, ".css": true, ".svg": true, ".png": true, ".ico": true}

func (h *demoHandler) serveIndex(w http.ResponseWriter, r *http.Request) {
	serveFile(w, r, h.examples, "index.html", fileOptions{})
}

func (h *demoHandler) serveSite(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !siteExts[path.Ext(name)] {
		http.NotFound(w, r)
		return
	}
	serveFile(w, r, h.examples, name, fileOptions{})
}

// serveSW serves the site's service worker. The header lets a page register
// it for the whole origin whatever its own directory.
func (h *demoHandler) serveSW(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Service-Worker-Allowed", "/")
	serveFile(w, r, h.examples, "sw.js", fileOptions{})
}

func (h *demoHandler) serveDist(w http.ResponseWriter, r *http.Request) {
	serveFile(w, r, h.dist, strings.TrimPrefix(r.URL.Path, "/dist/"), fileOptions{precompressed: true})
}

// vendorPackages are the npm packages of examples/package.json whose dist
// directories /vendor/ serves.
var vendorPackages = map[string]bool{"hls.js": true, "video.js": true, "shaka-player": true}

// serveVendor serves a dist file of a player library installed in
// examples/node_modules.
func (h *demoHandler) serveVendor(w http.ResponseWriter, r *http.Request) {
	pkg := r.PathValue("pkg")
	if !vendorPackages[pkg] {
		http.NotFound(w, r)
		return
	}
	serveFile(w, r, filepath.Join(h.examples, "node_modules", pkg, "dist"), r.PathValue("file"), fileOptions{})
}

// newLiveHandler returns the live stream made of the VOD stream in dir,
// starting now; if dir holds no usable stream, a handler that says why
// with a 503.
func newLiveHandler(dir string) http.Handler {
	live, err := newLiveStream(dir, time.Now)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		})
	}
	return live
}

// mediaCORS are the headers that let pages of any origin, and the service
// worker's fetches, read the media and the validators peers compare.
var mediaCORS = map[string]string{
	"Access-Control-Allow-Origin":   "*",
	"Access-Control-Expose-Headers": "Content-Range, Content-Length, ETag, Last-Modified, Accept-Ranges",
}

func (h *demoHandler) serveMedia(w http.ResponseWriter, r *http.Request) {
	for k, v := range mediaCORS {
		w.Header().Set(k, v)
	}
	serveFile(w, r, h.media, strings.TrimPrefix(r.URL.Path, "/media/"), fileOptions{})
}

// serveMediaPreflight answers CORS preflight requests for the media, which a
// cross-origin fetch with a multi-range or conditional Range header sends.
func (h *demoHandler) serveMediaPreflight(w http.ResponseWriter, r *http.Request) {
	for k, v := range mediaCORS {
		w.Header().Set(k, v)
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Range, If-Range, If-None-Match, If-Modified-Since")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// fileOptions tunes serveFile.
type fileOptions struct {
	// precompressed serves name.br or name.gz, when it exists and the
	// request's Accept-Encoding allows it, in place of name.
	precompressed bool
}

// encodings are the pre-compressed twins serveFile looks for, in order of
// preference.
var encodings = []struct{ token, ext string }{
	{"br", ".br"},
	{"gzip", ".gz"},
}

// serveFile serves the regular file name inside dir with a Content-Type from
// its extension, an ETag, Last-Modified and Range support (through
// http.ServeContent). Missing files, directories, hidden files and paths that
// would leave dir are 404.
func serveFile(w http.ResponseWriter, r *http.Request, dir, name string, opts fileOptions) {
	if !cleanName(name) {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-cache")
	if opts.precompressed {
		hdr.Add("Vary", "Accept-Encoding")
		accepted := acceptedEncodings(r.Header.Get("Accept-Encoding"))
		for _, enc := range encodings {
			if !accepted(enc.token) {
				continue
			}
			f, fi, err := openRegular(dir, name+enc.ext)
			if err != nil {
				continue
			}
			defer f.Close()
			hdr.Set("Content-Encoding", enc.token)
			serveOpen(w, r, name, f, fi)
			return
		}
	}
	f, fi, err := openRegular(dir, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	serveOpen(w, r, name, f, fi)
}

// serveOpen serves an open file as name: it sets the Content-Type and ETag
// and leaves ranges and conditional requests to http.ServeContent.
func serveOpen(w http.ResponseWriter, r *http.Request, name string, f *os.File, fi fs.FileInfo) {
	w.Header().Set("Content-Type", contentType(name))
	w.Header().Set("ETag", fileETag(fi, w.Header().Get("Content-Encoding")))
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// openRegular opens name inside dir and checks that it is a regular file.
func openRegular(dir, name string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenInRoot(dir, filepath.FromSlash(name))
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, errors.New("not a regular file")
	}
	return f, fi, nil
}

// cleanName reports whether name is a clean relative slash-separated path
// with no empty, "." or ".." element and no hidden (dot) file or directory.
func cleanName(name string) bool {
	if name == "" || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return false
	}
	for elem := range strings.SplitSeq(name, "/") {
		if elem == "" || strings.HasPrefix(elem, ".") {
			return false
		}
	}
	return true
}

// fileETag is a strong validator for one representation of a file: its
// modification time and size, and the content coding when there is one.
func fileETag(fi fs.FileInfo, encoding string) string {
	tag := strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "-" + strconv.FormatInt(fi.Size(), 36)
	if encoding != "" {
		tag += "-" + encoding
	}
	return `"` + tag + `"`
}

// contentTypes are the types the demo needs whatever the system's MIME
// table says (Debian's lacks several of them).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".map":  "application/json",
	".wasm": "application/wasm",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
	".md":   "text/plain; charset=utf-8",
	".mp4":  "video/mp4",
	".m4v":  "video/mp4",
	".m4a":  "audio/mp4",
	".m4s":  "video/iso.segment",
	".mp3":  "audio/mpeg",
	".ts":   "video/mp2t",
	".m3u8": "application/vnd.apple.mpegurl",
	".mpd":  "application/dash+xml",
}

// contentType returns the media type for a file name.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// acceptedEncodings parses an Accept-Encoding header and returns a predicate
// that reports whether a content coding is acceptable: listed (or matched by
// "*") with a non-zero q value. An explicit entry takes precedence over "*".
func acceptedEncodings(header string) func(token string) bool {
	q := make(map[string]bool)
	for part := range strings.SplitSeq(header, ",") {
		token, params, _ := strings.Cut(part, ";")
		token = strings.ToLower(strings.TrimSpace(token))
		if token == "" {
			continue
		}
		ok := true
		for p := range strings.SplitSeq(params, ";") {
			k, v, found := strings.Cut(strings.TrimSpace(p), "=")
			if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			ok = err == nil && f > 0
		}
		q[token] = ok
	}
	return func(token string) bool {
		if ok, found := q[token]; found {
			return ok
		}
		return q["*"]
	}
}
