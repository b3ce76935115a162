package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filesUnder lists every file below dir, temporary ones included, as paths
// relative to dir with slashes; all but the file that records the file-header mode,
// which every directory in that mode holds.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	files := []string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && p != filepath.Join(dir, modeFile) && p != filepath.Join(dir, storage.CaseLockFile) {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	return files
}

func TestLocalLayout(t *testing.T) {
	l := newLocal(t)
	dir := l.Dir()
	_, err := l.Put(context.Background(), "events/42/speakers/7/photo.png", strings.NewReader("png"), nil)
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(dir, "events/42/speakers/7/photo.png"))
	require.NoError(t, err, "objects live at <dir>/<key>")
	if l.Attributes() == "file headers" {
		// Windows, and file systems without extended attributes: the
		// attributes come first (TestLocalFileHeaders), then the bytes.
		assert.True(t, strings.HasSuffix(string(data), "png"), "the file ends with the object's bytes: %q", data)
	} else {
		assert.Equal(t, "png", string(data))
	}
	assert.Equal(t, []string{"events/42/speakers/7/photo.png"}, filesUnder(t, dir), "nothing else is kept beside it")
}

func TestLocalFailedPutLeavesNoTemporaryFile(t *testing.T) {
	l := newLocal(t)
	dir := l.Dir()
	ctx := context.Background()
	_, err := l.Put(ctx, "a/kept", strings.NewReader("old"), nil)
	require.NoError(t, err)

	broken := errors.New("network gone")
	_, err = l.Put(ctx, "a/kept", io.MultiReader(strings.NewReader("new"), errReader{broken}), nil)
	require.ErrorIs(t, err, broken)
	cancelled, cancel := context.WithCancel(ctx)
	_, err = l.Put(cancelled, "a/other", io.MultiReader(strings.NewReader("new"), cancelOnRead{cancel}, strings.NewReader("more")), nil)
	require.ErrorIs(t, err, context.Canceled)

	assert.Equal(t, []string{"a/kept"}, filesUnder(t, dir))
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type cancelOnRead struct{ cancel context.CancelFunc }

func (c cancelOnRead) Read([]byte) (int, error) { c.cancel(); return 0, io.EOF }

func TestLocalFolderAndObjectClash(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	_, err := l.Put(ctx, "a/b", strings.NewReader("x"), nil)
	require.NoError(t, err)

	_, err = l.Put(ctx, "a", strings.NewReader("y"), nil)
	assert.ErrorIs(t, err, fs.ErrExist, "on disk a folder cannot also be an object")
	assert.Contains(t, err.Error(), `storage: put "a": `)
	for _, key := range []string{"a/b/c", "a/b/c/d"} {
		_, err = l.Put(ctx, key, strings.NewReader("y"), nil)
		assert.ErrorIs(t, err, fs.ErrExist, "nor an object a folder: %s", key)
		assert.ErrorContains(t, err, `on local disk a part of "`+path.Dir(key)+`" is an object, not a folder`)
	}
	require.NoError(t, l.Delete(ctx, "a"), "deleting a folder is deleting no object")

	r, err := l.Get(ctx, "a/b")
	require.NoError(t, err)
	defer r.Close()
	data, _ := io.ReadAll(r)
	assert.Equal(t, "x", string(data))
}

// TestLocalNeverLeavesItsRoot runs on the way a Local opens files by
// default: openat2 on Linux, its os.Root elsewhere.
func TestLocalNeverLeavesItsRoot(t *testing.T) {
	testNeverLeavesItsRoot(t, func(*storage.Local) {})
}

func testNeverLeavesItsRoot(t *testing.T, setUp func(*storage.Local)) {
	skipLinksUnderWine(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "root")
	outside := filepath.Join(parent, "outside")
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644))
	l, err := storage.NewLocal(dir, nil)
	require.NoError(t, err)
	defer l.Close()
	setUp(l)
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "file-link")))
	ctx := context.Background()

	for _, key := range []string{"link/secret", "file-link"} {
		_, err := l.Get(ctx, key)
		assert.Error(t, err, "get %s", key)
		_, err = l.Stat(ctx, key)
		assert.Error(t, err, "stat %s", key)
		_, err = l.Copy(ctx, "copied", key)
		assert.Error(t, err, "copy %s", key)
	}
	_, err = l.Put(ctx, "link/new", strings.NewReader("x"), nil)
	assert.Error(t, err, "put through a link")
	_ = l.Delete(ctx, "link/secret")
	_ = l.Delete(ctx, "file-link/x")
	_, _ = storage.DeletePrefix(ctx, l, "link/")
	_, _ = storage.DeletePrefix(ctx, l, "file-link")

	assert.Equal(t, []string{"secret"}, filesUnder(t, outside), "nothing outside was written or deleted")
	data, err := os.ReadFile(filepath.Join(outside, "secret"))
	require.NoError(t, err)
	assert.Equal(t, "secret", string(data))
	var listed []string
	for info, err := range l.List(ctx, "", nil) {
		require.NoError(t, err)
		listed = append(listed, info.Key)
	}
	assert.Empty(t, listed, "links are not objects")
}

