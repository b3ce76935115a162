package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Upload tuning. A Put buffers at most (s3Concurrency+2) parts: the first
// part, read to choose between one PutObject and a multipart upload, and the
// transfer manager's pool of s3Concurrency+1 parts. With 8 MiB parts that is
// 40 MiB per Put whatever the size of the object, and an upload of unknown
// size can reach 10,000 parts, about 78 GiB.
const (
	s3PartSize    = 8 << 20
	s3Concurrency = 3
	// s3AbortTimeout bounds the AbortMultipartUpload sent after a failed or
	// cancelled upload; it runs on a fresh context, because the caller's may
	// be the one that was cancelled.
	s3AbortTimeout = 30 * time.Second
	// s3DefaultRegion signs the region lookup, and stands in for the region
	// in URLs until the lookup has happened.
	s3DefaultRegion = "us-east-1"
)

// S3 stores objects in an Amazon S3 bucket or in a bucket of an
// S3-compatible server such as MinIO. Create it with [NewS3]; it is safe for
// concurrent use.
//
// It needs exactly the rights of the usual IAM policy: s3:ListBucket and
// s3:GetBucketLocation on the bucket, and the object actions on bucket/*.
// A refused request returns an error matching fs.ErrPermission whose message
// names the missing action.
//
// # Data integrity
//
// Every request that carries object data (PutObject, UploadPart) and every
// DeleteObjects request is sent with a Content-MD5 header, which S3 checks
// before storing anything, and a Get that reads a whole object compares the
// bytes received with the object's ETag when the ETag is the MD5 of the
// content (objects uploaded in one request, without SSE-KMS or SSE-C).
// The SDK's newer flexible checksums are turned off
// (RequestChecksumCalculation and ResponseChecksumValidation "when
// required"): several S3-compatible servers reject the x-amz-checksum-* and
// aws-chunked trailer headers that the SDK now sends by default, while every
// one of them, and AWS, verifies Content-MD5. Multipart objects are checked
// part by part on upload; their ETag is not an MD5 of the content, so a Get
// of them relies on TLS for transport integrity.
type S3 struct {
	bucket    string
	endpoint  string
	publicURL string
	acl       string
	region    string // as configured; "" means detect
	awsCfg    aws.Config

	// clients is set once the region is known: at once when configured,
	// otherwise by the first operation, which detects it. detecting admits
	// one detection at a time; a failed one is retried by the next call.
	clients   atomic.Pointer[s3Clients]
	detecting chan struct{}
}

// s3Clients are the SDK clients for the bucket's region.
type s3Clients struct {
	region   string
	api      *s3.Client
	presign  *s3.PresignClient
	uploader *transfermanager.Client
}

var _ Storage = (*S3)(nil)

// regionPattern matches AWS region names and the names S3-compatible servers
// use; anything else would end up in a host name.
var regionPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// NewS3 returns an S3 backend for cfg. It does no network I/O: when
// cfg.Region is empty, the bucket's region is looked up by the first
// operation that needs it. The SDK's default credential chain and shared
// configuration files are not consulted; only cfg's keys are used. An
// invalid configuration yields an error wrapping fs.ErrInvalid, which never
// contains the secret key.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := checkS3Config(cfg); err != nil {
		return nil, fmt.Errorf("storage: S3 configuration: %w", err)
	}
	signingRegion := cfg.Region
	if signingRegion == "" {
		signingRegion = s3DefaultRegion
	}
	awsCfg, err := config.LoadDefaultConfig(ctx,
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")),
		config.WithRegion(signingRegion),
		// Empty lists, not nil: nil would mean the default ~/.aws files.
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		config.WithAPIOptions([]func(*middleware.Stack) error{addContentMD5}),
	)
	if err != nil {
		return nil, fmt.Errorf("storage: S3 configuration: %w", err)
	}
	s := &S3{
		bucket:    cfg.Bucket,
		endpoint:  strings.TrimRight(cfg.Endpoint, "/"),
		publicURL: cfg.PublicURL,
		acl:       cfg.ACL,
		region:    cfg.Region,
		awsCfg:    awsCfg,
		detecting: make(chan struct{}, 1),
	}
	if cfg.Region != "" {
		s.clients.Store(s.newClients(cfg.Region))
	}
	return s, nil
}

