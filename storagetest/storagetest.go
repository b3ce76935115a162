// Package storagetest is the conformance suite of [storage.Storage]: every
// backend of package storage runs it unchanged, and so can any wrapper or
// backend of yours.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run runs the conformance suite. newStorage is called once per subtest and
// must return a Storage holding no objects; it should register with t.Cleanup
// whatever must be released afterwards.
func Run(t *testing.T, newStorage func(t *testing.T) storage.Storage) {
	runCases(t, newStorage, []suiteCase{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"ReaderClose", testReaderClose},
		{"InfoFields", testInfoFields},
		{"MetadataText", testMetadataText},
		{"RefusedOptions", testRefusedOptions},
		{"LargestAttributes", testLargestAttributes},
		{"ContentType", testContentType},
		{"Range", testRange},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"ListDelimiter", testListDelimiter},
		{"ListStopsEarly", testListStopsEarly},
		{"Copy", testCopy},
		{"CopyKeepsType", testCopyKeepsType},
		{"DeletePrefix", testDeletePrefix},
		{"InvalidKeys", testInvalidKeys},
		{"UnusualKeys", testUnusualKeys},
		{"CancelledContext", testCancelledContext},
		{"FailedPutKeepsOld", testFailedPutKeepsOld},
		{"ConcurrentPutsAndReads", testConcurrentPutsAndReads},
		{"URL", testURL},
		{"SignOptions", testSignOptions},
		{"PostOptions", testPostOptions},
	})
}

type suiteCase struct {
	name string
	test func(*testing.T, storage.Storage)
}

// runCases runs each case as a subtest on a storage of its own.
func runCases(t *testing.T, newStorage func(t *testing.T) storage.Storage, cases []suiteCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.test(t, newStorage(t)) })
	}
}

func put(t *testing.T, s storage.Storage, key string, data []byte, opts *storage.PutOptions) storage.Info {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data), opts)
	require.NoError(t, err, "put %q", key)
	return info
}

func read(t *testing.T, s storage.Storage, key string) []byte {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	require.NoError(t, err, "get %q", key)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err, "read %q", key)
	return data
}

func keys(t *testing.T, s storage.Storage, prefix string, opts *storage.ListOptions) []string {
	t.Helper()
	out := []string{}
	for info, err := range s.List(context.Background(), prefix, opts) {
		require.NoError(t, err, "list %q", prefix)
		if info.IsDir {
			assert.True(t, strings.HasSuffix(info.Key, opts.Delimiter), "grouped key %q ends with the delimiter", info.Key)
		}
		out = append(out, info.Key)
	}
	return out
}

