//go:build !linux

package storage_test

import "testing"

// caselessDirOS: on FreeBSD, whose UFS and ZFS are case-sensitive unless a
// ZFS dataset is made otherwise, the test has no directory to run on.
func caselessDirOS(t *testing.T) (string, bool) {
	t.Skip("no case-insensitive directory on this system for the test")
	return "", false
}
