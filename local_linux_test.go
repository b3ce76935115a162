package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestLocalConformanceWithoutOpenat2 runs the suite on the os.Root path that
// kernels before Linux 5.6 (and other systems) take.
func TestLocalConformanceWithoutOpenat2(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		l := newLocal(t)
		storage.WithoutOpenat2(l)
		return l
	})
}

// TestLocalPutBesideDeletesWithoutOpenat2 runs TestLocalPutBesideDeletes
// with Stat and List on the os.Root path.
func TestLocalPutBesideDeletesWithoutOpenat2(t *testing.T) {
	l := newLocal(t)
	storage.WithoutOpenat2(l)
	testPutBesideDeletes(t, l)
}

// TestLocalNeverLeavesItsRootWithoutOpenat2 checks the os.Root path that
// kernels before Linux 5.6 take.
func TestLocalNeverLeavesItsRootWithoutOpenat2(t *testing.T) {
	testNeverLeavesItsRoot(t, storage.WithoutOpenat2)
}

// TestLocalForeignFilesWithoutOpenat2 checks the os.Root path that kernels
// before Linux 5.6 take.
func TestLocalForeignFilesWithoutOpenat2(t *testing.T) {
	testForeignFiles(t, storage.WithoutOpenat2)
}

// TestLocalAttributesTakeNoSpace checks that an object put with the usual
// options takes no more disk space than a plain file of the same bytes: its
// attributes fit in the inode (on ext4: about 60 bytes) instead of costing
// every Put a separate metadata block to write and sync.
func TestLocalAttributesTakeNoSpace(t *testing.T) {
	l, err := storage.NewLocal(blockBackedDir(t), nil)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	data := bytes.Repeat([]byte("x"), 4096)
	plain := filepath.Join(l.Dir(), "plain")
	require.NoError(t, os.WriteFile(plain, data, 0o644))
	var want unix.Stat_t
	require.NoError(t, unix.Stat(plain, &want))

	for _, key := range []string{"events/1/logo.png", "exports/42/report.bin", "uploads/no-extension"} {
		_, err := l.Put(context.Background(), key, bytes.NewReader(data), nil)
		require.NoError(t, err)
		var got unix.Stat_t
		require.NoError(t, unix.Stat(filepath.Join(l.Dir(), key), &got))
		assert.LessOrEqual(t, got.Blocks, want.Blocks, "%s takes more disk blocks than a plain file of its bytes", key)
	}
}

// TestLocalAttributesTooLarge stores attributes within the limits Put
// checks, but made of quotes, which JSON doubles past the one block ext4
// gives them: a file system that holds them keeps them whole, one that
// cannot says so rather than only "no space left on device".
func TestLocalAttributesTooLarge(t *testing.T) {
	l, err := storage.NewLocal(blockBackedDir(t), nil)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()
	disposition := `attachment; filename="` + strings.Repeat(`\"`, 700) + `.pdf"`
	notes := map[string]string{"notes": strings.Repeat(`"`, 2000)}
	_, err = l.Put(ctx, "large.pdf", strings.NewReader("x"), &storage.PutOptions{ContentDisposition: disposition, Metadata: notes})
	if err != nil {
		assert.ErrorContains(t, err, "file system holds no attributes this large")
		_, err = l.Stat(ctx, "large.pdf")
		assert.ErrorIs(t, err, fs.ErrNotExist, "nothing stored")
		return
	}
	info, err := l.Stat(ctx, "large.pdf")
	require.NoError(t, err)
	assert.Equal(t, disposition, info.ContentDisposition)
}

// blockBackedDir returns a new directory on a file system that stores files
// in blocks: on tmpfs an attribute never costs a block, and a test of that
// could not fail. The package's own folder serves when the temporary one is
// a tmpfs.
func blockBackedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	if st.Type != unix.TMPFS_MAGIC {
		return dir
	}
	dir, err := os.MkdirTemp(".", ".blocks-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, unix.Statfs(dir, &st))
	require.NotEqual(t, int64(unix.TMPFS_MAGIC), st.Type, "neither the temporary folder nor the package's is on a block-backed file system")
	return dir
}

