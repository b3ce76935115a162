package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestS3PublicURL(t *testing.T) {
	m := needMinIO(t)
	ctx := context.Background()
	public := m.config()
	public.Bucket = m.publicBucket
	s := emptyS3(t, public)
	private := emptyS3(t, m.config())

	for i, key := range storagetest.UnusualKeys {
		body := fmt.Sprintf("object %d: %s", i, key)
		_, err := s.Put(ctx, key, strings.NewReader(body), &storage.PutOptions{ContentType: "text/x-test; charset=utf-8"})
		require.NoError(t, err)
		_, err = private.Put(ctx, key, strings.NewReader(body), nil)
		require.NoError(t, err)

		u, err := s.URL(key)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(u, m.endpoint+"/"+m.publicBucket+"/"), u)
		resp, got := do(t, http.MethodGet, u, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", u, got)
		assert.Equal(t, body, string(got), u)
		assert.Equal(t, "text/x-test; charset=utf-8", resp.Header.Get("Content-Type"), u)

		u, err = private.URL(key)
		require.NoError(t, err)
		resp, _ = do(t, http.MethodGet, u, nil)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "without a public-read policy, %s must be denied", u)
	}
}

func TestS3SignedURL(t *testing.T) {
	m := needMinIO(t)
	ctx := context.Background()
	s := emptyS3(t, m.config())
	for _, key := range storagetest.UnusualKeys {
		_, err := s.Put(ctx, key, strings.NewReader("secret "+key), nil)
		require.NoError(t, err)

		u, err := s.SignedURL(ctx, key, nil)
		require.NoError(t, err)
		resp, got := do(t, http.MethodGet, u, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", u, got)
		assert.Equal(t, "secret "+key, string(got))

		parsed, err := url.Parse(u)
		require.NoError(t, err)
		q := parsed.Query()
		assert.Equal(t, "900", q.Get("X-Amz-Expires"), "15 minutes by default")
		sig := []byte(q.Get("X-Amz-Signature"))
		sig[len(sig)-1] ^= 1
		q.Set("X-Amz-Signature", string(sig))
		parsed.RawQuery = q.Encode()
		resp, _ = do(t, http.MethodGet, parsed.String(), nil)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a tampered signature must be denied")
	}

	t.Run("expiry", func(t *testing.T) {
		key := storagetest.UnusualKeys[0]
		u, err := s.SignedURL(ctx, key, &storage.SignOptions{Expires: 2 * time.Second})
		require.NoError(t, err)
		resp, _ := do(t, http.MethodGet, u, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		time.Sleep(3 * time.Second)
		resp, _ = do(t, http.MethodGet, u, nil)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "an expired URL must be denied")
	})

	t.Run("expiry under a second", func(t *testing.T) {
		key := storagetest.UnusualKeys[0]
		u, err := s.SignedURL(ctx, key, &storage.SignOptions{Expires: 500 * time.Millisecond})
		require.NoError(t, err)
		parsed, err := url.Parse(u)
		require.NoError(t, err)
		assert.Equal(t, "1", parsed.Query().Get("X-Amz-Expires"), "rounded up to whole seconds")
		resp, _ := do(t, http.MethodGet, u, nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "usable when made")
	})

	t.Run("put", func(t *testing.T) {
		key := "uploads/direct upload+1.pdf"
		u, err := s.SignedURL(ctx, key, &storage.SignOptions{Method: http.MethodPut, Expires: time.Hour})
		require.NoError(t, err)
		body := []byte("%PDF-1.4 uploaded by the browser")
		resp, got := do(t, http.MethodPut, u, bytes.NewReader(body), "Content-Type", "application/pdf")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", u, got)

		info, err := s.Stat(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, int64(len(body)), info.Size)
		assert.Equal(t, "application/pdf", info.ContentType)
		r, err := s.Get(ctx, key)
		require.NoError(t, err)
		defer r.Close()
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		assert.Equal(t, body, data)

		// A PUT URL grants nothing else.
		resp, _ = do(t, http.MethodGet, u, nil)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("put with content type", func(t *testing.T) {
		key := "uploads/photo.jpg"
		u, err := s.SignedURL(ctx, key, &storage.SignOptions{Method: http.MethodPut, ContentType: "image/jpeg"})
		require.NoError(t, err)
		resp, _ := do(t, http.MethodPut, u, bytes.NewReader([]byte("jpeg")), "Content-Type", "text/html")
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "another content type than the signed one")
		_, err = s.Stat(ctx, key)
		require.ErrorIs(t, err, fs.ErrNotExist)
		resp, got := do(t, http.MethodPut, u, bytes.NewReader([]byte("jpeg")), "Content-Type", "image/jpeg")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", got)
		info, err := s.Stat(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, "image/jpeg", info.ContentType)

		_, err = s.SignedURL(ctx, key, &storage.SignOptions{Method: http.MethodPut, ContentType: "image/jpeg\r\nX-Evil: 1"})
		require.ErrorIs(t, err, fs.ErrInvalid)
	})

	t.Run("options", func(t *testing.T) {
		_, err := s.SignedURL(ctx, "a.txt", &storage.SignOptions{Expires: 8 * 24 * time.Hour})
		require.ErrorIs(t, err, fs.ErrInvalid)
		_, err = s.SignedURL(ctx, "a.txt", &storage.SignOptions{Method: http.MethodDelete})
		require.ErrorIs(t, err, fs.ErrInvalid)
		u, err := s.SignedURL(ctx, "a.txt", &storage.SignOptions{Expires: 7 * 24 * time.Hour})
		require.NoError(t, err)
		assert.Contains(t, u, "X-Amz-Expires=604800")
	})
}

func TestS3RegionDetection(t *testing.T) {
	m := needMinIO(t)
	require.NotEmpty(t, m.regionalEndpoint, "scripts/minio starts a second server in another region")
	ctx := context.Background()
	cfg := m.config()
	cfg.Endpoint = m.regionalEndpoint

	s := emptyS3(t, cfg) // Region "": detected on first use
	_, err := s.Put(ctx, "region.txt", strings.NewReader("eu"), nil)
	require.NoError(t, err)
	u, err := s.SignedURL(ctx, "region.txt", nil)
	require.NoError(t, err)
	assert.Contains(t, u, "%2F"+m.regionalRegion+"%2Fs3%2Faws4_request", "signed for the detected region")
	resp, got := do(t, http.MethodGet, u, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "eu", string(got))
	assert.Contains(t, fmt.Sprint(s), m.regionalRegion)

	// Detection happens once, even when many operations start together.
	fresh := newS3(t, cfg)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := fresh.Stat(ctx, "region.txt")
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	// A wrong region is an error that names the right one.
	cfg.Region = "us-east-1"
	wrong := newS3(t, cfg)
	for name, op := range map[string]func() error{
		"get": func() error { _, err := wrong.Get(ctx, "region.txt"); return err },
		"put": func() error { _, err := wrong.Put(ctx, "region.txt", strings.NewReader("x"), nil); return err },
		"list": func() error {
			for _, err := range wrong.List(ctx, "", nil) {
				return err
			}
			return nil
		},
	} {
		err := op()
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, fs.ErrNotExist, name)
		assert.Contains(t, err.Error(), m.regionalRegion, name)
	}
	_, err = wrong.Stat(ctx, "region.txt")
	require.Error(t, err, "HEAD: no body to name the region, still an error")
	assert.NotErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "region")

	cfg.Region = m.regionalRegion
	right := newS3(t, cfg)
	_, err = right.Stat(ctx, "region.txt")
	require.NoError(t, err)
}

