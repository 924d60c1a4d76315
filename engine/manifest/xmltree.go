package manifest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// xnode is one XML element with the byte spans Rewrite needs.
type xnode struct {
	name     string // local name
	attrs    []xattr
	children []*xnode
	text     []byte // the element's own character data (CDATA included, comments not)

	tagStart, tagEnd     int // the start tag
	innerStart, innerEnd int // between the start and end tags
}

// xattr is one attribute: its decoded value and the span of its raw value
// (between the quotes) in the document.
type xattr struct {
	space, name, value string
	start, end         int
}

// attr returns the value of the un-prefixed attribute name.
func (n *xnode) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.space == "" && a.name == name {
			return a.value, true
		}
	}
	return "", false
}

// child returns the first child element called name, or nil.
func (n *xnode) child(name string) *xnode {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// all returns the child elements called name.
func (n *xnode) all(name string) []*xnode {
	var out []*xnode
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

var errCharset = errors.New("only UTF-8 is supported")

// parseXML reads the document's root element (and what it holds) into a
// tree. Anything after the root's end tag is ignored.
func parseXML(text []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(text))
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("%w, not %q", errCharset, label)
	}
	var stack []*xnode
	prev := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: XML: %v", ErrMalformed, err)
		}
		off := int(d.InputOffset())
		if off < prev || off > len(text) {
			return nil, fmt.Errorf("%w: XML: decoder offset out of range", ErrMalformed)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name.Local, tagStart: prev, tagEnd: off, innerStart: off, innerEnd: off}
			spans, err := scanXMLAttrs(text[prev:off], prev)
			if err != nil {
				return nil, err
			}
			if len(spans) != len(t.Attr) {
				return nil, fmt.Errorf("%w: XML: <%s> attributes do not line up", ErrMalformed, t.Name.Local)
			}
			n.attrs = make([]xattr, len(t.Attr))
			for i, a := range t.Attr {
				if spans[i].local != a.Name.Local {
					return nil, fmt.Errorf("%w: XML: <%s> attributes do not line up", ErrMalformed, t.Name.Local)
				}
				n.attrs[i] = xattr{space: a.Name.Space, name: a.Name.Local, value: a.Value, start: spans[i].start, end: spans[i].end}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("%w: XML: unexpected end tag", ErrMalformed)
			}
			n := stack[len(stack)-1]
			n.innerEnd = prev
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return n, nil
			}
		case xml.CharData:
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.text = append(p.text, t...)
			}
		}
		prev = off
	}
}

type attrSpan struct {
	local      string
	start, end int
}

// scanXMLAttrs finds the attributes' raw value spans in a start tag that
// the XML decoder has already accepted (so values are quoted).
func scanXMLAttrs(raw []byte, base int) ([]attrSpan, error) {
	bad := fmt.Errorf("%w: XML: cannot scan start tag", ErrMalformed)
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	if len(raw) == 0 || raw[0] != '<' {
		return nil, bad
	}
	i := 1
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	var out []attrSpan
	for {
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] == '/' || raw[i] == '>' {
			return out, nil
		}
		ns := i
		for i < len(raw) && !isSpace(raw[i]) && raw[i] != '=' {
			i++
		}
		name := string(raw[ns:i])
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] != '=' {
			return nil, bad
		}
		i++
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || (raw[i] != '"' && raw[i] != '\'') {
			return nil, bad
		}
		q := raw[i]
		i++
		j := bytes.IndexByte(raw[i:], q)
		if j < 0 {
			return nil, bad
		}
		if k := strings.LastIndexByte(name, ':'); k >= 0 {
			name = name[k+1:]
		}
		out = append(out, attrSpan{local: name, start: base + i, end: base + i + j})
		i += j + 1
	}
}

// xmlEscape escapes s for an attribute value or character data.
func xmlEscape(s string) string {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}