// payload returns n bytes that differ with seed, so that a swapped or torn
// object cannot pass for the right one.
func payload(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// onlyReader hides Len, Seek and WriterTo, as a network body or pipe would.
type onlyReader struct{ io.Reader }

func testRoundTrip(t *testing.T, s storage.Storage) {
	for _, size := range []int{0, 1, 11, 64 << 10, 9<<20 + 7} {
		data := payload(uint64(size), size)
		key := fmt.Sprintf("roundtrip/%d.bin", size)
		info := put(t, s, key, data, nil)
		assert.Equal(t, int64(size), info.Size)
		assert.Equal(t, data, read(t, s, key), "size %d", size)

		// The same through a reader of unknown size.
		key = fmt.Sprintf("roundtrip/stream-%d.bin", size)
		info, err := s.Put(context.Background(), key, onlyReader{bytes.NewReader(data)}, nil)
		require.NoError(t, err)
		assert.Equal(t, int64(size), info.Size)
		assert.Equal(t, data, read(t, s, key), "streamed size %d", size)
	}
}

// testReaderClose: a closed Reader says so, whichever way it was opened.
func testReaderClose(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	put(t, s, "exports/report.csv", []byte("a,b\n1,2\n"), nil)
	for name, open := range map[string]func() (*storage.Reader, error){
		"get":                func() (*storage.Reader, error) { return s.Get(ctx, "exports/report.csv") },
		"range":              func() (*storage.Reader, error) { return s.GetRange(ctx, "exports/report.csv", 2, 3) },
		"empty range":        func() (*storage.Reader, error) { return s.GetRange(ctx, "exports/report.csv", 2, 0) },
		"range past the end": func() (*storage.Reader, error) { return s.GetRange(ctx, "exports/report.csv", 100, 1) },
	} {
		r, err := open()
		require.NoError(t, err, name)
		_, err = r.Read(make([]byte, 1))
		assert.True(t, err == nil || err == io.EOF, "%s: read: %v", name, err)
		assert.NoError(t, r.Close(), name)
		_, err = r.Read(make([]byte, 1))
		assert.ErrorIs(t, err, fs.ErrClosed, "%s: read after close", name)
		assert.ErrorIs(t, r.Close(), fs.ErrClosed, "%s: close again", name)
	}

	// Close from another goroutine stops a Reader another one reads from.
	r, err := s.Get(ctx, "exports/report.csv")
	require.NoError(t, err)
	closed := make(chan error)
	go func() { closed <- r.Close() }()
	for {
		if _, err := r.Read(make([]byte, 1)); err != nil {
			break
		}
	}
	assert.NoError(t, <-closed)
}

func testOverwrite(t *testing.T, s storage.Storage) {
	put(t, s, "events/1/logo.png", payload(1, 3000), nil)
	second := payload(2, 1000)
	put(t, s, "events/1/logo.png", second, nil)
	assert.Equal(t, second, read(t, s, "events/1/logo.png"))
	info, err := s.Stat(context.Background(), "events/1/logo.png")
	require.NoError(t, err)
	assert.Equal(t, int64(len(second)), info.Size)
	assert.Equal(t, []string{"events/1/logo.png"}, keys(t, s, "", nil))
}

func testInfoFields(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	data := []byte("%PDF-1.4 slides")
	opts := &storage.PutOptions{
		ContentType:        "application/pdf",
		ContentDisposition: `attachment; filename="talk.pdf"`,
		CacheControl:       "public, max-age=3600",
		Metadata:           map[string]string{"Uploaded-By": "speaker-7", "event": "42"},
	}
	before := time.Now().Add(-time.Minute)
	put1 := put(t, s, "events/42/slides/talk.pdf", data, opts)
	after := time.Now().Add(time.Minute)

	stat, got := statAndGet(t, s, "events/42/slides/talk.pdf")

	wantMeta := map[string]string{"uploaded-by": "speaker-7", "event": "42"}
	for name, info := range map[string]storage.Info{"put": put1, "stat": stat, "get": got} {
		assert.Equal(t, "events/42/slides/talk.pdf", info.Key, name)
		assert.Equal(t, int64(len(data)), info.Size, name)
		assert.Equal(t, opts.ContentType, info.ContentType, name)
		assert.Equal(t, opts.ContentDisposition, info.ContentDisposition, name)
		assert.Equal(t, opts.CacheControl, info.CacheControl, name)
		assert.Equal(t, wantMeta, info.Metadata, name)
		assert.NotEmpty(t, info.ETag, name)
		assert.Equal(t, put1.ETag, info.ETag, name)
		assert.WithinRange(t, info.ModTime, before, after, name)
		assert.Equal(t, info.ModTime.UTC().Truncate(time.Second), info.ModTime, "%s: whole seconds in UTC, as S3 keeps them", name)
		assert.False(t, info.IsDir, name)
	}

	put2 := put(t, s, "events/42/slides/talk.pdf", []byte("%PDF-1.4 other slides"), opts)
	assert.NotEqual(t, put1.ETag, put2.ETag, "new content, new ETag")

	for info, err := range s.List(ctx, "events/42/", nil) {
		require.NoError(t, err)
		assert.Equal(t, storage.Info{Key: "events/42/slides/talk.pdf", Size: put2.Size, ETag: put2.ETag, ModTime: info.ModTime}, info,
			"List gives key, size, ETag and time only, as S3 lists them")
		assert.WithinRange(t, info.ModTime, before, after)
	}
}

// statAndGet returns what Stat and Get say of the object under key.
func statAndGet(t *testing.T, s storage.Storage, key string) (stat, get storage.Info) {
	t.Helper()
	stat, err := s.Stat(context.Background(), key)
	require.NoError(t, err)
	r, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	defer r.Close()
	return stat, r.Info()
}

// pngHeader is the start of every PNG file.
var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// testMetadataText stores attributes that are not ASCII, or that a careless
// client would send in a form S3 changes, and reads them back unchanged.
func testMetadataText(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	opts := &storage.PutOptions{
		// RFC 6266's filename* holds any file name in ASCII.
		ContentDisposition: mime.FormatMediaType("attachment", map[string]string{"filename": "Präsentation – Überblick.pdf"}),
		Metadata: map[string]string{
			"original-name": "Präsentation – Überblick.pdf",
			"speaker":       "山田 太郎",
			"spaced":        "a  b",
			"empty":         "",
			"equals":        "a=?b",
			"long":          strings.Repeat("ß", 300),
		},
	}
	put1 := put(t, s, "events/42/slides/talk.pdf", []byte("%PDF-1.4"), opts)
	stat, got := statAndGet(t, s, "events/42/slides/talk.pdf")
	copied, err := s.Copy(ctx, "events/43/slides/talk.pdf", "events/42/slides/talk.pdf")
	require.NoError(t, err)
	copyStat, copyGot := statAndGet(t, s, "events/43/slides/talk.pdf")
	for name, info := range map[string]storage.Info{"put": put1, "stat": stat, "get": got, "copy": copied, "stat of the copy": copyStat, "get of the copy": copyGot} {
		assert.Equal(t, opts.Metadata, info.Metadata, name)
		assert.Equal(t, opts.ContentDisposition, info.ContentDisposition, name)
	}
}

// testLargestAttributes stores attributes at the documented limits, which
// every backend must hold: 2 KiB of metadata as S3 counts it, and 1.5 KiB of
// content type, disposition and cache control together, in characters that
// HTML-safe encodings make longer.
func testLargestAttributes(t *testing.T, s storage.Storage) {
	const typ = "text/plain; charset=utf-8"
	disposition := `attachment; filename="` + strings.Repeat(`x<&>`, 300) + `.txt"`
	opts := &storage.PutOptions{
		ContentType:        typ,
		ContentDisposition: disposition,
		CacheControl:       "max-age=" + strings.Repeat("9", 1536-len(typ)-len(disposition)-len("max-age=")),
		// x-amz-meta-, the name and the value: 2048 bytes.
		Metadata: map[string]string{"notes": strings.Repeat(`<'&>`, (2048-len("x-amz-meta-notes"))/4)},
	}
	put1 := put(t, s, "exports/limits.txt", []byte("x"), opts)
	stat, got := statAndGet(t, s, "exports/limits.txt")
	for name, info := range map[string]storage.Info{"put": put1, "stat": stat, "get": got} {
		assert.Equal(t, opts.ContentType, info.ContentType, name)
		assert.Equal(t, opts.ContentDisposition, info.ContentDisposition, name)
		assert.Equal(t, opts.CacheControl, info.CacheControl, name)
		assert.Equal(t, opts.Metadata, info.Metadata, name)
	}
}

// testRefusedOptions: attributes that S3 would refuse, change or split into
// another header are refused before anything is stored, on every backend.
func testRefusedOptions(t *testing.T, s storage.Storage) {
	for name, opts := range map[string]*storage.PutOptions{
		"metadata name with a space":              {Metadata: map[string]string{"uploaded by": "7"}},
		"metadata names equal but for case":       {Metadata: map[string]string{"Owner": "alice", "owner": "bob"}},
		"metadata value with a line break":        {Metadata: map[string]string{"note": "a\r\nX-Injected: 1"}},
		"metadata value with a space at the end":  {Metadata: map[string]string{"note": "7 "}},
		"metadata value that is not UTF-8":        {Metadata: map[string]string{"note": "\xff"}},
		"metadata value with an encoded word":     {Metadata: map[string]string{"note": "=?utf-8?q?caf=C3=A9?="}},
		"metadata over 2 KiB":                     {Metadata: map[string]string{"a": strings.Repeat("x", 1100), "b": strings.Repeat("y", 1000)}},
		"metadata a byte over 2 KiB":              {Metadata: map[string]string{"notes": strings.Repeat("x", 2048-len("x-amz-meta-notes")+1)}},
		"attributes a byte over 1.5 KiB":          {ContentDisposition: "attachment", CacheControl: "max-age=" + strings.Repeat("9", 1536-len("attachment")-len("max-age=")+1)},
		"metadata over 2 KiB once encoded":        {Metadata: map[string]string{"a": strings.Repeat("ü", 800)}},
		"disposition with a line break":           {ContentDisposition: "attachment\r\nX-Injected: 1"},
		"disposition not ASCII":                   {ContentDisposition: `attachment; filename="Präsentation.pdf"`},
		"cache control with a space at the start": {CacheControl: " no-cache"},
		"content type with a space at the start":  {ContentType: " image/png"},
	} {
		_, err := s.Put(context.Background(), "refused/options.png", strings.NewReader("x"), opts)
		assert.ErrorIs(t, err, fs.ErrInvalid, name)
	}
	_, err := s.Stat(context.Background(), "refused/options.png")
	assert.ErrorIs(t, err, fs.ErrNotExist, "a refused Put stores nothing")
}

func testContentType(t *testing.T, s storage.Storage) {
	cases := []struct {
		key, explicit string
		data          []byte
		want          string
	}{
		{"by-extension/photo.png", "", []byte("not really a png"), "image/png"},
		{"by-extension/PHOTO.JPG", "", []byte("x"), "image/jpeg"},
		{"by-extension/slides.pdf", "", []byte("x"), "application/pdf"},
		{"sniffed/photo", "", pngHeader, "image/png"},
		{"sniffed/page", "", []byte("<!DOCTYPE html><html><body>hi</body></html>"), "text/html; charset=utf-8"},
		{"sniffed/notes", "", []byte("plain words"), "text/plain; charset=utf-8"},
		{"sniffed/empty", "", nil, "application/octet-stream"},
		{"explicit/photo.png", "image/webp", pngHeader, "image/webp"},
	}
	for _, c := range cases {
		info := put(t, s, c.key, c.data, &storage.PutOptions{ContentType: c.explicit})
		assert.Equal(t, c.want, info.ContentType, "put %s", c.key)
		stat, err := s.Stat(context.Background(), c.key)
		require.NoError(t, err)
		assert.Equal(t, c.want, stat.ContentType, "stat %s", c.key)
		assert.Equal(t, c.data, nilIfEmpty(read(t, s, c.key)), "sniffing keeps every byte of %s", c.key)
	}

	// Browsers take the last of a list of types: this one would be stored
	// as an image and rendered as HTML.
	for _, bad := range []string{"image/png, text/html", "image/png;x=y,text/html", "png"} {
		_, err := s.Put(context.Background(), "refused/avatar.png", strings.NewReader("<script>alert(1)</script>"), &storage.PutOptions{ContentType: bad})
		assert.ErrorIs(t, err, fs.ErrInvalid, "content type %q", bad)
	}
	_, err := s.Stat(context.Background(), "refused/avatar.png")
	assert.ErrorIs(t, err, fs.ErrNotExist, "a refused Put stores nothing")
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func testRange(t *testing.T, s storage.Storage) {
	data := payload(7, 1000)
	put(t, s, "videos/talk.bin", data, nil)
	cases := []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"start", 0, 10, data[:10]},
		{"middle", 100, 50, data[100:150]},
		{"to the end", 900, -1, data[900:]},
		{"whole", 0, -1, data},
		{"zero length", 10, 0, nil},
		{"across the end", 990, 100, data[990:]},
		{"at the end", 1000, 10, nil},
		{"past the end", 5000, 10, nil},
		{"past the end to the end", 5000, -1, nil},
	}
	for _, c := range cases {
		r, err := s.GetRange(context.Background(), "videos/talk.bin", c.offset, c.length)
		require.NoError(t, err, c.name)
		got, err := io.ReadAll(r)
		require.NoError(t, err, c.name)
		require.NoError(t, r.Close())
		assert.Equal(t, c.want, nilIfEmpty(got), c.name)
		assert.Equal(t, int64(len(data)), r.Info().Size, "%s: Info describes the whole object", c.name)
	}
}

