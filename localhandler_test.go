package storage_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/orga-server/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handlerSigningKey signs the URLs of every handler fixture that has a key.
var handlerSigningKey = storage.NewSecret("handler-test-signing-key-0123456789abcdef")

// mediaFixture is a Local whose directory lies inside a parent folder that
// also holds a sentinel file, which no response may ever contain.
type mediaFixture struct {
	l        *storage.Local
	dir      string // the Local's root
	sentinel []byte // content of ../secret.txt, outside the root
	// direct serves l.Handler() as the whole server, so that request paths
	// reach it exactly as sent; mux mounts it as orga-server does.
	direct, mux *httptest.Server
}

func newMediaFixture(t testing.TB, opts *storage.LocalOptions) *mediaFixture {
	t.Helper()
	parent := t.TempDir()
	fx := &mediaFixture{
		dir:      filepath.Join(parent, "media"),
		sentinel: fmt.Appendf(nil, "SENTINEL-%d-outside-the-root", time.Now().UnixNano()),
	}
	require.NoError(t, os.WriteFile(filepath.Join(parent, "secret.txt"), fx.sentinel, 0o644))
	l, err := storage.NewLocal(fx.dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	setUpAttrMode(t, l)
	fx.l = l
	// Links that would lead out of the root, were they followed.
	require.NoError(t, os.Symlink("../secret.txt", filepath.Join(fx.dir, "link.txt")))
	require.NoError(t, os.Symlink(filepath.Join(parent, "secret.txt"), filepath.Join(fx.dir, "abs-link.txt")))
	require.NoError(t, os.Symlink("..", filepath.Join(fx.dir, "escape")))
	fx.direct = httptest.NewServer(l.Handler())
	t.Cleanup(fx.direct.Close)
	mux := http.NewServeMux()
	mux.Handle("/static/media/", l.Handler())
	fx.mux = httptest.NewServer(mux)
	t.Cleanup(fx.mux.Close)
	return fx
}

func signedFixture(t testing.TB) *mediaFixture {
	return newMediaFixture(t, &storage.LocalOptions{SigningKey: handlerSigningKey})
}

func (fx *mediaFixture) put(t testing.TB, key string, data []byte, opts *storage.PutOptions) storage.Info {
	t.Helper()
	info, err := fx.l.Put(context.Background(), key, bytes.NewReader(data), opts)
	require.NoError(t, err)
	return info
}

func (fx *mediaFixture) url(t testing.TB, key string) string {
	t.Helper()
	u, err := fx.l.URL(key)
	require.NoError(t, err)
	return fx.mux.URL + u
}

func (fx *mediaFixture) signed(t testing.TB, key string, opts *storage.SignOptions) string {
	t.Helper()
	u, err := fx.l.SignedURL(context.Background(), key, opts)
	require.NoError(t, err)
	return fx.mux.URL + u
}

// do sends a request and returns the response with its body read.
func do(t testing.TB, method, u string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, data
}

// rawRequest sends target exactly as given, which no http.Client does for
// paths like "/a/../b", and returns the response with its body read.
func rawRequest(t testing.TB, srv *httptest.Server, method, target string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: media.test\r\nConnection: close\r\n\r\n", method, target)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, data
}

var pngImage = testkit.PNG

func TestHandlerGet(t *testing.T) {
	fx := newMediaFixture(t, nil)
	pic := pngImage(t, 20, 10)
	info := fx.put(t, "events/42/logo.png", pic, &storage.PutOptions{
		ContentDisposition: `inline; filename="logo.png"`,
		CacheControl:       "public, max-age=3600",
	})

	resp, body := do(t, http.MethodGet, fx.url(t, "events/42/logo.png"), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, pic, body)
	h := resp.Header
	assert.Equal(t, "image/png", h.Get("Content-Type"))
	assert.Equal(t, `inline; filename="logo.png"`, h.Get("Content-Disposition"))
	assert.Equal(t, "public, max-age=3600", h.Get("Cache-Control"))
	assert.Equal(t, fmt.Sprint(len(pic)), h.Get("Content-Length"))
	assert.Equal(t, info.ModTime.UTC().Format(http.TimeFormat), h.Get("Last-Modified"))
	assert.Equal(t, info.ETag, h.Get("ETag"))
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	assert.Empty(t, h.Get("Content-Security-Policy"), "an image needs no sandbox")
	assert.Equal(t, "bytes", h.Get("Accept-Ranges"))

	// The same through the direct server, and HEAD: headers, no body.
	resp, body = do(t, http.MethodHead, fx.direct.URL+"/static/media/events/42/logo.png", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)
	assert.Equal(t, fmt.Sprint(len(pic)), resp.Header.Get("Content-Length"))
	assert.Equal(t, info.ETag, resp.Header.Get("ETag"))
	assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	assert.NotEmpty(t, resp.Header.Get("Last-Modified"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	// An object without a stored disposition or cache control gets none.
	fx.put(t, "plain.txt", []byte("hello"), nil)
	resp, body = do(t, http.MethodGet, fx.url(t, "plain.txt"), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hello", string(body))
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Empty(t, resp.Header.Get("Content-Disposition"))
	assert.Empty(t, resp.Header.Get("Cache-Control"))
}

// TestHandlerLargeObject: an object past the 512 bytes net/http copies
// before handing the rest to sendfile comes whole, and any range of it, in
// either attribute mode (the file-header form's data starts past its header).
func TestHandlerLargeObject(t *testing.T) {
	fx := newMediaFixture(t, nil)
	data := make([]byte, 1<<20+123)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	fx.put(t, "videos/clip.mp4", data, nil)
	u := fx.url(t, "videos/clip.mp4")

	resp, body := do(t, http.MethodGet, u, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, strconv.Itoa(len(data)), resp.Header.Get("Content-Length"))
	assert.True(t, bytes.Equal(data, body), "the whole object, byte for byte")

	for _, r := range [][2]int{{0, 511}, {1000, 300000}, {len(data) - 700, len(data) - 1}} {
		resp, body = do(t, http.MethodGet, u, nil, "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
		assert.True(t, bytes.Equal(data[r[0]:r[1]+1], body), "bytes %d-%d", r[0], r[1])
	}
	resp, body = do(t, http.MethodGet, u, nil, "Range", "bytes=10-20,600000-600999")
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.True(t, bytes.Contains(body, data[10:21]) && bytes.Contains(body, data[600000:601000]), "both ranges in the multipart body")
}

func TestHandlerRange(t *testing.T) {
	fx := newMediaFixture(t, nil)
	data := []byte("0123456789abcdefghij")
	fx.put(t, "slides/talk.pdf", data, nil)
	u := fx.url(t, "slides/talk.pdf")

	resp, body := do(t, http.MethodGet, u, nil, "Range", "bytes=2-5")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "2345", string(body))
	assert.Equal(t, "bytes 2-5/20", resp.Header.Get("Content-Range"))
	assert.Equal(t, "4", resp.Header.Get("Content-Length"))
	assert.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))

	resp, body = do(t, http.MethodGet, u, nil, "Range", "bytes=-3")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "hij", string(body))
	assert.Equal(t, "bytes 17-19/20", resp.Header.Get("Content-Range"))

	resp, body = do(t, http.MethodGet, u, nil, "Range", "bytes=15-")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "fghij", string(body))

	resp, _ = do(t, http.MethodGet, u, nil, "Range", "bytes=50-60")
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	assert.Equal(t, "bytes */20", resp.Header.Get("Content-Range"))

	// If-Range with the current ETag honours the range; with another, the
	// whole object comes back.
	info, err := fx.l.Stat(context.Background(), "slides/talk.pdf")
	require.NoError(t, err)
	resp, body = do(t, http.MethodGet, u, nil, "Range", "bytes=0-1", "If-Range", info.ETag)
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "01", string(body))
	resp, body = do(t, http.MethodGet, u, nil, "Range", "bytes=0-1", "If-Range", `"stale"`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, data, body)

	// A Range header of thousands of ranges is ignored (GO-2026-6609): the
	// whole object comes back, once.
	huge := "bytes=0-0" + strings.Repeat(",0-0", 5000)
	resp, body = do(t, http.MethodGet, u, nil, "Range", huge)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, data, body)
	resp, _ = do(t, http.MethodGet, u, nil, "Range", "bytes=0-1,4-5,8-9")
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode, "a few ranges still work")
}

