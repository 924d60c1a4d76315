package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// hashListSuffix names the hash list "p2pmedia hash" writes beside a media
// file: FILE.p2phashes.json.
const hashListSuffix = ".p2phashes.json"

// defaultPieceLength is the engine's default pieceLength.
const defaultPieceLength = 512 * 1024

// mediaExts are the extensions "p2pmedia hash DIR" treats as media files
// (a FILE argument is hashed whatever its name).
var mediaExts = map[string]bool{
	".mp4": true, ".m4v": true, ".m4a": true, ".m4s": true, ".mp3": true, ".ts": true, ".aac": true,
	".webm": true, ".mkv": true, ".mov": true, ".cmfv": true, ".cmfa": true, ".mp2t": true,
	".ogg": true, ".oga": true, ".opus": true, ".flac": true, ".wav": true,
}

// runHash writes FILE.p2phashes.json beside FILE, or beside each media file
// under DIR: the piecehash.List the service answers for the whole file.
func runHash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("p2pmedia hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pieceLength := fs.Int64("piece-length", defaultPieceLength, "`bytes` of each piece: the engine's pieceLength (a positive multiple of 16384)")
	baseURL := fs.String("base-url", "", "`URL` that FILE's directory, or DIR, is served at; each list's url is then absolute (else the file's name, relative to the list)")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "Usage: p2pmedia hash [flags] FILE|DIR")
		fmt.Fprintln(out, "\nWrites FILE"+hashListSuffix+" beside FILE, or beside every media file under DIR")
		fmt.Fprintln(out, "("+strings.Join(sortedExts(), " ")+"): the SHA-256 of each piece, in the JSON")
		fmt.Fprintln(out, "the piece-hash service answers (docs/hashes.md), for sites that serve static files.")
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	// Flags may come before or after the one argument.
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		operands = append(operands, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(operands) == 0:
		return usagef("name a media FILE or a DIR of them")
	case len(operands) > 1:
		return usagef("unexpected argument %q: name one FILE or DIR", operands[1])
	}
	if err := identity.ValidatePieceLength(*pieceLength); err != nil {
		return usagef("-piece-length %d: must be a positive multiple of %d up to %d", *pieceLength, identity.PieceLengthUnit, identity.MaxPieceLength)
	}
	if *baseURL != "" {
		u, err := url.Parse(*baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return usagef("-base-url %q: want an absolute http(s) URL without query, like https://cdn.example.com/videos/", *baseURL)
		}
	}
	root := operands[0]
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	h := hasher{pieceLength: *pieceLength, baseURL: *baseURL, stdout: stdout}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("hash: %s is not a regular file", root)
		}
		return h.file(ctx, root, filepath.Base(root))
	}
	n := 0
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !mediaExts[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		n++
		return h.file(ctx, p, filepath.ToSlash(rel))
	})
	if err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("hash: no media file under %s (extensions: %s)", root, strings.Join(sortedExts(), " "))
	}
	return nil
}

// hasher writes the hash lists of runHash.
type hasher struct {
	pieceLength int64
	baseURL     string
	stdout      io.Writer
}

// file writes the hash list of the file at p, whose path relative to the
// base URL is rel (slash-separated).
func (h hasher) file(ctx context.Context, p, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size > piecehash.MaxSize {
		return fmt.Errorf("%s: %d bytes exceed the %d a hash list describes", p, size, int64(piecehash.MaxSize))
	}
	if c := identity.PieceCount(size, h.pieceLength); c > piecehash.MaxPieces {
		return fmt.Errorf("%s: %d bytes in pieces of %d make %d pieces, more than %d; use a longer -piece-length", p, size, h.pieceLength, c, piecehash.MaxPieces)
	}
	sums, err := piecehash.Sum(f, size, h.pieceLength)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	l := &piecehash.List{
		Version:     piecehash.FormatVersion,
		URL:         h.listURL(rel),
		Size:        size,
		Start:       0,
		End:         size,
		PieceLength: h.pieceLength,
		Pieces:      sums,
	}
	doc, err := l.Encode()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	out := p + hashListSuffix
	if err := writeFileAtomic(out, append(doc, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(h.stdout, "%s: %d pieces of %d bytes\n", out, len(sums), h.pieceLength)
	return nil
}

// listURL is the url field of the list of rel: the base URL joined with
// rel, or the file's name (a URL relative to the list, which sits beside it).
func (h hasher) listURL(rel string) string {
	elems := strings.Split(rel, "/")
	for i, e := range elems {
		elems[i] = url.PathEscape(e)
	}
	if h.baseURL == "" {
		return elems[len(elems)-1]
	}
	return strings.TrimSuffix(h.baseURL, "/") + "/" + path.Join(elems...)
}

// writeFileAtomic writes data to name through a temporary file in the same
// directory, so that a server never serves half a list.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// sortedExts lists mediaExts in order.
func sortedExts() []string {
	var exts []string
	for e := range mediaExts {
		exts = append(exts, e)
	}
	slices.Sort(exts)
	return exts
}
