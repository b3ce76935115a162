package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testS3 is an S3 on the test server srv, with a fixed region so that no
// GetBucketLocation is sent.
func testS3(t *testing.T, srv *httptest.Server, cfg S3Config) *S3 {
	t.Helper()
	cfg.Bucket = "media"
	cfg.AccessKey, cfg.SecretKey = "AKIAEXAMPLE", NewSecret("secret-value-7")
	cfg.Region = "us-east-1"
	if cfg.Endpoint == "" {
		cfg.Endpoint = srv.URL
	}
	s, err := NewS3(context.Background(), cfg)
	require.NoError(t, err)
	return s
}

// shortHeaderClient is the default HTTP client with its response-header
// timeout cut to d, so that a test need not wait a minute.
func shortHeaderClient(t *testing.T, d time.Duration) *http.Client {
	c := newS3HTTPClient()
	tr := c.Transport.(*http.Transport)
	tr.ResponseHeaderTimeout = d
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

func TestS3DefaultHTTPClient(t *testing.T) {
	s, err := NewS3(context.Background(), S3Config{Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: NewSecret("secret"), Region: "us-east-1"})
	require.NoError(t, err)
	c, ok := s.Config().HTTPClient.(*http.Client)
	require.True(t, ok, "the default client is an *http.Client: %T", s.Config().HTTPClient)
	assert.Zero(t, c.Timeout, "no overall deadline cuts a long transfer")
	tr := c.Transport.(*http.Transport)
	assert.Equal(t, s3ResponseHeaderTimeout, tr.ResponseHeaderTimeout)
	assert.Equal(t, s3TLSHandshakeTimeout, tr.TLSHandshakeTimeout)
	assert.Equal(t, s3IdleConnsPerHost, tr.MaxIdleConnsPerHost)

	mine := &http.Client{}
	s, err = NewS3(context.Background(), S3Config{Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: NewSecret("secret"), Region: "us-east-1", HTTPClient: mine})
	require.NoError(t, err)
	assert.Same(t, mine, s.Config().HTTPClient, "a client of the caller's is used as given")
}

// TestS3ResponseHeaderTimeout runs against a server that accepts the
// connection and the request and then never answers: the request fails
// with a timeout error instead of hanging. A download whose headers come at
// once but whose body trickles for longer than the timeout is not cut.
func TestS3ResponseHeaderTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	sum := md5.Sum(body)
	release := make(chan struct{})
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/media/slow" {
			select { // never answers
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		// Eight pieces 100 ms apart: the body takes four times the
		// response-header timeout, and never stops for as long as it.
		for i := range 8 {
			_, _ = w.Write(body[i*len(body)/8 : (i+1)*len(body)/8])
			w.(http.Flusher).Flush()
			time.Sleep(timeout / 2)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	s := testS3(t, srv, S3Config{HTTPClient: shortHeaderClient(t, timeout), MaxAttempts: 1})

	done := make(chan error, 1)
	go func() {
		_, err := s.Stat(context.Background(), "events/1/silent.png")
		done <- err
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), `storage: stat "events/1/silent.png"`)
		assert.Contains(t, err.Error(), "timeout awaiting response headers")
		var netErr net.Error
		assert.True(t, errors.As(err, &netErr) && netErr.Timeout(), "errors.As finds a net.Error that is a timeout: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("Stat still waits for a server that never answers")
	}
	assert.EqualValues(t, 1, requests.Load())

	r, err := s.Get(context.Background(), "slow")
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err, "a body still moving is not cut by the response-header timeout")
	require.NoError(t, r.Close())
	assert.True(t, bytes.Equal(body, got), "the whole body arrives")
}

// TestS3MaxAttempts counts the requests a Stat sends to a server that
// answers every one with 503 Slow Down.
func TestS3MaxAttempts(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		attempts int
		mode     aws.RetryMode
		want     int32
	}{
		{1, "", 1},
		{0, "", 3}, // the SDK's standard
		{4, aws.RetryModeStandard, 4},
		{2, aws.RetryModeAdaptive, 2},
	} {
		requests.Store(0)
		s := testS3(t, srv, S3Config{MaxAttempts: tt.attempts, RetryMode: tt.mode})
		_, err := s.Stat(context.Background(), "events/1/a.png")
		require.Error(t, err)
		assert.Equal(t, tt.want, requests.Load(), "MaxAttempts %d, mode %q", tt.attempts, tt.mode)
		assert.Equal(t, tt.attempts, s.Config().MaxAttempts)
		assert.Equal(t, tt.mode, s.Config().RetryMode)
	}
}

// TestS3Addressing sends requests to a custom endpoint with each
// addressing, checking the Host and path the server sees and the public
// URL, which must name the object the same way.
func TestS3Addressing(t *testing.T) {
	type seen struct{ host, path string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Host, r.URL.Path})
		mu.Unlock()
		w.Header().Set("Content-Length", "3")
		w.Header().Set("ETag", `"900150983cd24fb0d6963f7d28e17f72"`)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	// Every host name, the bucket's too, reaches the test server.
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}}
	endpoint := "http://s3.example.test:" + port
	for _, tt := range []struct {
		addressing string
		want       seen
		url        string
	}{
		{"", seen{"s3.example.test:" + port, "/media/events/1/a.png"}, endpoint + "/media/events/1/a.png"},
		{"path", seen{"s3.example.test:" + port, "/media/events/1/a.png"}, endpoint + "/media/events/1/a.png"},
		{"virtual", seen{"media.s3.example.test:" + port, "/events/1/a.png"}, "http://media.s3.example.test:" + port + "/events/1/a.png"},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		s := testS3(t, srv, S3Config{Endpoint: endpoint, Addressing: tt.addressing, HTTPClient: client})
		_, err := s.Stat(context.Background(), "events/1/a.png")
		require.NoError(t, err, tt.addressing)
		mu.Lock()
		assert.Equal(t, []seen{tt.want}, got, "addressing %q", tt.addressing)
		mu.Unlock()
		u, err := s.URL("events/1/a.png")
		require.NoError(t, err)
		assert.Equal(t, tt.url, u, "addressing %q", tt.addressing)
		assert.Equal(t, tt.addressing, s.Config().Addressing)
	}

	_, err = NewS3(context.Background(), S3Config{Bucket: "media", AccessKey: "k", SecretKey: NewSecret("s"), Addressing: "vhost"})
	require.ErrorIs(t, err, fs.ErrInvalid)
	assert.Contains(t, err.Error(), "Addressing")
	_, err = NewS3(context.Background(), S3Config{Bucket: "media", AccessKey: "k", SecretKey: NewSecret("s"), Endpoint: "http://127.0.0.1:9000", Addressing: "virtual"})
	require.ErrorIs(t, err, fs.ErrInvalid, "no bucket goes in front of an IP address")
	assert.Contains(t, err.Error(), `Addressing "virtual" needs a host name in Endpoint to put the bucket in front of, not the IP address 127.0.0.1`)
}