// TestLocalReadsEarlierAttributeFormat checks that objects stored by builds
// before the compact attribute format keep their attributes, privacy
// included.
func TestLocalReadsEarlierAttributeFormat(t *testing.T) {
	l := newLocal(t)
	file := filepath.Join(l.Dir(), "events/1/talk.pdf")
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte("%PDF-1.7"), 0o644))
	old := `{"type":"application/x-keynote","disposition":"attachment","cache":"no-cache",` +
		`"meta":{"owner":"7"},"etag":"\"0123456789abcdef0123456789abcdef\"","private":true}`
	require.NoError(t, unix.Setxattr(file, "user.orga-storage", []byte(old), 0))

	info, err := l.Stat(context.Background(), "events/1/talk.pdf")
	require.NoError(t, err)
	assert.Equal(t, "application/x-keynote", info.ContentType)
	assert.Equal(t, "attachment", info.ContentDisposition)
	assert.Equal(t, "no-cache", info.CacheControl)
	assert.Equal(t, map[string]string{"owner": "7"}, info.Metadata)
	assert.Equal(t, `"0123456789abcdef0123456789abcdef"`, info.ETag)

	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/media/events/1/talk.pdf", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code, "a private object stays private")
}

// TestLocalFullDisk fills a small tmpfs: Put fails clearly and the old object
// stays whole.
func TestLocalFullDisk(t *testing.T) {
	if asRootInUserNamespace(t) {
		return
	}
	l, dir := localOnTmpfs(t, "size=1m")
	ctx := context.Background()
	old := bytes.Repeat([]byte("o"), 300<<10)
	_, err := l.Put(ctx, "exports/big.csv", bytes.NewReader(old), nil)
	require.NoError(t, err)

	_, err = l.Put(ctx, "exports/big.csv", bytes.NewReader(bytes.Repeat([]byte("n"), 2<<20)), nil)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Contains(t, err.Error(), `storage: put "exports/big.csv": `)
	assert.Contains(t, err.Error(), "no space left on device")

	r, err := l.Get(ctx, "exports/big.csv")
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	r.Close()
	require.NoError(t, err)
	assert.Equal(t, old, got, "the old object is intact")
	assert.Equal(t, []string{"exports/big.csv"}, filesUnder(t, dir), "nothing is left behind")
}

// TestLocalReadOnlyDirectory: a directory this process may not write to (a
// read-only mount, or a folder without write permission) opens, serves what
// it holds, and refuses writes with the filesystem's error, losing nothing.
func TestLocalReadOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rw, err := storage.NewLocal(dir, nil)
	require.NoError(t, err)
	_, err = rw.Put(ctx, "events/1/logo.png", strings.NewReader("logo"), nil)
	require.NoError(t, err)
	rw.Close()
	if os.Geteuid() == 0 {
		// Root writes through any permission bits: a read-only bind mount.
		require.NoError(t, unix.Mount(dir, dir, "", unix.MS_BIND, ""))
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
		require.NoError(t, unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""))
	} else {
		for _, d := range []string{"events/1", "events", "."} {
			require.NoError(t, os.Chmod(filepath.Join(dir, d), 0o555))
		}
		t.Cleanup(func() {
			filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
		})
	}

	l, err := storage.NewLocal(dir, nil)
	require.NoError(t, err, "a read-only directory opens")
	defer l.Close()
	info, err := l.Stat(ctx, "events/1/logo.png")
	require.NoError(t, err)
	assert.Equal(t, "image/png", info.ContentType)
	assert.Equal(t, "logo", readObject(t, l, "events/1/logo.png"))

	readOnly := func(err error) bool { return errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) }
	_, err = l.Put(ctx, "events/1/logo.png", strings.NewReader("new"), nil)
	assert.True(t, readOnly(err), "put: %v", err)
	_, err = l.Put(ctx, "events/2/logo.png", strings.NewReader("new"), nil)
	assert.True(t, readOnly(err), "put into a new folder: %v", err)
	assert.True(t, readOnly(l.Delete(ctx, "events/1/logo.png")), "delete")
	assert.Equal(t, "logo", readObject(t, l, "events/1/logo.png"), "the object is untouched")
}

