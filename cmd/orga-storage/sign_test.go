package main

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pathNote is what sign says on stderr when what it prints is a path.
const pathNote = "orga-storage sign: this is a path: prepend the origin of the server that serves STORAGE_DIR (orga-storage serve: http://127.0.0.1:8080), or set STORAGE_URL to an absolute URL\n"

// sign runs orga-storage sign, requires it to succeed, saying at most that
// its output is a path, and returns stdout.
func sign(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := run(t, env, "", append([]string{"sign"}, args...)...)
	require.Equal(t, 0, r.code, "orga-storage sign %s: %s", strings.Join(args, " "), r.stderr)
	if r.stderr != "" {
		require.Equal(t, pathNote, r.stderr)
		require.True(t, strings.HasPrefix(r.stdout, "/") || strings.Contains(r.stdout, `"url": "/`), "a note only for a path: %s", r.stdout)
	}
	return r.stdout
}

const testSigningKey = "STORAGE_SIGNING_KEY=0123456789abcdef0123456789abcdef"

func TestSignSaysWhatAPathNeeds(t *testing.T) {
	r := run(t, localEnv(t, testSigningKey), "", "sign", "a.txt")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, pathNote, r.stderr)

	env := localEnv(t, testSigningKey, "STORAGE_URL=https://events.example.com/media/")
	for _, args := range [][]string{{"a.txt"}, {"--post", "--max-size", "1MiB", "a.txt"}} {
		r = run(t, env, "", append([]string{"sign"}, args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, r.stderr, "an absolute URL needs nothing: %v", args)
		assert.Contains(t, r.stdout, "https://events.example.com/media/", "%v", args)
	}
}

func TestSignRefusesFlagsOfAnotherKind(t *testing.T) {
	env := localEnv(t, testSigningKey)
	file := filepath.Join(t.TempDir(), "f.txt")
	require.NoError(t, os.WriteFile(file, []byte("f"), 0o644))
	for _, args := range [][]string{
		{"--size", "10", "a"},
		{"--md5", "1B2M2Y8AsgTpgAmY7PhCfg==", "a"},
		{"--put", "--download-as", "a.pdf", "a"},
		{"--post", "--download-as", "a.pdf", "--max-size", "1", "a"},
		{"--put", "--max-size", "10", "a"},
		{"--prefix", "a/"},
		{"--put", "--post", "--max-size", "1", "a"},
		{"--post", "a"},
		{"--post", "--max-size", "10", "--size", "10", "a"},
		{"--file", file, "--size", "1", "a"},
		{"--put", "--size", "5.5MiB", "a"},
		{"--put", "--size", "6GiB", "a"},
		{"--put", "--size", "99999999999999999999", "a"},
		{"--download-as", "a/b.pdf", "a"},
		{"--download-as", "a\nb.pdf", "a"},
	} {
		failsWith(t, 2, env, append([]string{"sign"}, args...)...)
	}
	line := failsWith(t, 1, env, "sign", "--post", "--max-size", "0", "a")
	assert.Contains(t, line, "MaxSize", "the library's own check")
	line = failsWith(t, 1, env, "sign", "--put", "--md5", "AAAA", "a")
	assert.Contains(t, line, "MD5")
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	line = failsWith(t, 1, env, "sign", "--file", empty, "a")
	assert.Contains(t, line, "is empty")
}

