//go:build unix

package storage_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promptly returns what f returns, and fails the test when f has not
// returned within a few seconds, as a call waiting on a named pipe would
// never return.
func promptly[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still running after 10s", what)
		panic("unreachable")
	}
}

// checkForeign checks err, the error of op on a foreign file at key.
func checkForeign(t *testing.T, err error, op, key, what string) {
	t.Helper()
	if assert.ErrorIs(t, err, fs.ErrInvalid, "%s %s", op, key) {
		assert.Contains(t, err.Error(), what, "%s %s", op, key)
		assert.Contains(t, err.Error(), `storage: `+op+` "`, "%s %s", op, key)
	}
}

// TestLocalForeignFiles: files that no Put made, planted in the directory,
// are neither read nor listed, and every call returns promptly.
func TestLocalForeignFiles(t *testing.T) {
	testForeignFiles(t, func(*storage.Local) {})
}

func testForeignFiles(t *testing.T, setUp func(*storage.Local)) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside.txt")
	require.NoError(t, os.WriteFile(outside, []byte("OUTSIDE"), 0o644))
	l, err := storage.NewLocal(filepath.Join(parent, "media"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	setUpAttrMode(t, l)
	setUp(l)
	ctx := context.Background()
	_, err = l.Put(ctx, "sub/real.txt", strings.NewReader("real"), nil)
	require.NoError(t, err)

	dir := l.Dir()
	planted := map[string]string{ // key: what the error says it is
		"pipe.png":       "named pipe",
		"sub/pipe.txt":   "named pipe",
		"hardlink.txt":   "2 hard links",
		"link.txt":       "symbolic link",
		"sub/inside.txt": "symbolic link",
		"alias/real.txt": "a folder on its path is a symbolic link",
		"sock":           "socket",
	}
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe.png"), 0o644))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "sub", "pipe.txt"), 0o644))
	require.NoError(t, os.Link(outside, filepath.Join(dir, "hardlink.txt")))
	require.NoError(t, os.Symlink("sub/real.txt", filepath.Join(dir, "link.txt")))
	require.NoError(t, os.Symlink("real.txt", filepath.Join(dir, "sub", "inside.txt")))
	require.NoError(t, os.Symlink("sub", filepath.Join(dir, "alias")))
	ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
	require.NoError(t, err)
	defer ln.Close()
	// A device (a copy of /dev/null) where this process may make one.
	if err := mknod(syscall.Mknod, filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, devNull(t)); err == nil {
		planted["null"] = "device"
	} else {
		t.Logf("no device planted: mknod: %v", err)
	}

	wantForeign := map[string]string{
		"pipe.png":       "a named pipe (FIFO)",
		"sub/pipe.txt":   "a named pipe (FIFO)",
		"hardlink.txt":   "a file with 2 hard links",
		"link.txt":       "a symbolic link",
		"sub/inside.txt": "a symbolic link",
		"alias":          "a symbolic link",
		"sock":           "a socket",
	}
	if _, ok := planted["null"]; ok {
		wantForeign["null"] = "a device"
	}
	foreign := promptly(t, "foreign files", func() map[string]string {
		found := map[string]string{}
		for f, err := range l.ForeignFiles(ctx) {
			if err != nil {
				found["error"] = err.Error()
				continue
			}
			found[f.Path] = f.What
		}
		return found
	})
	assert.Equal(t, wantForeign, foreign)

	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 10 * time.Second}
	for key, what := range planted {
		checkForeign(t, promptly(t, "get "+key, func() error {
			_, err := l.Get(ctx, key)
			return err
		}), "get", key, what)
		checkForeign(t, promptly(t, "get range "+key, func() error {
			_, err := l.GetRange(ctx, key, 0, 1)
			return err
		}), "get range", key, what)
		checkForeign(t, promptly(t, "stat "+key, func() error {
			_, err := l.Stat(ctx, key)
			return err
		}), "stat", key, what)
		checkForeign(t, promptly(t, "copy "+key, func() error {
			_, err := l.Copy(ctx, "copied", key)
			return err
		}), "copy", key, what)
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp := promptly(t, method+" "+key, func() *http.Response {
				req, err := http.NewRequest(method, srv.URL+"/"+key, nil)
				if err != nil {
					panic(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					return nil
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(body), "OUTSIDE") {
					resp.StatusCode = 0
				}
				return resp
			})
			if assert.NotNil(t, resp, "%s %s", method, key) {
				assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s (0: served the file outside)", method, key)
			}
		}
	}
	_, err = os.Lstat(filepath.Join(dir, "copied"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "no copy made")

	type listed struct {
		keys []string
		err  error
	}
	list := func(prefix string) listed {
		var got listed
		for info, err := range l.List(ctx, prefix, nil) {
			if err != nil {
				got.err = err
				break
			}
			got.keys = append(got.keys, info.Key)
		}
		return got
	}
	all := promptly(t, "list", func() listed { return list("") })
	require.NoError(t, all.err)
	assert.Equal(t, []string{"sub/real.txt"}, all.keys)
	aliased := promptly(t, "list alias/", func() listed { return list("alias/") })
	require.NoError(t, aliased.err)
	assert.Empty(t, aliased.keys, "listed through a linked folder")

	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, storage.TempMarker+"fifo"), 0o644))
	assert.NoError(t, promptly(t, "cleanup", func() error {
		_, err := l.Cleanup(ctx)
		return err
	}))

	// Nothing is deleted through the linked folder.
	assert.NoError(t, promptly(t, "delete through a link", func() error { return l.Delete(ctx, "alias/real.txt") }))
	assert.NoError(t, promptly(t, "delete prefix through a link", func() error {
		n, err := l.DeletePrefix(ctx, "alias/")
		if err == nil && n != 0 {
			err = fmt.Errorf("deleted %d", n)
		}
		return err
	}))
	_, err = l.Stat(ctx, "sub/real.txt")
	assert.NoError(t, err, "the object behind the linked folder is still there")
	// Nor put through it.
	_, err = l.Put(ctx, "alias/new.txt", strings.NewReader("new"), nil)
	checkForeign(t, err, "put", "alias/new.txt", "a folder on its path is a symbolic link")
	_, err = os.Lstat(filepath.Join(dir, "sub", "new.txt"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing written through the link")

	// A Put replaces what is at its key: a link by a file, not the file
	// it leads to; a hard link's other name keeps its bytes.
	for _, key := range []string{"pipe.png", "hardlink.txt", "link.txt", "sub/inside.txt"} {
		_, err := l.Put(ctx, key, strings.NewReader("new "+key), nil)
		require.NoError(t, err, "put %s", key)
		got := promptly(t, "get "+key, func() string { return getObject(l, key) })
		assert.Equal(t, "new "+key, got)
	}
	data, err := os.ReadFile(outside)
	require.NoError(t, err)
	assert.Equal(t, "OUTSIDE", string(data), "the hard link's other name is untouched")
	assert.Equal(t, "real", getObject(l, "sub/real.txt"), "the symbolic links' target is untouched")

	// Delete removes what is at its key's own path, following nothing.
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe2.png"), 0o644))
	require.NoError(t, os.Symlink("sub/real.txt", filepath.Join(dir, "link2.txt")))
	for _, key := range []string{"pipe2.png", "link2.txt"} {
		assert.NoError(t, promptly(t, "delete "+key, func() error { return l.Delete(ctx, key) }))
		_, err := os.Lstat(filepath.Join(dir, key))
		assert.ErrorIs(t, err, fs.ErrNotExist, "delete %s", key)
	}
	_, err = l.Stat(ctx, "sub/real.txt")
	assert.NoError(t, err, "the deleted link's target is still there")
}

// TestLocalRefusesHardLinkedObject: a second name made for an object's file
// makes both names foreign, as either may be outside the directory.
func TestLocalRefusesHardLinkedObject(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	_, err := l.Put(ctx, "a.txt", strings.NewReader("a"), nil)
	require.NoError(t, err)
	require.NoError(t, os.Link(filepath.Join(l.Dir(), "a.txt"), filepath.Join(t.TempDir(), "elsewhere")))
	_, err = l.Get(ctx, "a.txt")
	require.ErrorIs(t, err, fs.ErrInvalid)
	assert.Contains(t, err.Error(), "a file with 2 hard links")
	for info, err := range l.List(ctx, "", nil) {
		require.NoError(t, err)
		t.Errorf("listed %s", info.Key)
	}
}

// getObject returns the bytes of the object under key, or "" when it
// cannot be read. Unlike readObject, it may run outside the test's
// goroutine.
func getObject(l *storage.Local, key string) string {
	r, err := l.Get(context.Background(), key)
	if err != nil {
		return ""
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

// devNull returns the device number of /dev/null.
func devNull(t *testing.T) uint64 {
	t.Helper()
	fi, err := os.Stat("/dev/null")
	require.NoError(t, err)
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatal("no device number for /dev/null")
	}
	return uint64(st.Rdev)
}

// mknod calls syscall.Mknod, whose device number is an int on some systems
// and a uint64 on others.
func mknod[D int | uint64](mknod func(string, uint32, D) error, path string, mode uint32, dev uint64) error {
	return mknod(path, mode, D(dev))
}