func checkS3Config(cfg S3Config) error {
	var missing []string
	for _, f := range [...]struct{ name, value string }{
		{"Bucket", cfg.Bucket}, {"AccessKey", cfg.AccessKey}, {"SecretKey", cfg.SecretKey},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not set", fs.ErrInvalid, strings.Join(missing, " and "))
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
		parsed, err := url.Parse(u.value)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return fmt.Errorf("%w: %s %q is not an http or https URL", fs.ErrInvalid, u.name, u.value)
		}
	}
	if cfg.ACL != "" {
		known := false
		for _, acl := range types.ObjectCannedACL("").Values() {
			known = known || string(acl) == cfg.ACL
		}
		if !known {
			return fmt.Errorf("%w: unknown canned ACL %q", fs.ErrInvalid, cfg.ACL)
		}
	}
	return nil
}

// addContentMD5 sends Content-MD5 with the requests that carry data or that
// S3 requires a checksum for; see "Data integrity" on [S3]. The SDK computes
// it from the request body, which the transfer manager always gives as a
// seekable buffer.
func addContentMD5(stack *middleware.Stack) error {
	switch stack.ID() {
	case "PutObject", "UploadPart", "DeleteObjects":
	default:
		return nil
	}
	if _, ok := stack.Build.Get("ContentChecksum"); ok {
		return nil
	}
	return smithyhttp.AddContentChecksumMiddleware(stack)
}

func (s *S3) newClients(region string) *s3Clients {
	api := s3.NewFromConfig(s.awsCfg, func(o *s3.Options) {
		o.Region = region
		// Set (or cleared) here so that AWS_ENDPOINT_URL and the like in the
		// environment cannot redirect the requests.
		o.BaseEndpoint = nil
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
		o.UsePathStyle = s.endpoint != "" || strings.Contains(s.bucket, ".")
	})
	return &s3Clients{
		region:  region,
		api:     api,
		presign: s3.NewPresignClient(api),
		uploader: transfermanager.New(api, func(o *transfermanager.Options) {
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
	out, err := s3.NewFromConfig(s.awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = nil
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
		o.UsePathStyle = s.endpoint != "" || strings.Contains(s.bucket, ".")
	}).GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		return nil, fmt.Errorf("detecting the region of bucket %q (or set Region, AWS_REGION): %w",
			s.bucket, s.translate(ctx, err, "s3:GetBucketLocation"))
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
func (s *S3) String() string {
	return "storage.S3{Bucket:" + s.bucket + " Region:" + s.regionInUse() + " Endpoint:" + s.endpoint + "}"
}

// GoString is like String; it keeps %#v from printing the SDK configuration.
func (s *S3) GoString() string { return s.String() }

// Put uploads r to key. Bodies smaller than one part (8 MiB) go up in one
// PutObject; larger ones, of known size or not, in a multipart upload that
// buffers a bounded number of parts. A failed or cancelled Put leaves the
// previous object, if any, in place and aborts its multipart upload.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error) {
	info, err := s.put(ctx, key, r, opts)
	return info, wrapErr("put", key, err)
}

func (s *S3) put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := checkPutOptions(opts); err != nil {
		return Info{}, err
	}
	if opts == nil {
		opts = &PutOptions{}
	}
	c, err := s.api(ctx)
	if err != nil {
		return Info{}, err
	}
	contentType, body, err := detectContentType(key, opts.ContentType, r)
	if err != nil {
		return Info{}, err
	}
	counted := &countingReader{ctx: ctx, r: body}
	metadata := lowerMetadata(opts.Metadata)
	out, err := c.uploader.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket:             aws.String(s.bucket),
		Key:                aws.String(key),
		Body:               counted,
		ContentType:        aws.String(contentType),
		ContentDisposition: optional(opts.ContentDisposition),
		CacheControl:       optional(opts.CacheControl),
		Metadata:           metadata,
		ACL:                tmtypes.ObjectCannedACL(s.acl),
	})
	if err != nil {
		return Info{}, s.translate(ctx, err, "s3:PutObject")
	}
	info := Info{
		Key:                key,
		Size:               counted.n,
		ContentType:        contentType,
		ContentDisposition: opts.ContentDisposition,
		CacheControl:       opts.CacheControl,
		ETag:               aws.ToString(out.ETag),
		Metadata:           metadata,
	}
	info.ModTime = s.modTimeAfterPut(ctx, c, key, info.ETag, out.ResultMetadata)
	return info, nil
}

