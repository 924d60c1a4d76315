package hashservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/p2pmedia/p2pmedia/engine/byterange"
	"github.com/p2pmedia/p2pmedia/engine/identity"
	"github.com/p2pmedia/p2pmedia/engine/piecehash"
)

// originError is a 502 about the origin of req.
func originError(req request, format string, args ...any) error {
	return &Error{Status: http.StatusBadGateway, Message: fmt.Sprintf("origin of %s: ", req.rawURL) + fmt.Sprintf(format, args...)}
}

// statusError is the 502 for an origin response of an unexpected status.
func statusError(req request, code int) error {
	return &Error{
		Status:       http.StatusBadGateway,
		Message:      fmt.Sprintf("origin of %s answered %d %s", req.rawURL, code, http.StatusText(code)),
		OriginStatus: code,
	}
}

// fetchFailed turns a Fetcher's error into a 504 when time ran out, and a
// 502 otherwise.
func fetchFailed(ctx context.Context, req request, err error) error {
	if ctx.Err() != nil {
		return &Error{Status: http.StatusGatewayTimeout, Message: fmt.Sprintf("origin of %s: %v", req.rawURL, ctx.Err())}
	}
	return originError(req, "%v", err)
}

// get sends a ranged GET for bytes [start, end) to *target, following
// redirects within the allowlist; *target becomes the URL that answered,
// so that the next chunks go straight there. The response has a status
// other than a redirect and no content coding.
func (h *Handler) get(ctx context.Context, req request, target *string, start, end int64) (*http.Response, error) {
	cur := *target
	for range MaxRedirects + 1 {
		resp, err := h.fetcher.GetRange(ctx, cur, start, end)
		if err != nil {
			return nil, fetchFailed(ctx, req, err)
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" && resp.StatusCode < 300 {
				resp.Body.Close()
				return nil, originError(req, "the origin sent a %q-coded body, whose offsets are not the resource's", ce)
			}
			*target = cur
			return resp, nil
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		base, _ := url.Parse(cur)
		next, err := base.Parse(loc)
		switch {
		case loc == "" || err != nil:
			return nil, originError(req, "redirect %d with a bad Location %q", resp.StatusCode, loc)
		case next.Scheme != "http" && next.Scheme != "https" || next.Host == "" || next.User != nil:
			return nil, originError(req, "redirect to %q, not an http(s) URL", loc)
		case !h.allows(next):
			return nil, &Error{Status: http.StatusForbidden, Message: fmt.Sprintf("origin of %s redirected to %s://%s, which is not in this service's allowlist", req.rawURL, next.Scheme, next.Host)}
		}
		next.Fragment = ""
		cur = next.String()
	}
	return nil, originError(req, "more than %d redirects", MaxRedirects)
}

