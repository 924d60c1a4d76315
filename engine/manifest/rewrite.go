package manifest

import (
	"bytes"
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// rewriter holds what Rewrite needs to rewrite one reference.
type rewriter struct {
	proxy func(absURL string) string
}

// bases is the base URL a reference resolves against in the original
// manifest, and the one it will resolve against once the manifest is
// fetched through the proxy (nil when unknown).
type bases struct {
	orig, prox *url.URL
}

// manifestBases is the pair for references relative to the manifest itself.
func (rw *rewriter) manifestBases(base *url.URL) bases {
	b := bases{orig: base}
	if p, err := url.Parse(rw.proxy(base.String())); err == nil && p.IsAbs() && p.Host != "" {
		p.Fragment, p.RawFragment = "", ""
		b.prox = p
	}
	return b
}

// child is the pair for references under ref (a BaseURL), rewritten to newRef.
func (b bases) child(ref, newRef string) (bases, error) {
	o, err := resolve(b.orig, ref)
	if err != nil {
		return bases{}, err
	}
	c := bases{orig: o}
	if b.prox != nil {
		if p, err := resolve(b.prox, newRef); err == nil {
			c.prox = p
		}
	}
	return c, nil
}

// ref rewrites one reference raw (possibly with surrounding white space,
// which is kept). It returns the new text and whether it changed.
func (rw *rewriter) ref(raw string, b bases) (string, bool, error) {
	t := trimURL(raw)
	if t == "" {
		return raw, false, nil
	}
	if len(t) > MaxURLLength {
		return "", false, fmt.Errorf("%w: URI longer than %d bytes", ErrMalformed, MaxURLLength)
	}
	for i := 0; i < len(t); i++ {
		// A browser reads '\' as '/' and drops tabs and newlines: refuse
		// what would resolve differently there than here.
		if c := t[i]; c < ' ' || c == 0x7f || c == '\\' {
			return "", false, fmt.Errorf("%w: URI %q has a control character or backslash", ErrMalformed, t)
		}
	}
	if scheme, ok := refScheme(t); ok {
		if !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
			return raw, false, nil // data:, skd:, … are not fetched through the proxy
		}
		if !strings.HasPrefix(t[len(scheme)+1:], "//") {
			// "http:x" is relative to an http base in a browser.
			return "", false, fmt.Errorf("%w: URI %q has a scheme but no authority", ErrMalformed, t)
		}
		a, err := resolve(b.orig, t)
		if err != nil {
			return "", false, err
		}
		p := rw.proxy(a.String())
		if p == "" {
			return raw, false, nil
		}
		return splice(raw, p), true, nil
	}
	if !strings.HasPrefix(t, "/") {
		dd, err := dotDot(t)
		if err != nil {
			return "", false, err
		}
		if !dd {
			// A path-relative reference resolves under the proxied
			// manifest's directory just as under the original's.
			return raw, false, nil
		}
		// ".." may climb out of the origin's path in the proxied form:
		// keep it only when it lands on the same place.
		a, err := resolve(b.orig, t)
		if err != nil {
			return "", false, err
		}
		p := rw.proxy(a.String())
		if b.prox != nil && p != "" {
			if r, err := resolve(b.prox, t); err == nil && normalizeURL(r.String()) == normalizeURL(p) {
				return raw, false, nil
			}
		}
	}
	// "/path" and "//host/path" would leave the proxy: make them absolute.
	a, err := resolve(b.orig, t)
	if err != nil {
		return "", false, err
	}
	p := rw.proxy(a.String())
	if p == "" {
		p = a.String()
	}
	return splice(raw, p), true, nil
}

// splice replaces the trimmed part of raw by s, keeping the white space.
func splice(raw, s string) string {
	lead := len(raw) - len(strings.TrimLeftFunc(raw, func(r rune) bool { return r <= ' ' }))
	trail := len(raw) - len(strings.TrimRightFunc(raw, func(r rune) bool { return r <= ' ' }))
	if lead+trail >= len(raw) {
		return s
	}
	return raw[:lead] + s + raw[len(raw)-trail:]
}

// refScheme returns the scheme of an absolute reference (RFC 3986: ALPHA
// *(ALPHA / DIGIT / "+" / "-" / ".") ":").
func refScheme(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return s[:i], true
		default:
			return "", false
		}
	}
	return "", false
}

