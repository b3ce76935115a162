package browsertest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uploadPage uploads as the README's page does ("Direct uploads from the
// browser"): choosing a file in #photo posts it through a form that the site
// signs at /api/photo-upload, under the form's prefix (or under the key in
// #key, when there is one), and shows the answer's status in #status.
// put uploads the file of #abstract through a signed PUT URL, as the
// README's fetch does.
const uploadPage = `<!doctype html>
<html><head><title>upload</title></head><body>
<input type="file" id="photo" accept="image/*">
<input type="text" id="key">
<output id="status"></output>
<input type="file" id="abstract">
<script>
document.getElementById("photo").addEventListener("change", async (event) => {
  const status = document.getElementById("status");
  try {
    const file = event.target.files[0];
    const form = await (await fetch("/api/photo-upload", {method: "POST"})).json();
    const body = new FormData();
    for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
    body.set("key", document.getElementById("key").value || form.fields.key + file.name);
    body.set("Content-Type", file.type);  // must start with the signed "image/"
    body.append("file", file);            // the file goes last
    const answer = await fetch(form.url, {method: "POST", body});
    status.dataset.answer = await answer.text();
    status.textContent = answer.status;
  } catch (e) {
    status.textContent = "error: " + e;
  }
});
async function put(url, md5) {
  const headers = {"Content-Type": "text/plain"};
  if (md5) headers["Content-MD5"] = md5;
  const answer = await fetch(url, {method: "PUT", body: document.getElementById("abstract").files[0], headers});
  return {status: answer.status, answer: await answer.text()};
}
</script>
</body></html>`

// maxSize bounds the photos that the upload site's form takes.
const maxSize = 4096

