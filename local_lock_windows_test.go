package storage_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// lockForTest locks f as a live Put locks its temporary file.
func lockForTest(t *testing.T, f *os.File) {
	t.Helper()
	var at windows.Overlapped // offset 0
	require.NoError(t, windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &at))
}