// TestLocalOnRamfs: on a file system without user extended attributes
// (ramfs), NewLocal keeps attributes in file headers, also read-only, and
// the conformance suite, the crash test, the soak, the Handler's tests and
// the test of concurrent readers pass there unchanged, in the mode its
// probe chose.
// A directory copied with cp -a between ramfs and a file system with
// extended attributes stays readable in both directions.
func TestLocalOnRamfs(t *testing.T) {
	if asRootInUserNamespace(t) {
		return
	}
	ctx := context.Background()
	dir := mountForTest(t, "ramfs", "")
	l, err := storage.NewLocal(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, "file headers", l.Attributes())
	assert.Contains(t, l.String(), "Attributes:file headers")
	put, err := l.Put(ctx, "events/1/talk.pdf", strings.NewReader("%PDF"), &storage.PutOptions{Metadata: map[string]string{"owner": "7"}})
	require.NoError(t, err)
	l.Close()

	// To a file system with extended attributes, and back.
	there := filepath.Join(blockBackedDir(t), "copy")
	out, err := exec.Command("cp", "-a", dir, there).CombinedOutput()
	require.NoError(t, err, "%s", out)
	copied, err := storage.NewLocal(there, nil)
	require.NoError(t, err)
	assert.Equal(t, "file headers", copied.Attributes(), "the copy keeps the mode it was written in")
	info, err := copied.Stat(ctx, "events/1/talk.pdf")
	require.NoError(t, err)
	assert.Equal(t, put, info)
	assert.Equal(t, "%PDF", readObject(t, copied, "events/1/talk.pdf"))
	copied.Close()

	withXattrs := newLocal(t)
	require.Equal(t, "extended attributes", withXattrs.Attributes())
	_, err = withXattrs.Put(ctx, "logo.png", strings.NewReader("png"), &storage.PutOptions{Metadata: map[string]string{"owner": "7"}})
	require.NoError(t, err)
	back := filepath.Join(dir, "from-xattrs")
	out, err = exec.Command("cp", "-a", withXattrs.Dir(), back).CombinedOutput()
	require.NoError(t, err, "%s", out)
	onRamfs, err := storage.NewLocal(back, nil)
	require.NoError(t, err)
	assert.Equal(t, "file headers", onRamfs.Attributes())
	info, err = onRamfs.Stat(ctx, "logo.png")
	require.NoError(t, err, "cp -a could not keep the attributes, but the object reads")
	assert.Equal(t, "image/png", info.ContentType)
	assert.Equal(t, "png", readObject(t, onRamfs, "logo.png"))
	onRamfs.Close()

	require.NoError(t, unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""))
	ro, err := storage.NewLocal(dir, nil)
	require.NoError(t, err, "read-only")
	assert.Equal(t, "file headers", ro.Attributes(), "read-only")
	assert.Equal(t, "%PDF", readObject(t, ro, "events/1/talk.pdf"), "read-only")
	ro.Close()

	// A fresh ramfs for the tests' temporary folders, so that each Local
	// they make gets the mode the probe chooses on it.
	rerunTests(t, modeTests, []string{"TMPDIR=" + mountForTest(t, "ramfs", ""), attrModeVar + "=probed headers"}, modeMustPass()...)
}

// TestLocalReadsEitherMode: objects written in one mode read whole, with
// their attributes, in the other, so that a directory changed from one
// mode to the other (or its mode file lost) stays readable.
func TestLocalReadsEitherMode(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	require.Equal(t, "extended attributes", l.Attributes())
	opts := &storage.PutOptions{ContentType: "application/x-keynote", Metadata: map[string]string{"owner": "7"}}
	inXattr, err := l.Put(ctx, "x.key", strings.NewReader("in xattr"), opts)
	require.NoError(t, err)
	require.NoError(t, storage.ForcePortableAttrs(l))
	inHeader, err := l.Put(ctx, "h.key", strings.NewReader("in header"), opts)
	require.NoError(t, err)
	var size int
	_, err = unix.Getxattr(filepath.Join(l.Dir(), "h.key"), "user.orga-storage", nil)
	assert.ErrorIs(t, err, unix.ENODATA, "a header-mode Put sets no extended attribute")

	check := func(l *storage.Local) {
		t.Helper()
		for key, want := range map[string]storage.Info{"x.key": inXattr, "h.key": inHeader} {
			info, err := l.Stat(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, want, info, "%s in %s", key, l.Attributes())
		}
		assert.Equal(t, "in xattr", readObject(t, l, "x.key"))
		assert.Equal(t, "in header", readObject(t, l, "h.key"))
		size = 0
		for info, err := range l.List(ctx, "", nil) {
			require.NoError(t, err)
			size += int(info.Size)
		}
		assert.Equal(t, len("in xattr")+len("in header"), size)
	}
	check(l)
	l.Close()
	require.NoError(t, os.Remove(filepath.Join(l.Dir(), modeFile)))
	reopened, err := storage.NewLocal(l.Dir(), nil)
	require.NoError(t, err)
	defer reopened.Close()
	assert.Equal(t, "extended attributes", reopened.Attributes())
	check(reopened)
}

