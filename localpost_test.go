package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// edited returns form with one field set to value, or removed for "".
func edited(form storage.PostForm, name, value string) storage.PostForm {
	form.Fields = maps.Clone(form.Fields)
	form.Fields[name] = value
	if value == "" {
		delete(form.Fields, name)
	}
	return form
}

// postTo posts form's fields, then file, to the fixture's server, and
// returns the answer.
func (fx *mediaFixture) postTo(t testing.TB, form storage.PostForm, file io.Reader) (*http.Response, []byte) {
	t.Helper()
	return postFile(t, fx.mux.URL+form.URL, form.Fields, file)
}

// postFile posts fields, then file, streamed as a browser sends a form.
func postFile(t testing.TB, u string, fields map[string]string, file io.Reader) (*http.Response, []byte) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			if err := mw.WriteField(name, fields[name]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		fw, err := mw.CreateFormFile("file", "upload.bin")
		if err == nil {
			_, err = io.Copy(fw, file)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	return do(t, http.MethodPost, u, pr, "Content-Type", mw.FormDataContentType())
}

func (fx *mediaFixture) signPost(t testing.TB, key string, opts *storage.PostOptions) storage.PostForm {
	t.Helper()
	form, err := fx.l.SignedPost(context.Background(), key, opts)
	require.NoError(t, err)
	return form
}

// TestHandlerPostPrivate posts through a form signed Private: the object
// is private, and the uploader cannot make it public.
func TestHandlerPostPrivate(t *testing.T) {
	fx := signedFixture(t)
	const key = "exports/attendees.csv"
	form := fx.signPost(t, key, &storage.PostOptions{MaxSize: 100, Private: true, ContentType: "text/csv"})
	resp, body := fx.postTo(t, form, strings.NewReader("ada@example.com"))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))

	info, err := fx.l.Stat(context.Background(), key)
	require.NoError(t, err)
	assert.True(t, info.Private)
	resp, _ = do(t, http.MethodGet, fx.url(t, key), nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a private upload is not served by its plain URL")
	resp, body = do(t, http.MethodGet, fx.signed(t, key, nil), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ada@example.com", string(body))

	// The policy says private; nothing the uploader adds changes it.
	public := fx.signPost(t, key, &storage.PostOptions{MaxSize: 100, ContentType: "text/csv"})
	resp, _ = fx.postTo(t, edited(form, "policy", public.Fields["policy"]), strings.NewReader("public now"))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "another form's policy under this signature")
	resp, _ = fx.postTo(t, edited(form, "acl", "public-read"), strings.NewReader("public now"))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a field no form has")
	info, err = fx.l.Stat(context.Background(), key)
	require.NoError(t, err)
	assert.True(t, info.Private, "still private")
	assert.Equal(t, int64(len("ada@example.com")), info.Size, "nothing refused was stored")
}

// TestHandlerPostStreams posts a file far larger than the form allows and
// checks that the Handler reads little more than MaxSize of it, storing
// nothing: a hostile uploader cannot make it read, buffer or store more.
func TestHandlerPostStreams(t *testing.T) {
	fx := signedFixture(t)
	form := fx.signPost(t, "big.bin", &storage.PostOptions{MaxSize: 1000})
	var read *countingReader
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		read = &countingReader{r: r.Body}
		r.Body = io.NopCloser(read)
		fx.l.Handler().ServeHTTP(w, r)
	}))
	resp, _ := postFile(t, srv.URL+form.URL, form.Fields, io.LimitReader(zeros{}, 1<<30))
	srv.Close() // waits for the handler, which set read
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	// The multipart reader reads ahead a few KiB; a buffer of the body
	// would be near the gigabyte offered.
	assert.Less(t, read.n.Load(), int64(64<<10), "bytes the Handler read of a 1 GiB post")
	_, err := fx.l.Stat(context.Background(), "big.bin")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// TestHandlerPostRefusesMalformedForms posts forms no SignedPost made.
func TestHandlerPostRefusesMalformedForms(t *testing.T) {
	fx := signedFixture(t)
	form := fx.signPost(t, "a.txt", &storage.PostOptions{MaxSize: 100})
	for name, tc := range map[string]struct {
		form   storage.PostForm
		status int
	}{
		"no policy":          {edited(form, "policy", ""), http.StatusForbidden},
		"no signature":       {edited(form, "x-signature", ""), http.StatusForbidden},
		"another status":     {edited(form, "success_action_status", "201"), http.StatusBadRequest},
		"an oversized field": {edited(form, "key", strings.Repeat("k", 5000)), http.StatusBadRequest},
		"an invalid key":     {edited(form, "key", "../a.txt"), http.StatusForbidden},
	} {
		resp, body := fx.postTo(t, tc.form, strings.NewReader("x"))
		assert.Equal(t, tc.status, resp.StatusCode, "%s: %s", name, body)
	}
	resp, _ := do(t, http.MethodPost, fx.mux.URL+form.URL, strings.NewReader("key=a.txt"), "Content-Type", "application/x-www-form-urlencoded")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "not multipart")

	// Forms post to the base path only; elsewhere POST is not allowed.
	resp, _ = fx.postTo(t, storage.PostForm{URL: form.URL + "a.txt", Fields: form.Fields}, strings.NewReader("x"))
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.NotContains(t, resp.Header.Get("Allow"), "POST")
	_, err := fx.l.Stat(context.Background(), "a.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing stored")
}

// TestLocalSignedPostNeedsSigningKey checks that a Local without a signing
// key signs no forms and its Handler takes no posts.
func TestLocalSignedPostNeedsSigningKey(t *testing.T) {
	fx := newMediaFixture(t, nil)
	_, err := fx.l.SignedPost(context.Background(), "a.txt", &storage.PostOptions{MaxSize: 10})
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.ErrorContains(t, err, "set LocalOptions.SigningKey")

	signer := signedFixture(t)
	form := signer.signPost(t, "a.txt", &storage.PostOptions{MaxSize: 10})
	resp, _ := fx.postTo(t, form, bytes.NewReader([]byte("x")))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a form signed elsewhere")
}
