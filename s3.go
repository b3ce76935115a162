package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Upload tuning. A Put buffers at most s3Concurrency+2 parts: the first,
// read to choose between one PutObject and a multipart upload, and the
// transfer manager's pool of s3Concurrency+1. With 8 MiB parts that is
// about 40 MiB per Put whatever the size of the object (a part buffer can
// hold a little more than a part while it is read), and an upload can reach
// 10,000 parts, about 78 GiB.
const (
	s3PartSize    = multipartPartSize
	s3Concurrency = 3
	// s3AbortTimeout bounds the AbortMultipartUpload sent after a failed or
	// cancelled upload; it runs on a fresh context, because the caller's may
	// be the one that was cancelled.
	s3AbortTimeout = 30 * time.Second
	// s3DefaultRegion signs the region lookup, and stands in for the region
	// in URLs until the lookup has happened.
	s3DefaultRegion = "us-east-1"
)

// S3 stores objects in a bucket of Amazon S3 or of an S3-compatible server
// such as MinIO. Create it with [NewS3]; it is safe for concurrent use. It
// needs only the usual IAM policy's rights (s3:ListBucket and
// s3:GetBucketLocation on the bucket, the object actions on bucket/*), and a
// refused request's error, matching fs.ErrPermission, names the action.
//
// Put streams: a body under 8 MiB goes up in one PutObject, a longer one in a
// multipart upload of 8 MiB parts, three at a time, so that a Put holds about
// 40 MiB whatever the size (at most 10,000 parts: about 78 GiB). A failed Put
// aborts its upload, leaving no parts.
//
// The server checks every body before storing it: the SigV4 signature covers
// its SHA-256 over HTTP, a Content-MD5 header over HTTPS. The SDK's newer
// x-amz-checksum headers are off, as several S3-compatible servers refuse
// them. Reading a whole object checks its MD5 when the ETag is one (see
// [Info]); a mismatch is a read error.
type S3 struct {
	bucket    string
	endpoint  string
	publicURL string
	acl       string
	region    string // as configured; "" means detect
	// sse, kmsKeyID and storageClass are sent with every upload.
	sse          string
	kmsKeyID     string
	storageClass string
	addressing   string // S3Config.Addressing
	creds        *s3Credentials
	awsCfg       aws.Config
	log          *slog.Logger // S3Config.Logger, nil or not: see orDiscard
	// named names an S3Config field in messages, as whoever configured the
	// backend knows it: the field itself from NewS3, the variable from
	// FromEnv.
	named func(field string) string

	// copyLimit and copyPartSize are s3CopyLimit and s3CopyPartSize, as
	// fields so that a test can take the part-by-part path with a small
	// object.
	copyLimit, copyPartSize int64

	// clients is set once the region is known: at once when configured,
	// otherwise by the first operation, which detects it. detecting admits
	// one detection at a time; a failed one is retried by the next call.
	clients   atomic.Pointer[s3Clients]
	detecting chan struct{}

	// bucketFound is set once the bucket is known to exist. Until then a
	// HEAD's 404, which has no body to say what is missing, is checked with
	// HeadBucket, so that a wrong bucket name is not mistaken for a missing
	// object.
	bucketFound atomic.Bool
}

// s3Clients are the SDK clients for the bucket's region.
type s3Clients struct {
	region   string
	api      *s3.Client
	presign  *s3.PresignClient
	uploader *transfermanager.Client
	up       uploadClient // the uploader's, whose maps tell how its uploads ended
}

var (
	_ Storage       = (*S3)(nil)
	_ PrefixDeleter = (*S3)(nil)
)

// Close closes the idle connections of the HTTP client where it can (an
// *http.Client can). The S3 stays usable.
func (s *S3) Close() error {
	if c, ok := s.awsCfg.HTTPClient.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}

// regionPattern matches AWS region names and the names S3-compatible servers
// use; anything else would end up in a host name.
var regionPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// NewS3 returns an S3 for cfg alone: no SDK environment variables, shared
// files or default chain (FromEnv can pass the chain as cfg.Credentials). It
// does no I/O: credentials and, without cfg.Region, the bucket's region are
// fetched by the first request. An invalid cfg fails with fs.ErrInvalid.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	return newS3(cfg, "")
}