func TestHandlerConditional(t *testing.T) {
	fx := newMediaFixture(t, nil)
	info := fx.put(t, "a.png", pngImage(t, 2, 2), &storage.PutOptions{CacheControl: "max-age=60"})
	u := fx.url(t, "a.png")

	resp, body := do(t, http.MethodGet, u, nil, "If-None-Match", info.ETag)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)
	assert.Equal(t, info.ETag, resp.Header.Get("ETag"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	resp, _ = do(t, http.MethodGet, u, nil, "If-None-Match", `"other", `+info.ETag)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)

	resp, _ = do(t, http.MethodGet, u, nil, "If-None-Match", `"other"`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	lastModified := info.ModTime.UTC().Format(http.TimeFormat)
	resp, body = do(t, http.MethodGet, u, nil, "If-Modified-Since", lastModified)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)

	resp, _ = do(t, http.MethodGet, u, nil, "If-Modified-Since", info.ModTime.Add(-time.Hour).UTC().Format(http.TimeFormat))
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	resp, _ = do(t, http.MethodHead, u, nil, "If-None-Match", info.ETag)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)

	// If-Match guards against a changed object.
	resp, _ = do(t, http.MethodGet, u, nil, "If-Match", `"other"`)
	assert.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)

	// A replaced object has a new ETag, so the old one no longer matches.
	fx.put(t, "a.png", pngImage(t, 3, 3), nil)
	resp, _ = do(t, http.MethodGet, u, nil, "If-None-Match", info.ETag)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestHandlerNotFoundAndMethods(t *testing.T) {
	fx := newMediaFixture(t, nil)
	fx.put(t, "events/42/logo.png", pngImage(t, 1, 1), nil)

	for _, target := range []string{
		"/static/media/missing.png",
		"/static/media/events/42/missing.png",
		"/static/media/events",     // a folder
		"/static/media/events/",    // a folder, listed nowhere
		"/static/media/events/42/", // idem
		"/static/media/",
		"/static/media",
		"/static/other/logo.png",
		"/static/mediaevents/42/logo.png",
		"/",
		"/static/media/events/42/logo.png/x", // below an object
	} {
		for _, srv := range []*httptest.Server{fx.direct, fx.mux} {
			resp, body := do(t, http.MethodGet, srv.URL+target, nil)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, target)
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), target)
			assert.NotContains(t, string(body), "logo.png", "%s: no listing", target)
		}
	}

	for _, method := range []string{http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PROPFIND"} {
		resp, _ := do(t, method, fx.url(t, "events/42/logo.png"), nil)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, method)
		assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"), method)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), method)
	}
	signed := signedFixture(t)
	resp, _ := do(t, http.MethodDelete, signed.url(t, "x"), nil)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "GET, HEAD, PUT", resp.Header.Get("Allow"))

	_, err := fx.l.Stat(context.Background(), "events/42/logo.png")
	assert.NoError(t, err, "DELETE removed nothing")
}

func TestHandlerActiveContent(t *testing.T) {
	fx := newMediaFixture(t, nil)
	const page = `<!doctype html><html><script>document.title="owned"</script></html>`
	for _, tt := range []struct {
		key, contentType, disposition string
		data                          string
		wantFilename                  string
	}{
		{key: "up/page.html", data: page},
		{key: "up/page.htm", data: page},
		{key: "up/named.html", data: page, disposition: `inline; filename="slides.html"`, wantFilename: "slides.html"},
		{key: "up/named2.html", data: page, disposition: `inline; filename*=UTF-8''r%C3%A9sum%C3%A9.html`, wantFilename: "résumé.html"},
		{key: "up/broken.html", data: page, disposition: `inline; filename=`},
		{key: "up/sniffed", data: page},                                            // no extension: sniffed as HTML
		{key: "up/upper.bin", data: page, contentType: "TEXT/HTML; Charset=UTF-8"}, // case-insensitive
		{key: "up/spaced.bin", data: page, contentType: "text/html ;charset=utf-8"},
		{key: "up/logo.svg", data: `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`},
		{key: "up/app.js", data: `alert(1)`},
		{key: "up/app.mjs", data: `alert(1)`, contentType: "application/javascript"},
		{key: "up/old.js", data: `alert(1)`, contentType: "application/x-javascript"},
		{key: "up/feed.xml", data: `<x/>`},
		{key: "up/data.bin", data: `<x/>`, contentType: "application/xml"},
		{key: "up/page.xhtml", data: page, contentType: "application/xhtml+xml"},
		{key: "up/feed.rss", data: `<rss/>`, contentType: "application/rss+xml"},
	} {
		fx.put(t, tt.key, []byte(tt.data), &storage.PutOptions{ContentType: tt.contentType, ContentDisposition: tt.disposition})
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp, body := do(t, method, fx.url(t, tt.key), nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, tt.key)
			if method == http.MethodGet {
				assert.Equal(t, tt.data, string(body), tt.key)
			}
			h := resp.Header
			assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), tt.key)
			assert.Equal(t, "sandbox", h.Get("Content-Security-Policy"), tt.key)
			disposition, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
			require.NoError(t, err, tt.key)
			assert.Equal(t, "attachment", disposition, tt.key)
			assert.Equal(t, tt.wantFilename, params["filename"], tt.key)
			switch {
			case strings.HasSuffix(tt.key, "js"):
				assert.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"), "%s: no page may load it as a script", tt.key)
			case tt.contentType != "":
				assert.Equal(t, strings.TrimSpace(tt.contentType), h.Get("Content-Type"), "%s keeps its stored type", tt.key)
			}
		}
	}

	// Passive types stay inline, still with nosniff.
	for _, tt := range []struct{ key, contentType string }{
		{"up/pic.png", ""},
		{"up/pic.jpg", ""},
		{"up/doc.pdf", ""},
		{"up/notes.txt", ""},
		{"up/data.json", ""},
		{"up/clip.mp4", ""},
		{"up/blob", "application/octet-stream"},
		{"up/named.png", "image/png"},
	} {
		fx.put(t, tt.key, []byte("data"), &storage.PutOptions{ContentType: tt.contentType, ContentDisposition: `inline; filename="x"`})
		resp, _ := do(t, http.MethodGet, fx.url(t, tt.key), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, tt.key)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), tt.key)
		assert.Empty(t, resp.Header.Get("Content-Security-Policy"), tt.key)
		assert.Equal(t, `inline; filename="x"`, resp.Header.Get("Content-Disposition"), tt.key)
	}
}

