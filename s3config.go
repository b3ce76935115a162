package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// S3Config configures an [S3]. Bucket is required, and credentials: AccessKey
// and SecretKey (with SessionToken for temporary ones), or else Credentials.
// Empty fields take the usual defaults. A config prints, logs and encodes
// without its secrets (see [Secret]); Credentials prints as its type alone,
// except inside another struct's unexported field, where fmt cannot call
// Format: there give static keys in the key fields.
type S3Config struct {
	Bucket       string
	AccessKey    string
	SecretKey    Secret
	SessionToken Secret
	// Credentials, when set, provides the credentials in place of the keys,
	// cached and renewed before they expire: the SDK's default chain (roles,
	// web identity), stscreds for an assumed role.
	Credentials aws.CredentialsProvider `json:"-"`

	Region    string // "" = found with GetBucketLocation on first use
	Endpoint  string // "" = AWS; set for MinIO and other S3-compatible servers
	PublicURL string // "" = derived (see S3.URL); set for a CDN or custom domain
	ACL       string // canned ACL sent with uploads; "" sends none, e.g. "public-read"

	// ServerSideEncryption, KMSKeyID and StorageClass go with every upload
	// and Copy, and are signed into PUT URLs and forms: "" leaves them to the
	// bucket. Encryption is "AES256" (SSE-S3), "aws:kms" or "aws:kms:dsse";
	// KMSKeyID (ID or ARN, "" for the AWS managed key) goes with the latter
	// only. A class is such as "STANDARD_IA".
	ServerSideEncryption string
	KMSKeyID             string
	StorageClass         string

	// Addressing is "path" (ENDPOINT/BUCKET/KEY), "virtual" (BUCKET.HOST/KEY),
	// or "": path-style on a custom endpoint and for dotted buckets.
	Addressing string

	// HTTPClient sends the requests; nil means one with connect, TLS and
	// response-header timeouts but no overall deadline, which would cut long
	// transfers.
	HTTPClient aws.HTTPClient `json:"-"`
	// MaxAttempts and RetryMode tune the SDK's retries (of throttling, 5xx
	// and network errors, with backoff): 0 means 3 attempts, 1 none; mode
	// "standard" or "adaptive".
	MaxAttempts int
	RetryMode   aws.RetryMode
	// Logger, when set, gets at Debug each retry and its reason, region
	// lookup and aborted upload, at Warn an upload whose abort failed; never
	// a secret or a signed URL. Nothing goes to the log package.
	Logger *slog.Logger `json:"-"`
}

// s3ConfigFields is S3Config without its methods, for Format.
type s3ConfigFields S3Config

// Format implements [fmt.Formatter]: fmt's own output, Credentials shown as its
// type, since a provider may hold keys.
func (c S3Config) Format(f fmt.State, verb rune) {
	if c.Credentials != nil {
		c.Credentials = shownProvider{c.Credentials}
	}
	if verb == 'v' && f.Flag('#') {
		text := fmt.Sprintf("%#v", s3ConfigFields(c))
		fmt.Fprint(f, "storage.S3Config"+strings.TrimPrefix(text, "storage.s3ConfigFields"))
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s3ConfigFields(c))
}

// shownProvider stands in for a credentials provider that is printed.
type shownProvider struct{ p aws.CredentialsProvider }

func (p shownProvider) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "%T", p.p) }

func (shownProvider) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("storage: a printed S3Config's provider provides nothing")
}
