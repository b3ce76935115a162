package storage

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestS3StorageClass stores objects with a storage class on MinIO, which
// knows REDUCED_REDUNDANCY beside STANDARD: a Put in one request and in
// parts, and a Copy in one request and in parts, each must land in the
// class, as HeadObject tells. A presigned PUT signs the class, so that an
// upload through it must send it.
func TestS3StorageClass(t *testing.T) {
	ctx := context.Background()
	cfg := minioConfig(t)
	cfg.StorageClass = string(types.StorageClassReducedRedundancy)
	s, err := NewS3(ctx, cfg)
	require.NoError(t, err)
	s.copyLimit, s.copyPartSize = 8<<20, 5<<20
	const prefix = "storage-class/"
	t.Cleanup(func() { s.DeletePrefix(context.Background(), prefix) })
	c, err := s.api(ctx)
	require.NoError(t, err)
	classOf := func(key string) types.StorageClass {
		t.Helper()
		head, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		require.NoError(t, err, key)
		return head.StorageClass
	}

	large := make([]byte, 9<<20)
	rand.NewChaCha8([32]byte{9}).Read(large)
	_, err = s.Put(ctx, prefix+"small.txt", strings.NewReader("hello"), nil)
	require.NoError(t, err)
	_, err = s.Put(ctx, prefix+"large.bin", bytes.NewReader(large), nil)
	require.NoError(t, err)
	_, err = s.Copy(ctx, prefix+"small-copy.txt", prefix+"small.txt")
	require.NoError(t, err)
	copied, err := s.Copy(ctx, prefix+"large-copy.bin", prefix+"large.bin")
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(copied.ETag, `-2"`), "copied in two parts: ETag %s", copied.ETag)
	for _, key := range []string{"small.txt", "large.bin", "small-copy.txt", "large-copy.bin"} {
		assert.Equal(t, types.StorageClassReducedRedundancy, classOf(prefix+key), key)
	}

	signed, err := s.SignedURL(ctx, prefix+"signed.txt", &SignOptions{Method: http.MethodPut})
	require.NoError(t, err)
	u, err := url.Parse(signed)
	require.NoError(t, err)
	assert.Contains(t, strings.Split(u.Query().Get("X-Amz-SignedHeaders"), ";"), "x-amz-storage-class")
	put := func(header http.Header) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, signed, strings.NewReader("signed"))
		require.NoError(t, err)
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	code := put(http.Header{})
	assert.True(t, code == http.StatusForbidden || code == http.StatusBadRequest, "an upload without the signed class is refused: %d", code)
	_, err = s.Stat(ctx, prefix+"signed.txt")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, http.StatusOK, put(http.Header{"X-Amz-Storage-Class": {"REDUCED_REDUNDANCY"}}))
	assert.Equal(t, types.StorageClassReducedRedundancy, classOf(prefix+"signed.txt"))

	// A form carries the class as a field its policy signs.
	form, err := s.SignedPost(ctx, prefix+"posted.txt", &PostOptions{MaxSize: 100})
	require.NoError(t, err)
	assert.Equal(t, "REDUCED_REDUNDANCY", form.Fields["x-amz-storage-class"])
	without := maps.Clone(form.Fields)
	delete(without, "x-amz-storage-class")
	code = testkit.PostForm(t, form.URL, without, "f", []byte("posted"))
	assert.True(t, code == http.StatusForbidden || code == http.StatusBadRequest, "a post without the signed class is refused: %d", code)
	_, err = s.Stat(ctx, prefix+"posted.txt")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Equal(t, http.StatusNoContent, testkit.PostForm(t, form.URL, form.Fields, "f", []byte("posted")))
	assert.Equal(t, types.StorageClassReducedRedundancy, classOf(prefix+"posted.txt"))
}