// dotDot reports whether the path of a relative reference has a ".."
// segment. A percent-encoded one (".%2e", which browsers also read as "..")
// is refused: the standard library would resolve it differently.
func dotDot(ref string) (bool, error) {
	p := ref
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	dd := false
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			dd = true
			continue
		}
		if l := strings.ToLower(seg); strings.Contains(l, "%2e") && strings.ReplaceAll(l, "%2e", ".") == ".." {
			return false, fmt.Errorf("%w: URI %q has an encoded \"..\" segment", ErrMalformed, ref)
		}
	}
	return dd, nil
}

// hlsURITags are the tags whose URI attribute Rewrite rewrites. EXT-X-KEY,
// EXT-X-SESSION-KEY, EXT-X-PART and EXT-X-PRELOAD-HINT are not among them.
var hlsURITags = []string{"#EXT-X-MEDIA:", "#EXT-X-I-FRAME-STREAM-INF:", "#EXT-X-MAP:", "#EXT-X-RENDITION-REPORT:"}

func (rw *rewriter) rewriteHLS(text []byte, base *url.URL) ([]byte, error) {
	b := rw.manifestBases(base)
	var out bytes.Buffer
	out.Grow(len(text) + len(text)/2)
	bom := []byte("\xef\xbb\xbf")
	if bytes.HasPrefix(text, bom) {
		out.Write(bom)
		text = text[len(bom):]
	}
	for len(text) > 0 {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i+1], text[i+1:]
		} else {
			line, text = text, nil
		}
		body := bytes.TrimRight(line, "\r\n")
		nb, err := rw.hlsLine(string(body), b)
		if err != nil {
			return nil, err
		}
		out.WriteString(nb)
		out.Write(line[len(body):])
	}
	return out.Bytes(), nil
}

func (rw *rewriter) hlsLine(line string, b bases) (string, error) {
	if trimURL(line) == "" {
		return line, nil
	}
	if !strings.HasPrefix(line, "#") {
		n, changed, err := rw.ref(line, b)
		if err != nil || !changed {
			return line, err
		}
		if strings.ContainsAny(n, "\r\n") || strings.HasPrefix(trimURL(n), "#") {
			return "", fmt.Errorf("%w: proxied URI %q cannot stand on a playlist line", ErrMalformed, n)
		}
		return n, nil
	}
	for _, tag := range hlsURITags {
		if !strings.HasPrefix(line, tag) {
			continue
		}
		attrs := scanAttrs(line[len(tag):])
		// Replace from the last attribute back, so spans stay valid.
		for i := len(attrs) - 1; i >= 0; i-- {
			a := attrs[i]
			if a.key != "URI" {
				continue
			}
			s, e := trimmedValue(a.value)
			if tag == "#EXT-X-I-FRAME-STREAM-INF:" {
				s, e = dequotedValue(a.value)
			}
			n, changed, err := rw.ref(a.value[s:e], b)
			if err != nil {
				return "", err
			}
			if !changed {
				continue
			}
			if strings.ContainsAny(n, "\",\r\n") || trimURL(n) != n {
				return "", fmt.Errorf("%w: proxied URI %q cannot be an attribute value", ErrMalformed, n)
			}
			off := len(tag) + a.start
			line = line[:off+s] + n + line[off+e:]
		}
		return line, nil
	}
	return line, nil
}

// edit replaces text[start:end] by s.
type edit struct {
	start, end int
	s          string
}

