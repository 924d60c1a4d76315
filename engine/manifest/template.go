package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// maxFormatWidth bounds the width of a $Number%0<width>d$ format tag.
const maxFormatWidth = 32

// tplVars are the values of a SegmentTemplate's identifiers.
type tplVars struct {
	repID                   string
	number, bandwidth, time uint64
}

// expandTemplate substitutes $RepresentationID$, $Number$, $Bandwidth$,
// $Time$ (the numeric ones with an optional %0<width>d format tag) and $$
// in a DASH template. Unknown identifiers and an unclosed '$' are kept as
// they are.
func expandTemplate(tpl string, v tplVars) (string, error) {
	if strings.IndexByte(tpl, '$') < 0 {
		return tpl, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '$')
		if i < 0 {
			b.WriteString(tpl)
			return b.String(), nil
		}
		b.WriteString(tpl[:i])
		rest := tpl[i+1:]
		j := strings.IndexByte(rest, '$')
		if j < 0 {
			b.WriteString(tpl[i:])
			return b.String(), nil
		}
		id := rest[:j]
		tpl = rest[j+1:]
		if id == "" {
			b.WriteByte('$')
			continue
		}
		name, tag, hasTag := strings.Cut(id, "%")
		var val uint64
		switch name {
		case "RepresentationID":
			if hasTag {
				return "", fmt.Errorf("%w: DASH template: format tag on $RepresentationID$", ErrMalformed)
			}
			b.WriteString(v.repID)
			continue
		case "Number":
			val = v.number
		case "Bandwidth":
			val = v.bandwidth
		case "Time":
			val = v.time
		default:
			b.WriteString("$" + id + "$")
			continue
		}
		width := 0
		if hasTag {
			w, ok := strings.CutSuffix(tag, "d")
			if !ok {
				return "", fmt.Errorf("%w: DASH template format tag %q", ErrMalformed, "%"+tag)
			}
			if w != "" {
				n, err := parseDecimal(w)
				if err != nil || n > maxFormatWidth {
					return "", fmt.Errorf("%w: DASH template format tag %q", ErrMalformed, "%"+tag)
				}
				width = int(n)
			}
		}
		s := strconv.FormatUint(val, 10)
		for k := len(s); k < width; k++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
}

// templateUses reports whether tpl has the identifier name (with or
// without a format tag).
func templateUses(tpl, name string) bool {
	for {
		i := strings.IndexByte(tpl, '$')
		if i < 0 {
			return false
		}
		rest := tpl[i+1:]
		j := strings.IndexByte(rest, '$')
		if j < 0 {
			return false
		}
		id, _, _ := strings.Cut(rest[:j], "%")
		if id == name {
			return true
		}
		tpl = rest[j+1:]
	}
}

// protectTemplate replaces each $…$ identifier of tpl by a marker that
// survives URL parsing and the proxy function, so that an absolute template
// can be proxied like a URL; restore puts the identifiers back.
func protectTemplate(tpl string) (protected string, restore func(string) string) {
	if strings.IndexByte(tpl, '$') < 0 {
		return tpl, func(s string) string { return s }
	}
	prefix := "p2pmtpl"
	for n := 0; strings.Contains(strings.ToLower(tpl), prefix); n++ {
		prefix = "p2pmtpl" + strconv.Itoa(n) + "z"
	}
	var b strings.Builder
	var ids []string
	rest := tpl
	for {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i+1:], '$')
		if j < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		b.WriteString(prefix + strconv.Itoa(len(ids)) + "q")
		ids = append(ids, rest[i:i+j+2])
		rest = rest[i+j+2:]
	}
	return b.String(), func(s string) string {
		for k := len(ids) - 1; k >= 0; k-- { // "…10q" before "…1q"
			s = strings.ReplaceAll(s, prefix+strconv.Itoa(k)+"q", ids[k])
		}
		return s
	}
}
