package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/memstore"
	"github.com/orga-server/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return new(memstore.Store) })
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s := new(memstore.Store)
	_, err := s.Put(ctx, "a.txt", strings.NewReader("a"), nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.Get(ctx, "a.txt")
	assert.ErrorIs(t, err, fs.ErrClosed)
	_, err = s.Put(ctx, "b.txt", strings.NewReader("b"), nil)
	assert.ErrorIs(t, err, fs.ErrClosed)
	for _, err := range s.List(ctx, "", nil) {
		assert.ErrorIs(t, err, fs.ErrClosed)
	}
	assert.NoError(t, s.Close(), "closing again")
}

func TestBaseURL(t *testing.T) {
	s := &memstore.Store{BaseURL: "/static/media"}
	u, err := s.URL("events/42/a b.png")
	require.NoError(t, err)
	assert.Equal(t, "/static/media/events/42/a%20b.png", u)
}

// Example shows the store standing in for FromEnv's in a unit test.
func Example() {
	ctx := context.Background()
	var s storage.Storage = new(memstore.Store)
	defer s.Close()

	if _, err := s.Put(ctx, "events/42/logo.png", strings.NewReader("not really a PNG"), nil); err != nil {
		fmt.Println(err)
		return
	}
	r, err := s.Get(ctx, "events/42/logo.png")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	body, _ := io.ReadAll(r)
	fmt.Println(r.Info().ContentType, string(body))

	_, err = s.Stat(ctx, "events/42/missing.png")
	fmt.Println(errors.Is(err, fs.ErrNotExist), err)
	// Output:
	// image/png not really a PNG
	// true storage: stat "events/42/missing.png": object does not exist: file does not exist
}
