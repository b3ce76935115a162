package storage

import (
	"net/url"
	"strings"
	"testing"
)

// The hot paths: every operation validates its key, every listed object may
// get a URL, every Put resolves a content type. Run with -benchmem.

var benchKeys = []string{
	"events/42/speakers/7/photo.png",
	"events/2026/orga-summit/slides/keynote-final-v3.pptx",
	"événements/42/ünïcödé ñ+%#?.png",
}

func BenchmarkValidateKey(b *testing.B) {
	for b.Loop() {
		for _, k := range benchKeys {
			if err := ValidateKey(k); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEscapeKey(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			_ = joinURL("/static/media/", benchKeys[0])
		}
	})
	b.Run("unicode", func(b *testing.B) {
		for b.Loop() {
			_ = joinURL("/static/media/", benchKeys[2])
		}
	})
	// The standard library's escaper, for comparison (it leaves "+" as is,
	// which S3 would read as a space).
	b.Run("url.PathEscape", func(b *testing.B) {
		for b.Loop() {
			segs := strings.Split(benchKeys[2], "/")
			for i, s := range segs {
				segs[i] = url.PathEscape(s)
			}
			_ = "/static/media/" + strings.Join(segs, "/")
		}
	})
}

func BenchmarkContentType(b *testing.B) {
	b.Run("extension", func(b *testing.B) {
		for b.Loop() {
			if typeByExtension(benchKeys[0]) == "" {
				b.Fatal("no type")
			}
		}
	})
	b.Run("upper-case extension", func(b *testing.B) {
		for b.Loop() {
			if typeByExtension("events/42/PHOTO.PNG") == "" {
				b.Fatal("no type")
			}
		}
	})
	b.Run("sniffed", func(b *testing.B) {
		body := strings.Repeat("<html><body>hello</body></html>", 40)
		for b.Loop() {
			if _, _, err := detectContentType("events/42/page", "", strings.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
