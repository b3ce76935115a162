package storage

// S3Config configures the S3 backend. Only Bucket, AccessKey and SecretKey
// are required.
//
// S3Config holds its SecretKey as a [Secret], which fmt (every verb),
// log/slog and encoding/json show as "[redacted]", so a config can be
// printed and logged whole.
type S3Config struct {
	Bucket    string
	AccessKey string
	SecretKey Secret // never shown: see Secret
	Region    string // "" = detected on first use with GetBucketLocation (an empty answer means us-east-1)
	Endpoint  string // "" = AWS; set for MinIO and other S3-compatible servers (path-style)
	PublicURL string // "" = derived (see URLs); set for a CDN or custom domain
	ACL       string // "" sends none; e.g. "public-read"
}