// mustUnescape unescapes a request path as the handler does.
func mustUnescape(t *testing.T, p string) string {
	t.Helper()
	s, err := url.PathUnescape(p)
	require.NoError(t, err)
	return s
}

// TestHandlerMalformedEscape checks the 400 that the handler's doc promises
// for a path whose escapes do not decode.
func TestHandlerMalformedEscape(t *testing.T) {
	fx := newMediaFixture(t, nil)
	for _, target := range []string{"/static/media/%zz", "/static/media/a/%2", "/static/media/%e0%80%"} {
		resp, _ := rawRequest(t, fx.direct, http.MethodGet, target)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, target)
	}
}

func TestHandlerNeverLeavesRoot(t *testing.T) {
	fx := newMediaFixture(t, nil)
	fx.put(t, "a/b.txt", []byte("inside"), nil)
	fx.put(t, "odd/%2e%2e", []byte("literal percent key"), nil)
	targets := []string{
		"/static/media/../secret.txt",
		"/static/media/a/../../secret.txt",
		"/static/media/%2e%2e/secret.txt",
		"/static/media/%2E%2E/secret.txt",
		"/static/media/.%2e/secret.txt",
		"/static/media/a/%2e%2e/%2e%2e/secret.txt",
		"/static/media/..%2fsecret.txt",
		"/static/media/..%2Fsecret.txt",
		"/static/media/a%2f..%2f..%2fsecret.txt",
		"/static/media/%2fsecret.txt",
		"/static/media/%2F..%2Fsecret.txt",
		"/static/media/a%2Fb.txt", // an encoded slash is no separator
		"/static/media/..%5csecret.txt",
		"/static/media/..%5Csecret.txt",
		`/static/media/..\secret.txt`,
		`/static/media/a\..\..\secret.txt`,
		"/static/media/%00",
		"/static/media/a/b.txt%00",
		"/static/media/a/b.txt%00.png",
		"/static/media/%252e%252e/secret.txt", // double encoding: decoded once only
		"/static/media/%25252e%25252e/secret.txt",
		"/static/media/%c0%ae%c0%ae/secret.txt", // overlong UTF-8 dots
		"/static/media/%e0%80%ae%e0%80%ae/secret.txt",
		"/static/media//secret.txt",
		"/static/media//etc/passwd",
		"/static/media/.",
		"/static/media/./a/b.txt",
		"/static/media/a/./b.txt",
		"/static/media/a//b.txt",
		"/static/media/link.txt",
		"/static/media/abs-link.txt",
		"/static/media/escape/secret.txt",
		"/static/media/escape/media/a/b.txt",
		"/static/media/escape",
		"/static/media/" + strings.Repeat("x", 300) + "/y", // longer than NAME_MAX
		"/static/media/" + strings.Repeat("a/", 600) + "z", // longer than MaxKeyLen
	}
	for _, target := range targets {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut} {
			resp, body := rawRequest(t, fx.direct, method, target)
			if method == http.MethodPut && resp.StatusCode == http.StatusForbidden {
				// A valid key, such as a literal "%2e%2e": refused as unsigned.
				assert.NoError(t, storage.ValidateKey(strings.TrimPrefix(mustUnescape(t, target), "/static/media/")), target)
			} else {
				assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", method, target)
			}
			assert.NotContains(t, string(body), string(fx.sentinel), "%s %s", method, target)
			assert.NotContains(t, string(body), "inside", "%s %s", method, target)
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "%s %s", method, target)
		}
		// Through a ServeMux, which cleans paths and may redirect instead.
		resp, body := rawRequest(t, fx.mux, http.MethodGet, target)
		assert.Less(t, resp.StatusCode, 500, target)
		assert.NotContains(t, string(body), string(fx.sentinel), target)
	}

	// Exactly one unescaping: %252e%252e names the literal key "%2e%2e".
	resp, body := rawRequest(t, fx.direct, http.MethodGet, "/static/media/odd/%252e%252e")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "literal percent key", string(body))
	resp, _ = rawRequest(t, fx.direct, http.MethodGet, "/static/media/odd/%25252e%25252e")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Nothing was written by the PUTs.
	_, err := os.Stat(filepath.Join(filepath.Dir(fx.dir), "secret.txt"))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(filepath.Dir(fx.dir), "secret.txt"))
	require.NoError(t, err)
	assert.Equal(t, fx.sentinel, got)
}

func TestHandlerUnusualKeys(t *testing.T) {
	fx := newMediaFixture(t, nil)
	served := 0
	for i, key := range storagetest.UnusualKeys {
		// A key this platform's file names cannot hold (Windows: '?', a
		// trailing dot) is refused by Put with ErrInvalidKey; CheckKey says so
		// beforehand, and the conformance suite checks that refusal.
		if err := fx.l.CheckKey(key); err != nil {
			require.ErrorIs(t, err, storage.ErrInvalidKey, key)
			continue
		}
		served++
		data := fmt.Appendf(nil, "object %d", i)
		fx.put(t, key, data, &storage.PutOptions{ContentType: "text/plain"})
		resp, body := do(t, http.MethodGet, fx.url(t, key), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, key)
		assert.Equal(t, data, body, key)
	}
	require.NotZero(t, served, "every unusual key was refused")
}

