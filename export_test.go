package storage

// MinIOConfig gives the external tests the one reading of the MinIO test
// environment, which skips the test without a server, or fails it under
// CI=true.
var MinIOConfig = minioConfig

// OnFolderSync makes l call f with each folder it has synced.
func OnFolderSync(l *Local, f func(dir string)) { l.synced = f }