// TestS3ServerSideEncryptionHeaders checks the encryption headers of every
// upload on their way to MinIO, which refuses them without a KMS
// configured: a Put in one request and in parts, a Copy in one request and
// in parts, and a presigned PUT, which signs them.
func TestS3ServerSideEncryptionHeaders(t *testing.T) {
	ctx := context.Background()
	const keyID = "arn:aws:kms:us-east-1:111122223333:key/0a1b2c3d-test"
	plain, err := NewS3(ctx, minioConfig(t))
	require.NoError(t, err)
	const prefix = "sse-headers/"
	t.Cleanup(func() { plain.DeletePrefix(context.Background(), prefix) })
	large := make([]byte, 9<<20)
	_, err = plain.Put(ctx, prefix+"small.txt", strings.NewReader("hello"), nil)
	require.NoError(t, err)
	_, err = plain.Put(ctx, prefix+"large.bin", bytes.NewReader(large), nil)
	require.NoError(t, err)

	type sent struct{ request, sse, key string }
	var mu sync.Mutex
	var seen []sent
	cfg := minioConfig(t)
	cfg.ServerSideEncryption, cfg.KMSKeyID = string(types.ServerSideEncryptionAwsKms), keyID
	s, err := NewS3(ctx, cfg)
	require.NoError(t, err)
	s.copyLimit, s.copyPartSize = 8<<20, 5<<20
	s.awsCfg.HTTPClient = doFunc(func(r *http.Request) (*http.Response, error) {
		var request string
		switch {
		case r.Method == http.MethodPost && r.URL.Query().Has("uploads"):
			request = "CreateMultipartUpload"
		case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
			request = "CopyObject"
		case r.Method == http.MethodPut && !r.URL.Query().Has("partNumber"):
			request = "PutObject"
		}
		if request != "" {
			mu.Lock()
			seen = append(seen, sent{request, r.Header.Get("X-Amz-Server-Side-Encryption"), r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")})
			mu.Unlock()
		}
		return http.DefaultClient.Do(r)
	})
	_, err = s.Put(ctx, prefix+"new-small.txt", strings.NewReader("hello"), nil)
	assert.Error(t, err, "MinIO without KMS refuses SSE-KMS")
	_, err = s.Put(ctx, prefix+"new-large.bin", bytes.NewReader(large), nil)
	assert.Error(t, err)
	_, err = s.Copy(ctx, prefix+"small-copy.txt", prefix+"small.txt")
	assert.Error(t, err)
	_, err = s.Copy(ctx, prefix+"large-copy.bin", prefix+"large.bin")
	assert.Error(t, err)
	want := sent{sse: "aws:kms", key: keyID}
	mu.Lock()
	var requests []string
	for _, got := range seen {
		requests = append(requests, got.request)
		assert.Equal(t, want, sent{sse: got.sse, key: got.key}, got.request)
	}
	mu.Unlock()
	for _, r := range []string{"PutObject", "CreateMultipartUpload", "CopyObject"} {
		assert.Contains(t, requests, r)
	}
	assert.GreaterOrEqual(t, len(requests), 4, "a request of each upload: %v", requests)
	for _, key := range []string{"new-small.txt", "new-large.bin", "small-copy.txt", "large-copy.bin"} {
		_, err := plain.Stat(ctx, prefix+key)
		assert.ErrorIs(t, err, fs.ErrNotExist, "nothing stored unencrypted: %s", key)
	}

	signed, err := s.SignedURL(ctx, prefix+"signed.txt", &SignOptions{Method: http.MethodPut})
	require.NoError(t, err)
	u, err := url.Parse(signed)
	require.NoError(t, err)
	headers := strings.Split(u.Query().Get("X-Amz-SignedHeaders"), ";")
	assert.Contains(t, headers, "x-amz-server-side-encryption")
	assert.Contains(t, headers, "x-amz-server-side-encryption-aws-kms-key-id")
	assert.NotContains(t, signed, "kms%3A", "the key is signed as a header, not in the query")

	form, err := s.SignedPost(ctx, prefix+"posted.txt", &PostOptions{MaxSize: 100})
	require.NoError(t, err)
	assert.Equal(t, "aws:kms", form.Fields["x-amz-server-side-encryption"])
	assert.Equal(t, keyID, form.Fields["x-amz-server-side-encryption-aws-kms-key-id"])
	code := testkit.PostForm(t, form.URL, form.Fields, "f", []byte("posted"))
	assert.NotEqual(t, http.StatusNoContent, code, "MinIO without KMS refuses the encrypted post too")
	_, err = plain.Stat(ctx, prefix+"posted.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing posted is stored unencrypted")
}

func TestS3EncryptionConfigChecks(t *testing.T) {
	base := S3Config{Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: NewSecret("secret"), Region: "us-east-1"}
	for _, tt := range []struct {
		name     string
		edit     func(*S3Config)
		mentions string
	}{
		{"unknown encryption", func(c *S3Config) { c.ServerSideEncryption = "aes256" }, "ServerSideEncryption"},
		{"key without KMS", func(c *S3Config) { c.KMSKeyID = "alias/media" }, "KMSKeyID"},
		{"key with AES256", func(c *S3Config) { c.ServerSideEncryption, c.KMSKeyID = "AES256", "alias/media" }, "KMSKeyID"},
		{"key with a line break", func(c *S3Config) { c.ServerSideEncryption, c.KMSKeyID = "aws:kms", "alias/media\n" }, "KMSKeyID"},
		{"unknown storage class", func(c *S3Config) { c.StorageClass = "COLD" }, "StorageClass"},
	} {
		cfg := base
		tt.edit(&cfg)
		_, err := NewS3(context.Background(), cfg)
		require.ErrorIs(t, err, fs.ErrInvalid, tt.name)
		assert.Contains(t, err.Error(), tt.mentions, tt.name)
	}
	for _, sse := range []string{"", "AES256", "aws:kms", "aws:kms:dsse"} {
		cfg := base
		cfg.ServerSideEncryption, cfg.StorageClass = sse, "STANDARD_IA"
		if strings.HasPrefix(sse, "aws:kms") {
			cfg.KMSKeyID = "alias/media"
		}
		s, err := NewS3(context.Background(), cfg)
		require.NoError(t, err, sse)
		got := s.Config()
		assert.Equal(t, []string{sse, cfg.KMSKeyID, "STANDARD_IA"}, []string{got.ServerSideEncryption, got.KMSKeyID, got.StorageClass})
	}
}
