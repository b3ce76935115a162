package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestS3AbortRefusedIsReported fails the second part of a multipart Put or
// Copy, and refuses the abort that follows, as a policy without
// s3:AbortMultipartUpload or a long outage would: the error must say that
// the upload is left open, and keep saying what failed first; the logger
// gets it at Warn, for the operator.
func TestS3AbortRefusedIsReported(t *testing.T) {
	const prefix = "abort-refused/"
	ctx := context.Background()
	data := make([]byte, 20<<20) // three parts of 8 MiB for a Put; four of 5 MiB for a Copy
	for _, tt := range []struct {
		name         string
		copy, cancel bool
		refuseAbort  bool
		want         error
	}{
		{name: "put, part denied", refuseAbort: true, want: fs.ErrPermission},
		{name: "put, cancelled", cancel: true, refuseAbort: true, want: context.Canceled},
		{name: "copy, part denied", copy: true, refuseAbort: true, want: fs.ErrPermission},
		{name: "put, part denied, abort allowed", want: fs.ErrPermission},
		{name: "copy, part denied, abort allowed", copy: true, want: fs.ErrPermission},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			s := partCopyS3(t, prefix, doFunc(func(r *http.Request) (*http.Response, error) {
				q := r.URL.Query()
				switch {
				case r.Method == http.MethodPut && q.Get("partNumber") == "2" && tt.cancel:
					cancel()
				case r.Method == http.MethodPut && q.Get("partNumber") == "2",
					r.Method == http.MethodDelete && q.Has("uploadId") && tt.refuseAbort:
					return accessDenied(r), nil
				}
				return http.DefaultClient.Do(r)
			}))
			var logged testkit.Buffer
			s.log = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
			key := prefix + strings.ReplaceAll(tt.name, " ", "-")
			plain := partCopyS3(t, prefix, nil)
			c, err := plain.api(context.Background())
			require.NoError(t, err)
			abort := func() {
				for _, u := range uploadsOf(t, c, s.bucket, key) {
					_, err := c.api.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId})
					require.NoError(t, err)
				}
			}
			abort() // left by an earlier run
			t.Cleanup(abort)
			if tt.copy {
				_, err = plain.Put(context.Background(), prefix+"source", bytes.NewReader(data), nil)
				require.NoError(t, err)
				_, err = s.Copy(ctx, key, prefix+"source")
			} else {
				_, err = s.Put(ctx, key, bytes.NewReader(data), nil)
			}
			require.ErrorIs(t, err, tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "storage: "), err.Error())

			open := uploadsOf(t, c, s.bucket, key)
			if !tt.refuseAbort {
				assert.Empty(t, open, "the failed upload was aborted")
				assert.NotContains(t, err.Error(), "left open")
				assert.Contains(t, logged.String(), `level=DEBUG msg="s3: aborted a multipart upload"`)
				assert.NotContains(t, logged.String(), "level=WARN")
				return
			}
			require.Len(t, open, 1, "the refused abort left the upload open")
			assert.Contains(t, err.Error(), "multipart upload "+aws.ToString(open[0].UploadId)+" is left open")
			assert.Contains(t, err.Error(), "AbortIncompleteMultipartUpload")
			assert.Contains(t, err.Error(), "s3:AbortMultipartUpload", "the permission the abort needs")
			assert.Regexp(t, `level=WARN msg="s3: a multipart upload is left open, its parts stored until removed" bucket=\S+ key=`+
				key+` upload=`+aws.ToString(open[0].UploadId)+` error=`, logged.String())
		})
	}
}

// accessDenied is S3's answer to a request the policy does not allow.
func accessDenied(r *http.Request) *http.Response {
	const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>`
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		Status: "403 Forbidden", StatusCode: http.StatusForbidden, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/xml"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: r,
	}
}

// TestS3CompleteRefused refuses the CompleteMultipartUpload of a Put in
// parts: the Put fails with the server's error and stores nothing, its
// upload is aborted (or reported left open when the abort is refused too),
// and all of it goes to S3Config.Logger, nothing to the global log, where
// the transfer manager would print a failed completion.
func TestS3CompleteRefused(t *testing.T) {
	const prefix = "complete-refused/"
	ctx := context.Background()
	data := make([]byte, 20<<20)
	var global bytes.Buffer
	log.SetOutput(&global)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	for _, refuseAbort := range []bool{false, true} {
		s := partCopyS3(t, prefix, doFunc(func(r *http.Request) (*http.Response, error) {
			q := r.URL.Query()
			if r.Method == http.MethodPost && q.Has("uploadId") ||
				r.Method == http.MethodDelete && q.Has("uploadId") && refuseAbort {
				return accessDenied(r), nil
			}
			return http.DefaultClient.Do(r)
		}))
		var logged testkit.Buffer
		s.log = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
		key := fmt.Sprintf("%sabort-refused-%v", prefix, refuseAbort)
		plain := partCopyS3(t, prefix, nil)
		c, err := plain.api(ctx)
		require.NoError(t, err)
		t.Cleanup(func() {
			for _, u := range uploadsOf(t, c, s.bucket, key) {
				c.api.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId})
			}
		})

		_, err = s.Put(ctx, key, bytes.NewReader(data), nil)
		require.ErrorIs(t, err, fs.ErrPermission, "abort refused: %v", refuseAbort)
		assert.True(t, strings.HasPrefix(err.Error(), `storage: put "`+key+`": `), err.Error())
		_, err2 := plain.Stat(ctx, key)
		assert.ErrorIs(t, err2, fs.ErrNotExist, "nothing stored")
		open := uploadsOf(t, c, s.bucket, key)
		if refuseAbort {
			require.Len(t, open, 1)
			assert.Contains(t, err.Error(), "multipart upload "+aws.ToString(open[0].UploadId)+" is left open")
			assert.Contains(t, logged.String(), "level=WARN")
		} else {
			assert.Empty(t, open, "the upload is aborted")
			assert.NotContains(t, err.Error(), "left open")
			assert.Contains(t, logged.String(), `level=DEBUG msg="s3: aborted a multipart upload"`)
		}
	}
	assert.Empty(t, global.String(), "nothing printed with the global log")
}
