package storage_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestS3KMS writes, reads, copies, syncs, and uploads through signed URLs
// and forms, objects encrypted with SSE-KMS on the MinIO server that
// scripts/minio starts with a built-in static KMS key (its second server),
// and checks with HeadObject that each stored object is encrypted under
// that key.
func TestS3KMS(t *testing.T) {
	m := needMinIO(t)
	keyID := testkit.KMSKeyID(t)
	ctx := context.Background()
	cfg := m.config()
	cfg.Endpoint, cfg.Region = m.regionalEndpoint, m.regionalRegion
	cfg.ServerSideEncryption, cfg.KMSKeyID = string(types.ServerSideEncryptionAwsKms), keyID
	s := newS3(t, cfg)
	const prefix = "kms-test/"
	t.Cleanup(func() { s.DeletePrefix(context.Background(), prefix) })
	raw := rawClient(m.regionalEndpoint, m.regionalRegion, m.accessKey, m.secretKey)
	encrypted := func(key string) {
		t.Helper()
		head, err := raw.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.bucket), Key: aws.String(prefix + key)})
		require.NoError(t, err, key)
		assert.Equal(t, types.ServerSideEncryptionAwsKms, head.ServerSideEncryption, key)
		assert.Contains(t, aws.ToString(head.SSEKMSKeyId), keyID, key)
	}
	readBack := func(key string, want []byte) {
		t.Helper()
		r, err := s.Get(ctx, prefix+key)
		require.NoError(t, err, key)
		defer r.Close()
		got, err := io.ReadAll(r)
		require.NoError(t, err, key)
		assert.True(t, bytes.Equal(want, got), "%s: the bytes put", key)
		info, err := s.Stat(ctx, prefix+key)
		require.NoError(t, err, key)
		assert.Equal(t, int64(len(want)), info.Size, key)
		encrypted(key)
	}

	small, large := []byte("hello, kms"), bytes.Repeat([]byte("0123456789abcdef"), (9<<20)/16)
	_, err := s.Put(ctx, prefix+"small.txt", bytes.NewReader(small), nil)
	require.NoError(t, err)
	readBack("small.txt", small)
	_, err = s.Put(ctx, prefix+"large.bin", bytes.NewReader(large), nil) // in parts
	require.NoError(t, err)
	readBack("large.bin", large)
	// Of unknown size, as a stream.
	_, err = s.Put(ctx, prefix+"stream.bin", io.MultiReader(bytes.NewReader(large)), nil)
	require.NoError(t, err)
	readBack("stream.bin", large)
	_, err = s.Copy(ctx, prefix+"copy.bin", prefix+"large.bin")
	require.NoError(t, err)
	readBack("copy.bin", large)

	// Synced in: Sync's uploads are the destination's, encrypted alike.
	src := newLocal(t)
	_, err = src.Put(ctx, prefix+"synced/a.txt", strings.NewReader("synced"), &storage.PutOptions{ContentType: "text/plain"})
	require.NoError(t, err)
	res, err := storage.Sync(ctx, s, src, prefix+"synced/", nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Copied)
	readBack("synced/a.txt", []byte("synced"))
	// Again: an ETag under SSE-KMS is no MD5, so Sync cannot tell the
	// content is the same without reading it, and copies it again, whole.
	res, err = storage.Sync(ctx, s, src, prefix+"synced/", nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Copied+res.Skipped)
	readBack("synced/a.txt", []byte("synced"))

	// A presigned PUT signs the encryption headers: the uploader sends them.
	u, err := s.SignedURL(ctx, prefix+"signed.txt", &storage.SignOptions{Method: http.MethodPut})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, u, strings.NewReader("signed"))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Server-Side-Encryption", "aws:kms")
	req.Header.Set("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", keyID)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	readBack("signed.txt", []byte("signed"))

	// A form carries them as fields.
	form, err := s.SignedPost(ctx, prefix+"posted.txt", &storage.PostOptions{MaxSize: 100})
	require.NoError(t, err)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, value := range form.Fields {
		require.NoError(t, mw.WriteField(name, value))
	}
	fw, err := mw.CreateFormFile("file", "posted.txt")
	require.NoError(t, err)
	io.WriteString(fw, "posted")
	require.NoError(t, mw.Close())
	resp, err = http.Post(form.URL, mw.FormDataContentType(), &body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	readBack("posted.txt", []byte("posted"))
}