// TestLocalDeletePrefixOnDisk checks what DeletePrefix leaves on disk: no
// folder it emptied, and a temporary file of a Put in progress untouched.
func TestLocalDeletePrefixOnDisk(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	for _, key := range []string{"events/1/a", "events/1/b/c", "events/10/a", "events/2/a"} {
		_, err := l.Put(ctx, key, strings.NewReader(key), nil)
		require.NoError(t, err)
	}
	inProgress := filepath.Join(l.Dir(), "events/2", storage.TempMarker+"0123456789abcdef")
	require.NoError(t, os.WriteFile(inProgress, []byte("partial"), 0o644))

	n, err := storage.DeletePrefix(ctx, l, "events/1/")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"events/10/a", "events/2/" + storage.TempMarker + "0123456789abcdef", "events/2/a"}, filesUnder(t, l.Dir()))
	assert.NoDirExists(t, filepath.Join(l.Dir(), "events/1"), "emptied folders are removed")

	n, err = storage.DeletePrefix(ctx, l, "events/")
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the temporary file is no object")
	assert.Equal(t, []string{"events/2/" + storage.TempMarker + "0123456789abcdef"}, filesUnder(t, l.Dir()))

	n, err = storage.DeletePrefix(ctx, l, "events/2/a/b")
	require.NoError(t, err, "a prefix through a missing folder")
	assert.Equal(t, 0, n)
}

func TestLocalFileCopiedInByHand(t *testing.T) {
	l := newLocal(t)
	dir := l.Dir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "legacy"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "legacy/logo.png"), []byte("png"), 0o644))

	info, err := l.Stat(context.Background(), "legacy/logo.png")
	require.NoError(t, err)
	assert.Equal(t, "image/png", info.ContentType)
	assert.Equal(t, int64(3), info.Size)
	assert.NotEmpty(t, info.ETag)
}

func TestLocalCleanup(t *testing.T) {
	l := newLocal(t)
	dir := l.Dir()
	ctx := context.Background()
	_, err := l.Put(ctx, "a/kept", strings.NewReader("old"), nil)
	require.NoError(t, err)

	// What a process killed mid-Put leaves behind, and what a live Put holds.
	dead := filepath.Join(dir, "a", storage.TempMarker+"0123456789abcdef")
	live := filepath.Join(dir, storage.TempMarker+"fedcba9876543210")
	require.NoError(t, os.WriteFile(dead, []byte("half"), 0o644))
	require.NoError(t, os.WriteFile(live, []byte("half"), 0o644))
	f, err := os.Open(live)
	require.NoError(t, err)
	defer f.Close()
	lockForTest(t, f)

	var listed []string
	for info, err := range l.List(ctx, "", nil) {
		require.NoError(t, err)
		listed = append(listed, info.Key)
	}
	assert.Equal(t, []string{"a/kept"}, listed, "temporary files are never listed")

	removed, err := l.Cleanup(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, removed)
	assert.ElementsMatch(t, []string{"a/kept", storage.TempMarker + "fedcba9876543210"}, filesUnder(t, dir), "the locked file of a live Put stays")
}

