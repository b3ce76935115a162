package storage

// MinIOConfig gives the external tests the one reading of the MinIO test
// environment, which skips the test without a server, or fails it under
// CI=true.
var MinIOConfig = minioConfig

// OnFolderSync makes l call f with each folder it has synced.
func OnFolderSync(l *Local, f func(dir string)) { l.synced = f }

// ForcePortableAttrs makes l keep attributes in file headers, as on a file
// system without extended attributes, and records so in its directory, so
// that tests cover that mode on any file system.
func ForcePortableAttrs(l *Local) error { return l.useHeaders() }

// TempMarker starts the names of Put's temporary files: `.put\` (on
// Windows, where names cannot hold a backslash, ".put\uf05c").
const TempMarker = tempMarker

// ModeFile records the file-header mode in a directory; CaseLockFile is
// what Puts on a case-insensitive directory lock.
const (
	ModeFile     = modeFile
	CaseLockFile = caseLockFile
)
