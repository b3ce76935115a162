package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestS3URLForms(t *testing.T) {
	const key = "events/42/a b+c%d#e?f ü.png"
	const escaped = "events/42/a%20b%2Bc%25d%23e%3Ff%20%C3%BC.png"
	for _, tt := range []struct {
		name string
		cfg  S3Config
		want string
	}{
		{"us-east-1", S3Config{Bucket: "media", Region: "us-east-1"}, "https://media.s3.amazonaws.com/" + escaped},
		{"region not yet known", S3Config{Bucket: "media"}, "https://media.s3.amazonaws.com/" + escaped},
		{"other region", S3Config{Bucket: "media", Region: "eu-west-1"}, "https://media.s3.eu-west-1.amazonaws.com/" + escaped},
		{"dotted bucket", S3Config{Bucket: "media.example.org", Region: "eu-west-1"}, "https://s3.eu-west-1.amazonaws.com/media.example.org/" + escaped},
		{"dotted bucket us-east-1", S3Config{Bucket: "media.example.org", Region: "us-east-1"}, "https://s3.us-east-1.amazonaws.com/media.example.org/" + escaped},
		{"legacy bucket name", S3Config{Bucket: "Legacy_Media", Region: "us-east-1"}, "https://s3.us-east-1.amazonaws.com/Legacy_Media/" + escaped},
		{"endpoint", S3Config{Bucket: "media", Endpoint: "http://127.0.0.1:9000/"}, "http://127.0.0.1:9000/media/" + escaped},
		{"endpoint, virtual", S3Config{Bucket: "media", Endpoint: "https://objects.example.net/", Addressing: "virtual"}, "https://media.objects.example.net/" + escaped},
		{"AWS, path", S3Config{Bucket: "media", Region: "eu-west-1", Addressing: "path"}, "https://s3.eu-west-1.amazonaws.com/media/" + escaped},
		{"AWS, virtual", S3Config{Bucket: "media", Region: "eu-west-1", Addressing: "virtual"}, "https://media.s3.eu-west-1.amazonaws.com/" + escaped},
		{"public URL", S3Config{Bucket: "media", Region: "eu-west-1", PublicURL: "https://cdn.example.org/files/"}, "https://cdn.example.org/files/" + escaped},
		{"public URL without slash", S3Config{Bucket: "media", Endpoint: "http://minio:9000", PublicURL: "https://cdn.example.org"}, "https://cdn.example.org/" + escaped},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.AccessKey, tt.cfg.SecretKey = "key", NewSecret("secret")
			s, err := NewS3(context.Background(), tt.cfg)
			require.NoError(t, err)
			got, err := s.URL(key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			_, err = s.URL("../x")
			require.ErrorIs(t, err, ErrInvalidKey)
		})
	}
}

// TestS3URLPartitions checks the public URLs outside us-east-1 against the
// endpoints the SDK's own rules give for requests, in a region of every AWS
// partition: China and the sovereign and isolated clouds have domains of
// their own.
func TestS3URLPartitions(t *testing.T) {
	rules := s3.NewDefaultEndpointResolverV2()
	for _, region := range []string{
		"eu-west-1", "us-gov-west-1", "cn-north-1", "cn-northwest-1", "eusc-de-east-1",
		"us-iso-east-1", "us-isob-east-1", "us-isof-south-1", "eu-isoe-west-1",
	} {
		for _, bucket := range []string{"media", "media.example.org"} {
			e, err := rules.ResolveEndpoint(context.Background(), s3.EndpointParameters{
				Bucket: aws.String(bucket), Region: aws.String(region), ForcePathStyle: aws.Bool(strings.Contains(bucket, ".")),
			})
			require.NoError(t, err, region)
			assert.Equal(t, e.URI.String(), s3BaseURL("", bucket, region, ""), region)
		}
	}
}

