package storage

import "testing"

// TestIsActiveType covers the types Put refuses, which a file written by
// other means may still carry: anything but one well-formed media type must
// count as active, since browsers take the last type of a list.
func TestIsActiveType(t *testing.T) {
	for typ, want := range map[string]bool{
		"image/png":                          false,
		"text/plain; charset=utf-8":          false,
		"IMAGE/PNG":                          false,
		"text/html":                          true,
		" Text/HTML ; charset=utf-8":         true,
		"image/svg+xml":                      true,
		"application/rss+xml":                true,
		"text/javascript":                    true,
		"image/png, text/html":               true,
		"image/png;x=y,text/html":            true,
		"text/plain; a=b, text/html":         true,
		"text/plain;charset=utf-8,text/html": true,
		`text/plain; name="a,b"`:             true,
		"html":                               true,
		"image/":                             true,
		"image/png; x":                       true,
		"":                                   true,
	} {
		if got := isActiveType(typ); got != want {
			t.Errorf("isActiveType(%q) = %v, want %v", typ, got, want)
		}
	}
}
