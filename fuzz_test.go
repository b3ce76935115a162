package storage_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/orga-server/storage"
)

// fuzzSeeds are keys near every rule's edge.
var fuzzSeeds = []string{
	"events/42/speakers/7/photo.png", "a", "../x", "..", ".", "/abs", "a//b", "a/./b", `a\b`,
	"a\x00b", "a/", "\xff", "é/ü ñ+%#?.png", "%2e%2e/x", "..%2fx", "a/%2e%2e", ".hidden", "...",
	strings.Repeat("a", 1024), strings.Repeat("a/", 512),
}

func FuzzValidateKey(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if storage.ValidateKey(key) != nil {
			return
		}
		switch {
		case !utf8.ValidString(key), len(key) == 0, len(key) > storage.MaxKeyLen:
			t.Fatalf("accepted %q: bad encoding or length", key)
		case strings.ContainsAny(key, "\\\x00"), strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }):
			t.Fatalf("accepted %q: backslash or control character", key)
		case path.Clean(key) != key, path.IsAbs(key), key == "..", strings.HasPrefix(key, "../"):
			t.Fatalf("accepted %q: not a clean relative path", key)
		}
	})
}

// FuzzURL checks that a URL always parses back to the same key, and that no
// key changes the URL's scheme or host.
func FuzzURL(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	l, err := storage.NewLocal(f.TempDir(), &storage.LocalOptions{BaseURL: "https://cdn.example.org/media/"})
	if err != nil {
		f.Fatal(err)
	}
	// Before the folder's removal: Windows removes no folder a handle holds.
	f.Cleanup(func() { l.Close() })
	f.Fuzz(func(t *testing.T, key string) {
		u, err := l.URL(key)
		if storage.ValidateKey(key) != nil {
			if err == nil {
				t.Fatalf("URL(%q) accepted an invalid key", key)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("URL(%q) = %q does not parse: %v", key, u, err)
		}
		if parsed.Scheme != "https" || parsed.Host != "cdn.example.org" || parsed.RawQuery != "" || parsed.Fragment != "" {
			t.Fatalf("URL(%q) = %q changed scheme, host, query or fragment", key, u)
		}
		if parsed.Path != "/media/"+key {
			t.Fatalf("URL(%q) = %q parses back to path %q", key, u, parsed.Path)
		}
	})
}

// FuzzLocalRoot checks that no key makes Local touch anything outside its
// directory: a sibling folder holds a file that must stay as it is, alone.
func FuzzLocalRoot(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	parent := f.TempDir()
	dir, outside := filepath.Join(parent, "root"), filepath.Join(parent, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		f.Fatal(err)
	}
	sentinel := filepath.Join(outside, "sentinel")
	if err := os.WriteFile(sentinel, []byte("sentinel"), 0o644); err != nil {
		f.Fatal(err)
	}
	l, err := storage.NewLocal(dir, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, key string) {
		if os.Getenv("STORAGE_TEST_WINE") == "1" && strings.Count(key, "/") > 64 {
			t.Skip("Wine: a key hundreds of folders deep took Wine 8 over ten minutes (its server resolves paths a folder at a time); it runs on Linux")
		}
		_, putErr := l.Put(ctx, key, strings.NewReader("fuzz"), nil)
		if r, err := l.Get(ctx, key); err == nil {
			r.Close()
		}
		for range l.List(ctx, key, nil) {
		}
		_, _ = l.Copy(ctx, key+"-copy", key)
		_ = l.Delete(ctx, key+"-copy")
		_ = l.Delete(ctx, key)
		if putErr == nil && storage.ValidateKey(key) != nil {
			t.Fatalf("put %q: accepted an invalid key", key)
		}
		entries, err := os.ReadDir(outside)
		if err != nil || len(entries) != 1 {
			t.Fatalf("key %q changed the folder outside the root: %v %v", key, entries, err)
		}
		if data, err := os.ReadFile(sentinel); err != nil || !bytes.Equal(data, []byte("sentinel")) {
			t.Fatalf("key %q changed the file outside the root", key)
		}
	})
}