func TestHandlerAbsoluteBaseURL(t *testing.T) {
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{BaseURL: "https://cdn.example.com/media/files/"})
	require.NoError(t, err)
	setUpAttrMode(t, l)
	defer l.Close()
	_, err = l.Put(context.Background(), "a/b c.txt", strings.NewReader("cdn"), nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/media/files/", l.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	u, err := l.URL("a/b c.txt")
	require.NoError(t, err)
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	resp, body := do(t, http.MethodGet, srv.URL+parsed.EscapedPath(), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "cdn", string(body))
	resp, _ = do(t, http.MethodGet, srv.URL+"/media/a/b%20c.txt", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestHandlerPrivateObjects(t *testing.T) {
	fx := signedFixture(t)
	secret := []byte("name,email\nada,ada@example.com\n")
	info := fx.put(t, "exports/attendees.csv", secret, &storage.PutOptions{Private: true})
	fx.put(t, "public.txt", []byte("public"), nil)

	// Plain URL: as if there were no object, so its existence stays hidden.
	resp, body := do(t, http.MethodGet, fx.url(t, "exports/attendees.csv"), nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.NotContains(t, string(body), "ada")
	missing, missingBody := do(t, http.MethodGet, fx.url(t, "exports/missing.csv"), nil)
	assert.Equal(t, missing.StatusCode, resp.StatusCode)
	assert.Equal(t, missingBody, body, "a private object looks missing")
	resp, _ = do(t, http.MethodHead, fx.url(t, "exports/attendees.csv"), nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, fx.url(t, "exports/attendees.csv"), nil, "If-None-Match", info.ETag)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no 304 leaks it either")

	// Signed: served, and kept out of shared caches.
	signed := fx.signed(t, "exports/attendees.csv", nil)
	resp, body = do(t, http.MethodGet, signed, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, secret, body)
	assert.Equal(t, "private", resp.Header.Get("Cache-Control"))
	assert.Equal(t, info.ETag, resp.Header.Get("ETag"))
	resp, body = do(t, http.MethodHead, signed, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)
	resp, body = do(t, http.MethodGet, signed, nil, "Range", "bytes=0-3")
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "name", string(body))

	// Public objects: plain and signed URLs both work.
	resp, _ = do(t, http.MethodGet, fx.url(t, "public.txt"), nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, fx.signed(t, "public.txt", nil), nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// A private object's signature does not open another object.
	other := strings.Replace(signed, "attendees.csv", "public.txt", 1)
	resp, _ = do(t, http.MethodGet, other, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	// Without a signing key, a private object is never served.
	nokey := newMediaFixture(t, nil)
	nokey.put(t, "p.txt", []byte("p"), &storage.PutOptions{Private: true})
	resp, _ = do(t, http.MethodGet, nokey.url(t, "p.txt"), nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, nokey.url(t, "p.txt")+"?"+strings.SplitN(signed, "?", 2)[1], nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "no key verifies no signature")

	// A private object's stored Cache-Control is kept, but it never lets a
	// shared cache keep the object.
	for stored, want := range map[string]string{
		"no-store":                          "private, no-store",
		"public, max-age=86400":             "private, max-age=86400",
		"max-age=60, S-MAXAGE=600, Public":  "private, max-age=60",
		"private, max-age=60, immutable":    "private, max-age=60, immutable",
		`no-cache="Set-Cookie", max-age=60`: `private, no-cache="Set-Cookie", max-age=60`,
	} {
		fx.put(t, "exports/cached.csv", secret, &storage.PutOptions{Private: true, CacheControl: stored})
		resp, _ = do(t, http.MethodGet, fx.signed(t, "exports/cached.csv", nil), nil)
		assert.Equal(t, want, resp.Header.Get("Cache-Control"), stored)
	}
	// A public object's is served as stored.
	fx.put(t, "exports/cached.csv", secret, &storage.PutOptions{CacheControl: "public, max-age=86400"})
	resp, _ = do(t, http.MethodGet, fx.url(t, "exports/cached.csv"), nil)
	assert.Equal(t, "public, max-age=86400", resp.Header.Get("Cache-Control"))
}

// TestHandlerScriptsAndStyles checks that no page of the site can load an
// uploaded script or style sheet as its own: a page loads one whatever its
// Content-Disposition and CSP, so only its type stops it (with nosniff).
func TestHandlerScriptsAndStyles(t *testing.T) {
	fx := signedFixture(t)
	fx.put(t, "up/evil.js", []byte("alert(1)"), nil)
	fx.put(t, "up/theme.css", []byte("body{}"), nil)
	fx.put(t, "up/old.bin", []byte("alert(1)"), &storage.PutOptions{ContentType: "Application/X-JavaScript; charset=latin1"})
	// A PUT signed without a type lets the uploader choose one, whatever
	// the key's extension.
	u := fx.signed(t, "up/slides.pdf", &storage.SignOptions{Method: http.MethodPut})
	resp, _ := do(t, http.MethodPut, u, strings.NewReader("alert(1)"), "Content-Type", "text/javascript")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, key := range []string{"up/evil.js", "up/theme.css", "up/old.bin", "up/slides.pdf"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp, _ := do(t, method, fx.url(t, key), nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, key)
			assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), "%s %s", method, key)
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), key)
		}
	}
	info, err := fx.l.Stat(context.Background(), "up/slides.pdf")
	require.NoError(t, err)
	assert.Equal(t, "text/javascript", info.ContentType, "Stat still tells the stored type")
}

// setQuery returns u with the query parameter name set to value.
func setQuery(t testing.TB, u, name, value string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	q := parsed.Query()
	q.Set(name, value)
	parsed.RawQuery = q.Encode()
	return parsed.String()
}

func queryParam(t testing.TB, u, name string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	return parsed.Query().Get(name)
}