// modTimeAfterPut returns the Last-Modified time S3 gave the object just
// stored. Neither PutObject nor CompleteMultipartUpload returns it (the
// latter's is the time the upload began), so it asks with a HEAD conditional
// on the new ETag; if another writer got in between, or the HEAD fails, the
// time of the response stands in.
func (s *S3) modTimeAfterPut(ctx context.Context, c *s3Clients, key, etag string, md middleware.Metadata) time.Time {
	head, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:  aws.String(s.bucket),
		Key:     aws.String(key),
		IfMatch: optional(etag),
	})
	if err == nil && head.LastModified != nil {
		return head.LastModified.UTC()
	}
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		if t, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			return t.UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// countingReader counts the bytes of a Put and stops it when ctx is done,
// even if r itself would keep producing.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Get opens the object under key; errors.Is(err, fs.ErrNotExist) when there
// is none. Reading it to the end verifies its MD5 when S3 can tell it (see
// "Data integrity" on [S3]); a mismatch is a read error.
func (s *S3) Get(ctx context.Context, key string) (*Reader, error) {
	r, err := s.get(ctx, key, 0, -1)
	return r, wrapErr("get", key, err)
}

// GetRange opens length bytes of the object under key from offset; length < 0
// reads to the end. A range starting past the end yields an empty Reader. The
// Reader's Info describes the whole object.
func (s *S3) GetRange(ctx context.Context, key string, offset, length int64) (*Reader, error) {
	r, err := s.get(ctx, key, offset, length)
	return r, wrapErr("get range", key, err)
}

func (s *S3) get(ctx context.Context, key string, offset, length int64) (*Reader, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, offset)
	}
	c, err := s.api(ctx)
	if err != nil {
		return nil, err
	}
	if length == 0 {
		// No Range header can ask for nothing.
		info, err := s.stat(ctx, c, key)
		if err != nil {
			return nil, err
		}
		return &Reader{body: io.NopCloser(eofReader{}), info: info}, nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	ranged := offset > 0 || length > 0
	if ranged {
		rng := fmt.Sprintf("bytes=%d-", offset)
		if length > 0 {
			rng += fmt.Sprint(offset + length - 1)
		}
		in.Range = aws.String(rng)
	}
	out, err := c.api.GetObject(ctx, in)
	if err != nil {
		if ranged && isInvalidRange(err) {
			// The range starts at or past the end: there is nothing to read,
			// which is not an error (see Storage.GetRange).
			info, err := s.stat(ctx, c, key)
			if err != nil {
				return nil, err
			}
			return &Reader{body: io.NopCloser(eofReader{}), info: info}, nil
		}
		return nil, s.translate(ctx, err, "s3:GetObject")
	}
	info := Info{
		Key:                key,
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		CacheControl:       aws.ToString(out.CacheControl),
		ETag:               aws.ToString(out.ETag),
		ModTime:            aws.ToTime(out.LastModified).UTC(),
		Metadata:           lowerMetadata(out.Metadata),
	}
	var body io.ReadCloser = out.Body
	if out.ContentRange != nil {
		total, ok := totalFromContentRange(*out.ContentRange)
		if !ok {
			out.Body.Close()
			return nil, fmt.Errorf("S3 answered with an unreadable Content-Range %q", *out.ContentRange)
		}
		info.Size = total
	} else if ranged {
		// The server ignored the Range and sent the whole object.
		var section io.Reader = out.Body
		if _, err := io.CopyN(io.Discard, out.Body, offset); err != nil && err != io.EOF {
			out.Body.Close()
			return nil, err
		}
		if length > 0 {
			section = io.LimitReader(out.Body, length)
		}
		body = readCloser{section, out.Body}
	} else if sum, ok := plainMD5(out); ok {
		body = &verifyingBody{body: out.Body, key: key, size: info.Size, want: sum, hash: newMD5()}
	}
	return &Reader{body: body, info: info}, nil
}

// totalFromContentRange reads the object size from "bytes 0-9/100".
func totalFromContentRange(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 {
		return 0, false
	}
	var total int64
	if _, err := fmt.Sscan(cr[i+1:], &total); err != nil || total < 0 {
		return 0, false
	}
	return total, true
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Stat describes the object under key; errors.Is(err, fs.ErrNotExist) when
// there is none.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, wrapErr("stat", key, err)
	}
	c, err := s.api(ctx)
	if err != nil {
		return Info{}, wrapErr("stat", key, err)
	}
	info, err := s.stat(ctx, c, key)
	return info, wrapErr("stat", key, err)
}

