//go:build darwin || freebsd

package storage

import "golang.org/x/sys/unix"

// errNoAttr reports a file without the attribute asked for.
var errNoAttr = unix.ENOATTR
