package storage

import (
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// openNonblock is 0: Windows keeps no named pipes among files.
const openNonblock = 0

// linkCount returns the number of hard links of f, which fi describes: fi
// alone does not say on Windows, and without f it returns 1.
func linkCount(_ fs.FileInfo, f *os.File) uint64 {
	if f == nil {
		return 1
	}
	var d windows.ByHandleFileInformation
	if windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &d) != nil {
		return 1
	}
	return uint64(d.NumberOfLinks)
}

// sameFile is true: os.SameFile would look a file that os.Root's Lstat
// described up again by its name, relative to the working directory rather
// than the root. Windows makes symbolic links for administrators only, so
// the look before the open is what keeps them out there.
func sameFile(_, _ fs.FileInfo) bool { return true }
