package storage

// foldersSync says whether a folder can be synced here. Windows cannot:
// FlushFileBuffers asks for a handle open for writing, which no folder's
// is, and fails with "Access denied". NTFS journals the entries of its
// folders, so a crash leaves each rename done or undone, never half done,
// but one done just before it may be lost: on Windows a Put that returned
// survives a crash once NTFS has committed its journal, within seconds.
const foldersSync = false
