// Package testkit holds what the tests of every module of this repository
// share: the one reading of the MinIO test environment that scripts/minio
// writes, test images, a buffer safe for goroutines. It imports nothing of package storage, so that
// the root package's internal tests can use it too.
package testkit

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"maps"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// MinIOEnv is the main test bucket of the MinIO server that scripts/minio
// starts, with root credentials.
type MinIOEnv struct {
	Endpoint, Bucket, AccessKey, SecretKey string
}

// MissingMinIO is why a test without the MinIO environment stops.
const MissingMinIO = "no MinIO server: run scripts/test, or `scripts/minio start` and source .minio/env, to run the S3 tests"

var minioSkips atomic.Int32

// MinIO returns the MinIO test environment (the STORAGE_TEST_S3_*
// variables), or skips the test when it is not set; under CI=true it fails
// the test instead, so that CI can never pass without the S3 tests. Under
// Wine (scripts/wine) it skips them unless STORAGE_TEST_WINE_S3=1.
func MinIO(t testing.TB) MinIOEnv {
	t.Helper()
	if os.Getenv("STORAGE_TEST_WINE") == "1" && os.Getenv("STORAGE_TEST_WINE_S3") != "1" {
		// They pass there too (STORAGE_TEST_WINE_S3=1 runs them), in about
		// half an hour on 2 cores: S3's code is the same on every system.
		t.Skip("Wine: not run under Wine, for time; they run on Linux, and S3's one Windows-only part, the refused-connection error, is tested without MinIO (STORAGE_TEST_WINE_S3=1 runs them)")
	}
	e := MinIOEnv{
		Endpoint:  os.Getenv("STORAGE_TEST_S3_ENDPOINT"),
		Bucket:    os.Getenv("STORAGE_TEST_S3_BUCKET"),
		AccessKey: os.Getenv("STORAGE_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("STORAGE_TEST_S3_SECRET_KEY"),
	}
	if e.Endpoint == "" || e.Bucket == "" || e.AccessKey == "" || e.SecretKey == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(MissingMinIO + " (CI=true: the S3 tests must run)")
		}
		minioSkips.Add(1)
		t.Skip(MissingMinIO)
	}
	return e
}

// KMSKeyID returns the key of the MinIO server that scripts/minio starts
// with a KMS (its second one), or skips the test when it is not set; under
// CI=true it fails the test instead.
func KMSKeyID(t testing.TB) string {
	t.Helper()
	id := os.Getenv("STORAGE_TEST_S3_KMS_KEY_ID")
	if id == "" {
		const msg = "no KMS key: scripts/minio start sets STORAGE_TEST_S3_KMS_KEY_ID for its MinIO server with a KMS"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the KMS tests must run)")
		}
		t.Skip(msg)
	}
	return id
}

// MinIOSkips is how many tests MinIO has skipped, which a TestMain sums up
// in one line: a skip alone shows only under -v.
func MinIOSkips() int { return int(minioSkips.Load()) }

// Buffer is a bytes.Buffer that goroutines may write at once, such as
// those of a logger or of a child process's output, while a test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// PNG returns a w×h PNG image, red 200 everywhere, its green and blue
// growing with x and y.
func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{R: 200, G: uint8(x * 5), B: uint8(y * 5), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// PostForm posts a multipart/form-data form to url as a browser sends the
// forms of SignedPost: fields in name order, then data as the file, last,
// in the field "file" named filename. It returns the response's status.
func PostForm(t testing.TB, url string, fields map[string]string, filename string, data []byte) int {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if err := mw.WriteField(name, fields[name]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
