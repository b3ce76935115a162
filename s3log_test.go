package storage_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logBuffer is an slog destination that tests read, safe for the SDK's
// goroutines.
type logBuffer = testkit.Buffer

func debugLogger() (*slog.Logger, *logBuffer) {
	var b logBuffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// TestS3LogsRetries sends a Put to a server that throttles every request
// and checks the log: each failed attempt with its reason, each retry, the
// budget of MaxAttempts, and no secret.
func TestS3LogsRetries(t *testing.T) {
	const secret, token = "retry-SECRET-0123456789abcdef", "retry-TOKEN-0123456789abcdef"
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	}))
	defer srv.Close()
	logger, logged := debugLogger()
	s, err := storage.NewS3(context.Background(), storage.S3Config{
		Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret(secret), SessionToken: storage.NewSecret(token),
		Region: "us-east-1", Endpoint: srv.URL, MaxAttempts: 2, Logger: logger,
	})
	require.NoError(t, err)
	_, err = s.Put(context.Background(), "events/1/logo.png", strings.NewReader("png"), nil)
	require.Error(t, err)

	out := logged.String()
	t.Log(out)
	assert.Equal(t, int32(2), requests.Load(), "MaxAttempts bounds the attempts")
	assert.Equal(t, 2, strings.Count(out, `msg="s3: attempt failed" operation=PutObject`), "each attempt's failure")
	assert.Contains(t, out, "SlowDown", "with its reason")
	assert.Contains(t, out, "retrying request S3/PutObject, attempt 2", "the SDK's retry")
	assert.False(t, leaks(out, secret), "no secret key")
	assert.False(t, leaks(out, token), "no session token")
	assert.NotContains(t, out, "X-Amz-Signature")
	assert.NotContains(t, out, "Signature=")
}

// TestS3LogsRegionLookupAndAbort runs on MinIO a backend that looks up its
// region and a Put that fails in its multipart upload: both are logged at
// Debug, and the secret nowhere.
func TestS3LogsRegionLookupAndAbort(t *testing.T) {
	cfg := storage.MinIOConfig(t)
	logger, logged := debugLogger()
	cfg.Logger = logger
	s, err := storage.NewS3(context.Background(), cfg)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Stat(ctx, "logging/missing.txt")
	require.Error(t, err)
	assert.Contains(t, logged.String(), `msg="s3: looked up the bucket's region" bucket=`+cfg.Bucket+" region=")

	broken := errors.New("the source broke")
	body := io.MultiReader(io.LimitReader(zeros{}, 12<<20), errReader{broken})
	_, err = s.Put(ctx, "logging/large.bin", body, nil)
	require.ErrorIs(t, err, broken)
	out := logged.String()
	t.Log(out)
	assert.Contains(t, out, `msg="s3: aborted a multipart upload" bucket=`+cfg.Bucket+" key=logging/large.bin upload=")
	assert.False(t, leaks(out, os.Getenv("STORAGE_TEST_S3_SECRET_KEY")), "no secret key")
}
