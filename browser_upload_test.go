//go:build unix

package storage_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uploadPage is a page that uploads as orga-server's pages do, with the
// browser's own FormData and fetch, and writes what it saw into #result.
// The server fills in the signed form and URLs as window.cfg.
const uploadPage = `<!doctype html>
<html><head><title>upload</title></head><body><pre id="result"></pre>
<script>%s</script>
<script>
async function post(key, size) {
  const fd = new FormData();
  for (const [name, value] of Object.entries(cfg.form.fields)) fd.append(name, value);
  fd.set("key", key);
  fd.set("Content-Type", "image/png");
  fd.append("file", new Blob([new Uint8Array(size).fill(7)], {type: "image/png"}), "photo.png");
  return (await fetch(cfg.form.url, {method: "POST", body: fd})).status;
}
async function put(body) {
  const r = await fetch(cfg.putURL, {method: "PUT", body: body, headers: {"Content-MD5": cfg.putMD5, "Content-Type": "text/plain"}});
  return r.status;
}
async function run() {
  const out = {};
  try {
    out.post = await post(cfg.prefix + "photo.png", 1000);
    out.postOver = await post(cfg.prefix + "over.png", cfg.maxSize + 1);
    out.postElsewhere = await post("elsewhere/photo.png", 10);
    out.putTampered = await put(cfg.putBody.replace("a", "b"));
    out.put = await put(cfg.putBody);
    const d = await fetch(cfg.downloadURL);
    out.disposition = d.headers.get("Content-Disposition");
    out.downloaded = await d.text();
  } catch (e) {
    out.error = String(e);
  }
  document.getElementById("result").textContent = JSON.stringify(out);
}
run();
</script>
</body></html>`

// TestBrowserUploads uploads from a real browser page, directly to the
// storage: a file through a PostForm and one a byte over its MaxSize,
// through a size- and MD5-signed PUT URL with the right body and a
// tampered one, and downloads through a URL signed with a file name.
func TestBrowserUploads(t *testing.T) {
	bin := chromium(t)
	t.Run("Local", func(t *testing.T) {
		l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: handlerSigningKey})
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		testBrowserUploads(t, bin, l, l.Handler())
	})
	t.Run("MinIO", func(t *testing.T) {
		// MinIO answers any origin's preflight: the page posts across
		// origins, as it does to a bucket with a CORS rule.
		testBrowserUploads(t, bin, emptyS3(t, needMinIO(t).config()), nil)
	})
}

func testBrowserUploads(t *testing.T, bin string, s storage.Storage, h http.Handler) {
	ctx := context.Background()
	const prefix, maxSize = "uploads/speaker-7/", 4096
	form, err := s.SignedPost(ctx, prefix, &storage.PostOptions{MaxSize: maxSize, KeyPrefix: true, ContentType: "image/"})
	require.NoError(t, err)
	putBody := "abstract: a talk about storage"
	sum := md5.Sum([]byte(putBody))
	putMD5 := base64.StdEncoding.EncodeToString(sum[:])
	putURL, err := s.SignedURL(ctx, "abstracts/7.txt", &storage.SignOptions{
		Method: http.MethodPut, ContentLength: int64(len(putBody)), ContentMD5: putMD5, ContentType: "text/plain",
	})
	require.NoError(t, err)
	_, err = s.Put(ctx, "slides/3f9a.pdf", strings.NewReader("%PDF-1.7"), &storage.PutOptions{ContentType: "application/pdf"})
	require.NoError(t, err)
	const name = "Präsentation – Tag 1.pdf"
	downloadURL, err := s.SignedURL(ctx, "slides/3f9a.pdf", &storage.SignOptions{
		ResponseContentDisposition: mime.FormatMediaType("attachment", map[string]string{"filename": name}),
	})
	require.NoError(t, err)
	cfg, err := json.Marshal(map[string]any{
		"form":   map[string]any{"url": form.URL, "fields": form.Fields},
		"prefix": prefix, "maxSize": maxSize,
		"putURL": putURL, "putMD5": putMD5, "putBody": putBody,
		"downloadURL": downloadURL,
	})
	require.NoError(t, err)

	mux := http.NewServeMux()
	if h != nil {
		mux.Handle("/static/media/", h)
	}
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, uploadPage, "var cfg = "+string(cfg)+";")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dom := runChromium(t, bin, srv.URL+"/page", "--virtual-time-budget=10000", "--dump-dom")
	m := regexp.MustCompile(`<pre id="result">([^<]*)</pre>`).FindStringSubmatch(dom)
	require.NotNil(t, m, "the page wrote its result:\n%s", dom)
	var got struct {
		Post, PostOver, PostElsewhere, Put, PutTampered int
		Disposition, Downloaded, Error                  string
	}
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &got), m[1])
	t.Logf("page saw %s", m[1])
	require.Empty(t, got.Error)

	assert.Equal(t, http.StatusNoContent, got.Post)
	info, err := s.Stat(ctx, prefix+"photo.png")
	require.NoError(t, err, "the posted file is stored")
	assert.Equal(t, int64(1000), info.Size)
	assert.Equal(t, "image/png", info.ContentType)
	for status, key := range map[int]string{got.PostOver: prefix + "over.png", got.PostElsewhere: "elsewhere/photo.png"} {
		assert.True(t, status >= 400 && status < 500, "%s: refused, got %d", key, status)
		_, err = s.Stat(ctx, key)
		assert.ErrorIs(t, err, fs.ErrNotExist, "%s: nothing stored", key)
	}
	assert.True(t, got.PutTampered >= 400 && got.PutTampered < 500, "a tampered body is refused, got %d", got.PutTampered)
	assert.Equal(t, http.StatusOK, got.Put)
	assert.Equal(t, putBody, readObject(t, s, "abstracts/7.txt"))

	assert.Equal(t, "%PDF-1.7", got.Downloaded)
	_, params, err := mime.ParseMediaType(got.Disposition)
	require.NoError(t, err, got.Disposition)
	assert.Equal(t, name, params["filename"], got.Disposition)
}