// TestS3SignedURLAddressing presigns for AWS, which needs no I/O once the
// region is configured, and checks the host and signature parameters.
func TestS3SignedURLAddressing(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		bucket, wantPrefix string
	}{
		{"media", "https://media.s3.eu-west-1.amazonaws.com/a%20b.png?"},
		{"media.example.org", "https://s3.eu-west-1.amazonaws.com/media.example.org/a%20b.png?"},
	} {
		s, err := NewS3(ctx, S3Config{Bucket: tt.bucket, AccessKey: "AKIAEXAMPLE", SecretKey: NewSecret("secret"), Region: "eu-west-1", ACL: "public-read"})
		require.NoError(t, err)
		for _, opts := range []SignOptions{{Method: http.MethodGet}, {Method: http.MethodPut}, {Method: http.MethodPut, Private: true}} {
			signed, err := s.SignedURL(ctx, "a b.png", &opts)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(signed, tt.wantPrefix), signed)
			u, err := url.Parse(signed)
			require.NoError(t, err)
			q := u.Query()
			assert.Equal(t, "AWS4-HMAC-SHA256", q.Get("X-Amz-Algorithm"))
			assert.Equal(t, "AKIAEXAMPLE/"+q.Get("X-Amz-Date")[:8]+"/eu-west-1/s3/aws4_request", q.Get("X-Amz-Credential"))
			assert.Equal(t, "900", q.Get("X-Amz-Expires"))
			assert.Equal(t, "host", q.Get("X-Amz-SignedHeaders"), "a plain client must be able to use the URL")
			for name := range q {
				assert.NotContains(t, strings.ToLower(name), "checksum", "no flexible checksum that some servers reject")
			}
		}
	}
}

func TestS3SignedURLContentType(t *testing.T) {
	ctx := context.Background()
	s, err := NewS3(ctx, S3Config{Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: NewSecret("secret"), Region: "eu-west-1"})
	require.NoError(t, err)
	signed, err := s.SignedURL(ctx, "a.png", &SignOptions{Method: http.MethodPut, ContentType: "image/png"})
	require.NoError(t, err)
	u, err := url.Parse(signed)
	require.NoError(t, err)
	assert.Equal(t, "content-type;host", u.Query().Get("X-Amz-SignedHeaders"))

	signed, err = s.SignedURL(ctx, "a.png", &SignOptions{ContentType: "image/png"})
	require.NoError(t, err)
	u, err = url.Parse(signed)
	require.NoError(t, err)
	assert.Equal(t, "host", u.Query().Get("X-Amz-SignedHeaders"), "a GET ignores the content type")
}

// TestS3IgnoresSDKEnvironment checks that the SDK's own environment
// variables cannot redirect requests or replace the configured credentials.
func TestS3IgnoresSDKEnvironment(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "from-env")
	t.Setenv("AWS_REGION", "ap-south-1")
	t.Setenv("AWS_PROFILE", "not-a-profile")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
	s, err := NewS3(context.Background(), S3Config{Bucket: "media", AccessKey: "AKIACONFIG", SecretKey: NewSecret("secret"), Region: "eu-west-1"})
	require.NoError(t, err)
	signed, err := s.SignedURL(context.Background(), "a.png", nil)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(signed, "https://media.s3.eu-west-1.amazonaws.com/a.png?"), signed)
	assert.Contains(t, signed, "X-Amz-Credential=AKIACONFIG%2F")
}

// apiError builds the error the SDK returns for an S3 error response.
func apiError(status int, code, message string, header http.Header) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: header}},
		Err:      &smithy.GenericAPIError{Code: code, Message: message},
	}}
}

