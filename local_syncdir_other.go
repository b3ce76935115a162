//go:build !windows

package storage

// foldersSync says whether a folder can be synced here, as it can on every
// Unix system: fsync of a folder makes the entries added to it or removed
// from it survive a crash.
const foldersSync = true
