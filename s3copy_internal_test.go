package storage

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestS3CopyInParts checks the copy that Copy makes of objects over 5 GiB,
// with the limit lowered to 8 MiB and 5 MiB parts (the smallest S3 takes)
// for a 12 MiB object: the copy holds the same bytes, attributes and
// metadata, and a source that changes once the copy's multipart upload has
// begun fails it, leaving neither an object nor a multipart upload.
func TestS3CopyInParts(t *testing.T) {
	ctx := context.Background()
	s := partCopyS3(t, "copy-in-parts/", nil)
	c, err := s.api(ctx)
	require.NoError(t, err)
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

	// The source is replaced, same size, once the copy has started its
	// multipart upload: its parts must refuse the new version.
	var replaced atomic.Bool
	stale := partCopyS3(t, "copy-in-parts/", doFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultClient.Do(r)
		if err == nil && r.Method == http.MethodPost && r.URL.Query().Has("uploads") && !replaced.Swap(true) {
			data[0] ^= 0xff
			_, putErr := s.Put(ctx, src, bytes.NewReader(data), opts)
			assert.NoError(t, putErr)
		}
		return resp, err
	}))
	_, err = stale.Copy(ctx, "copy-in-parts/stale.mp4", src)
	require.True(t, replaced.Load(), "the copy started no multipart upload")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the source changed during the copy")
	_, err = s.Stat(ctx, "copy-in-parts/stale.mp4")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Empty(t, uploadsOf(t, c, s.bucket, "copy-in-parts/stale.mp4"), "the failed copy's multipart upload must be aborted")
}

// partCopyS3 returns an S3 on MinIO that copies objects over 8 MiB in 5 MiB
// parts, the smallest S3 takes, sending its requests through client unless
// it is nil; prefix is emptied when the test ends.
func partCopyS3(t *testing.T, prefix string, client aws.HTTPClient) *S3 {
	s, err := NewS3(context.Background(), minioConfig(t))
	require.NoError(t, err)
	s.copyLimit, s.copyPartSize = 8<<20, 5<<20
	if client != nil {
		s.awsCfg.HTTPClient = client // before the first request creates the SDK clients
	}
	t.Cleanup(func() { s.DeletePrefix(context.Background(), prefix) })
	return s
}

// doFunc is an HTTP client made of a function, for tests that act on a
// request as it passes.
type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestS3CopyInPartsKeepsHeaders checks that the part-by-part copy keeps what
// CopyObject keeps of an object stored by another tool: the headers this
// library never sets and the tags. Both copies are made of one source, and
// both must hold what it was stored with (but for Expires, which MinIO's
// CopyObject drops).
func TestS3CopyInPartsKeepsHeaders(t *testing.T) {
	ctx := context.Background()
	s := partCopyS3(t, "copy-headers/", nil)
	c, err := s.api(ctx)
	require.NoError(t, err)

	const src = "copy-headers/export.csv.gz"
	expires := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	want := s3.PutObjectInput{
		ContentType:        aws.String("text/csv"),
		ContentEncoding:    aws.String("gzip"),
		ContentLanguage:    aws.String("de-CH"),
		ContentDisposition: aws.String(`attachment; filename="export.csv.gz"`),
		CacheControl:       aws.String("no-store"),
		Expires:            &expires,
		Metadata:           map[string]string{"event": "42", "speaker": metadataHeader("山田 太郎")},
		Tagging:            aws.String("kind=export&retention=30%20days"),
	}
	put := want
	put.Bucket, put.Key = aws.String(s.bucket), aws.String(src)
	put.Body = bytes.NewReader(make([]byte, 9<<20))
	_, err = c.api.PutObject(ctx, &put)
	require.NoError(t, err)
	info, err := s.Stat(ctx, src)
	require.NoError(t, err)

	_, err = s.Copy(ctx, "copy-headers/in-parts.csv.gz", src)
	require.NoError(t, err)
	_, err = s.copyObject(ctx, c, "copy-headers/in-one.csv.gz", src, info, "")
	require.NoError(t, err)

	wantTags := []types.Tag{
		{Key: aws.String("kind"), Value: aws.String("export")},
		{Key: aws.String("retention"), Value: aws.String("30 days")},
	}
	for _, key := range []string{"copy-headers/in-parts.csv.gz", "copy-headers/in-one.csv.gz"} {
		head, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		require.NoError(t, err, key)
		assert.Equal(t, want.ContentType, head.ContentType, key)
		assert.Equal(t, want.ContentEncoding, head.ContentEncoding, key)
		assert.Equal(t, want.ContentLanguage, head.ContentLanguage, key)
		assert.Equal(t, want.ContentDisposition, head.ContentDisposition, key)
		assert.Equal(t, want.CacheControl, head.CacheControl, key)
		if key != "copy-headers/in-one.csv.gz" {
			// MinIO's CopyObject drops Expires, which AWS's keeps.
			assert.Equal(t, expires.Format(http.TimeFormat), aws.ToString(head.ExpiresString), key)
		}
		assert.Equal(t, want.Metadata, head.Metadata, key)
		tags, err := c.api.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		require.NoError(t, err, key)
		assert.ElementsMatch(t, wantTags, tags.TagSet, key)
		copied, err := s.Stat(ctx, key)
		require.NoError(t, err, key)
		assert.Equal(t, "山田 太郎", copied.Metadata["speaker"], key)
	}
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
