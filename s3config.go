package storage

import (
	"fmt"
	"log/slog"
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
	Region    string // "" = detected on first use with GetBucketLocation (an empty answer means us-east-1)
	Endpoint  string // "" = AWS; set for MinIO and other S3-compatible servers (path-style)
	PublicURL string // "" = derived (see URLs); set for a CDN or custom domain
	ACL       string // "" sends none; e.g. "public-read"
}

// String returns the configuration with the secret key redacted.
func (c S3Config) String() string { return c.fields().String() }

// GoString returns a Go expression for the configuration with the secret key
// redacted; %#v uses it.
func (c S3Config) GoString() string { return c.fields().goString("storage.S3Config") }

// Format implements fmt.Formatter. Without it, verbs that bypass String, such
// as %d or %x applied to the struct, would print the fields and the secret.
func (c S3Config) Format(f fmt.State, verb rune) { c.fields().format(f, verb, "storage.S3Config") }

// LogValue implements slog.LogValuer, logging the configuration as a group
// with the secret key redacted.
func (c S3Config) LogValue() slog.Value { return c.fields().logValue() }

// MarshalJSON encodes the configuration as a JSON object with the secret key
// redacted, so that a configuration dump or a JSON logger shows no secret.
func (c S3Config) MarshalJSON() ([]byte, error) { return c.fields().marshalJSON() }

// fields lists the configuration as it may be shown, the secret redacted.
func (c S3Config) fields() configFields {
	return configFields{
		{"Bucket", c.Bucket},
		{"AccessKey", c.AccessKey},
		{"SecretKey", redactedSecret(c.SecretKey)},
		{"Region", c.Region},
		{"Endpoint", c.Endpoint},
		{"PublicURL", c.PublicURL},
		{"ACL", c.ACL},
	}
}