// TestLocalCleanupDuringPuts runs Cleanup over and over while Puts run:
// a temporary file is locked from the moment it is made until it is renamed
// into place, so Cleanup never takes a live Put's for a dead one's.
func TestLocalCleanupDuringPuts(t *testing.T) {
	skipRenameOverOpenUnderWine(t) // Cleanup opens each temporary file it finds
	l := newLocal(t)
	ctx, stop := context.WithCancel(context.Background())
	cleaned := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := l.Cleanup(context.Background()); err != nil {
				cleaned <- err
				return
			}
		}
		cleaned <- nil
	}()
	failed := 0
	for i := range 400 {
		if _, err := l.Put(context.Background(), "busy/k", strings.NewReader("x"), nil); err != nil {
			failed++
			t.Logf("put %d: %v", i, err)
		}
	}
	stop()
	require.NoError(t, <-cleaned)
	assert.Zero(t, failed, "Puts that failed while Cleanup ran")
}

// TestLocalDeleteKeepsSymlinkedFolders: a folder reached through a symbolic
// link made by hand is not deleted through, as List does not show it, and
// the link stays.
func TestLocalDeleteKeepsSymlinkedFolders(t *testing.T) {
	skipLinksUnderWine(t)
	l := newLocal(t)
	ctx := context.Background()
	for _, key := range []string{"real/x", "real/y"} {
		_, err := l.Put(ctx, key, strings.NewReader(key), nil)
		require.NoError(t, err)
	}
	require.NoError(t, os.Symlink("real", filepath.Join(l.Dir(), "alias")))
	require.NoError(t, l.Delete(ctx, "alias/x"))
	n, err := l.DeletePrefix(ctx, "alias/")
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = os.Lstat(filepath.Join(l.Dir(), "alias"))
	assert.NoError(t, err, "the link stays")
	_, err = l.Stat(ctx, "alias/y")
	assert.ErrorIs(t, err, fs.ErrInvalid, "no object through the link")
	for _, key := range []string{"real/x", "real/y"} {
		_, err = l.Stat(ctx, key)
		assert.NoError(t, err, "%s stays", key)
	}
	require.NoError(t, l.Delete(ctx, "real/x"))
	require.NoError(t, l.Delete(ctx, "real/y"))
	_, err = os.Lstat(filepath.Join(l.Dir(), "alias"))
	assert.NoError(t, err, "the link stays when its folder is gone")
}

