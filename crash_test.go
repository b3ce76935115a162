package storage_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLocalSurvivesSIGKILL kills a process with SIGKILL in the middle of a
// large Put: the old object stays whole, the temporary file is never listed,
// and Cleanup removes it.
func TestLocalSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv("STORAGE_CRASH_DIR"); dir != "" {
		crashingPut(dir) // the child: never returns
	}
	l := newLocal(t)
	dir := l.Dir()
	ctx := context.Background()
	old := strings.Repeat("old object ", 1000)
	_, err := l.Put(ctx, "videos/talk.mp4", strings.NewReader(old), nil)
	require.NoError(t, err)

	child := exec.Command(os.Args[0], "-test.run=^TestLocalSurvivesSIGKILL$")
	child.Env = append(os.Environ(), "STORAGE_CRASH_DIR="+dir)
	require.NoError(t, child.Start())
	// Kill it once its temporary file holds a few MiB.
	deadline := time.Now().Add(30 * time.Second)
	for {
		require.True(t, time.Now().Before(deadline), "the child never started writing")
		if tempFileSize(filepath.Join(dir, "videos")) > 4<<20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	r, err := l.Get(ctx, "videos/talk.mp4")
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	r.Close()
	require.NoError(t, err)
	assert.Equal(t, old, string(data), "the old object is whole")
	var listed []string
	for info, err := range l.List(ctx, "", nil) {
		require.NoError(t, err)
		listed = append(listed, info.Key)
	}
	assert.Equal(t, []string{"videos/talk.mp4"}, listed, "the dead Put's file is not listed")

	removed, err := l.Cleanup(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, removed)
	assert.Equal(t, []string{"videos/talk.mp4"}, filesUnder(t, dir))
}

// crashingPut overwrites the object with an endless stream until killed.
func crashingPut(dir string) {
	l, err := storage.NewLocal(dir, nil)
	if err != nil {
		os.Exit(3)
	}
	_, _ = l.Put(context.Background(), "videos/talk.mp4", endless{}, nil)
	os.Exit(4) // an endless Put cannot finish
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'n'
	}
	time.Sleep(time.Millisecond)
	return len(p), nil
}

// tempFileSize returns the size of the temporary file in dir, or 0.
func tempFileSize(dir string) int64 {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), storage.TempMarker) {
			if info, err := e.Info(); err == nil {
				return info.Size()
			}
		}
	}
	return 0
}
