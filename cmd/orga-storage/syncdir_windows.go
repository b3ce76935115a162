package main

// syncDir does nothing on Windows, where a folder cannot be synced:
// FlushFileBuffers needs a handle open for writing, which no folder's is.
// NTFS journals its folders' entries, so a rename is done or undone whole
// after a crash; the library's *Local documents the same limit.
func syncDir(dir string) error { return nil }