// infoOf reads the validators of a response, with the resource's size.
func infoOf(resp *http.Response, size int64) identity.ResourceInfo {
	return identity.ResourceInfo{Size: size, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
}

// beyond is the 416 for a range past the resource's end.
func beyond(req request, size int64) error {
	return &Error{Status: http.StatusRequestedRangeNotSatisfiable,
		Message: fmt.Sprintf("bytes [%d, %d) pass the end of the %d-byte resource %s", req.start, req.end, size, req.rawURL)}
}

// hash fetches the bytes req asks for, in chunks of ChunkSize, and hashes
// them piece by piece. Every chunk must come from the same version of the
// resource (size, ETag and Last-Modified of the first).
func (h *Handler) hash(ctx context.Context, req request) (*piecehash.List, error) {
	target := req.rawURL
	end := req.end // -1 until the origin tells the size
	summer := piecehash.NewSummer(req.pieceLength)
	var info identity.ResourceInfo
	for pos, first := req.start, true; first || pos < end; first = false {
		chunkEnd := pos + h.cfg.ChunkSize
		if end >= 0 {
			chunkEnd = min(chunkEnd, end)
		}
		resp, err := h.get(ctx, req, &target, pos, chunkEnd)
		if err != nil {
			return nil, err
		}
		next, got, err := h.chunk(ctx, req, resp, first, pos, chunkEnd, end, summer)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if first {
			info = got
			if end < 0 {
				end = got.Size
			}
		} else if got != info {
			return nil, originError(req, "the resource changed while it was hashed (size %d, ETag %q, Last-Modified %q, then size %d, ETag %q, Last-Modified %q)",
				info.Size, info.ETag, info.LastModified, got.Size, got.ETag, got.LastModified)
		}
		pos = next
	}
	return &piecehash.List{
		Version:      piecehash.FormatVersion,
		URL:          req.rawURL,
		Size:         info.Size,
		ETag:         info.ETag,
		LastModified: info.LastModified,
		Start:        req.start,
		End:          end,
		PieceLength:  req.pieceLength,
		Pieces:       summer.Sums(),
	}, nil
}

// chunk hashes the bytes of one origin response to a request for [pos,
// chunkEnd), and returns where the next chunk starts and the resource's
// info. end is the end of what req wants, or -1 before the first chunk of a
// whole resource.
func (h *Handler) chunk(ctx context.Context, req request, resp *http.Response, first bool, pos, chunkEnd, end int64, summer *piecehash.Summer) (next int64, info identity.ResourceInfo, err error) {
	copyN := func(r io.Reader, n int64) error {
		if _, err := io.CopyN(summer, r, n); err != nil {
			if ctx.Err() != nil {
				return &Error{Status: http.StatusGatewayTimeout, Message: fmt.Sprintf("origin of %s: %v", req.rawURL, ctx.Err())}
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return originError(req, "reading the body: %v", err)
		}
		return nil
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		got, size, err := byterange.ParseContentRange(cr)
		switch {
		case err != nil || size < 0:
			return 0, info, originError(req, "206 with Content-Range %q, want bytes first-last/size", cr)
		case got.Start != pos || got.End != chunkEnd && !(got.End == size && size < chunkEnd):
			return 0, info, originError(req, "asked bytes [%d, %d), got Content-Range %q", pos, chunkEnd, cr)
		}
		info = infoOf(resp, size)
		if first {
			if err := h.checkFirst(req, size); err != nil {
				return 0, info, err
			}
		}
		return got.End, info, copyN(resp.Body, got.End-got.Start)
	case http.StatusOK:
		// The origin ignores Range: the one response holds everything, and
		// what precedes the bytes wanted is read and dropped.
		if !first {
			return 0, info, originError(req, "answered 200 to a ranged request after answering 206")
		}
		size := resp.ContentLength
		if size < 0 {
			return 0, info, originError(req, "ignores Range and gives no Content-Length")
		}
		info = infoOf(resp, size)
		if err := h.checkFirst(req, size); err != nil {
			return 0, info, err
		}
		if end < 0 {
			end = size
		}
		if end > h.cfg.MaxSize {
			return 0, info, &Error{Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("origin of %s ignores Range: hashing up to byte %d means reading them all, past this service's limit of %d", req.rawURL, end, h.cfg.MaxSize)}
		}
		if _, err := io.CopyN(io.Discard, resp.Body, req.start); err != nil {
			return 0, info, originError(req, "reading the body: %v", err)
		}
		return end, info, copyN(resp.Body, end-req.start)
	case http.StatusRequestedRangeNotSatisfiable:
		_, size, err := byterange.ParseContentRange(resp.Header.Get("Content-Range"))
		if errors.Is(err, byterange.ErrUnsatisfiable) && first {
			if size == 0 && req.end < 0 {
				// The first byte is out of range only for an empty resource.
				return 0, infoOf(resp, 0), nil
			}
			return 0, info, beyond(req, size)
		}
	}
	return 0, info, statusError(req, resp.StatusCode)
}

// checkFirst checks what the first response tells of the resource: its
// size within the service's bounds, and past the end of a range asked for.
func (h *Handler) checkFirst(req request, size int64) error {
	if req.end < 0 {
		return h.checkWork(size, req.pieceLength)
	}
	if req.end > size {
		return beyond(req, size)
	}
	return nil
}

// probe asks the origin for one byte of what req wants and returns the
// resource's size and validators, to revalidate a cached answer.
func (h *Handler) probe(ctx context.Context, req request) (identity.ResourceInfo, error) {
	target := req.rawURL
	resp, err := h.get(ctx, req, &target, req.start, req.start+1)
	if err != nil {
		return identity.ResourceInfo{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if _, size, err := byterange.ParseContentRange(resp.Header.Get("Content-Range")); err == nil && size >= 0 {
			return infoOf(resp, size), nil
		}
	case http.StatusOK:
		if resp.ContentLength >= 0 {
			return infoOf(resp, resp.ContentLength), nil
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if _, size, err := byterange.ParseContentRange(resp.Header.Get("Content-Range")); errors.Is(err, byterange.ErrUnsatisfiable) {
			return infoOf(resp, size), nil
		}
	}
	return identity.ResourceInfo{}, statusError(req, resp.StatusCode)
}
