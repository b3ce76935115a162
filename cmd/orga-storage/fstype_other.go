//go:build !linux && !darwin && !freebsd && !windows

package main

import "errors"

// filesystemType is not known on this system.
func filesystemType(dir string) (string, error) {
	return "", errors.ErrUnsupported
}
