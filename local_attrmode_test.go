package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// modeTests are the tests that run again, unchanged, in each attribute
// mode: the conformance suite, the crash test, the soak, the Handler's
// tests and the test of concurrent readers.
const modeTests = `^(TestLocalConformance|TestLocalSurvivesSIGKILL|TestLocalSoak|TestHandler.*|TestLocalReadsMatchTheirPut)$`

// modeMustPass returns the tests of modeTests that a run of them must have
// passed, so that a pattern or a build tag that drops them cannot pass
// unnoticed. The soak skips itself in -short mode.
func modeMustPass() []string {
	names := []string{"TestLocalConformance", "TestLocalSurvivesSIGKILL", "TestHandlerGet", "TestHandlerSignedPut", "TestLocalReadsMatchTheirPut"}
	if !testing.Short() {
		names = append(names, "TestLocalSoak")
	}
	return names
}

// rerunTests runs the tests matching pattern again in a child process of
// this test binary, with env added to its environment, and fails unless the
// child passed, and passed each of mustPass.
func rerunTests(t *testing.T, pattern string, env []string, mustPass ...string) {
	t.Helper()
	args := []string{"-test.run=" + pattern, "-test.v", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	child := exec.Command(os.Args[0], args...)
	child.Env = append(os.Environ(), env...)
	out, err := child.CombinedOutput()
	require.NoError(t, err, "%s in the child:\n%s", pattern, out)
	ran := regexp.MustCompile(`(?m)^--- (PASS|SKIP): (\S+)`).FindAllStringSubmatch(string(out), -1)
	passed := map[string]bool{}
	var summary []string
	for _, m := range ran {
		passed[m[2]] = m[1] == "PASS"
		summary = append(summary, m[1]+" "+m[2])
	}
	t.Logf("with %v:\n%s", env, strings.Join(summary, "\n"))
	for _, name := range mustPass {
		assert.True(t, passed[name], "%s did not pass with %v", name, env)
	}
}

// TestLocalInFileHeaderMode runs the tests of modeTests with every Local
// forced to keep attributes in file headers, as on a file system without
// extended attributes.
func TestLocalInFileHeaderMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no extended attributes: every Local there keeps them in file headers, so the tests this reruns ran in that mode already")
	}
	rerunTests(t, modeTests, []string{attrModeVar + "=headers"}, modeMustPass()...)
}

// modeFile is the file in the directory's top folder that records the
// file-header mode.
const modeFile = storage.ModeFile

// newHeaderLocal returns a Local that keeps attributes in file headers.
func newHeaderLocal(t *testing.T) *storage.Local {
	t.Helper()
	l := newLocal(t)
	require.NoError(t, storage.ForcePortableAttrs(l))
	return l
}