func TestS3ErrorTranslation(t *testing.T) {
	s, err := NewS3(context.Background(), S3Config{Bucket: "media", AccessKey: "k", SecretKey: NewSecret("s"), Region: "us-east-1"})
	require.NoError(t, err)
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		err      error
		action   string
		kind     error
		contains []string
	}{
		{"AWS names the action", apiError(403, "AccessDenied",
			"User: arn:aws:iam::123456789012:user/orga is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::media/a\" because no identity-based policy allows the s3:PutObject action", nil),
			"s3:PutObject", fs.ErrPermission, []string{"access denied: the credentials lack s3:PutObject"}},
		{"MinIO does not", apiError(403, "AccessDenied", "Access Denied.", nil),
			"s3:DeleteObject", fs.ErrPermission, []string{"this operation needs s3:DeleteObject"}},
		{"HEAD denied", apiError(403, "Forbidden", "Forbidden", nil),
			"s3:GetObject", fs.ErrPermission, []string{"s3:GetObject", "s3:ListBucket"}},
		{"region lookup denied", apiError(403, "AccessDenied", "Access Denied.", nil),
			"s3:GetBucketLocation", fs.ErrPermission, []string{"s3:GetBucketLocation", "set Region)"}},
		{"ACLs disabled", apiError(400, "AccessControlListNotSupported", "The bucket does not allow ACLs", nil),
			"s3:PutObject", fs.ErrPermission, []string{"unset ACL and grant public read access with a bucket policy instead"}},
		{"missing key", apiError(404, "NoSuchKey", "The specified key does not exist.", nil),
			"s3:GetObject", fs.ErrNotExist, []string{"object does not exist"}},
		{"missing key on HEAD", apiError(404, "NotFound", "Not Found", nil),
			"s3:GetObject", fs.ErrNotExist, nil},
		{"missing bucket", apiError(404, "NoSuchBucket", "The specified bucket does not exist", nil),
			"s3:GetObject", nil, []string{`bucket "media" does not exist (check Bucket and the endpoint)`}},
		{"redirect", apiError(301, "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.",
			http.Header{"X-Amz-Bucket-Region": {"eu-west-1"}}),
			"s3:GetObject", nil, []string{`wrong region "us-east-1"`, `the bucket is in "eu-west-1"; set Region to it`}},
		{"redirect on HEAD", apiError(301, "MovedPermanently", "Moved Permanently", http.Header{"X-Amz-Bucket-Region": {"eu-west-1"}}),
			"s3:GetObject", nil, []string{`the bucket is in "eu-west-1"`}},
		{"HEAD in the wrong region", apiError(400, "BadRequest", "Bad Request", http.Header{"X-Amz-Bucket-Region": {"eu-west-1"}}),
			"s3:GetObject", nil, []string{`wrong region "us-east-1"`, `the bucket is in "eu-west-1"`}},
		{"HEAD refused, region unknown", apiError(400, "BadRequest", "Bad Request", nil),
			"s3:GetObject", nil, []string{`if bucket "media" is not in region "us-east-1"`}},
		{"HEAD refused in the right region", apiError(400, "BadRequest", "Bad Request", http.Header{"X-Amz-Bucket-Region": {"us-east-1"}}),
			"s3:GetObject", nil, []string{"refused the request as malformed"}},
		{"signed for the wrong region", apiError(400, "AuthorizationHeaderMalformed",
			"The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'ap-south-1'", nil),
			"s3:PutObject", nil, []string{`the bucket is in "ap-south-1"`}},
		{"unknown key", apiError(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", nil),
			"s3:PutObject", fs.ErrPermission, []string{"check AccessKey"}},
		{"wrong secret", apiError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match", nil),
			"s3:PutObject", fs.ErrPermission, []string{"check SecretKey"}},
		{"source changed during a copy", apiError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", nil),
			"s3:GetObject on the source and s3:PutObject", nil, []string{"the source changed during the copy"}},
		{"archived object", apiError(403, "InvalidObjectState", "The operation is not valid for the object's storage class", nil),
			"s3:GetObject", nil, []string{"archived", "restore"}},
		{"clock off", apiError(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", nil),
			"s3:PutObject", nil, []string{"clock"}},
		{"expired", apiError(403, "ExpiredToken", "The provided token has expired.", nil),
			"s3:PutObject", nil, []string{"expired"}},
		{"corrupted upload", apiError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.", nil),
			"s3:PutObject", nil, []string{"corrupted"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := s.translate(ctx, tt.err, tt.action)
			require.Error(t, got)
			for _, kind := range []error{fs.ErrNotExist, fs.ErrPermission} {
				assert.Equal(t, kind == tt.kind, errors.Is(got, kind), "errors.Is(%v, %v)", got, kind)
			}
			for _, want := range tt.contains {
				assert.Contains(t, got.Error(), want)
			}
			for _, v := range []string{"BUCKET_NAME", "AWS_KEY", "AWS_SECRET", "AWS_REGION", "STORAGE_ACL"} {
				assert.NotContains(t, got.Error(), v, "NewS3's errors name S3Config fields")
			}
			var apiErr smithy.APIError
			assert.True(t, errors.As(got, &apiErr), "the SDK's error stays reachable")
		})
	}

	// From FromEnv, the same errors name the variables instead.
	for name, v := range map[string]string{"BUCKET_NAME": "media", "AWS_KEY": "k", "AWS_SECRET": "s", "AWS_REGION": "us-east-1",
		"STORAGE_S3_CREDENTIALS": "", "AWS_SESSION_TOKEN": "", "STORAGE_URL": "", "STORAGE_ACL": "", "AWS_ENDPOINT_URL_S3": "", "AWS_ENDPOINT_URL": "",
		"AWS_MAX_ATTEMPTS": "", "AWS_RETRY_MODE": "", "STORAGE_S3_ADDRESSING": "", "STORAGE_SSE": "", "STORAGE_KMS_KEY_ID": "", "STORAGE_S3_STORAGE_CLASS": ""} {
		t.Setenv(name, v)
	}
	st, err := FromEnv()
	require.NoError(t, err)
	fromEnv := st.(*S3)
	for _, tt := range []struct {
		err    error
		action string
		want   string
	}{
		{apiError(404, "NoSuchBucket", "The specified bucket does not exist", nil), "s3:GetObject", "(check BUCKET_NAME and the endpoint)"},
		{apiError(403, "InvalidAccessKeyId", "", nil), "s3:PutObject", "(check AWS_KEY)"},
		{apiError(403, "SignatureDoesNotMatch", "", nil), "s3:PutObject", "(check AWS_SECRET)"},
		{apiError(400, "AccessControlListNotSupported", "", nil), "s3:PutObject", "unset STORAGE_ACL and grant"},
		{apiError(403, "AccessDenied", "Access Denied.", nil), "s3:GetBucketLocation", "or set AWS_REGION)"},
	} {
		assert.Contains(t, fromEnv.translate(ctx, tt.err, tt.action).Error(), tt.want)
	}
	other, err := S3FromEnv("other")
	require.NoError(t, err)
	msg := other.translate(ctx, apiError(404, "NoSuchBucket", "The specified bucket does not exist", nil), "s3:GetObject").Error()
	assert.Contains(t, msg, `bucket "other" does not exist (check the bucket name and the endpoint)`, "another bucket than BUCKET_NAME's")

	ctx, cancel := context.WithCancel(ctx)
	cancel()
	got := s.translate(ctx, fmt.Errorf("operation error S3: GetObject: %w", context.Canceled), "s3:GetObject")
	assert.Equal(t, context.Canceled, got)
}

func TestS3DeleteErrors(t *testing.T) {
	s, err := NewS3(context.Background(), S3Config{Bucket: "media", AccessKey: "k", SecretKey: NewSecret("s"), Region: "us-east-1"})
	require.NoError(t, err)
	var failed []types.Error
	for i := range 7 {
		failed = append(failed, types.Error{Key: aws.String(fmt.Sprintf("k/%d", i)), Code: aws.String("AccessDenied"), Message: aws.String("Access Denied")})
	}
	got := s.deleteErrors(failed)
	require.ErrorIs(t, got, fs.ErrPermission)
	assert.Contains(t, got.Error(), `"k/0": access denied`)
	assert.Contains(t, got.Error(), "s3:DeleteObject")
	assert.Contains(t, got.Error(), "and 2 more keys not deleted")
	assert.NotContains(t, got.Error(), `"k/6"`)
}

func TestVerifyingBody(t *testing.T) {
	data := []byte("the bytes S3 stored")
	sum := md5.Sum(data)
	read := func(body []byte, size int64) error {
		v := &verifyingBody{body: io.NopCloser(bytes.NewReader(body)), key: "a", size: size, want: sum[:], hash: newMD5()}
		_, err := io.ReadAll(v)
		return err
	}
	require.NoError(t, read(data, int64(len(data))))
	corrupted := bytes.Clone(data)
	corrupted[3] ^= 0x20
	err := read(corrupted, int64(len(data)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `storage: get "a": data corrupted`)
	require.ErrorIs(t, read(data[:5], int64(len(data))), io.ErrUnexpectedEOF)
}

// TestS3GetVerifiesMD5 checks against MinIO that a whole-object Get of a
// single-request upload is verified, and a multipart one is not.
func TestS3GetVerifiesMD5(t *testing.T) {
	ctx := context.Background()
	s, err := NewS3(ctx, minioConfig(t))
	require.NoError(t, err)
	_, err = s.Put(ctx, "verify/small.txt", strings.NewReader("small"), nil)
	require.NoError(t, err)
	defer s.Delete(ctx, "verify/small.txt")
	r, err := s.Get(ctx, "verify/small.txt")
	require.NoError(t, err)
	defer r.Close()
	assert.IsType(t, &verifyingBody{}, r.body)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "small", string(data))

	r, err = s.GetRange(ctx, "verify/small.txt", 1, 2)
	require.NoError(t, err)
	defer r.Close()
	assert.NotEqual(t, fmt.Sprintf("%T", &verifyingBody{}), fmt.Sprintf("%T", r.body), "a range cannot be checked")
}

// recordingClient records the requests the SDK sends, then sends them
// with next, or http.DefaultClient.
type recordingClient struct {
	next     *http.Client
	mu       sync.Mutex
	requests []*http.Request
}

func (c *recordingClient) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.requests = append(c.requests, r.Clone(context.Background()))
	c.mu.Unlock()
	if c.next != nil {
		return c.next.Do(r)
	}
	return http.DefaultClient.Do(r)
}

