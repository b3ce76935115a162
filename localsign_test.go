package storage_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLocalSignedURL(t *testing.T) {
	ctx := context.Background()
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: handlerSigningKey})
	require.NoError(t, err)
	defer l.Close()

	before := time.Now()
	u, err := l.SignedURL(ctx, "events/42/a b+c.pdf", nil)
	require.NoError(t, err)
	plain, err := l.URL("events/42/a b+c.pdf")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, plain+"?X-Expires="), u)
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	q := parsed.Query()
	assert.Len(t, q, 2)
	exp, err := strconv.ParseInt(q.Get("X-Expires"), 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, before.Add(15*time.Minute).Unix(), exp, 2, "15 minutes by default")
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, q.Get("X-Signature"), "unpadded base64url of 32 bytes")

	u, err = l.SignedURL(ctx, "a.txt", &storage.SignOptions{Expires: 7 * 24 * time.Hour})
	require.NoError(t, err)
	parsed, err = url.Parse(u)
	require.NoError(t, err)
	exp, err = strconv.ParseInt(parsed.Query().Get("X-Expires"), 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, time.Now().Add(7*24*time.Hour).Unix(), exp, 2)

	// Every field is signed: a change of any gives another signature.
	sigs := map[string]bool{}
	for _, opts := range []*storage.SignOptions{
		{Expires: time.Hour},
		{Expires: time.Hour, Method: http.MethodPut},
		{Expires: time.Hour, Method: http.MethodPut, ContentType: "image/png"},
		{Expires: time.Hour, Method: http.MethodPut, ContentType: "image/jpeg"},
		{Expires: time.Hour, Method: http.MethodPut, ContentType: "image/jpeg", Private: true},
		{Expires: time.Hour, Method: http.MethodPut, Private: true},
	} {
		u, err := l.SignedURL(ctx, "a.txt", opts)
		require.NoError(t, err)
		sigs[u[strings.Index(u, "X-Signature="):]] = true
	}
	assert.Len(t, sigs, 6)

	// A content type only matters to a PUT, as on S3. Two calls may fall
	// in different seconds, hence the retries.
	for range 3 {
		u1, err := l.SignedURL(ctx, "a.txt", &storage.SignOptions{Expires: time.Hour})
		require.NoError(t, err)
		u2, err := l.SignedURL(ctx, "a.txt", &storage.SignOptions{Expires: time.Hour, ContentType: "image/png"})
		require.NoError(t, err)
		if u1[:strings.Index(u1, "&")] == u2[:strings.Index(u2, "&")] {
			assert.Equal(t, u1, u2)
			break
		}
	}
}

func TestLocalSignedURLErrors(t *testing.T) {
	ctx := context.Background()
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: handlerSigningKey})
	require.NoError(t, err)
	defer l.Close()
	nokey, err := storage.NewLocal(t.TempDir(), nil)
	require.NoError(t, err)
	defer nokey.Close()

	for _, s := range []*storage.Local{l, nokey} {
		_, err := s.SignedURL(ctx, "../etc/passwd", nil)
		assert.ErrorIs(t, err, storage.ErrInvalidKey, "the key is checked first")
		assert.ErrorIs(t, err, fs.ErrInvalid)
		assert.Contains(t, err.Error(), `storage: sign "../etc/passwd"`)
	}

	for _, opts := range []*storage.SignOptions{
		{Expires: 7*24*time.Hour + time.Second},
		{Expires: -time.Second},
		{Method: http.MethodDelete},
		{Method: "get"},
		{Method: http.MethodPut, ContentType: "text/plain\nX-Evil: 1"},
		{Method: http.MethodPut, ContentType: "tëxt/plain"},
		{Method: http.MethodPut, ContentType: "image/png, text/html"},
	} {
		_, err := l.SignedURL(ctx, "a.txt", opts)
		assert.ErrorIs(t, err, fs.ErrInvalid, "%+v", opts)
		assert.NotErrorIs(t, err, storage.ErrInvalidKey, "%+v", opts)
		assert.Contains(t, err.Error(), `storage: sign "a.txt"`)
	}

	_, err = storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: storage.NewSecret("31-bytes-are-one-byte-too-short")})
	require.ErrorIs(t, err, fs.ErrInvalid, "a short key is refused, not weakly used")
	assert.NotContains(t, err.Error(), "31-bytes")

	_, err = nokey.SignedURL(ctx, "a.txt", nil)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Contains(t, err.Error(), `storage: sign "a.txt"`)
	assert.Contains(t, err.Error(), "set LocalOptions.SigningKey", "a Local built in Go names the option")
	assert.NotContains(t, err.Error(), "STORAGE_SIGNING_KEY")
	_, err = nokey.SignedURL(ctx, "a.txt", &storage.SignOptions{Method: http.MethodPut})
	assert.ErrorIs(t, err, errors.ErrUnsupported)
}

// TestLocalNoSigningKeyFromEnv: a Local from FromEnv names the variable
// to set, since its user configures it with one.
func TestLocalNoSigningKeyFromEnv(t *testing.T) {
	for _, name := range []string{"BUCKET_NAME", "AWS_KEY", "AWS_SECRET", "STORAGE_URL", "STORAGE_SIGNING_KEY"} {
		t.Setenv(name, "")
	}
	t.Setenv("STORAGE_DIR", t.TempDir())
	s, err := storage.FromEnv()
	require.NoError(t, err)
	defer s.Close()
	_, err = s.SignedURL(context.Background(), "a.txt", nil)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Equal(t, `storage: sign "a.txt": local storage has no signing key (set STORAGE_SIGNING_KEY): unsupported operation`, err.Error())
	_, err = s.SignedPost(context.Background(), "a.txt", &storage.PostOptions{MaxSize: 1})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Contains(t, err.Error(), "(set STORAGE_SIGNING_KEY)")
}

func TestLocalSignedURLFromEnv(t *testing.T) {
	for _, name := range []string{"BUCKET_NAME", "AWS_KEY", "AWS_SECRET", "STORAGE_URL"} {
		t.Setenv(name, "")
	}
	t.Setenv("STORAGE_DIR", t.TempDir())
	t.Setenv("STORAGE_SIGNING_KEY", strings.Repeat("k", 32))
	s, err := storage.FromEnv()
	require.NoError(t, err)
	defer s.(*storage.Local).Close()
	u, err := s.SignedURL(context.Background(), "a.txt", nil)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(u, "/static/media/a.txt?X-Expires="), u)
}
