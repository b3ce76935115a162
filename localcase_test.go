package storage_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orga-server/storage"
)

// TestLocalCaseSensitiveNames: where the file system tells names apart by
// case (Linux's ext4 and tmpfs without casefold), keys differing only in case
// are two objects, as on S3.
func TestLocalCaseSensitiveNames(t *testing.T) {
	l := newLocal(t)
	if probeSaysCaseless(t, l.Dir()) {
		t.Skipf("%s is on a case-insensitive file system: TestLocalCaseInsensitiveNames covers it", l.Dir())
	}
	assert.False(t, l.Caseless())
	assert.Contains(t, l.String(), "Caseless:false")
	ctx := context.Background()
	for _, key := range []string{"events/1/logo.png", "events/1/Logo.png", "Events/1/logo.png"} {
		_, err := l.Put(ctx, key, strings.NewReader(key), nil)
		require.NoError(t, err)
	}
	for _, key := range []string{"events/1/logo.png", "events/1/Logo.png", "Events/1/logo.png"} {
		assert.Equal(t, key, readObject(t, l, key))
	}
	assert.Equal(t, []string{"Events/1/logo.png", "events/1/Logo.png", "events/1/logo.png"}, listKeys(t, l, ""))
}

// TestLocalCaseInsensitiveNames runs on the case-insensitive directories
// this machine has: the Wine drive (Windows' NTFS rules) under scripts/wine,
// and on Linux an ext4 folder with casefold, when the kernel has it.
func TestLocalCaseInsensitiveNames(t *testing.T) {
	dir, ok := caselessDir(t)
	if !ok {
		return
	}
	l, err := storage.NewLocal(dir, &storage.LocalOptions{SigningKey: storage.NewSecret("conformance-signing-key-32-bytes")})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	require.True(t, l.Caseless(), "the probe missed that %s is case-insensitive", dir)
	assert.Contains(t, l.String(), "Caseless:true")
	ctx := context.Background()

	_, err = l.Put(ctx, "events/1/logo.png", strings.NewReader("lower"), nil)
	require.NoError(t, err)
	// Replacing it under its own key is a Put as any other.
	_, err = l.Put(ctx, "events/1/logo.png", strings.NewReader("lower again"), nil)
	require.NoError(t, err)

	for _, key := range []string{"events/1/Logo.png", "Events/1/logo.png", "EVENTS/1/LOGO.PNG", "Events/1/new.png"} {
		_, err := l.Put(ctx, key, strings.NewReader("upper"), nil)
		require.ErrorIs(t, err, fs.ErrExist, key)
		assert.ErrorContains(t, err, "case-insensitive", key)
		_, err = l.Copy(ctx, key, "events/1/logo.png")
		assert.ErrorIs(t, err, fs.ErrExist, key)
	}
	assert.ErrorContains(t, putErr(l, "events/1/Logo.png"), `"events/1/logo.png"`)
	assert.ErrorContains(t, putErr(l, "Events/1/new.png"), `"events"`)

	for _, key := range []string{"events/1/Logo.png", "Events/1/logo.png"} {
		_, err := l.Get(ctx, key)
		assert.ErrorIs(t, err, fs.ErrNotExist, key)
		_, err = l.Stat(ctx, key)
		assert.ErrorIs(t, err, fs.ErrNotExist, key)
		assert.NoError(t, l.Delete(ctx, key))
		n, err := l.DeletePrefix(ctx, strings.TrimSuffix(key, "logo.png"))
		assert.NoError(t, err)
		assert.Zero(t, n, key)
	}
	assert.Empty(t, listKeys(t, l, "Events/"))
	// Nothing was lost or added: no folder "Events/1" stayed either.
	assert.Equal(t, []string{"events/1/logo.png"}, listKeys(t, l, ""))
	assert.Equal(t, "lower again", readObject(t, l, "events/1/logo.png"))

	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	for key, want := range map[string]int{"events/1/logo.png": 200, "events/1/Logo.png": 404, "Events/1/logo.png": 404} {
		resp, err := http.Get(srv.URL + "/static/media/" + key)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, key)
	}

	// Once the object is gone, its name is free for any case.
	require.NoError(t, l.Delete(ctx, "events/1/logo.png"))
	_, err = l.Put(ctx, "Events/1/Logo.png", strings.NewReader("upper"), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"Events/1/Logo.png"}, listKeys(t, l, ""))
}

// TestLocalCaseInsensitiveRace: Puts of one name in different cases at
// once store exactly one object, under the key of the Put that succeeded.
func TestLocalCaseInsensitiveRace(t *testing.T) {
	dir, ok := caselessDir(t)
	if !ok {
		return
	}
	ctx := context.Background()
	for round := range 20 {
		prefix := fmt.Sprintf("r%d/", round)
		variants := []string{"photo.png", "Photo.png", "PHOTO.png", "photo.PNG", "pHoTo.png", "PhOtO.PnG"}
		won := make([]bool, len(variants))
		var wg sync.WaitGroup
		for i, v := range variants {
			// A Local each, as several processes sharing the directory have.
			l, err := storage.NewLocal(dir, nil)
			require.NoError(t, err)
			defer l.Close()
			wg.Go(func() {
				_, err := l.Put(ctx, prefix+v, strings.NewReader(v), nil)
				if err == nil {
					won[i] = true
				} else {
					assert.ErrorIs(t, err, fs.ErrExist)
				}
			})
		}
		wg.Wait()
		l, err := storage.NewLocal(dir, nil)
		require.NoError(t, err)
		defer l.Close()
		keys := listKeys(t, l, prefix)
		require.Len(t, keys, 1)
		for i, v := range variants {
			assert.Equal(t, prefix+v == keys[0], won[i], "%s stored; did %s win?", keys[0], v)
		}
		assert.Equal(t, strings.TrimPrefix(keys[0], prefix), readObject(t, l, keys[0]))
	}
}

func putErr(l *storage.Local, key string) error {
	_, err := l.Put(context.Background(), key, strings.NewReader("x"), nil)
	return err
}

// probeSaysCaseless reports, without the library, whether dir's file system
// takes names differing in case for one.
func probeSaysCaseless(t *testing.T, dir string) bool {
	t.Helper()
	name := filepath.Join(dir, "case-probe")
	require.NoError(t, os.WriteFile(name, nil, 0o644))
	defer os.Remove(name)
	_, err := os.Stat(filepath.Join(dir, "CASE-PROBE"))
	return err == nil
}

// caselessDir returns a directory on a case-insensitive file system, or
// skips the test where this machine has none (see caselessDirOS). Not ok,
// the test ran in a child process, whose result is the test's.
func caselessDir(t *testing.T) (dir string, ok bool) {
	t.Helper()
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		dir := t.TempDir()
		require.True(t, probeSaysCaseless(t, dir), "%s is case-sensitive", dir)
		return dir, true
	}
	return caselessDirOS(t)
}
