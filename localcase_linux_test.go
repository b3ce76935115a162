package storage_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fsCasefoldFlag is FS_CASEFOLD_FL of linux/fs.h, which x/sys/unix lacks.
const fsCasefoldFlag = 0x40000000

// caselessDirOS returns a casefold folder on a tmpfs mounted with casefold
// (Linux 6.13 and later), which needs a kernel built with CONFIG_UNICODE:
// without /sys/fs/unicode, only this variant of the test is skipped.
func caselessDirOS(t *testing.T) (string, bool) {
	t.Helper()
	if _, err := os.Stat("/sys/fs/unicode"); err != nil {
		t.Skip("no case-insensitive directory here: this kernel has no CONFIG_UNICODE (/sys/fs/unicode), which casefold needs; scripts/wine runs this test on Wine's case-insensitive drive")
	}
	if asRootInUserNamespace(t) {
		return "", false
	}
	dir := filepath.Join(mountForTest(t, "tmpfs", "casefold"), "media")
	require.NoError(t, os.Mkdir(dir, 0o755))
	f, err := os.Open(dir)
	require.NoError(t, err)
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsCasefoldFlag)))
	return dir, true
}