// TestNewLocalRefusesSystemDirs: Local serves the files below its
// directory, so the root of the file system and the system's own
// directories are refused, also through a link, and left untouched.
func TestNewLocalRefusesSystemDirs(t *testing.T) {
	root := "/"
	refused := []string{"/", "/etc", "/usr"}
	if runtime.GOOS == "windows" {
		root = filepath.VolumeName(t.TempDir()) + `\`
		refused = []string{root}
		if d := os.Getenv("SystemRoot"); d != "" {
			refused = append(refused, d)
		}
	}
	link := filepath.Join(t.TempDir(), "link")
	switch err := os.Symlink(root, link); {
	case os.Getenv("STORAGE_TEST_WINE") == "1":
		t.Logf("Wine: not through a link, which Wine 8 shows as the folder it leads to")
	case err != nil:
		t.Logf("not through a link: %v", err)
	default:
		refused = append(refused, link)
	}
	for _, dir := range refused {
		l, err := storage.NewLocal(dir, nil)
		if !assert.ErrorIs(t, err, fs.ErrInvalid, dir) {
			l.Close()
			continue
		}
		assert.Contains(t, err.Error(), "storage: local directory: invalid argument: "+dir+" is ")
		assert.Contains(t, err.Error(), "give it a folder of its own")
		_, err = os.Lstat(filepath.Join(dir, storage.ModeFile))
		assert.ErrorIs(t, err, fs.ErrNotExist, "nothing written in %s", dir)
	}
	l, err := storage.NewLocal(filepath.Join(t.TempDir(), "etc"), nil)
	require.NoError(t, err, "a folder named like a system directory elsewhere")
	l.Close()
}

func TestNewLocalErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err := storage.NewLocal(filepath.Join(file, "sub"), nil)
	assert.Error(t, err)
	assert.Contains(t, err.Error(), "storage: local directory")

	// In the same words on every system: Windows's own are "Path not found".
	_, err = storage.NewLocal(file, nil)
	assert.EqualError(t, err, "storage: local directory: "+file+" is not a directory")
}

// TestLocalSyncsFoldersItChanges: every call that adds or removes an entry
// syncs the folder holding it before it returns, so that neither a new
// object nor a deletion is undone by a crash. A removed folder's parent is
// synced in place of the folder.
func TestLocalSyncsFoldersItChanges(t *testing.T) {
	skipWithoutFolderSync(t)
	l := newLocal(t)
	var synced []string
	storage.OnFolderSync(l, func(dir string) { synced = append(synced, dir) })
	ctx := context.Background()
	put := func(key string) {
		t.Helper()
		_, err := l.Put(ctx, key, strings.NewReader(key), nil)
		require.NoError(t, err)
	}
	syncs := func(what string, want ...string) {
		t.Helper()
		assert.ElementsMatch(t, want, synced, what)
		synced = nil
	}

	put("events/1/logo.png")
	syncs("a Put that creates two folders", ".", "events", "events/1")
	put("events/1/photo.png")
	syncs("a Put into a folder", "events/1")
	require.NoError(t, l.Delete(ctx, "events/1/logo.png"))
	syncs("a Delete that leaves its folder", "events/1")
	require.NoError(t, l.Delete(ctx, "events/1/photo.png"))
	syncs("a Delete that prunes two folders", ".")

	for _, key := range []string{"a/x/1", "a/x/2", "a/y/1", "a/z", "c/d/1", "c/d/2"} {
		put(key)
	}
	synced = nil
	_, err := l.DeletePrefix(ctx, "a/x")
	require.NoError(t, err)
	syncs("a DeletePrefix that empties a folder", "a")
	_, err = l.DeletePrefix(ctx, "c/d/1")
	require.NoError(t, err)
	syncs("a DeletePrefix that leaves its folder", "c/d")
	_, err = l.DeletePrefix(ctx, "a/")
	require.NoError(t, err)
	syncs("a DeletePrefix that prunes its folder", ".")
	assert.Equal(t, []string{"c/d/2"}, filesUnder(t, l.Dir()))
}

// skipLinksUnderWine skips a test of symbolic links in the directory under
// Wine, which shows the Unix link os.Symlink makes as the folder or file it
// leads to, where Windows shows a reparse point as a link.
func skipLinksUnderWine(t *testing.T) {
	if os.Getenv("STORAGE_TEST_WINE") == "1" {
		t.Skip("Wine: Wine 8 shows a symbolic link as what it leads to, not as a link (a reparse point) as Windows does")
	}
}

// skipRenameOverOpenUnderWine skips a test of Puts replacing a file that
// another handle holds open (a reader's, Cleanup's) under Wine, which
// lacks the POSIX rename (FILE_RENAME_POSIX_SEMANTICS) that os.Root.Rename
// asks for first and that Windows 10 1607 and later have on NTFS.
func skipRenameOverOpenUnderWine(t *testing.T) {
	if os.Getenv("STORAGE_TEST_WINE") == "1" {
		t.Skip("Wine: Wine 8 does not rename over a file another handle holds open (Access denied); Windows 10 1607+ does (POSIX rename)")
	}
}

// skipWithoutFolderSync skips a test of folder syncs on Windows, where Local
// syncs no folder: Windows cannot (see the Local doc).
func skipWithoutFolderSync(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows cannot sync a folder: Local syncs none there")
	}
}

func readObject(t *testing.T, s storage.Storage, key string) string {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(data)
}

// TestLocalPutIntoAFolderBeingMade: a Put into a folder that another Put has
// just made, and whose entry that Put has not yet synced, syncs the folders
// above it itself before it returns, so that a crash cannot take its object
// away with the folder.
func TestLocalPutIntoAFolderBeingMade(t *testing.T) {
	skipWithoutFolderSync(t)
	l := newLocal(t)
	ctx := context.Background()
	var second []string
	inSecond, started := false, false
	storage.OnFolderSync(l, func(dir string) {
		switch {
		case inSecond:
			second = append(second, dir)
		case !started && dir == "events":
			// The first Put has made events/42 and synced events, and has
			// yet to sync "." for events: the second Put runs now.
			started, inSecond = true, true
			_, err := l.Put(ctx, "events/42/photo.png", strings.NewReader("2"), nil)
			inSecond = false
			require.NoError(t, err)
		}
	})
	_, err := l.Put(ctx, "events/42/logo.png", strings.NewReader("1"), nil)
	require.NoError(t, err)
	require.True(t, started)
	assert.Subset(t, second, []string{".", "events", "events/42"}, "the second Put synced the path to its object")
}

// TestLocalPutBesideDeletes runs Puts and Deletes of different keys in one
// folder, whose Deletes prune the folders the Puts are making: no Put may
// fail for it, and what a Put stored is there to Stat until its own Delete.
func TestLocalPutBesideDeletes(t *testing.T) {
	testPutBesideDeletes(t, newLocal(t))
}

func testPutBesideDeletes(t *testing.T, l *storage.Local) {
	ctx := context.Background()
	var failed atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for g := range 4 {
		wg.Go(func() {
			key := fmt.Sprintf("deep/a/b/c/k%d", g)
			for time.Now().Before(deadline) {
				if _, err := l.Put(ctx, key, strings.NewReader("x"), nil); err != nil {
					fail(err)
					continue
				}
				if _, err := l.Stat(ctx, key); err != nil {
					fail(err)
				}
				assert.NoError(t, l.Delete(ctx, key))
			}
		})
	}
	// Cleanup and List walk the folders as they come and go, and may not fail.
	for time.Now().Before(deadline) {
		_, err := l.Cleanup(ctx)
		require.NoError(t, err)
		for _, err := range l.List(ctx, "deep/", nil) {
			require.NoError(t, err)
		}
	}
	wg.Wait()
	assert.Zero(t, failed.Load(), "first error: %v", firstErr.Load())
}

// TestLocalPutOverEmptyFolder stores an object where a crash, or another
// tool, left an empty folder of its name; a folder holding anything stays.
func TestLocalPutOverEmptyFolder(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	require.NoError(t, os.MkdirAll(filepath.Join(l.Dir(), "events", "42"), 0o755))
	_, err := l.Put(ctx, "events/42", strings.NewReader("logo"), nil)
	require.NoError(t, err)
	assert.Equal(t, "logo", readObject(t, l, "events/42"))

	_, err = l.Put(ctx, "talks/7/slides.pdf", strings.NewReader("pdf"), nil)
	require.NoError(t, err)
	_, err = l.Put(ctx, "talks/7", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, fs.ErrExist)
	assert.Equal(t, "pdf", readObject(t, l, "talks/7/slides.pdf"))
}

// TestLocalLongNameFailsBeforeReading refuses a key segment longer than a
// file name may be as an invalid key, before reading the body.
func TestLocalLongNameFailsBeforeReading(t *testing.T) {
	l := newLocal(t)
	for _, key := range []string{"events/1/" + strings.Repeat("n", 256) + ".png", strings.Repeat("d", 256) + "/logo.png"} {
		read := false
		body := readerFunc(func(p []byte) (int, error) { read = true; return 0, io.EOF })
		_, err := l.Put(context.Background(), key, body, nil)
		require.ErrorIs(t, err, storage.ErrInvalidKey)
		assert.False(t, read, "the body was read")
		assert.Contains(t, err.Error(), "has a segment longer than 255 bytes")
	}
	_, err := l.Put(context.Background(), strings.Repeat("n", 255), strings.NewReader("x"), nil)
	assert.NoError(t, err, "255 bytes fit")
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestLocalETagIsContentMD5(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	// "hello" has a known MD5; the sniffed type and the copy keep it.
	for _, key := range []string{"a/hello.txt", "a/hello"} {
		info, err := l.Put(ctx, key, strings.NewReader("hello"), nil)
		require.NoError(t, err)
		assert.Equal(t, `"5d41402abc4b2a76b9719d911017c592"`, info.ETag, key)
		stat, err := l.Stat(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, info.ETag, stat.ETag, key)
	}
	copied, err := l.Copy(ctx, "b/copy", "a/hello")
	require.NoError(t, err)
	assert.Equal(t, `"5d41402abc4b2a76b9719d911017c592"`, copied.ETag)
	empty, err := l.Put(ctx, "a/empty", strings.NewReader(""), nil)
	require.NoError(t, err)
	assert.Equal(t, `"d41d8cd98f00b204e9800998ecf8427e"`, empty.ETag)
}
