package storage_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// lockForTest locks f as a live Put locks its temporary file: the byte at
// offset 0x7fffffff00000000, past any file's end (see lock_windows.go).
func lockForTest(t *testing.T, f *os.File) {
	t.Helper()
	at := windows.Overlapped{OffsetHigh: 0x7fffffff}
	require.NoError(t, windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &at))
}