// newS3 is NewS3 with source, when not "", naming the credentials in
// messages instead of the S3Config fields.
func newS3(cfg S3Config, source string) (*S3, error) {
	if err := checkS3Config(cfg); err != nil {
		return nil, fmt.Errorf("storage: S3 configuration: %w", err)
	}
	signingRegion := cfg.Region
	if signingRegion == "" {
		signingRegion = s3DefaultRegion
	}
	endpoint := strings.TrimRight(cfg.Endpoint, "/")
	// The aws.Config is built here rather than by config.LoadDefaultConfig,
	// which reads the SDK's environment variables and ~/.aws files: those
	// could swap in other credentials, endpoints or checksum settings, and
	// an AWS_PROFILE naming a profile it cannot find makes it fail outright.
	// Unset fields get the SDK's defaults (standard retries, HTTP client).
	creds := newS3Credentials(cfg, source)
	client := cfg.HTTPClient
	if client == nil {
		client = newS3HTTPClient()
	}
	awsCfg := aws.Config{
		HTTPClient:                 client,
		RetryMaxAttempts:           cfg.MaxAttempts,
		RetryMode:                  cfg.RetryMode,
		BaseEndpoint:               optional(endpoint),
		Region:                     signingRegion,
		Credentials:                creds,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		APIOptions:                 []func(*middleware.Stack) error{contentMD5(!strings.HasPrefix(endpoint, "http://"))},
	}
	if cfg.Logger != nil {
		withLogging(&awsCfg, cfg.Logger)
	}
	s := &S3{
		named:        fieldName,
		bucket:       cfg.Bucket,
		endpoint:     endpoint,
		publicURL:    cfg.PublicURL,
		acl:          cfg.ACL,
		region:       cfg.Region,
		sse:          cfg.ServerSideEncryption,
		kmsKeyID:     cfg.KMSKeyID,
		storageClass: cfg.StorageClass,
		addressing:   cfg.Addressing,
		creds:        creds,
		awsCfg:       awsCfg,
		log:          cfg.Logger,
		detecting:    make(chan struct{}, 1),

		copyLimit:    s3CopyLimit,
		copyPartSize: s3CopyPartSize,
	}
	if cfg.Region != "" {
		s.clients.Store(s.newClients(cfg.Region))
	}
	return s, nil
}

// usePathStyle tells whether requests name the bucket in the path; see
// S3Config.Addressing.
func (s *S3) usePathStyle() bool {
	switch s.addressing {
	case "path":
		return true
	case "virtual":
		return false
	}
	return s.endpoint != "" || strings.Contains(s.bucket, ".")
}

// fieldName names an S3Config field in NewS3's messages: as it is.
func fieldName(field string) string { return field }

