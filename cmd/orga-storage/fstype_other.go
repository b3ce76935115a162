//go:build !linux

package main

import "errors"

// filesystemType is implemented on Linux only, where the local backend runs.
func filesystemType(dir string) (string, error) {
	return "", errors.ErrUnsupported
}