func testMissing(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	put(t, s, "events/1/logo.png", []byte("x"), nil)
	for _, key := range []string{"missing", "events/1/missing.png", "events/1/logo.png/inside", "events"} {
		_, err := s.Get(ctx, key)
		assert.ErrorIs(t, err, fs.ErrNotExist, "get %q", key)
		_, err = s.GetRange(ctx, key, 0, 10)
		assert.ErrorIs(t, err, fs.ErrNotExist, "get range %q", key)
		_, err = s.Stat(ctx, key)
		assert.ErrorIs(t, err, fs.ErrNotExist, "stat %q", key)
		_, err = s.Copy(ctx, "copies/x", key)
		assert.ErrorIs(t, err, fs.ErrNotExist, "copy from %q", key)
		ok, err := storage.Exists(ctx, s, key)
		assert.NoError(t, err)
		assert.False(t, ok, "exists %q", key)
	}
	_, err := s.Get(ctx, "events/1/missing.png")
	checkOpError(t, err, "get", "events/1/missing.png")
	ok, err := storage.Exists(ctx, s, "events/1/logo.png")
	assert.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, []string{"events/1/logo.png"}, keys(t, s, "", nil), "a failed copy creates nothing")
}

func testDelete(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	require.NoError(t, s.Delete(ctx, "never/existed"), "deleting a missing key is not an error")
	put(t, s, "events/1/logo.png", []byte("x"), nil)
	put(t, s, "events/1/banner.png", []byte("y"), nil)
	require.NoError(t, s.Delete(ctx, "events/1/logo.png"))
	require.NoError(t, s.Delete(ctx, "events/1/logo.png"), "deleting twice is not an error")
	_, err := s.Stat(ctx, "events/1/logo.png")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, []string{"events/1/banner.png"}, keys(t, s, "", nil))
	require.NoError(t, s.Delete(ctx, "events/1/banner.png"))
	assert.Equal(t, []string{}, keys(t, s, "", nil))
	assert.Equal(t, []string{}, keys(t, s, "", &storage.ListOptions{Delimiter: "/"}), "no empty folder is left")
}