func (s *S3) stat(ctx context.Context, c *s3Clients, key string) (Info, error) {
	out, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return Info{}, s.translate(ctx, err, "s3:GetObject")
	}
	return Info{
		Key:                key,
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		CacheControl:       aws.ToString(out.CacheControl),
		ETag:               aws.ToString(out.ETag),
		ModTime:            aws.ToTime(out.LastModified).UTC(),
		Metadata:           lowerMetadata(out.Metadata),
	}, nil
}

// Delete removes the object under key; deleting a missing key is not an
// error.
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

// List yields the objects whose keys start with prefix in byte order of key,
// as ListObjectsV2 returns them, a page of up to 1000 at a time. With
// opts.Delimiter set, S3's common prefixes are yielded among the objects as
// entries with IsDir set. Zero-byte "folder" objects whose keys end in "/",
// which the S3 console creates, are not objects here and are skipped.
func (s *S3) List(ctx context.Context, prefix string, opts *ListOptions) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Info{}, wrapErr("list", prefix, err))
			return
		}
		delimiter := ""
		if opts != nil {
			delimiter = opts.Delimiter
		}
		for page, err := range s.pages(ctx, prefix, delimiter) {
			if err != nil {
				yield(Info{}, wrapErr("list", prefix, err))
				return
			}
			if !yieldPage(page, yield) {
				return
			}
		}
	}
}

// pages yields the pages of ListObjectsV2 under prefix.
func (s *S3) pages(ctx context.Context, prefix, delimiter string) iter.Seq2[*s3.ListObjectsV2Output, error] {
	return func(yield func(*s3.ListObjectsV2Output, error) bool) {
		c, err := s.api(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		p := s3.NewListObjectsV2Paginator(c.api, &s3.ListObjectsV2Input{
			Bucket:    aws.String(s.bucket),
			Prefix:    optional(prefix),
			Delimiter: optional(delimiter),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(nil, s.translate(ctx, err, "s3:ListBucket"))
				return
			}
			if !yield(page, nil) {
				return
			}
		}
	}
}

// yieldPage yields a page's objects and common prefixes merged in byte
// order: S3 sorts each list, and pages follow one another in the merged
// order, but returns the two lists apart.
func yieldPage(page *s3.ListObjectsV2Output, yield func(Info, error) bool) bool {
	objects, prefixes := page.Contents, page.CommonPrefixes
	for len(objects) > 0 || len(prefixes) > 0 {
		var info Info
		if len(prefixes) == 0 || len(objects) > 0 && aws.ToString(objects[0].Key) < aws.ToString(prefixes[0].Prefix) {
			o := objects[0]
			objects = objects[1:]
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			info = Info{
				Key:  key,
				Size: aws.ToInt64(o.Size),
				ETag: aws.ToString(o.ETag),
				// Truncated to the second of the Last-Modified header that
				// Stat and Get report; listings carry milliseconds.
				ModTime: aws.ToTime(o.LastModified).UTC().Truncate(time.Second),
			}
		} else {
			info = Info{Key: aws.ToString(prefixes[0].Prefix), IsDir: true}
			prefixes = prefixes[1:]
		}
		if !yield(info, nil) {
			return false
		}
	}
	return true
}

// Copy copies src to dst on the server (CopyObject), keeping the content
// type, the other attributes and the metadata. A missing src yields an
// error matching fs.ErrNotExist. Objects over 5 GiB cannot be copied this way.
func (s *S3) Copy(ctx context.Context, dst, src string) (Info, error) {
	if err := ValidateKey(src); err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	if err := ValidateKey(dst); err != nil {
		return Info{}, wrapErr("copy", dst, err)
	}
	c, err := s.api(ctx)
	if err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	info, err := s.stat(ctx, c, src)
	if err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	if dst == src {
		// S3 refuses to copy an object onto itself unchanged; it is a no-op.
		return info, nil
	}
	out, err := c.api.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(dst),
		CopySource:        aws.String(s.bucket + "/" + escapeKey(src)),
		CopySourceIfMatch: optional(info.ETag),
		MetadataDirective: types.MetadataDirectiveCopy,
		ACL:               types.ObjectCannedACL(s.acl),
	})
	if err != nil {
		err = s.translate(ctx, err, "s3:GetObject on the source and s3:PutObject")
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, wrapErr("copy", src, err)
		}
		return Info{}, wrapErr("copy", dst, err)
	}
	info.Key = dst
	if r := out.CopyObjectResult; r != nil {
		if r.ETag != nil {
			info.ETag = *r.ETag
		}
		if r.LastModified != nil {
			info.ModTime = r.LastModified.UTC().Truncate(time.Second)
		}
	}
	return info, nil
}

