package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/orga-server/storage"
)

// signPhotoUpload is the handler of the README's "Direct uploads from the
// browser": it decides the key and the bounds, and hands the page a form.
func signPhotoUpload(s storage.Storage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// In orga-server: check the session, and derive the key from the
		// speaker's record, never from the request.
		key := "events/42/speakers/7/photo"
		form, err := s.SignedPost(r.Context(), key, &storage.PostOptions{
			MaxSize:     5 << 20,  // 5 MiB; a larger file is refused, nothing stored
			ContentType: "image/", // any image type, chosen by the page
		})
		if err != nil {
			http.Error(w, "cannot sign the upload", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"url": form.URL, "fields": form.Fields})
	}
}

// signingLocal returns a Local in a fresh directory that signs URLs and
// forms, and a function that removes it.
func signingLocal() (storage.Storage, func()) {
	dir, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	local, err := storage.NewLocal(dir, &storage.LocalOptions{SigningKey: storage.NewSecret("at least 32 random bytes from a secret store")})
	if err != nil {
		log.Fatal(err)
	}
	return local, func() { local.Close(); os.RemoveAll(dir) }
}

// Example_browserUpload runs the README's direct upload: the server signs a
// form, and the client posts the file to the storage, as the page's fetch
// does (browsertest/uploads_test.go runs the page itself in Chromium).
func Example_browserUpload() {
	s, done := signingLocal() // at startup: s, err := storage.FromEnv()
	defer done()

	mux := http.NewServeMux()
	mux.Handle("POST /api/photo-upload", signPhotoUpload(s))
	if pattern, h := storage.Handler(s); h != nil { // nil for S3
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What the page does: get the form, post its fields, then the file.
	resp, err := http.Post(srv.URL+"/api/photo-upload", "", nil)
	if err != nil {
		log.Fatal(err)
	}
	var form struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	}
	json.NewDecoder(resp.Body).Decode(&form)
	resp.Body.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, value := range form.Fields {
		mw.WriteField(name, value)
	}
	mw.WriteField("Content-Type", "image/png") // the file's type, under "image/"
	fw, _ := mw.CreateFormFile("file", "me.png")
	fw.Write([]byte("…png bytes…"))
	mw.Close()
	// On Local the form's URL is a path on the same server; on S3 it is
	// the bucket's URL.
	resp, err = http.Post(srv.URL+form.URL, mw.FormDataContentType(), &body)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	info, err := s.Stat(context.Background(), "events/42/speakers/7/photo")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Key, info.Size, info.ContentType)
	// Output:
	// 204
	// events/42/speakers/7/photo 15 image/png
}
