package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
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
	require.Equal(t, http.StatusNoContent, testkit.PostForm(t, form.URL, form.Fields, "posted.txt", []byte("posted")))
	readBack("posted.txt", []byte("posted"))
}

// TestS3KMSBucketDefault syncs into and out of a bucket that encrypts with
// SSE-KMS by default while the S3Config asks for no encryption: the ETags
// are then no MD5, which only S3's answers about each object tell, and
// Sync must neither take the copies for corrupted nor fail.
func TestS3KMSBucketDefault(t *testing.T) {
	m := needMinIO(t)
	keyID := testkit.KMSKeyID(t)
	require.NotEmpty(t, m.regionalEndpoint, "scripts/minio starts its server with a KMS in another region")
	ctx := context.Background()
	raw := rawClient(m.regionalEndpoint, m.regionalRegion, m.accessKey, m.secretKey)
	// A bucket of its own, so that no other test, in this package or in
	// another one running meanwhile, meets its default encryption.
	bucket := aws.String("storage-test-kms-default")
	_, err := raw.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket, CreateBucketConfiguration: &types.CreateBucketConfiguration{
		LocationConstraint: types.BucketLocationConstraint(m.regionalRegion),
	}})
	var owned *types.BucketAlreadyOwnedByYou // left by a run killed before its cleanup
	if !errors.As(err, &owned) {
		require.NoError(t, err)
	}
	t.Cleanup(func() { // after emptyS3's
		_, err := raw.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: bucket})
		assert.NoError(t, err)
	})
	_, err = raw.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: bucket, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
			SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(keyID),
		}}},
	}})
	require.NoError(t, err)
	cfg := m.config()
	cfg.Bucket, cfg.Endpoint, cfg.Region = *bucket, m.regionalEndpoint, m.regionalRegion
	s := emptyS3(t, cfg) // no ServerSideEncryption

	src := newLocal(t)
	tree := syncTree("media/") // single-part objects and one in parts
	putTree(t, src, tree)
	res, err := storage.Sync(ctx, s, src, "media/", nil)
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Copied: len(tree), Bytes: treeBytes(tree)}, res)
	assertSameObjects(t, s, src, "media/")
	for _, o := range tree {
		head, err := raw.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String(o.key)})
		require.NoError(t, err, o.key)
		assert.Equal(t, types.ServerSideEncryptionAwsKms, head.ServerSideEncryption, o.key)
	}
	want, err := src.Stat(ctx, tree[1].key)
	require.NoError(t, err)
	got, err := s.Stat(ctx, tree[1].key)
	require.NoError(t, err)
	require.NotEqual(t, want.ETag, got.ETag, "the case tested: an ETag under SSE-KMS that is no MD5")

	// Again: the listing does not say the encryption, and an ETag that
	// differs may be copied again, but none fails.
	res, err = storage.Sync(ctx, s, src, "media/", nil)
	require.NoError(t, err)
	assert.Empty(t, res.Failed)
	assert.Equal(t, len(tree), res.Copied+res.Skipped)
	assertSameObjects(t, s, src, "media/")

	// Out of it, to a Local whose ETags are MD5s.
	back := newLocal(t)
	res, err = storage.Sync(ctx, back, s, "media/", nil)
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Copied: len(tree), Bytes: treeBytes(tree)}, res)
	assertSameObjects(t, back, s, "media/")
}