func checkS3Config(cfg S3Config) error {
	if err := checkS3Choices(cfg, fieldName); err != nil {
		return err
	}
	if cfg.Credentials != nil {
		var set []string
		for _, f := range [...]struct{ name, value string }{
			{"AccessKey", cfg.AccessKey}, {"SecretKey", cfg.SecretKey.reveal()}, {"SessionToken", cfg.SessionToken.reveal()},
		} {
			if f.value != "" {
				set = append(set, f.name)
			}
		}
		if len(set) > 0 {
			return fmt.Errorf("%w: Credentials and %s are both set; set either the provider or the keys", fs.ErrInvalid, strings.Join(set, " and "))
		}
		if cfg.Bucket == "" {
			return fmt.Errorf("%w: Bucket not set", fs.ErrInvalid)
		}
	} else {
		var missing []string
		for _, f := range [...]struct{ name, value string }{
			{"Bucket", cfg.Bucket}, {"AccessKey", cfg.AccessKey}, {"SecretKey", cfg.SecretKey.reveal()},
		} {
			if f.value == "" {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s not set", fs.ErrInvalid, strings.Join(missing, " and "))
		}
	}
	for _, f := range [...]struct{ name, value string }{
		{"AccessKey", cfg.AccessKey}, {"SecretKey", cfg.SecretKey.reveal()}, {"SessionToken", cfg.SessionToken.reveal()},
	} {
		if strings.IndexFunc(f.value, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
			// No S3 key holds one, and the value must not be printed.
			return fmt.Errorf("%w: %s holds a space, a line break or another character that no key holds", fs.ErrInvalid, f.name)
		}
	}
	if strings.ContainsAny(cfg.Bucket, "/ ?#%") || !isHeaderValue(cfg.Bucket) {
		return fmt.Errorf("%w: bucket name %q is not valid", fs.ErrInvalid, cfg.Bucket)
	}
	if cfg.Region != "" && !regionPattern.MatchString(cfg.Region) {
		return fmt.Errorf("%w: region %q is not valid", fs.ErrInvalid, cfg.Region)
	}
	for _, u := range [...]struct{ name, value string }{{"endpoint", cfg.Endpoint}, {"public URL", cfg.PublicURL}} {
		if u.value == "" {
			continue
		}
		if err := checkBaseURL(u.name, u.value, false); err != nil {
			return err
		}
	}
	return nil
}

// checkS3Choices checks the fields of cfg that take one of a few values, and
// those that go with them. name gives what an error calls a field: the field
// itself for NewS3, the variable it came from for FromEnv.
func checkS3Choices(cfg S3Config, name func(field string) string) error {
	switch cfg.Addressing {
	case "", "path", "virtual":
	default:
		return fmt.Errorf("%w: %s %q is neither \"path\" nor \"virtual\"", fs.ErrInvalid, name("Addressing"), cfg.Addressing)
	}
	if cfg.Addressing == "virtual" && cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err == nil && net.ParseIP(u.Hostname()) != nil {
			return fmt.Errorf("%w: %s \"virtual\" needs a host name in %s to put the bucket in front of, not the IP address %s", fs.ErrInvalid, name("Addressing"), name("Endpoint"), u.Hostname())
		}
	}
	if cfg.MaxAttempts < 0 {
		return fmt.Errorf("%w: %s %d is negative; 0 means the SDK's default of 3", fs.ErrInvalid, name("MaxAttempts"), cfg.MaxAttempts)
	}
	switch cfg.RetryMode {
	case "", aws.RetryModeStandard, aws.RetryModeAdaptive:
	default:
		return fmt.Errorf("%w: %s %q is neither %q nor %q", fs.ErrInvalid, name("RetryMode"), cfg.RetryMode, aws.RetryModeStandard, aws.RetryModeAdaptive)
	}
	if err := checkEnumValue(name("ServerSideEncryption"), cfg.ServerSideEncryption, types.ServerSideEncryption("").Values()); err != nil {
		return err
	}
	if cfg.KMSKeyID != "" && !strings.HasPrefix(cfg.ServerSideEncryption, "aws:kms") {
		return fmt.Errorf("%w: %s is set but %s is %q; a KMS key goes with \"aws:kms\" or \"aws:kms:dsse\"", fs.ErrInvalid, name("KMSKeyID"), name("ServerSideEncryption"), cfg.ServerSideEncryption)
	}
	if strings.IndexFunc(cfg.KMSKeyID, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return fmt.Errorf("%w: %s holds a space, a line break or another character that no key ID holds", fs.ErrInvalid, name("KMSKeyID"))
	}
	if err := checkEnumValue(name("StorageClass"), cfg.StorageClass, types.StorageClass("").Values()); err != nil {
		return err
	}
	if known := types.ObjectCannedACL("").Values(); cfg.ACL != "" && !slices.Contains(known, types.ObjectCannedACL(cfg.ACL)) {
		return fmt.Errorf("%w: %s: unknown canned ACL %q; the canned ACLs are %s", fs.ErrInvalid, name("ACL"), cfg.ACL, joinValues(known))
	}
	return nil
}

// checkEnumValue refuses a value that is set and none of the SDK's known
// values of the field, listing them.
func checkEnumValue[T ~string](field, value string, values []T) error {
	if value != "" && !slices.Contains(values, T(value)) {
		return fmt.Errorf("%w: %s %q is none of %s", fs.ErrInvalid, field, value, joinValues(values))
	}
	return nil
}

// joinValues lists the SDK's values of an enumerated field.
func joinValues[T ~string](values []T) string {
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	return b.String()
}

// contentMD5 returns the API option that sends Content-MD5 where nothing
// else lets the server check a request body; see [S3].
// Over plain HTTP the signed SHA-256 of the body does, and an MD5 would only
// cost CPU: Go hashes MD5 at about a third of the speed of SHA-256.
func contentMD5(overHTTPS bool) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		switch stack.ID() {
		case "DeleteObjects":
		case "PutObject", "UploadPart":
			if !overHTTPS {
				return nil
			}
		default:
			return nil
		}
		if _, ok := stack.Build.Get("ContentChecksum"); ok {
			return nil
		}
		return smithyhttp.AddContentChecksumMiddleware(stack)
	}
}

// newClient returns an SDK client signing for region.
func (s *S3) newClient(region string) *s3.Client {
	return s3.NewFromConfig(s.awsCfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = s.usePathStyle()
	})
}

func (s *S3) newClients(region string) *s3Clients {
	api := s.newClient(region)
	up := uploadClient{Client: api, unaborted: new(sync.Map), journaled: new(sync.Map), incomplete: new(sync.Map), log: s.log}
	return &s3Clients{
		region:  region,
		api:     api,
		presign: s3.NewPresignClient(api),
		up:      up,
		uploader: transfermanager.New(up, func(o *transfermanager.Options) {
			o.PartSizeBytes = s3PartSize
			o.MultipartUploadThreshold = s3PartSize
			o.Concurrency = s3Concurrency
			o.FailTimeout = s3AbortTimeout
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}),
	}
}