// listKeys are chosen so that a walk sorting file and folder names naively
// ("b" before "b-c") yields the wrong order: '-' < '/' < '0' in bytes.
var listKeys = []string{"a.txt", "b-c", "b/1", "b/2", "b/c/3", "b0", "c", "d/e/f/g", "é/1"}

func putAll(t *testing.T, s storage.Storage, keys []string) {
	t.Helper()
	// Out of order, so that order of creation cannot pass for byte order.
	for i := len(keys) - 1; i >= 0; i-- {
		put(t, s, keys[i], []byte(keys[i]), nil)
	}
}

func testList(t *testing.T, s storage.Storage) {
	assert.Equal(t, []string{}, keys(t, s, "", nil), "empty storage")
	putAll(t, s, listKeys)
	assert.Equal(t, listKeys, keys(t, s, "", nil))
	assert.Equal(t, []string{"b-c", "b/1", "b/2", "b/c/3", "b0"}, keys(t, s, "b", nil), "prefix not at a folder boundary")
	assert.Equal(t, []string{"b/1", "b/2", "b/c/3"}, keys(t, s, "b/", nil), "prefix at a folder boundary")
	assert.Equal(t, []string{"b/c/3"}, keys(t, s, "b/c", nil))
	assert.Equal(t, []string{"d/e/f/g"}, keys(t, s, "d/e/", nil))
	assert.Equal(t, []string{}, keys(t, s, "zzz", nil), "no match")
	assert.Equal(t, []string{}, keys(t, s, "b/c/3/", nil), "an object is not a folder")
	assert.Equal(t, []string{"a.txt"}, keys(t, s, "a.txt", nil), "a whole key")

	for info, err := range s.List(context.Background(), "b/", nil) {
		require.NoError(t, err)
		assert.Equal(t, int64(len(info.Key)), info.Size, info.Key)
		assert.NotEmpty(t, info.ETag, info.Key)
		assert.False(t, info.ModTime.IsZero(), info.Key)
		assert.False(t, info.IsDir, info.Key)
	}
}

