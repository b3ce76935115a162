package storage

import (
	"fmt"
	"io/fs"
	"net/url"
	"strings"
)

// checkBaseURL reports whether value may begin the URLs a backend hands out
// (or, for an endpoint, address its server): an http or https URL with a
// host, or, when pathOK, an absolute path. Both backends check their URLs
// here, so that neither prints a javascript: URL or a line break into a
// page.
func checkBaseURL(name, value string, pathOK bool) error {
	want := "an http or https URL"
	if pathOK {
		want = "a path starting with / or " + want
	}
	parsed, err := url.Parse(value)
	switch {
	case err != nil || !isHeaderValue(value) || strings.Contains(value, " "):
	case parsed.RawQuery != "" || parsed.Fragment != "" || strings.ContainsAny(value, "?#"):
		return fmt.Errorf("%w: %s %q has a query or fragment, which would swallow the key", fs.ErrInvalid, name, value)
	case (parsed.Scheme == "http" || parsed.Scheme == "https") && parsed.Host != "":
		return nil
	case pathOK && parsed.Scheme == "" && parsed.Host == "" && strings.HasPrefix(value, "/") && !strings.HasPrefix(value, "//"):
		return nil
	}
	return fmt.Errorf("%w: %s %q is not %s", fs.ErrInvalid, name, value, want)
}

// escapeKey escapes key for use in a URL path: every byte but RFC 3986's
// unreserved characters and the slashes between segments is percent-encoded.
// That is stricter than url.PathEscape on purpose: S3 reads a literal "+" in
// a path as a space, and "#", "?" and "%" would change what the URL means.
func escapeKey(key string) string { return concatEscaped("", key) }

// joinURL returns base, ending in exactly one slash, followed by the escaped
// key.
func joinURL(base, key string) string {
	return concatEscaped(strings.TrimRight(base, "/")+"/", key)
}

// concatEscaped returns prefix followed by the escaped key. It allocates the
// result only: URLs are built for every object a page lists.
func concatEscaped(prefix, key string) string {
	n := len(prefix) + len(key)
	for i := 0; i < len(key); i++ {
		if !keepInURL(key[i]) {
			n += 2
		}
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(n)
	b.WriteString(prefix)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if keepInURL(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func keepInURL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '/'
}
