package storage_test

import "testing"

// TestS3Soak runs the model-based soak test of soak_test.go against MinIO,
// so that the S3 backend is held to the same model as *Local.
func TestS3Soak(t *testing.T) {
	m := needMinIO(t)
	runSoak(t, emptyS3(t, m.config()))
}
