package storage

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// lockOffsetHigh places the byte a lock covers at 2^63 - 2^32: far past the
// end of any file. Windows locks are mandatory, so a lock on the data would
// fail the reads of a reader that opened the file once renamed into place,
// before the Put closed it.
const lockOffsetHigh = 0x7fffffff

// lockFile takes an exclusive lock on f, waiting for it when wait is set.
// Windows drops the lock when the handle is closed, or the process dies.
func lockFile(f *os.File, wait bool) error {
	flags := uint32(windows.LOCKFILE_EXCLUSIVE_LOCK)
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	at := windows.Overlapped{OffsetHigh: lockOffsetHigh}
	return windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &at)
}

// fileStandardInfo is FILE_STANDARD_INFO.
type fileStandardInfo struct {
	AllocationSize, EndOfFile int64
	NumberOfLinks             uint32
	DeletePending, Directory  bool
}

// unlinked reports whether no name leads to f any more: os.Root opens files
// with FILE_SHARE_DELETE, so Cleanup may delete one that a Put holds open,
// which leaves it without links or pending deletion.
func unlinked(f *os.File) (bool, error) {
	var info fileStandardInfo
	err := windows.GetFileInformationByHandleEx(windows.Handle(f.Fd()), windows.FileStandardInfo, (*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	if err != nil {
		return false, err
	}
	return info.DeletePending || info.NumberOfLinks == 0, nil
}