// TestS3ChecksumHeaders checks against MinIO the checksum settings that
// the S3 type documents: over plain HTTP the signature covers the
// SHA-256 of every body; over HTTPS, where the SDK leaves the body unsigned,
// every request carrying data has a Content-MD5; DeleteObjects always has
// one; and none sends the flexible-checksum headers some servers reject.
func TestS3ChecksumHeaders(t *testing.T) {
	cfg := minioConfig(t)
	t.Run("http", func(t *testing.T) { testChecksumHeaders(t, cfg, nil) })

	// The same MinIO behind a TLS proxy, which keeps the Host header the
	// SDK signed.
	target, err := url.Parse(cfg.Endpoint)
	require.NoError(t, err)
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	cfg.Endpoint = proxy.URL
	t.Run("https", func(t *testing.T) { testChecksumHeaders(t, cfg, proxy.Client()) })
}

func testChecksumHeaders(t *testing.T, cfg S3Config, client *http.Client) {
	ctx := context.Background()
	s, err := NewS3(ctx, cfg)
	require.NoError(t, err)
	rec := &recordingClient{next: client}
	s.awsCfg.HTTPClient = rec // before the first request creates the clients
	https := strings.HasPrefix(cfg.Endpoint, "https://")

	_, err = s.Put(ctx, "checksums/small.txt", strings.NewReader("small"), nil)
	require.NoError(t, err)
	_, err = s.Put(ctx, "checksums/large.bin", io.LimitReader(rand.NewChaCha8([32]byte{9}), s3PartSize+1<<20), nil)
	require.NoError(t, err)
	n, err := s.DeletePrefix(ctx, "checksums/")
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	seen := map[string]int{}
	for _, r := range rec.requests {
		q := r.URL.Query()
		var op string
		switch {
		case r.Method == http.MethodPut && q.Has("partNumber"):
			op = "UploadPart"
		case r.Method == http.MethodPut:
			op = "PutObject"
		case r.Method == http.MethodPost && q.Has("delete"):
			op = "DeleteObjects"
		default:
			continue
		}
		seen[op]++
		payloadHash := r.Header.Get("X-Amz-Content-Sha256")
		switch {
		case op == "DeleteObjects":
			assert.NotEmpty(t, r.Header.Get("Content-Md5"), op)
		case https:
			assert.Equal(t, "UNSIGNED-PAYLOAD", payloadHash, op)
			assert.NotEmpty(t, r.Header.Get("Content-Md5"), "%s over HTTPS", op)
		default:
			assert.Regexp(t, "^[0-9a-f]{64}$", payloadHash, "%s over HTTP signs the SHA-256 of its body", op)
			assert.Empty(t, r.Header.Get("Content-Md5"), "%s over HTTP needs no MD5", op)
		}
		for name := range r.Header {
			lower := strings.ToLower(name)
			if op != "DeleteObjects" { // S3 requires a checksum there; the SDK adds CRC32 too
				assert.False(t, strings.HasPrefix(lower, "x-amz-checksum-"), "%s sends %s", op, name)
			}
			assert.NotEqual(t, "x-amz-sdk-checksum-algorithm", lower, op)
			assert.NotEqual(t, "x-amz-trailer", lower, op)
		}
		assert.NotContains(t, r.Header.Get("Content-Encoding"), "aws-chunked", op)
	}
	assert.Equal(t, map[string]int{"PutObject": 1, "UploadPart": 2, "DeleteObjects": 1}, seen)
}

