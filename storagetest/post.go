package storagetest

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"mime/multipart"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signPost signs a form, failing the test on error.
func signPost(t *testing.T, s storage.Storage, key string, opts *storage.PostOptions) storage.PostForm {
	t.Helper()
	form, err := s.SignedPost(context.Background(), key, opts)
	require.NoError(t, err)
	require.NotEmpty(t, form.URL)
	return form
}

// postForm posts form as a browser does: multipart/form-data with every
// field of form.Fields, overridden (or, for "", removed) by set, then the
// file last. It returns the status and body of the answer.
func postForm(t *testing.T, form storage.PostForm, set map[string]string, file []byte) (int, string) {
	t.Helper()
	fields := maps.Clone(form.Fields)
	for name, value := range set {
		if value == "" {
			delete(fields, name)
		} else {
			fields[name] = value
		}
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		require.NoError(t, mw.WriteField(name, fields[name]))
	}
	// The part's own type is the browser's guess, which neither backend
	// takes: the Content-Type field decides.
	fw, err := mw.CreateFormFile("file", "upload.bin")
	require.NoError(t, err)
	_, err = fw.Write(file)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	resp, msg := send(t, http.MethodPost, form.URL, &body, http.Header{"Content-Type": {mw.FormDataContentType()}})
	return resp.StatusCode, msg
}

// assertRefused checks that a post was answered with a client error and
// stored nothing under key.
func assertRefused(t *testing.T, s storage.Storage, what string, status int, msg, key string) {
	t.Helper()
	assert.True(t, status >= 400 && status < 500, "%s: refused with a client error, got %d %s", what, status, msg)
	_, err := s.Stat(context.Background(), key)
	assert.ErrorIs(t, err, fs.ErrNotExist, "%s: nothing stored under %q", what, key)
}

// testPostBounds posts files at and around the size bounds of a form.
func testPostBounds(t *testing.T, s storage.Storage) {
	const key = "speakers/7/photo.png"
	form := signPost(t, s, key, &storage.PostOptions{MaxSize: 1000, MinSize: 10, ContentType: "image/png"})
	assert.Equal(t, "image/png", form.Fields["Content-Type"], "an exact type is a field of the form")

	status, msg := postForm(t, form, nil, payload(5, 1001))
	assertRefused(t, s, "one byte over MaxSize", status, msg, key)
	status, msg = postForm(t, form, nil, payload(5, 9))
	assertRefused(t, s, "one byte under MinSize", status, msg, key)

	data := payload(6, 1000)
	status, msg = postForm(t, form, nil, data)
	require.Equal(t, http.StatusNoContent, status, msg)
	assert.Equal(t, data, read(t, s, key))
	info, err := s.Stat(context.Background(), key)
	require.NoError(t, err)
	assert.Equal(t, "image/png", info.ContentType)
	assert.Equal(t, int64(1000), info.Size)

	// A refused post leaves the object it would have replaced whole.
	status, msg = postForm(t, form, nil, payload(7, 5000))
	assert.True(t, status >= 400 && status < 500, "over MaxSize again: %d %s", status, msg)
	assert.Equal(t, data, read(t, s, key), "the old object stays whole")
}

// testPostContentType posts files of types inside and outside a form's
// type prefix.
func testPostContentType(t *testing.T, s storage.Storage) {
	form := signPost(t, s, "logos/acme", &storage.PostOptions{MaxSize: 100, ContentType: "image/"})
	assert.NotContains(t, form.Fields, "Content-Type", "the page sets the file's type")
	for _, typ := range []string{"text/html", "application/javascript", "imagex/png"} {
		status, msg := postForm(t, form, map[string]string{"Content-Type": typ}, []byte("<script>1</script>"))
		assertRefused(t, s, typ, status, msg, "logos/acme")
	}
	status, msg := postForm(t, form, nil, []byte("no type"))
	assertRefused(t, s, "no Content-Type", status, msg, "logos/acme")

	status, msg = postForm(t, form, map[string]string{"Content-Type": "image/webp"}, []byte("RIFF"))
	require.Equal(t, http.StatusNoContent, status, msg)
	info, err := s.Stat(context.Background(), "logos/acme")
	require.NoError(t, err)
	assert.Equal(t, "image/webp", info.ContentType)

	// An exact type admits no other.
	form = signPost(t, s, "logos/beta.svg", &storage.PostOptions{MaxSize: 100, ContentType: "image/png"})
	status, msg = postForm(t, form, map[string]string{"Content-Type": "image/svg+xml"}, []byte("<svg/>"))
	assertRefused(t, s, "another exact type", status, msg, "logos/beta.svg")
}