func (rw *rewriter) rewriteDASH(text []byte, base *url.URL) ([]byte, error) {
	root, err := parseXML(text)
	if err != nil {
		return nil, err
	}
	if root.name != "MPD" {
		return nil, fmt.Errorf("%w: XML root is <%s>, not <MPD>", ErrMalformed, root.name)
	}
	d := &dashRewrite{rw: rw}
	mb := rw.manifestBases(base)
	for _, n := range root.children {
		if n.name == "Location" || n.name == "PatchLocation" {
			if err := d.text(n, mb); err != nil {
				return nil, err
			}
		}
	}
	b, err := d.level(root, mb, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range root.all("Period") {
		pIDs := []string{}
		for _, as := range p.all("AdaptationSet") {
			pIDs = append(pIDs, repIDs(as)...)
		}
		pb, err := d.level(p, b, pIDs)
		if err != nil {
			return nil, err
		}
		for _, as := range p.all("AdaptationSet") {
			ab, err := d.level(as, pb, repIDs(as))
			if err != nil {
				return nil, err
			}
			for _, rep := range as.all("Representation") {
				id, _ := rep.attr("id")
				if _, err := d.level(rep, ab, []string{id}); err != nil {
					return nil, err
				}
			}
		}
	}
	// Edits come in document order, except a BaseURL that follows the
	// segment elements it applies to: sort them.
	edits := d.edits
	slices.SortStableFunc(edits, func(a, b edit) int { return cmp.Compare(a.start, b.start) })
	var out bytes.Buffer
	out.Grow(len(text) + len(text)/2)
	prev := 0
	for _, e := range edits {
		if e.start < prev || e.end < e.start || e.end > len(text) {
			return nil, fmt.Errorf("%w: overlapping rewrites", ErrMalformed)
		}
		out.Write(text[prev:e.start])
		out.WriteString(e.s)
		prev = e.end
	}
	out.Write(text[prev:])
	return out.Bytes(), nil
}

type dashRewrite struct {
	rw    *rewriter
	edits []edit
}

func repIDs(as *xnode) []string {
	ids := []string{} // non-nil: the level's templates are templates even without Representations
	for _, rep := range as.all("Representation") {
		id, _ := rep.attr("id")
		ids = append(ids, id)
	}
	return ids
}

// level rewrites the BaseURL children and the segment elements of an MPD,
// Period, AdaptationSet or Representation (whose Representations have the
// ids ids), and returns the bases its children resolve against.
func (d *dashRewrite) level(n *xnode, parent bases, ids []string) (bases, error) {
	b := parent
	found := false
	for _, c := range n.all("BaseURL") {
		v := string(c.text)
		nv, changed, err := d.rw.ref(v, parent)
		if err != nil {
			return bases{}, err
		}
		if changed {
			d.edits = append(d.edits, edit{c.innerStart, c.innerEnd, xmlEscape(nv)})
		}
		if !found && trimURL(v) != "" {
			found = true
			if b, err = parent.child(trimURL(v), trimURL(nv)); err != nil {
				return bases{}, err
			}
		}
	}
	for _, c := range n.children {
		switch c.name {
		case "SegmentTemplate":
			for _, a := range []string{"media", "initialization", "index", "bitstreamSwitching"} {
				if err := d.attr(c, a, b, ids); err != nil {
					return bases{}, err
				}
			}
		case "SegmentList":
			for _, su := range c.all("SegmentURL") {
				for _, a := range []string{"media", "index"} {
					if err := d.attr(su, a, b, nil); err != nil {
						return bases{}, err
					}
				}
			}
		case "SegmentBase":
		default:
			continue
		}
		for _, sc := range c.children {
			switch sc.name {
			case "Initialization", "RepresentationIndex", "BitstreamSwitching":
				if err := d.attr(sc, "sourceURL", b, nil); err != nil {
					return bases{}, err
				}
			}
		}
	}
	return b, nil
}

// attr rewrites the un-prefixed attribute name of n. With ids (those of
// the Representations in scope) the value is a SegmentTemplate template.
func (d *dashRewrite) attr(n *xnode, name string, b bases, ids []string) error {
	for _, a := range n.attrs {
		if a.space != "" || a.name != name {
			continue
		}
		v, restore := a.value, func(s string) string { return s }
		if ids != nil {
			if templateUses(v, "RepresentationID") {
				for _, id := range ids {
					// Such an id would change the template's URL structure
					// once substituted, which Rewrite cannot see.
					if id = strings.TrimSpace(id); strings.ContainsAny(id, "/\\:%?#") || id == "." || id == ".." {
						return fmt.Errorf("%w: Representation id %q in a URL template", ErrMalformed, id)
					}
				}
			}
			v, restore = protectTemplate(v)
		}
		nv, changed, err := d.rw.ref(v, b)
		if err != nil {
			return err
		}
		if changed {
			d.edits = append(d.edits, edit{a.start, a.end, xmlEscape(restore(nv))})
		}
	}
	return nil
}

// text rewrites an element whose content is a URL (Location).
func (d *dashRewrite) text(n *xnode, b bases) error {
	nv, changed, err := d.rw.ref(string(n.text), b)
	if err != nil {
		return err
	}
	if changed {
		d.edits = append(d.edits, edit{n.innerStart, n.innerEnd, xmlEscape(nv)})
	}
	return nil
}