// flip changes the first character of s.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestHandlerSignedGet(t *testing.T) {
	fx := signedFixture(t)
	fx.put(t, "p/report.pdf", []byte("report"), &storage.PutOptions{Private: true})
	fx.put(t, "p/other.pdf", []byte("other"), &storage.PutOptions{Private: true})
	good := fx.signed(t, "p/report.pdf", &storage.SignOptions{Expires: time.Hour})
	resp, body := do(t, http.MethodGet, good, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "report", string(body))

	sig := queryParam(t, good, "X-Signature")
	exp := queryParam(t, good, "X-Expires")
	anotherKey := newMediaFixture(t, &storage.LocalOptions{SigningKey: storage.NewSecret("another-signing-key-of-32-bytes-or-more")})
	foreign, err := anotherKey.l.SignedURL(context.Background(), "p/report.pdf", &storage.SignOptions{Expires: time.Hour})
	require.NoError(t, err)
	putURL := fx.signed(t, "p/report.pdf", &storage.SignOptions{Method: http.MethodPut, Expires: time.Hour})

	for name, u := range map[string]string{
		"tampered signature":         setQuery(t, good, "X-Signature", flip(sig)),
		"truncated signature":        setQuery(t, good, "X-Signature", sig[:len(sig)-2]),
		"padded signature":           setQuery(t, good, "X-Signature", sig+"="),
		"standard base64 signature":  setQuery(t, good, "X-Signature", strings.NewReplacer("-", "+", "_", "/").Replace(sig)+"+"),
		"empty signature":            setQuery(t, good, "X-Signature", ""),
		"no signature":               strings.Split(good, "&")[0],
		"no expiry":                  fx.url(t, "p/report.pdf") + "?X-Signature=" + sig,
		"later expiry":               setQuery(t, good, "X-Expires", fmt.Sprint(mustAtoi(t, exp)+3600)),
		"earlier expiry":             setQuery(t, good, "X-Expires", fmt.Sprint(mustAtoi(t, exp)-1)),
		"expiry with leading zero":   setQuery(t, good, "X-Expires", "0"+exp),
		"expiry with sign":           setQuery(t, good, "X-Expires", "+"+exp),
		"huge expiry":                setQuery(t, good, "X-Expires", "99999999999999999999999"),
		"another object":             strings.Replace(good, "report.pdf", "other.pdf", 1),
		"another signing key":        fx.mux.URL + foreign,
		"PUT signature used for GET": putURL,
		"duplicated signature":       good + "&X-Signature=" + sig,
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp, body := do(t, method, u, nil)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s", method, name)
			assert.NotContains(t, string(body), "report", name)
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), name)
		}
	}

	// An invalid signature is refused even for a public object, which the
	// plain URL would serve: a signed request must verify.
	fx.put(t, "pub.txt", []byte("pub"), nil)
	resp, _ = do(t, http.MethodGet, fx.url(t, "pub.txt")+"?X-Expires="+exp+"&X-Signature="+sig, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	// Unrelated query parameters (cache busting) are no signature.
	resp, _ = do(t, http.MethodGet, fx.url(t, "pub.txt")+"?v=2", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, good+"&v=2", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The signature covers the key, not its spelling in the URL.
	parsed, err := url.Parse(good)
	require.NoError(t, err)
	resp, body = rawRequest(t, fx.direct, http.MethodGet, "/static/media/p/%72eport.pdf?"+parsed.RawQuery)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "report", string(body))
}

func mustAtoi(t testing.TB, s string) int64 {
	t.Helper()
	var n int64
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}

func TestHandlerSignedExpiry(t *testing.T) {
	fx := signedFixture(t)
	fx.put(t, "p/soon.txt", []byte("soon"), &storage.PutOptions{Private: true})
	getURL := fx.signed(t, "p/soon.txt", &storage.SignOptions{Expires: time.Second})
	putURL := fx.signed(t, "p/up.txt", &storage.SignOptions{Method: http.MethodPut, Expires: time.Second})
	resp, _ := do(t, http.MethodGet, getURL, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "valid at first")

	time.Sleep(2100 * time.Millisecond)
	resp, body := do(t, http.MethodGet, getURL, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, string(body), "expired")
	resp, _ = do(t, http.MethodPut, putURL, strings.NewReader("late"))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, err := fx.l.Stat(context.Background(), "p/up.txt")
	assert.ErrorIs(t, err, os.ErrNotExist, "an expired PUT stores nothing")
}

func TestHandlerSignedPut(t *testing.T) {
	fx := signedFixture(t)
	ctx := context.Background()
	pic := pngImage(t, 8, 8)

	// Signed with a content type: the upload must send exactly it.
	u := fx.signed(t, "uploads/photo.png", &storage.SignOptions{Method: http.MethodPut, ContentType: "image/png"})
	resp, body := do(t, http.MethodPut, u, bytes.NewReader(pic), "Content-Type", "text/html")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "wrong content type")
	const hint = `the URL is signed for uploads sending "Content-Type: image/png"; send that header`
	assert.Contains(t, string(body), hint, "the refusal says which header to send")
	resp, body = do(t, http.MethodPut, u, bytes.NewReader(pic))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "missing content type")
	assert.Contains(t, string(body), hint)
	resp, body = do(t, http.MethodPut, setQuery(t, u, "X-Content-Type", "text/html"), bytes.NewReader(pic), "Content-Type", "text/html")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "the hint is no part of the signature")
	assert.Contains(t, string(body), "invalid signature")
	resp, _ = do(t, http.MethodPut, u, bytes.NewReader(pic), "Content-Type", "image/png; x=1")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "another content type")
	_, err := fx.l.Stat(ctx, "uploads/photo.png")
	require.ErrorIs(t, err, os.ErrNotExist, "refused uploads store nothing")

	resp, body = do(t, http.MethodPut, u, bytes.NewReader(pic), "Content-Type", "image/png")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	info, err := fx.l.Stat(ctx, "uploads/photo.png")
	require.NoError(t, err)
	assert.Equal(t, info.ETag, resp.Header.Get("ETag"))
	assert.Equal(t, "image/png", info.ContentType)
	assert.Equal(t, int64(len(pic)), info.Size)
	resp, body = do(t, http.MethodGet, fx.url(t, "uploads/photo.png"), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, pic, body, "an upload is public")

	// The same URL may replace the object until it expires; the ETag changes.
	resp, _ = do(t, http.MethodPut, u, bytes.NewReader(pngImage(t, 4, 4)), "Content-Type", "image/png")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotEqual(t, info.ETag, resp.Header.Get("ETag"))

	// Signed without a content type: the request's one is taken, or, when
	// it sends none, S3's default binary/octet-stream, as on S3.
	u = fx.signed(t, "uploads/notes.txt", &storage.SignOptions{Method: http.MethodPut})
	resp, _ = do(t, http.MethodPut, u, strings.NewReader("# notes"), "Content-Type", "text/markdown")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	info, err = fx.l.Stat(ctx, "uploads/notes.txt")
	require.NoError(t, err)
	assert.Equal(t, "text/markdown", info.ContentType)
	resp, _ = do(t, http.MethodPut, u, strings.NewReader("notes"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	info, err = fx.l.Stat(ctx, "uploads/notes.txt")
	require.NoError(t, err)
	assert.Equal(t, "binary/octet-stream", info.ContentType)
	assert.Equal(t, int64(5), info.Size)

	// A list of types would pass for an image with every check and render
	// as HTML in browsers, which take the last type.
	u = fx.signed(t, "uploads/avatar.png", &storage.SignOptions{Method: http.MethodPut})
	for _, typ := range []string{"image/png;x=y,text/html", "image/png, text/html", "text/plain; a=b, text/html", "html"} {
		resp, _ = do(t, http.MethodPut, u, strings.NewReader("<script>alert(1)</script>"), "Content-Type", typ)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, typ)
	}
	_, err = fx.l.Stat(ctx, "uploads/avatar.png")
	require.ErrorIs(t, err, os.ErrNotExist, "refused uploads store nothing")

	// An uploaded HTML page is still served as an attachment.
	u = fx.signed(t, "uploads/page.html", &storage.SignOptions{Method: http.MethodPut})
	resp, _ = do(t, http.MethodPut, u, strings.NewReader("<script>alert(1)</script>"), "Content-Type", "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, fx.url(t, "uploads/page.html"), nil)
	assert.Equal(t, "attachment", resp.Header.Get("Content-Disposition"))
	assert.Equal(t, "sandbox", resp.Header.Get("Content-Security-Policy"))

	// Refused: no signature, a GET signature, another key's signature, a
	// tampered one, another Local's key, an unprintable content type.
	getURL := fx.signed(t, "uploads/x.txt", nil)
	putURL := fx.signed(t, "uploads/x.txt", &storage.SignOptions{Method: http.MethodPut})
	anotherKey := newMediaFixture(t, &storage.LocalOptions{SigningKey: storage.NewSecret("another-signing-key-of-32-bytes-or-more")})
	foreign, err := anotherKey.l.SignedURL(ctx, "uploads/x.txt", &storage.SignOptions{Method: http.MethodPut})
	require.NoError(t, err)
	for name, u := range map[string]string{
		"unsigned":            fx.url(t, "uploads/x.txt"),
		"GET signature":       getURL,
		"another object":      strings.Replace(putURL, "x.txt", "y.txt", 1),
		"tampered signature":  setQuery(t, putURL, "X-Signature", flip(queryParam(t, putURL, "X-Signature"))),
		"tampered expiry":     setQuery(t, putURL, "X-Expires", fmt.Sprint(mustAtoi(t, queryParam(t, putURL, "X-Expires"))+1)),
		"another signing key": fx.mux.URL + foreign,
	} {
		resp, _ := do(t, http.MethodPut, u, strings.NewReader("x"), "Content-Type", "text/plain")
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, name)
	}
	for _, key := range []string{"uploads/x.txt", "uploads/y.txt"} {
		_, err = fx.l.Stat(ctx, key)
		assert.ErrorIs(t, err, os.ErrNotExist, "%s: nothing stored", key)
	}

	// A Local without a signing key takes no upload at all.
	nokey := newMediaFixture(t, nil)
	resp, _ = do(t, http.MethodPut, nokey.url(t, "uploads/x.txt")+"?"+strings.SplitN(putURL, "?", 2)[1], strings.NewReader("x"))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, err = nokey.l.Stat(ctx, "uploads/x.txt")
	assert.ErrorIs(t, err, os.ErrNotExist)

	// An upload clashing with a folder is a conflict, not a server error.
	fx.put(t, "folder/inner.txt", []byte("inner"), nil)
	u = fx.signed(t, "folder", &storage.SignOptions{Method: http.MethodPut})
	resp, _ = do(t, http.MethodPut, u, strings.NewReader("x"))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
}

