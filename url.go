package storage

import "strings"

// escapeKey escapes key for use in a URL path: every byte but RFC 3986's
// unreserved characters and the slashes between segments is percent-encoded.
// That is stricter than url.PathEscape on purpose: S3 reads a literal "+" in
// a path as a space, and "#", "?" and "%" would change what the URL means.
func escapeKey(key string) string {
	n := 0
	for i := 0; i < len(key); i++ {
		if !keepInURL(key[i]) {
			n++
		}
	}
	if n == 0 {
		return key
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key) + 2*n)
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

// joinURL returns base, ending in exactly one slash, followed by the escaped
// key. The key must be valid.
func joinURL(base, key string) string {
	base = strings.TrimRight(base, "/")
	return base + "/" + escapeKey(key)
}

// s3BaseURL returns the URL under which an S3 bucket serves its objects
// publicly, without a trailing slash. A custom endpoint (MinIO and other
// S3-compatible servers) is addressed path-style. On AWS, bucket names with
// dots are addressed path-style too, because the wildcard TLS certificate of
// *.s3.amazonaws.com does not cover them; other names get the virtual-hosted
// form that AWS recommends, with the legacy global host in us-east-1.
func s3BaseURL(endpoint, bucket, region string) string {
	switch {
	case endpoint != "":
		return strings.TrimRight(endpoint, "/") + "/" + bucket
	case strings.Contains(bucket, "."):
		return "https://s3." + region + ".amazonaws.com/" + bucket
	case region == "us-east-1":
		return "https://" + bucket + ".s3.amazonaws.com"
	}
	return "https://" + bucket + ".s3." + region + ".amazonaws.com"
}