// TestS3CorruptedUploadIsRefused flips one byte of every upload on its way
// to MinIO, over HTTP and over HTTPS: the server must refuse each Put, small
// or multipart, and the object stored before must stay as it was.
func TestS3CorruptedUploadIsRefused(t *testing.T) {
	cfg := minioConfig(t)
	ctx := context.Background()
	direct, err := NewS3(ctx, cfg)
	require.NoError(t, err)
	target, err := url.Parse(cfg.Endpoint)
	require.NoError(t, err)
	corrupting := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // as signed
		if pr.In.Method == http.MethodPut && pr.Out.Body != nil {
			pr.Out.Body = &flipFirstByte{ReadCloser: pr.Out.Body}
		}
	}}
	for name, proxy := range map[string]*httptest.Server{
		"http":  httptest.NewServer(corrupting),
		"https": httptest.NewTLSServer(corrupting),
	} {
		t.Run(name, func(t *testing.T) {
			defer proxy.Close()
			c := cfg
			c.Endpoint = proxy.URL
			s, err := NewS3(ctx, c)
			require.NoError(t, err)
			s.awsCfg.HTTPClient = proxy.Client()
			for size, key := range map[int64]string{5: "integrity/small.txt", s3PartSize + 1<<20: "integrity/large.bin"} {
				_, err := direct.Put(ctx, key, strings.NewReader("kept"), nil)
				require.NoError(t, err)
				_, err = s.Put(ctx, key, io.LimitReader(rand.NewChaCha8([32]byte{3}), size), nil)
				require.Error(t, err, "a corrupted upload of %d bytes was stored", size)
				assert.Contains(t, err.Error(), "data corrupted in transit")
				r, err := direct.Get(ctx, key)
				require.NoError(t, err)
				data, err := io.ReadAll(r)
				r.Close()
				require.NoError(t, err)
				assert.Equal(t, "kept", string(data), "the object stored before")
				require.NoError(t, direct.Delete(ctx, key))
			}
		})
	}
}

