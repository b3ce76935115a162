//go:build !windows

package storage

import "syscall"

// errRefused is the error of a dial that the server's host refused.
const errRefused = syscall.ECONNREFUSED