// api returns the clients for the bucket's region, detecting the region
// with GetBucketLocation on first use when it was not configured.
func (s *S3) api(ctx context.Context) (*s3Clients, error) {
	if c := s.clients.Load(); c != nil {
		return c, nil
	}
	select {
	case s.detecting <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.detecting }()
	if c := s.clients.Load(); c != nil {
		return c, nil
	}
	// S3 answers GetBucketLocation in any region, so us-east-1 will do.
	out, err := s.newClient(s3DefaultRegion).GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		err = s.translate(ctx, err, "s3:GetBucketLocation")
		if unreachable(err) != nil {
			return nil, err // the region is not the problem
		}
		return nil, fmt.Errorf("looking up the region of bucket %q: %w", s.bucket, err)
	}
	region := string(out.LocationConstraint)
	switch region {
	case "":
		region = s3DefaultRegion
	case "EU":
		region = "eu-west-1"
	}
	if !regionPattern.MatchString(region) {
		return nil, fmt.Errorf("bucket %q: the server names an invalid region %q", s.bucket, region)
	}
	orDiscard(s.log).DebugContext(ctx, "s3: looked up the bucket's region", "bucket", s.bucket, "region", region)
	c := s.newClients(region)
	s.clients.Store(c)
	return c, nil
}

// regionInUse returns the region requests are signed for.
func (s *S3) regionInUse() string {
	if c := s.clients.Load(); c != nil {
		return c.region
	}
	return s3DefaultRegion
}

// String describes the backend without its credentials.
func (s *S3) String() string { return description(s.view()) }

// MarshalJSON encodes the description of the backend, without credentials.
func (s *S3) MarshalJSON() ([]byte, error) { return json.Marshal(s.view()) }

type s3View struct{ Bucket, Region, Endpoint string }

func (s *S3) view() s3View {
	region := "(not yet detected)"
	if c := s.clients.Load(); c != nil {
		region = c.region
	}
	return s3View{s.bucket, region, s.endpoint}
}

// Put uploads r to key, streaming it (see S3). A Put cancelled after the whole
// object was sent may still have stored it, as with any S3 client: only a Stat
// can tell.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error) {
	info, err := s.put(ctx, key, r, opts)
	return info, wrapErr("put", key, err)
}

func (s *S3) put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error) {
	prepared, r, err := PreparePut(ctx, key, r, opts)
	if err != nil {
		return Info{}, err
	}
	opts, contentType := &prepared, prepared.ContentType
	// S3 answers a multipart upload without the size it stored.
	body := &countingReader{r: r}
	c, err := s.api(ctx)
	if err != nil {
		return Info{}, err
	}
	metadata := lowerMetadata(opts.Metadata, metadataHeader)
	// A body that fits one buffer goes out in one PutObject from memory;
	// the transfer manager would copy it into a part buffer of its own and
	// run goroutines for it. Larger ones stream through the manager.
	buf := copyBuffers.Get().(*[]byte)
	stored := false
	defer func() {
		// After a failed request the HTTP transport may still be reading
		// the body in the background: only a stored one frees the buffer.
		if stored {
			copyBuffers.Put(buf)
		}
	}()
	n, ended, err := fill(body, *buf)
	if err != nil {
		return Info{}, err
	}
	var (
		etag   *string
		result middleware.Metadata
	)
	if ended {
		out, err := c.api.PutObject(ctx, &s3.PutObjectInput{
			Bucket:               aws.String(s.bucket),
			Key:                  aws.String(key),
			Body:                 bytes.NewReader((*buf)[:n]),
			ContentLength:        aws.Int64(int64(n)),
			ContentType:          aws.String(contentType),
			ContentDisposition:   optional(opts.ContentDisposition),
			CacheControl:         optional(opts.CacheControl),
			Metadata:             metadata,
			ACL:                  types.ObjectCannedACL(s.objectACL(opts.Private)),
			ServerSideEncryption: types.ServerSideEncryption(s.sse),
			SSEKMSKeyId:          optional(s.kmsKeyID),
			StorageClass:         types.StorageClass(s.storageClass),
		})
		if err != nil {
			return Info{}, s.translate(ctx, err, "s3:PutObject")
		}
		etag, result = out.ETag, out.ResultMetadata
		noteETag(ctx, md5Encryption(out.ServerSideEncryption, out.SSECustomerAlgorithm))
	} else {
		out, err := c.uploader.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket:               aws.String(s.bucket),
			Key:                  aws.String(key),
			Body:                 io.MultiReader(bytes.NewReader((*buf)[:n]), body),
			ContentType:          aws.String(contentType),
			ContentDisposition:   optional(opts.ContentDisposition),
			CacheControl:         optional(opts.CacheControl),
			Metadata:             metadata,
			ACL:                  tmtypes.ObjectCannedACL(s.objectACL(opts.Private)),
			ServerSideEncryption: tmtypes.ServerSideEncryption(s.sse),
			SSEKMSKeyID:          optional(s.kmsKeyID),
			StorageClass:         tmtypes.StorageClass(s.storageClass),
		})
		if err != nil {
			return Info{}, s.uploadFailed(ctx, c, err)
		}
		if err := s.completeFailed(ctx, c, s.bucket, key, aws.ToString(out.UploadID)); err != nil {
			return Info{}, err
		}
		etag, result = out.ETag, out.ResultMetadata
		noteETag(ctx, md5Encryption(types.ServerSideEncryption(out.ServerSideEncryption), out.SSECustomerAlgorithm))
	}
	stored = true
	return Info{
		Key:                key,
		Size:               body.n,
		ContentType:        contentType,
		ContentDisposition: opts.ContentDisposition,
		CacheControl:       opts.CacheControl,
		ETag:               aws.ToString(etag),
		ModTime:            modTimeAfterPut(result),
		Metadata:           opts.Metadata,
		Private:            opts.Private && s.acl != "", // as Stat tells it
	}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// objectACL returns the canned ACL to send for an object: the configured
