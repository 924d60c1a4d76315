package hashservice

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// originPattern is one entry of the allowlist.
//
//	cdn.example.com              that host, http on port 80 or https on 443
//	*.example.com                any host under example.com (not the apex), likewise
//	https://cdn.example.com      that scheme and host on the scheme's default port
//	http://127.0.0.1:8080        that scheme, host and port
type originPattern struct {
	scheme string // "" for http or https on their default ports
	host   string // lowercase; for a wildcard, the suffix with its leading dot
	port   string // "" with scheme ""
	wild   bool
}

// parsePattern parses an allowlist entry.
func parsePattern(s string) (originPattern, error) {
	in := s
	s = strings.ToLower(strings.TrimSpace(s))
	var p originPattern
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if scheme != "http" && scheme != "https" {
			return p, fmt.Errorf("origin pattern %q: scheme must be http or https", in)
		}
		p.scheme, s = scheme, rest
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			host, port = s, defaultPort(scheme)
		}
		if n, ok := parsePort(port); !ok || n == 0 {
			return p, fmt.Errorf("origin pattern %q: bad port %q", in, port)
		}
		s, p.port = host, port
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	if strings.HasPrefix(s, "*.") {
		p.wild, s = true, s[1:]
	}
	p.host = s
	check := strings.TrimPrefix(s, ".")
	switch {
	case check == "":
		return p, fmt.Errorf("origin pattern %q: no host (an allowlist of everything would make an open proxy)", in)
	case net.ParseIP(check) != nil:
		if p.wild {
			return p, fmt.Errorf("origin pattern %q: a wildcard needs a domain", in)
		}
	case !validHost(check):
		return p, fmt.Errorf("origin pattern %q: want host, *.domain or scheme://host[:port]", in)
	}
	return p, nil
}

// validHost reports whether h is a plain DNS name: letters, digits, '-'
// and '.', no empty label.
func validHost(h string) bool {
	if len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
				return false
			}
		}
	}
	return true
}

func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// matches reports whether the pattern admits u, an absolute http(s) URL.
func (p originPattern) matches(u *url.URL) bool {
	scheme := u.Scheme
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	host := strings.ToLower(u.Hostname())
	if p.scheme == "" {
		if port != defaultPort(scheme) {
			return false
		}
	} else if scheme != p.scheme || port != p.port {
		return false
	}
	if p.wild {
		return strings.HasSuffix(host, p.host) && len(host) > len(p.host)
	}
	return host == p.host
}

// allowlist is the set of origins the service fetches from.
type allowlist []originPattern

// parseAllowlist parses the patterns of Config.Allow.
func parseAllowlist(patterns []string) (allowlist, error) {
	var a allowlist
	for _, s := range patterns {
		p, err := parsePattern(s)
		if err != nil {
			return nil, err
		}
		a = append(a, p)
	}
	return a, nil
}

// allows reports whether some pattern admits u.
func (a allowlist) allows(u *url.URL) bool {
	for _, p := range a {
		if p.matches(u) {
			return true
		}
	}
	return false
}