// TestHandlerSignedPutPrivate uploads private objects through signed URLs,
// as a browser uploads an attendee's document, and checks that the privacy
// is the signer's to choose, not the uploader's.
func TestHandlerSignedPutPrivate(t *testing.T) {
	fx := signedFixture(t)
	ctx := context.Background()
	const key = "exports/attendees.csv"
	private := fx.signed(t, key, &storage.SignOptions{Method: http.MethodPut, Private: true})
	assert.Equal(t, "1", queryParam(t, private, "X-Private"))

	resp, body := do(t, http.MethodPut, private, strings.NewReader("ada@example.com"), "Content-Type", "text/csv")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	resp, _ = do(t, http.MethodGet, fx.url(t, key), nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a private upload is not served by its plain URL")
	resp, body = do(t, http.MethodGet, fx.signed(t, key, nil), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ada@example.com", string(body), "it is by a signed one")

	// A PUT signed without Private replaces it with a public object, as a
	// Put without PutOptions.Private does.
	public := fx.signed(t, key, &storage.SignOptions{Method: http.MethodPut})
	resp, _ = do(t, http.MethodPut, public, strings.NewReader("public now"), "Content-Type", "text/csv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, body = do(t, http.MethodGet, fx.url(t, key), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "public now", string(body))

	// The uploader can neither drop nor add the flag, nor use it elsewhere.
	fx.put(t, key, []byte("private again"), &storage.PutOptions{Private: true})
	for name, u := range map[string]string{
		"X-Private dropped":      strings.Replace(private, "X-Private=1&", "", 1),
		"X-Private added":        strings.Replace(public, "X-Signature=", "X-Private=1&X-Signature=", 1),
		"X-Private=0":            setQuery(t, private, "X-Private", "0"),
		"X-Private=true":         setQuery(t, private, "X-Private", "true"),
		"X-Private twice":        strings.Replace(private, "X-Private=1&", "X-Private=1&X-Private=1&", 1),
		"on another object":      strings.Replace(private, "attendees.csv", "other.csv", 1),
		"with another signature": setQuery(t, private, "X-Signature", queryParam(t, public, "X-Signature")),
	} {
		resp, _ := do(t, http.MethodPut, u, strings.NewReader("forged"), "Content-Type", "text/csv")
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, name)
	}
	r, err := fx.l.Get(ctx, key)
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, r.Close())
	require.NoError(t, err)
	assert.Equal(t, "private again", string(data), "no forged upload was stored")
	_, err = fx.l.Stat(ctx, "exports/other.csv")
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A GET URL ignores Private, and one that carries X-Private is refused.
	get := fx.signed(t, key, &storage.SignOptions{Private: true})
	assert.Empty(t, queryParam(t, get, "X-Private"))
	resp, _ = do(t, http.MethodGet, strings.Replace(get, "X-Signature=", "X-Private=1&X-Signature=", 1), nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, fx.url(t, key)+"?X-Private=1", nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "X-Private alone is a signature parameter without a signature")
}

func TestHandlerSignedPutInterrupted(t *testing.T) {
	fx := signedFixture(t)
	fx.put(t, "doc.txt", []byte("old content"), nil)
	u := fx.signed(t, "doc.txt", &storage.SignOptions{Method: http.MethodPut, ContentType: "text/plain"})
	parsed, err := url.Parse(u)
	require.NoError(t, err)

	// The client promises 1000 bytes, sends 10 and hangs up.
	conn, err := net.Dial("tcp", fx.mux.Listener.Addr().String())
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: media.test\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789", parsed.RequestURI())
	require.NoError(t, err)
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	io.Copy(io.Discard, conn)
	conn.Close()

	// The old object is whole, and no temporary file is left behind.
	require.Eventually(t, func() bool {
		entries, err := os.ReadDir(fx.dir)
		if err != nil {
			return false
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".put") {
				return false
			}
		}
		return true
	}, 5*time.Second, 20*time.Millisecond)
	resp, body := do(t, http.MethodGet, fx.url(t, "doc.txt"), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "old content", string(body))

	// A whole upload through the same URL goes in.
	resp, _ = do(t, http.MethodPut, u, strings.NewReader("new content"), "Content-Type", "text/plain")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, body = do(t, http.MethodGet, fx.url(t, "doc.txt"), nil)
	assert.Equal(t, "new content", string(body))
}