// flipFirstByte inverts the first byte read through it.
type flipFirstByte struct {
	io.ReadCloser
	done bool
}

func (f *flipFirstByte) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if n > 0 && !f.done {
		p[0] ^= 0xff
		f.done = true
	}
	return n, err
}

// minioConfig returns the main test bucket of the MinIO server that
// scripts/minio starts: without one the test is skipped, or fails under
// CI=true. The external tests' needMinIO starts with it.
func minioConfig(t *testing.T) S3Config {
	t.Helper()
	e := testkit.MinIO(t)
	return S3Config{Bucket: e.Bucket, AccessKey: e.AccessKey, SecretKey: NewSecret(e.SecretKey), Endpoint: e.Endpoint}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if n := testkit.MinIOSkips(); n > 0 {
		fmt.Fprintf(os.Stderr, "storage: %d tests skipped: no MinIO server; run scripts/test, or `scripts/minio start` and source .minio/env, to run them\n", n)
	}
	os.Exit(code)
}

// TestS3ACLHeaders checks the canned ACL each request carries: the
// configured one, "private" for private objects and their copies, and none
// at all when no ACL is configured.
func TestS3ACLHeaders(t *testing.T) {
	ctx := context.Background()
	for _, acl := range []string{"", "public-read"} {
		cfg := minioConfig(t)
		cfg.ACL = acl
		s, err := NewS3(ctx, cfg)
		require.NoError(t, err)
		rec := &recordingClient{}
		s.awsCfg.HTTPClient = rec

		_, err = s.Put(ctx, "acl/public.txt", strings.NewReader("public"), nil)
		require.NoError(t, err)
		_, err = s.Put(ctx, "acl/private.txt", strings.NewReader("private"), &PutOptions{Private: true})
		require.NoError(t, err)
		_, err = s.Copy(ctx, "acl/private-copy.txt", "acl/private.txt")
		require.NoError(t, err)
		_, err = s.DeletePrefix(ctx, "acl/")
		require.NoError(t, err)

		sent := map[string]string{}
		for _, r := range rec.requests {
			if r.Method == http.MethodPut {
				sent[strings.TrimPrefix(r.URL.Path, "/"+cfg.Bucket+"/")] = r.Header.Get("X-Amz-Acl")
			}
		}
		want := map[string]string{"acl/public.txt": "", "acl/private.txt": "", "acl/private-copy.txt": ""}
		if acl != "" {
			want = map[string]string{"acl/public.txt": acl, "acl/private.txt": "private", "acl/private-copy.txt": "private"}
		}
		assert.Equal(t, want, sent, "ACL %q", acl)
	}
}