// TestLocalFileHeaders checks what the file-header mode keeps on disk and
// hides: the object's file starts with the header and then holds the bytes
// Put was given, and the file recording the mode is no object to List,
// Stat, DeletePrefix, Cleanup or the Handler.
func TestLocalFileHeaders(t *testing.T) {
	l := newHeaderLocal(t)
	ctx := context.Background()
	assert.Equal(t, "file headers", l.Attributes())
	assert.Contains(t, l.String(), "Attributes:file headers")
	data := []byte("%PDF-1.7 the talk")
	opts := &storage.PutOptions{ContentType: "application/pdf", CacheControl: "no-cache", Metadata: map[string]string{"owner": "7"}}
	put, err := l.Put(ctx, "events/1/talk.pdf", bytes.NewReader(data), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), put.Size)

	raw, err := os.ReadFile(filepath.Join(l.Dir(), "events/1/talk.pdf"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(raw, []byte("\x89orga\r\n\x1a")), "the file starts with the header: %q", raw)
	assert.True(t, bytes.HasSuffix(raw, data), "and ends with the object's bytes")
	assert.Contains(t, string(raw[:len(raw)-len(data)]), `"owner":"7"`)
	assert.Equal(t, []string{"events/1/talk.pdf"}, filesUnder(t, l.Dir()))
	assert.FileExists(t, filepath.Join(l.Dir(), modeFile))

	info, err := l.Stat(ctx, "events/1/talk.pdf")
	require.NoError(t, err)
	assert.Equal(t, put, info)
	assert.Equal(t, "no-cache", info.CacheControl)
	assert.Equal(t, map[string]string{"owner": "7"}, info.Metadata)
	assert.Equal(t, string(data), readObject(t, l, "events/1/talk.pdf"))
	r, err := l.GetRange(ctx, "events/1/talk.pdf", 1, 3)
	require.NoError(t, err)
	part, err := io.ReadAll(r)
	r.Close()
	require.NoError(t, err)
	assert.Equal(t, "PDF", string(part), "ranges count from the object's first byte, past the header")

	var listed []string
	for info, err := range l.List(ctx, "", nil) {
		require.NoError(t, err)
		listed = append(listed, info.Key)
		assert.Equal(t, int64(len(data)), info.Size, "List gives the object's size, not the file's")
	}
	assert.Equal(t, []string{"events/1/talk.pdf"}, listed, "the mode's file is not listed")
	_, err = l.Stat(ctx, modeFile)
	assert.ErrorIs(t, err, storage.ErrInvalidKey, "no key names the mode's file")
	for _, target := range []string{"/static/media/.orga-storage%5Cmode", "/static/media/.orga-storage%5cmode", "/static/media/.orga-storage/mode"} {
		rec := httptest.NewRecorder()
		l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, "GET %s", target)
	}
	removed, err := l.Cleanup(ctx)
	require.NoError(t, err)
	assert.Zero(t, removed)
	n, err := storage.DeletePrefix(ctx, l, "e")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Empty(t, filesUnder(t, l.Dir()))
	assert.FileExists(t, filepath.Join(l.Dir(), modeFile), "the mode's file stays with the directory")
}

// TestLocalFileHeaderModeIsKept reopens a directory written in the
// file-header mode: the new Local keeps that mode, whatever its probe would
// say, and reads every object as written.
func TestLocalFileHeaderModeIsKept(t *testing.T) {
	l := newHeaderLocal(t)
	ctx := context.Background()
	put, err := l.Put(ctx, "a/logo.png", strings.NewReader("png"), &storage.PutOptions{Metadata: map[string]string{"v": "1"}})
	require.NoError(t, err)
	copied, err := l.Copy(ctx, "b/logo.png", "a/logo.png")
	require.NoError(t, err)
	assert.Equal(t, int64(3), copied.Size)
	l.Close()

	again, err := storage.NewLocal(l.Dir(), nil)
	require.NoError(t, err)
	defer again.Close()
	assert.Equal(t, "file headers", again.Attributes())
	info, err := again.Stat(ctx, "a/logo.png")
	require.NoError(t, err)
	assert.Equal(t, put, info)
	assert.Equal(t, "png", readObject(t, again, "a/logo.png"))
	assert.Equal(t, "png", readObject(t, again, "b/logo.png"))
}

// TestLocalModeFileUnknown: a mode file this build cannot read (a later
// build's, or a damaged one) makes NewLocal fail, rather than serve headers
// as the objects' bytes.
func TestLocalModeFileUnknown(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, modeFile), []byte("attributes: something newer\n"), 0o644))
	_, err := storage.NewLocal(dir, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `names an attribute mode this build does not know: "attributes: something newer"`)
}

// TestLocalDamagedHeader: a file whose header no Put wrote whole is
// reported, not served with the header's bytes as the object's.
func TestLocalDamagedHeader(t *testing.T) {
	l := newHeaderLocal(t)
	ctx := context.Background()
	_, err := l.Put(ctx, "a.txt", strings.NewReader("text"), nil)
	require.NoError(t, err)
	file := filepath.Join(l.Dir(), "a.txt")
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	raw[len(raw)-len("text")-2] ^= 1 // a byte of the attributes
	require.NoError(t, os.WriteFile(file, raw, 0o644))
	_, err = l.Stat(ctx, "a.txt")
	assert.ErrorContains(t, err, `storage: stat "a.txt": read attributes: the file's attribute header is damaged`)
	_, err = l.Get(ctx, "a.txt")
	assert.ErrorContains(t, err, "header is damaged")
}

