package storage_test

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stalledPut starts a PUT of a body that sends first and then nothing, as a
// hostile or stuck client does, and returns a channel with its answer and
// the writer that can finish the body.
func stalledPut(t *testing.T, u, first string) (<-chan *http.Response, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, u, pr)
	require.NoError(t, err)
	answer := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			close(answer)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answer <- resp
	}()
	go pw.Write([]byte(first))
	t.Cleanup(func() { pw.CloseWithError(io.ErrClosedPipe) })
	return answer, pw
}

// TestHandlerBoundsUploadsInFlight fills the Handler's upload slots with
// stalled PUTs and checks that the next upload is turned away at once, with
// no body read and nothing stored, and that a slot is free again once an
// upload ends.
func TestHandlerBoundsUploadsInFlight(t *testing.T) {
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: handlerSigningKey, MaxUploads: 2})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	// reading is told of each upload whose body the Handler reads, which it
	// does once the upload has its slot.
	reading := make(chan string, 10)
	h := l.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &firstRead{ReadCloser: r.Body, f: func() { reading <- r.URL.Path }}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sign := func(key string) string {
		u, err := l.SignedURL(context.Background(), key, &storage.SignOptions{Method: http.MethodPut})
		require.NoError(t, err)
		return srv.URL + u
	}
	first, finish := stalledPut(t, sign("a.txt"), "part of a")
	second, _ := stalledPut(t, sign("b.txt"), "part of b")
	for range 2 {
		select {
		case <-reading:
		case <-time.After(10 * time.Second):
			t.Fatal("the stalled uploads did not start")
		}
	}

	resp, body := do(t, http.MethodPut, sign("c.txt"), strings.NewReader("c"))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(body))
	assert.Empty(t, reading, "the refused upload's body was not read")
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.True(t, resp.Close, "the connection of a refused upload is closed")
	post, err := l.SignedPost(context.Background(), "d.txt", &storage.PostOptions{MaxSize: 10})
	require.NoError(t, err)
	resp, _ = do(t, http.MethodPost, srv.URL+post.URL, strings.NewReader("--x--"), "Content-Type", "multipart/form-data; boundary=x")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a form post takes a slot too")
	resp, _ = do(t, http.MethodGet, srv.URL+"/static/media/c.txt", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "reads are not limited, and nothing refused was stored")

	// Finishing one upload frees its slot.
	_, err = finish.Write([]byte(", the rest"))
	require.NoError(t, err)
	require.NoError(t, finish.Close())
	a := <-first
	require.NotNil(t, a)
	assert.Equal(t, http.StatusOK, a.StatusCode)
	resp, body = do(t, http.MethodPut, sign("c.txt"), strings.NewReader("c"))
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	select {
	case <-second:
		t.Fatal("the second upload ended, though it never finished sending")
	default:
	}
}

// TestHandlerDropsStalledUploads starts uploads that stop sending and
// checks that the Handler drops them after the stall timeout, storing
// nothing and leaving no temporary file, while a slow but steady upload
// that takes several timeouts in all completes.
func TestHandlerDropsStalledUploads(t *testing.T) {
	const stall = 300 * time.Millisecond
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: handlerSigningKey, UploadStallTimeout: stall})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	_, err = l.Put(ctx, "kept.txt", strings.NewReader("old"), nil)
	require.NoError(t, err)

	u, err := l.SignedURL(ctx, "kept.txt", &storage.SignOptions{Method: http.MethodPut})
	require.NoError(t, err)
	answer, _ := stalledPut(t, srv.URL+u, "new, but never finished")
	select {
	case resp := <-answer:
		if resp != nil { // the server may also just close the connection
			assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		}
	case <-time.After(20 * stall):
		t.Fatal("a stalled upload was not dropped")
	}
	form, err := l.SignedPost(ctx, "posted.txt", &storage.PostOptions{MaxSize: 1 << 20})
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("--x\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nposted.txt\r\n"))
		// and then nothing more
	}()
	t.Cleanup(func() { pw.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+form.URL, pr)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * stall):
		t.Fatal("a stalled post was not dropped")
	}

	assert.Equal(t, "old", readObject(t, l, "kept.txt"), "the old object stays whole")
	_, err = l.Stat(ctx, "posted.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, []string{"kept.txt"}, filesUnder(t, l.Dir()), "no temporary file is left")

	// Steady progress, however slow in all, is no stall.
	pr, pw = io.Pipe()
	go func() {
		for range 5 {
			pw.Write([]byte("tick "))
			time.Sleep(stall / 3)
		}
		pw.Close()
	}()
	resp, body := do(t, http.MethodPut, srv.URL+u, pr)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, strings.Repeat("tick ", 5), readObject(t, l, "kept.txt"))
}

// firstRead calls f on the first Read.
type firstRead struct {
	io.ReadCloser
	f    func()
	once sync.Once
}

func (r *firstRead) Read(p []byte) (int, error) {
	r.once.Do(r.f)
	return r.ReadCloser.Read(p)
}

func TestLocalRefusesNegativeUploadLimits(t *testing.T) {
	for _, opts := range []*storage.LocalOptions{{MaxUploads: -1}, {UploadStallTimeout: -time.Second}} {
		_, err := storage.NewLocal(t.TempDir(), opts)
		assert.ErrorIs(t, err, fs.ErrInvalid, "%+v", opts)
	}
}
