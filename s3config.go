package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// S3Config configures the S3 backend. Bucket is required, and credentials:
// AccessKey and SecretKey (and SessionToken for temporary ones), or else
// Credentials.
//
// A config can be printed, logged and encoded whole: SecretKey and
// SessionToken are [Secret] values, which show as "[redacted]", fmt prints
// Credentials as the provider's type only, and encoding/json leaves it
// out. Held in an unexported field of another struct, where fmt cannot
// call S3Config's Format, a provider held by value (as
// credentials.StaticCredentialsProvider is) would print whole: give static
// keys in AccessKey, SecretKey and SessionToken instead.
type S3Config struct {
	Bucket    string
	AccessKey string
	SecretKey Secret // never shown: see Secret
	// SessionToken goes with AccessKey and SecretKey when they are
	// temporary, as STS issues them; never shown, like SecretKey.
	SessionToken Secret
	// Credentials, when set, provides the credentials instead of the keys,
	// which must then be unset: for example the Credentials of the SDK's
	// config.LoadDefaultConfig (instance and task roles, web identity), or
	// stscreds for an assumed role. NewS3 puts it behind the SDK's cache,
	// so it is asked on first use and again shortly before what it gave
	// expires; its errors come back naming it. [S3.Config] returns the
	// backend's own provider here.
	Credentials aws.CredentialsProvider `json:"-"`

	Region    string // "" = detected on first use with GetBucketLocation (an empty answer means us-east-1)
	Endpoint  string // "" = AWS; set for MinIO and other S3-compatible servers (path-style unless Addressing says)
	PublicURL string // "" = derived (see URLs); set for a CDN or custom domain
	ACL       string // "" sends none; e.g. "public-read"

	// ServerSideEncryption is sent with every upload, a Put whole or in
	// parts and a Copy: "" sends none and leaves it to the bucket's
	// default encryption; "AES256" asks for SSE-S3, "aws:kms" and
	// "aws:kms:dsse" for SSE-KMS with KMSKeyID, or the AWS managed key
	// when KMSKeyID is "". Presigned PUT URLs sign the matching headers,
	// which the uploader must then send with the same values.
	ServerSideEncryption string
	// KMSKeyID is the KMS key (ID, ARN or alias ARN) of "aws:kms" and
	// "aws:kms:dsse"; it may be set with those only.
	KMSKeyID string
	// StorageClass is sent with every upload, e.g. "STANDARD_IA" or
	// "INTELLIGENT_TIERING"; "" sends none and leaves it to the bucket
	// (STANDARD on AWS).
	StorageClass string

	// Addressing chooses how requests and URLs name the bucket: "path"
	// (ENDPOINT/BUCKET/KEY), "virtual" (BUCKET.ENDPOINT-HOST/KEY, for
	// providers that require virtual hosts on a custom endpoint), or ""
	// for the usual choice: path-style on a custom endpoint and for
	// bucket names with dots, virtual-hosted on AWS.
	Addressing string

	// HTTPClient sends the requests; nil means a client with connect, TLS
	// handshake and response-header timeouts and no overall deadline, so
	// that a long transfer that is still moving data is never cut (see
	// s3transport.go for the values and why). An *http.Client with a
	// transport of your own, a proxy or a custom CA goes here.
	HTTPClient aws.HTTPClient `json:"-"`
	// MaxAttempts bounds the attempts of each request, the first
	// included: 0 means the SDK's standard 3, 1 no retries. Retries back
	// off exponentially with jitter, on throttling (SlowDown, 503), 5xx
	// answers and network errors, as the SDK's retryer does.
	MaxAttempts int
	// RetryMode is the SDK's retry mode: "" or "standard", or "adaptive",
	// which also slows the client down while the server throttles.
	RetryMode aws.RetryMode
	// Logger receives what an operator may need to know: at Debug each
	// failed attempt and retry with its reason, each region lookup and
	// each aborted multipart upload; at Warn a multipart upload left open
	// because its abort failed. Nothing logged holds a secret, a signature
	// or a presigned URL. nil logs nothing. Nothing goes to the standard
	// log package, where the transfer manager would print a failed
	// CompleteMultipartUpload.
	Logger *slog.Logger `json:"-"`
}

// s3ConfigFields is S3Config without its methods, for Format.
type s3ConfigFields S3Config

// Format implements [fmt.Formatter]. It prints the configuration as fmt
// would, verb and flags included, but Credentials as the type of the
// provider: a provider may hold the keys in its fields.
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
