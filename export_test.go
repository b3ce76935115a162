package storage

// MinIOConfig gives the external tests the one reading of the MinIO test
// environment, which skips the test without a server, or fails it under
// CI=true.
var MinIOConfig = minioConfig
