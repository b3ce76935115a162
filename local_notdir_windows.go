package storage

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// errNotDir is the error for a path with a file where a folder should be.
// It matches neither [fs.ErrNotExist] nor [fs.ErrExist], so that a Put can
// tell an object in its path from a folder a Delete pruned. It is not
// syscall.ENOTDIR, which is ERROR_PATH_NOT_FOUND on Windows, a missing
// folder's error, and what Windows answers for a file in the path too: it
// is ERROR_DIRECTORY, Windows's own for a file opened as a folder.
const errNotDir = syscall.Errno(windows.ERROR_DIRECTORY)