// one, or "private" in its place for a private object. With no ACL
// configured none is sent, private or not: objects are private by default,
// and buckets that disable ACLs refuse even "private".
func (s *S3) objectACL(private bool) string {
	if private && s.acl != "" {
		return string(types.ObjectCannedACLPrivate)
	}
	return s.acl
}

// modTimeAfterPut returns when S3 stored the object, from the Date of its
// response: neither PutObject nor CompleteMultipartUpload returns the
// Last-Modified time, and asking with a HEAD would cost a request per Put.
// The two agree to the second for a PutObject; for a multipart upload S3
// dates the object from the start of the upload, so Stat may report an
// earlier time.
func modTimeAfterPut(md middleware.Metadata) time.Time {
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		if t, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			return t.UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Stat describes the object under key.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, wrapErr("stat", key, err)
	}
	c, err := s.api(ctx)
	if err != nil {
		return Info{}, wrapErr("stat", key, err)
	}
	info, err := s.stat(ctx, c, key)
	if err == nil && s.acl != "" {
		// With ACLs in use, the object's own ACL says whether it is
		// private; without, Put sent none and a bucket policy decides.
		info.Private, err = s.isPrivate(ctx, c, key)
	}
	return info, wrapErr("stat", key, err)
}

func (s *S3) stat(ctx context.Context, c *s3Clients, key string) (Info, error) {
	out, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		err = s.translate(ctx, err, "s3:GetObject")
		if errors.Is(err, fs.ErrNotExist) && !s.bucketFound.Load() {
			if bucketErr := s.checkBucket(ctx, c); bucketErr != nil {
				return Info{}, bucketErr
			}
		}
		return Info{}, err
	}
	s.bucketFound.Store(true)
	return Info{
		Key:                key,
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		CacheControl:       aws.ToString(out.CacheControl),
		ETag:               aws.ToString(out.ETag),
		ModTime:            aws.ToTime(out.LastModified).UTC(),
		Metadata:           metadataFromHeaders(out.Metadata),
	}, nil
}

// checkBucket returns the error for a missing bucket if HeadBucket finds
// none. Any other answer means the bucket is there (or not this user's to
// probe, where the HEAD's 404 is the best answer there is); a request that
// gets no answer settles nothing.
func (s *S3) checkBucket(ctx context.Context, c *s3Clients) error {
	_, err := c.api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	var respErr *awshttp.ResponseError
	if err != nil && !errors.As(err, &respErr) {
		return nil
	}
	if respErr != nil && respErr.HTTPStatusCode() == http.StatusNotFound {
		return s.translateAPI(err, "NoSuchBucket", "", http.StatusNotFound, "", "s3:ListBucket")
	}
	s.bucketFound.Store(true)
	return nil
}

// Delete removes the object under key.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return wrapErr("delete", key, err)
	}
	c, err := s.api(ctx)
	if err != nil {
		return wrapErr("delete", key, err)
	}
	_, err = c.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		err = s.translate(ctx, err, "s3:DeleteObject")
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return wrapErr("delete", key, err)
}