// TestS3NoNetworkIO checks that NewS3, URL and failed lookups do no I/O
// that blocks: the endpoint here accepts no connections.
func TestS3NoNetworkIO(t *testing.T) {
	s, err := storage.NewS3(context.Background(), storage.S3Config{
		Bucket: "b", AccessKey: "k", SecretKey: storage.NewSecret("s"), Endpoint: "http://127.0.0.1:1",
	})
	require.NoError(t, err)
	u, err := s.URL("a b.txt")
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:1/b/a%20b.txt", u)

	// The first operation looks the region up, fails, and the next one tries
	// again rather than keeping the failure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		_, err = s.Stat(ctx, "a.txt")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "cannot reach http://127.0.0.1:1: connection refused", "the region lookup's failure, named for what it is")
	}
}

// prng returns n deterministic pseudo-random bytes, without holding them.
func prng(seed byte, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), n)
}

// peakHeap samples the heap until stop is called and returns the highest
// HeapInuse seen.
func peakHeap() (stop func() uint64) {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// onlyReader hides every method but Read, so that the size is unknown.
type onlyReader struct{ io.Reader }

func TestS3LargeUnknownSize(t *testing.T) {
	m := needMinIO(t)
	if testing.Short() {
		t.Skip("uploads 1 GiB")
	}
	const size = 1 << 30
	ctx := context.Background()
	s := emptyS3(t, m.config())

	want := sha256.New()
	stop := peakHeap()
	info, err := s.Put(ctx, "videos/keynote.mp4", onlyReader{io.TeeReader(prng(1, size), want)}, nil)
	peak := stop()
	require.NoError(t, err)
	t.Logf("peak heap in use during a 1 GiB upload of unknown size: %.1f MiB", float64(peak)/(1<<20))
	assert.Less(t, peak, uint64(100<<20), "memory must stay bounded")
	assert.Equal(t, int64(size), info.Size)
	assert.Equal(t, "video/mp4", info.ContentType)
	assert.Contains(t, info.ETag, "-", "a multipart upload")

	r, err := s.Get(ctx, "videos/keynote.mp4")
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, int64(size), r.Info().Size)
	got := sha256.New()
	n, err := io.Copy(got, r)
	require.NoError(t, err)
	assert.Equal(t, int64(size), n)
	assert.Equal(t, want.Sum(nil), got.Sum(nil), "content differs")
}