// TestS3StatChecksTheBucketOnce checks the price of telling a missing bucket
// from a missing object after a HEAD: one HeadBucket, for the first missing
// object only.
func TestS3StatChecksTheBucketOnce(t *testing.T) {
	ctx := context.Background()
	s, err := NewS3(ctx, minioConfig(t))
	require.NoError(t, err)
	rec := &recordingClient{}
	s.awsCfg.HTTPClient = rec
	for range 3 {
		_, err := s.Stat(ctx, "missing/object.txt")
		require.ErrorIs(t, err, fs.ErrNotExist)
	}
	heads := map[string]int{}
	for _, r := range rec.requests {
		if r.Method == http.MethodHead {
			heads[strings.TrimSuffix(r.URL.Path, "/")]++
		}
	}
	assert.Equal(t, map[string]int{"/" + s.bucket + "/missing/object.txt": 3, "/" + s.bucket: 1}, heads)
}

// TestMetadataHeaders: values that are not ASCII go to S3 as RFC 2047
// encoded words, ASCII in the header, and come back decoded in whichever
// form the server answers with (AWS re-encodes what it stored as UTF-8).
func TestMetadataHeaders(t *testing.T) {
	for _, v := range []string{"", "speaker-7", "a=?b", "Präsentation – Überblick.pdf", "山田 太郎", strings.Repeat("ß", 300)} {
		sent := metadataHeader(v)
		assert.True(t, isHeaderValue(sent) || sent == "", "%q is sent as %q", v, sent)
		assert.Equal(t, map[string]string{"note": v}, metadataFromHeaders(map[string]string{"Note": sent}), v)
	}
	for sent, want := range map[string]string{
		"=?UTF-8?B?UHLDpHNlbnRhdGlvbi5wZGY=?=":    "Präsentation.pdf",
		"=?UTF-8?Q?Pr=C3=A4sentation.pdf?=":       "Präsentation.pdf",
		"=?x-unknown?q?abc?=":                     "=?x-unknown?q?abc?=", // kept as sent
		"=?utf-8?q?caf=C3=A9?= =?utf-8?q?_noir?=": "café noir",
	} {
		assert.Equal(t, want, metadataFromHeaders(map[string]string{"note": sent})["note"], sent)
	}
}