func testListDelimiter(t *testing.T, s storage.Storage) {
	putAll(t, s, listKeys)
	slash := &storage.ListOptions{Delimiter: "/"}
	assert.Equal(t, []string{"a.txt", "b-c", "b/", "b0", "c", "d/", "é/"}, keys(t, s, "", slash))
	assert.Equal(t, []string{"b-c", "b/", "b0"}, keys(t, s, "b", slash))
	assert.Equal(t, []string{"b/1", "b/2", "b/c/"}, keys(t, s, "b/", slash))
	assert.Equal(t, []string{"d/e/"}, keys(t, s, "d/", slash))
	assert.Equal(t, []string{}, keys(t, s, "x/", slash))

	for info, err := range s.List(context.Background(), "", slash) {
		require.NoError(t, err)
		assert.Equal(t, strings.HasSuffix(info.Key, "/"), info.IsDir, info.Key)
	}
	// A delimiter other than "/" groups as S3 does.
	assert.Equal(t, []string{"a.txt", "b-", "b/1", "b/2", "b/c/3", "b0", "c", "d/e/f/g", "é/1"},
		keys(t, s, "", &storage.ListOptions{Delimiter: "-"}))
}

func testListStopsEarly(t *testing.T, s storage.Storage) {
	putAll(t, s, listKeys)
	var got []string
	for info, err := range s.List(context.Background(), "", nil) {
		require.NoError(t, err)
		got = append(got, info.Key)
		if len(got) == 3 {
			break
		}
	}
	assert.Equal(t, listKeys[:3], got)
}

func testCopy(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	data := payload(3, 70<<10)
	opts := &storage.PutOptions{ContentType: "image/webp", CacheControl: "no-cache", Metadata: map[string]string{"owner": "7"}}
	src := put(t, s, "speakers/7/photo.webp", data, opts)
	put(t, s, "archive/photo.webp", []byte("old"), nil)

	dst, err := s.Copy(ctx, "archive/photo.webp", "speakers/7/photo.webp")
	require.NoError(t, err)
	assert.Equal(t, "archive/photo.webp", dst.Key)
	assert.Equal(t, src.Size, dst.Size)
	assert.Equal(t, "image/webp", dst.ContentType)
	assert.Equal(t, map[string]string{"owner": "7"}, dst.Metadata)
	assert.Equal(t, data, read(t, s, "archive/photo.webp"), "copy replaces the old object")
	assert.Equal(t, data, read(t, s, "speakers/7/photo.webp"), "the source stays")

	stat, err := s.Stat(ctx, "archive/photo.webp")
	require.NoError(t, err)
	assert.Equal(t, "image/webp", stat.ContentType)
	assert.Equal(t, "no-cache", stat.CacheControl)
	assert.Equal(t, map[string]string{"owner": "7"}, stat.Metadata)

	// Onto itself: nothing changes, as S3 refuses to rewrite an object
	// with its own attributes.
	before, err := s.Stat(ctx, "speakers/7/photo.webp")
	require.NoError(t, err)
	time.Sleep(1100 * time.Millisecond) // a rewrite would show in a later ModTime
	self, err := s.Copy(ctx, "speakers/7/photo.webp", "speakers/7/photo.webp")
	require.NoError(t, err)
	after, err := s.Stat(ctx, "speakers/7/photo.webp")
	require.NoError(t, err)
	assert.Equal(t, before, self, "copy onto itself returns the object as it is")
	assert.Equal(t, before, after, "copy onto itself changes nothing")
}

// testCopyKeepsType checks that a copy keeps its source's content type even
// where the destination's extension implies another one.
func testCopyKeepsType(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	put(t, s, "slides/talk.pdf", []byte("%PDF-1.7"), nil)
	put(t, s, "uploads/raw", []byte{0, 1, 2, 0xff}, nil)
	put(t, s, "uploads/logo.png", []byte("not really a png"), &storage.PutOptions{ContentType: "image/svg+xml"})
	for dst, src := range map[string]string{
		"exports/talk":     "slides/talk.pdf",
		"exports/talk.png": "slides/talk.pdf",
		"exports/raw.png":  "uploads/raw",
		"exports/logo.pdf": "uploads/logo.png",
	} {
		want, err := s.Stat(ctx, src)
		require.NoError(t, err)
		copied, err := s.Copy(ctx, dst, src)
		require.NoError(t, err, "copy %q to %q", src, dst)
		assert.Equal(t, want.ContentType, copied.ContentType, "copy %q to %q", src, dst)
		got, err := s.Stat(ctx, dst)
		require.NoError(t, err)
		assert.Equal(t, want.ContentType, got.ContentType, "stat %q, copied from %q", dst, src)
	}
}

func testDeletePrefix(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	putAll(t, s, []string{"events/1/a", "events/1/b/c", "events/10/a", "events/2/a", "other"})

	n, err := storage.DeletePrefix(ctx, s, "events/1/")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"events/10/a", "events/2/a", "other"}, keys(t, s, "", nil))

	n, err = storage.DeletePrefix(ctx, s, "nothing/")
	require.NoError(t, err)
	assert.Equal(t, 0, n)

	_, err = storage.DeletePrefix(ctx, s, "")
	assert.ErrorIs(t, err, storage.ErrInvalidKey, "an empty prefix would delete everything")
	_, err = storage.DeletePrefix(ctx, s, "../")
	assert.ErrorIs(t, err, storage.ErrInvalidKey)

	n, err = storage.DeletePrefix(ctx, s, "events/")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"other"}, keys(t, s, "", nil))
}