// FuzzHandler sends arbitrary paths and queries to the handler of a Local
// whose parent folder holds a sentinel file: no response may contain it,
// nor be a server error, nor serve anything but the bytes of an object.
func FuzzHandler(f *testing.F) {
	fx := signedFixture(f)
	objects := map[string][]byte{
		"a.png":                  pngImage(f, 3, 3),
		"dir/b.txt":              []byte("object b"),
		"dir/sub/c.html":         []byte("<p>object c</p>"),
		"private/d.csv":          []byte("object d"),
		"odd/%2e%2e":             []byte("object odd"),
		"sp ace/é.txt":           []byte("object e"),
		"..dots/...":             []byte("object dots"),
		"hash#and?query.txt":     []byte("object hash"),
		"quote'\"<>&.txt":        []byte("object quote"),
		"private/dir/secret.txt": []byte("object private secret"),
	}
	for key, data := range objects {
		// A key this platform's file names cannot hold (Windows: '?', '"',
		// '<', '>', a trailing dot) is refused, and stored nowhere.
		if err := fx.l.CheckKey(key); err != nil {
			require.ErrorIs(f, err, storage.ErrInvalidKey, key)
			delete(objects, key)
			continue
		}
		fx.put(f, key, data, &storage.PutOptions{Private: strings.HasPrefix(key, "private/")})
	}
	signed, err := fx.l.SignedURL(context.Background(), "private/d.csv", &storage.SignOptions{Expires: 7 * 24 * time.Hour})
	require.NoError(f, err)
	signedPath, signedQuery, _ := strings.Cut(signed, "?")
	handler := fx.l.Handler()

	for _, seed := range []struct{ path, query string }{
		{"/static/media/a.png", ""},
		{"/static/media/dir/b.txt", "v=1"},
		{signedPath, signedQuery},
		{"/static/media/private/d.csv", ""},
		{"/static/media/../secret.txt", ""},
		{"/static/media/%2e%2e/secret.txt", ""},
		{"/static/media/%2e%2e%2fsecret.txt", ""},
		{"/static/media/dir%2f..%2f..%2fsecret.txt", ""},
		{"/static/media/..%5csecret.txt", ""},
		{"/static/media/%00", ""},
		{"/static/media/%252e%252e/secret.txt", ""},
		{"/static/media/odd/%252e%252e", ""},
		{"/static/media/link.txt", ""},
		{"/static/media/abs-link.txt", ""},
		{"/static/media/escape/secret.txt", ""},
		{"/static/media/escape/media/dir/b.txt", ""},
		{"/static/media/dir/", ""},
		{"/static/media/", ""},
		{"/static/media/dir/b.txt", "X-Expires=1&X-Signature=AAAA"},
		{"/static/media/private/d.csv", "X-Expires=99999999999&X-Signature="},
		{"/static/media/" + strings.Repeat("x", 300), ""},
		{"/static/media/sp%20ace/%C3%A9.txt", ""},
		{"/static/media/hash%23and%3Fquery.txt", ""},
		{"*", ""},
		{"http://other.example/static/media/a.png", ""},
	} {
		f.Add(seed.path, seed.query)
	}

	f.Fuzz(func(t *testing.T, path, query string) {
		target := path
		if query != "" {
			target += "?" + query
		}
		// Build the request as the server would, from the raw request line;
		// what it cannot parse never reaches a handler.
		raw := "GET " + target + " HTTP/1.1\r\nHost: media.test\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil || req.RequestURI != target {
			return
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		if bytes.Contains(body, fx.sentinel) {
			t.Fatalf("GET %q served the file outside the root", target)
		}
		if rec.Code >= 500 {
			t.Fatalf("GET %q: status %d: %s", target, rec.Code, body)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %q: no nosniff", target)
		}
		if rec.Code == http.StatusOK || rec.Code == http.StatusPartialContent {
			for key, data := range objects {
				if bytes.Contains(data, body) {
					if strings.HasPrefix(key, "private/") && !req.URL.Query().Has("X-Signature") {
						t.Fatalf("GET %q served private %q without a signature", target, key)
					}
					return
				}
			}
			t.Fatalf("GET %q: status %d served bytes of no object: %q", target, rec.Code, body)
		}
	})
}

