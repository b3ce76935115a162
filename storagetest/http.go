package storagetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RunHTTP runs the cases that send the storage's signed URLs to it over
// HTTP, as a browser does. newStorage is called once per subtest and must
// return a Storage holding no objects whose SignedURL returns absolute URLs
// that http.DefaultClient reaches (for a Local, one whose BaseURL is the
// absolute URL where its Handler is served).
func RunHTTP(t *testing.T, newStorage func(t *testing.T) storage.Storage) {
	runCases(t, newStorage, []suiteCase{
		{"SignedPutBounds", testSignedPutBounds},
		{"SignedPutDefaultType", testSignedPutDefaultType},
		{"SignedGetResponse", testSignedGetResponse},
		{"PostBounds", testPostBounds},
		{"PostContentType", testPostContentType},
		{"PostKey", testPostKey},
		{"PostExpired", testPostExpired},
		{"PostTampered", testPostTampered},
		{"PostDefaultType", testPostDefaultType},
	})
}

// send sends a request and returns its status and body.
func send(t *testing.T, method, u string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(data)
}

func sign(t *testing.T, s storage.Storage, key string, opts *storage.SignOptions) string {
	t.Helper()
	u, err := s.SignedURL(context.Background(), key, opts)
	require.NoError(t, err)
	return u
}

func contentMD5(data []byte) string {
	sum := md5.Sum(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// chunked hides the length of r, so that net/http sends it chunked.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// testSignedPutBounds uploads through a URL signed with a length and an MD5
// every body a hostile or broken uploader could send, and checks that each
// is refused with the old object whole, and that the signed one is stored.
func testSignedPutBounds(t *testing.T, s storage.Storage) {
	const key = "uploads/slides.pdf"
	old := payload(1, 300)
	put(t, s, key, old, nil)
	body := payload(2, 1000)
	u := sign(t, s, key, &storage.SignOptions{Method: http.MethodPut, ContentLength: int64(len(body)), ContentMD5: contentMD5(body)})
	withMD5 := http.Header{"Content-Md5": {contentMD5(body)}}

	tampered := bytes.Clone(body)
	tampered[500] ^= 1
	for name, c := range map[string]struct {
		body   io.Reader
		header http.Header
	}{
		"a byte longer":            {bytes.NewReader(append(bytes.Clone(body), 'x')), withMD5},
		"a byte shorter":           {bytes.NewReader(body[:len(body)-1]), withMD5},
		"much longer, chunked":     {chunked{bytes.NewReader(payload(3, 1<<20))}, withMD5},
		"a byte longer, chunked":   {chunked{bytes.NewReader(append(bytes.Clone(body), 'x'))}, withMD5},
		"a byte shorter, chunked":  {chunked{bytes.NewReader(body[:len(body)-1])}, withMD5},
		"tampered":                 {bytes.NewReader(tampered), withMD5},
		"without Content-MD5":      {bytes.NewReader(body), nil},
		"with another Content-MD5": {bytes.NewReader(tampered), http.Header{"Content-Md5": {contentMD5(tampered)}}},
		"empty":                    {nil, withMD5},
	} {
		resp, msg := send(t, http.MethodPut, u, c.body, c.header)
		assert.True(t, resp.StatusCode >= 400 && resp.StatusCode < 500, "%s: refused with a client error, got %d %s", name, resp.StatusCode, msg)
		assert.Equal(t, old, read(t, s, key), "%s: the old object stays whole", name)
	}

	resp, msg := send(t, http.MethodPut, u, bytes.NewReader(body), withMD5)
	require.True(t, resp.StatusCode/100 == 2, "the signed body is stored: %d %s", resp.StatusCode, msg)
	assert.Equal(t, body, read(t, s, key))

	// A length alone bounds the size, whatever the content.
	u = sign(t, s, "uploads/logo.png", &storage.SignOptions{Method: http.MethodPut, ContentLength: 4})
	resp, _ = send(t, http.MethodPut, u, strings.NewReader("12345"), nil)
	assert.True(t, resp.StatusCode >= 400 && resp.StatusCode < 500, "a longer body is refused, got %d", resp.StatusCode)
	_, err := s.Stat(context.Background(), "uploads/logo.png")
	assert.ErrorIs(t, err, fs.ErrNotExist, "a refused upload stores nothing")
	resp, msg = send(t, http.MethodPut, u, strings.NewReader("abcd"), nil)
	require.True(t, resp.StatusCode/100 == 2, "%d %s", resp.StatusCode, msg)
	assert.Equal(t, []byte("abcd"), read(t, s, "uploads/logo.png"))
}

// testSignedPutDefaultType checks the type of an object uploaded through a
// URL signed without a content type by a client that sends none.
func testSignedPutDefaultType(t *testing.T, s storage.Storage) {
	for _, key := range []string{"uploads/notes.txt", "uploads/photo.png", "uploads/README"} {
		u := sign(t, s, key, &storage.SignOptions{Method: http.MethodPut})
		resp, msg := send(t, http.MethodPut, u, strings.NewReader("plain words"), nil)
		require.True(t, resp.StatusCode/100 == 2, "%d %s", resp.StatusCode, msg)
		info, err := s.Stat(context.Background(), key)
		require.NoError(t, err)
		assert.Equal(t, "binary/octet-stream", info.ContentType, "%s: S3's default type, not one guessed", key)
	}
	// A Content-Type sent with the upload is kept.
	u := sign(t, s, "uploads/notes.md", &storage.SignOptions{Method: http.MethodPut})
	resp, msg := send(t, http.MethodPut, u, strings.NewReader("# notes"), http.Header{"Content-Type": {"text/markdown"}})
	require.True(t, resp.StatusCode/100 == 2, "%d %s", resp.StatusCode, msg)
	info, err := s.Stat(context.Background(), "uploads/notes.md")
	require.NoError(t, err)
	assert.Equal(t, "text/markdown", info.ContentType)
}

// testSignedGetResponse downloads through URLs signed with response
// overrides, as a "download" link names the file it saves.
func testSignedGetResponse(t *testing.T, s storage.Storage) {
	const key = "events/42/slides/3f9a.pdf"
	data := payload(4, 2000)
	put(t, s, key, data, &storage.PutOptions{ContentType: "application/pdf", ContentDisposition: "inline"})
	for _, disposition := range []string{
		`attachment; filename="Slides day 1.pdf"`,
		`attachment; filename="Praesentation.pdf"; filename*=UTF-8''Pr%C3%A4sentation%20%E2%80%93%20Tag%201.pdf`,
	} {
		u := sign(t, s, key, &storage.SignOptions{ResponseContentDisposition: disposition, ResponseContentType: "application/octet-stream"})
		resp, body := send(t, http.MethodGet, u, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Equal(t, disposition, resp.Header.Get("Content-Disposition"))
		assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
		assert.Equal(t, string(data), body)
	}
	// The stored object is unchanged, and a plain signed URL serves it so.
	info, err := s.Stat(context.Background(), key)
	require.NoError(t, err)
	assert.Equal(t, "application/pdf", info.ContentType)
	assert.Equal(t, "inline", info.ContentDisposition)
	resp, _ := send(t, http.MethodGet, sign(t, s, key, nil), nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
	assert.Equal(t, "inline", resp.Header.Get("Content-Disposition"))
}