// InvalidKeys lists keys that break the key rules, one rule each.
var InvalidKeys = map[string]string{
	"empty":                "",
	"parent":               "../x",
	"parent inside":        "a/../../x",
	"only parent":          "..",
	"dot":                  ".",
	"absolute":             "/abs",
	"empty segment":        "a//b",
	"dot segment":          "a/./b",
	"backslash":            `a\b`,
	"backslash traversal":  `..\x`,
	"NUL":                  "a\x00b",
	"newline":              "a\nb",
	"DEL":                  "a\x7fb",
	"C1 control":           "a\u0085b",
	"too long":             strings.Repeat("a", storage.MaxKeyLen+1),
	"segment too long":     "events/1/" + strings.Repeat("n", storage.MaxSegmentLen+1) + ".png",
	"invalid UTF-8":        "a\xffb",
	"trailing slash":       "a/",
	"only slash":           "/",
	"trailing dot segment": "a/..",
}

func testInvalidKeys(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	put(t, s, "ok", []byte("x"), nil)
	for name, key := range InvalidKeys {
		require.ErrorIs(t, storage.ValidateKey(key), storage.ErrInvalidKey, name)
		check := func(op string, err error) {
			t.Helper()
			assert.ErrorIs(t, err, storage.ErrInvalidKey, "%s: %s", name, op)
			assert.ErrorIs(t, err, fs.ErrInvalid, "%s: %s", name, op)
			checkOpError(t, err, op, key)
		}
		_, err := s.Put(ctx, key, strings.NewReader("x"), nil)
		check("put", err)
		_, err = s.Get(ctx, key)
		check("get", err)
		_, err = s.GetRange(ctx, key, 0, 1)
		check("get range", err)
		_, err = s.GetRange(ctx, key, -1, 1)
		check("get range", err) // the key is checked first
		_, err = s.Stat(ctx, key)
		check("stat", err)
		check("delete", s.Delete(ctx, key))
		_, err = s.Copy(ctx, key, "ok")
		check("copy", err)
		_, err = s.Copy(ctx, "ok2", key)
		check("copy", err)
		_, err = s.URL(key)
		check("url", err)
		_, err = s.SignedURL(ctx, key, nil)
		check("sign", err)
		_, err = storage.Exists(ctx, s, key)
		assert.ErrorIs(t, err, storage.ErrInvalidKey, name)
	}
	for _, prefix := range []string{"/", "../", "a//", "a/./", "a\\", "\xff"} {
		listed := 0
		for _, err := range s.List(ctx, prefix, nil) {
			assert.ErrorIs(t, err, storage.ErrInvalidKey, "list %q", prefix)
			listed++
		}
		assert.Equal(t, 1, listed, "list %q yields the error, once", prefix)
	}
	assert.Equal(t, []string{"ok"}, keys(t, s, "", nil), "no invalid key wrote anything")
	assert.Equal(t, []byte("x"), read(t, s, "ok"))
}

// UnusualKeys are valid keys that a URL must escape or a filesystem may
// trip on: spaces, "+" (which S3 reads as a space), "%", "#", "?", unicode,
// HTML-special characters and segments of dots.
var UnusualKeys = []string{
	"événements/42/ünïcödé 日本 ñ.png",
	"with space/a b.txt",
	"plus+sign/c++.txt",
	"percent/100%.txt",
	"hash#and?query.txt",
	"semi;colon=equals&amp,x.txt",
	".hidden/.file",
	"..dots/...",
	"quote'\"<>&.txt",
}

func testUnusualKeys(t *testing.T, s storage.Storage) {
	long := strings.Repeat(strings.Repeat("k", 99)+"/", 10) + strings.Repeat("z", storage.MaxKeyLen-1000)
	require.Len(t, long, storage.MaxKeyLen)
	longSegments := strings.Repeat("s", storage.MaxSegmentLen) + "/" + strings.Repeat("t", storage.MaxSegmentLen)
	unusual := append(slices.Clone(UnusualKeys), long, longSegments)
	// A storage with its own key rules (Local on Windows) must refuse the
	// keys it says it cannot store, and store the others.
	checker, _ := s.(interface{ CheckKey(string) error })
	unusual = slices.DeleteFunc(unusual, func(key string) bool {
		if checker == nil || checker.CheckKey(key) == nil {
			return false
		}
		_, err := s.Put(context.Background(), key, strings.NewReader("x"), nil)
		assert.ErrorIs(t, err, storage.ErrInvalidKey, "put %q, which CheckKey refuses", key)
		return true
	})
	for i, key := range unusual {
		require.NoError(t, storage.ValidateKey(key), key)
		data := payload(uint64(i), 100+i)
		put(t, s, key, data, nil)
		assert.Equal(t, data, read(t, s, key), key)
	}
	got := keys(t, s, "", nil)
	assert.ElementsMatch(t, unusual, got)
	assert.Equal(t, []string{long}, keys(t, s, long, nil), "the longest key is a prefix too")
	assert.Equal(t, []string{longSegments}, keys(t, s, longSegments, nil), "a key ending in the longest segment is a prefix too")
	for _, err := range s.List(context.Background(), long+"x", nil) {
		assert.ErrorIs(t, err, storage.ErrInvalidKey, "no key starts with a prefix longer than any key")
	}
}