// The handler is mounted at the path of BaseURL, where the URLs point.
func ExampleLocal_Handler() {
	dir, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	media, err := storage.NewLocal(dir, &storage.LocalOptions{
		BaseURL:    "/static/media/",
		SigningKey: storage.NewSecret(os.Getenv("STORAGE_SIGNING_KEY")), // 32 random bytes or more
	})
	if err != nil {
		log.Fatal(err)
	}
	defer media.Close()

	mux := http.NewServeMux()
	mux.Handle("/static/media/", media.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := context.Background()
	_, err = media.Put(ctx, "events/42/logo.png", bytes.NewReader(examplePNG), nil)
	if err != nil {
		log.Fatal(err)
	}
	u, _ := media.URL("events/42/logo.png")
	resp, err := http.Get(srv.URL + u)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(u, resp.Status, resp.Header.Get("Content-Type"))
	// Output: /static/media/events/42/logo.png 200 OK image/png
}

// examplePNG is the smallest PNG there is: one transparent pixel.
var examplePNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func TestHandlerUploadLimit(t *testing.T) {
	fx := signedFixture(t)
	srv := httptest.NewServer(http.MaxBytesHandler(fx.l.Handler(), 10))
	defer srv.Close()
	fx.put(t, "big.bin", []byte("old"), nil)
	u, err := fx.l.SignedURL(context.Background(), "big.bin", &storage.SignOptions{Method: http.MethodPut})
	require.NoError(t, err)

	resp, _ := do(t, http.MethodPut, srv.URL+u, bytes.NewReader(make([]byte, 100)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	resp, body := do(t, http.MethodGet, srv.URL+"/static/media/big.bin", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "old", string(body), "the old object stays")

	resp, _ = do(t, http.MethodPut, srv.URL+u, bytes.NewReader(make([]byte, 10)))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, body = do(t, http.MethodGet, srv.URL+"/static/media/big.bin", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, body, 10)
}

// TestHandlerSignedPutBounds checks the Handler's own answers to uploads
// that break a signed length or MD5, which the conformance suite checks
// only as client errors, and that it takes a chunked body of the signed
// length, reading no more of a longer one than it needs to refuse it.
func TestHandlerSignedPutBounds(t *testing.T) {
	fx := signedFixture(t)
	ctx := context.Background()
	body := []byte("0123456789")
	sum := md5.Sum(body)
	md5b64 := base64.StdEncoding.EncodeToString(sum[:])
	u := fx.signed(t, "up/doc.pdf", &storage.SignOptions{Method: http.MethodPut, ContentLength: 10, ContentMD5: md5b64})
	assert.Equal(t, "10", queryParam(t, u, "X-Content-Length"))
	assert.Equal(t, md5b64, queryParam(t, u, "X-Content-MD5"))

	resp, msg := do(t, http.MethodPut, u, strings.NewReader("0123456789x"), "Content-MD5", md5b64)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(msg))
	resp, msg = do(t, http.MethodPut, u, strings.NewReader("012345678"), "Content-MD5", md5b64)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(msg))
	resp, msg = do(t, http.MethodPut, u, strings.NewReader("0123456780"), "Content-MD5", md5b64)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(msg))
	assert.Contains(t, string(msg), "Content-MD5")
	resp, msg = do(t, http.MethodPut, u, bytes.NewReader(body))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(msg))
	assert.Contains(t, string(msg), "Content-MD5")

	// Tampering with the signed bounds breaks the signature.
	for name, tampered := range map[string]string{
		"length":      setQuery(t, u, "X-Content-Length", "11"),
		"no length":   strings.Replace(u, "X-Content-Length=10&", "", 1),
		"md5":         setQuery(t, u, "X-Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
		"leading 0":   setQuery(t, u, "X-Content-Length", "010"),
		"twice":       u + "&X-Content-Length=10",
		"not a digit": setQuery(t, u, "X-Content-Length", "1e1"),
	} {
		resp, _ := do(t, http.MethodPut, tampered, bytes.NewReader(body), "Content-MD5", md5b64)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, name)
	}
	_, err := fx.l.Stat(ctx, "up/doc.pdf")
	require.ErrorIs(t, err, os.ErrNotExist, "nothing refused was stored")

	// Chunked (net/http cannot tell a MultiReader's length), of the
	// signed length: stored.
	req, err := http.NewRequest(http.MethodPut, u, io.MultiReader(bytes.NewReader(body)))
	require.NoError(t, err)
	req.Header.Set("Content-MD5", md5b64)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Chunked and endless: refused after the signed length and a byte.
	counted := &countingReader{r: endless{}}
	u = fx.signed(t, "up/big.bin", &storage.SignOptions{Method: http.MethodPut, ContentLength: 1 << 20})
	resp, _ = do(t, http.MethodPut, u, counted)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	_, err = fx.l.Stat(ctx, "up/big.bin")
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Less(t, counted.n.Load(), int64(8<<20), "the handler stops reading soon after the limit")
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestHandlerResponseOverrides checks that the Handler applies response
// overrides only when signed, and that they cannot make an upload run.
func TestHandlerResponseOverrides(t *testing.T) {
	fx := signedFixture(t)
	fx.put(t, "up/slides.pdf", []byte("%PDF-1.7"), &storage.PutOptions{ContentType: "application/pdf"})
	fx.put(t, "up/page.html", []byte("<script>alert(1)</script>"), nil)
	fx.put(t, "up/pic.png", []byte("<script>alert(1)</script>"), nil)

	// Unsigned response-* parameters are ignored.
	resp, _ := do(t, http.MethodGet, fx.url(t, "up/slides.pdf")+"?response-content-disposition=inline%3B%20filename%3Dx.html&response-content-type=text%2Fhtml", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
	assert.Empty(t, resp.Header.Get("Content-Disposition"))

	// Signed ones apply, and cannot be changed.
	u := fx.signed(t, "up/slides.pdf", &storage.SignOptions{ResponseContentDisposition: `attachment; filename="Slides.pdf"`})
	resp, _ = do(t, http.MethodGet, u, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, `attachment; filename="Slides.pdf"`, resp.Header.Get("Content-Disposition"))
	resp, _ = do(t, http.MethodGet, setQuery(t, u, "response-content-disposition", "inline"), nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, u+"&response-content-type=text%2Fhtml", nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "an added override breaks the signature")

	// An active object stays an attachment in a sandbox, whatever is signed;
	// an override to an active type is served as one, JavaScript as text.
	for _, c := range []struct {
		key  string
		opts storage.SignOptions
		typ  string
	}{
		{"up/page.html", storage.SignOptions{ResponseContentDisposition: "inline"}, "text/html; charset=utf-8"},
		{"up/page.html", storage.SignOptions{ResponseContentType: "text/plain", ResponseContentDisposition: "inline"}, "text/plain"},
		{"up/pic.png", storage.SignOptions{ResponseContentType: "text/html"}, "text/html"},
		{"up/pic.png", storage.SignOptions{ResponseContentType: "image/svg+xml", ResponseContentDisposition: `inline; filename="a.svg"`}, "image/svg+xml"},
		{"up/pic.png", storage.SignOptions{ResponseContentType: "text/javascript"}, "text/plain; charset=utf-8"},
	} {
		resp, _ := do(t, http.MethodGet, fx.signed(t, c.key, &c.opts), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, c.typ, resp.Header.Get("Content-Type"), "%s %+v", c.key, c.opts)
		disposition, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
		assert.Equal(t, "attachment", disposition, "%s %+v", c.key, c.opts)
		assert.Equal(t, "sandbox", resp.Header.Get("Content-Security-Policy"), "%s %+v", c.key, c.opts)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	}
	// A passive override on a passive object stays inline.
	resp, _ = do(t, http.MethodGet, fx.signed(t, "up/pic.png", &storage.SignOptions{ResponseContentType: "image/webp"}), nil)
	assert.Equal(t, "image/webp", resp.Header.Get("Content-Type"))
	assert.Empty(t, resp.Header.Get("Content-Disposition"))
}

// TestHandlerUnparsableQuery checks that a query Go cannot parse is refused,
// never read as one without a signature: a forged signature hidden past Go's
// parameter limit, or behind a ";", must not reach a public object as an
// unsigned request nor a signed one.
func TestHandlerUnparsableQuery(t *testing.T) {
	fx := signedFixture(t)
	fx.put(t, "pub/logo.png", []byte("png"), nil)
	forged := "X-Expires=99999999999&X-Signature=AAAA"
	for name, q := range map[string]string{
		"semicolon":          "a=1;" + forged,
		"20,000 parameters":  strings.Repeat("j=1&", 20000) + forged,
		"10,001 parameters":  strings.Repeat("j=1&", 10001),
		"bad escape":         "a=%zz&" + forged,
		"semicolon only":     "a;b",
		"signature after ;":  "X-Signature=x;X-Expires=1",
		"response overrides": "response-content-type=text%2Fhtml;x",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPut} {
			resp, _ := do(t, method, fx.url(t, "pub/logo.png")+"?"+q, strings.NewReader("x"))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s", method, name)
		}
	}
	resp, body := do(t, http.MethodGet, fx.url(t, "pub/logo.png")+"?"+strings.Repeat("j=1&", 9000), nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a long query Go parses is fine")
	assert.Equal(t, "png", string(body))
}
