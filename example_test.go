package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/orga-server/storage"
)

// Example stores a speaker's photo and reads it back, as orga-server does
// with whatever FromEnv returns.
func Example() {
	dir, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	local, err := storage.NewLocal(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	var s storage.Storage = local // at startup: s, err := storage.FromEnv()
	ctx := context.Background()

	info, err := s.Put(ctx, "events/42/speakers/7/photo.png", strings.NewReader("…png bytes…"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Key, info.Size, info.ContentType)

	u, _ := s.URL(info.Key)
	fmt.Println(u)

	r, err := s.Get(ctx, "events/42/speakers/7/photo.png")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	data, _ := io.ReadAll(r)
	fmt.Println(string(data))

	_, err = s.Get(ctx, "events/42/speakers/8/photo.png")
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output:
	// events/42/speakers/7/photo.png 15 image/png
	// /static/media/events/42/speakers/7/photo.png
	// …png bytes…
	// true
}

func ExampleValidateKey() {
	for _, key := range []string{"events/42/logo.png", "../etc/passwd", "events//logo.png"} {
		fmt.Println(storage.ValidateKey(key))
	}
	// Output:
	// <nil>
	// invalid key: has a ".." segment
	// invalid key: has an empty segment (//)
}

func ExampleStorage_List() {
	dir, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := storage.NewLocal(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, key := range []string{"events/1/logo.png", "events/1/slides/a.pdf", "events/1/slides/b.pdf", "events/2/logo.png"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), nil); err != nil {
			log.Fatal(err)
		}
	}
	// One level at a time, as a file browser shows it.
	for info, err := range s.List(ctx, "events/1/", &storage.ListOptions{Delimiter: "/"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(info.Key, info.IsDir)
	}
	// Output:
	// events/1/logo.png false
	// events/1/slides/ true
}

func ExampleDeletePrefix() {
	dir, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := storage.NewLocal(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, key := range []string{"events/1/logo.png", "events/1/slides/a.pdf", "events/10/logo.png"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), nil); err != nil {
			log.Fatal(err)
		}
	}
	n, err := storage.DeletePrefix(ctx, s, "events/1/") // the trailing slash spares events/10
	fmt.Println(n, err)
	ok, _ := storage.Exists(ctx, s, "events/10/logo.png")
	fmt.Println(ok)
	// Output:
	// 2 <nil>
	// true
}

// ExampleStorage_SignedPost signs a form with which a speaker's browser
// uploads a photo of at most 5 MiB straight to the storage, under a key
// the server chose. The page posts every field, then the file last.
func ExampleStorage_SignedPost() {
	s, done := signingLocal() // at startup: s, err := storage.FromEnv()
	defer done()

	form, err := s.SignedPost(context.Background(), "events/42/speakers/7/photo.png", &storage.PostOptions{
		MaxSize:     5 << 20,
		ContentType: "image/png",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(`<form method="post" enctype="multipart/form-data" action="` + form.URL + `">`)
	for _, name := range slices.Sorted(maps.Keys(form.Fields)) {
		if name == "key" || name == "Content-Type" {
			fmt.Printf("  %s: %s\n", name, form.Fields[name])
		} else {
			fmt.Printf("  %s: …\n", name)
		}
	}
	// Output:
	// <form method="post" enctype="multipart/form-data" action="/static/media/">
	//   Content-Type: image/png
	//   key: events/42/speakers/7/photo.png
	//   policy: …
	//   success_action_status: …
	//   x-signature: …
}