// cancelAfter yields data and cancels ctx once n bytes are read.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// failAfter yields n bytes of data, then an error.
type failAfter struct {
	r io.Reader
	n int64
}

var errDisk = errors.New("upload source failed")

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDisk
	}
	p = p[:min(int64(len(p)), f.n)]
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// TestS3FailedMultipartUpload checks that an upload cancelled, or failing,
// after several parts have gone up leaves no object and no multipart upload.
func TestS3FailedMultipartUpload(t *testing.T) {
	m := needMinIO(t)
	s := emptyS3(t, m.config())

	t.Run("cancelled", func(t *testing.T) {
		abortUploads(t, m, "cancelled/video.mp4")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		body := &cancelAfter{r: prng(2, 1<<40), n: 40 << 20, cancel: cancel}
		_, err := s.Put(ctx, "cancelled/video.mp4", body, nil)
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), `storage: put "cancelled/video.mp4": `)
		_, err = s.Stat(context.Background(), "cancelled/video.mp4")
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.Empty(t, multipartUploads(t, m, "cancelled/video.mp4"), "the multipart upload must be aborted")
	})

	t.Run("reader fails", func(t *testing.T) {
		abortUploads(t, m, "failed/video.mp4")
		ctx := context.Background()
		_, err := s.Put(ctx, "failed/video.mp4", &failAfter{r: prng(3, 1<<40), n: 30 << 20}, nil)
		require.ErrorIs(t, err, errDisk)
		_, err = s.Stat(ctx, "failed/video.mp4")
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.Empty(t, multipartUploads(t, m, "failed/video.mp4"), "the multipart upload must be aborted")
	})
}

func TestS3SecretNeverPrinted(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	cfg := storage.S3Config{Bucket: "b", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret(secret), Region: "eu-west-1"}
	outputs := printedForms(t, cfg, &cfg)
	s, err := storage.NewS3(context.Background(), cfg)
	require.NoError(t, err)
	outputs = append(outputs, printedForms(t, s, &s)...)
	for _, bad := range []storage.S3Config{
		{AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret(secret)},
		{Bucket: "b", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret(secret), Endpoint: "ftp://x"},
		{Bucket: "b", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret(secret), Region: "EU West"},
		{Bucket: "b", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret(secret), ACL: "world-writable"},
	} {
		_, err := storage.NewS3(context.Background(), bad)
		require.ErrorIs(t, err, fs.ErrInvalid)
		outputs = append(outputs, fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	for _, out := range outputs {
		assert.False(t, leaks(out, secret), out)
		assert.NotContains(t, out, "EXAMPLEKEY")
	}
	assert.Contains(t, fmt.Sprintf("%+v", cfg), "SecretKey:[redacted]")
	assert.Contains(t, fmt.Sprintf("%#v", cfg), `SecretKey:"[redacted]"`)
	assert.Contains(t, strings.Join(outputs, "\n"), `"SecretKey":"[redacted]"`, "JSON and slog show that it is set")
	assert.Contains(t, fmt.Sprintf("%+v", storage.S3Config{Bucket: "b"}), "SecretKey: ", "an unset secret shows as empty")
}

// TestS3DeletePrefixObjectAndFolder: MinIO stores an object and a folder of
// the same name ("x/a" and "x/a/b") but lists only one of them; DeletePrefix
// still deletes both, as it does on AWS.
func TestS3DeletePrefixObjectAndFolder(t *testing.T) {
	m := needMinIO(t)
	ctx := context.Background()
	s := emptyS3(t, m.config())
	chain := []string{"x/a/b/c/d", "x/a/b/c", "x/a/b", "x/a", "x/c"} // MinIO hides one level a listing
	for _, key := range chain {
		_, err := s.Put(ctx, key, strings.NewReader(key), nil)
		require.NoError(t, err)
	}
	n, err := s.DeletePrefix(ctx, "x/")
	require.NoError(t, err)
	assert.Equal(t, len(chain), n)
	for _, key := range chain {
		_, err := s.Stat(ctx, key)
		assert.ErrorIs(t, err, fs.ErrNotExist, key)
	}
}