// TestLocalFileCopiedInByHandWithHeaders: in the file-header mode, a file
// copied in by hand (no header) reads whole, with derived attributes.
func TestLocalFileCopiedInByHandWithHeaders(t *testing.T) {
	l := newHeaderLocal(t)
	require.NoError(t, os.WriteFile(filepath.Join(l.Dir(), "logo.png"), []byte("png"), 0o644))
	info, err := l.Stat(context.Background(), "logo.png")
	require.NoError(t, err)
	assert.Equal(t, "image/png", info.ContentType)
	assert.Equal(t, int64(3), info.Size)
	assert.Equal(t, "png", readObject(t, l, "logo.png"))
}

// TestLocalReadsMatchTheirPut replaces one object with version after
// version, whose body, content type and metadata all name the version,
// while readers Get and Stat it: in each mode, no read may pair the bytes
// of one version with the attributes of another.
func TestLocalReadsMatchTheirPut(t *testing.T) {
	skipRenameOverOpenUnderWine(t)
	t.Run("probed", func(t *testing.T) {
		l := newLocal(t)
		t.Logf("attributes in %s", l.Attributes())
		testReadsMatchTheirPut(t, l)
	})
	t.Run("file headers", func(t *testing.T) { testReadsMatchTheirPut(t, newHeaderLocal(t)) })
}

func testReadsMatchTheirPut(t *testing.T, l *storage.Local) {
	const key, readers, minReads, minVersions = "events/1/banner.bin", 4, 20_000, 20
	ctx := context.Background()
	version := func(n int) ([]byte, *storage.PutOptions) {
		return bytes.Repeat(fmt.Appendf(nil, "version %d;", n), 1+n%50), &storage.PutOptions{
			ContentType: fmt.Sprintf("application/x-version-%d", n),
			Metadata:    map[string]string{"version": strconv.Itoa(n)},
		}
	}
	// agree reports how info (and body, for a Get) fail to name one version.
	agree := func(info storage.Info, body []byte, get bool) string {
		n, err := strconv.Atoi(info.Metadata["version"])
		if err != nil {
			return fmt.Sprintf("metadata %v", info.Metadata)
		}
		want, opts := version(n)
		switch {
		case info.ContentType != opts.ContentType:
			return fmt.Sprintf("metadata of version %d, content type %s", n, info.ContentType)
		case info.Size != int64(len(want)):
			return fmt.Sprintf("attributes of version %d, size %d", n, info.Size)
		case get && !bytes.Equal(body, want):
			return fmt.Sprintf("attributes of version %d, body %.20q", n, body)
		}
		return ""
	}
	body, opts := version(0)
	_, err := l.Put(ctx, key, bytes.NewReader(body), opts)
	require.NoError(t, err)

	// Readers read until both counts are reached, however slow the disk.
	var reads, versions, bad, failed atomic.Int64
	var firstBad atomic.Value
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			for j := 0; reads.Load() < minReads || versions.Load() < minVersions; j++ {
				reads.Add(1)
				var problem string
				if (i+j)%2 == 0 {
					r, err := l.Get(ctx, key)
					if err != nil {
						failed.Add(1)
						continue
					}
					data, err := io.ReadAll(r)
					r.Close()
					if err != nil {
						failed.Add(1)
						continue
					}
					problem = agree(r.Info(), data, true)
				} else {
					info, err := l.Stat(ctx, key)
					if err != nil {
						failed.Add(1)
						continue
					}
					problem = agree(info, nil, false)
				}
				if problem != "" {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, problem)
				}
			}
		})
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			body, opts := version(n)
			if _, err := l.Put(ctx, key, bytes.NewReader(body), opts); err != nil {
				t.Errorf("put version %d: %v", n, err)
				versions.Store(minVersions) // let the readers stop
				return
			}
			versions.Add(1)
		}
	}()
	wg.Wait()
	close(stop)
	<-stopped
	t.Logf("%d reads of %d versions", reads.Load(), versions.Load())
	assert.Zero(t, failed.Load(), "reads that failed")
	assert.Zero(t, bad.Load(), "reads whose body and attributes disagree; the first: %v", firstBad.Load())
}
