package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

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
	assert.Contains(t, logged.String(), `msg="local: opened the directory" dir=`+logValue(l.Dir())+` attributes="`+l.Attributes()+`"`)

	dead := filepath.Join(dir, storage.TempMarker+"0123456789abcdef")
	require.NoError(t, os.WriteFile(dead, []byte("half"), 0o644))
	removed, err := l.Cleanup(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	assert.Contains(t, logged.String(), `msg="local: removed a dead Put's temporary file" file=`+logValue(storage.TempMarker+"0123456789abcdef"))
	assert.False(t, leaks(logged.String(), key))
}

// logValue is s as slog's text handler writes it: quoted when it holds a
// space, '"', '=' or a rune that does not print, such as the U+F05C in the
// names of Local's own files on Windows.
func logValue(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return r == ' ' || r == '"' || r == '=' || r == utf8.RuneError || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}
