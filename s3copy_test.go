package storage

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestS3CopyInParts checks the copy that Copy makes of objects over 5 GiB,
// with the limit lowered to 8 MiB and 5 MiB parts (the smallest S3 takes)
// for a 12 MiB object: the copy holds the same bytes, attributes and
// metadata, and a source that changes between the Stat and the copy fails
// it, leaving neither an object nor a multipart upload.
func TestS3CopyInParts(t *testing.T) {
	ctx := context.Background()
	s, err := NewS3(ctx, minioConfig(t))
	require.NoError(t, err)
	s.copyLimit, s.copyPartSize = 8<<20, 5<<20
	c, err := s.api(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { s.DeletePrefix(context.Background(), "copy-in-parts/") })
	for _, u := range uploadsOf(t, c, s.bucket, "copy-in-parts/stale.mp4") { // left by an earlier run
		_, err := c.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId})
		require.NoError(t, err)
	}

	data := make([]byte, 12<<20+123)
	rand.NewChaCha8([32]byte{7}).Read(data)
	const src = "copy-in-parts/talk.mp4"
	opts := &PutOptions{
		ContentType:        "video/mp4",
		ContentDisposition: `attachment; filename="talk.mp4"`,
		CacheControl:       "max-age=3600",
		Metadata:           map[string]string{"speaker": "7"},
	}
	_, err = s.Put(ctx, src, bytes.NewReader(data), opts)
	require.NoError(t, err)
	srcInfo, err := s.Stat(ctx, src)
	require.NoError(t, err)

	copied, err := s.Copy(ctx, "copy-in-parts/copy.mp4", src)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(copied.ETag, `-3"`), "three parts: 5, 5 and 2 MiB; ETag %s", copied.ETag)
	stored, err := s.Stat(ctx, "copy-in-parts/copy.mp4")
	require.NoError(t, err)
	assert.Equal(t, stored.ETag, copied.ETag)
	assert.Equal(t, int64(len(data)), stored.Size)
	assert.Equal(t, opts.ContentType, stored.ContentType)
	assert.Equal(t, opts.ContentDisposition, stored.ContentDisposition)
	assert.Equal(t, opts.CacheControl, stored.CacheControl)
	assert.Equal(t, opts.Metadata, stored.Metadata)
	r, err := s.Get(ctx, "copy-in-parts/copy.mp4")
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	r.Close()
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got), "the copy holds other bytes than its source")

	// The source is replaced, same size, after the Stat the copy works from.
	data[0] ^= 0xff
	_, err = s.Put(ctx, src, bytes.NewReader(data), opts)
	require.NoError(t, err)
	_, err = s.copyInParts(ctx, c, "copy-in-parts/stale.mp4", src, srcInfo, "", s.copyPartSize)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the source changed during the copy")
	_, err = s.Stat(ctx, "copy-in-parts/stale.mp4")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Empty(t, uploadsOf(t, c, s.bucket, "copy-in-parts/stale.mp4"), "the failed copy's multipart upload must be aborted")
}

// uploadsOf lists the unfinished multipart uploads of key: MinIO lists only
// those of the key a prefix names in full.
func uploadsOf(t *testing.T, c *s3Clients, bucket, key string) []types.MultipartUpload {
	t.Helper()
	out, err := c.api.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(bucket), Prefix: aws.String(key),
	})
	require.NoError(t, err)
	return out.Uploads
}