// testPostKey posts under keys inside and outside what a form allows.
func testPostKey(t *testing.T, s storage.Storage) {
	form := signPost(t, s, "slides/42.pdf", &storage.PostOptions{MaxSize: 100})
	assert.Equal(t, "slides/42.pdf", form.Fields["key"])
	for _, key := range []string{"slides/43.pdf", "slides/42.pdf.html", "slides/42.pd"} {
		status, msg := postForm(t, form, map[string]string{"key": key}, []byte("%PDF"))
		assertRefused(t, s, key, status, msg, key)
	}
	_, err := s.Stat(context.Background(), "slides/42.pdf")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	form = signPost(t, s, "uploads/u1/", &storage.PostOptions{MaxSize: 100, KeyPrefix: true, ContentType: "application/pdf"})
	assert.Equal(t, "uploads/u1/", form.Fields["key"], "the key field starts as the prefix")
	for _, key := range []string{"uploads/u2/a.pdf", "uploads/u1", "other/uploads/u1/a.pdf"} {
		status, msg := postForm(t, form, map[string]string{"key": key}, []byte("%PDF"))
		assertRefused(t, s, key, status, msg, key)
	}
	for i, key := range []string{"uploads/u1/a.pdf", "uploads/u1/deep/er/b c.pdf"} {
		data := payload(uint64(10+i), 100)
		status, msg := postForm(t, form, map[string]string{"key": key}, data)
		require.Equal(t, http.StatusNoContent, status, "%s: %s", key, msg)
		assert.Equal(t, data, read(t, s, key))
	}
}

// testPostExpired posts a form after it has expired.
func testPostExpired(t *testing.T, s storage.Storage) {
	form := signPost(t, s, "late/entry.txt", &storage.PostOptions{MaxSize: 100, Expires: time.Second})
	// Expiries are whole seconds, rounded up: two seconds are past any.
	time.Sleep(2100 * time.Millisecond)
	status, msg := postForm(t, form, nil, []byte("too late"))
	assertRefused(t, s, "expired", status, msg, "late/entry.txt")
}

// testPostTampered posts a form whose signed fields were changed.
func testPostTampered(t *testing.T, s storage.Storage) {
	form := signPost(t, s, "t/a.txt", &storage.PostOptions{MaxSize: 10})
	other := signPost(t, s, "t/b.txt", &storage.PostOptions{MaxSize: 1000})
	// The policy of another form, under this form's signature: both
	// backends carry it in a field named "policy".
	const policy = "policy"
	require.NotEqual(t, form.Fields[policy], other.Fields[policy])
	status, msg := postForm(t, form, map[string]string{policy: other.Fields[policy], "key": "t/b.txt"}, payload(8, 500))
	assertRefused(t, s, "tampered policy", status, msg, "t/b.txt")
}

// testPostDefaultType posts a file through a form that allows any type,
// with the form's default type and with another.
func testPostDefaultType(t *testing.T, s storage.Storage) {
	form := signPost(t, s, "uploads/notes.txt", &storage.PostOptions{MaxSize: 100})
	assert.Equal(t, "binary/octet-stream", form.Fields["Content-Type"], "a form allowing any type names the default")
	status, msg := postForm(t, form, nil, []byte("plain words"))
	require.Equal(t, http.StatusNoContent, status, msg)
	info, err := s.Stat(context.Background(), "uploads/notes.txt")
	require.NoError(t, err)
	assert.Equal(t, "binary/octet-stream", info.ContentType, "S3's default type, not one guessed")

	form = signPost(t, s, "uploads/notes.md", &storage.PostOptions{MaxSize: 100})
	status, msg = postForm(t, form, map[string]string{"Content-Type": "text/markdown"}, []byte("# notes"))
	require.Equal(t, http.StatusNoContent, status, msg)
	info, err = s.Stat(context.Background(), "uploads/notes.md")
	require.NoError(t, err)
	assert.Equal(t, "text/markdown", info.ContentType, "the posted type is kept")
}