// TestSignBoundedUpload uploads through URLs signed with --file and
// --size, served by orga-storage serve, as a browser's fetch would.
func TestSignBoundedUpload(t *testing.T) {
	env := localEnv(t, testSigningKey)
	_, base := startServe(t, env, "/static/media/")
	dir := t.TempDir()
	slides := bytes.Repeat([]byte("slide "), 1000)
	file := filepath.Join(dir, "slides.pdf")
	require.NoError(t, os.WriteFile(file, slides, 0o644))
	sum := md5.Sum(slides)
	md5Header := base64.StdEncoding.EncodeToString(sum[:])

	u := base + strings.TrimSpace(sign(t, env, "--file", file, "--content-type", "application/pdf", "talks/1.pdf"))
	tampered := bytes.Clone(slides)
	tampered[10] = 'X'
	for name, req := range map[string]struct {
		body   []byte
		header http.Header
	}{
		"a tampered body":      {tampered, http.Header{"Content-Md5": {md5Header}, "Content-Type": {"application/pdf"}}},
		"no Content-MD5":       {slides, http.Header{"Content-Type": {"application/pdf"}}},
		"a byte more":          {append(bytes.Clone(slides), 'x'), http.Header{"Content-Md5": {md5Header}, "Content-Type": {"application/pdf"}}},
		"another Content-Type": {slides, http.Header{"Content-Md5": {md5Header}, "Content-Type": {"text/html"}}},
	} {
		status, _ := send(t, http.MethodPut, u, req.body, req.header)
		assert.True(t, status >= 400 && status < 500, "%s: refused, got %d", name, status)
	}
	status, body := send(t, http.MethodGet, base+"/static/media/talks/1.pdf", nil, nil)
	assert.Equal(t, http.StatusNotFound, status, "nothing refused was stored: %s", body)

	status, body = send(t, http.MethodPut, u, slides, http.Header{"Content-Md5": {md5Header}, "Content-Type": {"application/pdf"}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, string(slides), ok(t, env, "", "get", "talks/1.pdf", "-"))

	u = base + strings.TrimSpace(sign(t, env, "--put", "--size", "1KiB", "notes.txt"))
	status, _ = send(t, http.MethodPut, u, make([]byte, 1025), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	status, body = send(t, http.MethodPut, u, make([]byte, 1024), nil)
	assert.Equal(t, http.StatusOK, status, body)
}

// TestSignPost posts a file through the form sign --post prints, to
// orga-storage serve, as a page would.
func TestSignPost(t *testing.T) {
	env := localEnv(t, testSigningKey)
	_, base := startServe(t, env, "/static/media/")
	var form struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	}
	require.NoError(t, json.Unmarshal([]byte(sign(t, env, "--post", "--max-size", "1KiB", "--type", "image/", "--prefix", "--private", "uploads/7/")), &form))
	assert.Equal(t, "/static/media/", form.URL)
	post := func(key string, file []byte) (int, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fields := maps.Clone(form.Fields)
		fields["key"], fields["Content-Type"] = key, "image/png"
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			require.NoError(t, mw.WriteField(name, fields[name]))
		}
		fw, err := mw.CreateFormFile("file", "photo.png")
		require.NoError(t, err)
		fw.Write(file)
		require.NoError(t, mw.Close())
		return send(t, http.MethodPost, base+form.URL, body.Bytes(), http.Header{"Content-Type": {mw.FormDataContentType()}})
	}
	status, body := post("uploads/7/photo.png", make([]byte, 1025))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, body)
	status, body = post("uploads/8/photo.png", []byte("png"))
	assert.Equal(t, http.StatusForbidden, status, "outside the prefix: %s", body)
	status, body = post("uploads/7/photo.png", []byte("png"))
	require.Equal(t, http.StatusNoContent, status, body)
	stat := ok(t, env, "", "stat", "uploads/7/photo.png")
	assert.Contains(t, stat, "image/png")
	assert.Regexp(t, `Private:\s+yes`, stat)
	failsWith(t, 1, env, "stat", "uploads/8/photo.png")
}

// TestSignDownloadAs downloads through a URL signed with --download-as and
// checks the name a browser would save the file as.
func TestSignDownloadAs(t *testing.T) {
	env := localEnv(t, testSigningKey)
	_, base := startServe(t, env, "/static/media/")
	ok(t, env, "%PDF-1.7", "put", "--content-type", "application/pdf", "-", "talks/3f9a.pdf")
	for _, name := range []string{"Slides day 1.pdf", "Präsentation – Tag 1.pdf", `50% "final".pdf`} {
		saved, data := download(t, base+strings.TrimSpace(sign(t, env, "--download-as", name, "talks/3f9a.pdf")))
		assert.Equal(t, "%PDF-1.7", data)
		assert.Equal(t, name, saved, "the name as a browser reads it (filename* first)")
	}
}

// download fetches u, requires 200 and an attachment, and returns the file
// name a browser saves it under and the body.
func download(t *testing.T, u string) (name, body string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	kind, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	require.NoError(t, err, resp.Header.Get("Content-Disposition"))
	assert.Equal(t, "attachment", kind)
	return params["filename"], string(data)
}

func TestAttachment(t *testing.T) {
	for name, want := range map[string]string{
		"Slides day 1.pdf":         `attachment; filename="Slides day 1.pdf"`,
		"Präsentation – Tag 1.pdf": `attachment; filename="Pr_sentation _ Tag 1.pdf"; filename*=UTF-8''Pr%C3%A4sentation%20%E2%80%93%20Tag%201.pdf`,
		`a "b".pdf`:                `attachment; filename="a _b_.pdf"; filename*=UTF-8''a%20%22b%22.pdf`,
	} {
		got, err := attachment(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got)
	}
}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "1": 1, "10B": 10, "1KiB": 1024, "10MiB": 10 << 20, "1kB": 1000, "2 MB": 2e6, "5GiB": 5 << 30} {
		got, err := parseSize(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "MiB", "-1", "1.5MiB", "1mib", "5GiB1", "5368709121", "6GB"} {
		_, err := parseSize(s)
		assert.Error(t, err, s)
	}
}

// send makes a request and returns its status and body.
func send(t *testing.T, method, u string, body []byte, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	require.NoError(t, err)
	maps.Copy(req.Header, header)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}
