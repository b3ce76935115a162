//go:build !linux

package storage

import "os"

func lockFile(*os.File, bool) error   { return nil }
func unlinked(*os.File) (bool, error) { return false, nil }
