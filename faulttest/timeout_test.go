package faulttest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingTransport counts the requests, retries included, that the SDK
// sends through it.
type countingTransport struct {
	base *http.Transport
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// TestResponseHeaderTimeout delays every answer of the server by 2 s with
// a toxiproxy latency toxic, against a client whose response-header timeout
// is 500 ms: each attempt times out, and a request makes exactly
// MaxAttempts of them. A slow download whose headers come in time is not
// cut by the same timeout, however long its body takes.
func TestResponseHeaderTimeout(t *testing.T) {
	f, x, _ := throughToxiproxy(t)
	key := "events/1/slow.bin"
	body := data(7, 512<<10)
	f.put(key, body)
	newStore := func(attempts int) (*storage.S3, *countingTransport) {
		tr := &countingTransport{base: &http.Transport{ResponseHeaderTimeout: 500 * time.Millisecond}}
		t.Cleanup(tr.base.CloseIdleConnections)
		s, err := storage.NewS3(context.Background(), storage.S3Config{
			Bucket: f.bucket, AccessKey: f.srv.accessKey, SecretKey: storage.NewSecret(f.srv.secretKey),
			Region: "us-east-1", Endpoint: x.endpoint(), HTTPClient: &http.Client{Transport: tr}, MaxAttempts: attempts,
		})
		require.NoError(t, err)
		return s, tr
	}

	x.add(toxic{"latency", "downstream", 1, map[string]int64{"latency": 2000}})
	for _, attempts := range []int{1, 2, 4} {
		row := record(t, "every answer delayed 2 s (latency toxic) against a 500 ms response-header timeout, MaxAttempts "+strconv.Itoa(attempts))
		s, tr := newStore(attempts)
		start := time.Now()
		_, err := s.Stat(context.Background(), key)
		took := time.Since(start)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "timeout awaiting response headers")
		var netErr net.Error
		assert.True(t, errors.As(err, &netErr) && netErr.Timeout(), "errors.As finds the timeout: %v", err)
		assert.EqualValues(t, attempts, tr.n.Load(), "one request per attempt, retries included")
		row.Observe("Stat failed after %s and %d requests with %s", seconds(took), tr.n.Load(), brief(err))
	}
	x.clear()

	// 512 KiB at 128 KiB/s: four seconds of body after prompt headers.
	x.add(toxic{"bandwidth", "downstream", 1, map[string]int64{"rate": 128}})
	s, tr := newStore(1)
	row := record(t, "a Get of 512 KiB at 128 KiB/s (bandwidth toxic) with a 500 ms response-header timeout")
	start := time.Now()
	got, err := getAll(context.Background(), s, key)
	took := time.Since(start)
	require.NoError(t, err, "a download still moving data is not cut")
	assert.True(t, bytes.Equal(body, got))
	assert.Greater(t, took, 2*time.Second, "the body was slow")
	assert.EqualValues(t, 1, tr.n.Load())
	row.Observe("Get read the whole object in %s over one request", seconds(took))
}