func testCancelledContext(t *testing.T, s storage.Storage) {
	put(t, s, "kept", []byte("old"), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := s.Put(ctx, "kept", strings.NewReader("new"), nil)
	assert.ErrorIs(t, err, context.Canceled, "put")
	_, err = s.Put(ctx, "new", strings.NewReader("new"), nil)
	assert.ErrorIs(t, err, context.Canceled, "put")
	_, err = s.Get(ctx, "kept")
	assert.ErrorIs(t, err, context.Canceled, "get")
	_, err = s.GetRange(ctx, "kept", 0, 1)
	assert.ErrorIs(t, err, context.Canceled, "get range")
	_, err = s.Stat(ctx, "kept")
	assert.ErrorIs(t, err, context.Canceled, "stat")
	assert.ErrorIs(t, s.Delete(ctx, "kept"), context.Canceled, "delete")
	_, err = s.Copy(ctx, "copy", "kept")
	assert.ErrorIs(t, err, context.Canceled, "copy")
	listed := 0
	for _, err := range s.List(ctx, "", nil) {
		assert.ErrorIs(t, err, context.Canceled, "list")
		listed++
	}
	assert.Equal(t, 1, listed, "list yields the error, once")

	// Cancelled in the middle of the upload.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	_, err = s.Put(ctx, "kept", io.MultiReader(bytes.NewReader(payload(1, 1<<20)), cancelReader{cancel}, bytes.NewReader(payload(2, 1<<20))), nil)
	assert.ErrorIs(t, err, context.Canceled, "put cancelled midway")

	assert.Equal(t, []byte("old"), read(t, s, "kept"))
	assert.Equal(t, []string{"kept"}, keys(t, s, "", nil))
}

// cancelReader cancels its context when the upload reaches it.
type cancelReader struct{ cancel context.CancelFunc }

func (c cancelReader) Read([]byte) (int, error) {
	c.cancel()
	return 0, io.EOF
}

var errBrokenUpload = errors.New("the upload broke")

func testFailedPutKeepsOld(t *testing.T, s storage.Storage) {
	put(t, s, "kept", []byte("old"), nil)
	// io.ErrUnexpectedEOF is what a cut download or a truncated gzip
	// stream returns: the body failed, it did not end. Sizes: within the
	// 512 bytes sniffed for a content type, within one buffer, several.
	for _, bodyErr := range []error{errBrokenUpload, io.ErrUnexpectedEOF} {
		for _, size := range []int{10, 100 << 10, 6 << 20} {
			for _, opts := range []*storage.PutOptions{nil, {ContentType: "text/plain"}} {
				r := io.MultiReader(bytes.NewReader(payload(1, size)), failingReader{bodyErr})
				_, err := s.Put(context.Background(), "kept", r, opts)
				assert.ErrorIs(t, err, bodyErr, "%d bytes, then %v, %+v: the reader's error is returned", size, bodyErr, opts)
				_, err = s.Put(context.Background(), "fresh", io.MultiReader(bytes.NewReader(payload(1, size)), failingReader{bodyErr}), opts)
				assert.ErrorIs(t, err, bodyErr)
			}
		}
	}
	assert.Equal(t, []byte("old"), read(t, s, "kept"))
	assert.Equal(t, []string{"kept"}, keys(t, s, "", nil), "a failed put leaves nothing")

	// Nor does a failed or cancelled Put under new folders leave anything
	// in the way of keys along its path.
	_, err := s.Put(context.Background(), "new/folders/photo.png", failingReader{errBrokenUpload}, &storage.PutOptions{ContentType: "image/png"})
	assert.ErrorIs(t, err, errBrokenUpload)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Put(cancelled, "other/new/photo.png", strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, context.Canceled)
	for _, key := range []string{"new", "other/new"} {
		put(t, s, key, []byte(key), nil)
		assert.Equal(t, []byte(key), read(t, s, key))
	}
	assert.Equal(t, []string{"kept", "new", "other/new"}, keys(t, s, "", nil))
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func testConcurrentPutsAndReads(t *testing.T, s storage.Storage) {
	if _, local := s.(*storage.Local); local && os.Getenv("STORAGE_TEST_WINE") == "1" {
		t.Skip("Wine: Wine 8 does not rename over a file that a reader holds open (Access denied); Windows 10 1607+ does (POSIX rename)")
	}
	const writers, readers = 32, 8
	ctx := context.Background()
	payloads := make(map[[32]byte]int, writers)
	bodies := make([][]byte, writers)
	for i := range bodies {
		bodies[i] = payload(uint64(100+i), 16<<10+i*997)
		payloads[sha256.Sum256(bodies[i])] = i
	}
	put(t, s, "contested", bodies[0], nil)

	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	done := make(chan struct{})
	var reads sync.WaitGroup
	for range readers {
		reads.Add(1)
		go func() {
			defer reads.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				r, err := s.Get(ctx, "contested")
				if err != nil {
					errs <- err
					return
				}
				data, err := io.ReadAll(r)
				r.Close()
				if err != nil {
					errs <- err
					return
				}
				if _, ok := payloads[sha256.Sum256(data)]; !ok {
					errs <- fmt.Errorf("read %d bytes that are no payload whole", len(data))
					return
				}
			}
		}()
	}
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Put(ctx, "contested", bytes.NewReader(bodies[i]), nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(done)
	reads.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	final := read(t, s, "contested")
	_, ok := payloads[sha256.Sum256(final)]
	assert.True(t, ok, "the last put wins whole")
	assert.Equal(t, []string{"contested"}, keys(t, s, "", nil))
}

func testURL(t *testing.T, s storage.Storage) {
	for _, key := range []string{"events/42/speakers/7/photo.png", "a b/c+d%e#f?g.png", "ü/ñ.png"} {
		u, err := s.URL(key)
		require.NoError(t, err, key)
		parsed, err := url.Parse(u)
		require.NoError(t, err, u)
		assert.True(t, strings.HasSuffix(parsed.Path, "/"+key), "%s: path %q ends with the key", u, parsed.Path)
		assert.Empty(t, parsed.RawQuery, "%s: nothing of the key leaks into the query", u)
		assert.Empty(t, parsed.Fragment, "%s: nothing of the key leaks into the fragment", u)
	}
}

func testSignOptions(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	put(t, s, "private/export.csv", []byte("a,b"), nil)
	_, err := s.SignedURL(ctx, "private/export.csv", nil)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("this backend cannot sign URLs")
	}
	require.NoError(t, err)
	for _, opts := range []*storage.SignOptions{
		{Expires: 8 * 24 * time.Hour},
		{Expires: -time.Second},
		{Method: "DELETE"},
		{Method: "PUT", ContentLength: -1},
		{Method: "PUT", ContentLength: 5<<30 + 1},
		{Method: "PUT", ContentMD5: "not base64"},
		{Method: "PUT", ContentMD5: "AAAA"}, // base64, but of 3 bytes
		{Method: "PUT", ResponseContentDisposition: "attachment"},
		{Method: "PUT", ResponseContentType: "application/pdf"},
		{ContentLength: 10},
		{ContentMD5: "1B2M2Y8AsgTpgAmY7PhCfg=="},
		{ResponseContentType: "image/png, text/html"},
		{ResponseContentDisposition: "attachment; filename=\"Präsentation.pdf\""},
	} {
		_, err := s.SignedURL(ctx, "private/export.csv", opts)
		assert.ErrorIs(t, err, fs.ErrInvalid, "%+v", opts)
	}
	u, err := s.SignedURL(ctx, "private/export.csv", &storage.SignOptions{Expires: 7 * 24 * time.Hour})
	require.NoError(t, err)
	assert.NotEmpty(t, u)
}

// testPostOptions checks that SignedPost refuses invalid options and keys
// before any I/O, on every backend, including those that cannot take posts.
func testPostOptions(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	for _, opts := range []*storage.PostOptions{
		nil,
		{},
		{MaxSize: -1},
		{MaxSize: 10, MinSize: -1},
		{MaxSize: 10, MinSize: 11},
		{MaxSize: 5<<30 + 1},
		{MaxSize: 10, Expires: 8 * 24 * time.Hour},
		{MaxSize: 10, ContentType: "image"},
		{MaxSize: 10, ContentType: "image/png/"},
		{MaxSize: 10, ContentType: "image/png, text/html"},
	} {
		_, err := s.SignedPost(ctx, "uploads/a.png", opts)
		assert.ErrorIs(t, err, fs.ErrInvalid, "%+v", opts)
		checkOpError(t, err, "sign", "uploads/a.png")
	}
	for _, key := range []string{"", "../a", "a//b", "a/"} {
		_, err := s.SignedPost(ctx, key, &storage.PostOptions{MaxSize: 10})
		assert.ErrorIs(t, err, storage.ErrInvalidKey, "key %q", key)
	}
	_, err := s.SignedPost(ctx, "../", &storage.PostOptions{MaxSize: 10, KeyPrefix: true})
	assert.ErrorIs(t, err, storage.ErrInvalidKey, "an invalid prefix")

	form, err := s.SignedPost(ctx, "uploads/", &storage.PostOptions{MaxSize: 10, KeyPrefix: true, ContentType: "image/"})
	if errors.Is(err, errors.ErrUnsupported) {
		return // what it refuses is checked above; it takes no posts
	}
	require.NoError(t, err)
	assert.NotEmpty(t, form.URL)
	assert.Equal(t, "uploads/", form.Fields["key"])
}

// checkOpError checks that err is an *storage.OpError naming op and key, as
// every backend must return, so that callers can tell which call failed
// and on what.
func checkOpError(t *testing.T, err error, op, key string) {
	t.Helper()
	var opErr *storage.OpError
	if !assert.ErrorAs(t, err, &opErr, "%s %q", op, key) {
		return
	}
	assert.Equal(t, op, opErr.Op, "%q: the error's operation", key)
	assert.Equal(t, key, opErr.Key, "%s: the error's key", op)
}
