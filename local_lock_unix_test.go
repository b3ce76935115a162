//go:build unix

package storage_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// lockForTest locks f as a live Put locks its temporary file.
func lockForTest(t *testing.T, f *os.File) {
	t.Helper()
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))
}