// newUploadSite serves uploadPage, the links page, and the form that signs
// a photo upload under photos in s; with h, it serves s's files at
// /static/media/ too, as a site does with Local's Handler.
func newUploadSite(t *testing.T, s storage.Storage, h http.Handler, photos string) *httptest.Server {
	mux := http.NewServeMux()
	if h != nil {
		mux.Handle("/static/media/", h)
	}
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, uploadPage)
	})
	mux.HandleFunc("/links", linksPage)
	mux.HandleFunc("POST /api/photo-upload", func(w http.ResponseWriter, r *http.Request) {
		form, err := s.SignedPost(r.Context(), photos, &storage.PostOptions{MaxSize: maxSize, KeyPrefix: true, ContentType: "image/"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"url": form.URL, "fields": form.Fields})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestUploads uploads from a real browser page straight to the storage,
// to Local's Handler and to MinIO: (1) a photo through a PostForm, read
// back through the library; (2) a photo of exactly MaxSize bytes, and one a
// byte over, refused with nothing stored, and one under a key outside the
// form's prefix; (3) a file through a size- and MD5-signed PUT URL, and
// tampered, longer and unsigned bodies, refused with the old object whole;
// (4) a file downloaded by clicking a signed link, saved under the name of
// the signed Content-Disposition, an ASCII one and a non-ASCII one.
func TestUploads(t *testing.T) {
	t.Run("Local", func(t *testing.T) {
		l, prefix := localStore(t)
		testUploads(t, l, prefix, l.Handler(), http.StatusRequestEntityTooLarge)
	})
	t.Run("MinIO", func(t *testing.T) {
		// MinIO answers any origin's preflight: the page posts and puts
		// across origins, as it does to a bucket with a CORS rule.
		s, prefix := minioStore(t)
		testUploads(t, s, prefix, nil, http.StatusBadRequest)
	})
}

// testUploads runs TestUploads on s, with every key under prefix; tooLarge
// is how s answers a post over MaxSize.
func testUploads(t *testing.T, s storage.Storage, prefix string, h http.Handler, tooLarge int) {
	ctx := context.Background()
	photos := prefix + "uploads/speaker-7/"
	site := newUploadSite(t, s, h, photos)
	tab := newTab(t)
	files := t.TempDir()
	// file writes data into a file of the test's, in a folder of its own
	// so that two files can have the same name, and returns its path.
	file := func(t *testing.T, name string, data []byte) string {
		t.Helper()
		dir, err := os.MkdirTemp(files, "")
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}

	// post chooses the file at path in the page's #photo, which posts it,
	// and returns the status and text of the answer; with key, the page
	// posts under key.
	post := func(t *testing.T, path, key string) (int, string) {
		t.Helper()
		steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(site.URL + "/upload")}
		if key != "" {
			steps = append(steps, chromedp.SetValue(chromedp.ID("key"), key))
		}
		run(t, tab, append(steps, chromedp.SetUploadFiles(chromedp.ID("photo"), []string{path}))...)
		status := value(t, tab, chromedp.Poll[string](`document.getElementById("status").textContent`))
		answer := value(t, tab, chromedp.Evaluate[string](`document.getElementById("status").dataset.answer || ""`))
		var code int
		_, err := fmt.Sscan(status, &code)
		require.NoError(t, err, "the page got an answer: %s", status)
		return code, answer
	}
	assertNotStored := func(t *testing.T, key string) {
		t.Helper()
		_, err := s.Stat(ctx, key)
		assert.ErrorIs(t, err, fs.ErrNotExist, "nothing stored under %s", key)
	}

	t.Run("PostForm", func(t *testing.T) {
		photo := testkit.PNG(t, 30, 20)
		status, answer := post(t, file(t, "photo.png", photo), "")
		require.Equal(t, http.StatusNoContent, status, answer)
		key := photos + "photo.png"
		assert.Equal(t, photo, readObject(t, s, key), "the posted photo is stored whole")
		info, err := s.Stat(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, "image/png", info.ContentType, "the type the browser gave the file")
		assert.Equal(t, int64(len(photo)), info.Size)
	})

	t.Run("PostOverMaxSize", func(t *testing.T) {
		// A photo of exactly MaxSize bytes is taken (trailing bytes after
		// its end are still a PNG)...
		exact := append(testkit.PNG(t, 8, 8), bytes.Repeat([]byte{0}, maxSize)...)[:maxSize]
		status, answer := post(t, file(t, "exact.png", exact), "")
		require.Equal(t, http.StatusNoContent, status, answer)
		assert.Equal(t, exact, readObject(t, s, photos+"exact.png"))

		// ... and one a byte over refused, as new or in place of another.
		over := append(bytes.Clone(exact), 0)
		status, answer = post(t, file(t, "over.png", over), "")
		assert.Equal(t, tooLarge, status, answer)
		if tooLarge == http.StatusBadRequest {
			assert.Contains(t, answer, "EntityTooLarge", "S3's code")
		}
		assertNotStored(t, photos+"over.png")
		status, answer = post(t, file(t, "exact.png", over), "")
		assert.Equal(t, tooLarge, status, answer)
		assert.Equal(t, exact, readObject(t, s, photos+"exact.png"), "the photo it would have replaced stays whole")

		// So is a photo posted under a key outside the form's prefix.
		elsewhere := prefix + "elsewhere/photo.png"
		status, answer = post(t, file(t, "photo.png", testkit.PNG(t, 4, 4)), elsewhere)
		assert.Equal(t, http.StatusForbidden, status, answer)
		assertNotStored(t, elsewhere)
	})

	t.Run("SignedPut", func(t *testing.T) {
		key := prefix + "abstracts/7.txt"
		old := []byte("abstract: to be written")
		_, err := s.Put(ctx, key, bytes.NewReader(old), &storage.PutOptions{ContentType: "text/plain"})
		require.NoError(t, err)
		body := []byte("abstract: a talk about storage, straight from the browser")
		sum := md5.Sum(body)
		md5b64 := base64.StdEncoding.EncodeToString(sum[:])
		u, err := s.SignedURL(ctx, key, &storage.SignOptions{
			Method: http.MethodPut, ContentLength: int64(len(body)), ContentMD5: md5b64, ContentType: "text/plain",
		})
		require.NoError(t, err)

		run(t, tab, chromedp.Navigate(site.URL+"/upload"))
		type answer struct {
			Status int    `json:"status"`
			Answer string `json:"answer"`
		}
		// put chooses data in the page's #abstract and puts it to u.
		put := func(data []byte, withMD5 bool) answer {
			t.Helper()
			sendMD5 := ""
			if withMD5 {
				sendMD5 = md5b64
			}
			run(t, tab, chromedp.SetUploadFiles(chromedp.ID("abstract"), []string{file(t, "abstract.txt", data)}))
			args, err := json.Marshal([]string{u, sendMD5})
			require.NoError(t, err)
			return value(t, tab, chromedp.Evaluate[answer](fmt.Sprintf("put(...%s)", args), chromedp.EvalAwaitPromise))
		}

		tampered := bytes.Replace(body, []byte("storage"), []byte("Storage"), 1)
		for name, c := range map[string]struct {
			data    []byte
			withMD5 bool
		}{
			"tampered, same length": {tampered, true},
			"a byte longer":         {append(bytes.Clone(body), '!'), true},
			"a byte shorter":        {body[:len(body)-1], true},
			"without Content-MD5":   {body, false},
		} {
			got := put(c.data, c.withMD5)
			assert.True(t, got.Status >= 400 && got.Status < 500, "%s: refused, got %d %s", name, got.Status, got.Answer)
			assert.Equal(t, old, readObject(t, s, key), "%s: the old object stays whole", name)
		}

		got := put(body, true)
		require.Equal(t, http.StatusOK, got.Status, got.Answer)
		assert.Equal(t, body, readObject(t, s, key), "the signed body is stored")
		info, err := s.Stat(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, "text/plain", info.ContentType)
	})

	t.Run("SignedDownload", func(t *testing.T) {
		key := prefix + "slides/3f9a.pdf"
		slides := append([]byte("%PDF-1.7\n"), testkit.PNG(t, 16, 16)...) // bytes of every value
		_, err := s.Put(ctx, key, bytes.NewReader(slides), &storage.PutOptions{ContentType: "application/pdf"})
		require.NoError(t, err)
		names := map[string]string{
			"ascii":   "Slides day 1.pdf",
			"unicode": "Präsentation – Tag 1.pdf",
		}
		links := url.Values{}
		for id, name := range names {
			disposition := mime.FormatMediaType("attachment", map[string]string{"filename": name})
			if id == "unicode" {
				require.Contains(t, disposition, "filename*=utf-8''", "RFC 6266's form for a name that is not ASCII")
			}
			u, err := s.SignedURL(ctx, key, &storage.SignOptions{ResponseContentDisposition: disposition})
			require.NoError(t, err)
			links.Set(id, u)
		}

		dir := allowDownloads(t, tab)
		page := site.URL + "/links?" + links.Encode()
		run(t, tab, chromedp.Navigate(page))
		for id, name := range names {
			d := clickDownload(t, tab, dir, id)
			assert.True(t, strings.Contains(d.url, url.PathEscape("3f9a.pdf")), "%s: the download is of the signed link: %s", id, d.url)
			assert.Equal(t, name, d.name, "%s: saved under the signed Content-Disposition's name", id)
			assert.Equal(t, slides, d.data, "%s: saved whole", id)
			assert.Equal(t, page, value(t, tab, chromedp.Location()), "%s: the page stayed", id)
		}
		info, err := s.Stat(ctx, key)
		require.NoError(t, err)
		assert.Empty(t, info.ContentDisposition, "the stored object is unchanged")
		assert.Equal(t, "application/pdf", info.ContentType)
	})
}
