package storage_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHandlerPattern checks where storage.Handler mounts each backend: at
// the path of a Local's URLs, and nowhere for a Storage served elsewhere.
func TestHandlerPattern(t *testing.T) {
	for base, want := range map[string]string{
		"":                               "/static/media/",
		"/files":                         "/files/",
		"https://cdn.example.com/media/": "/media/",
		"https://cdn.example.com":        "/",
		"/a%20b/":                        "/a%20b/",
	} {
		l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{BaseURL: base})
		require.NoError(t, err, base)
		pattern, h := storage.Handler(l)
		assert.Equal(t, want, pattern, "BaseURL %q", base)
		assert.NotNil(t, h, "BaseURL %q", base)
		l.Close()
	}

	s3, err := storage.NewS3(context.Background(), storage.S3Config{Bucket: "media", AccessKey: "AKIDEXAMPLE", SecretKey: storage.NewSecret("not-a-real-secret"), Region: "eu-west-1"})
	require.NoError(t, err)
	pattern, h := storage.Handler(s3)
	assert.Nil(t, h, "S3 serves its objects itself")
	assert.Empty(t, pattern)
	_, h = storage.Handler(new(memstore.Store))
	assert.Nil(t, h)
}

// TestLocalBaseURLChecked: Local refuses a base URL that S3 would refuse
// as its public URL, and one that is neither a path nor an http(s) URL, so
// that no page prints a script or a line break as an object's address.
func TestLocalBaseURLChecked(t *testing.T) {
	for _, base := range []string{
		"javascript:alert(1)//",
		"/static/media/\r\nSet-Cookie: a=b",
		"/static/media/?x=1",
		"/static/media/#top",
		"static/media/",
		"//evil.example/",
		"ftp://files.example/",
		"https:///nohost/",
		"/static media/",
	} {
		l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{BaseURL: base})
		if !assert.Error(t, err, "%q", base) {
			l.Close()
			continue
		}
		assert.ErrorIs(t, err, fs.ErrInvalid, "%q", base)
		assert.Contains(t, err.Error(), "base URL", "%q", base)
	}
	for _, base := range []string{"/static/media/", "/", "https://cdn.example.com/media/", "http://localhost:8080/files"} {
		l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{BaseURL: base})
		if assert.NoError(t, err, "%q", base) {
			l.Close()
		}
	}

	t.Setenv("STORAGE_DIR", t.TempDir())
	t.Setenv("STORAGE_URL", "javascript:alert(1)//")
	_, err := storage.FromEnv()
	assert.ErrorIs(t, err, fs.ErrInvalid)
	assert.Contains(t, err.Error(), "STORAGE_URL")

	t.Setenv("BUCKET_NAME", "media")
	t.Setenv("AWS_KEY", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET", "not-a-real-secret")
	_, err = storage.FromEnv()
	assert.ErrorIs(t, err, fs.ErrInvalid)
	assert.Contains(t, err.Error(), "STORAGE_URL", "the S3 side names the variable too")
	assert.NotContains(t, err.Error(), "not-a-real-secret")
}

// ExampleHandler serves whatever FromEnv returned: a Local's objects at the
// path of their URLs, and nothing for S3, which serves its own.
func ExampleHandler() {
	dir, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := storage.NewLocal(dir, nil) // at startup: s, err := storage.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	mux := http.NewServeMux()
	if pattern, h := storage.Handler(s); h != nil {
		mux.Handle(pattern, h)
		fmt.Println("serving", pattern)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	if _, err := s.Put(context.Background(), "events/42/notes.txt", strings.NewReader("hello"), nil); err != nil {
		log.Fatal(err)
	}
	u, _ := s.URL("events/42/notes.txt")
	resp, err := http.Get(srv.URL + u)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output:
	// serving /static/media/
	// 200 OK hello
}
