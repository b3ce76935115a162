package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLocalLogs checks what a Local logs: the attribute mode it chose, and
// each file Cleanup removed; never the signing key.
func TestLocalLogs(t *testing.T) {
	const key = "local-log-signing-key-0123456789abcdef"
	logger, logged := debugLogger()
	dir := t.TempDir()
	l, err := storage.NewLocal(dir, &storage.LocalOptions{Logger: logger, SigningKey: storage.NewSecret(key)})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	assert.Contains(t, logged.String(), `msg="local: opened the directory" dir=`+l.Dir()+` attributes="`+l.Attributes()+`"`)

	dead := filepath.Join(dir, storage.TempMarker+"0123456789abcdef")
	require.NoError(t, os.WriteFile(dead, []byte("half"), 0o644))
	removed, err := l.Cleanup(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	assert.Contains(t, logged.String(), `msg="local: removed a dead Put's temporary file" file=`+storage.TempMarker+"0123456789abcdef")
	assert.False(t, leaks(logged.String(), key))
}
