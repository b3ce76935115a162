package storage

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// S3Config configures the S3 backend. Only Bucket, AccessKey and SecretKey
// are required.
//
// S3Config never prints its SecretKey: fmt (every verb, %#v included) and
// log/slog show "[redacted]" in its place, so a config can be logged whole.
type S3Config struct {
	Bucket    string
	AccessKey string
	SecretKey string // never printed: String, GoString, %v, %+v and slog all redact it
	Region    string // "" = detected once with GetBucketLocation, else us-east-1
	Endpoint  string // "" = AWS; set for MinIO and other S3-compatible servers (path-style)
	PublicURL string // "" = derived (see URLs); set for a CDN or custom domain
	ACL       string // "" sends none; e.g. "public-read"
}

const redacted = "[redacted]"

// redactedSecret tells whether a secret is set without showing it.
func redactedSecret(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}

// String returns the configuration with the secret key redacted.
func (c S3Config) String() string {
	return fmt.Sprintf("{Bucket:%s AccessKey:%s SecretKey:%s Region:%s Endpoint:%s PublicURL:%s ACL:%s}",
		c.Bucket, c.AccessKey, redactedSecret(c.SecretKey), c.Region, c.Endpoint, c.PublicURL, c.ACL)
}

// GoString returns a Go expression for the configuration with the secret key
// redacted; %#v uses it.
func (c S3Config) GoString() string {
	var b strings.Builder
	b.WriteString("storage.S3Config{")
	for i, f := range c.fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name)
		b.WriteString(":")
		b.WriteString(strconv.Quote(f.value))
	}
	b.WriteString("}")
	return b.String()
}

// Format implements fmt.Formatter. Without it, verbs that bypass String, such
// as %d or %x applied to the struct, would print the fields and the secret.
func (c S3Config) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, c.GoString())
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(c.String()))
	default:
		fmt.Fprint(f, c.String())
	}
}

// LogValue implements slog.LogValuer, logging the configuration as a group
// with the secret key redacted.
func (c S3Config) LogValue() slog.Value {
	fields := c.fields()
	attrs := make([]slog.Attr, len(fields))
	for i, f := range fields {
		attrs[i] = slog.String(f.name, f.value)
	}
	return slog.GroupValue(attrs...)
}

type configField struct{ name, value string }

// fields lists the configuration as it may be shown, the secret redacted.
func (c S3Config) fields() []configField {
	return []configField{
		{"Bucket", c.Bucket},
		{"AccessKey", c.AccessKey},
		{"SecretKey", redactedSecret(c.SecretKey)},
		{"Region", c.Region},
		{"Endpoint", c.Endpoint},
		{"PublicURL", c.PublicURL},
		{"ACL", c.ACL},
	}
}