// localOnTmpfs returns a Local on a new tmpfs mounted with options, and the
// tmpfs's folder, for the test's duration. It needs root: see
// asRootInUserNamespace.
func localOnTmpfs(t *testing.T, options string) (*storage.Local, string) {
	t.Helper()
	dir := mountForTest(t, "tmpfs", options)
	l, err := storage.NewLocal(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() }) // before the unmount, registered earlier
	return l, dir
}

// mountForTest mounts a new filesystem of type fstype on a temporary folder
// for the test's duration. It needs root: see asRootInUserNamespace.
func mountForTest(t *testing.T, fstype, options string) string {
	t.Helper()
	require.Zero(t, os.Geteuid(), "mounting a %s needs root", fstype)
	dir := t.TempDir()
	require.NoError(t, unix.Mount(fstype, dir, fstype, 0, options))
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// asRootInUserNamespace runs the test again in a child process that is root
// in new user and mount namespaces, when this process is not root: the
// kernel lets such a child mount a tmpfs or a ramfs, so the tests that
// mount need no real root. It reports whether it did so; the child's result
// is then the test's.
func asRootInUserNamespace(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() == 0 {
		return false
	}
	child := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	child.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := child.CombinedOutput()
	var exited *exec.ExitError
	switch {
	case err == nil && bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Logf("ran as root in a user namespace:\n%s", out)
		return true
	case err == nil || errors.As(err, &exited):
		t.Fatalf("as root in a user namespace: %v\n%s", err, out)
	case os.Getenv("CI") == "true":
		t.Fatalf("no root, and no user namespace to mount in: %v", err)
	default:
		t.Skipf("no root, and no user namespace to mount in (unprivileged user namespaces are off): %v", err)
	}
	return false
}

// TestLocalFailedPutLeavesNoFolders fails a Put after it made its folder
// (no inode left for its temporary file): the folder must go, or the key of
// its name could not be stored.
func TestLocalFailedPutLeavesNoFolders(t *testing.T) {
	if asRootInUserNamespace(t) {
		return
	}
	l, dir := localOnTmpfs(t, "size=4m,nr_inodes=16")
	var fill []string
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprint("fill", i))
		if os.WriteFile(p, nil, 0o644) != nil {
			break
		}
		fill = append(fill, p)
	}
	require.NoError(t, os.Remove(fill[len(fill)-1])) // one inode left: for the folder
	_, err := l.Put(context.Background(), "events/logo.png", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.NoDirExists(t, filepath.Join(dir, "events"))
	require.NoError(t, os.Remove(fill[0]))
	_, err = l.Put(context.Background(), "events", strings.NewReader("x"), nil)
	assert.NoError(t, err)
}

// TestLocalServesMalformedStoredType serves through the Handler objects
// whose stored type is not one well-formed media type, as objects written
// before comma lists were refused or hand-written attributes have: browsers
// would take the last type of a list and run "image/png, text/javascript"
// as a script, so none keeps it. (It writes the extended attribute itself,
// so it is no TestHandler, which the file-header mode reruns.)
func TestLocalServesMalformedStoredType(t *testing.T) {
	l := newLocal(t)
	h := l.Handler()
	for i, typ := range []string{"image/png, text/javascript", "text/css,text/css", "image/png;x=y,text/html", "png", "text/html; charset"} {
		key := fmt.Sprintf("old/%d.bin", i)
		file := filepath.Join(l.Dir(), key)
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		require.NoError(t, os.WriteFile(file, []byte("alert(1)"), 0o644))
		require.NoError(t, unix.Setxattr(file, "user.orga-storage", fmt.Appendf(nil, `{"t":%q}`, typ), 0))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/media/"+key, nil))
		require.Equal(t, http.StatusOK, rec.Code, typ)
		assert.Equal(t, "application/octet-stream", rec.Header().Get("Content-Type"), typ)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), typ)
		assert.Equal(t, "attachment", rec.Header().Get("Content-Disposition"), typ)
		assert.Equal(t, "alert(1)", rec.Body.String())
	}
}