// DeletePrefix deletes every object whose key starts with prefix, 1000 keys
// a DeleteObjects request, and returns how many it deleted. An empty prefix
// is refused with [ErrInvalidKey]. Keys S3 could not delete are reported in
// the error, which matches fs.ErrPermission when access was denied.
func (s *S3) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	n, err := s.deletePrefix(ctx, prefix)
	return n, wrapErr("delete prefix", prefix, err)
}

func (s *S3) deletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, fmt.Errorf("%w: an empty prefix would delete everything", ErrInvalidKey)
	}
	if err := validatePrefix(prefix); err != nil {
		return 0, err
	}
	c, err := s.api(ctx)
	if err != nil {
		return 0, err
	}
	deleted := 0
	// Pages hold at most 1000 keys, the most a DeleteObjects request takes.
	for page, err := range s.pages(ctx, prefix, "") {
		if err != nil {
			return deleted, err
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := c.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return deleted, s.translate(ctx, err, "s3:DeleteObject")
		}
		deleted += len(ids) - len(out.Errors)
		if len(out.Errors) > 0 {
			return deleted, s.deleteErrors(out.Errors)
		}
	}
	return deleted, nil
}

// deleteErrors reports the keys a DeleteObjects request failed to delete,
// the first few by name.
func (s *S3) deleteErrors(failed []types.Error) error {
	const shown = 5
	errs := make([]error, 0, shown+1)
	for i, e := range failed {
		if i == shown {
			errs = append(errs, fmt.Errorf("and %d more keys not deleted", len(failed)-shown))
			break
		}
		code, msg := aws.ToString(e.Code), aws.ToString(e.Message)
		apiErr := fmt.Errorf("%s: %s", code, msg)
		errs = append(errs, fmt.Errorf("%q: %w", aws.ToString(e.Key),
			s.translateAPI(apiErr, code, msg, 0, "", "s3:DeleteObject")))
	}
	return errors.Join(errs...)
}

// URL returns the object's public URL: PublicURL followed by the key when
// set; otherwise the bucket's URL on the custom endpoint or on AWS (see
// s3BaseURL). It does no I/O: on AWS, until the region is known, the URL
// uses us-east-1's form.
func (s *S3) URL(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", wrapErr("url", key, err)
	}
	base := s.publicURL
	if base == "" {
		region := s.region
		if region == "" {
			region = s.regionInUse()
		}
		base = s3BaseURL(s.endpoint, s.bucket, region)
	}
	return joinURL(base, key), nil
}

// SignedURL presigns a GET or PUT of key with SigV4, valid for opts.Expires
// (15 minutes by default, at most 7 days). A PUT URL does not sign a content
// type, so the uploader may send any; it signs the configured ACL, which
// travels in the URL's query. The first call may look up the bucket's region.
func (s *S3) SignedURL(ctx context.Context, key string, opts *SignOptions) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", wrapErr("sign", key, err)
	}
	method, expires, err := signExpiry(opts)
	if err != nil {
		return "", wrapErr("sign", key, err)
	}
	c, err := s.api(ctx)
	if err != nil {
		return "", wrapErr("sign", key, err)
	}
	withExpiry := s3.WithPresignExpires(expires)
	var signed string
	switch method {
	case http.MethodPut:
		req, err := c.presign.PresignPutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.bucket),
			Key:    aws.String(key),
			ACL:    types.ObjectCannedACL(s.acl),
		}, withExpiry)
		if err != nil {
			return "", wrapErr("sign", key, err)
		}
		signed = req.URL
	default:
		req, err := c.presign.PresignGetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(s.bucket),
			Key:    aws.String(key),
		}, withExpiry)
		if err != nil {
			return "", wrapErr("sign", key, err)
		}
		signed = req.URL
	}
	return signed, nil
}
